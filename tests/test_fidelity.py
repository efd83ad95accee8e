"""delta_core.experiments.fidelity: statuses are computed from artifacts, and missing evidence says what is missing."""

import json
from pathlib import Path

import pytest
import yaml

from delta_core.experiments import fidelity
from delta_core.experiments.fidelity import MissingKey, evaluate_claims, get, status_counts, to_html, to_markdown

ROOT = Path(__file__).resolve().parents[1]
MINI = "book/results/delta_mini/summary.json"
HELD_OUT = "book/results/delta_mini/held_out_target.jsonl"  # the v1 runs' committed target tests
ORDERED = "book/results/delta_mini/exploration/ordered_target"
V2 = "book/results/delta_mini_v2"  # DELTA-mini v2: C1b-C4 read its precondition report, summary and verdict


def with_held_out(root: Path, rel: str = HELD_OUT, src: str = HELD_OUT) -> str:
    """Copy committed target tests into a synthetic root (the C3 rule judges its baselines on them)."""
    (root / rel).parent.mkdir(parents=True, exist_ok=True)
    (root / rel).write_text((ROOT / src).read_text())
    return rel


def write(root: Path, rel: str, data) -> None:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data))


def claims_file(root: Path, claims: list[dict]) -> Path:
    path = root / "book" / "claims.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump({"claims": claims}))
    return path


def claim(cid, artifact, check=None, **params):
    c = {"id": cid, "claim": f"claim {cid}", "paper": "a number", "artifact": artifact}
    if check:
        c["check"], c["params"] = check, params
    return c


def arm(
    final=0.0, best=None, dense=0.0, s10=None, s50=None, s90=None, switch=None, converged=None, collapse=None
):
    return {
        "final_heldout_full_pass": final,
        "max_heldout_full_pass": final if best is None else best,
        "final_dense_mean": dense,
        "step_first_10": s10,
        "step_first_50": s50,
        "step_first_90": s90,
        "switch_step": switch,
        "converged_step": converged,
        "collapse_step": collapse,
        "last_step": 400,
    }


def statuses(path):
    return {r.id: r.status for r in evaluate_claims(path)}


def test_get_reads_dotted_paths_and_names_the_missing_key():
    data = {"arms": {"binary": {"x": 1}}, "runs": [{"y": 2}]}
    assert get(data, "arms.binary.x") == 1 and get(data, "runs.0.y") == 2
    with pytest.raises(MissingKey) as e:
        get(data, "arms.dense.x")
    assert e.value.key == "arms.dense.x"


def test_key_paths_as_lists_with_wildcards():
    data = {"arms": {"a": {"runs": [{"ge_0.1": 5}, {"ge_0.1": None}]}}}
    assert get(data, ["arms", "a", "runs", "*", "ge_0.1"]) == [5, None]
    with pytest.raises(MissingKey) as e:
        get(data, ["arms", "a", "runs", "*", "ge_0.5"])
    assert e.value.key == "arms.a.runs.*.ge_0.5"


def test_gain_interval_and_collapse_can_fail_or_stay_undecided():
    d = {"x": {"before_pass1": 0.3, "after_pass1": 0.1, "ci_low": -0.3, "ci_high": -0.1}}
    assert fidelity.gain_interval(d, key="x", expect="up").status == "refuted"
    assert fidelity.gain_interval(d, key="x", expect="none").status == "reproduced"
    up = {"x": {"before_pass1": 0.0, "after_pass1": 0.4, "ci_low": 0.3, "ci_high": 0.5}}
    assert fidelity.gain_interval(up, key="x", expect="none", margin=0.05).status == "refuted"
    assert fidelity.gain_interval(up, key="x", expect="up", strong=0.5).status == "partly"
    runs = {"runs": [{"best_full_pass": 0.95, "final_full_pass": 0.9}]}
    assert fidelity.collapse_from_runs(runs, runs_key="runs").status == "refuted"
    low = {"runs": [{"best_full_pass": 0.5, "final_full_pass": 0.1}]}
    assert fidelity.collapse_from_runs(low, runs_key="runs").status == "inconclusive (no run converged)"


