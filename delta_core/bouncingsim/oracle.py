"""The ground-truth oracle: Box2D with the reference's settings (spec B.1).

`simulate(scene)` steps ONE world from t = 0 and reads every ball's position at each requested time
as it passes (6,000 steps for t = 0.1 ... 1.5 s). The reference instead rebuilds the world and
re-simulates from 0 for every timestamp (48,000 steps); `simulate_per_timestamp` does exactly that and
is kept as the benchmark's baseline and as a check: both give identical positions, because a Box2D
world is deterministic and time t is always reached after exactly `round(t / dt)` steps.

Settings: dt = 1/4000 s, 100 velocity and 100 position iterations, `ClearForces` after every step,
`doSleep=True`. Containers are kinematic bodies with one closed chain loop (walls solid from both
sides); balls are bullet polygons with density 1, friction 0, restitution 1. A container with a path
or a time-varying spin is steered every step: t += dt, then its velocity is set to
(target pose at t - current pose) / dt, then the world steps, as in the reference.

Explained in notebooks/06_bouncingsim.ipynb.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from Box2D import b2

from .scene import Ball, Container, Scene

__all__ = ["DT", "TIMESTAMPS", "Trajectory", "simulate", "simulate_per_timestamp", "ground_truth", "steps_for"]

DT = 1 / 4000  # GROUND_TRUTH_TIME_STEP in the reference
VALIDATION_DT = 1 / 3000  # the reference's second integrator for its 15 px sanity check
VELOCITY_ITERATIONS = 100
POSITION_ITERATIONS = 100
TIMESTAMPS: tuple[float, ...] = tuple(round(0.1 * k, 1) for k in range(1, 16))  # 0.1 ... 1.5 s


def steps_for(t: float, dt: float = DT) -> int:
    """Number of steps that reach time t. The reference loops `while time < t: time += dt`, whose
    float sum can add one step; we count exactly (a step is 1/4000 s, under 0.3 px at 1200 m/s)."""
    if not (isinstance(t, (int, float)) and math.isfinite(t) and t >= 0):
        raise ValueError(f"t={t!r}: query times must be finite and >= 0")
    return round(t / dt)


def _polygon(radius: float, sides: int, rotation: float = 0.0) -> list[tuple[float, float]]:
    return [(radius * math.cos(rotation + 2 * math.pi * i / sides), radius * math.sin(rotation + 2 * math.pi * i / sides))
            for i in range(sides)]


def _build(scene: Scene) -> tuple[b2.world, list, list]:
    world = b2.world(gravity=scene.gravity, doSleep=True)
    boxes = []
    for c in scene.containers:
        body = world.CreateKinematicBody(position=c.center, angle=c.rotation)
        # vertex i at angle i * 2 pi / N in the body frame; the body angle carries `rotation`
        body.CreateFixture(shape=b2.chainShape(vertices_loop=_polygon(c.radius, c.sides)), friction=0.0, restitution=1.0)
        if not c.driven:
            body.angularVelocity = c.omega
        boxes.append(body)
    balls = []
    for b in scene.balls:
        body = world.CreateDynamicBody(position=b.position, angle=0.0, bullet=True, fixedRotation=not b.rotates)
        body.CreatePolygonFixture(vertices=_polygon(b.radius, b.sides), density=1.0, friction=0.0, restitution=1.0)
        body.linearVelocity = b.velocity
        if b.rotates:
            body.angularVelocity = b.angular_velocity
        balls.append(body)
    return world, boxes, balls


def _drive(containers: Sequence[Container], boxes: list, t: float, dt: float) -> None:
    for c, body in zip(containers, boxes):
        if c.driven:
            x, y, angle = c.pose(t)
            px, py = body.position
            body.linearVelocity = ((x - px) / dt, (y - py) / dt)
            body.angularVelocity = (angle - body.angle) / dt


@dataclass(frozen=True)
class Trajectory:
    """What one pass records, per requested time: ball centres and angles, container poses."""

    times: tuple[float, ...]
    positions: tuple[tuple[tuple[float, float], ...], ...]  # [time][ball] -> (x, y)
    ball_angles: tuple[tuple[float, ...], ...]  # [time][ball]
    container_poses: tuple[tuple[tuple[float, float, float], ...], ...]  # [time][container] -> (x, y, angle)

    def rounded(self) -> list[list[list[float]]]:
        """Positions rounded to 2 decimals, as nested lists: the ground truth."""
        return [[[round(x, 2), round(y, 2)] for x, y in frame] for frame in self.positions]


def simulate(scene: Scene, times: Sequence[float] = TIMESTAMPS, dt: float = DT) -> Trajectory:
    """One pass from t = 0 to max(times), recording each requested time as the world reaches it."""
    targets = sorted({steps_for(t, dt) for t in times})
    world, boxes, balls = _build(scene)
    snapshots: dict[int, tuple] = {}
    step = 0
    for target in targets:
        while step < target:
            step += 1
            _drive(scene.containers, boxes, step * dt, dt)
            world.Step(dt, VELOCITY_ITERATIONS, POSITION_ITERATIONS)
            world.ClearForces()
        snapshots[step] = _snapshot(balls, boxes)
    return _trajectory(times, [snapshots[steps_for(t, dt)] for t in times])


def simulate_per_timestamp(scene: Scene, times: Sequence[float] = TIMESTAMPS, dt: float = DT) -> Trajectory:
    """The reference's way: a fresh world simulated from t = 0 for every requested time."""
    frames = []
    for t in times:
        world, boxes, balls = _build(scene)
        for step in range(1, steps_for(t, dt) + 1):
            _drive(scene.containers, boxes, step * dt, dt)
            world.Step(dt, VELOCITY_ITERATIONS, POSITION_ITERATIONS)
            world.ClearForces()
        frames.append(_snapshot(balls, boxes))
    return _trajectory(times, frames)


def _snapshot(balls: list, boxes: list) -> tuple:
    return (
        tuple((float(b.position[0]), float(b.position[1])) for b in balls),
        tuple(float(b.angle) for b in balls),
        tuple((float(b.position[0]), float(b.position[1]), float(b.angle)) for b in boxes),
    )


def _trajectory(times: Sequence[float], frames: list[tuple]) -> Trajectory:
    return Trajectory(
        times=tuple(float(t) for t in times),
        positions=tuple(f[0] for f in frames),
        ball_angles=tuple(f[1] for f in frames),
        container_poses=tuple(f[2] for f in frames),
    )


def ground_truth(scene: Scene, times: Sequence[float] = TIMESTAMPS) -> list[list[list[float]]]:
    """Expected `[[x, y], ...]` per time (2 decimals), from one pass at the ground-truth dt."""
    return simulate(scene, times).rounded()


def ball_vertices(ball: Ball, position: tuple[float, float], angle: float) -> list[tuple[float, float]]:
    """World coordinates of a ball's polygon, for drawing."""
    return [(position[0] + x, position[1] + y) for x, y in _polygon(ball.radius, ball.sides, angle)]


def container_vertices(container: Container, pose: tuple[float, float, float]) -> list[tuple[float, float]]:
    """World coordinates of a container's polygon at a (x, y, angle) pose, for drawing."""
    return [(pose[0] + x, pose[1] + y) for x, y in _polygon(container.radius, container.sides, pose[2])]
