"""Constructive solutions for the three numerical families of the task generator (spec A.2.2, items 9-11).

Each builder returns Manufactoria DSL text (spec A.1) that solves one generated problem:

- `numerical_comparison_solution(op, k)`: accept iff value(tape) op k, op in `> >= < <= =`, k in [1, 256].
- `numerical_max_min_solution(op, k)`: output canonical max(x, k) / min(x, k), op in `max min`.
- `numerical_operations_solution(op, k)`: output canonical x+k, x-k (<= 0 -> ""), x AND/OR/XOR k, NOT x
  (within max(8, bit_length(x)) bits), x // 2**k.

Numbers are read MSB-first, B = 1, R = 0, "" = 0, leading R's allowed; outputs are canonical (no leading
R, 0 -> ""). `reference_comparison`, `reference_max_min` and `reference_operation` are the same
semantics in plain Python (tests/test_numeric_solutions.py checks the programs against them).

How the programs are made. Every solution is a finite-state machine over *abstract states* (Python
tuples). A `delta(state)` function says which puller the state is (PULLER_RB or PULLER_YG) and, for
each outcome (R/B/Y/G/EMPTY), an *action*: a string of colours to paint, then the next state (`ACCEPT`
= `end`, `None` = no route, i.e. reject). `_emit_program` explores the reachable states breadth-first
and writes one puller per state (ids s0, s1, ...) plus shared painter chains (p0, p1, ...). Three
tricks do all the work:

1. **Values that stop mattering.** A comparison only needs v = value-so-far while v <= k; past that the
   value only grows (v' = 2v + b), so one absorbing state "above k" suffices.
2. **End marker.** A transducer that paints while it reads paints G first: the painted output lands
   behind the G, and PULLER_RB meeting the G takes its EMPTY route without consuming, so the machine
   knows the input ended; PULLER_YG then removes the G and the tape holds only the output.
3. **Delay window.** Holding the last w bits in the state (painting a bit only when it leaves the
   window) lets the machine change the last w bits at the end: floor division drops them, and/or/xor
   combine them with k, NOT waits 8 bits to learn whether bit_length(x) > 8.

add and subtract also need carries (borrows) that run into the unbounded high part H (all bits of x
above the low 8). After the first pass the tape is `H`, and if a carry arrives it becomes
`H Y low G`; then *increment passes* rotate the tape once each: a pass copies H with an 8-bit delay
window, and at Y it either increments the window (it holds a 0: done, copy the rest and stop at G) or,
when the window is all ones, writes `Y` + eight R's (those ones become zeros, below what is still to be
incremented) and starts another pass. So a pass clears 8 trailing ones; the last-zero search that a
queue cannot do in one pass (it needs to know the future) is done by repetition. Decrement is the mirror
image (trailing zeros become ones, and a result starting with R is stripped to stay canonical).

Path cost (spec A.1: 1000 entries, `start` and the terminal included), measured over every input of
length <= 20 and every k of the task space (tests/test_numeric_solutions.py): comparison n + 4 (24),
max 45, min 32, and 31, or/xor 45, not 44, floor_div 44, add 138 (B*20), subtract 136 (B R^19).
One-pass machines spend at most about 2 entries per input bit, so they fit inputs of ~490 bits. add and
subtract spend about 2n + (2n + 8) per pass, one pass per 8 trailing ones (add) / zeros (subtract) of H,
so their cost grows quadratically: every input of length <= 59 fits (worst found by search over the
extreme inputs and their mutations: 992 entries for add, B*59; 991 for subtract), while B*60 (add, 1008)
and B R^59 (subtract, 1006) exceed the budget and are rejected with "Maximum iterations exceeded".
Only inputs of length >= 60 whose high part ends in a long run of ones (add, with a carry out of the
low 8 bits) or zeros (subtract, with a borrow) are affected; the generator's inputs have <= 20 bits.
Inputs may contain only R and B, except for the comparison acceptor, which also reads Y/G as 0 like the
reference predicate.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Hashable

__all__ = [
    "COMPARISON_OPS",
    "MAX_MIN_OPS",
    "OPERATIONS",
    "OPERAND_VALUES",
    "SHIFT_POWERS",
    "THRESHOLDS",
    "numerical_comparison_solution",
    "numerical_max_min_solution",
    "numerical_operations_solution",
    "reference_comparison",
    "reference_max_min",
    "reference_operation",
    "tape_value",
    "canonical",
]

COMPARISON_OPS = (">", ">=", "<", "<=", "=")
MAX_MIN_OPS = ("max", "min")
OPERATIONS = ("add", "subtract", "and", "or", "xor", "not", "floor_div")
THRESHOLDS = range(1, 257)  # numerical_thresholds and the max/min operand range: [1, 256]
OPERAND_VALUES = (1, 2, 4, 8, 16, 32, 64, 128, 3, 5, 7, 15, 31, 63, 127)
SHIFT_POWERS = range(1, 8)  # floor_div by 2**k, k = 1..max_shift_power

# ------------------------------------------------------------------------------------------------
# Reference semantics (spec A.2.2)


def tape_value(tape: str) -> int:
    """MSB-first, B = 1, anything else 0; "" = 0."""
    value = 0
    for colour in tape:
        value = 2 * value + (colour == "B")
    return value


def canonical(value: int) -> str:
    """Canonical binary tape: no leading R, 0 -> ""."""
    return bin(value)[2:].replace("1", "B").replace("0", "R") if value > 0 else ""


def _fixed(value: int, width: int) -> str:
    """`value` as exactly `width` bits (leading R's kept)."""
    return format(value, f"0{width}b").replace("1", "B").replace("0", "R") if width else ""


def reference_comparison(op: str, k: int, tape: str) -> bool:
    x = tape_value(tape)
    return {">": x > k, ">=": x >= k, "<": x < k, "<=": x <= k, "=": x == k}[op]


def reference_max_min(op: str, k: int, tape: str) -> str:
    x = tape_value(tape)
    return canonical(max(x, k) if op == "max" else min(x, k))


def reference_operation(op: str, k: int, tape: str) -> str:
    x = tape_value(tape)
    if op == "add":
        return canonical(x + k)
    if op == "subtract":
        return canonical(max(x - k, 0))
    if op == "and":
        return canonical(x & k)
    if op == "or":
        return canonical(x | k)
    if op == "xor":
        return canonical(x ^ k)
    if op == "not":
        return canonical(x ^ ((1 << max(8, x.bit_length())) - 1))
    if op == "floor_div":
        return canonical(x >> k)
    raise ValueError(f"unknown operation {op!r}")


# ------------------------------------------------------------------------------------------------
# The program writer: abstract states -> DSL text

ACCEPT = "<accept>"  # next state meaning "go to end"
Action = tuple[str, Hashable]  # (colours to paint, next state | ACCEPT | None for reject)
Delta = Callable[[Hashable], tuple[str, dict[str, Action]]]

_PAINTER = {"R": "PAINTER_RED", "B": "PAINTER_BLUE", "Y": "PAINTER_YELLOW", "G": "PAINTER_GREEN"}
_CONDITIONS = {"RB": ("R", "B", "EMPTY"), "YG": ("Y", "G", "EMPTY")}


def _emit_program(first: Action, delta: Delta, title: str, annotate: bool = False) -> str:
    """DSL text for the machine that starts with action `first` and moves by `delta`.

    `delta(state)` returns `("RB" | "YG", {condition: action})`; a missing condition (or an action whose
    next state is None) has no route, so the robot is rejected there. Painters are shared: the painter
    of colour c that goes on to node t is built once per (c, t), so painter chains with a common tail
    (same colours, same destination) share it. With `annotate`, each puller gets a comment naming its abstract state.
    """
    state_ids: dict[Hashable, str] = {}
    painter_ids: dict[tuple[str, str], str] = {}
    todo: deque[Hashable] = deque()
    out: list[str] = [f"# {title}", "# generated by delta_core.tasks.numeric_solutions"]

    def state_node(state: Hashable) -> str:
        if state not in state_ids:
            state_ids[state] = f"s{len(state_ids)}"
            todo.append(state)
        return state_ids[state]

    def action_node(action: Action) -> str | None:
        paint, nxt = action
        if nxt is None:
            return None  # reject: leave the route out (-> NONE); painting first would change nothing
        target = "end" if nxt == ACCEPT else state_node(nxt)
        for i in range(len(paint) - 1, -1, -1):  # build the chain back to front: suffixes are shared
            key = (paint[i], target)
            if key not in painter_ids:
                painter_ids[key] = f"p{len(painter_ids)}"
                out.append(f"{_PAINTER[paint[i]]} {painter_ids[key]}:\n    NEXT {target}")
            target = painter_ids[key]
        return target

    first_target = action_node(first)  # may append painters; START goes above them, for readability
    out.insert(2, f"START start:\n    NEXT {first_target}")
    while todo:
        state = todo.popleft()
        kind, actions = delta(state)
        routes = []
        for condition in _CONDITIONS[kind]:
            if condition in actions:
                target = action_node(actions[condition])
                if target is not None:
                    routes.append(f"    [{condition}] {target}")
        header = f"PULLER_{kind} {state_ids[state]}:"
        if annotate:
            header += f"  # {state!r}"
        out.append("\n".join([header, *routes]))
    out.append("END end")
    return "\n".join(out) + "\n"


def _check_threshold(k: int) -> None:
    # The generator uses [1, 256]; any k >= 0 works (about k + 2 states), capped to keep programs small.
    if not isinstance(k, int) or not 0 <= k <= 4096:
        raise ValueError(f"k must be an int in [0, 4096] (the tasks use 1..256), got {k!r}")


def _push(window: str, bit: str, width: int) -> tuple[str, str]:
    """Append `bit` to a delay window of `width` bits: (bit that falls out and gets painted, new window)."""
    window += bit
    if len(window) > width:
        return window[0], window[1:]
    return "", window


def _value(bits: str) -> int:
    return int(bits.replace("B", "1").replace("R", "0"), 2) if bits else 0


# ------------------------------------------------------------------------------------------------
# 1. numerical_comparison (acceptor)


def numerical_comparison_solution(op: str, k: int, annotate: bool = False) -> str:
    """Accept iff value(tape) `op` k. States: exact value v while v <= k, then one absorbing "above k".

    Y/G (which count as 0 in the reference) are handled too: PULLER_RB sends them to EMPTY, where a
    PULLER_YG either consumes them as a 0 bit or finds the tape really empty and decides.
    """
    if op not in COMPARISON_OPS:
        raise ValueError(f"op must be one of {COMPARISON_OPS}, got {op!r}")
    _check_threshold(k)
    decide = {">": lambda v: v > k, ">=": lambda v: v >= k, "<": lambda v: v < k,
              "<=": lambda v: v <= k, "=": lambda v: v == k}[op]
    above_accepts = op in (">", ">=")  # every value above k: accept for >/>=, reject for </<=/=

    def step(v: int, bit: int) -> Action:
        w = 2 * v + bit
        if w <= k:
            return "", ("v", w)
        return "", (ACCEPT if above_accepts else None)  # decided for good: stop reading

    def delta(state):
        tag, v = state
        if tag == "v":  # reading bits, value so far v <= k
            return "RB", {"R": step(v, 0), "B": step(v, 1), "EMPTY": ("", ("yg", v))}
        # tag == "yg": front is Y/G (a 0 bit) or the tape is empty (decide)
        return "YG", {"Y": step(v, 0), "G": step(v, 0), "EMPTY": ("", ACCEPT if decide(v) else None)}

    return _emit_program(("", ("v", 0)), delta, f"numerical_comparison: accept iff x {op} {k}", annotate)


# ------------------------------------------------------------------------------------------------
# 2. numerical_max_min (transducer)


def numerical_max_min_solution(op: str, k: int, annotate: bool = False) -> str:
    """Output canonical max(x, k) or min(x, k).

    While the value v read so far is <= k it is known exactly (leading R's keep v = 0), so the output
    can be painted from the state at the end. min: once v > k the answer is k; drain the rest. max: once
    v > k the answer is x itself; paint v's bits and copy the remaining bits, behind a G end marker
    painted first (PULLER_RB meets the G as EMPTY, PULLER_YG removes it).
    """
    if op not in MAX_MIN_OPS:
        raise ValueError(f"op must be one of {MAX_MIN_OPS}, got {op!r}")
    _check_threshold(k)

    if op == "min":
        def step(v: int, bit: int) -> Action:
            w = 2 * v + bit
            return "", (("v", w) if w <= k else ("above",))

        def delta(state):
            if state[0] == "v":
                v = state[1]
                return "RB", {"R": step(v, 0), "B": step(v, 1), "EMPTY": (canonical(v), ACCEPT)}
            return "RB", {"R": ("", state), "B": ("", state), "EMPTY": (canonical(k), ACCEPT)}

        return _emit_program(("", ("v", 0)), delta, f"numerical_max_min: output min(x, {k})", annotate)

    def step(v: int, bit: int) -> Action:
        w = 2 * v + bit
        return ("", ("v", w)) if w <= k else (canonical(w), ("copy",))

    def delta(state):
        tag = state[0]
        if tag == "v":  # exact value v <= k so far, nothing painted yet
            v = state[1]
            return "RB", {"R": step(v, 0), "B": step(v, 1), "EMPTY": ("", ("v_end", v))}
        if tag == "v_end":  # G at the front: remove it, paint max(v, k) = k
            return "YG", {"G": (canonical(max(state[1], k)), ACCEPT)}
        if tag == "copy":  # x > k: copy the remaining bits behind the marker
            return "RB", {"R": ("R", state), "B": ("B", state), "EMPTY": ("", ("copy_end",))}
        return "YG", {"G": ("", ACCEPT)}  # copy_end: the tape is now exactly x

    return _emit_program(("G", ("v", 0)), delta, f"numerical_max_min: output max(x, {k})", annotate)


# ------------------------------------------------------------------------------------------------
# 3. numerical_operations (transducer)

LOW = 8  # add/subtract keep the low 8 bits of x in the state (k <= 128 < 2**8)
PASS_WINDOW = 8  # an increment/decrement pass clears up to this many trailing ones/zeros of H


def numerical_operations_solution(op: str, k: int | None = None, annotate: bool = False) -> str:
    """Output canonical `op`(x, k); see the module docstring. k is ignored for `not`; for `floor_div`
    it is the shift power (divide by 2**k, k in 1..7); otherwise it is the operand (1..128)."""
    if op not in OPERATIONS:
        raise ValueError(f"op must be one of {OPERATIONS}, got {op!r}")
    if op == "floor_div":
        if not isinstance(k, int) or not 1 <= k <= 10:  # the window has 2**k states
            raise ValueError(f"floor_div needs a shift power k in [1, 10], got {k!r}")
    elif op != "not" and (not isinstance(k, int) or not 1 <= k <= 255):  # add/subtract: k < 2**LOW
        raise ValueError(f"{op} needs an operand k in [1, 255], got {k!r}")
    title = f"numerical_operations: {op}" + ("" if op == "not" else f" {k}")
    if op == "and":
        return _and_program(k, title, annotate)
    if op == "not":
        return _not_program(title, annotate)
    return _windowed_program(op, k, title, annotate)


def _and_program(k: int, title: str, annotate: bool) -> str:
    """x AND k depends only on x mod 2**L (L = bit_length(k)): track that, paint the result at EMPTY.
    Nothing is painted while reading, so no end marker is needed."""
    modulus = 1 << k.bit_length()

    def delta(state):
        v = state[1]
        return "RB", {"R": ("", ("v", (2 * v) % modulus)), "B": ("", ("v", (2 * v + 1) % modulus)),
                      "EMPTY": (canonical(v & k), ACCEPT)}

    return _emit_program(("", ("v", 0)), delta, title, annotate)


def _not_program(title: str, annotate: bool) -> str:
    """NOT within max(8, bit_length(x)) bits.

    Buffer the first 8 significant bits (leading R's skipped). If the input ends first, bit_length <= 8
    and the answer 255 - x is painted from the state. A 9th significant bit means bit_length > 8: the
    answer is the complement of every bit, with the complement's leading R's (x's leading B's) dropped;
    from then on bits are complemented on the fly ("strip" until x shows its first R, then "flip").
    """

    def through_strip(bits: str) -> Action:
        kept = bits.lstrip("B")  # x's leading ones become leading zeros of the complement: drop them
        flipped = kept.translate(str.maketrans("RB", "BR"))
        return flipped, (("flip",) if flipped else ("strip",))

    def read(window: str, bit: str) -> Action:
        if not window and bit == "R":
            return "", ("read", "")  # leading R: not significant
        if len(window) == 8:
            return through_strip(window + bit)
        return "", ("read", window + bit)

    def delta(state):
        tag = state[0]
        if tag == "read":
            w = state[1]
            return "RB", {"R": read(w, "R"), "B": read(w, "B"), "EMPTY": ("", ("read_end", w))}
        if tag == "read_end":
            return "YG", {"G": (canonical(255 - _value(state[1])), ACCEPT)}
        if tag == "strip":
            return "RB", {"R": ("B", ("flip",)), "B": ("", state), "EMPTY": ("", ("done",))}
        if tag == "flip":
            return "RB", {"R": ("B", state), "B": ("R", state), "EMPTY": ("", ("done",))}
        return "YG", {"G": ("", ACCEPT)}  # done: remove the end marker

    return _emit_program(("G", ("read", "")), delta, title, annotate)


def _windowed_program(op: str, k: int, title: str, annotate: bool) -> str:
    """floor_div, or, xor, add, subtract: one reading pass with a delay window, then (add/subtract
    only, when a carry/borrow leaves the low bits) increment/decrement passes.

    Reading pass, state ("read", window, has_high): leading R's are skipped; every significant bit
    enters the window; a bit pushed out of a full window is painted behind the G marker (it is part of
    the high part H, which these ops copy unchanged, unless a carry arrives). has_high says whether
    anything was pushed out, i.e. whether H is non-empty (then the window is full).
    """
    if op == "floor_div":
        width = k  # the last k bits are dropped
    elif op in ("or", "xor"):
        width = k.bit_length()  # only the last L bits change
    else:
        width = LOW

    def read(window: str, has_high: bool, bit: str) -> Action:
        if not window and bit == "R" and not has_high:
            return "", ("read", "", False)  # leading R
        painted, window = _push(window, bit, width)
        return painted, ("read", window, has_high or bool(painted))

    def finish(window: str, has_high: bool) -> Action:
        """The G marker was just removed; the tape is H (empty unless has_high)."""
        w = _value(window)
        if op == "floor_div":
            return "", ACCEPT  # the window is the k dropped bits
        if op in ("or", "xor"):
            low = w | k if op == "or" else w ^ k
            return (_fixed(low, width) if has_high else canonical(low)), ACCEPT
        if not has_high:  # x = w exactly
            return canonical(max(w + k, 0) if op == "add" else max(w - k, 0)), ACCEPT
        low = w + k if op == "add" else w - k
        if 0 <= low < (1 << width):
            return _fixed(low, width), ACCEPT  # no carry/borrow into H
        # Carry (borrow) into H: lay out `H Y low G` and start the passes on H.
        low %= 1 << width
        return "Y" + _fixed(low, width) + "G", ("pass", "", False)

    def pass_at_y(window: str, has_high: bool) -> Action:
        """Y at the front during an increment (add) / decrement (subtract) pass. The window holds the
        last bits of what is left of H; has_high says whether bits of H were painted before it."""
        add = op == "add"
        if window and (("R" if add else "B") in window):
            # The last 0 (add) / 1 (subtract) of H is in the window: +1 / -1 within it, then copy the rest.
            new = _fixed(_value(window) + (1 if add else -1), len(window))
            if add or has_high:
                return new, ("copy", "final")
            new = new.lstrip("R")  # subtract reaching the top of H: keep the result canonical
            return new, (("copy", "final") if new else ("copy", "strip"))
        if has_high:
            # A full window of 1s (0s): they become 0s (1s) placed just after Y; H shrinks; go again.
            return "Y" + ("R" if add else "B") * len(window), ("copy", "again")
        if add:  # H was all ones: H + 1 = B followed by zeros
            return "B" + "R" * len(window), ("copy", "final")
        return "", None  # unreachable: H is canonical, so it holds a 1

    def delta(state):
        tag = state[0]
        if tag == "read":
            _, w, h = state
            return "RB", {"R": read(w, h, "R"), "B": read(w, h, "B"), "EMPTY": ("", ("read_end", w, h))}
        if tag == "read_end":
            return "YG", {"G": finish(state[1], state[2])}
        if tag == "pass":
            _, w, h = state
            actions = {}
            for bit in "RB":
                painted, w2 = _push(w, bit, PASS_WINDOW)
                actions[bit] = painted, ("pass", w2, h or bool(painted))
            actions["EMPTY"] = "", ("pass_y", w, h)
            return "RB", actions
        if tag == "pass_y":
            return "YG", {"Y": pass_at_y(state[1], state[2])}
        if tag == "copy":  # copy the rest of the tape (R/B) up to the G marker
            mode = state[1]
            if mode == "strip":  # nothing painted yet: drop leading R's
                return "RB", {"R": ("", state), "B": ("B", ("copy", "final")),
                              "EMPTY": ("", ("copy_g", mode))}
            return "RB", {"R": ("R", state), "B": ("B", state), "EMPTY": ("", ("copy_g", mode))}
        if tag == "copy_g":
            if state[1] == "again":
                return "YG", {"G": ("G", ("pass", "", False))}  # keep the marker: next pass
            return "YG", {"G": ("", ACCEPT)}
        raise AssertionError(state)

    return _emit_program(("G", ("read", "", False)), delta, title, annotate)
