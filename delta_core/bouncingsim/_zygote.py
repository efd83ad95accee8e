"""Sandbox worker ("zygote"): a clean interpreter that forks one child per untrusted program.

Run by `delta_core.bouncingsim.sandbox` as `python -I -S _zygote.py BASE_DIR` with an empty
environment. It imports only the standard library and never sees expected answers. Protocol on
stdin/stdout: 4-byte big-endian length + UTF-8 JSON, one request -> one reply.

  request: {"program": str, "timestamps": [float], "timeout_s": float, "cpu_s": int,
            "memory_bytes": int, "file_bytes": int, "max_output_bytes": int}
  reply:   {"lines": [str, ...], "end": "completed" | "timed out" | "output too large" |
            "exited with code N" | "killed by signal NAME"}

The child, before running untrusted code: joins its own process group; points fds 0-2 at /dev/null
and keeps only the result pipe (fd 3); changes into a fresh scratch directory; drops to uid/gid 65534
(nobody) when started as root; sets rlimits (CPU, address space, file size, open files, no new
processes, no core dumps); installs an audit hook (see `_install_hook`). It then execs the program,
calls `predict_position(t)` for each t and writes one JSON line per call:
{"i": k, "ok": [[x, y], ...]} or {"i": k, "error": "..."}; {"fatal": "..."} if the program itself fails.
The parent validates every line; nothing the child writes is trusted.
"""

import gc
import json
import os
import resource
import select
import shutil
import struct
import sys
import time

# Modules a program may import: loaded here, before forking, so importing them in the child opens no
# file. Every other import is refused by the audit hook ("import" event).
import bisect, cmath, collections, functools, heapq, itertools, math, operator  # noqa: E401,F401

NOBODY = 65534
RESULT_FD = 3
SIGNALS = {1: "SIGHUP", 2: "SIGINT", 4: "SIGILL", 6: "SIGABRT", 7: "SIGBUS", 8: "SIGFPE", 9: "SIGKILL",
           11: "SIGSEGV", 13: "SIGPIPE", 14: "SIGALRM", 15: "SIGTERM", 24: "SIGXCPU", 25: "SIGXFSZ"}

DENIED = frozenset({
    "os.system", "os.exec", "os.posix_spawn", "os.spawn", "os.fork", "os.forkpty", "os.kill", "os.killpg",
    "os.chdir", "os.chmod", "os.chown", "os.chflags", "os.lchflags", "os.link", "os.symlink", "os.putenv",
    "os.unsetenv", "os.setxattr", "os.removexattr", "os.startfile", "subprocess.Popen", "pty.spawn",
    "signal.pthread_kill", "resource.setrlimit", "resource.prlimit", "sys.addaudithook", "sys.setprofile",
    "sys.settrace", "sys._current_frames", "gc.get_objects", "gc.get_referrers", "gc.get_referents",
    "_thread.start_new_thread", "import", "mmap.__new__", "object.__getattr__", "object.__setattr__",
    "object.__delattr__", "webbrowser.open", "urllib.Request", "cpython.run_command", "cpython.run_file",
})
DENIED_PREFIXES = ("socket.", "ctypes.", "_ctypes.", "shutil.", "http.", "ftplib.", "smtplib.", "imaplib.",
                   "poplib.", "telnetlib.", "nntplib.", "tempfile.", "sqlite3.", "winreg.")
# events that carry paths: which arguments must stay inside the scratch directory
PATH_EVENTS = {"open": (0,), "os.listdir": (0,), "os.scandir": (0,), "os.remove": (0,), "os.rmdir": (0,),
               "os.mkdir": (0,), "os.rename": (0, 1), "os.truncate": (0,), "os.utime": (0,)}


def _install_hook(scratch):
    """Refuse, by raising PermissionError, anything that leaves the process or the scratch directory.

    The hook reads no global name at run time: every object it uses is bound as a default argument
    when it is defined, so a program that rebinds builtins or module attributes cannot change what it
    checks. Rebinding the defaults or code of a function raises "object.__setattr__", refused too.
    """

    def hook(event, args, _denied=DENIED, _prefixes=DENIED_PREFIXES, _paths=PATH_EVENTS,
             _root=scratch + "/", _type=type, _str=str, _bytes=bytes, _int=int, _none=type(None),
             _len=len, _error=PermissionError):
        if event in _denied or _str.startswith(event, _prefixes):
            raise _error(f"sandbox: {event} is not allowed")
        where = _paths.get(event)
        if where is None:
            return
        for k in where:
            if k >= _len(args):
                continue
            path = args[k]
            kind = _type(path)
            if kind is _int or kind is _none:  # an already-open descriptor, or the current directory
                continue
            if kind is _bytes:
                path = _bytes.decode(path, "utf-8", "surrogateescape")
            elif kind is not _str:  # os.PathLike objects could answer differently on a second call
                raise _error(f"sandbox: {event} needs a plain str path")
            if "\x00" in path or ".." in _str.split(path, "/"):
                raise _error(f"sandbox: {event} on {path!r} is outside the scratch directory")
            if _str.startswith(path, "/") and not _str.startswith(path, _root):
                raise _error(f"sandbox: {event} on {path!r} is outside the scratch directory")

    sys.addaudithook(hook)


