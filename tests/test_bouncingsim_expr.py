"""The BouncingSim expression language (delta_core.bouncingsim.expr): parsing, errors, compilation,
and scoring of compiled programs through the real sandbox against the Box2D oracle."""

from __future__ import annotations

import math

import pytest

from delta_core.bouncingsim import Ball, Container, Scene, generate_scene, make_record, score_program
from delta_core.bouncingsim.expr import ExprError, compile_program, evaluate, parse
from delta_core.bouncingsim.oracle import TIMESTAMPS, ground_truth

FREE = "x = x0 + vx * t + gx * t * t / 2\ny = y0 + vy * t + gy * t * t / 2"


@pytest.mark.parametrize(
    "text, fragment",
    [
        ("x = x0\ny = y0 +\n", "line 2: expected a number"),
        ("x = x0\n\n# comment\ny = q0", "line 4: unknown name 'q0'"),
        ("x = x0\ny = foo(t)", "line 2: unknown function 'foo'"),
        ("x = fold(x0, 1)\ny = y0", "line 1: fold() takes 3 arguments, got 2"),
        ("x = x0", "never assigns y"),
        ("t = 3\nx = t\ny = t", "line 1: 't' is a built-in name"),
        ("x = x0 $ 2\ny = y0", "line 1: unexpected character '$'"),
        ("x = (x0 + 1\ny = y0", "line 1: expected ')'"),
        ("x = x0 y0\ny = y0", "line 1: unexpected 'y0' after a complete expression"),
        ("x x0\ny = y0", "line 1: expected `name = expression`"),
        ("x = h\nh = 1\ny = 0", "line 1: unknown name 'h'"),
        ("x = sqrt\ny = 0", "line 1: function 'sqrt' needs arguments"),
    ],
)
def test_parse_errors_name_the_line(text, fragment):
    with pytest.raises(ExprError, match=None) as info:
        parse(text)
    assert fragment in str(info.value)


def test_parse_limits():
    with pytest.raises(ExprError, match="more than 12 assignments"):
        parse("\n".join(f"v{i} = 1" for i in range(13)) + "\nx = 0\ny = 0")
    with pytest.raises(ExprError, match="nested deeper"):
        parse("x = " + "(" * 50 + "1" + ")" * 50 + "\ny = 0")
    with pytest.raises(ExprError, match="characters"):
        parse("x = 1\ny = 1\n" + "#" * 3000)


def test_precedence_and_functions():
    scene = generate_scene("A", 0, 1)
    prog = "p = 2 + 3 * 4 - -1\nq = (2 + 3) * 4 / 2\nx = p + min(1, 2) + max(1, 2) + abs(-3) + sqrt(16)\ny = q + sin(0) + cos(0)"
    assert evaluate(prog, scene, 0.5) == [[15 + 1 + 2 + 3 + 4, 10 + 0 + 1]]


@pytest.mark.parametrize("u, expected", [(5, 5), (12, 8), (21, 1), (-3, 3), (0, 0), (10, 10), (20, 0)])
def test_fold_reflects_into_the_interval(u, expected):
    scene = generate_scene("A", 0, 1)
    assert evaluate(f"x = fold({u}, 0, 10)\ny = fold(1, 5, 5)", scene, 0.0) == [[expected, 5.0]]


def _open_scene(gravity=(0.0, 0.0)) -> Scene:
    """A ball that never reaches a wall within 1.5 s: free flight is the exact answer."""
    return Scene(containers=(Container(center=(750.0, 750.0), sides=8, diameter=1400.0),),
                 balls=(Ball(position=(700.0, 760.0), velocity=(120.5, 60.25), radius=20.0, sides=5),),
                 gravity=gravity, family="test")


@pytest.mark.parametrize("gravity", [(0.0, 0.0), (30.0, -100.0)])
def test_free_flight_matches_the_oracle_through_the_sandbox(gravity):
    scene = _open_scene(gravity)
    truth = ground_truth(scene)
    for t, expected in zip(TIMESTAMPS, truth):
        got = evaluate(FREE, scene, t)[0]
        assert math.dist(got, expected[0]) < 0.5, (t, got, expected)  # Box2D works in float32
    record = make_record(scene)
    report = score_program(compile_program(FREE, scene), record["ground_truth"])
    assert report.all_pass == 1.0 and report.pass_rate == 1.0
    wrong = "x = x0 - vx * t\ny = y0 - vy * t"
    assert score_program(compile_program(wrong, scene), record["ground_truth"]).all_pass == 0.0


def test_fold_is_exact_on_vertical_bounce_scenes():
    """A centred hexagon bouncing between the horizontal edges of a hexagon (the I family's geometry, at
    400 px/s: five bounces in 1.5 s); folding y into the gap a - b is exact."""
    program = "h = a - b\nx = x0 + vx * t\ny = fold(y0 + vy * t, cy - h, cy + h)"
    scene = Scene(containers=(Container(center=(750.0, 750.0), sides=6, diameter=300.0),),
                  balls=(Ball(position=(750.0, 750.0), velocity=(0.0, 400.0), radius=25.0, sides=6),), family="test")
    record = make_record(scene)
    report = score_program(compile_program(program, scene), record["ground_truth"])
    assert report.all_pass == 1.0
    free = score_program(compile_program(FREE, scene), record["ground_truth"])
    assert free.all_pass == 0.0  # free flight leaves the container


def test_every_ball_and_moving_containers():
    scene = generate_scene("CG", 1, 2)
    out = evaluate("x = cx + dx\ny = cy + dy", scene, 0.25)
    assert len(out) == len(scene.balls)
    c = scene.containers[0]
    px, py, _ = c.pose(0.25)
    assert out[0] == [round(px, 2), round(py, 2)]


def test_runtime_errors_fail_timestamps_not_the_scorer():
    scene = _open_scene()
    record = make_record(scene, timestamps=(0.1, 0.2))
    report = score_program(compile_program("x = x0 / (t - t)\ny = sqrt(0 - 1 - t)", scene), record["ground_truth"])
    assert report.pass_rate == 0.0 and all(o != "passed" for o in report.outcomes)


def test_compiled_source_is_self_contained():
    source = compile_program(FREE, _open_scene())
    assert source.startswith("def predict_position(t):")
    namespace: dict = {}
    exec(source, namespace)  # noqa: S102
    assert set(namespace) - {"__builtins__"} == {"predict_position"}
