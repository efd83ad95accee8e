"""The DSL quirks that decide rewards (spec A.1 / D.2), one test each, plus parser error messages."""

import pytest

from delta_core.dsl import MAX_ITERATIONS_REASON, DSLSyntaxError, NodeType, parse_program, run_program

ACCEPT_ALL = "START start:\n    NEXT end\nEND end"


def run(text, tape):
    return run_program(parse_program(text), tape)


def parse_error(text) -> DSLSyntaxError:
    with pytest.raises(DSLSyntaxError) as info:
        parse_program(text)
    return info.value


# --- the route indentation rule ---------------------------------------------------------------


def test_routes_indented_by_four_spaces_or_a_tab_parse():
    four = parse_program("START start:\n    NEXT end\nEND end")
    tab = parse_program("START start:\n\tNEXT end\nEND end")
    assert four.nodes["start"].routes == tab.nodes["start"].routes == (("NEXT", "end"),)


@pytest.mark.parametrize("indent", [" ", "  ", "   "])
def test_routes_indented_by_one_to_three_spaces_fail(indent):
    err = parse_error(f"START start:\n{indent}NEXT end\nEND end")
    # The short-indented line is not a route, so START is left with none.
    assert err.line == 1 and "exactly one NEXT route" in str(err)


def test_puller_route_with_three_spaces_is_read_as_a_declaration():
    err = parse_error("START start:\n    NEXT p\nPULLER_RB p:\n   [R] end\nEND end")
    assert str(err).startswith("Line 4: Invalid node declaration")
    assert "indented by 4 spaces" in err.hint


def test_program_indented_four_spaces_throughout_fails():
    text = "    START start:\n        NEXT p\n    PULLER_RB p:\n        [R] end\n    END end"
    # Only line 1 loses its indent to strip(), so the later declarations look like START's routes.
    # The bad route (line 3) is reported at START's declaration line, as every bad route is.
    err = parse_error(text)
    assert str(err) == (
        "Line 1: Invalid route for START node 'start': 'PULLER_RB p:' "
        "(hint: the route on line 3: START and painter nodes take one route 'NEXT target')"
    )


def test_blank_and_comment_lines_between_routes_are_harmless():
    text = "START start:\n    NEXT p\nPULLER_RB p:\n    [R] end\n\n  # a comment\n    [B] NONE\nEND end"
    assert parse_program(text).nodes["p"].routes == (("R", "end"), ("B", "NONE"))


# --- the colon rule and the start/end ids ------------------------------------------------------


def test_end_must_not_have_a_colon():
    assert "END nodes should not have a colon" in str(parse_error("START start:\n    NEXT end\nEND end:"))


@pytest.mark.parametrize("decl", ["START start", "PULLER_RB p", "PAINTER_RED p"])
def test_other_nodes_must_have_a_colon(decl):
    text = f"START start:\n    NEXT end\nEND end\n{decl}\n    NEXT end"
    if decl.startswith("START"):
        text = f"{decl}\n    NEXT end\nEND end"
    assert "nodes must have a colon" in str(parse_error(text))


def test_colon_inside_a_comment_does_not_count():
    assert "must have a colon" in str(parse_error("START start # note: x\n    NEXT end\nEND end"))
    parse_program("START start:\n    NEXT end\nEND end # note: fine")


def test_space_before_colon_is_an_invalid_declaration():
    err = parse_error("START start :\n    NEXT end\nEND end")
    assert "Invalid node declaration" in str(err) and err.hint.endswith("write 'START start:'")


def test_start_and_end_must_use_their_ids():
    assert "START node must have ID 'start'" in str(parse_error("START begin:\n    NEXT end\nEND end"))
    assert "END node must have ID 'end'" in str(parse_error("START start:\n    NEXT finish\nEND finish"))


def test_declaration_order_is_free_and_keywords_are_case_sensitive():
    assert run("END end\nSTART start:\n    NEXT end", "R").finished
    assert "Invalid node declaration" in str(parse_error("start start:\n    NEXT end\nEND end"))


def test_duplicate_ids_and_missing_nodes():
    assert "Duplicate node ID" in str(parse_error(ACCEPT_ALL + "\nEND end"))
    assert "START" in str(parse_error("END end"))
    assert "END" in str(parse_error("START start:\n    NEXT start"))


def test_unicode_ids_and_crlf_work():
    text = "START start:\r\n    NEXT café\r\nPAINTER_RED café:\r\n    NEXT end\r\nEND end\r\n"
    assert run(text, "B").final_tape == "BR"


