"""The precondition report's parts (delta_core.experiments.precondition), checked against hand-made
programs and problems whose scores are worked out by hand."""

import pytest

from delta_core.dsl import parse_program, run_program


def _accepts(program: str, tape: str) -> bool:
    return run_program(parse_program(program), tape).finished


def test_reset_free_matcher_is_the_near_miss_that_restarts():
    from delta_core.experiments.precondition import reset_free_matcher
    from delta_core.tasks.near_miss import NearMiss

    miss = NearMiss("restart", "contains_substring_restart", {"sequence": "RRB"})
    for tape in ("RRB", "RRRB", "BRRBB", "RBRRB", "RRRRR", ""):
        assert _accepts(reset_free_matcher("RRB", ("R", "B")), tape) == miss.label(tape), tape


def test_reset_free_matcher_is_right_for_one_colour_patterns_and_wrong_where_a_reset_is_needed():
    from delta_core.experiments.precondition import reset_free_matcher

    rrr = reset_free_matcher("RRR", ("R", "B"))
    assert [_accepts(rrr, t) for t in ("RRR", "BRRRB", "RRBRR", "RBRBR", "")] == [True, True, False, False, False]
    rrb = reset_free_matcher("RRB", ("R", "B"))
    assert _accepts(rrb, "RRB") and _accepts(rrb, "BRRBB")
    # 'RRRB' contains RRB, but after RR a third R restarts the matcher at q0 and it never recovers
    assert not _accepts(rrb, "RRRB")


def test_fixed_program_baselines_on_a_problem_worked_out_by_hand():
    from delta_core.experiments.precondition import fixed_program_baselines
    from delta_core.tasks import generate

    problem = next(p for p in generate("contains_substring", "medium", "two_color", n=None, seed=0)
                   if p.params["sequence"] == "RRB")
    tests = problem.tests()
    accepted = sum(t["expected_accepted"] for t in tests) / len(tests)
    b = fixed_program_baselines([problem])
    assert b["accept_all"] == pytest.approx(accepted)
    assert b["reject_all"] == pytest.approx(1 - accepted)
    # the problem's own solution is not a candidate: nothing fixed reaches 1.0 on its tests
    assert b["best_fixed"] < 1.0
    assert b["best_constant"] >= max(b["reject_all"], b["accept_all"])
    assert b["nearest_seen"] == pytest.approx(max(b["by_neighbour"].values()))
    assert "restart: contains_substring_restart" in b["by_neighbour"]
    assert "no fallback: contains_substring_no_fallback" not in b["by_neighbour"]  # RRB needs none: no miss
    assert not any(label.endswith(": contains_substring") for label in b["by_neighbour"])  # the target's own skill
    # a candidate that is the true solution becomes the best constant on this one problem
    with_solution = fixed_program_baselines([problem], candidates=[problem.solution])
    assert with_solution["best_constant"] == 1.0 and with_solution["best_fixed"] == 1.0