def test_missing_artifact_missing_key_and_not_attempted_are_not_run(tmp_path):
    write(tmp_path, MINI, {"arms": {"binary": {"final_heldout_full_pass": 0.0}}})
    path = claims_file(
        tmp_path,
        [
            claim("A", "book/results/nothing/summary.json", "at_most", key="x", reproduced=0.1),
            claim("B", MINI, "at_most", key="arms.binary.max_heldout_full_pass", reproduced=0.02),
            {"id": "C", "claim": "c", "paper": "p", "artifact": None, "reason": "not implemented here"},
        ],
    )
    got = statuses(path)
    assert got == {
        "A": "not run (no artifact yet: book/results/nothing/summary.json)",
        "B": f"not run ({MINI} has no arms.binary.max_heldout_full_pass yet)",
        "C": "not run (not implemented here)",
    }
    assert status_counts(evaluate_claims(path))["not run"] == 3


def test_unreadable_artifact_is_untested_not_a_crash(tmp_path):
    (tmp_path / "book/results").mkdir(parents=True)
    (tmp_path / "book/results/x.json").write_text("{not json")
    path = claims_file(tmp_path, [claim("A", "book/results/x.json", "at_most", key="x", reproduced=0.1)])
    assert statuses(path)["A"].startswith("not run (unreadable artifact")


def test_delta_mini_rules_reproduced(tmp_path):
    write(
        tmp_path,
        MINI,
        {
            "experiment": {"target": "contains_substring/medium"},
            "arms": {
                "binary": arm(final=0.0, best=0.0),
                "dense": arm(final=0.0, best=0.005, dense=0.9),  # above every fixed program (best 0.74)
                "dense_then_binary": arm(
                    final=0.97, s10=180, s50=200, s90=230, switch=100, converged=230, collapse=320
                ),
                "replay": arm(final=0.93, s10=150, s90=300),
                "hard_family": arm(final=0.0),
            }
        },
    )
    path = claims_file(
        tmp_path,
        [
            claim(
                "C2", MINI, "at_most", key="arms.binary.max_heldout_full_pass", reproduced=0.02, partly=0.1
            ),
            claim(
                "C3",
                MINI,
                "saturates_without_full_pass",
                dense_key="arms.dense.final_dense_mean",
                full_key="arms.dense.max_heldout_full_pass",
                baseline_tests=with_held_out(tmp_path),
            ),
            claim(
                "C4",
                MINI,
                "plateau_then_jump",
                final_key="arms.dense_then_binary.final_heldout_full_pass",
                first_10_key="arms.dense_then_binary.step_first_10",
                first_50_key="arms.dense_then_binary.step_first_50",
                switch_key="arms.dense_then_binary.switch_step",
            ),
            claim("C6", MINI, "earlier_but_slower", base="arms.dense_then_binary", variant="arms.replay"),
            claim("C10", MINI, "at_most", key="arms.hard_family.max_heldout_full_pass", reproduced=0.02),
            claim(
                "C15",
                MINI,
                "collapse",
                converged_key="arms.dense_then_binary.converged_step",
                collapse_key="arms.dense_then_binary.collapse_step",
            ),
        ],
    )
    rows = {r.id: r for r in evaluate_claims(path)}
    assert {k: r.status for k, r in rows.items()} == dict.fromkeys(rows, "reproduced")
    assert "plateau 80 steps" in rows["C4"].ours and "switch to binary at step 100" in rows["C4"].ours
    assert rows["C6"].ours.startswith("early threshold at step 150 vs step 180")


def test_delta_mini_rules_can_fail(tmp_path):
    write(
        tmp_path,
        MINI,
        {
            "experiment": {"target": "contains_substring/medium"},
            "arms": {
                "binary": arm(final=0.4, best=0.5),  # binary-only learnt: C2 refuted
                "dense": arm(
                    final=0.3, best=0.3, dense=0.9
                ),  # dense-only reaches full passes: C3 not reproduced
                "dense_then_binary": arm(final=0.02, switch=100, converged=None),  # no jump; never converged
                "replay": arm(
                    final=0.0
                ),  # never crosses anything: neither earlier nor slower than... (base never either)
            }
        },
    )
    path = claims_file(
        tmp_path,
        [
            claim(
                "C2", MINI, "at_most", key="arms.binary.max_heldout_full_pass", reproduced=0.02, partly=0.1
            ),
            claim(
                "C3",
                MINI,
                "saturates_without_full_pass",
                dense_key="arms.dense.final_dense_mean",
                full_key="arms.dense.max_heldout_full_pass",
                baseline_tests=with_held_out(tmp_path),
            ),
            claim(
                "C4",
                MINI,
                "plateau_then_jump",
                final_key="arms.dense_then_binary.final_heldout_full_pass",
                first_10_key="arms.dense_then_binary.step_first_10",
                first_50_key="arms.dense_then_binary.step_first_50",
            ),
            claim("C6", MINI, "earlier_but_slower", base="arms.dense_then_binary", variant="arms.replay"),
            claim(
                "C15",
                MINI,
                "collapse",
                converged_key="arms.dense_then_binary.converged_step",
                collapse_key="arms.dense_then_binary.collapse_step",
            ),
        ],
    )
    assert statuses(path) == {
        "C2": "refuted",
        "C3": "refuted",
        "C4": "refuted",
        "C6": "refuted",
        "C15": "inconclusive (the run never converged)",
    }


