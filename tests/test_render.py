"""delta_core.render: the trace must be run_program step by step, and the pictures must show every node
and every route, including the implicit ones to NONE."""

import re

import matplotlib

matplotlib.use("Agg")

import pytest  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch  # noqa: E402

from delta_core.dsl import MAX_ITERATIONS_REASON, parse_program, run_program  # noqa: E402
from delta_core.render import (  # noqa: E402
    EXAMPLE_PROGRAM,
    TraceStep,
    draw_program,
    plot_trace,
    trace_program,
)

PAINT_LOOP = "START start:\n    NEXT a\nPAINTER_RED a:\n    NEXT a\nEND end"
LITERAL_END = "START start:\n    NEXT g\nPAINTER_GREEN g:\n    NEXT END\nEND end"
EXPLICIT_AND_IMPLICIT_NONE = "START start:\n    NEXT p\nPULLER_YG p:\n    [Y] end\n    [G] NONE\nEND end"
APPEND_G = "START start:\n    NEXT g\nPAINTER_GREEN g:\n    NEXT end\nEND end"
# Rotates the tape one colour: reads the front colour, paints it back at the end.
ROTATE = """START start:
    NEXT read
PULLER_RB read:
    [R] put_r
    [B] put_b
    [EMPTY] end
PAINTER_RED put_r:
    NEXT end
PAINTER_BLUE put_b:
    NEXT end
END end"""

CASES = [
    pytest.param(EXAMPLE_PROGRAM, "RBRB", id="accept"),
    pytest.param(EXAMPLE_PROGRAM, "RBR", id="consumed-colour-no-route-NONE"),
    pytest.param(EXAMPLE_PROGRAM, "RY", id="foreign-colour-no-EMPTY-NONE"),
    pytest.param(EXAMPLE_PROGRAM, "", id="empty-tape-NONE"),
    pytest.param(EXPLICIT_AND_IMPLICIT_NONE, "GY", id="explicit-NONE"),
    pytest.param(EXPLICIT_AND_IMPLICIT_NONE, "RY", id="foreign-then-implicit-NONE"),
    pytest.param(LITERAL_END, "RB", id="unknown-node-END"),
    pytest.param(PAINT_LOOP, "B", id="max-iterations-loop"),
    pytest.param(ROTATE, "BRR", id="transducer"),
]


@pytest.mark.parametrize("text, tape", CASES)
def test_trace_is_run_program_step_by_step(text, tape):
    program = parse_program(text)
    result = run_program(program, tape)
    trace = trace_program(program, tape)
    assert [s.node for s in trace] == result.path
    assert [s.step for s in trace] == list(range(1, len(result.path) + 1))
    assert trace[0].tape_before == tape
    assert trace[-1].tape_after == result.final_tape
    # Each step starts with the tape the previous one left.
    assert all(a.tape_after == b.tape_before for a, b in zip(trace, trace[1:]))


def test_trace_actions_say_what_happened():
    program = parse_program(EXAMPLE_PROGRAM)
    accept = trace_program(program, "RBRB")
    assert accept[1] == TraceStep(2, "first", "PULLER_RB", "RBRB", "pull R → [R] → scan", "BRB")
    assert accept[-1].action == "accept" and accept[-1].node_type == "END"

    # RBR ends in R: `last_r` finds the tape empty and has no [EMPTY] route
    no_route = trace_program(program, "RBR")
    assert no_route[-2].action == "tape empty, no [EMPTY] route → NONE"
    assert (no_route[-1].node, no_route[-1].node_type, no_route[-1].action) == (
        "NONE", "NONE", "reject: Routed to NONE")

    consumed = trace_program(program, "B")  # `first` pulls the B, has no [B] route: B stays consumed
    assert consumed[1].action == "pull B, no [B] route → NONE" and consumed[1].tape_after == ""

    foreign = trace_program(program, "RY")  # Y at a R/B puller: not consumed, takes EMPTY (absent)
    assert foreign[2].action == "front 'Y' is not R/B, kept, no [EMPTY] route → NONE"
    assert foreign[2].tape_after == "Y"

    unknown = trace_program(parse_program(LITERAL_END), "")
    assert unknown[1].action == "paint G → END"
    assert (unknown[-1].node_type, unknown[-1].action) == ("UNKNOWN", "reject: Unknown node: END")


