"""Run untrusted `predict_position(t)` programs in separate, limited processes.

    with Sandbox(workers=2) as sandbox:
        run = sandbox.run(program_text, [0.1, 0.2, 0.3])
    run.outputs   # per timestamp: [[x, y], ...] or None
    run.errors    # per timestamp: None, or "timed out" / "failed: ..."

How it is isolated (spec B.5 and D; the reference injected its checker into the untrusted namespace,
forked from the verifier's own process and unpickled client data):

- A pool of worker processes ("zygotes", `_zygote.py`) is started with `python -I -S` and an empty
  environment. They import only the standard library and never receive expected answers, so nothing
  secret is in the memory a child inherits.
- For every program a zygote forks a child in its own process group, with fds 0-2 on /dev/null and a
  fresh scratch directory as its working directory (removed afterwards). Started as root, the child
  drops to uid/gid 65534 (nobody).
- rlimits are the hard backstop: CPU seconds, address space, file size, 16 open files, no new
  processes (RLIMIT_NPROC 0), no core dumps.
- An audit hook (`sys.addaudithook`), installed before the program runs and impossible to remove,
  refuses sockets, subprocesses, `os.system`, `os.exec*`, `os.fork`, `os.kill`, every import of a
  module not preloaded (so `ctypes`, `pickle`, `socket`, `subprocess` ...), file access outside the
  scratch directory, `chdir`/`chmod`/links, raising rlimits, and the introspection that could reach
  the hook (`gc.get_objects`, restricted attributes such as `tb_frame`).
- A wall-clock limit per call (`timeout_s`, as the reference's 1 s per test): the zygote kills the
  child's whole process group when a call does not answer in time.
- Only JSON crosses the pipes: the program text and timestamps in, one line of floats per call out.
  Output is capped in size, and this module validates every line strictly (`_parse_line`); the
  distance and the verdict are computed by the caller (`scoring.py`), never by the untrusted process.

This is not a kernel sandbox (no seccomp or namespaces on the target machines): the audit hook is a
Python-level barrier that C code could bypass, which is why no C-level door (ctypes, arbitrary
imports) is left open and why the rlimits and the uid drop stay underneath it.

Explained in notebooks/06_bouncingsim.ipynb.
"""

from __future__ import annotations

import atexit
import json
import math
import os
import queue
import select
import shutil
import struct
import subprocess
import sys
import tempfile
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

__all__ = ["SandboxLimits", "ProgramRun", "Sandbox", "default_sandbox"]

ZYGOTE = Path(__file__).with_name("_zygote.py")
MAX_PROGRAM_CHARS = 100_000
MAX_TIMESTAMPS = 100


@dataclass(frozen=True)
class SandboxLimits:
    """Limits for one program run (all of its timestamps in one process)."""

    timeout_s: float = 1.0  # wall clock per predict_position call, the program's own setup included in the first
    memory_mb: int = 512  # RLIMIT_AS
    file_kb: int = 1024  # RLIMIT_FSIZE: largest file the program may write in its scratch directory
    max_output_bytes: int = 65_536  # result bytes read from the child before it is killed

    def __post_init__(self) -> None:
        if not (isinstance(self.timeout_s, (int, float)) and 0 < self.timeout_s <= 60):
            raise ValueError(f"timeout_s={self.timeout_s!r}: must be in (0, 60] seconds (the reference uses 1.0)")
        if not 64 <= self.memory_mb <= 65_536:
            raise ValueError(f"memory_mb={self.memory_mb}: must be in 64..65536 (the interpreter alone needs ~30 MB)")
        if not 0 <= self.file_kb <= 1_048_576:
            raise ValueError(f"file_kb={self.file_kb}: must be in 0..1048576")
        if not 1024 <= self.max_output_bytes <= 16 * 2**20:
            raise ValueError(f"max_output_bytes={self.max_output_bytes}: must be in 1 KiB..16 MiB")

    def request(self, program: str, timestamps: Sequence[float]) -> dict:
        return {
            "program": program, "timestamps": [float(t) for t in timestamps], "timeout_s": float(self.timeout_s),
            "cpu_s": math.ceil(self.timeout_s * len(timestamps)) + 1, "memory_bytes": self.memory_mb * 2**20,
            "file_bytes": self.file_kb * 1024, "max_output_bytes": self.max_output_bytes,
        }