def test_partly_statuses(tmp_path):
    write(
        tmp_path,
        "book/results/baseline/summary.json",
        {
            "n_problems": 2,
            "pass_at_k_by_family": [
                {"family": "a", "k": 1, "pass_at_k": 0.0},
                {"family": "a", "k": 8, "pass_at_k": 0.0},
                {"family": "b", "k": 1, "pass_at_k": 0.2},
                {"family": "b", "k": 8, "pass_at_k": 0.5},
            ],
        },
    )
    write(
        tmp_path,
        "book/results/transfer/summary.json",
        {
            "exploratory": {"id": 0.8, "easy": 0.5, "medium": 0.6, "hard": 0.1},  # not monotone
            "compositional": {"before": 0.3, "after": 0.5},
        },
    )
    path = claims_file(
        tmp_path,
        [
            claim("C1", "book/results/baseline/summary.json", "pass_at_k_zero", min_k=128),
            claim(
                "C12",
                "book/results/transfer/summary.json",
                "decreasing",
                key="exploratory",
                order=["id", "easy", "medium", "hard"],
            ),
            claim(
                "C13",
                "book/results/transfer/summary.json",
                "improves",
                before_key="compositional.before",
                after_key="compositional.after",
            ),
        ],
    )
    rows = {r.id: r for r in evaluate_claims(path)}
    assert rows["C1"].status == "partly" and rows["C1"].ours.startswith("pass@8 = 0 on 1 of 2 families")
    assert rows["C12"].status == "partly" and rows["C13"].status == "partly"


def test_gpu_runs(tmp_path):
    write(
        tmp_path,
        "book/results/gpu/summary.json",
        {
            "runs": [
                {"model": "Qwen3-0.6B", "family": "has", "final_full_pass": 0.8},
                {"model": "SmolLM2", "family": "regex", "final_full_pass": 0.1},
            ]
        },
    )
    path = claims_file(
        tmp_path, [claim("C5", "book/results/gpu/summary.json", "jump_in_other_runs", min_runs=2)]
    )
    row = evaluate_claims(path)[0]
    assert row.status == "partly" and "Qwen3-0.6B on has" in row.ours


def test_c5_a_run_shorter_than_the_papers_plateau_cannot_refute():
    """A 10-minute GPU run (tens of steps) with no jump was "refuted" under the old rule; the paper's
    plateau alone lasts ~450 steps."""
    short = {"runs": [{"model": "SmolLM2", "family": "has", "final_full_pass": 0.0, "last_step": 60}]}
    params = dict(runs_key="runs", final_key="final_full_pass", high=0.5, min_runs=2)
    assert fidelity.jump_in_other_runs(short, **params).status == "refuted"  # the old rule
    gated = fidelity.jump_in_other_runs(short, **params, steps_key="last_step", min_steps=450)
    assert gated.status.startswith("inconclusive (every run stopped by step 60") and "at most 60 steps" in gated.ours
    short["runs"][0]["last_step"] = 600  # as long as the paper's plateau, still no jump: a refutation
    assert fidelity.jump_in_other_runs(short, **params, steps_key="last_step", min_steps=450).status == "refuted"


def test_unknown_check_is_refused(tmp_path):
    path = claims_file(tmp_path, [claim("A", "book/results/x.json", "no_such_check")])
    with pytest.raises(ValueError, match="unknown check 'no_such_check'"):
        evaluate_claims(path)


