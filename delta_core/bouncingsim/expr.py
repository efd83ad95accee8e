"""A small expression language for BouncingSim programs, compiled into a sandboxed `predict_position`.

The CPU-scale transfer experiment (`delta_core.experiments.transfer_bouncingsim`) cannot ask a ~1M-parameter model for Python
physics code, so its policy writes a short program in this language instead. A program is a few
assignment lines; it must end up assigning `x` and `y`, the centre of a ball at time `t`:

    # free flight, folded into the square of half-width a - b around the container centre
    h = a - b
    x = fold(x0 + vx * t, cx - h, cx + h)
    y = fold(y0 + vy * t, cy - h, cy + h)

Grammar (one statement a line; blank lines and `#` comments are ignored):

    line := NAME '=' expr
    expr := term (('+' | '-') term)*        term := unary (('*' | '/') unary)*
    unary := '-' unary | atom               atom := NUMBER | NAME | NAME '(' expr (',' expr)* ')' | '(' expr ')'

Names a program may read (`SCENE_VARIABLES`), bound per ball from the scene:

| name | meaning |
|---|---|
| t | time, s |
| x0, y0, vx, vy | the ball's initial position (px) and velocity (px/s) |
| gx, gy | gravity, px/s^2 |
| cx, cy | the centre at t = 0 of the ball's container (the nearest one) |
| dx, dy | that container's displacement from its path at time t (0 when it does not move) |
| a | the container's inradius (centre to a wall), px |
| b | the ball's inradius (centre to a face), px |
| w | the container's angular velocity at t = 0, rad/s |
| pi | 3.14159... |

Functions (`FUNCTIONS`): `fold(u, lo, hi)` reflects u into [lo, hi] (a triangle wave: the position of
a point that moves with u and bounces elastically between lo and hi; the midpoint when hi <= lo),
`min`, `max`, `abs`, `sqrt`, `sin`, `cos`.

`compile_program(text, scene)` checks the program (`parse`, errors name the line) and writes a
self-contained Python `predict_position(t)` whose numbers are the scene's: the same program runs on
every ball of every scene. That source goes through the project's real sandbox and scorer
(`scoring.score_many`, the 50 px rule). A run-time error (a division by zero, `sqrt` of a negative
number, a non-finite result) fails that timestamp, as a crashing Python program would.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from .scene import Scene

__all__ = ["ExprError", "Program", "SCENE_VARIABLES", "FUNCTIONS", "MAX_LINES", "parse", "compile_program",
           "evaluate", "scene_bindings"]

SCENE_VARIABLES = ("t", "x0", "y0", "vx", "vy", "gx", "gy", "cx", "cy", "dx", "dy", "a", "b", "w", "pi")
FUNCTIONS = {"fold": 3, "min": 2, "max": 2, "abs": 1, "sqrt": 1, "sin": 1, "cos": 1}
MAX_LINES = 12
MAX_CHARS = 2000
MAX_DEPTH = 40  # nesting of parentheses / unary minus

_TOKEN = re.compile(r"\s*(?:(?P<num>\d+(?:\.\d*)?|\.\d+)|(?P<name>[A-Za-z_][A-Za-z_0-9]*)|(?P<op>[-+*/(),=]))")


class ExprError(ValueError):
    """A program that does not parse or does not fit the language; the message names the line."""


@dataclass(frozen=True)
class Program:
    """A checked program: its assignments in order, each right-hand side as a Python expression."""

    assignments: tuple[tuple[str, str], ...]  # (name, python expression over u_<names>)
    text: str

    @property
    def python_lines(self) -> list[str]:
        return [f"u_{name} = {expr}" for name, expr in self.assignments]


def _tokens(line: str, lineno: int) -> list[tuple[str, str, int]]:
    out, pos = [], 0
    while pos < len(line):
        if line[pos:].strip() == "":
            break
        m = _TOKEN.match(line, pos)
        if not m or m.end() == pos:
            raise ExprError(f"line {lineno}: unexpected character {line[pos:].lstrip()[:1]!r} at column {pos + 1}")
        kind = m.lastgroup
        out.append((kind, m.group(kind), m.start(kind) + 1))
        pos = m.end()
    return out


class _Parser:
    def __init__(self, tokens: list[tuple[str, str, int]], lineno: int, known: set[str]) -> None:
        self.toks, self.i, self.lineno, self.known, self.depth = tokens, 0, lineno, known, 0

    def error(self, message: str) -> ExprError:
        where = f" at column {self.toks[self.i][2]}" if self.i < len(self.toks) else " at the end of the line"
        return ExprError(f"line {self.lineno}: {message}{where}")

    def peek(self) -> tuple[str, str, int] | None:
        return self.toks[self.i] if self.i < len(self.toks) else None

    def take(self, value: str) -> None:
        tok = self.peek()
        if tok is None or tok[1] != value:
            raise self.error(f"expected {value!r}" + (f", found {tok[1]!r}" if tok else ""))
        self.i += 1

    def expr(self) -> str:
        left = self.term()
        while (tok := self.peek()) and tok[1] in "+-" and tok[0] == "op":
            self.i += 1
            left = f"({left} {tok[1]} {self.term()})"
        return left

    def term(self) -> str:
        left = self.unary()
        while (tok := self.peek()) and tok[1] in "*/" and tok[0] == "op":
            self.i += 1
            left = f"({left} {tok[1]} {self.unary()})"
        return left

    def unary(self) -> str:
        tok = self.peek()
        if tok and tok[1] == "-":
            self.i += 1
            self.depth += 1
            if self.depth > MAX_DEPTH:
                raise self.error(f"nested deeper than {MAX_DEPTH}")
            inner = self.unary()
            self.depth -= 1
            return f"(-{inner})"
        return self.atom()

    def atom(self) -> str:
        tok = self.peek()
        if tok is None:
            raise self.error("expected a number, a name or '('")
        kind, value, _ = tok
        if kind == "num":
            self.i += 1
            return repr(float(value))
        if kind == "name":
            self.i += 1
            nxt = self.peek()
            if nxt and nxt[1] == "(":
                if value not in FUNCTIONS:
                    self.i -= 1
                    raise self.error(f"unknown function {value!r} (known: {', '.join(FUNCTIONS)})")
                self.i += 1
                args = [self.expr()]
                while (sep := self.peek()) and sep[1] == ",":
                    self.i += 1
                    args.append(self.expr())
                self.take(")")
                if len(args) != FUNCTIONS[value]:
                    raise ExprError(f"line {self.lineno}: {value}() takes {FUNCTIONS[value]} argument"
                                    f"{'s' if FUNCTIONS[value] > 1 else ''}, got {len(args)}")
                return f"_{value}({', '.join(args)})"
            if value in FUNCTIONS:
                self.i -= 1
                raise self.error(f"function {value!r} needs arguments in parentheses")
            if value not in self.known:
                self.i -= 1
                raise self.error(f"unknown name {value!r} (scene variables: {', '.join(SCENE_VARIABLES)}; "
                                 "or a name assigned on an earlier line)")
            return f"u_{value}"
        if value == "(":
            self.i += 1
            self.depth += 1
            if self.depth > MAX_DEPTH:
                raise self.error(f"nested deeper than {MAX_DEPTH}")
            inner = self.expr()
            self.take(")")
            self.depth -= 1
            return inner
        raise self.error(f"unexpected {value!r}")


def parse(text: str) -> Program:
    """Check a program; raise `ExprError` naming the line (1-based, counting every line) on a fault."""
    if not isinstance(text, str):
        raise ExprError(f"a program is text, got {type(text).__name__}")
    if len(text) > MAX_CHARS:
        raise ExprError(f"program of {len(text)} characters: at most {MAX_CHARS}")
    known = set(SCENE_VARIABLES)
    assignments: list[tuple[str, str]] = []
    for lineno, raw in enumerate(text.splitlines(), start=1):
        line = raw.split("#", 1)[0]
        if not line.strip():
            continue
        toks = _tokens(line, lineno)
        if len(toks) < 3 or toks[0][0] != "name" or toks[1][1] != "=":
            raise ExprError(f"line {lineno}: expected `name = expression`, got {line.strip()!r}")
        name = toks[0][1]
        if name in SCENE_VARIABLES or name in FUNCTIONS:
            raise ExprError(f"line {lineno}: {name!r} is a built-in name and cannot be assigned")
        parser = _Parser(toks[2:], lineno, known)
        expr = parser.expr()
        if parser.i != len(parser.toks):
            raise parser.error(f"unexpected {parser.toks[parser.i][1]!r} after a complete expression")
        assignments.append((name, expr))
        known.add(name)
        if len(assignments) > MAX_LINES:
            raise ExprError(f"line {lineno}: more than {MAX_LINES} assignments")
    assigned = {n for n, _ in assignments}
    missing = [n for n in ("x", "y") if n not in assigned]
    if missing:
        raise ExprError(f"line {max(1, len(text.splitlines()))}: the program never assigns {' and '.join(missing)} "
                        "(the ball's position at time t)")
    return Program(tuple(assignments), text)


def scene_bindings(scene: Scene) -> list[dict]:
    """Per ball, the constant scene variables and its container's path (for dx, dy at time t)."""
    out = []
    for ball in scene.balls:
        host = min(scene.containers, key=lambda c: math.dist(c.center, ball.position))
        path = None
        if host.path is not None:
            p = host.path
            path = {"kind": p.kind, "A": p.amplitude, "f": p.freq, "axis": p.axis, "Ay": p.amplitude_y,
                    "fy": p.freq_y, "ph": p.phase_y, "seg": p.segments}
        out.append({
            "x0": ball.position[0], "y0": ball.position[1], "vx": ball.velocity[0], "vy": ball.velocity[1],
            "gx": scene.gravity[0], "gy": scene.gravity[1], "cx": host.center[0], "cy": host.center[1],
            "a": host.inradius, "b": ball.radius * math.cos(math.pi / ball.sides), "w": host.omega,
            "path": path,
        })
    return out


