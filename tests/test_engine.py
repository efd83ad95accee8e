"""The compiled engine (delta_core/engine.py + delta_core/_fastdsl.c) against the literal interpreter.

`dsl.run_program` is the ground truth (spec A.1, "Execution"). Every test here asserts that
`CompiledProgram(program, max_path).run(tape)` returns exactly run_program's fields: same values and
same types, on random valid programs (random node graphs with NONE, the literal END, self-loops,
painter loops, duplicate conditions, nodes named NONE/END) and random tapes (colours plus foreign
characters), and on hand-written edge cases at the 1000-entry path limit.

CI exports DELTA_REQUIRE_FAST_ENGINE=1, so a build that silently skipped the C extension fails
`test_fast_engine_built` instead of quietly testing the slow fallback.
"""

from __future__ import annotations

import gc
import os
import sys

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from delta_core.dsl import (
    MAX_ITERATIONS_REASON,
    MAX_PATH,
    Node,
    NodeType,
    Program,
    parse_program,
    run_program,
)
from delta_core.engine import (
    HAVE_FAST_ENGINE,
    CompiledProgram,
    LiteralEngine,
    compile_program,
    literal_engine,
)
from delta_core.judge import judge

needs_fast = pytest.mark.skipif(not HAVE_FAST_ENGINE, reason="delta_core._fastdsl is not built")

# ------------------------------------------------------------------------------------------------
# Helpers


def literal(program: Program, tape: str, max_path: int = MAX_PATH) -> tuple:
    r = run_program(program, tape, max_path)
    return (r.finished, r.final_tape, r.path, r.rejection_reason)


def assert_same(fast: tuple, ref: tuple) -> None:
    """Equal values *and* equal types (True is not 1, a str subclass is not a str)."""
    assert fast == ref
    assert [type(x) for x in fast] == [type(x) for x in ref]
    assert all(type(entry) is str for entry in fast[2])


def dsl_text(blocks: list[tuple[str, NodeType, list[tuple[str, str]]]], indent: str = "    ") -> str:
    lines = []
    for node_id, node_type, routes in blocks:
        if node_type is NodeType.END:
            lines.append(f"END {node_id}")
            continue
        lines.append(f"{node_type.value} {node_id}:")
        for condition, target in routes:
            route = f"NEXT {target}" if condition == "NEXT" else f"[{condition}] {target}"
            lines.append(indent + route)
    return "\n".join(lines)


def chain_of_painters(n: int, colour: NodeType = NodeType.PAINTER_RED) -> Program:
    """start -> p1 -> ... -> pn -> end."""
    names = [f"p{i}" for i in range(1, n + 1)] + ["end"]
    blocks = [("start", NodeType.START, [("NEXT", names[0])])]
    blocks += [(names[i], colour, [("NEXT", names[i + 1])]) for i in range(n)]
    blocks.append(("end", NodeType.END, []))
    return parse_program(dsl_text(blocks))


# ------------------------------------------------------------------------------------------------
# Random valid programs and tapes

NAMES = ["a", "b", "p1", "q_2", "é", "NONE", "END", "Start", "x9", "n"]
PULLERS = (NodeType.PULLER_RB, NodeType.PULLER_YG)
PAINTERS = tuple(t for t in NodeType if t.is_painter)
FOREIGN = ["x", "é", " ", "r", "\t", "🙂", "\x00", "ÿ"]


@st.composite
def programs(draw) -> str:
    """DSL text of a random valid program: random node types, random routes among the declared ids,
    start, end, NONE and the literal END; duplicate and missing conditions; any declaration order."""
    ids = draw(st.lists(st.sampled_from(NAMES), max_size=7, unique=True))
    target = st.sampled_from(ids + ["start", "end", "NONE", "END"])
    blocks = [("start", NodeType.START, [("NEXT", draw(target))])]
    for node_id in ids:
        # Pullers and painters in equal measure, so both loops that consume and loops that grow occur.
        node_type = draw(st.sampled_from(PULLERS + PULLERS + PAINTERS))
        if node_type.is_puller:
            condition = st.sampled_from(node_type.colours + ("EMPTY",))
            routes = draw(st.lists(st.tuples(condition, target), max_size=5))
        else:
            routes = [("NEXT", draw(target))]
        blocks.append((node_id, node_type, routes))
    blocks.append(("end", NodeType.END, []))
    blocks = draw(st.permutations(blocks))
    return dsl_text(blocks, indent=draw(st.sampled_from(["    ", "\t"])))


tapes = st.one_of(
    st.text(alphabet="RB", max_size=20),
    st.text(alphabet="RBYG", max_size=20),
    st.text(alphabet=st.sampled_from(list("RBYG") * 3 + FOREIGN), max_size=30),
)
max_paths = st.sampled_from([0, 1, 2, 3, 10, 999, 1000, 1001, 2500])
fuzz = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])


