"""The authors' 12 ensembles and the generalisation splits of the paper (spec A.2.3), as data.

An *ensemble* mixes samples of several level files into one train/test pair. The reference's rule
(`ensemble_generator.py`): seed Python's `random.Random(seed)`; for each spec, load the full level file
and take `random.sample(file, sample_count)` (all of it if the file is smaller), tagging each problem
with `_ensemble_source`; shuffle everything; train = the first `int(N * train_ratio)`, test = the rest
(a ratio of exactly 0 or 1 puts everything in one split).

A *level file* is what the reference's `problem_difficulty_generator.py` writes: the first
`max_problems_per_difficulty` (1000) problems of the family's parameter space in systematic order. We
rebuild it with `generate(family, level, colour_mode, n=min(1000, space), seed=seed)`; only the problems
that the sample picks are built (`random.sample` picks positions from the population's length alone, so
sampling `range(len(file))` chooses exactly the same problems).

Two seeds: the ensemble's own `seed` (42, or 456 for `compr`, as in the reference configs) drives the
sampling and the shuffle, so *which* parameter points land in train/test matches the reference; the
`seed` argument of `build_ensemble` is the problem-generation seed (test tapes and ids), which the
reference leaves unseeded.

Names: the reference's `prepend.yaml` and `mutate.yaml` both set `name: prepend_sequence`, so the
second run overwrote the first (the published `prepend_sequence` data is the hard tier, `mutate`). Here
every ensemble writes under its own key (`prepend`, `mutate`); `reference_name` keeps the reference's
name as documentation.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from .base import FAMILIES, Problem
from .generate import _digest, _lookup, build_problem, parameter_space

__all__ = [
    "LEVEL_FILE_SIZE",
    "EnsembleSpec",
    "Ensemble",
    "EnsembleBuild",
    "ENSEMBLES",
    "DatasetRef",
    "Split",
    "SPLITS",
    "level_file_size",
    "level_file_path",
    "build_ensemble",
    "level_problems",
    "resolve",
]

LEVEL_FILE_SIZE = 1000  # the reference's max_problems_per_difficulty default


@dataclass(frozen=True)
class EnsembleSpec:
    family: str
    level: str
    colour_mode: str
    sample_count: int


@dataclass(frozen=True)
class Ensemble:
    name: str  # our output name: files are <name>_train.jsonl, <name>_test.jsonl, <name>_metadata.json
    specs: tuple[EnsembleSpec, ...]
    train_ratio: float = 0.8
    seed: int = 42
    reference_name: str = ""  # the `name` in the reference's YAML (prepend and mutate share one)
    reference_counts: tuple[int, int] | None = None  # (train, test) of the published HF data
    note: str = ""


def _e(name, specs, ratio, seed=42, ref_counts=None, reference_name=None, note=""):
    return Ensemble(
        name,
        tuple(EnsembleSpec(*s) for s in specs),
        ratio,
        seed,
        reference_name or name,
        ref_counts,
        note,
    )


ENSEMBLES: dict[str, Ensemble] = {
    e.name: e
    for e in (
        _e(
            "basic_mix",
            [
                ("append_sequence", "basic", "four_color", 125),
                ("exact_sequence", "basic", "two_color", 125),
                ("starts_with", "basic", "two_color", 125),
            ],
            0.93,
            ref_counts=(348, 27),
        ),
        _e(
            "has",
            [
                ("contains_count", "easy", "four_color", 194),
                ("contains_ordered", "easy", "four_color", 340),
                ("contains_substring", "easy", "four_color", 340),
            ],
            0.85,
            ref_counts=(742, 132),
        ),
        _e(
            "regex",
            [("regex_pattern", "easy", "four_color", 60), ("regex_pattern", "medium", "four_color", 600)],
            0.85,
            ref_counts=(561, 99),
        ),
        _e(
            "compr",
            [
                ("numerical_comparison", "easy", "two_color", 315),
                ("numerical_comparison", "medium", "two_color", 315),
            ],
            0.85,
            seed=456,
            ref_counts=(535, 95),
        ),
        _e(
            "ends",
            [("ends_with", "easy", "two_color", 300), ("ends_with", "medium", "two_color", 1000)],
            0.85,
            ref_counts=(107, 19),
            note="the specs ask for 300 + 1000; the levels hold 30 + 96, so all 126 are taken",
        ),
        _e(
            "prepend",
            [("prepend_sequence", "easy", "two_color", 30), ("prepend_sequence", "medium", "two_color", 670)],
            0.85,
            reference_name="prepend_sequence",
            note="published data overwritten by `mutate` (same reference name); ours: 595 / 105",
        ),
        _e(
            "mutate",
            [("prepend_sequence", "hard", "two_color", 720)],
            0.85,
            ref_counts=(612, 108),
            reference_name="prepend_sequence",
            note="the published prepend_sequence data",
        ),
        _e("minmax", [("numerical_max_min", "medium", "two_color", 512)], 0.98, ref_counts=(501, 11)),
        _e("add", [("numerical_operations", "hard", "two_color", 14)], 0.0, ref_counts=(0, 14)),
        _e("bit_op", [("numerical_operations", "medium", "two_color", 21)], 0.0, ref_counts=(0, 21)),
        _e(
            "fdiv",
            [("numerical_operations", "easy", "two_color", 30)],
            0.0,
            ref_counts=(0, 7),
            note="asks for 30; the level holds 7",
        ),
        _e("symm", [("regex_same_num", "hard", "four_color", 100)], 0.0, ref_counts=(0, 100)),
    )
}


def level_file_size(family: str, level: str, colour_mode: str) -> int:
    """How many problems the reference's level file holds: min(1000, parameter space)."""
    return min(LEVEL_FILE_SIZE, len(parameter_space(family, level, colour_mode)))


