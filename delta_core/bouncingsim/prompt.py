"""The task prompt and the dataset record (spec B.4), in this project's own words.

The model must write `predict_position(t)` returning `[[x1, y1], [x2, y2], ...]`, one pair per ball,
each rounded to 2 decimals, for t in seconds. `make_record` pairs the prompt with the ground truth
from the oracle (15 timestamps, 0.1 ... 1.5 s) in the JSON shape the reward functions read.

Explained in notebooks/06_bouncingsim.ipynb.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from .oracle import TIMESTAMPS, ground_truth
from .scene import Container, Path, Scene, scene_to_dict
from .scoring import TOLERANCE

__all__ = ["build_prompt", "make_record"]

HEADER = """## Predicting polygon motion

Write one Python function, `predict_position(t)`, that returns where every ball is at time t (seconds),
computed from the initial conditions below. Each call must stand alone: no state kept between calls.
Prefer reasoning in closed form to stepping time in coarse increments.

Mechanics to use: constant-acceleration kinematics between impacts; an impact reflects the velocity,
v' = v - 2 (v . n) n, for the wall's unit normal n; balls and walls are polygons with real size, so a
ball touches a wall with its corners and faces, not its centre. Units are metres, seconds and radians;
+x points right and +y points up.

Rules: no global variables; import nothing except `math`; no input, output, printing or randomness;
round every coordinate with round(value, 2) and turn -0.0 into 0.0. Expect the balls to hit the walls
and bounce back."""


def _fmt(v: float, digits: int = 2) -> str:
    return f"{v:.{digits}f}".rstrip("0").rstrip(".") if digits else str(round(v))


def _motion(c: Container) -> list[str]:
    lines = []
    if c.omega_amp:
        lines.append(f"turns with angular velocity omega(t) = {c.omega} + {c.omega_amp} * sin(t) rad/s")
    elif c.omega:
        lines.append(f"turns at a constant angular velocity of {c.omega} rad/s (counter-clockwise)")
    if c.path:
        lines.append(_path_text(c.path))
    return lines or ["does not move"]


def _path_text(p: Path) -> str:
    if p.kind == "sin1d":
        return (f"translates along the {p.axis}-axis: offset {p.amplitude} * sin(2*pi*{p.freq}*t) m "
                f"(amplitude {p.amplitude} m, {p.freq} Hz)")
    if p.kind == "lissajous":
        phase = f" + {round(p.phase_y, 4)}" if p.phase_y else ""
        return (f"follows a Lissajous path: offset ({p.amplitude} * sin(2*pi*{p.freq}*t), "
                f"{p.amplitude_y} * sin(2*pi*{p.freq_y}*t{phase})) m")
    return (f"oscillates along the x-axis in straight segments: offset rises linearly from 0 to {p.amplitude} m "
            f"and back, {p.segments} times per second")


def build_prompt(scene: Scene, timestamps: Sequence[float] = TIMESTAMPS) -> str:
    """The user turn for one scene (the reference's "function" setting)."""
    parts = [HEADER, "", "### Scene", "", "#### Containers"]
    for i, c in enumerate(scene.containers):
        parts.append(f"- Container {i}: regular polygon with {c.sides} sides, circumradius {_fmt(c.radius)} m, "
                     f"centre at ({_fmt(c.center[0], 0)}, {_fmt(c.center[1], 0)}), initial orientation "
                     f"{c.rotation:.3f} rad; it " + "; it ".join(_motion(c)) + ".")
    parts += ["", "#### Balls"]
    for i, b in enumerate(scene.balls):
        spin = (f"initial angular velocity {b.angular_velocity} rad/s (it may spin)" if b.rotates
                else "no rotation (its orientation stays fixed)")
        parts.append(f"- Ball {i}: regular polygon with {b.sides} sides, circumradius {_fmt(b.radius)} m, initial "
                     f"position ({_fmt(b.position[0], 0)}, {_fmt(b.position[1], 0)}), initial velocity "
                     f"({b.velocity[0]}, {b.velocity[1]}) m/s, {spin}.")
    gx, gy = scene.gravity
    parts += ["", "### Physics", ""]
    parts.append(f"Gravity is constant: ({gx}, {gy}) m/s^2." if (gx or gy) else "There is no gravity.")
    parts.append("Every collision is perfectly elastic (restitution 1) and frictionless; balls have density 1 "
                 "and collide with each other as well as with walls.")
    parts += ["", "### Conventions", ""]
    parts += [
        "- Containers are regular convex polygons; the radius given is the circumradius.",
        "- Orientation 0 puts the first vertex on the +x side of the centre; positive angles turn counter-clockwise.",
        "- Containers are driven, not pushed: impacts never change how they move.",
        "- Every wall is solid from both sides. Containers may overlap; a ball bounces off any wall it meets, "
        "including the walls of a container it is not in.",
        "- Ball positions are the centres of the polygons.",
    ]
    n = len(scene.balls)
    parts += ["", "### Task", "",
              f"There {'is 1 ball' if n == 1 else f'are {n} balls'}. Think step by step, then give your answer: "
              "your reasoning, followed by one ```python code block with the function.",
              "", "### Output", "",
              "```python\ndef predict_position(t):\n    # ...\n    return [[x1, y1], ...]  # one [x, y] per ball, in order, "
              "rounded to 2 decimals\n```",
              f"It will be called at t = {', '.join(_fmt(t) for t in timestamps)} s."]
    return "\n".join(parts)


def make_record(scene: Scene, index: int = 0, timestamps: Sequence[float] = TIMESTAMPS,
                tolerance: float = TOLERANCE) -> dict[str, Any]:
    """One dataset row: the prompt, the oracle's ground truth (plain JSON) and the scene itself."""
    if not math.isfinite(tolerance) or tolerance <= 0:
        raise ValueError(f"tolerance={tolerance}: must be a positive number of pixels (the reference uses 50)")
    positions = ground_truth(scene, timestamps)
    return {
        "messages": [{"role": "user", "content": build_prompt(scene, timestamps)}],
        "ground_truth": {"timestamps": list(timestamps), "positions": positions, "tolerance": tolerance},
        "dataset": "bouncingsim",
        "id": f"{scene.family}_{scene.level}_{index}",
        "difficulty": scene.level,
        "timestamps": list(timestamps),
        "tolerance": tolerance,
        "scene": scene_to_dict(scene),
    }