# ------------------------------------------------------------------------------------------------
# Differential tests


def test_fast_engine_built():
    """Fails in CI (DELTA_REQUIRE_FAST_ENGINE=1) when the C extension was not built; skips elsewhere."""
    if os.environ.get("DELTA_REQUIRE_FAST_ENGINE") == "1":
        assert HAVE_FAST_ENGINE, "delta_core._fastdsl is missing: `pip install -e .` needs a C compiler"
    elif not HAVE_FAST_ENGINE:
        pytest.skip("delta_core._fastdsl is not built; set DELTA_REQUIRE_FAST_ENGINE=1 to make this fail")
    engine = compile_program(parse_program("START start:\n    NEXT end\nEND end"))
    assert isinstance(engine, CompiledProgram)


@needs_fast
@fuzz
@given(text=programs(), tapes=st.lists(tapes, min_size=1, max_size=6))
def test_random_programs_match_literal(text, tapes):
    program = parse_program(text)
    engine = compile_program(program)
    assert isinstance(engine, CompiledProgram)
    for tape in tapes:
        assert_same(engine.run(tape), literal(program, tape))


@needs_fast
@fuzz
@given(text=programs(), tape=tapes, max_path=max_paths)
def test_random_programs_match_literal_at_any_max_path(text, tape, max_path):
    program = parse_program(text)
    assert_same(compile_program(program, max_path).run(tape), literal(program, tape, max_path))


@needs_fast
@settings(max_examples=150, deadline=None)
@given(text=programs(), tapes=st.lists(tapes, max_size=8), data=st.data())
def test_judge_fast_equals_judge_literal(text, tapes, data):
    tests = [
        {
            "input": tape,
            "expected_output": data.draw(st.sampled_from([tape, "", "R", tape + "R", "R.*", "(B"])),
            "expected_accepted": data.draw(st.booleans()),
            "check_output": data.draw(st.booleans()),
        }
        for tape in tapes
    ]
    assert judge(text, tests) == judge(text, tests, engine="literal")


@needs_fast
@pytest.mark.parametrize("max_path", [0, 1, 2, 999, 1000])
@pytest.mark.parametrize("tape", ["", "R", "RBYG", "GYBR" * 5, "Rx", "é", "Y🙂B"])
def test_quirk_programs_at_each_max_path(max_path, tape):
    """Programs built around each quirk of A.1, at path limits around their lengths."""
    sources = [
        # rotate loop: pull R/B and repaint it; a foreign front takes EMPTY without consuming
        ("START start:\n    NEXT q\nPULLER_RB q:\n    [R] r\n    [B] b\n    [EMPTY] end\n"
         "PAINTER_RED r:\n    NEXT q\nPAINTER_BLUE b:\n    NEXT q\nEND end"),
        # duplicate conditions (first wins), a consumed colour with no route -> NONE
        ("START start:\n    NEXT q\nPULLER_YG q:\n    [Y] end\n    [Y] NONE\n    [EMPTY] q2\n"
         "PULLER_RB q2:\n    [R] q\nEND end"),
        # a node declared NONE is unreachable; a route to the undeclared literal END is unknown
        ("START start:\n    NEXT p\nPULLER_RB p:\n    [R] NONE\n    [B] END\n    [EMPTY] p\n"
         "PAINTER_GREEN NONE:\n    NEXT end\nEND end"),
        # a node declared END runs; routes back to start
        ("START start:\n    NEXT END\nPAINTER_YELLOW END:\n    NEXT q\nPULLER_YG q:\n    [Y] start\n"
         "    [G] end\nEND end"),
        # a puller with no routes at all
        "START start:\n    NEXT q\nPULLER_RB q:\nEND end",
    ]
    for source in sources:
        program = parse_program(source)
        assert_same(compile_program(program, max_path).run(tape), literal(program, tape, max_path))


# ------------------------------------------------------------------------------------------------
# Edge cases at the path limit (spec A.1, "Iteration limit")


@needs_fast
def test_998_painters_accept_with_path_of_1000():
    program = chain_of_painters(998)
    result = compile_program(program).run("B")
    assert_same(result, literal(program, "B"))
    finished, tape, path, reason = result
    assert finished and reason is None
    assert len(path) == MAX_PATH and path[-1] == "end"
    assert tape == "B" + "R" * 998


@needs_fast
def test_999_painters_hit_the_limit_after_999_paints():
    program = chain_of_painters(999, NodeType.PAINTER_GREEN)
    result = compile_program(program).run("")
    assert_same(result, literal(program, ""))
    finished, tape, path, reason = result
    assert not finished and reason == MAX_ITERATIONS_REASON
    assert len(path) == MAX_PATH and path[-1] == "p999"
    assert tape == "G" * 999