def _describe(exc):
    text = f"{type(exc).__name__}: {exc}"
    return text[:300]


def _child(request, scratch, write_fd):
    gc.disable()  # a collection would touch (and copy) every page inherited from the zygote
    os.setpgid(0, 0)
    if write_fd != RESULT_FD:
        os.dup2(write_fd, RESULT_FD)
        os.close(write_fd)
    null = os.open("/dev/null", os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    os.closerange(RESULT_FD + 1, 65536)
    os.chdir(scratch)
    if os.geteuid() == 0:
        os.setgroups([])
        os.setgid(NOBODY)
        os.setuid(NOBODY)
    limits = [(resource.RLIMIT_CORE, 0), (resource.RLIMIT_CPU, request["cpu_s"]),
              (resource.RLIMIT_AS, request["memory_bytes"]), (resource.RLIMIT_FSIZE, request["file_bytes"]),
              (resource.RLIMIT_NOFILE, 16), (resource.RLIMIT_NPROC, 0)]
    for which, value in limits:
        resource.setrlimit(which, (value, value))

    write, dumps = os.write, json.dumps

    def emit(payload):
        write(RESULT_FD, (dumps(payload, allow_nan=False) + "\n").encode())

    program, timestamps = request["program"], request["timestamps"]
    _install_hook(scratch)
    try:
        namespace = {"__builtins__": __builtins__, "__name__": "__sandbox__"}
        exec(compile(program, "<program>", "exec"), namespace)
        predict = namespace.get("predict_position")
        if not callable(predict):
            raise NameError("the program defines no function predict_position(t)")
    except BaseException as exc:  # untrusted code: anything it raises is its failure
        emit({"fatal": _describe(exc)})
        os._exit(0)
    for i, t in enumerate(timestamps):
        try:
            value = predict(t)
            pairs = [[_number(x), _number(y)] for x, y in value]
            emit({"i": i, "ok": pairs})
        except BaseException as exc:
            try:
                emit({"i": i, "error": _describe(exc)})
            except BaseException:
                os._exit(0)
    os._exit(0)


def _number(v):
    if type(v) not in (int, float):
        raise TypeError(f"coordinates must be int or float, got {type(v).__name__}")
    return float(v)


def _collect(fd, n, timeout_s, max_bytes):
    """Read result lines until n arrive, EOF, the per-call deadline passes, or too many bytes."""
    lines, buf, total = [], b"", 0
    deadline = time.monotonic() + timeout_s
    while len(lines) < n:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return lines, "timed out"
        ready, _, _ = select.select([fd], [], [], remaining)
        if not ready:
            continue
        chunk = os.read(fd, 65536)
        if not chunk:
            return lines, None  # EOF: the child is gone; its exit status decides
        total += len(chunk)
        if total > max_bytes:
            return lines, "output too large"
        buf += chunk
        while b"\n" in buf and len(lines) < n:
            line, buf = buf.split(b"\n", 1)
            text = line.decode("utf-8", "replace")
            lines.append(text)
            if text.startswith('{"fatal"'):
                return lines, "completed"
            deadline = time.monotonic() + timeout_s  # each call gets its own time limit
    return lines, "completed"


def _run(request, base, job):
    scratch = os.path.join(base, f"job-{os.getpid()}-{job}")
    os.mkdir(scratch, 0o700)
    if os.geteuid() == 0:
        os.chown(scratch, NOBODY, NOBODY)
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.close(read_fd)
            _child(request, scratch, write_fd)
        finally:
            os._exit(70)
    os.close(write_fd)
    try:
        os.setpgid(pid, pid)
    except OSError:
        pass  # the child already did it, or is gone
    try:
        lines, end = _collect(read_fd, len(request["timestamps"]), request["timeout_s"], request["max_output_bytes"])
    finally:
        os.close(read_fd)
        for kill in (os.killpg, os.kill):  # the group first (any descendant), then the child itself
            try:
                kill(pid, 9)
            except OSError:
                pass
        _, status = os.waitpid(pid, 0)
        shutil.rmtree(scratch, ignore_errors=True)
    if end is None:
        if os.WIFSIGNALED(status):
            sig = os.WTERMSIG(status)
            end = f"killed by signal {SIGNALS.get(sig, sig)}"
        else:
            end = f"exited with code {os.WEXITSTATUS(status)}"
    return {"lines": lines, "end": end}


def _read_exact(stream, n):
    data = b""
    while len(data) < n:
        chunk = stream.read(n - len(data))
        if not chunk:
            return None
        data += chunk
    return data


def main():
    base = sys.argv[1]
    gc.freeze()  # keep the zygote's objects out of later collections: fewer copied pages per fork
    stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
    job = 0
    while True:
        header = _read_exact(stdin, 4)
        if header is None:
            return  # the parent closed the pipe (or died): exit
        request = json.loads(_read_exact(stdin, struct.unpack(">I", header)[0]))
        job += 1
        try:
            reply = _run(request, base, job)
        except OSError as exc:  # e.g. fork failed: report it, keep serving
            reply = {"lines": [], "end": f"sandbox error: {exc}"}
        data = json.dumps(reply).encode()
        stdout.write(struct.pack(">I", len(data)) + data)
        stdout.flush()


if __name__ == "__main__":
    main()