@dataclass(frozen=True)
class ProgramRun:
    """What a program answered: per timestamp, either positions or an error (human-eval style)."""

    outputs: tuple[list[list[float]] | None, ...]
    errors: tuple[str | None, ...]  # None where outputs has positions; else "timed out" or "failed: ..."
    end: str  # how the process ended: "completed", "timed out", "killed by signal SIGKILL", ...


def _reject_constant(name: str) -> float:
    raise ValueError(f"non-finite number {name}")


def _parse_line(line: str, index: int) -> tuple[list[list[float]] | None, str | None]:
    """Strictly validate one result line from the child: {"i": index, "ok": [[x, y], ...]} with finite
    floats, or {"i": index, "error": str}. Anything else is a failure."""
    try:
        data = json.loads(line, parse_constant=_reject_constant)
    except ValueError:
        return None, "failed: malformed output"
    if not isinstance(data, dict):
        return None, "failed: malformed output"
    if set(data) == {"fatal"} and isinstance(data["fatal"], str):
        return None, f"failed: {data['fatal'][:300]}"
    if data.get("i") != index or isinstance(data.get("i"), bool) or len(data) != 2:
        return None, "failed: malformed output"
    if "error" in data:
        return None, f"failed: {str(data['error'])[:300]}"
    pairs = data.get("ok")
    if not isinstance(pairs, list) or not all(
        isinstance(p, list) and len(p) == 2
        and all(type(v) in (int, float) and math.isfinite(v) for v in p) for p in pairs
    ):
        return None, "failed: output is not a list of [x, y] finite numbers"
    return [[float(x), float(y)] for x, y in pairs], None


def _interpret(reply: dict, n: int) -> ProgramRun:
    lines, end = reply.get("lines", []), str(reply.get("end", "sandbox error"))
    outputs: list = [None] * n
    errors: list = [None] * n
    fatal = None
    for k in range(n):
        if fatal is not None:
            errors[k] = fatal
            continue
        if k >= len(lines):
            if end == "timed out":
                errors[k] = "timed out"
            elif end == "completed":
                errors[k] = "failed: no answer"
            else:
                errors[k] = f"failed: {end} before answering"
            continue
        outputs[k], errors[k] = _parse_line(lines[k], k)
        if errors[k] is not None and lines[k].startswith('{"fatal"'):
            fatal = errors[k]
    return ProgramRun(tuple(outputs), tuple(errors), end)


def _scratch_parent() -> str | None:
    """/dev/shm when it is a writable directory (scratch directories in memory are much quicker to make
    and remove than on an overlay disk), else the default temporary directory."""
    return "/dev/shm" if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK) else None