def level_file_path(family: str, level: str, colour_mode: str) -> str:
    """The reference's path of a level file (recorded in `_ensemble_source`)."""
    return f"problems/difficulty/{family}_{colour_mode}_{level}.jsonl"


def _build_at(family: str, level: str, colour_mode: str, indices: list[int], seed: int) -> list[Problem]:
    """Problems `indices` of the systematic level file: the same as `generate(..., n=size, seed=seed)[i]`."""
    fam, _ = _lookup(family, level, colour_mode)
    space = parameter_space(family, level, colour_mode)
    return [
        build_problem(
            fam, space[i], level, colour_mode, i, _digest(seed, family, level, colour_mode, "systematic", i)
        )
        for i in indices
    ]


def level_problems(family: str, level: str, colour_mode: str, seed: int = 0) -> list[Problem]:
    """The whole level file (at most 1000 problems, systematic order)."""
    size = level_file_size(family, level, colour_mode)
    return _build_at(family, level, colour_mode, list(range(size)), seed)


@dataclass
class EnsembleBuild:
    """A built ensemble: problems with their `_ensemble_source` tags, split into train and test."""

    ensemble: Ensemble
    train: list[tuple[Problem, dict]]
    test: list[tuple[Problem, dict]]
    seed: int
    per_spec: list[dict] = field(default_factory=list)

    @property
    def problems(self) -> list[Problem]:
        return [p for p, _ in self.train + self.test]


def build_ensemble(name: str | Ensemble, seed: int = 0, progress=None) -> EnsembleBuild:
    """Build one ensemble (spec A.2.3's rule; see the module docstring). `seed` is the problem-generation
    seed; the sampling seed is the ensemble's own. `progress(spec)` is called after each spec."""
    ensemble = name if isinstance(name, Ensemble) else _ensemble(name)
    rng = random.Random(ensemble.seed)
    tagged: list[tuple[Problem, dict]] = []
    per_spec = []
    for spec in ensemble.specs:
        size = level_file_size(spec.family, spec.level, spec.colour_mode)
        if spec.sample_count >= size:
            indices = list(range(size))
        else:
            indices = rng.sample(range(size), spec.sample_count)
        source = {
            "family": spec.family,
            "difficulty": spec.level,
            "color_mode": spec.colour_mode,
            "file_path": level_file_path(spec.family, spec.level, spec.colour_mode),
        }
        problems = _build_at(spec.family, spec.level, spec.colour_mode, indices, seed)
        tagged += [(p, dict(source)) for p in problems]
        per_spec.append(
            {**source, "requested": spec.sample_count, "level_file_size": size, "taken": len(problems)}
        )
        if progress is not None:
            progress(spec)
    rng.shuffle(tagged)
    ratio = ensemble.train_ratio
    if ratio <= 0:
        cut = 0
    elif ratio >= 1:
        cut = len(tagged)
    else:
        cut = int(len(tagged) * ratio)
    return EnsembleBuild(ensemble, tagged[:cut], tagged[cut:], seed, per_spec)


def _ensemble(name: str) -> Ensemble:
    if name not in ENSEMBLES:
        raise ValueError(f"Unknown ensemble {name!r}; choose one of {list(ENSEMBLES)}")
    missing = {s.family for s in ENSEMBLES[name].specs} - set(FAMILIES)
    if missing:
        raise ValueError(f"Ensemble {name!r} needs families with no generator registered: {sorted(missing)}")
    return ENSEMBLES[name]


# --- generalisation splits (manufactoria_setting.md) ------------------------------------------


@dataclass(frozen=True)
class DatasetRef:
    """One dataset named in the split table, mapped to our data.

    `source` is `("ensemble", name, part)` with part "train" / "test" / "all", or
    `("level", family, level, colour_mode)` for a whole level file; `count` is the eval count (None for
    training data, which the mixer uses whole).
    """

    name: str  # as the split table spells it
    source: tuple = ()
    count: int | None = None
    available: bool = True
    reason: str = ""  # why unavailable, or how the name was mapped


