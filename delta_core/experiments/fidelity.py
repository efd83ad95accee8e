"""Scientific fidelity: the paper's claims (C1-C15) against the artifacts this project saved.

`book/claims.yaml` lists each claim with the paper's number, the artifact (a JSON file under
`book/results/`) and a *check*: the name of one of the functions in `CHECKS` below plus its parameters
(the key paths to read, thresholds). A check reads the artifact and returns what we measured ("ours")
and a status, one of

    reproduced · partly · not reproduced · untested here

so the claims table of the book (notebooks/07_fidelity.ipynb) is computed at build time, never typed.
A missing artifact gives "untested here (no artifact: <path>)", a missing key "untested here (missing
key '<key>' in <path>)": the table can be built before every experiment has run.

    from delta_core.experiments.fidelity import evaluate_claims, to_markdown
    print(to_markdown(evaluate_claims("book/claims.yaml")))
"""

from __future__ import annotations

import html
import itertools
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

__all__ = [
    "CHECKS",
    "STATUSES",
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

REPRODUCED, PARTLY, NOT_REPRODUCED, UNTESTED = "reproduced", "partly", "not reproduced", "untested here"
STATUSES = (REPRODUCED, PARTLY, NOT_REPRODUCED, UNTESTED)


class MissingKey(KeyError):
    """An artifact lacks a key a check needs; the claim is then untested, with the key named."""

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
    status: str  # starts with one of STATUSES; "untested here" may carry a reason in parentheses
    artifact: str | None

    @property
    def kind(self) -> str:
        """The bare status (without the reason an untested row carries)."""
        return next(s for s in STATUSES if self.status.startswith(s))


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
    paper's K), partly when a family is at 0 only for a smaller K, not reproduced when none is at 0."""
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
        return Result(ours, NOT_REPRODUCED)
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
) -> Result:
    """A rate that the claim says stays low (a stall, a failure to transfer): reproduced when
    value <= `reproduced`, partly when <= `partly`, else not reproduced. `extra` keys are shown too."""
    value = _number(data, key)
    ours = f"{label or key_name(key)} {_pct(value)}" + _extras(data, extra)
    if value <= reproduced:
        return Result(ours, REPRODUCED)
    if partly is not None and value <= partly:
        return Result(ours, PARTLY)
    return Result(ours, NOT_REPRODUCED)


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
    return Result(ours, NOT_REPRODUCED)


def saturates_without_full_pass(
    data: Any,
    *,
    dense_key: Key,
    full_key: Key,
    min_dense: float = 0.3,
    max_full: float = 0.01,
    partly_full: float = 0.1,
) -> Result:
    """C3: the per-test (dense) score rises to a plateau while the full-pass rate stays about 0.
    Reproduced: dense >= min_dense and full-pass <= max_full; partly: full-pass <= partly_full with the
    dense score up, or full-pass <= max_full with the dense score below min_dense; else not reproduced."""
    dense, full = _number(data, dense_key), _number(data, full_key)
    ours = f"per-test score {dense:.2f}, full-pass {_pct(full)}"
    if full <= max_full and dense >= min_dense:
        return Result(ours, REPRODUCED)
    if (full <= partly_full and dense >= min_dense) or full <= max_full:
        return Result(ours, PARTLY)
    return Result(ours, NOT_REPRODUCED)


def plateau_then_jump(
    data: Any,
    *,
    final_key: Key,
    first_10_key: Key,
    first_50_key: Key | None = None,
    switch_key: Key | None = None,
    high: float = 0.9,
    partly: float = 0.5,
) -> Result:
    """C4: after the switch to binary the full-pass rate sits near 0, then jumps to about 100%.
    The step keys may hold one value or, through a `*` in the path, one per seed (None: never).
    Reproduced: the final rate >= `high` and in most seeds the rate crossed 10% after the switch (a
    plateau, possibly short); partly: the final rate >= `partly`, or some seed crossed 10%; else not."""
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
    return Result(ours, NOT_REPRODUCED)