def test_the_books_claims_file():
    """book/claims.yaml: C1-C15 in order, every check known, and the table renders with today's artifacts."""
    rows = evaluate_claims(ROOT / "book" / "claims.yaml")
    claims = [r for r in rows if r.id.startswith("C")]
    numbers = [int(r.id[1:].rstrip("abc")) for r in claims]
    assert sorted(set(numbers)) == list(range(1, 16)) and numbers == sorted(numbers)
    # rows beyond the paper's claims (S1: switch timing) come after them
    assert [r.id for r in rows[len(claims):]] == ["S1"] and rows[: len(claims)] == claims
    assert all(r.kind in fidelity.STATUSES for r in rows)
    for r in rows:  # an absent artifact must say so, never look like a result
        if r.artifact and not (ROOT / r.artifact).is_file():
            assert r.kind == "not run" and r.ours == "—"
        assert "missing key" not in r.status  # internal text never reaches the reader (C6, C10)
    table = to_markdown(rows)
    assert table.count("\n") == len(rows) + 1 and "| C15 |" in table
    assert to_html(rows).count("<tr") == len(rows) + 1
    if (ROOT / "book/results/baseline/summary.json").is_file():
        assert rows[0].kind != "not run" and rows[0].ours.startswith("pass@")


def mini_run(seed, final, best, s10, s50, switch=None, after_dense=0.5):
    return {
        "after_target": {"dense_mean": after_dense},
        "seed": seed,
        "final_full_pass": final,
        "best_full_pass": best,
        "time_to_grok": None,
        "first_step_full_pass_ge_0.1": s10,
        "first_step_full_pass_ge_0.5": s50,
        "dense_mean_last10": 0.5,
        "switch_step": switch,
    }


def mini_arm(runs, dense=0.5, zero_std=0.9, groks=None):
    finals = [r["final_full_pass"] for r in runs]
    return {
        "seeds": [r["seed"] for r in runs],
        "final_full_pass_mean": sum(finals) / len(finals),
        "final_full_pass_min": min(finals),
        "final_full_pass_max": max(finals),
        "time_to_grok": groks or [None] * len(runs),
        "dense_mean_last10": dense,
        "frac_zero_std_last10": zero_std,
        "runs": runs,
    }


def test_the_books_claims_on_artifacts_shaped_like_their_producers(tmp_path):
    """The real claims.yaml against artifacts in the shapes delta_core.experiments.delta_mini, transfer_bouncingsim and
    scripts/gpu write: every claim with an artifact gets a status, none 'missing key' except the arms
    and keys nobody writes yet (replay, hard_family, the transfer's id axis)."""
    write(
        tmp_path,
        "book/results/baseline/summary.json",
        json.loads((ROOT / "book/results/baseline/summary.json").read_text()),
    )
    write(tmp_path, f"{V2}/precondition.json", {"pass@1024": 0.0, "parse_rate": 0.95, "dense_mean": 0.63})
    write(
        tmp_path,
        f"{V2}/summary.json",
        {
            "experiment": {"target": "contains_substring/medium"},
            "base": {"target_pass@32": 0.0, "target_dense_mean": 0.31},
            "arms": {
                "binary": mini_arm(
                    [mini_run(s, 0.0, 0.0, None, None) for s in (0, 1, 2)], dense=0.1, zero_std=1.0
                ),
                "dense": mini_arm(
                    [mini_run(s, 0.0, 0.0, None, None, after_dense=0.85) for s in (0, 1, 2)], dense=0.7, zero_std=0.2
                ),
            },
        },
    )
    write(tmp_path, f"{V2}/verdict.json", mini_verdict_shaped("jump"))
    write(
        tmp_path,
        "book/results/transfer/bouncingsim/summary.json",
        {
            "exploratory": {
                "before_pass1": 0.2,
                "after_pass1": 0.3,
                "ci_low": 0.05,
                "ci_high": 0.15,
                "n": 300,
            },
            "compositional": {
                "before_pass1": 0.1,
                "after_pass1": 0.12,
                "ci_low": -0.03,
                "ci_high": 0.07,
                "n": 90,
            },
            "transformative": {
                "before_pass1": 0.0,
                "after_pass1": 0.01,
                "ci_low": -0.01,
                "ci_high": 0.03,
                "n": 27,
            },
        },
    )
    write(
        tmp_path,
        "book/results/gpu/summary.json",
        {
            "runs": [
                {
                    "model": "SmolLM2-135M",
                    "family": "contains_ordered",
                    "arm": "dense_then_binary",
                    "final_full_pass": 0.6,
                },
                {
                    "model": "SmolLM2-135M",
                    "family": "contains_ordered",
                    "arm": "binary",
                    "final_full_pass": 0.0,
                },
            ]
        },
    )
    with_held_out(tmp_path, f"{V2}/held_out_target.jsonl", f"{V2}/held_out_target.jsonl")
    write(tmp_path, "book/results/recipe/summary.json", {"verdicts": recipe_verdicts(tmp_path)})
    (tmp_path / "book" / "claims.yaml").write_text((ROOT / "book" / "claims.yaml").read_text())
    got = statuses(tmp_path / "book" / "claims.yaml")
    assert got == {
        "C1": "partly",
        "C1b": "precondition (met: measured before any RL, with the training sampler, on a base that reads the"
               " prompt (parse rate shown))",
        "C2": "precondition (holds by construction: every group's rewards tied, so GRPO had no signal to learn from)",
        "C3": "reproduced",  # held-out dense 0.85 > the best fixed program (0.68), no full pass
        "C4": "reproduced",  # the verdict's criteria saw the jump
        "C5": "partly",  # one (model, family) pair
        "C6": "reproduced",  # replay reaches 10% at step 40 vs 80 and ends lower
        "C7": "refuted",  # feedback reaches it later
        "C8": "reproduced",  # aligned 25% vs misaligned 10%
        "C9": got["C9"],
        "C10": "reproduced",  # the target's dense phase found nothing, held-out stayed 0
        "C11": "not run (book/results/transfer/bouncingsim/summary.json has no id.before_pass1 yet)",
        "C12": "reproduced",  # a significant gain
        "C13": "inconclusive (the interval includes no gain: undecided at this scale)",
        "C14": "reproduced",  # from a base near 0
        "C15": "partly",  # one seed of three collapsed
        "S1": "not comparable (the paper gives no number: a new measurement)",
    }


