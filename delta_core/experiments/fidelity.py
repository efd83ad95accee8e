"""Scientific fidelity: the paper's claims (C1-C15) against the artifacts this project saved.

`book/claims.yaml` lists each claim with the paper's number, the artifact (a JSON file under
`book/results/`) and a *check*: the name of one of the functions in `CHECKS` below plus its parameters
(the key paths to read, thresholds). A check reads the artifact and returns what we measured ("ours")
and a status. The statuses are the book's one verdict vocabulary (chapter 5 uses the same words):

    reproduced      our number meets the claim's rule, at this project's scale
    partly          the direction holds, not the full claim
    refuted         the artifact contradicts the claim under its rule
    inconclusive    measured, but it cannot decide: an interval across the line, a dense plateau no
                    higher than a program that ignores the prompt, a precondition of the test not met
    not comparable  measured, but from a starting point the paper's number does not describe (C14: the
                    base already passes the scenes the paper's base fails)
    precondition    a setting the experiment needs (C1b, chosen by construction) or a consequence of
                    one (C2: with every group's rewards tied GRPO has nothing to learn): shown, met or
                    not, but never counted as a reproduction
    not run         no artifact, or the artifact lacks the arm the claim needs: the reason is said

so the claims table of the book (notebooks/07_fidelity.ipynb) is computed at build time, never typed.

    from delta_core.experiments.fidelity import evaluate_claims, to_markdown
    print(to_markdown(evaluate_claims("book/claims.yaml")))
"""

from __future__ import annotations

import html
import inspect
import itertools
import json
import statistics
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

__all__ = [
    "CHECKS",
    "STATUSES",
    "base_reads_prompt",
    "vocabulary",
    "MissingKey",
    "Result",
    "Row",
    "evaluate_claim",
    "evaluate_claims",
    "get",
    "join",
    "key_name",
    "load_claims",
    "status_counts",
    "to_html",
    "to_markdown",
]

REPRODUCED, PARTLY, REFUTED = "reproduced", "partly", "refuted"
INCONCLUSIVE, NOT_COMPARABLE, PRECONDITION, NOT_RUN = "inconclusive", "not comparable", "precondition", "not run"
STATUSES = (REPRODUCED, PARTLY, REFUTED, INCONCLUSIVE, NOT_COMPARABLE, PRECONDITION, NOT_RUN)
# Words older artifacts (chapter 5's transfer summaries) may hold, and the vocabulary word each means.
LEGACY_WORDS = {"not reproduced": REFUTED, "untested here": INCONCLUSIVE, "partly reproduced": PARTLY}


def vocabulary(word: str) -> str:
    """A verdict word in the book's vocabulary (STATUSES): a legacy word is translated, a known one kept.

    >>> vocabulary("untested here"), vocabulary("refuted")
    ('inconclusive', 'refuted')
    """
    word = LEGACY_WORDS.get(word, word)
    if word not in STATUSES:
        raise ValueError(f"verdict {word!r} is not one of {STATUSES}")
    return word


class MissingKey(KeyError):
    """An artifact lacks a key a check needs; the claim is then "not run", with the claim's reason."""

    def __init__(self, key: str):
        super().__init__(key)
        self.key = key


@dataclass(frozen=True)
class Result:
    """What a check found: our number(s) as text, and the status."""

    ours: str
    status: str


@dataclass(frozen=True)
class Row:
    """One line of the claims table."""

    id: str
    claim: str
    paper: str
    ours: str
    status: str  # starts with one of STATUSES, maybe followed by a reason in parentheses
    artifact: str | None

    @property
    def kind(self) -> str:
        """The bare status (without the reason in parentheses)."""
        return next(s for s in STATUSES if self.status == s or self.status.startswith(s + " ("))


# --- reading artifacts -------------------------------------------------------------------------------


Key = str | Sequence[Any]  # "arms.binary.final_full_pass", or a list of parts when a name holds a dot


def _parts(key: Key) -> list[str]:
    return key.split(".") if isinstance(key, str) else [str(p) for p in key]


def key_name(key: Key) -> str:
    """A key path as text (parts joined by dots), for messages."""
    return ".".join(_parts(key))


def join(*keys: Key) -> list[str]:
    """Key paths joined into one (`join("arms.binary", "runs")`)."""
    return [p for k in keys for p in _parts(k)]


