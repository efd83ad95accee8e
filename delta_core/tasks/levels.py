"""Per-level parameter settings of every family, as data.

The authors' level config (`configs/manufactoria_config.yaml`) is not in their repository, so the
numbers below come from the dataset sizes (spec A.2.3, marked "inferred") or, where the sizes say
nothing, from the generator defaults (spec A.2.1, marked "default"). Where we had to choose, the note
says "ours". Setting names follow the reference's override keys:

- `sequence_lengths` (lo, hi): sequence lengths, inclusive (sequence and contains families)
- `count_thresholds` (lo, hi): range of the total required count (contains_count)
- `max_pattern_length` (lo, hi), `concatenation_count`: regex_pattern part bases and part count
- `enable_mutations`, `pattern_mutations`: prepend_sequence mutation tier (none / medium / hard)
- `numerical_thresholds`, `operations`, `operand_range`, `arithmetic_operations`,
  `bitwise_operations`, `shift_operations`, `operand_values`, `max_shift_power`: numerical families

Space sizes the tests check are in the notes (two-colour / four-colour).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Level", "LEVELS", "BOTH_MODES", "TWO_COLOUR"]

BOTH_MODES = ("two_color", "four_color")
TWO_COLOUR = ("two_color",)

# Defaults of the reference config (spec A.2.1)
OPERAND_VALUES = (1, 2, 4, 8, 16, 32, 64, 128, 3, 5, 7, 15, 31, 63, 127)
SEVEN_OPERANDS = (1, 2, 4, 8, 16, 32, 64)  # ours: the first 7 default operand values


@dataclass(frozen=True)
class Level:
    settings: Mapping[str, Any] = field(default_factory=dict)
    colour_modes: tuple[str, ...] = BOTH_MODES
    note: str = ""


LEVELS: dict[str, dict[str, Level]] = {
    # --- sequence families ---------------------------------------------------------------------
    "starts_with": {
        "basic": Level({"sequence_lengths": (1, 6)}, note="inferred: capacity >= 125 -> [1,6]; 126 / 5460"),
    },
    "exact_sequence": {
        "basic": Level({"sequence_lengths": (1, 6)}, note="inferred: capacity >= 125 -> [1,6]; 126 / 5460"),
    },
    "ends_with": {
        # easy + medium total 126 = sum 2^1..2^6 (two-colour). The 107 / 19 of the README is the
        # 0.85 train/test split of those 126 (int(126 * 0.85) = 107), not the level sizes: no split of
        # lengths gives 107 (every sum of 2^k, k >= 1, is even). Ours: easy = lengths 1-4, as
        # prepend_sequence easy and the contains_* easy levels; medium = lengths 5-6.
        "easy": Level({"sequence_lengths": (1, 4)}, note="inferred total, split ours; 30 / 340"),
        "medium": Level({"sequence_lengths": (5, 6)}, note="inferred total, split ours; 96 / 5120"),
    },
    "append_sequence": {
        "basic": Level({"sequence_lengths": (1, 6)}, note="default; 126 / 5460 (basic_mix takes 125)"),
    },
    "prepend_sequence": {
        # Four-colour is not offered: the solution needs a colour the input cannot contain (G) to mark
        # the end of the input, and the reference only generates two-colour prepend sets.
        "easy": Level(
            {"sequence_lengths": (1, 4), "enable_mutations": False},
            TWO_COLOUR,
            note="inferred: 30 = prefixes of length 1-4, no mutation",
        ),
        "medium": Level(
            {"sequence_lengths": (1, 6), "enable_mutations": True},
            TWO_COLOUR,
            note="default: 19 mutations x 126 prefixes = 2394",
        ),
        "hard": Level(
            {"sequence_lengths": (1, 4), "enable_mutations": True, "pattern_mutations": True},
            TWO_COLOUR,
            note="inferred: 720 = 24 pattern mutations x 30 prefixes",
        ),
    },
    # --- contains families ---------------------------------------------------------------------
    "contains_count": {
        "easy": Level(
            {"count_thresholds": (1, 6)}, note="inferred: 194 four-colour = counts [1,6]; 27 / 194"
        ),
        "medium": Level({"count_thresholds": (1, 11)}, note="default, ours as a level; 77 / 1034"),
    },
    "contains_ordered": {
        "easy": Level({"sequence_lengths": (1, 4)}, note="inferred: 340 = 4+16+64+256; 30 / 340"),
        "medium": Level({"sequence_lengths": (1, 6)}, note="default, ours as a level; 126 / 5460"),
    },
    "contains_substring": {
        "easy": Level({"sequence_lengths": (1, 4)}, note="inferred: 340 = 4+16+64+256; 30 / 340"),
        "medium": Level({"sequence_lengths": (1, 6)}, note="default, ours as a level; 126 / 5460"),
    },
    "not_contains": {
        "easy": Level({}, note="in no reference config; one problem per colour; 2 / 4"),
    },
    # --- regex families ------------------------------------------------------------------------
    "regex_pattern": {
        "easy": Level(
            {"max_pattern_length": (1, 2), "concatenation_count": 1},
            note="inferred: 60 = (4+16) x 3; 18 / 60",
        ),
        "medium": Level(
            {"max_pattern_length": (1, 2), "concatenation_count": 2},
            note="ours (capacity must be >= 600): 324 / 3600",
        ),
        "hard": Level({"max_pattern_length": (1, 3), "concatenation_count": 2}, note="default: 1764 / 63504"),
    },
    "regex_same_num": {
        "hard": Level({}, note="100 fixed templates in either mode; the reference generates four-colour"),
    },
    # --- numerical families (generators in numeric.py) -----------------------------------------
    "numerical_comparison": {
        # 5 operators x 63 thresholds each; which 63 is ours (easy: 6-bit values, medium: the next 63).
        "easy": Level({"numerical_thresholds": (1, 63)}, TWO_COLOUR, note="inferred size 315, range ours"),
        "medium": Level(
            {"numerical_thresholds": (64, 126)}, TWO_COLOUR, note="inferred size 315, range ours"
        ),
        "hard": Level({"numerical_thresholds": (1, 256)}, TWO_COLOUR, note="default: 1280"),
    },
    "numerical_max_min": {
        "medium": Level(
            {"operations": ("max", "min"), "operand_range": (1, 256)},
            TWO_COLOUR,
            note="inferred: 512 = 2 x operands 1-256 (defaults)",
        ),
    },
    "numerical_operations": {
        "easy": Level(
            {
                "arithmetic_operations": (),
                "bitwise_operations": (),
                "shift_operations": ("floor_div",),
                "operand_values": OPERAND_VALUES,
                "max_shift_power": 7,
            },
            TWO_COLOUR,
            note="inferred: 7 = floor division by 2^k, k = 1..7 (the fdiv set)",
        ),
        "medium": Level(
            {
                "arithmetic_operations": (),
                "bitwise_operations": ("and", "or", "xor"),
                "shift_operations": (),
                "operand_values": SEVEN_OPERANDS,
                "max_shift_power": 7,
            },
            TWO_COLOUR,
            note="inferred size 21 = 3 bitwise ops x 7 operands; operands ours",
        ),
        "hard": Level(
            {
                "arithmetic_operations": ("add", "subtract"),
                "bitwise_operations": (),
                "shift_operations": (),
                "operand_values": SEVEN_OPERANDS,
                "max_shift_power": 7,
            },
            TWO_COLOUR,
            note="inferred size 14 = add/subtract x 7 operands; operands ours",
        ),
    },
}