def test_empty_program():
    assert str(parse_error("  \n# only a comment\n")) == "Empty program"


def test_bare_fences_are_dropped_but_tagged_fences_are_not():
    assert run("```\n" + ACCEPT_ALL + "\n```", "R").finished
    err = parse_error("```manufactoria\n" + ACCEPT_ALL + "\n```")
    assert err.line == 1 and "Invalid node declaration" in str(err) and "fence" in err.hint


def test_lines_are_numbered_after_a_leading_bare_fence_is_dropped():
    # The reference drops the fence lines first and numbers what is left, so the END declaration on
    # the text's 4th line is its "Line 3".
    err = parse_error("```\nSTART start:\n    NEXT end\nEND end:\n```")
    assert str(err) == "Line 3: END nodes should not have a colon (hint: write 'END end')"
    # Blank and comment lines after the fence keep their numbers; the text is stripped before the
    # fence test, so a fence after leading blank lines is still the first line.
    err = parse_error("\n\n  ```\n# a comment\n\nSTART start\n    NEXT end\nEND end\n```\n")
    assert str(err) == "Line 3: START nodes must have a colon (hint: write 'START start:')"


def test_a_trailing_fence_or_a_tagged_fence_does_not_shift_line_numbers():
    err = parse_error("START start:\n    NEXT end\nEND end:\n```")
    assert str(err) == "Line 3: END nodes should not have a colon (hint: write 'END end')"
    err = parse_error("```manufactoria\nSTART start:\n    NEXT end\nEND end:\n```")
    assert str(err).startswith("Line 1: Invalid node declaration: '```manufactoria'")


def test_puller_conditions_are_checked_per_pair():
    assert "Invalid condition 'Y'" in str(parse_error("START start:\n    NEXT p\nPULLER_RB p:\n    [Y] end\nEND end"))
    parse_program("START start:\n    NEXT p\nPULLER_YG p:\n    [Y] end\n    [G] end\n    [EMPTY] end\nEND end")


@pytest.mark.parametrize(
    "text, message",
    [
        (  # a condition of the other pair
            "START start:\n    NEXT p\nPULLER_RB p:\n    [R] end\n    [Y] q1\nEND end",
            ("Line 3: Invalid condition 'Y' for PULLER_RB "
             "(hint: the route on line 5: PULLER_RB accepts only R, B, EMPTY)"),
        ),
        (  # not a colour at all
            "START start:\n    NEXT q\nPULLER_YG q:\n    [EMPTY] end\n\n    [X] end\nEND end",
            ("Line 3: Invalid condition 'X' for PULLER_YG "
             "(hint: the route on line 6: PULLER_YG accepts only Y, G, EMPTY)"),
        ),
        (  # a malformed puller route
            "START start:\n    NEXT p\nPULLER_RB p:\n    [R]end\nEND end",
            ("Line 3: Invalid route for PULLER_RB node 'p': '[R]end' "
             "(hint: the route on line 4: puller routes look like '[R] target')"),
        ),
        (  # a malformed START route
            "START start:\n    GO end\nEND end",
            ("Line 1: Invalid route for START node 'start': 'GO end' "
             "(hint: the route on line 2: START and painter nodes take one route 'NEXT target')"),
        ),
        (  # a painter with a puller route
            "END end\nSTART start:\n    NEXT b\n# paint it blue\nPAINTER_BLUE b:\n    [B] end",
            ("Line 5: Invalid route for PAINTER_BLUE node 'b': '[B] end' "
             "(hint: the route on line 6: START and painter nodes take one route 'NEXT target')"),
        ),
        (  # both rules at once: numbered after the fence, reported at the header
            "```\nSTART start:\n    NEXT p\n\nPULLER_YG p:\n    [G] end\n    [R] end\nEND end\n```",
            ("Line 4: Invalid condition 'R' for PULLER_YG "
             "(hint: the route on line 6: PULLER_YG accepts only Y, G, EMPTY)"),
        ),
    ],
    ids=["other-pair", "not-a-colour", "malformed-puller-route", "malformed-start-route", "painter",
         "fenced"],
)
def test_a_bad_route_is_reported_at_its_nodes_declaration_line(text, message):
    err = parse_error(text)
    assert str(err) == message
    assert err.line == int(message.split(":")[0].removeprefix("Line "))