def get(data: Any, key: Key) -> Any:
    """The value at a key path: dotted (`arms.binary.final_full_pass`) or a list of parts
    (`[arms, dense, runs, "*", first_step_full_pass_ge_0.1]`, for names that contain a dot). A part
    indexes a dict by name or a list by position; `*` maps the rest of the path over every item of a
    list, giving a list. Raises MissingKey naming the whole path when any part is absent."""
    parts = _parts(key)

    def walk(node: Any, i: int) -> Any:
        if i == len(parts):
            return node
        part = parts[i]
        if part == "*" and isinstance(node, list):
            return [walk(item, i + 1) for item in node]
        if isinstance(node, Mapping) and part in node:
            return walk(node[part], i + 1)
        if isinstance(node, list) and part.lstrip("-").isdigit() and -len(node) <= int(part) < len(node):
            return walk(node[int(part)], i + 1)
        raise MissingKey(key_name(parts))

    return walk(data, 0)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _number(data: Any, key: Key) -> float:
    value = get(data, key)
    if not _is_number(value):
        raise MissingKey(f"{key_name(key)} (a number, found {value!r})")
    return float(value)


def _optional(data: Any, key: Key | None) -> Any:
    """The value at `key`, or None when it is absent (for steps that may legitimately never happen)."""
    if key is None:
        return None
    try:
        return get(data, key)
    except MissingKey:
        return None


def _steps(data: Any, key: Key | None) -> list[int | None]:
    """Step values at `key` as a list (one per seed when the path has a `*`); None: never reached."""
    value = _optional(data, key)
    values = value if isinstance(value, list) else [value]
    return [int(v) if _is_number(v) else None for v in values]


def _median_step(steps: Sequence[int | None]) -> float:
    """The median step across seeds, a seed that never got there counting as infinitely late."""
    ordered = sorted(float("inf") if s is None else float(s) for s in steps)
    if not ordered:
        return float("inf")
    mid = len(ordered) // 2
    return ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2


def _pct(x: float) -> str:
    return f"{100 * x:.1f}%" if 0 < abs(x) < 0.1 else f"{100 * x:.0f}%"


def _step(x: Any) -> str:
    """`step 40`, `never`, or for several seeds `steps 40, 55, never`."""
    if isinstance(x, list):
        if len(x) == 1:
            return _step(x[0])
        return "steps " + ", ".join("never" if v is None else str(int(v)) for v in x)
    return "never" if x is None else f"step {int(x)}"


# --- the checks -------------------------------------------------------------------------------------
# Each takes the artifact's parsed JSON and the claim's `params`, returns a Result, and raises MissingKey
# when a key is absent. Thresholds are parameters so that claims.yaml states them next to the claim.


def pass_at_k_zero(
    data: Any, *, min_k: int = 128, by: Key = "pass_at_k_by_family", name: str = "family"
) -> Result:
    """C1: some family has pass@K = 0, K the largest k measured. Reproduced when K >= min_k (the
    paper's K), partly when a family is at 0 only for a smaller K, refuted when none is at 0."""
    rows = get(data, by)
    if not isinstance(rows, list) or not rows:
        raise MissingKey(f"{key_name(by)} (a non-empty list)")
    k_max = max(int(r["k"]) for r in rows)
    at_k = {r[name]: float(r["pass_at_k"]) for r in rows if int(r["k"]) == k_max}
    zero = sorted(f for f, v in at_k.items() if v == 0.0)
    n_problems = data.get("n_problems") if isinstance(data, Mapping) else None
    ours = f"pass@{k_max} = 0 on {len(zero)} of {len(at_k)} families"
    if n_problems is not None:
        ours += f" ({n_problems} problems)"
    if not zero:
        return Result(ours, REFUTED)
    if k_max >= min_k:
        return Result(ours, REPRODUCED)
    return Result(ours + f"; K = {k_max} < the paper's {min_k}", PARTLY)


def _extras(data: Any, extra: Mapping[str, Key] | Sequence[Key]) -> str:
    """'; label value' for each extra key that is present (shown, never used for the status)."""
    items = extra.items() if isinstance(extra, Mapping) else [(_parts(k)[-1], k) for k in extra]
    text = ""
    for label, k in items:
        v = _optional(data, k)
        if _is_number(v):
            text += f"; {label} {_pct(v) if abs(v) <= 1 else v}"
    return text


def at_most(
    data: Any,
    *,
    key: Key,
    reproduced: float,
    partly: float | None = None,
    label: str = "",
    extra: Mapping[str, Key] | Sequence[Key] = (),
    tied_key: Key | None = None,
) -> Result:
    """A rate that the claim says stays low (a stall, a failure to transfer): reproduced when
    value <= `reproduced`, partly when <= `partly`, else refuted. `extra` keys are shown too.

    `tied_key`: the fraction of GRPO groups whose rewards all tied. When it is 1 (every group tied) a
    stall is no finding: GRPO's advantage is zero everywhere, so nothing could be learnt. The row is
    then a precondition that holds by construction, not a reproduction (C2)."""
    value = _number(data, key)
    ours = f"{label or key_name(key)} {_pct(value)}" + _extras(data, extra)
    tied = _optional(data, tied_key)
    if value <= reproduced and _is_number(tied) and tied >= 1.0:
        return Result(
            ours,
            f"{PRECONDITION} (holds by construction: every group's rewards tied, so GRPO had no signal"
            " to learn from)",
        )
    if value <= reproduced:
        return Result(ours, REPRODUCED)
    if partly is not None and value <= partly:
        return Result(ours, PARTLY)
    return Result(ours, REFUTED)