class _Zygote:
    """One worker process, used by one thread at a time."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.proc = subprocess.Popen(
            [sys.executable, "-I", "-S", "-B", str(ZYGOTE), base],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
            env={}, cwd=base, start_new_session=True, close_fds=True,
        )

    def call(self, request: dict, wait_s: float) -> dict:
        data = json.dumps(request).encode()
        self.proc.stdin.write(struct.pack(">I", len(data)) + data)
        self.proc.stdin.flush()
        header = self._read(4, wait_s)
        return json.loads(self._read(struct.unpack(">I", header)[0], wait_s))

    def _read(self, n: int, wait_s: float) -> bytes:
        out = self.proc.stdout
        data = b""
        while len(data) < n:
            ready, _, _ = select.select([out], [], [], wait_s)
            if not ready:
                raise TimeoutError("sandbox worker did not answer")
            chunk = os.read(out.fileno(), n - len(data))
            if not chunk:
                raise EOFError("sandbox worker exited")
            data += chunk
        return data

    def close(self) -> None:
        if self.proc.poll() is None:
            try:
                self.proc.stdin.close()
                self.proc.wait(timeout=2)
            except (OSError, subprocess.TimeoutExpired):
                self.proc.kill()
                self.proc.wait()
        for stream in (self.proc.stdin, self.proc.stdout):
            try:
                stream.close()
            except OSError:
                pass


class Sandbox:
    """A pool of `workers` sandbox worker processes (default: two per core). Use as a context manager
    or call `close()`."""

    def __init__(self, workers: int | None = None, limits: SandboxLimits = SandboxLimits()) -> None:
        # a run mostly waits on fork and pipes, so two workers per core keep the cores busy
        workers = workers if workers is not None else 2 * max(1, os.cpu_count() or 1)
        if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
            raise ValueError(f"workers={workers!r}: must be an integer >= 1")
        self.workers, self.limits = workers, limits
        self._base = tempfile.mkdtemp(prefix="delta-bouncingsim-", dir=_scratch_parent())
        os.chmod(self._base, 0o711)  # the dropped-privilege child only needs to traverse it
        self._idle: queue.Queue[_Zygote] = queue.Queue()
        self._all: list[_Zygote] = []
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="bouncingsim-sandbox")
        self._closed = False
        for _ in range(workers):
            self._idle.put(self._spawn())

    def _spawn(self) -> _Zygote:
        z = _Zygote(self._base)
        with self._lock:
            self._all.append(z)
        return z

    @property
    def worker_pids(self) -> list[int]:
        """Process ids of the live worker processes (for health checks)."""
        with self._lock:
            return [z.proc.pid for z in self._all if z.proc.poll() is None]

    @property
    def scratch_root(self) -> str:
        """The directory under which each run's scratch directory is made (and removed)."""
        return self._base

    def run(self, program: str, timestamps: Sequence[float]) -> ProgramRun:
        """Run one program on every timestamp in one sandboxed process."""
        if self._closed:
            raise RuntimeError("this Sandbox is closed")
        if not isinstance(program, str):
            raise TypeError(f"program: expected str, got {type(program).__name__}")
        if not 1 <= len(timestamps) <= MAX_TIMESTAMPS:
            raise ValueError(f"{len(timestamps)} timestamps: must be 1..{MAX_TIMESTAMPS}")
        if len(program) > MAX_PROGRAM_CHARS:
            n = len(timestamps)
            return ProgramRun((None,) * n, ("failed: program too long",) * n, "not run")
        request = self.limits.request(program, timestamps)
        zygote = self._idle.get()
        try:
            reply = zygote.call(request, wait_s=request["cpu_s"] + 10.0)
        except (OSError, ValueError, TimeoutError, EOFError) as exc:
            # the worker itself failed (it never runs untrusted code, so this should not happen): replace it
            zygote.close()
            with self._lock:
                self._all.remove(zygote)
            zygote = self._spawn()
            reply = {"lines": [], "end": f"sandbox error: {exc}"}
        finally:
            self._idle.put(zygote)
        return _interpret(reply, len(timestamps))

    def run_many(self, jobs: Sequence[tuple[str, Sequence[float]]]) -> list[ProgramRun]:
        """Run (program, timestamps) jobs on all workers; results in input order."""
        return list(self._pool.map(lambda job: self.run(*job), jobs))

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._pool.shutdown(wait=True)
        with self._lock:
            for z in self._all:
                z.close()
            self._all.clear()
        shutil.rmtree(self._base, ignore_errors=True)

    def __enter__(self) -> Sandbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:
            pass


_DEFAULT: Sandbox | None = None
_DEFAULT_LOCK = threading.Lock()


def default_sandbox() -> Sandbox:
    """The shared pool the reward functions use (two workers per core), started on first use."""
    global _DEFAULT
    with _DEFAULT_LOCK:
        if _DEFAULT is None or _DEFAULT._closed:
            _DEFAULT = Sandbox()
            atexit.register(_DEFAULT.close)  # stop the workers and remove the scratch root at exit
        return _DEFAULT
