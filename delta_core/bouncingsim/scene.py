"""Scenes: the containers, balls and gravity that one BouncingSim task is about.

A scene is plain data (frozen dataclasses of numbers) that round-trips through JSON with
`scene_to_dict` / `scene_from_dict`. Units follow the reference (spec B.1): 1 metre = 1 pixel, a
1500 x 1500 world with its centre at (750, 750), +x right, +y up, angles in radians, counter-clockwise.

Explained in notebooks/06_bouncingsim.ipynb.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from typing import Any

__all__ = ["Path", "Container", "Ball", "Scene", "scene_to_dict", "scene_from_dict", "WORLD_SIZE", "WORLD_CENTRE"]

WORLD_SIZE = 1500.0  # the scene is WORLD_SIZE x WORLD_SIZE "metres" (= pixels, PPM 1)
WORLD_CENTRE = (750.0, 750.0)
MAX_POLYGON_SIDES = 16  # pybox2d's b2_maxPolygonVertices (upstream Box2D has 8)
PATH_KINDS = ("sin1d", "lissajous", "piecewise")


def _finite(name: str, *values: float) -> None:
    for v in values:
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
            raise ValueError(f"{name}={values!r}: every value must be a finite number")


@dataclass(frozen=True)
class Path:
    """A container's translation, as a displacement from its centre at time t.

    - `sin1d`: `amplitude * sin(2 pi freq t)` along `axis` ("x" or "y");
    - `lissajous`: `(amplitude * sin(2 pi freq t), amplitude_y * sin(2 pi freq_y t + phase_y))`;
    - `piecewise`: a triangle wave along x between 0 and `amplitude`, `segments` rises and falls per second.

    `phase_y` is 0 in every scene we generate, so each container starts at its stated centre. The
    reference uses pi/2, which makes the container jump by `amplitude_y` in its first step (see the
    differences page); `phase_y=math.pi/2` reproduces that.
    """

    kind: str
    amplitude: float
    freq: float = 0.0
    axis: str = "x"
    amplitude_y: float = 0.0
    freq_y: float = 0.0
    phase_y: float = 0.0
    segments: int = 0

    def __post_init__(self) -> None:
        if self.kind not in PATH_KINDS:
            raise ValueError(f"Path.kind={self.kind!r}: must be one of {PATH_KINDS}")
        _finite("Path amplitudes/frequencies", self.amplitude, self.freq, self.amplitude_y, self.freq_y, self.phase_y)
        if self.axis not in ("x", "y"):
            raise ValueError(f"Path.axis={self.axis!r}: must be 'x' or 'y'")
        if self.kind == "piecewise" and self.segments < 1:
            raise ValueError(f"Path.segments={self.segments}: a piecewise path needs at least 1 segment")

    def displacement(self, t: float) -> tuple[float, float]:
        """(dx, dy) from the container's centre at time t."""
        if self.kind == "sin1d":
            d = self.amplitude * math.sin(2 * math.pi * self.freq * t)
            return (d, 0.0) if self.axis == "x" else (0.0, d)
        if self.kind == "lissajous":
            return (
                self.amplitude * math.sin(2 * math.pi * self.freq * t),
                self.amplitude_y * math.sin(2 * math.pi * self.freq_y * t + self.phase_y),
            )
        phase = (t * self.segments) % 1.0  # piecewise: 0 -> amplitude -> 0 once per 1/segments s
        return (self.amplitude * (1.0 - abs(1.0 - 2.0 * phase)), 0.0)


