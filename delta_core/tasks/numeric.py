"""Numerical families (spec A.2.2, items 9-11): numerical_comparison (acceptor), numerical_max_min and
numerical_operations (transducers).

A tape is a binary number read MSB-first, B = 1, anything else 0, "" = 0; leading R's are allowed.
Transducer outputs are canonical (no leading R, 0 -> ""); subtract results <= 0 give "", NOT
complements within max(8, bit_length) bits. The solutions come from `numeric_solutions`, which
documents how they are built and is verified against the same semantics
(tests/test_numeric_solutions.py). All three are generated two-colour only (levels.py).

The family-specific test inputs follow spec A.2.2b kind by kind, the reference's fixed strings
included, so the test distributions match the authors' (tests/test_task_distributions.py). Inputs
have at most 10 colours (a near-miss tape, `near_miss.py`, can add one of at most 11), well inside
the solutions' path budget (the arithmetic ones fit every input up to 59 colours).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .base import Family, Params, register
from .numeric_solutions import (
    COMPARISON_OPS,
    canonical,
    numerical_comparison_solution,
    numerical_max_min_solution,
    numerical_operations_solution,
    reference_comparison,
    reference_max_min,
    reference_operation,
    tape_value,
)

__all__ = [
    "COMPARISON_WORDS",
    "operation_phrase",
    "NUMERICAL_COMPARISON",
    "NUMERICAL_MAX_MIN",
    "NUMERICAL_OPERATIONS",
]

PREAMBLE = "Treat Blue as 1 and Red as 0."

COMPARISON_WORDS = {
    ">": "greater than",
    ">=": "greater than or equal to",
    "<": "less than",
    "<=": "less than or equal to",
    "=": "equal to",
}

# The reference's fixed strings (spec A.2.2b), with their true values (the authors' comments say
# 356, 90 and 85 for three of them): eight for comparisons with k >= 8, and two more for max/min and
# the operations.
FIXED_LONG = (
    "BRRRRRR",  # 64
    "BRRRRRRR",  # 128
    "BRRRRRRRR",  # 256
    "BRBRBRBR",  # 170
    "RBBRBRRBR",  # 210
    "BRBBBBBB",  # 191
    "RBRBRBRR",  # 84
    "BRBRBR",  # 42
)
FIXED_LONG_10 = (*FIXED_LONG, "BBRBBRBR", "RBBRRBBR")  # + 218, 102

# The basic tapes the numerical families add after the shared prefix.
COMPARISON_BASICS = ("R", "B", "RB", "BR", "RRB", "BBR", "RBRB")
TRANSDUCER_BASICS = ("", "R", "B", "RB", "BR", "RRB", "BBR", "RBRB")


def _binary(value: int) -> str:
    """The comparison generator's binary: MSB-first, 0 -> "R"."""
    return canonical(value) if value > 0 else "R"


def _values(values) -> list[str]:
    """Values deduplicated in order, as canonical tapes (0 -> ""), those above 1023 left out."""
    return [canonical(v) for v in dict.fromkeys(values) if 0 <= v <= 1023]


# --- numerical_comparison ----------------------------------------------------------------------


def _comparison_space(settings: Mapping[str, Any], colours: tuple[str, ...]) -> list[Params]:
    lo, hi = settings["numerical_thresholds"]
    return [{"operator": op, "threshold": k} for op in COMPARISON_OPS for k in range(lo, hi + 1)]


