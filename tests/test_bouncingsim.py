"""BouncingSim: scenes, the Box2D oracle, generators, splits, prompt, scoring and rewards."""

import doctest
import json
import math

import pytest

from delta_core.bouncingsim import (
    SPLITS, TIMESTAMPS, Ball, Container, GenerationConfig, Path, Sandbox, SandboxLimits, Scene, build_prompt,
    generate_scene, make_record, scene_from_dict, scene_to_dict, simulate, simulate_per_timestamp,
)
from delta_core.bouncingsim import families, oracle, scoring
from delta_core.bouncingsim.families import check_family, shuttle_period, validate_scene
from delta_core.bouncingsim.oracle import DT, steps_for
from delta_core.bouncingsim.scoring import binary_reward, check_distance, dense_reward, extract_program

CENTRE = (750.0, 750.0)
NO_CHECK = GenerationConfig(validate=False)


def one_ball(container=None, **ball):
    ball = {"position": CENTRE, "velocity": (300.0, 120.0), "radius": 40.0, "sides": 4} | ball
    return Scene(containers=(container or Container(CENTRE, 6, 450.0),), balls=(Ball(**ball),))


# -- oracle ---------------------------------------------------------------------------------------


def test_timestamps_and_step_counts():
    assert TIMESTAMPS == (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0, 1.1, 1.2, 1.3, 1.4, 1.5)
    assert [steps_for(t) for t in (0.1, 0.3, 1.5)] == [400, 1200, 6000]
    with pytest.raises(ValueError):
        steps_for(-0.1)


@pytest.mark.parametrize("family", ["A", "B", "C", "D", "F", "G"])
def test_one_pass_equals_per_timestamp_resimulation(family):
    scene = generate_scene(family, 3, seed=1, config=NO_CHECK)
    times = (0.1, 0.45, 0.8)  # a few timestamps keep the 8x-slower baseline cheap
    assert simulate(scene, times).positions == simulate_per_timestamp(scene, times).positions


def test_free_flight_before_any_wall():
    scene = one_ball(Container(CENTRE, 8, 1400.0))
    for t, ((x, y),) in zip(TIMESTAMPS[:5], simulate(scene).positions):
        # Box2D works in float32: ~0.1 px of rounding drift over a few thousand steps
        assert math.isclose(x, 750 + 300 * t, abs_tol=0.2) and math.isclose(y, 750 + 120 * t, abs_tol=0.2)


def test_gravity_is_a_parabola():
    scene = Scene(containers=(Container(CENTRE, 8, 1400.0),), balls=(Ball(CENTRE, (100.0, 200.0), 20.0, 5),),
                  gravity=(0.0, -100.0))
    ((x, y),) = simulate(scene, (0.5,)).positions[0]
    assert math.isclose(x, 800, abs_tol=0.2) and math.isclose(y, 750 + 100 - 0.5 * 100 * 0.25, abs_tol=0.3)


def test_collisions_are_elastic():
    scene = one_ball()
    trajectory = simulate(scene, (1.5,))
    assert trajectory.positions[0] != ((750 + 450.0, 750 + 180.0),)  # it did bounce
    # a single frame carries no velocity; re-run with Box2D to read it
    world, _, balls = oracle._build(scene)
    for step in range(1, 6001):
        world.Step(DT, 100, 100)
    assert math.isclose(balls[0].linearVelocity.length, math.hypot(300, 120), rel_tol=1e-3)


def test_walls_are_solid_from_outside():
    """A ball outside a container bounces off its wall (chain loops are two-sided)."""
    box = Container((750.0, 750.0), 4, 200.0)  # diamond with vertices at +-100 on the axes
    outer = Container(CENTRE, 8, 1400.0)
    ball = Ball((500.0, 750.0), (300.0, 0.0), 20.0, 4)
    scene = Scene(containers=(outer, box), balls=(ball,))
    ((x, _),) = simulate(scene, (1.0,)).positions[0]
    assert x < 650  # it came back; through the wall it would be at 800


