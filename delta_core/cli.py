"""One way for every command line of the project to refuse bad input: one line, exit status 2.

Every entry point (`python -m delta_core.judge`, `delta_core.serve`, `delta_core.tasks`, `delta_core.train`,
`delta_core.mini`, the experiments, `benchmarks/fuzz.py`) answers a user error with exactly one line on
stderr and exit status 2 (argparse's convention), never a traceback, a hang or a silent no-op:

    python -m delta_core.serve: error: argument --port: 99999 is out of range: must be an integer from 1
    to 65535 (a TCP port) (see python -m delta_core.serve --help)

(one line on the terminal; folded here).

The pieces (standard library only):

- `fail(prog, message)`: print `PROG: error: MESSAGE` (newlines folded) and exit 2;
- `ArgumentParser`: argparse whose `error()` is `fail` (no usage block; the line points to `--help`);
  its sub-parsers are of the same class;
- `type=` helpers whose messages name the value and the rule: `positive_int`, `nonnegative_int`,
  `positive_float`, `nonnegative_float`, `int_range(lo, hi)`, `float_range(lo, hi, ...)`, `port`;
- `ensure_output_dir(prog, path, flag)`: create an output folder now, or fail naming the flag, the
  path and the OS's reason (so a bad `--out` fails before any model loads);
- `user_errors(prog, *kinds, paths=...)`: a context manager that turns the errors a user causes into
  `fail`: the given project error types (`ConfigError`, `RequestError`, ...; their messages already
  name the field and the fix), an `OSError` on a path (the path and the OS's reason; with `paths`,
  only one under a user-given path, named by its flag), a bare `FileNotFoundError` raised with a
  message, and JSON / YAML decode errors (with the line). Anything else propagates with its
  traceback: a bug must still show where it is;
- `reader_gone()`: output piped into `| head` ends quietly, not with a BrokenPipeError traceback.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, NoReturn

__all__ = [
    "EXIT_USAGE",
    "parse_set",
    "read_settings",
    "ArgumentParser",
    "fail",
    "one_line",
    "describe_error",
    "describe_os_error",
    "user_errors",
    "ensure_output_dir",
    "reader_gone",
    "int_range",
    "float_range",
    "positive_int",
    "nonnegative_int",
    "positive_float",
    "nonnegative_float",
    "port",
]

EXIT_USAGE = 2  # argparse's status for a usage error


def one_line(text: object) -> str:
    """`text` on one line: runs of whitespace that hold a newline become one space."""
    return " ".join(part.strip() for part in str(text).splitlines() if part.strip())


def fail(prog: str, message: str, code: int = EXIT_USAGE) -> NoReturn:
    """Print `PROG: error: MESSAGE` as one line on stderr and exit with `code` (2)."""
    sys.stderr.write(f"{prog}: error: {one_line(message)}\n")
    sys.stderr.flush()
    raise SystemExit(code)


class ArgumentParser(argparse.ArgumentParser):
    """argparse, but a usage error is one line (`PROG: error: MESSAGE (see PROG --help)`), exit 2."""

    def error(self, message: str) -> NoReturn:
        fail(self.prog, f"{message} (see {self.prog} --help)")


# ------------------------------------------------------------------------------------------------
# argparse `type=` helpers: the message names the value and the rule (argparse prefixes the flag).


def _number(text: str, kind: type) -> Any:
    try:
        value = kind(text)
    except ValueError:
        what = "an integer" if kind is int else "a number"
        raise argparse.ArgumentTypeError(f"{text!r} is not {what}") from None
    if kind is float and not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"{text!r} is not a finite number")
    return value


def int_range(low: int | None = None, high: int | None = None, what: str = "") -> Callable[[str], int]:
    """`type=` for an integer in [low, high] (either end open when None); `what` is added to the rule."""

    def parse(text: str) -> int:
        value = _number(text, int)
        if (low is not None and value < low) or (high is not None and value > high):
            if high is None:
                rule = f"must be an integer >= {low}"
            elif low is None:
                rule = f"must be an integer <= {high}"
            else:
                rule = f"must be an integer from {low} to {high}"
            raise argparse.ArgumentTypeError(f"{value} is out of range: {rule}{what}")
        return value

    parse.__name__ = "int"
    return parse


def float_range(
    low: float | None = None,
    high: float | None = None,
    *,
    low_open: bool = False,
    high_open: bool = False,
    what: str = "",
) -> Callable[[str], float]:
    """`type=` for a finite number in the interval given (`low_open`: low itself is excluded)."""

    def parse(text: str) -> float:
        value = _number(text, float)
        too_low = low is not None and (value <= low if low_open else value < low)
        too_high = high is not None and (value >= high if high_open else value > high)
        if too_low or too_high:
            if high is None:
                rule = f"must be {'>' if low_open else '>='} {low:g}"
            elif low is None:
                rule = f"must be {'<' if high_open else '<='} {high:g}"
            else:
                rule = f"must be in {'(' if low_open else '['}{low:g}, {high:g}{')' if high_open else ']'}"
            raise argparse.ArgumentTypeError(f"{text} is out of range: {rule}{what}")
        return value

    parse.__name__ = "float"
    return parse


positive_int = int_range(1)
nonnegative_int = int_range(0)
positive_float = float_range(0, low_open=True)
nonnegative_float = float_range(0)
port = int_range(1, 65535, what=" (a TCP port)")


# ------------------------------------------------------------------------------------------------
# Paths and the errors a user causes


def _under(path: str | os.PathLike, root: str | os.PathLike) -> bool:
    try:
        a, b = Path(os.path.abspath(path)), Path(os.path.abspath(root))
    except (TypeError, ValueError):
        return False
    return a == b or b in a.parents


def describe_os_error(err: OSError, paths: Mapping[str, str | os.PathLike] | None = None) -> str | None:
    """`PATH: REASON` for an OSError on a path (prefixed by the flag that gave it, when `paths` maps
    flags to user-given paths and the path is under one); None when it is not about a user's path."""
    if err.filename is None:
        if isinstance(err, FileNotFoundError) and len(err.args) == 1 and isinstance(err.args[0], str):
            return err.args[0]  # raised by the project with a message that names the file and the fix
        return None
    name = err.filename
    filename = os.fsdecode(name) if isinstance(name, (str, bytes, os.PathLike)) else str(name)
    reason = err.strerror or str(err)
    target = f"{filename} -> {os.fsdecode(err.filename2)}" if err.filename2 else filename
    if paths is None:
        return f"{target}: {reason}"
    for flag, given in paths.items():
        if given is not None and _under(filename, given):
            shown = os.fspath(given)
            if os.path.abspath(filename) == os.path.abspath(shown):
                return f"{flag} {shown}: {reason}"
            return f"{flag} {shown}: {target}: {reason}"
    return None