@dataclass(frozen=True)
class Split:
    name: str
    axis: str  # explorative / compositional / transformative
    train: tuple[DatasetRef, ...]
    test: tuple[DatasetRef, ...]
    note: str = ""


_INFERRED = "[inferred] mapping of the split table's name to the README's HF name (spec A.2.3)"


def _train(name: str) -> DatasetRef:
    ensemble = {
        "basic_mix": "basic_mix",
        "contains_mix": "has",
        "numerical_comparison": "compr",
        "regex_pattern": "regex",
        "prepend_sequence": "mutate",
    }[name]
    reason = "" if name == "basic_mix" else _INFERRED
    return DatasetRef(name, ("ensemble", ensemble, "train"), None, True, reason)


def _test_split(name: str, count: int = 50) -> DatasetRef:
    ensemble = {
        "contains_mix_test": "has",
        "numerical_comparison_test": "compr",
        "regex_pattern_test": "regex",
        "prepend_sequence_test": "mutate",
    }[name]
    return DatasetRef(name, ("ensemble", ensemble, "test"), count, True, _INFERRED)


def _level(family: str, level: str, colour_mode: str, count: int = 50, reason: str = "") -> DatasetRef:
    """A whole level file, named `<family>_<colour_mode>_<level>` as in the split table."""
    name = f"{family}_{colour_mode}_{level}"
    return DatasetRef(name, ("level", family, level, colour_mode), count, True, reason)


OOD_MISSING = DatasetRef(
    "contains_ood_mix_test",
    (),
    50,
    False,
    "no config in the reference repository defines it; we do not invent one",
)
PREPEND_HARD_NOTE = (
    "the same level file that `mutate` (prepend_sequence) samples in full: it overlaps training"
)

SPLITS: dict[str, Split] = {
    s.name: s
    for s in (
        Split(
            "explorative_1",
            "explorative",
            (_train("basic_mix"), _train("contains_mix")),
            (OOD_MISSING, _test_split("contains_mix_test")),
        ),
        Split(
            "explorative_2",
            "explorative",
            (_train("basic_mix"), _train("numerical_comparison")),
            (
                _test_split("numerical_comparison_test"),
                _level("numerical_comparison", "hard", "two_color"),
            ),
        ),
        Split(
            "explorative_3",
            "explorative",
            (_train("basic_mix"), _train("regex_pattern")),
            (
                _test_split("regex_pattern_test"),
                _level("regex_pattern", "hard", "four_color"),
            ),
        ),
        Split(
            "compositional_1",
            "compositional",
            (_train("basic_mix"), _train("regex_pattern"), _train("prepend_sequence")),
            (
                _test_split("regex_pattern_test"),
                _test_split("prepend_sequence_test"),
                _level("prepend_sequence", "hard", "two_color", reason=PREPEND_HARD_NOTE),
            ),
        ),
        Split(
            "compositional_2",
            "compositional",
            (_train("basic_mix"), _train("numerical_comparison"), _train("prepend_sequence")),
            (
                _test_split("numerical_comparison_test"),
                _test_split("prepend_sequence_test"),
                _level("numerical_operations", "easy", "two_color", 7),
                _level("numerical_operations", "medium", "two_color", 21),
                _level("numerical_operations", "hard", "two_color", 14),
                _level("numerical_max_min", "medium", "two_color"),
            ),
        ),
        Split(
            "transformative_1",
            "transformative",
            (_train("basic_mix"),),
            (_level("ends_with", "medium", "two_color"),),
            note="the table says 'basic_mix (starts_with)': the starts_with part is what transfers",
        ),
        Split(
            "transformative_2",
            "transformative",
            (_train("basic_mix"), _train("regex_pattern")),
            (_level("regex_same_num", "hard", "four_color"),),
        ),
        Split(
            "transformative_3",
            "transformative",
            (_train("basic_mix"), _train("prepend_sequence")),
            (
                _test_split("prepend_sequence_test"),
                _level("prepend_sequence", "hard", "two_color", reason=PREPEND_HARD_NOTE),
            ),
            note='marked "not consider" in the reference',
        ),
    )
}


def resolve(ref: DatasetRef, seed: int = 0) -> list[Problem]:
    """The problems behind a split-table entry: an ensemble's train/test part or a whole level file.
    (The eval mixer then uses `ref.count` of them.) Unavailable entries raise with their reason."""
    if not ref.available:
        raise ValueError(f"{ref.name} is not available: {ref.reason}")
    if ref.source[0] == "ensemble":
        _, name, part = ref.source
        build = build_ensemble(name, seed=seed)
        pairs = {"train": build.train, "test": build.test, "all": build.train + build.test}[part]
        return [p for p, _ in pairs]
    _, family, level, colour_mode = ref.source
    return level_problems(family, level, colour_mode, seed=seed)