def test_overlapping_containers_shape_the_trajectory():
    """F: walls of another container cut through the ball's container and deflect the ball."""
    home = Container(CENTRE, 4, 450.0)
    intruder = Container((950.0, 750.0), 4, 300.0)  # its left vertex reaches x = 800, inside `home`
    ball = Ball(CENTRE, (300.0, 0.0), 20.0, 4)
    alone = simulate(Scene(containers=(home,), balls=(ball,)), (0.3,)).positions[0][0]
    both = simulate(Scene(containers=(home, intruder), balls=(ball,)), (0.3,)).positions[0][0]
    assert math.dist(alone, both) > 50


def test_lissajous_phase_decision():
    """Our paths start at the stated centre; the reference's pi/2 phase jumps by amplitude_y at once."""
    ours = Container(CENTRE, 6, 450.0, path=Path("lissajous", 60.0, 0.6, amplitude_y=60.0, freq_y=0.9))
    reference = Container(CENTRE, 6, 450.0,
                          path=Path("lissajous", 60.0, 0.6, amplitude_y=60.0, freq_y=0.9, phase_y=math.pi / 2))
    first_step = (DT,)
    (x0, y0, _), = simulate(one_ball(ours), first_step).container_poses[0]
    (x1, y1, _), = simulate(one_ball(reference), first_step).container_poses[0]
    assert math.dist((x0, y0), CENTRE) < 0.2  # one step of smooth motion
    assert abs(y1 - 750) > 1.0  # the reference's jump (Box2D clamps it to 2 px a step)
    assert "sin(2*pi*0.9*t)" in build_prompt(one_ball(ours)) and "+ 1.5708" in build_prompt(one_ball(reference))


def test_driven_container_follows_its_path():
    path = Path("sin1d", 40.0, 0.5)
    scene = one_ball(Container(CENTRE, 6, 450.0, path=path, omega=0.5, omega_amp=0.2))
    for t, poses in zip((0.3, 1.2), simulate(scene, (0.3, 1.2)).container_poses):
        x, y, angle = poses[0]
        ex, ey, eangle = scene.containers[0].pose(t)
        assert math.isclose(x, ex, abs_tol=1e-2) and math.isclose(y, ey, abs_tol=1e-2)
        assert math.isclose(angle, eangle, abs_tol=1e-3)


def test_h_is_periodic():
    scene = generate_scene("H", 0, seed=0, config=NO_CHECK)
    assert scene.balls[0].position == CENTRE
    period = shuttle_period(scene.containers[0], scene.balls[0], math.hypot(*scene.balls[0].velocity))
    ((x, y),) = simulate(scene, (period,)).positions[0]
    assert math.dist((x, y), CENTRE) < 2.0


def test_i_moves_vertically_only():
    scene = generate_scene("I", 2, seed=3)
    assert scene.containers[0].sides % 4 == 2
    assert all(abs(x - 750) < 1e-6 for ((x, _),) in simulate(scene).positions)


# -- generators and splits ------------------------------------------------------------------------


@pytest.mark.parametrize("family", ["A", "B", "C", "D", "F", "G", "H", "I", "AB", "CD", "FG", "BH"])
def test_generation_is_seeded_and_valid(family):
    a = generate_scene(family, 0, seed=5)
    assert a == generate_scene(family, 0, seed=5)
    assert validate_scene(a, NO_CHECK) is None
    assert scene_from_dict(json.loads(json.dumps(scene_to_dict(a)))) == a


def test_family_mechanisms():
    assert generate_scene("A", 1, 0).balls[0].rotates
    b = generate_scene("B", 3, 0, NO_CHECK).containers[0]
    assert b.omega > 0 and math.isclose(b.omega_amp, round(0.4 * b.omega, 2))
    assert generate_scene("C", 4, 0, NO_CHECK).containers[0].path.kind == "lissajous"
    assert generate_scene("D", 2, 0, NO_CHECK).gravity == (0.0, -10000.0)
    assert len(generate_scene("F", 4, 0, NO_CHECK).containers) == 6
    assert 7 <= len(generate_scene("G", 4, 0, NO_CHECK).balls) <= 9
    fg = generate_scene("FG", 1, 0, NO_CHECK)
    assert fg.balls[0].position == fg.containers[0].center  # composites: first ball exactly centred
    assert generate_scene("A", 0, 1) != generate_scene("A", 0, 2)