def at_least(
    data: Any,
    *,
    key: Key,
    reproduced: float,
    partly: float | None = None,
    label: str = "",
    extra: Mapping[str, Key] | Sequence[Key] = (),
) -> Result:
    """A rate that the claim says gets high: reproduced when value >= `reproduced`, partly when >= `partly`."""
    value = _number(data, key)
    ours = f"{label or key_name(key)} {_pct(value)}" + _extras(data, extra)
    if value >= reproduced:
        return Result(ours, REPRODUCED)
    if partly is not None and value >= partly:
        return Result(ours, PARTLY)
    return Result(ours, REFUTED)


def _mean_value(data: Any, key: Key) -> float:
    """The number at `key`, or the mean of the numbers there when the path maps over seeds (`*`)."""
    value = get(data, key)
    values = value if isinstance(value, list) else [value]
    if not values or not all(_is_number(v) for v in values):
        raise MissingKey(f"{key_name(key)} (a number, found {value!r})")
    return statistics.fmean(float(v) for v in values)


def _baselines(data: Any, root: str | Path, tests: str, target_key: Key) -> dict[str, Any]:
    """The fixed-program baselines (delta_core.experiments.baselines) of the artifact's target, judged
    on the committed tests the runs were evaluated on (`tests`, relative to root)."""
    from .baselines import fixed_program_baselines, load_target_problems

    path = Path(root) / tests
    if not path.is_file():
        raise MissingKey(f"{tests} (the target's tests, for the fixed-program baselines)")
    return fixed_program_baselines(load_target_problems(path), str(get(data, target_key)))


def saturates_without_full_pass(
    data: Any,
    *,
    dense_key: Key,
    full_key: Key,
    baseline_tests: str,
    target_key: Key = "experiment.target",
    max_full: float = 0.01,
    partly_full: float = 0.1,
    root: str | Path = ".",
) -> Result:
    """C3: the per-test (dense) score rises to a plateau while the full-pass rate stays about 0.

    A plateau counts only above the best fixed-program baseline of the target (reject-all, accept-all,
    the best constant program: `baselines.fixed_program_baselines`, judged on `baseline_tests`, the
    problems the dense score was measured on). At or below it the arm has learnt a program that ignores
    the prompt, which says nothing about the claim: inconclusive. Above it: reproduced with full-pass <=
    `max_full`, partly with full-pass <= `partly_full`; full passes above that refute the claim.
    `dense_key` may map over seeds (`*`): their mean is used."""
    dense, full = _mean_value(data, dense_key), _number(data, full_key)
    base = _baselines(data, root, baseline_tests, target_key)
    ours = (
        f"per-test score {dense:.2f}, full-pass {_pct(full)}; best fixed program {base['best_name']}"
        f" {base['best']:.2f} (reject-all {base['reject_all']:.2f}, accept-all {base['accept_all']:.2f})"
    )
    if full > partly_full:
        return Result(ours, REFUTED)
    if dense <= base["best"]:
        return Result(
            ours,
            f"{INCONCLUSIVE} (the dense plateau is not above a program that ignores the prompt: the arm"
            " learnt a fixed program, which neither shows nor refutes the claim)",
        )
    return Result(ours, REPRODUCED if full <= max_full else PARTLY)


def base_reads_prompt(base_dense: float, baselines: Mapping[str, Any]) -> bool:
    """The precondition of a grokking test that a first-attempt artifact can show: the base's dense
    score on the target is at least what the worse of accept-all and reject-all earns. Below it, most
    of the base's samples earned nothing on tests that even a constant answer half passes: the mark of
    a model that cannot read the target prompt (it writes no valid program for it)."""
    return base_dense >= min(baselines["reject_all"], baselines["accept_all"])