def test_precondition_report_checks_fail_and_pass_on_hand_made_samples(monkeypatch):
    """A model stand-in that always writes the same program: no conditioning, the report says so; one
    that writes each problem's solution: pass@K > 0, the report says the skill is not lacking."""
    from delta_core.experiments import precondition as pc
    from delta_core.sampling import Generation
    from delta_core.tasks import generate

    problems = [p for p in generate("contains_substring", "medium", "two_color", n=None, seed=0)
                if len(set(p.params["sequence"])) == 2][:4]
    fixed = "```\nSTART start:\n    NEXT NONE\nEND end\n```"

    def same_program(model, tokenizer, prompts, n, config, seed=None):
        return [[Generation(text=fixed, n_tokens=9, finished=True)] * n for _ in prompts]

    monkeypatch.setattr("delta_core.sampling.generate_completions", same_program)
    report = pc.precondition_report(None, None, problems, 4, None, progress=False)
    assert report["parse_rate"] == 1.0 and report["checks"]["reads_the_prompt"]
    assert report["distinct_modal_programs"] == 1 and not report["checks"]["conditions_on_the_pattern"]
    assert report["pass@4"] == 0.0 and report["checks"]["pass_at_K_is_zero"] and not report["passes"]
    assert report["dense_mean"] == pytest.approx(report["baselines"]["reject_all"])

    by_prompt = {}
    for p in problems:
        by_prompt[p.criteria] = p.solution

    def solutions(model, tokenizer, prompts, n, config, seed=None):
        out = []
        for prompt in prompts:
            text = prompt[-1]["content"]
            solution = next(s for c, s in by_prompt.items() if c in text)
            out.append([Generation(text=f"```\n{solution}\n```", n_tokens=9, finished=True)] + [Generation(text="not a program", n_tokens=3, finished=True)] * (n - 1))
        return out

    monkeypatch.setattr("delta_core.sampling.generate_completions", solutions)
    report = pc.precondition_report(None, None, problems, 4, None, progress=False)
    assert report["parse_rate"] == 0.25 and not report["checks"]["reads_the_prompt"]
    assert report["pass@1"] == 0.25 and report["pass@4"] == 1.0 and not report["checks"]["pass_at_K_is_zero"]
    assert report["checks"]["conditions_on_the_pattern"]  # four problems, four different solutions
    for row, problem in zip(report["per_problem"], problems):  # the one program that passed, kept to be checked
        assert [p.strip() for p in row["full_pass_programs"]] == [problem.solution.strip()]
    assert "FAIL" in pc.describe(report) and "pass@4 1.0000" in pc.describe(report)


def test_first_difference_tells_a_right_program_from_one_that_only_passes_the_tests():
    from delta_core.experiments.precondition import first_difference
    from delta_core.tasks import generate

    problem = next(p for p in generate("contains_substring", "medium", "two_color", n=None, seed=0)
                   if p.params["sequence"] == "RBRB")
    assert first_difference(problem.solution, problem) is None
    # the one-fallback error: after 'RBR', an 'R' restarts instead of going back to q1
    wrong = problem.solution.replace("[R] q1\n    [B] end", "[R] q0\n    [B] end")
    assert wrong != problem.solution
    assert first_difference(wrong, problem) == "RBRRBRB"  # hand-checked: contains RBRB from its 4th colour


def _fake_base(tmp_path, monkeypatch, calls):
    """A results folder with a stand-in base (bytes only) and a stand-in sampler that writes each
    problem's solution once in four samples, and otherwise a constant program."""
    from delta_core.sampling import Generation

    (tmp_path / "out" / "base").mkdir(parents=True)
    (tmp_path / "out" / "base" / "model.safetensors").write_bytes(b"base one")
    solutions = {}

    def fake_generate(model, tokenizer, prompts, n, config, seed=None):
        calls.append(seed)
        text = prompts[0][-1]["content"]
        solution = next((s for c, s in solutions.items() if c in text), None)
        rest = [Generation(text="```\nSTART start:\n    NEXT NONE\nEND end\n```", n_tokens=9, finished=True)] * (n - 1)
        first = Generation(text=f"```\n{solution}\n```" if seed % 2 else "junk", n_tokens=9, finished=True)
        return [[first] + rest]

    class Loaded:
        model = tokenizer = None

    monkeypatch.setattr("delta_core.sampling.generate_completions", fake_generate)
    monkeypatch.setattr("delta_core.models.load_model", lambda *a, **k: Loaded())
    return solutions