_RUNTIME = '''    import math
    def _fold(u, lo, hi):
        if not hi > lo:
            return (lo + hi) / 2
        span = hi - lo
        m = (u - lo) % (2 * span)
        return lo + (m if m <= span else 2 * span - m)
    _min, _max, _abs, _sqrt, _sin, _cos = min, max, abs, math.sqrt, math.sin, math.cos
    def _shift(p, t):
        if p is None:
            return 0.0, 0.0
        if p["kind"] == "sin1d":
            d = p["A"] * math.sin(2 * math.pi * p["f"] * t)
            return (d, 0.0) if p["axis"] == "x" else (0.0, d)
        if p["kind"] == "lissajous":
            return (p["A"] * math.sin(2 * math.pi * p["f"] * t), p["Ay"] * math.sin(2 * math.pi * p["fy"] * t + p["ph"]))
        phase = (t * p["seg"]) % 1.0
        return (p["A"] * (1.0 - abs(1.0 - 2.0 * phase)), 0.0)
'''


def compile_program(program: str | Program, scene: Scene) -> str:
    """The Python source of `predict_position(t)` running `program` on every ball of `scene`."""
    prog = program if isinstance(program, Program) else parse(program)
    balls = repr(scene_bindings(scene))
    body = "\n".join(f"        {line}" for line in prog.python_lines)
    return (
        "def predict_position(t):\n"
        + _RUNTIME
        + f"    balls = {balls}\n"
        + "    out = []\n"
        + "    for k in balls:\n"
        + "        u_t, u_pi = float(t), math.pi\n"
        + "        u_x0, u_y0, u_vx, u_vy = k['x0'], k['y0'], k['vx'], k['vy']\n"
        + "        u_gx, u_gy, u_cx, u_cy = k['gx'], k['gy'], k['cx'], k['cy']\n"
        + "        u_a, u_b, u_w = k['a'], k['b'], k['w']\n"
        + "        u_dx, u_dy = _shift(k['path'], u_t)\n"
        + body + "\n"
        + "        out.append([round(u_x, 2) + 0.0, round(u_y, 2) + 0.0])\n"
        + "    return out\n"
    )


def evaluate(program: str | Program, scene: Scene, t: float) -> list[list[float]]:
    """Run the compiled program in this process (trusted use only: tests and the book)."""
    namespace: dict = {}
    exec(compile_program(program, scene), namespace)  # noqa: S102 - our own generated source
    return namespace["predict_position"](t)
