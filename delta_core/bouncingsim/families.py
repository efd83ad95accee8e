"""Seeded scene generators: the families A, B, C, D, F, G, H, I, their composites, and the splits.

`generate_scene("AB", level=2, seed=7)` always returns the same scene. Letters (spec B.2):

| letter | name | what varies |
|---|---|---|
| A | ROTOBJ | the ball spins |
| B | ROTBOX | the container spins (time-varying at levels 3-4) |
| C | MOVBOX | the container translates (sin1d, then Lissajous) |
| D | GRAVITY | constant gravity, tilted at levels 3-4 |
| F | MULTIBOX | 2-6 containers that overlap; the ball starts in container 0 |
| G | MULTIOBJ | 2-9 balls in one large container |
| H | periodic | a centred ball shuttling along an edge normal (levels 0-2; also AH, BH, ABH) |
| I | periodic | a centred ball bouncing vertically between horizontal edges |

A multi-letter family (e.g. "AB", "CDF") is a composite: ranges are merged and each letter adds its
mechanism (spec B.2, "Composites"). Numbers are rounded as the reference writes them (centres,
positions and diameters to integers; velocities, radii, spins and gravity to 2 decimals) *before* the
oracle runs, so the prompt shows exactly what is simulated.

Decisions where the reference's behaviour is undocumented (see book/differences.md):
- H and I start the ball exactly at the centre (the reference adds a random offset, which breaks the
  periodicity the family is named for); I uses only N = 6, 10, 14 sides, the N with horizontal edges.
- C's Lissajous path starts at phase 0 on both axes (no jump at t = 0).
- F's containers overlap as in the reference; the prompt says that every wall is solid from both sides.

Explained in notebooks/06_bouncingsim.ipynb.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

from .oracle import DT, VALIDATION_DT, simulate
from .scene import WORLD_CENTRE, WORLD_SIZE, Ball, Container, Path, Scene

__all__ = [
    "FAMILIES", "LEVELS", "LEVEL_NAMES", "SINGLE_FAMILIES", "PERIODIC_COMPOSITES", "Split", "SPLITS",
    "GenerationConfig", "generate_scene", "validate_scene", "check_family",
]

SINGLE_FAMILIES = ("A", "B", "C", "D", "F", "G")  # the six published single-skill families
FAMILIES = {"A": "ROTOBJ", "B": "ROTBOX", "C": "MOVBOX", "D": "GRAVITY", "F": "MULTIBOX", "G": "MULTIOBJ",
            "H": "PERIODIC_SHUTTLE", "I": "PERIODIC_VERTICAL"}
LEVEL_NAMES = ("basic", "easy", "medium", "hard", "extreme")
PERIODIC_COMPOSITES = ("H", "AH", "BH", "ABH")  # the reference's valid H composites without E
BASE_DIAMETER = 300.0


@dataclass(frozen=True)
class Level:
    """One row of the level table (spec B.2 / the paper's Table 2)."""

    speed: tuple[float, float]
    ball_radius: float
    diameter_factor: float
    ball_sides: tuple[int, int]


LEVELS = (
    Level((200, 400), 40, 1.5, (3, 4)),
    Level((400, 600), 35, 1.4, (5, 6)),
    Level((600, 800), 30, 1.3, (6, 7)),
    Level((800, 1000), 25, 1.2, (7, 8)),
    Level((1000, 1200), 20, 1.0, (8, 10)),
)
A_CONTAINER_SIDES = ((3, 4), (3, 5), (3, 6), (3, 7), (3, 7))
A_SPIN = ((0.1, 0.2), (0.2, 0.5), (0.5, 1.0), (1.0, 2.0), (2.0, 2.5))  # ball spin, rad/s
B_SPIN = ((0.1, 0.2), (0.2, 0.5), (0.5, 1.0), (1.0, 1.5), (2.0, 3.0))  # container spin, rad/s
B_SPIN_AMP = 0.4  # levels 3-4: omega(t) = w + 0.4 w sin(t)
C_PATH = ((0, 10, 0.1), (20, 40, 0.5), (40, 60, 1.0), (60, 90, 0.6), (90, 120, 0.6))  # amplitude lo, hi, freq
C_LISSAJOUS_FY = 0.9
D_GRAVITY = (100.0, 1000.0, 10000.0, 10000.0, 10000.0)  # magnitude; levels 3-4 tilt it by up to 120 degrees
F_CONTAINERS = (2, 2, 3, 4, 6)
F_DISTANCE = (250.0, 280.0)
G_BALLS = ((2, 2), (3, 3), (4, 5), (5, 6), (7, 9))
H_SIDES = (6, 8, 10)
H_SPEED = (200.0, 300.0, 400.0)
I_SIDES = (6, 10, 14)  # N = 2 (mod 4): the polygons with horizontal top and bottom edges
I_PERIOD = (9.6, 7.6, 5.6, 3.6, 1.6)  # seconds, per level
I_SPEED = (20.0, 60.0)


def _params(letter: str, level: int) -> dict:
    """Speed range, ball radius, diameter factor and side ranges of one letter at one level."""
    row = LEVELS[level]
    p = {"speed": row.speed, "radius": row.ball_radius, "factor": (row.diameter_factor,) * 2,
         "ball_sides": row.ball_sides, "box_sides": row.ball_sides}
    if letter == "A":
        p["box_sides"] = A_CONTAINER_SIDES[level]
        if level >= 3:
            p.update(speed=(600, 800), radius=30)
        if level == 4:
            p["ball_sides"] = (8, 8)
    elif letter == "B" and level == 4:
        p.update(radius=25, factor=(0.8, 0.8))
    elif letter == "G":
        p.update(radius=20, factor=(2.5, 2.5), ball_sides=(3, 6), box_sides=(3, 6))
    return p


def _merge(letters: str, level: int) -> dict:
    """Composite ranges: min of lows, max of highs; the smallest ball radius (spec B.2)."""
    ps = [_params(ch, level) for ch in letters if ch in SINGLE_FAMILIES]
    span = lambda key: (min(p[key][0] for p in ps), max(p[key][1] for p in ps))  # noqa: E731
    return {"speed": span("speed"), "radius": min(p["radius"] for p in ps), "factor": span("factor"),
            "ball_sides": span("ball_sides"), "box_sides": span("box_sides")}


def check_family(family: str, level: int) -> str:
    """Normalise and validate a family name ("ba" -> "AB"); raise ValueError with the rule."""
    if not isinstance(family, str) or not family:
        raise ValueError(f"family={family!r}: give letters from {''.join(FAMILIES)}, e.g. 'A' or 'AB'")
    letters = "".join(sorted(set(family.upper())))
    unknown = set(letters) - set(FAMILIES)
    if unknown:
        raise ValueError(f"family={family!r}: unknown letters {sorted(unknown)}; known: {''.join(FAMILIES)} "
                         "(E, irregular shapes, is not implemented: the reference simulates it as a regular polygon)")
    if isinstance(level, bool) or not isinstance(level, int) or not 0 <= level < len(LEVELS):
        raise ValueError(f"level={level!r}: must be an integer in 0..{len(LEVELS) - 1} ({', '.join(LEVEL_NAMES)})")
    if "H" in letters:
        if letters not in PERIODIC_COMPOSITES:
            raise ValueError(f"family={family!r}: H combines only as {PERIODIC_COMPOSITES}")
        if level > 2:
            raise ValueError(f"family={family!r}, level={level}: H exists only at levels 0-2")
    if "I" in letters and letters != "I":
        raise ValueError(f"family={family!r}: I does not combine with other letters")
    return letters


@dataclass(frozen=True)
class GenerationConfig:
    """How scenes are drawn and checked.

    `validate` runs the reference's numerical sanity check: the scene is simulated at dt 1/3000 and
    1/4000, and a ball more than `max_integrator_gap` px apart at t = 0.5, 1, 1.5 s rejects it.
    """

    validate: bool = True
    max_integrator_gap: float = 15.0  # px, the reference's threshold
    max_retries: int = 500  # redraws before giving up (the reference's generate.py)

    def __post_init__(self) -> None:
        if not self.max_integrator_gap > 0:
            raise ValueError(f"max_integrator_gap={self.max_integrator_gap}: must be > 0 (px)")
        if self.max_retries < 1:
            raise ValueError(f"max_retries={self.max_retries}: must be >= 1")


def generate_scene(family: str, level: int, seed: int, config: GenerationConfig = GenerationConfig()) -> Scene:
    """A scene of `family` at `level` (0 basic ... 4 extreme); the same arguments give the same scene."""
    letters = check_family(family, level)
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise ValueError(f"seed={seed!r}: must be an integer")
    for attempt in range(config.max_retries):
        rng = random.Random(f"bouncingsim:{letters}:{level}:{seed}:{attempt}")
        scene = _draw(letters, level, rng, seed)
        if validate_scene(scene, config) is None:
            return scene
    raise RuntimeError(f"no valid {letters} scene at level {level} for seed {seed} in {config.max_retries} attempts")


def validate_scene(scene: Scene, config: GenerationConfig = GenerationConfig()) -> str | None:
    """Why a scene is rejected, or None. Checks, as the reference does: balls do not overlap (gap of
    5 px), each ball sits inside its container's inradius - radius - 5, and (if `config.validate`) the
    two integrators agree within `max_integrator_gap` px."""
    balls = scene.balls
    for i, a in enumerate(balls):
        for b in balls[i + 1:]:
            if math.dist(a.position, b.position) < a.radius + b.radius + 5:
                return "balls overlap"
        host = min(scene.containers, key=lambda c: math.dist(c.center, a.position))
        if math.dist(host.center, a.position) > host.inradius - a.radius - 5 + 1e-9:
            return "ball outside its container"
    if config.validate:
        times = (0.5, 1.0, 1.5)
        fine, coarse = simulate(scene, times, DT), simulate(scene, times, VALIDATION_DT)
        for frame_f, frame_c in zip(fine.positions, coarse.positions):
            if any(math.dist(p, q) > config.max_integrator_gap for p, q in zip(frame_f, frame_c)):
                return "integrators disagree"
    return None


# ---------------------------------------------------------------------------------------------------
# Drawing one candidate scene


def _velocity(rng: random.Random, speed: tuple[float, float]) -> tuple[float, float]:
    direction = rng.uniform(0, 2 * math.pi)
    magnitude = round(rng.uniform(*speed), 2)
    return round(magnitude * math.cos(direction), 2), round(magnitude * math.sin(direction), 2)


def _round_xy(p: tuple[float, float]) -> tuple[float, float]:
    return float(round(p[0])), float(round(p[1]))


def _draw(letters: str, level: int, rng: random.Random, seed: int) -> Scene:
    if letters == "I":
        return _draw_i(level, rng, seed)
    if "H" in letters:
        return _draw_h(letters, level, rng, seed)
    p = _merge(letters, level)
    single = len(letters) == 1
    diameter = lambda: float(round(BASE_DIAMETER * rng.uniform(*p["factor"])))  # noqa: E731

    # Containers: one at the centre, or F's ring of overlapping extras.
    centres = [WORLD_CENTRE]
    if "F" in letters:
        for _ in range(F_CONTAINERS[level] - 1):
            angle, dist = rng.uniform(0, 2 * math.pi), rng.uniform(*F_DISTANCE)
            centres.append(_round_xy((WORLD_CENTRE[0] + dist * math.cos(angle), WORLD_CENTRE[1] + dist * math.sin(angle))))
    containers = [dict(center=c, sides=rng.randint(*p["box_sides"]), diameter=diameter()) for c in centres]
    for c in containers:  # keep every container inside the world (the reference caps the ring distance)
        r = c["diameter"] / 2
        c["center"] = tuple(min(max(v, r), WORLD_SIZE - r) for v in c["center"])
    if "B" in letters:
        omega = round(rng.uniform(*B_SPIN[level]), 2)
        for c in containers:
            c["omega"] = omega
            if level >= 3:
                c["omega_amp"] = round(B_SPIN_AMP * omega, 2)
    if "C" in letters:
        path = _c_path(level, rng, single)
        for c in containers:
            c["path"] = path
    gravity = _gravity(level, rng) if "D" in letters else (0.0, 0.0)

    # Balls.
    n_balls = rng.randint(*G_BALLS[level]) if "G" in letters else 1
    spin_all = "G" in letters
    balls = []
    for k in range(n_balls):
        host = containers[k % len(containers)]
        if single:
            # spec B.2: single-family scenes spawn near the centre, +-2 radius per axis; G spreads its balls
            if "G" in letters:
                pos = _free_spot(rng, host, p["radius"], balls, spread=0.85 * host["diameter"] / 2)
            else:
                off = 2 * p["radius"]
                pos = (host["center"][0] + rng.uniform(-off, off), host["center"][1] + rng.uniform(-off, off))
        else:
            # composites: the first ball in each container sits exactly at its centre, the others at
            # 0.15-0.85 of the base radius 150
            pos = host["center"] if k < len(containers) else _free_spot(rng, host, p["radius"], balls, spread=0.85 * 150)
        ball = dict(position=_round_xy(pos), velocity=_velocity(rng, p["speed"]), radius=float(p["radius"]),
                    sides=rng.randint(*p["ball_sides"]))
        if "A" in letters and (k == 0 or spin_all):
            ball.update(rotates=True, angular_velocity=round(rng.uniform(*A_SPIN[level]), 2))
        balls.append(ball)
    return Scene(containers=tuple(Container(**c) for c in containers), balls=tuple(Ball(**b) for b in balls),
                 gravity=gravity, family=letters, level=level, seed=seed)


def _free_spot(rng: random.Random, host: dict, radius: float, placed: list[dict], spread: float) -> tuple[float, float]:
    """A point in `host` at least 2 radii + 20 px from every placed ball (200 tries, as the reference)."""
    inradius = host["diameter"] / 2 * math.cos(math.pi / host["sides"])
    reach = max(0.0, min(spread, inradius - radius - 6))
    pos = host["center"]
    for _ in range(200):
        angle, dist = rng.uniform(0, 2 * math.pi), rng.uniform(0.15 * reach, reach)
        pos = (host["center"][0] + dist * math.cos(angle), host["center"][1] + dist * math.sin(angle))
        if all(math.dist(pos, b["position"]) >= radius + b["radius"] + 20 for b in placed):
            break
    return pos  # if none fits, validate_scene rejects the scene and a new attempt is drawn


def _c_path(level: int, rng: random.Random, single: bool) -> Path | None:
    lo, hi, freq = C_PATH[level]
    if single:
        if level <= 2:
            amplitude = rng.randint(lo, hi)
            return Path("sin1d", float(amplitude), freq) if amplitude else None  # no path when 0
        amplitude = float(rng.randint(lo, hi))
        return Path("lissajous", amplitude, freq, amplitude_y=amplitude, freq_y=C_LISSAJOUS_FY)
    # composites (spec B.2): sin1d 0.3 Hz (levels <= 1) or 0.6 Hz, Lissajous at level 3, piecewise at 4
    amplitude = round(rng.uniform(max(lo, 1), hi), 2)
    if level == 3:
        return Path("lissajous", amplitude, 0.6, amplitude_y=amplitude, freq_y=C_LISSAJOUS_FY)
    if level == 4:
        return Path("piecewise", amplitude, segments=6)
    return Path("sin1d", amplitude, 0.3 if level <= 1 else 0.6)


def _gravity(level: int, rng: random.Random) -> tuple[float, float]:
    g = D_GRAVITY[level]
    if level < 3:
        return (0.0, -g)
    theta = rng.uniform(-math.radians(120), math.radians(120))
    return round(g * math.sin(theta), 2), round(-g * math.cos(theta), 2)


def shuttle_period(container: Container, ball: Ball, speed: float) -> float:
    """Period of a centred ball bouncing face-to-face between two parallel walls: out, across, back."""
    gap = container.inradius - ball.radius * math.cos(math.pi / ball.sides)
    return 4 * gap / speed


def _draw_h(letters: str, level: int, rng: random.Random, seed: int) -> Scene:
    n, speed = H_SIDES[level], H_SPEED[level]
    normal = math.pi / n  # the outward normal of the edge between vertices 0 and 1
    container = Container(center=WORLD_CENTRE, sides=n, diameter=BASE_DIAMETER)
    ball = Ball(position=WORLD_CENTRE, velocity=(round(speed * math.cos(normal), 2), round(speed * math.sin(normal), 2)),
                radius=25.0, sides=n)
    period = shuttle_period(container, ball, speed)
    omega = round(2 * math.pi / period, 2)  # A and B turn once per period
    if "B" in letters:
        container = Container(center=WORLD_CENTRE, sides=n, diameter=BASE_DIAMETER, omega=omega)
    if "A" in letters:
        ball = Ball(position=ball.position, velocity=ball.velocity, radius=ball.radius, sides=n,
                    rotates=True, angular_velocity=omega)
    return Scene(containers=(container,), balls=(ball,), family=letters, level=level, seed=seed,
                 meta={"period": round(period, 4)})


def _draw_i(level: int, rng: random.Random, seed: int) -> Scene:
    n = rng.choice(I_SIDES)
    speed = round(rng.uniform(*I_SPEED), 2)
    radius = LEVELS[level].ball_radius
    target = I_PERIOD[level]
    # period = 4 (a_c - a_b) / speed with a = R cos(pi / n): solve for the container's circumradius
    apothem = radius * math.cos(math.pi / n) + speed * target / 4
    container = Container(center=WORLD_CENTRE, sides=n, diameter=float(round(2 * apothem / math.cos(math.pi / n))))
    ball = Ball(position=WORLD_CENTRE, velocity=(0.0, speed * rng.choice((-1, 1))), radius=float(radius), sides=n)
    return Scene(containers=(container,), balls=(ball,), family="I", level=level, seed=seed,
                 meta={"period": round(shuttle_period(container, ball, speed), 4)})


# ---------------------------------------------------------------------------------------------------
# Splits (spec B.3), as data: (family, level) cells for training and for testing.


@dataclass(frozen=True)
class Split:
    """A generalisation axis: which (family, level) cells train and which test."""

    name: str
    train: tuple[tuple[str, int], ...]
    test: tuple[tuple[str, int], ...]
    note: str = ""

    def __post_init__(self) -> None:
        for family, level in self.train + self.test:
            check_family(family, level)
        overlap = set(self.train) & set(self.test)
        if overlap:
            raise ValueError(f"Split {self.name!r}: cells {sorted(overlap)} are in both train and test")


SPLITS = {
    "exploratory": Split(
        "exploratory",
        train=tuple((f, 0) for f in SINGLE_FAMILIES),
        test=tuple((f, level) for level in (1, 2, 3, 4) for f in SINGLE_FAMILIES),
        note="train on the basic level (large containers, sparse collisions); test on smaller, denser levels",
    ),
    "compositional": Split(
        "compositional", train=(("A", 0), ("B", 0)), test=(("AB", 0),),
        note="reference README: ROTOBJ and ROTBOX separately, then ROTOBJ_ROTBOX",
    ),
    "compositional_paper": Split(
        "compositional_paper",
        train=tuple((f, 0) for f in SINGLE_FAMILIES),
        test=(("BC", 0), ("CD", 0), ("FG", 0)),
        note="the paper's Fig. 9c pairs: ROT_BOX+MOV_BOX, MOV_BOX+GRAVITY, MULTI_BOX+MULTI_OBJ",
    ),
    "transformative": Split(
        "transformative",
        train=(("B", 0), ("C", 0), ("D", 0)),
        test=tuple(("H", level) for level in (0, 1, 2)) + tuple(("I", level) for level in range(5)),
        note="train on ROTBOX, MOVBOX, GRAVITY; test on periodic trajectories (H, I)",
    ),
}