def jump_in_other_runs(
    data: Any,
    *,
    runs_key: Key = "runs",
    final_key: Key = "final_full_pass",
    high: float = 0.5,
    min_runs: int = 2,
    where: Mapping[str, Any] | None = None,
) -> Result:
    """C5: the jump also happens for other models and families. Each run is a dict with `model`,
    `family` and `final_key` (runs whose value is null are left out); `where` keeps only the runs whose
    fields equal its values (e.g. {arm: dense_then_binary}). Reproduced: >= min_runs distinct
    (model, family) pairs reach `high`; partly: one does; else not reproduced."""
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
    return Result(ours, PARTLY if jumped else NOT_REPRODUCED)


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
    return Result(ours, PARTLY if earlier or slower else NOT_REPRODUCED)


def decreasing(data: Any, *, key: Key, order: Sequence[str]) -> Result:
    """C12: a rate shrinks along `order` (tiers ID -> HARD). Reproduced: non-increasing and first > last;
    partly: first > last but not monotone; else not reproduced."""
    values = [_number(data, join(key, tier)) for tier in order]
    ours = ", ".join(f"{tier} {_pct(v)}" for tier, v in zip(order, values, strict=True))
    monotone = all(a >= b for a, b in itertools.pairwise(values))
    if values[0] > values[-1] and monotone:
        return Result(ours, REPRODUCED)
    return Result(ours, PARTLY if values[0] > values[-1] else NOT_REPRODUCED)


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
    `reproduced`; partly: after - before >= `partly`; else not reproduced."""
    before, after = _number(data, before_key), _number(data, after_key)
    ours = f"{_pct(before)} before RL, {_pct(after)} after"
    if before <= max_before and after >= reproduced:
        return Result(ours, REPRODUCED)
    return Result(ours, PARTLY if after - before >= partly else NOT_REPRODUCED)


def gain_interval(
    data: Any,
    *,
    key: Key,
    expect: str,
    strong: float | None = None,
    margin: float = 0.0,
    caveat: str = "",
    refute_below: float | None = None,
    before: str = "before_pass1",
    after: str = "after_pass1",
    low: str = "ci_low",
    high: str = "ci_high",
) -> Result:
    """C12-C14 from a before/after comparison with a confidence interval of the gain (low, high).
    expect="up" (transfer happens): reproduced when low > margin (and after >= `strong` if given; else
    partly), not reproduced when high < -margin. expect="none" (no transfer): reproduced when
    high < margin, not reproduced when low > margin. An interval across the line cannot decide:
    untested here. `caveat`: what the measurement leaves out; it caps a reproduced status at partly.
    `refute_below` (expect="up"): not reproduced as soon as the interval rules out a gain of this size
    (high < refute_below), the rule chapter 5 uses for "refuted"."""
    b, a = _number(data, join(key, before)), _number(data, join(key, after))
    lo, hi = _number(data, join(key, low)), _number(data, join(key, high))
    ours = f"pass@1 {_pct(b)} before RL, {_pct(a)} after; gain 95% CI [{lo:+.2f}, {hi:+.2f}]"
    if caveat:
        ours += f" ({caveat})"
    if expect == "up":
        if lo > margin:
            status = REPRODUCED if strong is None or a >= strong else PARTLY
        elif hi < (-margin if refute_below is None else refute_below):
            status = NOT_REPRODUCED
        else:
            return Result(ours, UNTESTED + " (the interval includes no gain: undecided at this scale)")
    elif expect == "none":
        if hi < margin:
            status = REPRODUCED
        elif lo > margin:
            status = NOT_REPRODUCED
        else:
            return Result(ours, UNTESTED + " (the interval is too wide to decide)")
    else:
        raise ValueError(f"expect={expect!r}: 'up' or 'none'")
    return Result(ours, PARTLY if status == REPRODUCED and caveat else status)


def collapse(data: Any, *, converged_key: Key, collapse_key: Key, last_step_key: Key | None = None) -> Result:
    """C15: training on past convergence collapses. `converged_key` is the step the run converged
    (null: never, so the claim is untested), `collapse_key` the step of a sudden drop (null: none)."""
    converged = get(data, converged_key)
    if converged is None:
        return Result("the run never converged", UNTESTED + " (the run never converged)")
    dropped = get(data, collapse_key)
    if dropped is not None:
        return Result(f"converged at step {int(converged)}, collapsed at step {int(dropped)}", REPRODUCED)
    last = _optional(data, last_step_key)
    tail = f", trained to step {int(last)}" if last is not None else ""
    return Result(f"converged at step {int(converged)}{tail}, no collapse", NOT_REPRODUCED)


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
    ended `drop` or more below its best collapsed. No run converged: untested; converged runs that all
    held: not reproduced (within the steps they were trained); one collapse: reproduced."""
    runs = get(data, runs_key)
    if not isinstance(runs, list) or not runs:
        raise MissingKey(f"{key_name(runs_key)} (a non-empty list)")
    pairs = [(_number(r, best_key), _number(r, final_key)) for r in runs]
    done = [(b, f) for b, f in pairs if b >= converged]
    if not done:
        best = max(b for b, _ in pairs)
        return Result(
            f"no run reached {_pct(converged)} (best {_pct(best)})", UNTESTED + " (no run converged)"
        )
    fell = [(b, f) for b, f in done if f <= b - drop]
    ours = f"{len(done)} of {len(runs)} runs reached {_pct(converged)}; {len(fell)} ended {_pct(drop)} or more below their best"
    if fell:
        ours += " (" + ", ".join(f"{_pct(b)} → {_pct(f)}" for b, f in fell) + ")"
    return Result(ours, REPRODUCED if fell else NOT_REPRODUCED)