def plateau_then_jump(
    data: Any,
    *,
    final_key: Key,
    first_10_key: Key,
    first_50_key: Key | None = None,
    switch_key: Key | None = None,
    high: float = 0.9,
    partly: float = 0.5,
    base_dense_key: Key | None = None,
    baseline_tests: str | None = None,
    target_key: Key = "experiment.target",
    root: str | Path = ".",
) -> Result:
    """C4: after the switch to binary the full-pass rate sits near 0, then jumps to about 100%.
    The step keys may hold one value or, through a `*` in the path, one per seed (None: never).
    Reproduced: the final rate >= `high` and in most seeds the rate crossed 10% after the switch (a
    plateau, possibly short); partly: the final rate >= `partly`, or some seed crossed 10%; else
    refuted, unless the test's precondition was not met: with `base_dense_key` and `baseline_tests`, a
    base that scored below accept-all and reject-all on the target (`base_reads_prompt`) could not read
    the question, and a run from it that shows no jump is inconclusive, not a refutation."""
    final = _number(data, final_key)
    s10, s50 = _steps(data, first_10_key), _steps(data, first_50_key)
    switch = next((s for s in _steps(data, switch_key) if s is not None), None)
    ours = f"final full-pass {_pct(final)}; 10% at {_step(s10)}"
    if first_50_key is not None:
        ours += f", 50% at {_step(s50)}"
    if switch is not None:
        ours += f" (switch to binary at step {switch}"
        plateaus = [str(s - switch) for s in s10 if s is not None and s > switch]
        if plateaus:
            ours += f"; plateau {', '.join(plateaus)} steps"
        ours += ")"
    after_switch = [s for s in s10 if s is not None and (switch is None or s > switch)]
    if final >= high and len(after_switch) * 2 > len(s10):
        return Result(ours, REPRODUCED)
    if final >= partly or any(s is not None for s in s10):
        return Result(ours, PARTLY)
    if base_dense_key is not None and baseline_tests is not None:
        base_dense = _number(data, base_dense_key)
        base = _baselines(data, root, baseline_tests, target_key)
        if not base_reads_prompt(base_dense, base):
            worse = min(("reject-all", base["reject_all"]), ("accept-all", base["accept_all"]), key=lambda x: x[1])
            return Result(
                ours + f"; base dense score on the target {base_dense:.2f} < {worse[0]} {worse[1]:.2f}",
                f"{INCONCLUSIVE} (precondition not met: the base could not read the target prompt)",
            )
    return Result(ours, REFUTED)


VERDICT_STATUS = {"jump": REPRODUCED, "refuted": REFUTED, "inconclusive": INCONCLUSIVE}


def mini_verdict(data: Any) -> Result:
    """C4 from DELTA-mini v2's verdict (`verdict.json`, `delta_core.experiments.delta_mini_verdict`),
    whose criteria were fixed before its runs: a jump is a reproduction, an honest refutation a
    refutation, anything else inconclusive with the verdict's reason. The numbers: each dense → binary
    seed's best held-out pass@1, where and why it switched, and the share of binary steps with reward
    spread (the only steps GRPO can learn from)."""
    word = data.get("verdict") if isinstance(data, Mapping) else None
    if word not in VERDICT_STATUS:
        raise MissingKey(f"verdict (one of {sorted(VERDICT_STATUS)}, found {word!r})")
    seeds = get(data, "numbers.seeds")
    if not isinstance(seeds, Mapping) or not seeds:
        raise MissingKey("numbers.seeds (the dense → binary seeds)")
    best = ", ".join(_pct(float(s.get("best") or 0.0)) for s in seeds.values())
    switches = sorted({f"{s['switch_step']} ({s.get('switch_reason')})" for s in seeds.values()
                       if s.get("switch_step") is not None})
    ours = f"dense → binary, {len(seeds)} seeds: best held-out pass@1 {best}"
    if switches:
        ours += f"; switched at step {', '.join(switches)}"
    spread = _optional(data, "numbers.binary_steps_with_spread_share")
    if _is_number(spread):
        ours += f"; binary steps with reward spread {_pct(spread)}"
    status = VERDICT_STATUS[word]
    return Result(ours, f"{status} ({data.get('reason', '')})" if status == INCONCLUSIVE else status)


def jump_in_other_runs(
    data: Any,
    *,
    runs_key: Key = "runs",
    final_key: Key = "final_full_pass",
    high: float = 0.5,
    min_runs: int = 2,
    where: Mapping[str, Any] | None = None,
    steps_key: Key | None = None,
    min_steps: int | None = None,
) -> Result:
    """C5: the jump also happens for other models and families. Each run is a dict with `model`,
    `family` and `final_key` (runs whose value is null are left out); `where` keeps only the runs whose
    fields equal its values (e.g. {arm: dense_then_binary}). Reproduced: >= min_runs distinct
    (model, family) pairs reach `high`; partly: one does; else refuted, unless every run stopped
    (`steps_key`) before `min_steps`, the paper's plateau: a run cut short of where the jump comes in the
    paper cannot refute it (a 10-minute GPU run), so the row is inconclusive."""
    runs = get(data, runs_key)
    if not isinstance(runs, list):
        raise MissingKey(f"{key_name(runs_key)} (a list)")
    runs = [r for r in runs if all(r.get(k) == v for k, v in (where or {}).items())]
    measured = [r for r in runs if _is_number(_optional(r, final_key))]
    if not measured:
        raise MissingKey(f"{key_name(join(runs_key, '*', final_key))} (a number in some run)")
    jumped = sorted(
        {
            (str(r.get("model", "?")), str(r.get("family", "?")))
            for r in measured
            if _number(r, final_key) >= high
        }
    )
    ours = f"{len(jumped)} of {len(measured)} runs reach {_pct(high)} full-pass"
    if jumped:
        ours += ": " + ", ".join(f"{m} on {f}" for m, f in jumped)
    if len(jumped) >= min_runs:
        return Result(ours, REPRODUCED)
    if jumped:
        return Result(ours, PARTLY)
    if steps_key is not None and min_steps is not None:
        steps = [_optional(r, steps_key) for r in measured]
        if all(_is_number(s) and s < min_steps for s in steps):
            longest = int(max(steps))
            return Result(ours + f" (runs of at most {longest} steps)",
                          f"{INCONCLUSIVE} (every run stopped by step {longest}, before the paper's ~{min_steps}-step "
                          "plateau ended: too short to refute)")
    return Result(ours, REFUTED)