def test_family_names_are_checked():
    assert check_family("ba", 0) == "AB"
    for family, level in [("E", 0), ("X", 0), ("H", 3), ("CH", 0), ("AI", 0), ("A", 5), ("", 0)]:
        with pytest.raises(ValueError):
            check_family(family, level)


def test_splits_are_data():
    assert set(SPLITS) >= {"exploratory", "compositional", "transformative"}
    assert SPLITS["compositional"].train == (("A", 0), ("B", 0)) and SPLITS["compositional"].test == (("AB", 0),)
    assert {f for f, _ in SPLITS["transformative"].test} == {"H", "I"}
    with pytest.raises(ValueError, match="both train and test"):
        families.Split("bad", train=(("A", 0),), test=(("A", 0),))


def test_generation_config_is_validated():
    with pytest.raises(ValueError):
        GenerationConfig(max_integrator_gap=0)
    with pytest.raises(ValueError):
        GenerationConfig(max_retries=0)


# -- prompt and record ----------------------------------------------------------------------------


def test_prompt_describes_the_scene():
    scene = generate_scene("CD", 1, seed=2, config=NO_CHECK)
    text = build_prompt(scene)
    assert "predict_position(t)" in text and "import nothing except `math`" in text
    assert "Container 0: regular polygon" in text and "Ball 0: regular polygon" in text
    assert f"({scene.gravity[0]}, {scene.gravity[1]}) m/s^2" in text
    assert "solid from both sides" in text and "sin(2*pi*0.3*t)" in text


def test_record_is_plain_json():
    record = make_record(generate_scene("G", 0, seed=0, config=NO_CHECK), index=3)
    assert json.loads(json.dumps(record)) == record
    gt = record["ground_truth"]
    assert len(gt["positions"]) == 15 and all(len(frame) == len(record["scene"]["balls"]) for frame in gt["positions"])
    assert record["id"] == "G_0_3" and gt["tolerance"] == 50.0


# -- scoring --------------------------------------------------------------------------------------


def test_doctests():
    assert doctest.testmod(scoring).failed == 0


def test_check_distance():
    assert check_distance([[0, 0]], [[30, 40]]) == 50.0
    with pytest.raises(ValueError):
        check_distance([], [[0, 0]])
    with pytest.raises(ValueError):
        check_distance([[0, 0]], [[0, 0], [1, 1]])


def test_rewards_free_flight_vs_oracle():
    """A predictor that ignores walls passes until the first bounce; the oracle's own answers pass all."""
    scene = one_ball()
    gt = make_record(scene)["ground_truth"]
    free_flight = "```python\ndef predict_position(t):\n    return [[round(750 + 300 * t, 2), round(750 + 120 * t, 2)]]\n```"
    perfect = f"```python\nA = {gt['positions']!r}\ndef predict_position(t):\n    return A[round(t * 10) - 1]\n```"
    metrics = {}
    dense = dense_reward([free_flight, perfect, "no code at all"], [gt, json.dumps(gt), gt],
                         log_metric=metrics.__setitem__)
    assert 0 < dense[0] < 1 and dense[1:] == [1.0, 0.0]
    assert binary_reward([free_flight, [{"role": "assistant", "content": perfect}]], [gt, gt]) == [0.0, 1.0]
    assert metrics["binary_reward"] == pytest.approx(1 / 3)


def test_extract_program_takes_the_last_block():
    assert extract_program("```python\na = 1\n```\ntext\n```\nb = 2\n```") == "b = 2"
    assert extract_program("plain") == "plain"