def mini_verdict_shaped(word, reason=""):
    """A verdict.json as delta_core.experiments.delta_mini_verdict writes it (one word, numbers per seed)."""
    seeds = {str(s): {"switch_step": 100, "switch_reason": "rule", "best": b, "jump": b >= 0.5}
             for s, b in enumerate((0.9, 0.8, 0.1))}
    return {"verdict": word, "reason": reason, "numbers": {"seeds": seeds, "binary_steps_with_spread_share": 0.4}}


def test_c4_reads_the_v2_verdict_and_keeps_its_reason():
    rows = {w: fidelity.mini_verdict(mini_verdict_shaped(w, "Missing: x")) for w in ("jump", "refuted", "inconclusive")}
    assert rows["jump"].status == "reproduced" and rows["refuted"].status == "refuted"
    assert rows["inconclusive"].status == "inconclusive (Missing: x)"
    assert rows["jump"].ours == ("dense → binary, 3 seeds: best held-out pass@1 90%, 80%, 10%; switched at step 100 (rule);"
                                 " binary steps with reward spread 40%")
    with pytest.raises(MissingKey):
        fidelity.mini_verdict({"verdict": "maybe"})


def test_a_row_waits_for_its_seeds(tmp_path):
    """`seeds: {key, min}`: an arm with fewer finished seeds shows its numbers but decides nothing."""
    write(tmp_path, "s.json", {"arms": {"binary": {"seeds": [0], "final_full_pass_max": 0.0}}})
    c = claim("C2", "s.json", "at_most", key="arms.binary.final_full_pass_max", reproduced=0.02)
    path = claims_file(tmp_path, [{**c, "seeds": {"key": "arms.binary.seeds", "min": 3}}])
    row = evaluate_claims(path, tmp_path)[0]
    assert row.status == "inconclusive (1 of 3 seeds finished)" and row.ours.endswith("(1 seed)")
    write(tmp_path, "s.json", {"arms": {"binary": {"seeds": [0, 1, 2], "final_full_pass_max": 0.0}}})
    assert evaluate_claims(path, tmp_path)[0].status == "reproduced"