def _comparison_extra(p: Params, colours, rng) -> list[str]:
    """Spec A.2.2b: basics, the threshold's neighbours, far values by operator, the fixed strings."""
    op, k = p["operator"], p["threshold"]
    if op in (">", ">="):
        near = [k, k - 2, k - 1, k + 1, k + 2, 2 * k]
    elif op in ("<", "<="):
        near = [k, max(0, k - 2), max(0, k - 1), k + 1, k + 2]
    else:
        near = [k, max(0, k - 1), k + 1, k - 2, k + 2]
    far = []
    if op in (">", ">="):
        far = [v for v in (4 * k, k + 100, k + 50) if v < 1024]
    elif op in ("<", "<=") and k > 10:
        far = [k // 2, k // 4, max(1, k - 10), max(1, k - 5)]
    inputs = [*COMPARISON_BASICS, *(_binary(v) for v in near + far if v >= 0)]
    if k >= 8:
        inputs += FIXED_LONG
    return inputs


NUMERICAL_COMPARISON = register(
    Family(
        name="numerical_comparison",
        difficulty="hard",
        kind="acceptor",
        space=_comparison_space,
        criteria=lambda p: (
            f"{PREAMBLE} Accept if the binary number is {COMPARISON_WORDS[p['operator']]} "
            f"{p['threshold']}; reject otherwise."
        ),
        title=lambda p: f"Binary {COMPARISON_WORDS[p['operator']].title()} {p['threshold']}",
        accepts=lambda p, tape: reference_comparison(p["operator"], p["threshold"], tape),
        extra_inputs=_comparison_extra,
        solution=lambda p, colours: numerical_comparison_solution(p["operator"], p["threshold"]),
    )
)


# --- numerical_max_min -------------------------------------------------------------------------

MAX_MIN_WORDS = {"max": "maximum", "min": "minimum"}


def _max_min_space(settings: Mapping[str, Any], colours: tuple[str, ...]) -> list[Params]:
    lo, hi = settings["operand_range"]
    return [{"operation": op, "operand": k} for op in settings["operations"] for k in range(lo, hi + 1)]


def _max_min_extra(p: Params, colours, rng) -> list[str]:
    """Spec A.2.2b: basics, values around the operand, powers of two and all-ones, the fixed strings
    (the cut to 35 usually drops the last of them)."""
    k = p["operand"]
    values = [0, 1, *([k - 2] if k > 2 else []), k - 1, k, k + 1, k + 2]
    values += [v for v in (2, 4, 8, 16, 32, 64, 128) if v != k]
    values += [3, 5, 7, 15, 31, 63, 127, 85, 170, 255]
    return [*TRANSDUCER_BASICS, *_values(values), *FIXED_LONG_10]


def _value_case(tape: str, output: str) -> str:
    return f"Input '{tape}' ({tape_value(tape)}) should output '{output}' ({tape_value(output)})"


NUMERICAL_MAX_MIN = register(
    Family(
        name="numerical_max_min",
        difficulty="easy",
        kind="transducer",
        space=_max_min_space,
        criteria=lambda p: (
            f"{PREAMBLE} Output the {MAX_MIN_WORDS[p['operation']]} of {p['operand']} and input."
        ),
        title=lambda p: f"Binary {MAX_MIN_WORDS[p['operation']].title()} with {p['operand']}",
        transform=lambda p, tape: reference_max_min(p["operation"], p["operand"], tape),
        description=lambda p: (
            f"The machine should read a binary number (B = 1, R = 0) and output the "
            f"{MAX_MIN_WORDS[p['operation']]} of it and {p['operand']} in binary, without leading R "
            "(0 is the empty tape)."
        ),
        case_description=lambda p, tape, output: _value_case(tape, output),
        extra_inputs=_max_min_extra,
        solution=lambda p, colours: numerical_max_min_solution(p["operation"], p["operand"]),
    )
)


# --- numerical_operations ----------------------------------------------------------------------

ARITHMETIC = ("add", "subtract")
BITWISE = ("and", "or", "xor", "not")


def operation_phrase(p: Params) -> str:
    """`add 32`, `subtract 5`, `bitwise AND with 7`, `bitwise NOT`, `floor division by 2^3`."""
    op, k = p["operation"], p["operand"]
    if op in ARITHMETIC:
        return f"{op} {k}"
    if op == "not":
        return "bitwise NOT"
    if op in BITWISE:
        return f"bitwise {op.upper()} with {k}"
    return f"floor division by 2^{k}"


def _operations_space(settings: Mapping[str, Any], colours: tuple[str, ...]) -> list[Params]:
    """Arithmetic ops x operands, then bitwise ops x operands (NOT once), then floor_div x 2^1..2^max.
    Operands above 128 are dropped, as in the reference."""
    operands = [k for k in settings["operand_values"] if k <= 128]
    space: list[Params] = []
    for op in settings["arithmetic_operations"]:
        space += [{"operation": op, "operand": k} for k in operands]
    for op in settings["bitwise_operations"]:
        if op == "not":
            space.append({"operation": "not", "operand": None})
        else:
            space += [{"operation": op, "operand": k} for k in operands]
    for op in settings["shift_operations"]:
        space += [{"operation": op, "operand": k} for k in range(1, settings["max_shift_power"] + 1)]
    return space


def _operations_extra(p: Params, colours, rng) -> list[str]:
    """Spec A.2.2b: basics, values chosen by operation, the fixed strings."""
    op, k = p["operation"], p["operand"]
    if op in ARITHMETIC:
        values = [0, 1, k - 1, k, k + 1, 2 * k, 4 * k, 64, 128, 255, 127, 63, 31, 15]
    elif op == "not":
        values = [0, 1, 15, 31, 63, 127, 255, 85, 170]
    elif op in BITWISE:
        values = [0, 1, k, k - 1, k + 1, 85, 170, 255, 127, 63, 31, 15]
    else:  # floor division by d = 2^k
        d = 2**k
        values = [0, 1, d - 1, d, d + 1, 2 * d, 3 * d, 255, 127, 63, 31, 15]
    return [*TRANSDUCER_BASICS, *_values(values), *FIXED_LONG_10]


NUMERICAL_OPERATIONS = register(
    Family(
        name="numerical_operations",
        difficulty="medium",
        kind="transducer",
        space=_operations_space,
        criteria=lambda p: (
            f"{PREAMBLE} Apply {operation_phrase(p)} to the binary number and output the result. "
            "If the result is zero or negative, output an empty tape. If the result is positive, "
            "output the binary representation (which will start with B)."
        ),
        title=lambda p: f"Binary {operation_phrase(p)}",
        transform=lambda p, tape: reference_operation(p["operation"], p["operand"], tape),
        description=lambda p: (
            f"The machine should read a binary number (B = 1, R = 0), apply {operation_phrase(p)} to "
            "it and output the result in binary, without leading R (zero or negative: the empty tape)."
        ),
        case_description=lambda p, tape, output: _value_case(tape, output),
        extra_inputs=_operations_extra,
        solution=lambda p, colours: numerical_operations_solution(p["operation"], p["operand"]),
    )
)