def test_trace_honours_max_path_and_marks_only_the_real_limit():
    program = parse_program(PAINT_LOOP)
    short = trace_program(program, "B", max_path=5)
    assert len(short) == 5 and short[-1].tape_after == "BRRRR"
    assert MAX_ITERATIONS_REASON in short[-1].action
    assert MAX_ITERATIONS_REASON not in short[-2].action

    full = trace_program(program, "B")
    assert len(full) == 1000 and MAX_ITERATIONS_REASON in full[-1].action
    assert full[-1].tape_after == "B" + "R" * 999

    # max_steps keeps a prefix of the full trace; the cut is not a limit
    prefix = trace_program(program, "B", max_steps=7)
    assert prefix == full[:7]
    assert MAX_ITERATIONS_REASON not in prefix[-1].action


# --- draw_program ------------------------------------------------------------------------------


def patches_by_gid(fig: Figure, prefix: str) -> dict:
    """The patches whose gid starts with `prefix`, keyed by the rest of the gid."""
    gids = {p.get_gid() or "": p for p in fig.axes[0].patches}
    return {gid[len(prefix):]: p for gid, p in gids.items() if gid.startswith(prefix)}


def node_patches(fig: Figure) -> dict[str, FancyBboxPatch]:
    return patches_by_gid(fig, "node:")


def edge_patches(fig: Figure) -> dict[str, FancyArrowPatch]:
    return patches_by_gid(fig, "edge:")


def test_draw_program_has_one_box_per_node_and_the_implicit_none_edges():
    program = parse_program(EXAMPLE_PROGRAM)
    fig = draw_program(program)
    assert isinstance(fig, Figure)
    nodes = node_patches(fig)
    assert sorted(nodes) == sorted([*program.nodes, "<NONE>"])
    edges = edge_patches(fig)
    # `first` has only an [R] route: B and EMPTY go to NONE, drawn dashed as one edge
    assert edges["first-><NONE>:B,EMPTY"].get_linestyle() == "--"
    assert edges["scan-><NONE>:EMPTY"].get_linestyle() == "--"
    assert edges["first->scan:R"].get_linestyle() == "-"
    assert edges["last_r->last_r:R"]  # a self-loop
    assert edges["start->first:NEXT"]
    # every effective route is drawn: 1 (start) + 2 + 3 + 3 + 3 (pullers, NONE groups included)
    assert len(edges) == 12


def test_draw_program_without_none_routes_has_no_none_node():
    fig = draw_program(parse_program(APPEND_G))
    assert sorted(node_patches(fig)) == ["end", "g", "start"]
    assert sorted(edge_patches(fig)) == ["g->end:NEXT", "start->g:NEXT"]


def test_draw_program_separates_explicit_and_implicit_none():
    edges = edge_patches(draw_program(parse_program(EXPLICIT_AND_IMPLICIT_NONE)))
    assert edges["p-><NONE>:G"].get_linestyle() == "-"  # written `[G] NONE`
    assert edges["p-><NONE>:EMPTY"].get_linestyle() == "--"  # no [EMPTY] route


def test_draw_program_shows_unknown_targets_and_unreachable_nodes():
    text = LITERAL_END + "\nPAINTER_BLUE NONE:\n    NEXT end"
    fig = draw_program(parse_program(text))
    nodes = node_patches(fig)
    # the declared NONE node is drawn (unreachable); the literal END target is its own reject node
    assert sorted(nodes) == ["<unknown>END", "NONE", "end", "g", "start"]
    assert "g-><unknown>END:NEXT" in edge_patches(fig)
    labels = [t.get_text() for t in fig.axes[0].texts]
    assert "unknown → reject" in labels and "paint B · unreachable" in labels


def test_highlight_path_marks_visited_edges_only():
    program = parse_program(EXAMPLE_PROGRAM)
    result = run_program(program, "RB")
    edges = edge_patches(draw_program(program, highlight_path=result.path))
    plain = edge_patches(draw_program(program))
    visited = {"start->first:NEXT", "first->scan:R", "scan->last_b:B", "last_b->end:EMPTY"}
    for gid, patch in edges.items():
        thicker = patch.get_linewidth() > plain[gid].get_linewidth()
        assert thicker == (gid in visited), gid


def test_draw_program_draws_into_a_given_axes():
    fig = Figure()
    ax = fig.add_subplot()
    assert draw_program(parse_program(APPEND_G), ax=ax) is fig
    assert len(node_patches(fig)) == 3


# --- plot_trace and the playground --------------------------------------------------------------