CHECKS: dict[str, Callable[..., Result]] = {
    f.__name__: f
    for f in (
        pass_at_k_zero,
        at_most,
        at_least,
        saturates_without_full_pass,
        plateau_then_jump,
        jump_in_other_runs,
        earlier_but_slower,
        decreasing,
        improves,
        gain_interval,
        collapse,
        collapse_from_runs,
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
    """One claim's row. Never raises for a missing or incomplete artifact: the row says what is missing."""
    artifact = claim.get("artifact")
    base = dict(
        id=str(claim["id"]),
        claim=claim["claim"].strip(),
        paper=str(claim["paper"]).strip(),
        artifact=artifact,
    )
    if not artifact:
        reason = claim.get("reason", "not attempted")
        return Row(**base, ours="—", status=f"{UNTESTED} ({reason})")
    path = Path(root) / artifact
    if not path.is_file():
        return Row(**base, ours="—", status=f"{UNTESTED} (no artifact: {artifact})")
    try:
        data = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as e:
        return Row(
            **base, ours="—", status=f"{UNTESTED} (unreadable artifact {artifact}: {e.__class__.__name__})"
        )
    try:
        result = CHECKS[claim["check"]](data, **(claim.get("params") or {}))
    except MissingKey as e:
        return Row(**base, ours="—", status=f"{UNTESTED} (missing key '{e.key}' in {artifact})")
    if not result.status.startswith(STATUSES):
        raise ValueError(f"claim {claim['id']}: check returned unknown status {result.status!r}")
    return Row(**base, ours=result.ours, status=result.status)


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
    """The same table as HTML (what the book shows: notebook Markdown output is not parsed for tables)."""
    # <wbr> after each "/" lets a long artifact path wrap instead of widening the table
    esc = lambda text: html.escape(" ".join(str(text).split())).replace("/", "/<wbr>")
    head = "".join(f"<th>{h}</th>" for h in ("", "claim", "paper's number", "ours", "status"))
    body = []
    for r in rows:
        status = f"<strong>{esc(r.status)}</strong>" if r.kind == REPRODUCED else esc(r.status)
        cls = r.kind.replace(" ", "-")
        body.append(
            f'<tr class="fidelity-{cls}"><td>{esc(r.id)}</td><td>{esc(r.claim)}</td><td>{esc(r.paper)}</td>'
            f"<td>{esc(r.ours)}</td><td>{status}</td></tr>"
        )
    return (
        f'<table class="table fidelity"><thead><tr>{head}</tr></thead><tbody>{"".join(body)}</tbody></table>'
    )


def status_counts(rows: Sequence[Row]) -> dict[str, int]:
    """How many rows have each status."""
    return {s: sum(r.kind == s for r in rows) for s in STATUSES}