def recipe_verdicts(root):
    """Verdicts as delta_core.experiments.recipe computes them, from metric lines of known shape."""
    from delta_core.experiments import recipe as R

    def stats(rise_at, final):
        records = [{"kind": "eval", "step": s, "pass@1": 0.01 if s < rise_at else final} for s in range(0, 161, 10)]
        return {seed: R.run_stats(records, 160) for seed in (0, 1, 2)}

    arms = {"rule": stats(80, 0.2), "replay": stats(40, 0.15), "feedback": stats(120, 0.2),
            "curriculum_aligned": stats(60, 0.25), "curriculum_misaligned": stats(60, 0.1)}
    arms.update({arm: stats(80, 0.2) for arm in ("binary", "switch_30", "switch_60", "switch_100", "switch_dense")})

    def long_run(collapses):
        trains = [{"kind": "train", "step": s, "binary_mean": 0.05 if collapses and s > 250 else 0.4} for s in range(1, 401)]
        return R.collapse(trains)

    target = {"status": "reproduced", "setting": "contains_substring/medium",
              "per_seed": {0: {"dense_phase_full_pass": 0.0, "held_out_best": 0.0}}}
    verdicts = R._verdicts(arms, {"long": {0: long_run(True), 1: long_run(False), 2: long_run(False)}},
                           R.RecipeExperiment(mini=str(ROOT / "book/results/delta_mini_v2"),
                                              arms=[a for a in R.ARMS if a != "long_ordered"]), target,
                           R._detector(ROOT / "book/results/delta_mini_v2"))
    return json.loads(json.dumps(verdicts))


def test_gain_interval_refutes_when_a_meaningful_gain_is_ruled_out():
    from delta_core.experiments.fidelity import gain_interval

    data = {"axis": {"before_pass1": 0.39, "after_pass1": 0.36, "ci_low": -0.06, "ci_high": 0.01}}
    assert gain_interval(data, key="axis", expect="up").status.startswith("inconclusive")
    assert gain_interval(data, key="axis", expect="up", refute_below=0.05).status == "refuted"
    data["axis"].update(ci_low=0.02, ci_high=0.2)
    assert gain_interval(data, key="axis", expect="up", refute_below=0.05).status == "reproduced"


# --- the rules cannot flatter (issue 19): each test below fails on the flattering rule it replaced ----


def test_fixed_program_baselines_on_the_committed_target_tests():
    """What a prompt-blind program earns on the tests the v1 runs were evaluated on (judged, not typed):
    the constant program beats reject-all, and both beat accept-all."""
    from delta_core.experiments.baselines import fixed_program_baselines, load_target_problems

    v1 = fixed_program_baselines(load_target_problems(ROOT / HELD_OUT), "contains_substring/medium")
    assert v1["n_problems"] == 16
    assert v1["accept_all"] < v1["reject_all"] <= v1["best_constant"] == v1["best"]
    assert abs(v1["reject_all"] + v1["accept_all"] - 1) < 1e-9  # acceptors: every test is one or the other
    assert 0.6 < v1["reject_all"] < 0.8
    ordered = fixed_program_baselines(
        load_target_problems(ROOT / ORDERED / "held_out_target.jsonl"), "contains_ordered/medium"
    )
    assert ordered["best"] > ordered["reject_all"] + 0.1 and ordered["best_name"].startswith("Contains")


@pytest.mark.parametrize(
    "run, held_out",
    [("book/results/delta_mini", HELD_OUT), (ORDERED, f"{ORDERED}/held_out_target.jsonl")],
)
def test_c3_a_dense_plateau_at_a_fixed_program_is_not_a_reproduction(run, held_out):
    """The committed dense-only arms reached held-out dense scores (0.70; 0.82) far above the old
    `min_dense = 0.3`, with no full pass: the old rule said "reproduced". Both sit at or below the best
    fixed program of their target (reject-all 0.71 / a constant program 0.74; 0.86), i.e. the arm learnt
    to ignore the prompt: inconclusive, never reproduced."""
    data = json.loads((ROOT / run / "summary.json").read_text())
    dense_key = ["arms", "dense", "runs", "*", "after_target", "dense_mean"]
    assert fidelity._mean_value(data, dense_key) >= 0.3 and data["arms"]["dense"]["final_full_pass_max"] <= 0.01
    result = fidelity.saturates_without_full_pass(
        data, dense_key=dense_key, full_key="arms.dense.final_full_pass_max", baseline_tests=held_out, root=ROOT
    )
    assert result.status.startswith("inconclusive (") and "best fixed program" in result.ours
    # the same artifact with the plateau lifted above the baselines is a reproduction: the rule can pass
    for r in data["arms"]["dense"]["runs"]:
        r["after_target"]["dense_mean"] = 0.95
    lifted = fidelity.saturates_without_full_pass(
        data, dense_key=dense_key, full_key="arms.dense.final_full_pass_max", baseline_tests=held_out, root=ROOT
    )
    assert lifted.status == "reproduced"