def earlier_but_slower(
    data: Any,
    *,
    base: Key,
    variant: Key,
    early_key: Key = "step_first_10",
    late_key: Key = "step_first_90",
) -> Result:
    """C6 (and C7): a variant arm groks earlier (reaches the early threshold first) but converges more
    slowly (reaches the late threshold later or never). Step keys are relative to each arm and may hold
    one value per seed (`runs.*.…`): the medians are compared. Both halves: reproduced; one: partly."""
    get(data, base), get(data, variant)  # both arms must exist
    b_early, v_early = _steps(data, join(base, early_key)), _steps(data, join(variant, early_key))
    b_late, v_late = _steps(data, join(base, late_key)), _steps(data, join(variant, late_key))
    earlier = _median_step(v_early) < _median_step(b_early)
    slower = _median_step(v_late) > _median_step(b_late)
    ours = (
        f"early threshold at {_step(v_early)} vs {_step(b_early)}; late threshold at {_step(v_late)}"
        f" vs {_step(b_late)} ({_parts(variant)[-1]} vs {_parts(base)[-1]})"
    )
    if earlier and slower:
        return Result(ours, REPRODUCED)
    return Result(ours, PARTLY if earlier or slower else REFUTED)


def decreasing(data: Any, *, key: Key, order: Sequence[str]) -> Result:
    """C12: a rate shrinks along `order` (tiers ID -> HARD). Reproduced: non-increasing and first > last;
    partly: first > last but not monotone; else refuted."""
    values = [_number(data, join(key, tier)) for tier in order]
    ours = ", ".join(f"{tier} {_pct(v)}" for tier, v in zip(order, values, strict=True))
    monotone = all(a >= b for a, b in itertools.pairwise(values))
    if values[0] > values[-1] and monotone:
        return Result(ours, REPRODUCED)
    return Result(ours, PARTLY if values[0] > values[-1] else REFUTED)


def improves(
    data: Any,
    *,
    before_key: Key,
    after_key: Key,
    reproduced: float = 0.5,
    partly: float = 0.1,
    max_before: float = 0.1,
) -> Result:
    """C13: a rate near 0 before RL is high after it. Reproduced: before <= max_before and after >=
    `reproduced`; partly: after - before >= `partly`; else refuted."""
    before, after = _number(data, before_key), _number(data, after_key)
    ours = f"{_pct(before)} before RL, {_pct(after)} after"
    if before <= max_before and after >= reproduced:
        return Result(ours, REPRODUCED)
    return Result(ours, PARTLY if after - before >= partly else REFUTED)