def test_start_and_painters_need_exactly_one_next():
    text = "START start:\n    NEXT p\nPAINTER_RED p:\n    NEXT end\n    NEXT start\nEND end"
    assert "PAINTER_RED node must have exactly one NEXT route" in str(parse_error(text))


def test_end_cannot_have_routes():
    # Not a route of a puller, START or painter: reported at the indented line itself.
    err = parse_error("START start:\n    NEXT end\nEND end\n    NEXT start")
    assert str(err) == "Line 4: END nodes cannot have routes (hint: unindent the next declaration)"


def test_undefined_reference_names_the_line_of_the_referencing_node():
    err = parse_error("START start:\n    NEXT p\nPULLER_RB p:\n    [R] nowhere\nEND end")
    assert str(err).startswith("Line 3: Node 'p' references undefined node 'nowhere'")


# --- execution ---------------------------------------------------------------------------------


def test_none_is_checked_before_lookup_so_a_node_named_none_is_unreachable():
    text = "START start:\n    NEXT NONE\nPAINTER_RED NONE:\n    NEXT end\nEND end"
    result = run(text, "B")
    assert (result.finished, result.final_tape, result.path, result.rejection_reason) == (
        False, "B", ["start", "NONE"], "Routed to NONE"
    )


def test_literal_END_target_parses_but_is_rejected_at_run_time():
    result = run("START start:\n    NEXT END\nEND end", "R")
    assert not result.finished and result.rejection_reason == "Unknown node: END"
    assert result.path == ["start", "END"]


def test_literal_END_target_runs_a_node_declared_END():
    result = run("START start:\n    NEXT END\nPAINTER_BLUE END:\n    NEXT end\nEND end", "R")
    assert result.finished and result.final_tape == "RB"


PULLER = "START start:\n    NEXT p\nPULLER_RB p:\n    [R] end\n{empty}END end"


def test_foreign_colour_takes_empty_without_consuming():
    result = run(PULLER.format(empty="    [EMPTY] q\nPAINTER_GREEN q:\n    NEXT end\n"), "YR")
    assert result.finished and result.final_tape == "YRG" and result.path == ["start", "p", "q", "end"]


@pytest.mark.parametrize("foreign", ["Y", "x", "é", " "])
def test_foreign_character_without_empty_route_goes_to_none_unconsumed(foreign):
    result = run(PULLER.format(empty=""), foreign + "R")
    assert (result.rejection_reason, result.final_tape) == ("Routed to NONE", foreign + "R")


def test_consumed_colour_without_route_goes_to_none_and_stays_consumed():
    result = run(PULLER.format(empty=""), "BR")
    assert (result.finished, result.final_tape, result.rejection_reason) == (False, "R", "Routed to NONE")


def test_empty_tape_takes_empty_route_or_none():
    assert run(PULLER.format(empty="    [EMPTY] end\n"), "").finished
    assert run(PULLER.format(empty=""), "").rejection_reason == "Routed to NONE"


def test_first_listed_duplicate_condition_wins_and_a_puller_may_have_no_routes():
    assert run("START start:\n    NEXT p\nPULLER_RB p:\n    [R] end\n    [R] NONE\nEND end", "R").finished
    assert run("START start:\n    NEXT p\nPULLER_RB p:\nEND end", "R").rejection_reason == "Routed to NONE"


def painter_chain(n):
    lines = ["START start:", "    NEXT p1"]
    for i in range(1, n + 1):
        lines += [f"PAINTER_RED p{i}:", f"    NEXT {'p' + str(i + 1) if i < n else 'end'}"]
    return "\n".join(lines + ["END end"])


def test_998_painters_accept_with_a_path_of_1000():
    result = run(painter_chain(998), "")
    assert result.finished and len(result.path) == 1000 and result.final_tape == "R" * 998


def test_999_painters_exceed_the_limit_keeping_what_was_painted():
    result = run(painter_chain(999), "B")
    assert not result.finished and result.rejection_reason == MAX_ITERATIONS_REASON
    assert len(result.path) == 1000 and result.final_tape == "B" + "R" * 999


def test_infinite_painter_loop_stops_after_999_paints():
    result = run("START start:\n    NEXT p\nPAINTER_YELLOW p:\n    NEXT p\nEND end", "")
    assert result.final_tape == "Y" * 999 and result.path == ["start"] + ["p"] * 999


def test_node_types_know_their_colours():
    assert NodeType.PULLER_YG.colours == ("Y", "G") and NodeType.PAINTER_GREEN.colours == ("G",)
    assert NodeType.PULLER_RB.is_puller and not NodeType.START.is_painter