def test_c3_needs_the_target_tests():
    with pytest.raises(TypeError):  # no baseline, no rule: the old threshold-only form is refused
        fidelity.saturates_without_full_pass({}, dense_key="a", full_key="b", min_dense=0.3)


def test_c14_a_drop_from_a_base_that_already_passes_is_not_comparable():
    """The committed transformative axis: 56% before RL, 44% after, interval below 0. Under the old rule
    "the interval rules out a gain" made C14 reproduced; the paper's ~0% is for a base near 0."""
    data = json.loads((ROOT / "book/results/transfer/bouncingsim/summary.json").read_text())
    assert data["transformative"]["before_pass1"] > 0.5 and data["transformative"]["ci_high"] < 0
    flattering = fidelity.gain_interval(data, key="transformative", expect="none", margin=0.05)
    assert flattering.status == "reproduced"  # what the old rule said
    honest = fidelity.gain_interval(data, key="transformative", expect="none", margin=0.05, max_before=0.1)
    assert honest.status.startswith("not comparable (")
    data["transformative"].update(before_pass1=0.02, after_pass1=0.0, ci_low=-0.04, ci_high=0.0)
    assert fidelity.gain_interval(data, key="transformative", expect="none", margin=0.05, max_before=0.1).status == (
        "reproduced"
    )


def test_c1b_and_c2_are_preconditions_never_counted_as_reproductions():
    rows = {r.id: r for r in evaluate_claims(ROOT / "book" / "claims.yaml")}
    assert rows["C1b"].kind == "precondition" and rows["C1b"].status.startswith("precondition (met")
    # C2 waits for DELTA-mini v2's three binary-only seeds; once they are in, a stall with every group tied
    # is a precondition by construction, not a reproduction
    assert rows["C2"].kind in ("precondition", "not run", "inconclusive")
    counts = status_counts(list(rows.values()))
    assert counts["reproduced"] == sum(r.kind == "reproduced" for r in rows.values())
    assert counts["precondition"] == sum(r.kind == "precondition" for r in rows.values()) >= 1
    # C2 is a real finding only when some group had reward spread: then a stall is reproduced
    data = {"arms": {"binary": {"final_full_pass_max": 0.0, "frac_zero_std_last10": 0.6}}}
    result = fidelity.at_most(
        data, key="arms.binary.final_full_pass_max", reproduced=0.02, tied_key="arms.binary.frac_zero_std_last10"
    )
    assert result.status == "reproduced"


def test_a_precondition_that_fails_says_not_met(tmp_path):
    write(tmp_path, MINI, {"base": {"target_pass@128": 0.2}})
    c = claim("C1b", MINI, "at_most", key=["base", "target_pass@128"], reproduced=0.0)
    c.update(role="precondition", why="chosen by construction")
    assert statuses(claims_file(tmp_path, [c]))["C1b"] == "precondition (not met)"


def test_c4_without_a_jump_from_a_base_that_cannot_read_the_prompt_is_inconclusive():
    """v1: no seed ever reached 10%, and the base scored 0.04 on the target, below accept-all (0.29):
    the old rule called that "not reproduced" (a refutation); the test's precondition was not met."""
    data = json.loads((ROOT / MINI).read_text())
    params = dict(
        final_key="arms.dense_then_binary.final_full_pass_mean",
        first_10_key=["arms", "dense_then_binary", "runs", "*", "first_step_full_pass_ge_0.1"],
    )
    assert fidelity.plateau_then_jump(data, **params).status == "refuted"  # the old rule
    gated = fidelity.plateau_then_jump(
        data, **params, base_dense_key="base.target_dense_mean", baseline_tests=HELD_OUT, root=ROOT
    )
    assert gated.status == "inconclusive (precondition not met: the base could not read the target prompt)"
    data["base"]["target_dense_mean"] = 0.5  # a base that reads the prompt: no jump is a refutation
    assert fidelity.plateau_then_jump(
        data, **params, base_dense_key="base.target_dense_mean", baseline_tests=HELD_OUT, root=ROOT
    ).status == "refuted"