def test_precondition_shards_and_resumes_to_the_single_process_report(tmp_path, monkeypatch):
    """Two shards, the second killed half-way and restarted, give the report one process gives; a record
    of another base is refused, not mixed in."""
    from delta_core.experiments import delta_mini
    from delta_core.experiments import precondition as pc

    calls = []
    solutions = _fake_base(tmp_path, monkeypatch, calls)
    exp = delta_mini.MiniExperiment(bridge="restart_or_stay", held_out=6, base_k=4)
    _, held = delta_mini.target_split(exp)
    solutions.update({p.criteria: p.solution for p in held})
    out, work = tmp_path / "out", tmp_path / "work"

    whole = pc.precondition_report(None, None, held, 4, None, progress=False)
    calls.clear()
    assert delta_mini.measure_precondition(exp, out, progress=False, work=work, shard=(0, 2)) is None
    assert sorted(calls) == [0, 2, 4]  # problems 0, 2, 4, each with its own seed
    assert not (out / "precondition.json").exists()

    real = pc.measure_problem
    def killed_after_one(*args, **kwargs):
        if len(calls) == 4:
            raise KeyboardInterrupt  # the process dies while measuring its second problem
        return real(*args, **kwargs)
    monkeypatch.setattr(pc, "measure_problem", killed_after_one)
    with pytest.raises(KeyboardInterrupt):
        delta_mini.measure_precondition(exp, out, progress=False, work=work, shard=(1, 2))
    monkeypatch.setattr(pc, "measure_problem", real)
    calls.clear()
    report = delta_mini.measure_precondition(exp, out, progress=False, work=work, shard=(1, 2))
    assert sorted(calls) == [3, 5]  # problem 1 was saved before the kill
    timing = ("samples_per_second", "judge_seconds", "seconds", "sampling", "base_sha256", "wall_seconds")
    assert {k: v for k, v in report.items() if k not in timing} == {k: v for k, v in whole.items() if k not in timing}
    assert report["pass@1"] == 0.25 * 3 / 6 and report["problems_with_a_full_pass"] == 3

    (out / "precondition.json").unlink()
    (out / "base" / "model.safetensors").write_bytes(b"base two")
    with pytest.raises(ValueError, match="another base model"):
        delta_mini.measure_precondition(exp, out, progress=False, work=work, shard=(0, 1))
    (out / "base" / "model.safetensors").write_bytes(b"base one")  # the same base, another target's problems
    other = delta_mini.MiniExperiment(bridge="restart_or_stay", held_out=6, base_k=4, target_min_fallbacks=2)
    with pytest.raises(ValueError, match="target problem"):
        delta_mini.measure_precondition(other, out, progress=False, work=work, shard=(0, 1))


def test_precondition_shard_argument_is_checked_in_one_line(tmp_path, capsys):
    from delta_core.experiments import delta_mini

    with pytest.raises(SystemExit) as exit_:
        delta_mini.main(["precondition", "--out", str(tmp_path), "--shard", "2/2"])
    assert exit_.value.code == 2 and "--shard '2/2'" in capsys.readouterr().err


def test_records_older_than_full_pass_programs_get_them_judged_again(monkeypatch):
    """A record saved before reports kept `full_pass_programs` gets them from its parsed programs; the
    caller's record is left as it was."""
    from delta_core.experiments import precondition as pc
    from delta_core.sampling import Generation
    from delta_core.tasks import generate

    problem = [p for p in generate("contains_substring", "medium", "two_color", n=None, seed=0)
               if len(set(p.params["sequence"])) == 2][0]
    texts = [f"```\n{problem.solution}\n```", "```\nSTART start:\n    NEXT NONE\nEND end\n```"]
    monkeypatch.setattr("delta_core.sampling.generate_completions", lambda *a, **k: [
        [Generation(text=t, n_tokens=9, finished=True) for t in texts]])
    record = pc.measure_problem(None, None, problem, {"prompt": []}, 0, 2, None)
    old = {k: v for k, v in record.items() if k != "full_pass_programs"}
    report = pc.summarize_precondition([problem], [old], 2)
    assert [p.strip() for p in report["per_problem"][0]["full_pass_programs"]] == [problem.solution.strip()]
    assert "full_pass_programs" not in old