def describe_error(
    err: BaseException,
    kinds: tuple[type[BaseException], ...] = (),
    paths: Mapping[str, str | os.PathLike] | None = None,
) -> str | None:
    """The one-line message for a user error, or None when `err` is not one (then it must propagate)."""
    if isinstance(err, OSError):
        message = describe_os_error(err, paths)
        if message is not None:
            return message
    if isinstance(err, json.JSONDecodeError):
        return f"not valid JSON at line {err.lineno} column {err.colno} ({err.msg})"
    yaml = sys.modules.get("yaml")
    if yaml is not None and isinstance(err, yaml.YAMLError):
        mark = getattr(err, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        return f"not valid YAML{where} ({getattr(err, 'problem', None) or err})"
    if kinds and isinstance(err, kinds):
        return str(err) or type(err).__name__
    return None


@contextlib.contextmanager
def user_errors(
    prog: str,
    *kinds: type[BaseException],
    paths: Mapping[str, str | os.PathLike | None] | None = None,
) -> Iterator[None]:
    """Inside the block, a user error becomes `fail(prog, message)`; see `describe_error`.

    `kinds`: the project's own user-error types (their message is shown as is). `paths`: `{flag: path}`
    of the paths the user gave; when set, only an OSError under one of them is a user error (named
    with its flag), so an OSError elsewhere (a bug, a broken install) keeps its traceback."""
    try:
        yield
    except Exception as err:  # re-raised untouched unless describe_error recognises a user error
        message = describe_error(err, tuple(kinds), paths)
        if message is None:
            raise
        fail(prog, message)


def ensure_output_dir(prog: str, path: str | os.PathLike, flag: str) -> Path:
    """Create the output folder `path` (and its parents) now, or fail naming `flag`, the path and the
    OS's reason: a bad `--out` then fails in a second, not after a model has loaded."""
    out = Path(path)
    if out.exists() and not out.is_dir():
        fail(prog, f"{flag} {os.fspath(path)}: exists and is not a folder; give a folder path")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        fail(prog, f"{flag} {os.fspath(path)}: cannot create the folder ({err.strerror or err})")
    if not os.access(out, os.W_OK | os.X_OK):
        fail(prog, f"{flag} {os.fspath(path)}: the folder is not writable")
    return out


@contextlib.contextmanager
def reader_gone() -> Iterator[None]:
    """Output piped into a reader that stops early (`| head`) ends quietly instead of with a
    BrokenPipeError traceback: stdout is pointed at /dev/null so the exit-time flush cannot fail."""
    try:
        yield
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())


def parse_set(prog: str, values: Sequence[str], example: str) -> dict[str, Any]:
    """`--set KEY=VALUE` items as a dict, each VALUE read as JSON when it parses (else kept as text);
    an item without "=" is one line naming it and `example` (e.g. "--set max_steps=40")."""
    overrides: dict[str, Any] = {}
    for item in values:
        if "=" not in item:
            fail(prog, f"--set {item!r}: expected KEY=VALUE, e.g. {example}")
        key, raw = item.split("=", 1)
        try:
            overrides[key] = json.loads(raw)
        except json.JSONDecodeError:
            overrides[key] = raw
    return overrides


def settings_from_dict(cls: type, data: Mapping[str, Any], error: type[Exception] = ValueError) -> Any:
    """An experiment's settings dataclass from a dict (its experiment.json, --set values), refusing a
    field it does not have with one message that names it and lists the known ones."""
    import dataclasses

    known = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - known)
    if unknown:
        raise error(f"unknown {cls.__name__} field(s) {unknown}; known: {sorted(known)}")
    return cls(**data)


def read_settings(prog: str, path: Path, what: str, fields_of: str) -> dict[str, Any]:
    """A JSON object (of `fields_of`'s fields) from `path`, or one line naming `what`, the path and the problem."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as err:
        fail(prog, f"{what} {path}: cannot read it ({err.strerror or err})")
    except UnicodeDecodeError:
        fail(prog, f"{what} {path}: not a UTF-8 text file")
    except json.JSONDecodeError as err:
        fail(prog, f"{what} {path}: line {err.lineno}: not valid JSON ({err.msg})")
    if not isinstance(data, dict):
        fail(prog, f"{what} {path}: expected a JSON object of {fields_of} fields, got {type(data).__name__}")
    return data