def gain_interval(
    data: Any,
    *,
    key: Key,
    expect: str,
    strong: float | None = None,
    margin: float = 0.0,
    caveat: str = "",
    refute_below: float | None = None,
    max_before: float | None = None,
    by: str | None = None,
    before: str = "before_pass1",
    after: str = "after_pass1",
    low: str = "ci_low",
    high: str = "ci_high",
) -> Result:
    """C11-C14 from a before/after comparison with a confidence interval of the gain (low, high).
    expect="up" (transfer happens): reproduced when low > margin (and after >= `strong` if given; else
    partly), refuted when high < -margin. expect="none" (no transfer): reproduced when high < margin,
    refuted when low > margin. An interval across the line cannot decide: inconclusive. `caveat`: what
    the measurement leaves out; it caps a reproduced status at partly.
    `refute_below` (expect="up"): refuted as soon as the interval rules out a gain of this size
    (high < refute_below), the rule chapter 5 uses.
    `max_before`: the paper's number describes a base near 0 (C14: "~0% on periodic scenes"); a base
    above `max_before` makes the row "not comparable", whatever the interval (a drop from there is
    forgetting, not a failure to transfer).
    `by`: a key under `key` holding the same numbers per group (e.g. `by_level`), shown after ours."""
    b, a = _number(data, join(key, before)), _number(data, join(key, after))
    lo, hi = _number(data, join(key, low)), _number(data, join(key, high))
    ours = f"pass@1 {_pct(b)} before RL, {_pct(a)} after; gain 95% CI [{lo:+.2f}, {hi:+.2f}]"
    groups = _optional(data, join(key, by)) if by else None
    if isinstance(groups, Mapping) and groups:
        ours += "; by " + by.removeprefix("by_") + ": " + ", ".join(
            f"{g} {float(v[after]) - float(v[before]):+.2f} [{float(v[low]):+.2f}, {float(v[high]):+.2f}]"
            for g, v in groups.items()
        )
    if caveat:
        ours += f" ({caveat})"
    if max_before is not None and b > max_before:
        return Result(
            ours,
            f"{NOT_COMPARABLE} (the base already passes {_pct(b)}; the paper's number is for a base near 0)",
        )
    if expect == "up":
        if lo > margin:
            status = REPRODUCED if strong is None or a >= strong else PARTLY
        elif hi < (-margin if refute_below is None else refute_below):
            status = REFUTED
        else:
            return Result(ours, INCONCLUSIVE + " (the interval includes no gain: undecided at this scale)")
    elif expect == "none":
        if hi < margin:
            status = REPRODUCED
        elif lo > margin:
            status = REFUTED
        else:
            return Result(ours, INCONCLUSIVE + " (the interval is too wide to decide)")
    else:
        raise ValueError(f"expect={expect!r}: 'up' or 'none'")
    return Result(ours, PARTLY if status == REPRODUCED and caveat else status)


def collapse(data: Any, *, converged_key: Key, collapse_key: Key, last_step_key: Key | None = None) -> Result:
    """C15: training on past convergence collapses. `converged_key` is the step the run converged
    (null: never, so the claim is inconclusive), `collapse_key` the step of a sudden drop (null: none)."""
    converged = get(data, converged_key)
    if converged is None:
        return Result("the run never converged", INCONCLUSIVE + " (the run never converged)")
    dropped = get(data, collapse_key)
    if dropped is not None:
        return Result(f"converged at step {int(converged)}, collapsed at step {int(dropped)}", REPRODUCED)
    last = _optional(data, last_step_key)
    tail = f", trained to step {int(last)}" if last is not None else ""
    return Result(f"converged at step {int(converged)}{tail}, no collapse", REFUTED)


def collapse_from_runs(
    data: Any,
    *,
    runs_key: Key,
    best_key: Key = "best_full_pass",
    final_key: Key = "final_full_pass",
    converged: float = 0.9,
    drop: float = 0.3,
) -> Result:
    """C15 from per-run best and final held-out full-pass rates: a run that reached `converged` and
    ended `drop` or more below its best collapsed. No run converged: inconclusive; converged runs that all
    held: refuted (within the steps they were trained); one collapse: reproduced."""
    runs = get(data, runs_key)
    if not isinstance(runs, list) or not runs:
        raise MissingKey(f"{key_name(runs_key)} (a non-empty list)")
    pairs = [(_number(r, best_key), _number(r, final_key)) for r in runs]
    done = [(b, f) for b, f in pairs if b >= converged]
    if not done:
        best = max(b for b, _ in pairs)
        return Result(
            f"no run reached {_pct(converged)} (best {_pct(best)})", INCONCLUSIVE + " (no run converged)"
        )
    fell = [(b, f) for b, f in done if f <= b - drop]
    ours = f"{len(done)} of {len(runs)} runs reached {_pct(converged)}; {len(fell)} ended {_pct(drop)} or more below their best"
    if fell:
        ours += " (" + ", ".join(f"{_pct(b)} → {_pct(f)}" for b, f in fell) + ")"
    return Result(ours, REPRODUCED if fell else REFUTED)