def test_plot_trace_has_one_row_per_step_and_notes_truncation():
    program = parse_program(EXAMPLE_PROGRAM)
    fig = plot_trace(program, "RBRB")
    labels = [t.get_text() for t in fig.axes[0].get_yticklabels()]
    assert [label.split()[1] for label in labels] == run_program(program, "RBRB").path

    fig = plot_trace(parse_program(PAINT_LOOP), "B", max_steps=10)
    labels = [t.get_text() for t in fig.axes[0].get_yticklabels()]
    assert len(labels) == 11 and labels[-1] == "after 10"
    assert any(t.get_text() == "… 990 more steps" for t in fig.axes[0].texts)


def test_playground_widget_updates_on_change():
    pytest.importorskip("ipywidgets")
    from delta_core.render import playground_widget

    box = playground_widget(APPEND_G, tape="RB")
    code, tape, out = box.children
    assert "accepted" in out.outputs[0]["data"]["text/html"]
    code.value = "START start\n    NEXT end\nEND end"
    page = out.outputs[0]["data"]["text/html"]
    assert "DSL Parse Error: Line 1: START nodes must have a colon" in page
    code.value = LITERAL_END
    assert "Unknown node: END" in out.outputs[0]["data"]["text/html"]


def _playground_parts(program_text, tape):
    pytest.importorskip("ipywidgets")
    from delta_core.render import playground_widget

    code, tape_box, out = playground_widget(program_text, tape=tape).children

    def page():
        assert len(out.outputs) == 1  # replaced at each change, never appended to
        return out.outputs[0]["data"]["text/html"]

    return code, tape_box, page


def _images(page):
    return re.findall(r"src='data:image/png;base64,([^']+)'", page)


def test_playground_redraws_verdict_trace_and_pictures_when_the_tape_changes():
    # What a live kernel does on each keystroke in the tape box: the observer sets Output.outputs.
    code, tape_box, page = _playground_parts(EXAMPLE_PROGRAM, "RBRB")
    before = page()
    assert "accepted</b>" in before and len(_images(before)) == 2
    tape_box.value = "RBR"
    after = page()
    assert "rejected</b> (Routed to NONE)" in after and "accepted</b>" not in after
    assert all(a != b for a, b in zip(_images(before), _images(after)))  # graph path and tape plot redrawn
    assert after.count("<tr>") == 1 + len(trace_program(parse_program(EXAMPLE_PROGRAM), "RBR"))


def test_playground_redraws_when_the_program_changes():
    code, tape_box, page = _playground_parts(EXAMPLE_PROGRAM, "RBRB")
    before = page()
    code.value = EXAMPLE_PROGRAM.replace("[EMPTY] end", "[EMPTY] NONE")
    after = page()
    assert "accepted</b>" in before and "rejected</b> (Routed to NONE)" in after
    assert _images(before)[0] != _images(after)[0]


def test_playground_shows_a_parse_error_as_its_line_message_and_recovers():
    code, tape_box, page = _playground_parts(APPEND_G, "RB")
    code.value = APPEND_G.replace("PAINTER_GREEN g:", "PAINTER_GREEN g")
    error = page()
    assert "Line 3: PAINTER_GREEN nodes must have a colon" in error
    assert "Traceback" not in error and not _images(error)
    tape_box.value = "B"  # the tape still reacts while the program is broken
    assert "Line 3:" in page()
    code.value = APPEND_G
    assert "accepted</b>" in page() and len(_images(page())) == 2


def test_playground_shows_an_unexpected_error_instead_of_raising(monkeypatch):
    import delta_core.render as render

    code, tape_box, page = _playground_parts(APPEND_G, "RB")

    def broken(*args, **kwargs):
        raise RuntimeError("drawing failed")

    monkeypatch.setattr(render, "draw_program", broken)
    tape_box.value = "RRB"  # an exception here would reach only the kernel's log in a live session
    assert "Playground error: RuntimeError: drawing failed" in page()


def test_summarize_reports_parse_errors_and_verdicts():
    from delta_core.render import summarize

    assert summarize(APPEND_G, "RB") == "accepted; final tape 'RBG'; path start → g → end"
    assert summarize("START start:\n  NEXT end\nEND end", "").startswith("parse error: Line 1:")
    loop = summarize(PAINT_LOOP, "B")
    assert loop.startswith(
        f"rejected ({MAX_ITERATIONS_REASON}); final tape 'BRRRRRRRRRRR…RRRRRRRRRRRR' (1000 colours)"
    )
    assert "(1000 entries)" in loop
