"""The verifier as an HTTP service: the reference's `POST /test_solution` and `GET /health` (spec A.1),
plus a batch endpoint, with limits that keep one request from hurting the others.

    python -m delta_core.serve --port 1235          # the port the authors' reward client expects
    python -m delta_core.serve --help               # every limit below is an option
    uvicorn delta_core.serve:app --port 1235        # the same app; limits from DELTA_SERVE_* variables

Endpoints:

- `POST /test_solution`: request and response exactly as the reference's (`TestSolutionRequest` below:
  `dsl`, `test_cases` of `{input, expected_output="", expected_accepted=true, check_output=true,
  description=""}`, `max_execution_time=1.0`; the response is `delta_core.judge.judge`'s dict). A body
  pydantic rejects, malformed JSON included, gets 422 with FastAPI's `detail` list, as the reference.
  So the authors' reward client works against it unchanged.
- `POST /test_solutions`: a JSON list of such bodies; answers the list of responses, in order. An item
  over a limit gets `{"valid": false, ..., "message": "Request error: ..."}` instead of sinking the batch.
- `GET /health`: `{"status": "healthy"}`.

Limits (`ServeConfig`; the reference has none):

- body bytes: a body over `max_body_bytes` gets 413 before anything parses it (checked on
  Content-Length, and counted for chunked bodies);
- tests per request and tape length (`delta_core.judge.JudgeLimits`) and items per batch: 422 naming
  the field and the limit;
- a wall-clock budget per request, queueing included: 503 if the request was still waiting for a judge
  process when it ran out (the server is overloaded: retry later), 504 if judging itself took longer.
  A judge already running is not interrupted (it is bounded anyway: 1000 path entries per test, and
  the limits above), but the rest of a batch is not started.

Judging is CPU-bound and the C engine holds the GIL, so it runs in a pool of `jobs` worker processes
(default: one per core), which also encode the response JSON; the event loop only parses requests and
moves bytes. `max_execution_time` is accepted and, as in the reference, unused.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import multiprocessing
import os
import sys
from collections.abc import Sequence
from concurrent.futures import Executor, Future, ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import asdict, dataclass, fields
from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel

from .judge import JudgeLimits, RequestError, judge

__all__ = ["TestCase", "TestSolutionRequest", "ServeConfig", "create_app", "app", "main"]


# ------------------------------------------------------------------------------------------------
# Request schema: the reference's pydantic models (spec A.1), field for field.


class TestCase(BaseModel):
    __test__ = False  # not a pytest test class, whatever its name

    input: str
    expected_output: str = ""
    expected_accepted: bool = True
    check_output: bool = True
    description: str = ""


class TestSolutionRequest(BaseModel):
    __test__ = False

    dsl: str
    test_cases: list[TestCase]
    max_execution_time: float = 1.0  # accepted and unused, as in the reference


# ------------------------------------------------------------------------------------------------
# Configuration


@dataclass(frozen=True)
class ServeConfig:
    """Limits and pool size of the service. Every field is a `--flag` of `python -m delta_core.serve`
    and a `DELTA_SERVE_<FIELD>` environment variable for `uvicorn delta_core.serve:app`."""

    max_body_bytes: int = 4 * 1024 * 1024  # a batch of 64 long completions with their tests fits twice
    max_tests: int = 1_000  # real problems have <= 35 tests
    max_tape_chars: int = 10_000  # real tapes have a few dozen colours
    max_program_chars: int = 1_000_000  # generated arithmetic solutions reach ~200 KB
    max_batch: int = 1_024  # items in one POST /test_solutions
    budget_s: float = 30.0  # wall clock per request, queueing included (504/503 past it)
    jobs: int = 0  # judge processes; 0 = one per core; -1 = threads in this process (tests, debugging)
    max_pending: int = 4_096  # requests queued or judging at once; past it, 503 at once

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise ValueError(f"ServeConfig.{f.name}={value!r}: must be a number")
        positive = [f.name for f in fields(self) if f.name != "jobs" and not getattr(self, f.name) > 0]
        if positive:
            raise ValueError(f"ServeConfig: {', '.join(positive)} must be > 0 (got {self})")
        if self.jobs < -1:
            raise ValueError(f"ServeConfig.jobs={self.jobs}: use N > 0 processes, 0 for one per core, -1 for threads")

    @property
    def judge_limits(self) -> JudgeLimits:
        return JudgeLimits(
            max_program_chars=self.max_program_chars, max_tests=self.max_tests, max_tape_chars=self.max_tape_chars
        )

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> ServeConfig:
        environ = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for f in fields(cls):
            name = f"DELTA_SERVE_{f.name.upper()}"
            raw = environ.get(name)
            if raw is not None:
                kind = float if f.type in ("float", float) else int
                try:
                    values[f.name] = kind(raw)
                except ValueError:
                    raise ValueError(f"{name}={raw!r}: expected {'a number' if kind is float else 'an integer'} "
                                     f"(the {f.name} limit; unset it for the default {getattr(cls, f.name)!r})") from None
        try:
            return cls(**values)
        except ValueError as err:
            raise ValueError(f"from DELTA_SERVE_* variables: {err}") from None


# ------------------------------------------------------------------------------------------------
# Work done in the judge processes. Each returns (HTTP status, JSON bytes), so that what crosses the
# process boundary is one bytes object, not a nest of dicts with 1000-entry paths.


def _dumps(obj: Any) -> bytes:
    # ensure_ascii: a lone surrogate ("\ud800" is valid JSON) still encodes
    return json.dumps(obj, separators=(",", ":")).encode("ascii")


def _error_response(message: str) -> dict[str, Any]:
    return {"valid": False, "all_passed": False, "message": message, "results": []}


def _judge_one(dsl: str, tests: list[dict[str, Any]], limits: JudgeLimits) -> tuple[int, bytes]:
    try:
        return 200, _dumps(judge(dsl, tests, limits=limits))
    except RequestError as err:
        return 422, _dumps({"detail": str(err)})
    except Exception as err:  # the reference answers 200 with this message for anything else
        return 200, _dumps(_error_response(f"Unexpected error: {err}"))


def _judge_chunk(items: list[tuple[str, list[dict[str, Any]]]], limits: JudgeLimits) -> bytes:
    """Comma-joined responses of a slice of a batch (the caller adds the brackets)."""
    parts = []
    for dsl, tests in items:
        try:
            response = judge(dsl, tests, limits=limits)
        except RequestError as err:
            response = _error_response(f"Request error: {err}")
        except Exception as err:
            response = _error_response(f"Unexpected error: {err}")
        parts.append(_dumps(response))
    return b",".join(parts)


def _warm_up() -> int:
    return os.getpid()


# ------------------------------------------------------------------------------------------------
# The service


class _Busy(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


class _JudgePool:
    """The executor, a count of requests in it, and the budget logic."""

    def __init__(self, config: ServeConfig):
        self.config = config
        self.pending = 0
        self.executor: Executor | None = None

    @property
    def size(self) -> int:
        if self.config.jobs == -1:
            return 2
        return self.config.jobs or os.cpu_count() or 1

    def start(self) -> None:
        if self.config.jobs == -1:
            self.executor = ThreadPoolExecutor(max_workers=self.size, thread_name_prefix="judge")
            return
        # spawn, not fork: the event loop's process may hold threads (and locks) by now
        self.executor = ProcessPoolExecutor(max_workers=self.size, mp_context=multiprocessing.get_context("spawn"))
        # start every worker now, so that the first requests do not pay for it
        for future in [self.executor.submit(_warm_up) for _ in range(self.size)]:
            future.result(timeout=120)

    def stop(self) -> None:
        if self.executor is not None:
            # wait=True: the workers must be told to exit before this process does, or they are left
            # behind as orphans blocked on the call queue (seen with uvicorn's SIGTERM shutdown).
            self.executor.shutdown(wait=True, cancel_futures=True)
            self.executor = None

    def _submit(self, fn: Any, *args: Any) -> Future:
        assert self.executor is not None, "the judge pool is not started (run the app under its lifespan)"
        try:
            return self.executor.submit(fn, *args)
        except BrokenProcessPool:
            # a worker died (killed by the OOM killer, say): start a fresh pool and tell this client to retry
            self.stop()
            self.start()
            raise _Busy(503, "the judge pool was restarted after a worker died; retry the request") from None

    async def run(self, calls: Sequence[tuple[Any, tuple[Any, ...]]]) -> list[Any]:
        """Run `calls` ([(fn, args)]) in the pool within the budget; their results in order."""
        if self.pending >= self.config.max_pending:
            raise _Busy(503, f"server busy: {self.pending} requests already waiting (max_pending); retry later")
        self.pending += 1
        futures: list[Future] = []
        try:
            futures = [self._submit(fn, *args) for fn, args in calls]
            waiting = [asyncio.wrap_future(f) for f in futures]
            done, not_done = await asyncio.wait(waiting, timeout=self.config.budget_s)
            if not_done:
                queued = sum(f.cancel() for f in futures)  # cancel() succeeds only for work not yet started
                if queued == len(futures):
                    raise _Busy(
                        503,
                        f"server busy: the request waited {self.config.budget_s:g} s (the budget) without reaching "
                        "a judge process; retry later",
                    )
                raise _Busy(504, f"judging took longer than the {self.config.budget_s:g} s budget; request abandoned")
            try:
                return [w.result() for w in waiting]
            except BrokenProcessPool:
                self.stop()
                self.start()
                raise _Busy(503, "a judge process died during this request (pool restarted); retry") from None
        finally:
            self.pending -= 1


class _BodyLimit:
    """ASGI middleware: 413 for a body over `max_bytes`, before the app (and so before any parsing).

    The body is read here, counted, and replayed to the app. An oversized body is read to its end and
    dropped (up to `drain_bytes`) before the 413 goes out: a client still writing its body when the
    server closes would see a broken pipe instead of the answer."""

    def __init__(self, app: Any, max_bytes: int, drain_bytes: int):
        self.app = app
        self.max_bytes = max_bytes
        self.drain_bytes = drain_bytes

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS"):
            return await self.app(scope, receive, send)
        declared = None
        for name, value in scope["headers"]:
            if name == b"content-length":
                with contextlib.suppress(ValueError):
                    declared = int(value)
        if declared is not None and declared > self.max_bytes:
            return await self._refuse(receive, send, declared, 0)
        chunks, size, more = [], 0, True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            more = message.get("more_body", False)
            if size > self.max_bytes:
                return await self._refuse(receive, send, None, size if more else -1)
            chunks.append(chunk)
        body = b"".join(chunks)
        replayed = False

        async def replay() -> dict:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()  # after the body: wait for the disconnect, as the server would

        await self.app(scope, replay, send)

    async def _refuse(self, receive: Any, send: Any, declared: int | None, read: int) -> None:
        size = f"{declared:,} bytes" if declared is not None else "over that"
        if read >= 0 and (declared or 0) <= self.drain_bytes:
            while True:  # drop the rest of the body
                message = await receive()
                if message["type"] == "http.disconnect":
                    return
                read += len(message.get("body", b""))
                if not message.get("more_body", False) or read > self.drain_bytes:
                    break
        payload = _dumps({"detail": f"request body: {size}; the limit is {self.max_bytes:,} bytes (max_body_bytes)"})
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode())],
            }
        )
        await send({"type": "http.response.body", "body": payload})


def _json(status: int, payload: bytes) -> Response:
    return Response(content=payload, status_code=status, media_type="application/json")


def create_app(config: ServeConfig | None = None) -> Any:
    """The ASGI app: FastAPI routes inside the body-size middleware. The judge pool starts and stops
    with the app's lifespan (uvicorn, or `with fastapi.testclient.TestClient(app)`)."""
    config = config or ServeConfig()
    pool = _JudgePool(config)
    limits = config.judge_limits

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI):
        await asyncio.get_running_loop().run_in_executor(None, pool.start)
        try:
            yield
        finally:
            pool.stop()

    api = FastAPI(title="delta_core verifier", version="1.0", lifespan=lifespan)
    api.state.config = config
    api.state.pool = pool

    @api.exception_handler(RequestValidationError)
    async def validation_error(_: Request, exc: RequestValidationError) -> JSONResponse:
        # FastAPI's own 422 (same `detail` list), with the JSON decoder's complaint spelled out
        errors = jsonable_encoder(exc.errors())
        for error in errors:
            if error.get("type") == "json_invalid":
                where = error.get("loc", [None, None])[-1]
                reason = (error.get("ctx") or {}).get("error", "")
                error["msg"] = f"JSON decode error: {reason} (at character {where}); the body must be valid JSON"
        return JSONResponse(status_code=422, content={"detail": errors})

    @api.exception_handler(_Busy)
    async def busy(_: Request, exc: _Busy) -> JSONResponse:
        headers = {"Retry-After": "1"} if exc.status == 503 else None
        return JSONResponse(status_code=exc.status, content={"detail": str(exc)}, headers=headers)

    @api.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "healthy"}

    @api.post("/test_solution", response_model=None)
    async def test_solution(request: TestSolutionRequest) -> Response:
        """Judge one program: the reference endpoint."""
        tests = [case.model_dump() for case in request.test_cases]
        [(status, payload)] = await pool.run([(_judge_one, (request.dsl, tests, limits))])
        return _json(status, payload)

    @api.post("/test_solutions", response_model=None)
    async def test_solutions(requests: list[TestSolutionRequest]) -> Response:
        """Judge a list of programs: the list of `/test_solution` responses, in order."""
        if len(requests) > config.max_batch:
            return _json(422, _dumps({"detail": f"body: {len(requests):,} items; the limit is {config.max_batch:,}"}))
        items = [(r.dsl, [case.model_dump() for case in r.test_cases]) for r in requests]
        n_chunks = min(len(items), pool.size * 4) or 1  # a few slices per process evens out the load
        step = -(-len(items) // n_chunks) if items else 1
        calls = [(_judge_chunk, (items[i : i + step], limits)) for i in range(0, len(items), step)]
        parts = await pool.run(calls) if calls else []
        return _json(200, b"[" + b",".join(p for p in parts if p) + b"]")

    return _BodyLimit(api, config.max_body_bytes, drain_bytes=max(64 * 1024 * 1024, 4 * config.max_body_bytes))


def __getattr__(name: str):
    # `uvicorn delta_core.serve:app` serves this one; its limits come from DELTA_SERVE_* variables, read
    # when the app is first asked for (not at import, so a bad variable cannot break `python -m`).
    if name == "app":
        globals()["app"] = application = create_app(ServeConfig.from_env())
        return application
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


PROG = "python -m delta_core.serve"
LOG_LEVELS = ("critical", "error", "warning", "info", "debug", "trace")  # uvicorn's


def _listen_socket(host: str, port: int):
    """The server's socket, bound to (host, port) before anything starts, or `fail` with one line
    naming the flag: an unknown host, a port in use or not allowed. uvicorn then serves on it."""
    import errno
    import socket

    from .cli import fail

    if not host.strip():
        fail(PROG, "--host '': give an interface address, e.g. 127.0.0.1 (this machine) or 0.0.0.0 (all)")
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except (socket.gaierror, UnicodeError) as err:
        fail(PROG, f"--host {host!r}: not an address or a name this machine can resolve "
                   f"({getattr(err, 'strerror', None) or err}); e.g. 127.0.0.1 or 0.0.0.0")
    family, kind, proto, _, address = infos[0]
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn: restart over TIME_WAIT
    try:
        sock.bind(address)
    except OSError as err:
        sock.close()
        where = f"{host}:{port}"
        if err.errno == errno.EADDRINUSE:
            fail(PROG, f"--port {port}: {where} is already in use; stop the process that holds it or choose another --port")
        if err.errno == errno.EACCES:
            fail(PROG, f"--port {port}: permission denied to listen on {where} (ports below 1024 need privileges); "
                       "choose a port >= 1024")
        if err.errno == errno.EADDRNOTAVAIL:
            fail(PROG, f"--host {host!r}: not an address of this machine ({err.strerror}); e.g. 127.0.0.1 or 0.0.0.0")
        fail(PROG, f"--host {host!r} --port {port}: cannot listen on {where} ({err.strerror or err})")
    sock.set_inheritable(True)
    return sock


def main(argv: Sequence[str] | None = None) -> int:
    from .cli import ArgumentParser, fail, int_range, port, positive_float, positive_int

    try:
        defaults = ServeConfig.from_env()
    except ValueError as err:
        fail(PROG, str(err))
    parser = ArgumentParser(
        prog=PROG,
        description="Serve the Manufactoria verifier: POST /test_solution, POST /test_solutions, GET /health.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="interface (default 127.0.0.1; 0.0.0.0 to serve others)")
    parser.add_argument("--port", type=port, default=1235, help="port, 1-65535 (default 1235, the reference's)")
    parser.add_argument("--log-level", default="warning", choices=LOG_LEVELS, help="uvicorn log level (default warning)")
    parser.add_argument("--access-log", action="store_true", help="log every request (costs CPU under load)")
    parser.add_argument(
        "--keep-alive", type=positive_float, default=75.0,
        help="seconds an idle connection stays open (default 75; uvicorn's 5 s races busy clients' next request)",
    )
    help_text = {
        "jobs": "judge processes; 0 = one per core, -1 = threads in the server process",
        "budget_s": "wall-clock seconds per request, queueing included",
    }
    for f in fields(ServeConfig):
        if f.name == "jobs":
            kind = int_range(-1, what=" (N > 0 processes, 0 = one per core, -1 = threads)")
        else:
            kind = positive_float if f.type in ("float", float) else positive_int
        parser.add_argument(
            f"--{f.name.replace('_', '-')}",
            type=kind,
            default=getattr(defaults, f.name),
            help=f"{help_text.get(f.name, f.name.replace('_', ' '))} (default {getattr(defaults, f.name)})",
        )
    args = parser.parse_args(argv)
    try:
        config = ServeConfig(**{f.name: getattr(args, f.name) for f in fields(ServeConfig)})
    except ValueError as err:
        fail(PROG, str(err))
    sock = _listen_socket(args.host, args.port)  # before the banner: a bad host or port is one line

    import uvicorn

    print(f"delta_core.serve on http://{args.host}:{args.port} {asdict(config)}", file=sys.stderr, flush=True)
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(config),
            log_level=args.log_level,
            access_log=args.access_log,
            timeout_keep_alive=args.keep_alive,
            timeout_graceful_shutdown=5,
        )
    )
    try:
        server.run(sockets=[sock])
    except KeyboardInterrupt:
        pass
    finally:
        sock.close()
    return 0 if server.started else 3  # 3: uvicorn's STARTUP_FAILURE (the app's startup failed)


if __name__ == "__main__":
    sys.exit(main())