def warmup_helps_control(data: Any, *, learning_rate_key: Key = "lr.chosen", min_seeds: int = 3,
                         margin: float = 0.05, experiment: str | None = None, root: str | Path = ".") -> Result:
    """C9 from DELTA-mini v2's positive control (`pilots/report.json`): binary-only vs dense → binary on a
    family the base solves now and then, at the learning rate the arms use (`experiment`'s, else the
    pilot's choice). Held-out pass@1 at the last evaluation, mean over seeds: reproduced when dense →
    binary ends at least `margin` above binary-only, refuted when it ends `margin` below, else partly;
    with fewer than `min_seeds` seeds of each the row is inconclusive, whatever the numbers say."""
    controls = data.get("control") or {}
    lr = None
    if experiment is not None and (Path(root) / experiment).is_file():
        lr = json.loads((Path(root) / experiment).read_text()).get("learning_rate")
    if lr is None:
        lr = float(_number(data, learning_rate_key))
    runs = {arm: [v for name, v in controls.items()
                  if name.startswith(f"control_{arm}_lr{float(lr):g}_") and v.get("last") is not None]
            for arm in ("binary", "dense_then_binary")}
    if not runs["binary"] or not runs["dense_then_binary"]:
        raise MissingKey(f"control runs of both arms at lr {float(lr):g}")
    last = {arm: [v["last"] for v in found] for arm, found in runs.items()}
    binary, warm = (sum(v) / len(v) for v in (last["binary"], last["dense_then_binary"]))
    first = [v["first"] for name, v in controls.items()
             if f"_lr{float(lr):g}_" in name and v.get("first") is not None]
    seeds = min(len(v) for v in last.values())
    budgets = {arm: sorted({v.get("last_step") for v in found}) for arm, found in runs.items()}
    ours = (f"held-out pass@1 from {_pct(sum(first) / len(first))}: binary-only {_pct(binary)}, dense → binary "
            f"{_pct(warm)} (positive control, lr {float(lr):g}, {seeds} seed{'s' if seeds > 1 else ''}")
    if budgets["binary"] != budgets["dense_then_binary"] or len(budgets["binary"]) != 1:
        # arms compared after different numbers of steps say nothing about the warm-up
        steps = "; ".join(f"{ARM_WORDS[arm]} {', '.join(map(str, b))}" for arm, b in budgets.items())
        return Result(ours + f"; steps: {steps})", f"{INCONCLUSIVE} (the arms ran different numbers of steps)")
    ours += f", {budgets['binary'][0]} steps)"
    if seeds < min_seeds:
        return Result(ours, f"{INCONCLUSIVE} ({seeds} seed{'s' if seeds > 1 else ''}; the claim needs {min_seeds})")
    if warm >= binary + margin:
        return Result(ours, REPRODUCED)
    if warm <= binary - margin:
        return Result(ours, REFUTED)
    return Result(ours, PARTLY)


ARM_WORDS = {"binary": "binary-only", "dense_then_binary": "dense → binary"}


def recipe_verdict(data: Any, *, claim: str, no_paper_number: bool = False) -> Result:
    """C6, C7, C8, C10, C15 and the switch-timing row from the recipe's summary (`book/results/recipe/
    summary.json`, `delta_core.experiments.recipe`): the verdict its `CRITERIA` gave, and the line its
    numbers make. A verdict still waiting for runs is "not run" with the reason. `no_paper_number`: a
    measurement the paper has no number for (switch timing), shown as "not comparable" once it is complete."""
    verdict = get(data, ["verdicts", claim])
    status, text = verdict.get("status"), verdict.get("text", "—")
    if status == NOT_RUN:
        return Result(text, f"{NOT_RUN} ({verdict.get('reason', 'runs not finished')})")
    if no_paper_number:
        return Result(text, f"{NOT_COMPARABLE} (the paper gives no number: a new measurement)")
    # a verdict that says why it is what it is (C15's unmet precondition) shows that beside its status
    return Result(text, vocabulary(status) + (f" ({verdict['reason']})" if verdict.get("reason") else ""))


CHECKS: dict[str, Callable[..., Result]] = {
    f.__name__: f
    for f in (
        pass_at_k_zero,
        at_most,
        at_least,
        saturates_without_full_pass,
        plateau_then_jump,
        mini_verdict,
        jump_in_other_runs,
        earlier_but_slower,
        decreasing,
        improves,
        gain_interval,
        collapse,
        collapse_from_runs,
        warmup_helps_control,
        recipe_verdict,
    )
}


# --- the table --------------------------------------------------------------------------------------


def load_claims(path: str | Path) -> list[dict[str, Any]]:
    """The `claims` list of a claims.yaml, each with at least id, claim and paper."""
    doc = yaml.safe_load(Path(path).read_text())
    claims = doc["claims"] if isinstance(doc, Mapping) else doc
    for c in claims:
        missing = {"id", "claim", "paper"} - set(c)
        if missing:
            raise ValueError(f"claim {c.get('id', '?')}: missing field(s) {sorted(missing)}")
        if c.get("artifact") and c.get("check") not in CHECKS:
            raise ValueError(f"claim {c['id']}: unknown check {c.get('check')!r}; known: {sorted(CHECKS)}")
    return claims