@dataclass(frozen=True)
class Container:
    """A kinematic regular polygon whose walls are solid from both sides.

    Vertex i sits at angle `rotation + i * 2 pi / sides` on the circle of radius `diameter / 2`
    around `center`. It turns at `omega + omega_amp * sin(t)` rad/s (`omega_amp` 0: constant) and
    moves along `path` if it has one.
    """

    center: tuple[float, float]
    sides: int
    diameter: float
    rotation: float = 0.0  # initial orientation, radians (the reference stores degrees; every scene uses 0)
    omega: float = 0.0
    omega_amp: float = 0.0
    path: Path | None = None

    def __post_init__(self) -> None:
        _finite("Container.center", *self.center)
        _finite("Container numbers", self.diameter, self.rotation, self.omega, self.omega_amp)
        if not 3 <= self.sides <= MAX_POLYGON_SIDES:
            raise ValueError(f"Container.sides={self.sides}: must be in 3..{MAX_POLYGON_SIDES}")
        if self.diameter <= 0:
            raise ValueError(f"Container.diameter={self.diameter}: must be > 0")

    @property
    def radius(self) -> float:
        return self.diameter / 2

    @property
    def inradius(self) -> float:
        return self.radius * math.cos(math.pi / self.sides)

    @property
    def driven(self) -> bool:
        """Whether the oracle steers it every step (a path or a time-varying spin) rather than
        letting Box2D integrate a constant angular velocity."""
        return self.path is not None or self.omega_amp != 0.0

    def pose(self, t: float) -> tuple[float, float, float]:
        """(x, y, angle) prescribed at time t."""
        dx, dy = self.path.displacement(t) if self.path else (0.0, 0.0)
        # angle = integral of omega + omega_amp sin(s) ds from 0 to t
        angle = self.rotation + self.omega * t + self.omega_amp * (1.0 - math.cos(t))
        return self.center[0] + dx, self.center[1] + dy, angle


@dataclass(frozen=True)
class Ball:
    """A dynamic regular polygon (no circles), perfectly elastic and frictionless.

    It spins only if `rotates` (the A family): otherwise Box2D keeps its angle fixed at 0.
    """

    position: tuple[float, float]
    velocity: tuple[float, float]
    radius: float
    sides: int
    angular_velocity: float = 0.0
    rotates: bool = False

    def __post_init__(self) -> None:
        _finite("Ball numbers", *self.position, *self.velocity, self.radius, self.angular_velocity)
        if not 3 <= self.sides <= MAX_POLYGON_SIDES:
            raise ValueError(f"Ball.sides={self.sides}: must be in 3..{MAX_POLYGON_SIDES}")
        if self.radius <= 0:
            raise ValueError(f"Ball.radius={self.radius}: must be > 0")
        if self.angular_velocity and not self.rotates:
            raise ValueError("Ball.angular_velocity is set but rotates=False: a fixed-rotation ball cannot spin")


@dataclass(frozen=True)
class Scene:
    """Everything the oracle simulates. `family` and `level` only label it."""

    containers: tuple[Container, ...]
    balls: tuple[Ball, ...]
    gravity: tuple[float, float] = (0.0, 0.0)
    family: str = ""
    level: int = 0
    seed: int = 0
    meta: dict[str, Any] = field(default_factory=dict, compare=False)

    def __post_init__(self) -> None:
        if not self.containers or not self.balls:
            raise ValueError("a Scene needs at least one container and one ball")
        _finite("Scene.gravity", *self.gravity)


def scene_to_dict(scene: Scene) -> dict[str, Any]:
    """Plain JSON-able dict (tuples become lists)."""
    return json.loads(json.dumps(asdict(scene)))


def scene_from_dict(d: dict[str, Any]) -> Scene:
    """Inverse of `scene_to_dict`."""
    containers = tuple(
        Container(**{**c, "center": tuple(c["center"]), "path": Path(**c["path"]) if c.get("path") else None})
        for c in d["containers"]
    )
    balls = tuple(Ball(**{**b, "position": tuple(b["position"]), "velocity": tuple(b["velocity"])}) for b in d["balls"])
    return Scene(containers=containers, balls=balls, gravity=tuple(d.get("gravity", (0.0, 0.0))),
                 family=d.get("family", ""), level=d.get("level", 0), seed=d.get("seed", 0),
                 meta=dict(d.get("meta", {})))