def test_recipe_rows_not_yet_run_say_why():
    """C6, C7, C8, C10, C15 and S1 read the recipe's summary: while its runs are missing, each row says
    which, in words, never an internal key."""
    rows = {r.id: r for r in evaluate_claims(ROOT / "book" / "claims.yaml")}
    summary = json.loads((ROOT / "book/results/recipe/summary.json").read_text())["verdicts"]
    for cid, claim in (("C6", "C6"), ("C7", "C7"), ("C8", "C8"), ("C10", "C10"), ("C15", "C15"), ("S1", "switch_timing")):
        if summary[claim]["status"] == "not run":
            assert rows[cid].status == f"not run ({summary[claim]['reason']})"
        assert "missing key" not in rows[cid].status and "verdicts." not in rows[cid].status


def test_c11_c12_caveats_agree_with_chapter_5():
    """Chapter 5 shows a per-step training curve and the gain per tier: the fidelity table must not say
    they do not exist, and C12 shows the per-tier gains it reads."""
    text = (ROOT / "book" / "claims.yaml").read_text()
    assert "no per-step curve" not in text and "not measured" not in text
    rows = {r.id: r for r in evaluate_claims(ROOT / "book" / "claims.yaml")}
    levels = json.loads((ROOT / "book/results/transfer/bouncingsim/summary.json").read_text())["exploratory"]["by_level"]
    for level, v in levels.items():
        assert f"{level} {v['after_pass1'] - v['before_pass1']:+.2f}" in rows["C12"].ours


def test_one_vocabulary_in_chapters_5_and_7():
    """Every verdict chapter 5 prints (the committed transfer summaries) is a word of chapter 7's table."""
    for rel in ("transfer/bouncingsim/summary.json", "transfer/manufactoria/summary.json"):
        summary = json.loads((ROOT / "book/results" / rel).read_text())
        for axis, s in summary.items():
            assert s["verdict"] in fidelity.STATUSES, (rel, axis, s["verdict"])
    assert fidelity.vocabulary("not reproduced") == "refuted"
    with pytest.raises(ValueError):
        fidelity.vocabulary("sort of")


def test_c9_warmup_row_needs_seeds_and_reads_the_arms_learning_rate(tmp_path):
    """One seed of each control arm cannot carry the claim, whatever it shows; with three seeds the
    margin decides, and runs at another learning rate are not counted."""
    import json

    from delta_core.experiments.fidelity import INCONCLUSIVE, PARTLY, REFUTED, REPRODUCED, warmup_helps_control

    def report(binary, warm, lr="0.0005", warm_steps=160):
        control = {}
        for arm, values in (("binary", binary), ("dense_then_binary", warm)):
            for seed, last in enumerate(values):
                control[f"control_{arm}_lr{lr}_s{seed}"] = {"first": 0.01, "last": last,
                                                             "last_step": warm_steps if arm != "binary" else 160}
        control["control_binary_lr0.0001_s0"] = {"first": 0.01, "last": 0.9}  # another lr: ignored
        return {"control": control, "lr": {"chosen": lr}}

    (tmp_path / "experiment.json").write_text(json.dumps({"learning_rate": 5e-4}))
    kw = dict(experiment="experiment.json", root=tmp_path)
    one = warmup_helps_control(report([0.10], [0.04]), **kw)
    assert one.status.startswith(INCONCLUSIVE) and "binary-only 10" in one.ours
    assert warmup_helps_control(report([0.1] * 3, [0.2] * 3), **kw).status == REPRODUCED
    assert warmup_helps_control(report([0.2] * 3, [0.1] * 3), **kw).status == REFUTED
    assert warmup_helps_control(report([0.1] * 3, [0.12] * 3), **kw).status == PARTLY
    # arms stopped after different numbers of steps are not compared, whatever the numbers say
    uneven = warmup_helps_control(report([0.1] * 3, [0.3] * 3, warm_steps=80), **kw)
    assert uneven.status == f"{INCONCLUSIVE} (the arms ran different numbers of steps)"
    assert "binary-only 160; dense → binary 80" in uneven.ours