@needs_fast
def test_infinite_painter_loop_stops_after_999_paints():
    program = parse_program(
        "START start:\n    NEXT a\nPAINTER_RED a:\n    NEXT b\nPAINTER_BLUE b:\n    NEXT a\nEND end"
    )
    result = compile_program(program).run("Y")
    assert_same(result, literal(program, "Y"))
    assert result[1] == "Y" + "RB" * 499 + "R"
    assert result[2] == ["start"] + ["a", "b"] * 499 + ["a"]


@needs_fast
def test_100k_character_tape():
    """A long input is read in place: the pull loop stops at the path limit or at a foreign character."""
    program = parse_program(
        "START start:\n    NEXT q\nPULLER_RB q:\n    [R] q\n    [B] p\n    [EMPTY] end\n"
        "PAINTER_GREEN p:\n    NEXT q\nEND end"
    )
    engine = compile_program(program)
    long_tape = "RB" * 50_000
    for tape in (long_tape, long_tape[:600] + "é" + long_tape, "🙂" + long_tape, long_tape[:100] + "Y"):
        result = engine.run(tape)
        assert_same(result, literal(program, tape))
    assert len(engine.run(long_tape)[1]) == 100_000 - 666 + 333  # 666 pulls (1/3 of them B) and 333 paints


@needs_fast
def test_untouched_tape_and_unicode_results_are_canonical_str():
    """Final tapes with foreign characters must be equal *and* hash-equal to run_program's (a str built
    with a too-wide internal kind compares unequal in CPython)."""
    program = parse_program("START start:\n    NEXT q\nPULLER_RB q:\n    [R] p\n    [EMPTY] end\n"
                            "PAINTER_YELLOW p:\n    NEXT q\nEND end")
    for tape in ["RRé", "R🙂", "ÿRR", "Rx", ""]:
        fast, ref = compile_program(program).run(tape), literal(program, tape)
        assert_same(fast, ref)
        assert hash(fast[1]) == hash(ref[1])


# ------------------------------------------------------------------------------------------------
# The engine interface and its fallbacks


def test_literal_engine_matches_run_program():
    program = chain_of_painters(3)
    assert literal_engine(program).run("R") == literal(program, "R")


@needs_fast
def test_hand_built_programs_that_crash_run_program_fall_back_to_it():
    """A painter without a route makes run_program raise IndexError; compile_program keeps that."""
    nodes = {
        "start": Node("start", NodeType.START, 1, (("NEXT", "p"),)),
        "p": Node("p", NodeType.PAINTER_RED, 2, ()),
        "end": Node("end", NodeType.END, 3),
    }
    engine = compile_program(Program(nodes))
    assert isinstance(engine, LiteralEngine)
    with pytest.raises(IndexError):
        engine.run("R")


@needs_fast
def test_runs_leave_reference_counts_as_they_found_them():
    """The C code adds each id's references in bulk; after the results are gone, every count is back.
    Checked on ids the parser made (literals like 'start' are shared with the rest of the process)."""
    program = parse_program(
        "START start:\n    NEXT pull_1\nPULLER_RB pull_1:\n    [R] paint_1\n    [B] NONE\n    [EMPTY] end\n"
        "PAINTER_RED paint_1:\n    NEXT pull_1\nEND end"
    )
    engine = compile_program(program)
    tapes = ["", "R", "RRB", "x", "R" * 50, "é"]
    seen = {entry for tape in tapes for entry in engine.run(tape)[2]}
    ids = tuple(entry for entry in seen if entry.endswith("_1"))  # the very objects in the paths
    assert sorted(ids) == ["paint_1", "pull_1"]
    gc.collect()
    before = [sys.getrefcount(entry) for entry in ids]
    results = [engine.run(tape) for tape in tapes * 50]
    assert all(sys.getrefcount(entry) > count + 100 for entry, count in zip(ids, before))
    del results
    gc.collect()
    assert [sys.getrefcount(entry) for entry in ids] == before


@needs_fast
def test_machine_rejects_bad_tables_and_tapes():
    from delta_core import _fastdsl

    with pytest.raises(ValueError, match="not a node index"):
        _fastdsl.Machine(b"\x00\x01", [1, 0, 0, 0, 0, 7, 1, 1, 1, 1], ("start", "end"), (None, None), "m", 5)
    with pytest.raises(ValueError, match="not a node kind"):
        _fastdsl.Machine(b"\x00\x63", [1] * 10, ("start", "end"), (None, None), "m", 5)
    with pytest.raises(RuntimeError):
        _fastdsl.Machine.__new__(_fastdsl.Machine).run("R")
    engine = compile_program(chain_of_painters(1))
    with pytest.raises(TypeError):
        engine.run(b"R")
    assert repr(engine).startswith("<CompiledProgram") and engine.max_path == MAX_PATH
