"""The model prompt for a problem: one user turn (spec A.2.4), in our own words.

Sections, in the reference's order: the DSL overview and game mechanics, the objective, the DSL
syntax, the node reference, the syntax rules, an example, and the task (the problem's `criteria`).
The `output_check` variant (any test with `check_output=True`, i.e. transducers) explains that the
final tape is checked too; `simple` is for acceptors. As in the reference, neither `available_nodes`
nor `description` reaches the prompt.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # only for annotations: base.Problem builds its prompt with this module
    from .base import Problem

__all__ = ["prompt_variant", "build_prompt"]

FENCE = "```"

OVERVIEW = """# Manufactoria Solution DSL

A Manufactoria factory processes robots. Every robot carries a tape: a queue of coloured symbols.
The factory reads the tape, may add colours to it, and finally lets the robot out (accept) or
throws it away (reject). You build the factory as a small program in the DSL described below.

## Game Mechanics

- Colours: B (blue) and R (red) are the primary colours; Y (yellow) and G (green) are used in
  advanced puzzles.
- A tape is written as a string of colour letters, read left to right, such as `RBRR`; `""` is the
  empty tape.
- Pull: a puller node reads the colour at the front (left end) of the tape and removes it.
- Paint: a painter node adds one colour at the end (right end) of the tape.
- Route: each node sends the robot to a next node; a puller chooses it by the colour it read.
"""

OBJECTIVE_SIMPLE = """## Objective

- A robot is **accepted** when it reaches the END node.
- A robot is **rejected** when it is routed to NONE (or down a branch with no route), or when it
  never stops (an infinite loop).
"""

OBJECTIVE_OUTPUT_CHECK = """## Objective (output check)

- A robot is **accepted** when it reaches the END node **and** its final tape meets the criteria.
- A robot is **rejected** when it is routed to NONE, when it never stops (an infinite loop), or
  when it reaches END with a final tape that does not meet the criteria.
"""

SYNTAX = f"""## DSL Syntax

Every program has exactly one START node, with id `start`, and one END node, with id `end`:

{FENCE}manufactoria
START start:
    NEXT <node_id>

END end
{FENCE}

Write your final solution inside a {FENCE}manufactoria ... {FENCE} block.
"""

NODES = f"""## Node Types

### Pullers

{FENCE}manufactoria
PULLER_RB <node_id>:
    [R] <node_id>      # front is R: remove it, go here
    [B] <node_id>      # front is B: remove it, go here
    [EMPTY] <node_id>  # tape is empty, or its front is Y or G (nothing is removed)

PULLER_YG <node_id>:
    [Y] <node_id>      # front is Y: remove it, go here
    [G] <node_id>      # front is G: remove it, go here
    [EMPTY] <node_id>  # tape is empty, or its front is R or B (nothing is removed)
{FENCE}

A branch you leave out sends the robot to NONE, which rejects it.

### Painters

{FENCE}manufactoria
PAINTER_RED <node_id>:
    NEXT <node_id>     # add R at the end of the tape, then go here

PAINTER_BLUE <node_id>:
    NEXT <node_id>

PAINTER_YELLOW <node_id>:
    NEXT <node_id>

PAINTER_GREEN <node_id>:
    NEXT <node_id>
{FENCE}
"""


def _rules(output_check: bool) -> str:
    end_rule = (
        "`NONE` rejects the robot; `end` accepts it if its final tape meets the puzzle criteria, "
        "otherwise it is rejected."
        if output_check
        else "`NONE` rejects the robot; `end` accepts it."
    )
    return f"""## Syntax Rules

1. Node ids are unique and use only letters, digits and underscores.
2. `#` starts a comment that runs to the end of the line.
3. Indent every route under its node the same way (four spaces).
4. Colours are upper-case letters: R, B, Y, G.
5. {end_rule}
6. Put your final code between triple backticks.
"""


EXAMPLE = f"""## Example

A factory that accepts every tape whose first colour is red (anything else goes to NONE):

{FENCE}manufactoria
START start:
    NEXT entry

PULLER_RB entry:
    [R] end

END end
{FENCE}
"""

TASK = """# Task

Design a factory, written in this DSL, with the following functionality:

{criteria}"""


def prompt_variant(problem: Problem) -> str:
    """`output_check` when any test checks the final tape, else `simple` (the reference's rule)."""
    return "output_check" if any(case.check_output for case in problem.test_cases) else "simple"


def build_prompt(problem: Problem) -> str:
    output_check = prompt_variant(problem) == "output_check"
    sections = [
        OVERVIEW,
        OBJECTIVE_OUTPUT_CHECK if output_check else OBJECTIVE_SIMPLE,
        SYNTAX,
        NODES,
        _rules(output_check),
        EXAMPLE,
        TASK.format(criteria=problem.criteria),
    ]
    return "\n".join(sections)
