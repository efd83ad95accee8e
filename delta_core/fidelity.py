"""Scientific fidelity: the paper's claims (C1-C15) against the artifacts this project saved.

`book/claims.yaml` lists each claim with the paper's number, the artifact (a JSON file under
`book/results/`) and a *check*: the name of one of the functions in `CHECKS` below plus its parameters
(the key paths to read, thresholds). A check reads the artifact and returns what we measured ("ours")
and a status, one of

    reproduced · partly · not reproduced · untested here

so the claims table of the book (notebooks/07_fidelity.ipynb) is computed at build time, never typed.
A missing artifact gives "untested here (no artifact: <path>)", a missing key "untested here (missing
key '<key>' in <path>)": the table can be built before every experiment has run.

    from delta_core.fidelity import evaluate_claims, to_markdown
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


def get(data: Any, key: str) -> Any:
    """The value at a dotted key path (`arms.binary.final_heldout_full_pass`; list items by index).
    Raises MissingKey naming the whole path when any part is absent."""
    node = data
    for part in key.split("."):
        if isinstance(node, Mapping) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.lstrip("-").isdigit() and -len(node) <= int(part) < len(node):
            node = node[int(part)]
        else:
            raise MissingKey(key)
    return node


def _number(data: Any, key: str) -> float:
    value = get(data, key)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise MissingKey(f"{key} (a number, found {value!r})")
    return float(value)


def _optional(data: Any, key: str) -> Any:
    """The value at `key`, or None when it is absent (for steps that may legitimately never happen)."""
    try:
        return get(data, key)
    except MissingKey:
        return None


def _pct(x: float) -> str:
    return f"{100 * x:.1f}%" if 0 < abs(x) < 0.1 else f"{100 * x:.0f}%"


def _step(x: Any) -> str:
    return "never" if x is None else f"step {int(x)}"


# --- the checks -------------------------------------------------------------------------------------
# Each takes the artifact's parsed JSON and the claim's `params`, returns a Result, and raises MissingKey
# when a key is absent. Thresholds are parameters so that claims.yaml states them next to the claim.


def pass_at_k_zero(
    data: Any, *, min_k: int = 128, by: str = "pass_at_k_by_family", name: str = "family"
) -> Result:
    """C1: some family has pass@K = 0, K the largest k measured. Reproduced when K >= min_k (the
    paper's K), partly when a family is at 0 only for a smaller K, not reproduced when none is at 0."""
    rows = get(data, by)
    if not isinstance(rows, list) or not rows:
        raise MissingKey(f"{by} (a non-empty list)")
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


def at_most(
    data: Any,
    *,
    key: str,
    reproduced: float,
    partly: float | None = None,
    label: str = "",
    extra: Sequence[str] = (),
) -> Result:
    """A rate that the claim says stays low (a stall, a failure to transfer): reproduced when
    value <= `reproduced`, partly when <= `partly`, else not reproduced. `extra` keys are shown too."""
    value = _number(data, key)
    ours = f"{label or key} {_pct(value)}"
    for k in extra:
        v = _optional(data, k)
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            ours += f"; {k.split('.')[-1]} {_pct(v) if abs(v) <= 1 else v}"
    if value <= reproduced:
        return Result(ours, REPRODUCED)
    if partly is not None and value <= partly:
        return Result(ours, PARTLY)
    return Result(ours, NOT_REPRODUCED)


def at_least(
    data: Any, *, key: str, reproduced: float, partly: float | None = None, label: str = ""
) -> Result:
    """A rate that the claim says gets high: reproduced when value >= `reproduced`, partly when >= `partly`."""
    value = _number(data, key)
    ours = f"{label or key} {_pct(value)}"
    if value >= reproduced:
        return Result(ours, REPRODUCED)
    if partly is not None and value >= partly:
        return Result(ours, PARTLY)
    return Result(ours, NOT_REPRODUCED)


def saturates_without_full_pass(
    data: Any,
    *,
    dense_key: str,
    full_key: str,
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
    final_key: str,
    first_10_key: str,
    first_50_key: str,
    switch_key: str | None = None,
    high: float = 0.9,
    partly: float = 0.5,
) -> Result:
    """C4: after the switch to binary the full-pass rate sits near 0, then jumps to about 100%.
    Reproduced: the final rate >= `high` and the rate crossed 10% after the switch (a plateau, possibly
    short); partly: the final rate >= `partly`, or the rate crossed 10% but ended lower; else not."""
    final = _number(data, final_key)
    s10, s50 = _optional(data, first_10_key), _optional(data, first_50_key)
    switch = _optional(data, switch_key) if switch_key else None
    ours = f"final full-pass {_pct(final)}; 10% at {_step(s10)}, 50% at {_step(s50)}"
    if switch is not None:
        ours += f" (switch at step {int(switch)})"
        if s10 is not None:
            ours += f"; plateau {int(s10) - int(switch)} steps"
    plateau = s10 is not None and (switch is None or int(s10) > int(switch))
    if final >= high and plateau:
        return Result(ours, REPRODUCED)
    if final >= partly or s10 is not None:
        return Result(ours, PARTLY)
    return Result(ours, NOT_REPRODUCED)


def jump_in_other_runs(
    data: Any,
    *,
    runs_key: str = "runs",
    final_key: str = "final_full_pass",
    high: float = 0.5,
    min_runs: int = 2,
) -> Result:
    """C5: the jump also happens for other models and families. Each run is a dict with `model`,
    `family` and `final_key`. Reproduced: >= min_runs runs reach `high`; partly: one does."""
    runs = get(data, runs_key)
    if not isinstance(runs, list) or not runs:
        raise MissingKey(f"{runs_key} (a non-empty list)")
    jumped = []
    for i, run in enumerate(runs):
        if _number(run, final_key) >= high:
            jumped.append(f"{run.get('model', f'run {i}')} on {run.get('family', '?')}")
    ours = f"{len(jumped)} of {len(runs)} runs reach {_pct(high)} full-pass" + (
        f": {', '.join(jumped)}" if jumped else ""
    )
    if len(jumped) >= min_runs:
        return Result(ours, REPRODUCED)
    return Result(ours, PARTLY if jumped else NOT_REPRODUCED)


def earlier_but_slower(
    data: Any, *, base: str, variant: str, early_key: str = "step_first_10", late_key: str = "step_first_90"
) -> Result:
    """C6 (and C7): a variant arm groks earlier (reaches the early threshold first) but converges more
    slowly (reaches the late threshold later or never). Both halves: reproduced; one: partly."""
    b_early, v_early = _optional(data, f"{base}.{early_key}"), _optional(data, f"{variant}.{early_key}")
    b_late, v_late = _optional(data, f"{base}.{late_key}"), _optional(data, f"{variant}.{late_key}")
    get(data, variant)  # the variant arm itself must exist
    get(data, base)
    inf = float("inf")
    as_num = lambda s: inf if s is None else float(s)
    earlier = as_num(v_early) < as_num(b_early)
    slower = as_num(v_late) > as_num(b_late)
    ours = (
        f"{early_key}: {_step(v_early)} vs {_step(b_early)}; {late_key}: {_step(v_late)} vs {_step(b_late)}"
        f" ({variant.split('.')[-1]} vs {base.split('.')[-1]})"
    )
    if earlier and slower:
        return Result(ours, REPRODUCED)
    return Result(ours, PARTLY if earlier or slower else NOT_REPRODUCED)


def decreasing(data: Any, *, key: str, order: Sequence[str]) -> Result:
    """C12: a rate shrinks along `order` (tiers ID -> HARD). Reproduced: non-increasing and first > last;
    partly: first > last but not monotone; else not reproduced."""
    values = [_number(data, f"{key}.{tier}") for tier in order]
    ours = ", ".join(f"{tier} {_pct(v)}" for tier, v in zip(order, values))
    monotone = all(a >= b for a, b in itertools.pairwise(values))
    if values[0] > values[-1] and monotone:
        return Result(ours, REPRODUCED)
    return Result(ours, PARTLY if values[0] > values[-1] else NOT_REPRODUCED)


def improves(
    data: Any,
    *,
    before_key: str,
    after_key: str,
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


def collapse(data: Any, *, converged_key: str, collapse_key: str, last_step_key: str | None = None) -> Result:
    """C15: training on past convergence collapses. `converged_key` is the step the run converged
    (null: never, so the claim is untested), `collapse_key` the step of a sudden drop (null: none)."""
    converged = get(data, converged_key)
    if converged is None:
        return Result(
            "the run never converged, so nothing could collapse", UNTESTED + " (the run never converged)"
        )
    dropped = get(data, collapse_key)
    if dropped is not None:
        return Result(f"converged at step {int(converged)}, collapsed at step {int(dropped)}", REPRODUCED)
    last = _optional(data, last_step_key) if last_step_key else None
    tail = f", trained to step {int(last)}" if last is not None else ""
    return Result(f"converged at step {int(converged)}{tail}, no collapse", NOT_REPRODUCED)


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
        collapse,
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