def evaluate_claim(claim: Mapping[str, Any], root: str | Path) -> Row:
    """One claim's row. Never raises for a missing or incomplete artifact: the row says "not run" and
    why (the claim's `not_run` reason when it has one).

    A claim with `seeds: {key, min}` (key: the list of an arm's finished seeds) is inconclusive, its
    numbers shown, until `min` seeds have finished.

    A claim with `role: precondition` (and a `why`) is a setting the experiment needs, not a finding:
    its row says "precondition (met: why)" or "precondition (not met: ...)", never "reproduced"."""
    artifact = claim.get("artifact")
    base = dict(
        id=str(claim["id"]),
        claim=claim["claim"].strip(),
        paper=str(claim["paper"]).strip(),
        artifact=artifact,
    )
    not_run = claim.get("not_run")
    if not artifact:
        reason = claim.get("reason", "not attempted")
        return Row(**base, ours="—", status=f"{NOT_RUN} ({reason.removeprefix('not run: ')})")
    path = Path(root) / artifact
    if not path.is_file():
        return Row(**base, ours="—", status=f"{NOT_RUN} ({not_run or f'no artifact yet: {artifact}'})")
    try:
        data = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as e:
        return Row(
            **base, ours="—", status=f"{NOT_RUN} (unreadable artifact {artifact}: {e.__class__.__name__})"
        )
    check = CHECKS[claim["check"]]
    params = dict(claim.get("params") or {})
    if "root" in inspect.signature(check).parameters:
        params["root"] = root
    try:
        result = check(data, **params)
    except MissingKey as e:
        return Row(**base, ours="—", status=f"{NOT_RUN} ({not_run or f'{artifact} has no {e.key} yet'})")
    if not (result.status in STATUSES or result.status.startswith(tuple(s + " (" for s in STATUSES))):
        raise ValueError(f"claim {claim['id']}: check returned unknown status {result.status!r}")
    status = result.status
    seeds = claim.get("seeds")
    if seeds:  # {key: a list of finished seeds, min: how many the claim needs}
        found = _optional(data, seeds["key"])
        n = len(found) if isinstance(found, list) else 0
        if n < int(seeds["min"]):
            # the numbers so far are shown; the status waits for the seeds (an arm cut short decides nothing)
            return Row(**base, ours=f"{result.ours} ({n} seed{'s' if n != 1 else ''})",
                       status=f"{INCONCLUSIVE} ({n} of {seeds['min']} seeds finished)")
    if claim.get("role") == "precondition":
        why = claim.get("why", "")
        met = status == REPRODUCED
        status = f"{PRECONDITION} ({'met' if met else 'not met'}{': ' + why if why and met else ''})"
    return Row(**base, ours=result.ours, status=status)


def evaluate_claims(path: str | Path, root: str | Path | None = None) -> list[Row]:
    """Every claim of a claims.yaml; artifact paths are relative to `root` (default: the folder above
    the claims file's folder, i.e. the repository root for book/claims.yaml)."""
    path = Path(path)
    root = Path(root) if root is not None else path.resolve().parent.parent
    return [evaluate_claim(c, root) for c in load_claims(path)]


def _cell(text: str) -> str:
    return " ".join(str(text).split()).replace("|", "\\|")


def to_markdown(rows: Sequence[Row]) -> str:
    """The table `claim | paper's number | ours | status` in Markdown (pipe table)."""
    lines = ["| | claim | paper's number | ours | status |", "|---|---|---|---|---|"]
    for r in rows:
        status = f"**{r.status}**" if r.kind == REPRODUCED else r.status
        lines.append(f"| {r.id} | {_cell(r.claim)} | {_cell(r.paper)} | {_cell(r.ours)} | {_cell(status)} |")
    return "\n".join(lines)


def to_html(rows: Sequence[Row]) -> str:
    """The same table as HTML (what the book shows: notebook Markdown output is not parsed for tables),
    laid out to read on a page: the status first, then the claim with the paper's number and ours below
    it. The table carries the `fidelity` class (full width: the chapter's cell is tagged `full-width`)."""
    # <wbr> after each "/" lets a long artifact path wrap instead of widening the table
    esc = lambda text: html.escape(" ".join(str(text).split())).replace("/", "/<wbr>")
    head = "".join(f"<th>{h}</th>" for h in ("", "status", "claim: the paper's number, and ours"))
    body = []
    for r in rows:
        word, _, reason = r.status.partition(" (")
        status = f"<strong>{esc(word)}</strong>" if r.kind == REPRODUCED else esc(word)
        if reason:
            status += f'<br><span class="fidelity-reason">{esc(reason.removesuffix(")"))}</span>'
        cls = r.kind.replace(" ", "-")
        body.append(
            f'<tr class="fidelity-{cls}"><td>{esc(r.id)}</td><td>{status}</td>'
            f"<td>{esc(r.claim)}<br><em>paper:</em> {esc(r.paper)}<br><em>ours:</em> {esc(r.ours)}</td></tr>"
        )
    return (
        f'<table class="table fidelity"><thead><tr>{head}</tr></thead><tbody>{"".join(body)}</tbody></table>'
    )


def status_counts(rows: Sequence[Row]) -> dict[str, int]:
    """How many rows have each status (preconditions apart: they are never counted as reproductions)."""
    return {s: sum(r.kind == s for r in rows) for s in STATUSES}