def test_per_call_timeout_keeps_earlier_answers():
    with Sandbox(workers=1, limits=SandboxLimits(timeout_s=0.2)) as sb:
        run = sb.run("def predict_position(t):\n    while t > 0.25:\n        pass\n    return [[1, 2]]\n",
                     (0.1, 0.2, 0.3, 0.4))
    assert run.outputs[:2] == ([[1.0, 2.0]], [[1.0, 2.0]]) and run.errors[2:] == ("timed out", "timed out")


# --- survivors of the hand mutation run (issue 22): the scoring rule of spec B.5 at its boundaries -----


def _run(*outputs):
    from delta_core.bouncingsim.sandbox import ProgramRun

    return ProgramRun(outputs=tuple(outputs), errors=(None,) * len(outputs), end="completed")


def test_a_mean_distance_of_exactly_50_px_passes_and_50_001_fails():
    # a 30-40-50 triangle: distance exactly 50.0 <= 50 passes; 40.001 -> 50.0008, rounded 50.001 > 50 fails
    assert scoring.outcomes(_run([[0, 0]]), [[[30, 40]]]) == ["passed"]
    assert scoring.outcomes(_run([[0, 0]]), [[[30, 40.001]]]) == ["failed: mean distance 50.001 > 50.0"]
    # two balls, mean (50 + 50) / 2 = 50 exactly: passes
    assert scoring.outcomes(_run([[0, 0], [100, 100]]), [[[30, 40], [130, 140]]]) == ["passed"]


def test_extra_balls_fail_the_timestamp():
    # spec B.5: the answer must list exactly the scene's balls; an extra ball is not ignored
    with pytest.raises(ValueError, match="expected 1 balls, got 2"):
        check_distance([[0, 0], [5, 5]], [[0, 0]])
    assert scoring.outcomes(_run([[0, 0], [5, 5]]), [[[0, 0]]]) == ["failed: expected 1 balls, got 2"]


class _FakeSandbox:
    """Answers every timestamp with the same positions, without running anything."""

    def __init__(self, positions):
        self.positions = positions

    def run_many(self, jobs):
        return [_run(*[self.positions] * len(ts)) for _, ts in jobs]


def test_the_ground_truths_tolerance_is_used():
    # 20 px off: passes at the default 50 px, fails with the record's tolerance of 10 px, passes again at 20
    gt = {"timestamps": [0.1, 0.2], "positions": [[[20.0, 0.0]], [[0.0, 0.0]]]}
    sandbox = _FakeSandbox([[0.0, 0.0]])
    assert scoring.score_program("", gt, sandbox).outcomes == ("passed", "passed")
    strict = scoring.score_program("", {**gt, "tolerance": 10.0}, sandbox)
    assert strict.outcomes == ("failed: mean distance 20.0 > 10.0", "passed")
    assert strict.pass_rate == 0.5 and strict.all_pass == 0.0
    assert scoring.score_program("", json.dumps({**gt, "tolerance": 20.0}), sandbox).all_pass == 1.0


def test_an_empty_report_scores_zero_and_reports_are_frozen():
    import dataclasses

    empty = scoring.ScoreReport((), _run())
    assert (empty.pass_rate, empty.all_pass) == (0.0, 0.0)
    report = scoring.ScoreReport(("passed", "timed out", "passed", "failed: x"), _run())
    assert (report.pass_rate, report.all_pass) == (0.5, 0.0)
    with pytest.raises(dataclasses.FrozenInstanceError):
        report.outcomes = ("passed",)


@pytest.mark.parametrize("gt", [
    {"timestamps": [0.1]},  # no positions
    {"positions": [[[0.0, 0.0]]]},  # no timestamps
    [0.1, 0.2],  # not a dict
    {"timestamps": [], "positions": []},  # nothing to score
    {"timestamps": [0.1, 0.2], "positions": [[[0.0, 0.0]]]},  # 2 timestamps, 1 position list
])
def test_a_malformed_ground_truth_is_refused(gt):
    with pytest.raises(ValueError, match="ground_truth"):
        scoring.score_program("", gt, _FakeSandbox([[0.0, 0.0]]))
