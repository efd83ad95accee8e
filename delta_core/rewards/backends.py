"""Where the reward functions get their judging done: in this process, over HTTP, or on a Ray cluster.

A backend is a callable `backend(pairs) -> responses`: `pairs` is a list of `(dsl, test_cases)`, and
each response is `delta_core.judge.judge`'s dict (spec A.1), in order. All three return identical
responses (tests/test_serve.py, tests/test_ray_judge.py).

- `InProcessJudge()`: `judge` in this process (the C engine judges ~200k test cases/s on one core).
- `HTTPJudge(url)`: a `python -m delta_core.serve` service (batched `POST /test_solutions`), or, with
  `batch=False`, any server that speaks the reference's `POST /test_solution` (the authors' verifier).
- `RayJudge()`: `judge` in Ray tasks, slices of the batch spread over the cluster's CPUs.

`make_reward(kind, backend, ...)` builds the TRL reward functions of `delta_core.rewards` on any backend
(with the same schedule and truncation arguments):
same names (`dense_reward`, `binary_reward`, `scheduled_reward`), signature, scores and logged metrics.

    reward = make_reward("dense", backend="http", url="http://127.0.0.1:1235")
    reward = make_reward("scheduled", backend="ray", switch_step=200)   # ray.init() first, or address=...

A malformed ground truth (a test case without `input`, ...) raises `RequestError` on every backend,
as `rewards.dense_reward` does. A verifier that cannot be reached raises `JudgeUnavailable` after
`retries` tries, unless `on_error="zero"`, which scores the affected completions 0.0 like the
reference's reward client ("any error -> 0.0") and warns.
"""

from __future__ import annotations

import json
import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from ..judge import RequestError, judge
from . import functions as rewards
from .functions import scores_from_response
from .schedule import Schedule

__all__ = [
    "JudgeUnavailable",
    "InProcessJudge",
    "HTTPJudge",
    "RayJudge",
    "make_backend",
    "make_reward",
    "scores_from_response",
    "BACKENDS",
]

Pair = tuple[str, Sequence[Mapping[str, Any]]]
Backend = Callable[[Sequence[Pair]], list[dict[str, Any]]]


class JudgeUnavailable(RuntimeError):
    """The verifier could not be reached or kept failing (HTTP 5xx, a dead Ray cluster)."""


def _error_response(message: str) -> dict[str, Any]:
    return {"valid": False, "all_passed": False, "message": message, "results": []}


# ------------------------------------------------------------------------------------------------
# Backends


class InProcessJudge:
    """`judge` in this process, one pair after the other."""

    name = "inprocess"

    def __call__(self, pairs: Sequence[Pair]) -> list[dict[str, Any]]:
        return [judge(dsl, tests) for dsl, tests in pairs]


class HTTPJudge:
    """Judge through a verifier service.

    Args:
        url: the server's base URL (`http://host:port`, no path).
        batch: send `POST /test_solutions` bodies of up to `max_batch_bytes` (delta_core.serve);
            `False` sends one `POST /test_solution` per pair, which the authors' server also speaks.
        timeout: seconds per HTTP request.
        retries: tries per HTTP request on connection errors and 502/503/504, with exponential backoff.
        on_error: "raise" (`JudgeUnavailable`) or "zero" (a `valid: false` response, scored 0.0, and a warning).
    """

    name = "http"

    def __init__(
        self,
        url: str = "http://127.0.0.1:1235",
        *,
        batch: bool = True,
        timeout: float = 120.0,
        retries: int = 3,
        max_batch_bytes: int = 2 * 1024 * 1024,  # half the server's default max_body_bytes
        on_error: str = "raise",
    ):
        import httpx

        if on_error not in ("raise", "zero"):
            raise ValueError(f"on_error={on_error!r}: use 'raise' or 'zero'")
        if retries < 1:
            raise ValueError(f"retries={retries}: must be >= 1")
        self.url = url.rstrip("/")
        self.batch = batch
        self.retries = retries
        self.max_batch_bytes = max_batch_bytes
        self.on_error = on_error
        self._client = httpx.Client(timeout=timeout)

    def close(self) -> None:
        self._client.close()

    def _post(self, path: str, body: bytes) -> Any:
        """POST `body`; the decoded JSON of a 200. 422/413 raise RequestError; the rest retry, then raise."""
        import httpx

        problem = ""
        for attempt in range(self.retries):
            if attempt:
                time.sleep(min(0.5 * 2 ** (attempt - 1), 8.0))
            try:
                response = self._client.post(
                    self.url + path, content=body, headers={"content-type": "application/json"}
                )
            except httpx.TransportError as err:
                problem = f"{type(err).__name__}: {err}"
                continue
            if response.status_code == 200:
                return response.json()
            if response.status_code in (413, 422):
                raise RequestError(f"{self.url}{path} answered {response.status_code}: {response.text[:500]}")
            problem = f"HTTP {response.status_code}: {response.text[:200]}"
            if response.status_code not in (502, 503, 504):
                break
        raise JudgeUnavailable(f"{self.url}{path}: {problem} (after {attempt + 1} tries)")

    def _judge_bodies(self, path: str, bodies: list[bytes], wrap: bool) -> list[Any]:
        try:
            answer = self._post(path, b"[" + b",".join(bodies) + b"]" if wrap else bodies[0])
        except JudgeUnavailable as err:
            if self.on_error == "raise":
                raise
            warnings.warn(f"verifier error, scoring {len(bodies)} completions 0.0: {err}", stacklevel=3)
            answer = [_error_response(f"Verifier error: {err}")] * len(bodies) if wrap else _error_response(str(err))
        return answer if wrap else [answer]

    def __call__(self, pairs: Sequence[Pair]) -> list[dict[str, Any]]:
        bodies = [
            json.dumps({"dsl": dsl, "test_cases": list(tests)}, separators=(",", ":")).encode() for dsl, tests in pairs
        ]
        if not self.batch:
            return [r for body in bodies for r in self._judge_bodies("/test_solution", [body], wrap=False)]
        responses: list[dict[str, Any]] = []
        chunk: list[bytes] = []
        size = 0
        for body in bodies:
            if chunk and size + len(body) > self.max_batch_bytes:
                responses += self._judge_bodies("/test_solutions", chunk, wrap=True)
                chunk, size = [], 0
            chunk.append(body)
            size += len(body) + 1
        if chunk:
            responses += self._judge_bodies("/test_solutions", chunk, wrap=True)
        return responses


def _judge_slice(pairs: Sequence[Pair]) -> list[dict[str, Any]]:
    return [judge(dsl, tests) for dsl, tests in pairs]


class RayJudge:
    """`judge` in Ray tasks: the batch is cut into slices of `chunksize` pairs, one task each.

    Connects with `ray.init(address=address)` unless Ray is already initialised (a local cluster in
    tests: `ray.init(num_cpus=2, include_dashboard=False)`; a real one: `address="auto"` on a node of it).
    A test case a task raises `RequestError` on comes back as `RequestError`.
    """

    name = "ray"

    def __init__(self, *, address: str | None = None, chunksize: int = 32, on_error: str = "raise"):
        import ray

        if on_error not in ("raise", "zero"):
            raise ValueError(f"on_error={on_error!r}: use 'raise' or 'zero'")
        if chunksize < 1:
            raise ValueError(f"chunksize={chunksize}: must be >= 1")
        if not ray.is_initialized():
            ray.init(address=address)
        self._ray = ray
        self._task = ray.remote(num_cpus=1, max_retries=2)(_judge_slice)
        self.chunksize = chunksize
        self.on_error = on_error

    def __call__(self, pairs: Sequence[Pair]) -> list[dict[str, Any]]:
        ray = self._ray
        pairs = [(dsl, list(tests)) for dsl, tests in pairs]
        slices = [pairs[i : i + self.chunksize] for i in range(0, len(pairs), self.chunksize)]
        refs = [self._task.remote(s) for s in slices]
        responses: list[dict[str, Any]] = []
        for s, ref in zip(slices, refs):
            try:
                responses += ray.get(ref)
            except ray.exceptions.RayTaskError as err:
                cause = err.as_instanceof_cause()
                if isinstance(cause, RequestError):
                    raise RequestError(str(err.cause)) from None
                self._fail(err, s, responses)
            except ray.exceptions.RayError as err:  # a worker or node died and retries ran out
                self._fail(err, s, responses)
        return responses

    def _fail(self, err: Exception, s: Sequence[Pair], responses: list[dict[str, Any]]) -> None:
        if self.on_error == "raise":
            raise JudgeUnavailable(f"Ray judge failed: {err}") from err
        warnings.warn(f"Ray judge error, scoring {len(s)} completions 0.0: {err}", stacklevel=3)
        responses += [_error_response(f"Verifier error: {err}")] * len(s)


BACKENDS: dict[str, type] = {"inprocess": InProcessJudge, "http": HTTPJudge, "ray": RayJudge}


def make_backend(backend: str | Backend = "inprocess", **options: Any) -> Backend:
    """A backend by name (`inprocess`, `http`, `ray`) with its options, or `backend` itself if callable."""
    if callable(backend):
        if options:
            raise ValueError(f"options {sorted(options)} given with a backend object; configure the object instead")
        return backend
    if backend not in BACKENDS:
        raise ValueError(f"backend={backend!r}: choose one of {sorted(BACKENDS)} or pass a callable")
    return BACKENDS[backend](**options)


# ------------------------------------------------------------------------------------------------
# Reward functions


def make_reward(
    kind: str = "dense",
    backend: str | Backend = "inprocess",
    *,
    switch_step: int | None = None,
    schedule: Schedule | None = None,
    max_completion_length: int | None = None,
    eos_id: int | None = None,
    non_stop_penalty: bool = False,
    **options: Any,
) -> Callable[..., list[float]]:
    """A TRL reward function of `kind` ("dense", "binary", "scheduled") judged on `backend`.

    Args:
        kind: "dense" (fraction of tests passed), "binary" (all tests pass), or "scheduled" (dense
            before `switch_step`, binary from it on; needs `switch_step`), as in `delta_core.rewards`.
        backend: "inprocess", "http", "ray", or a callable `pairs -> responses`.
        switch_step, schedule: the switch, for kind="scheduled" only (one of them).
        max_completion_length, eos_id, non_stop_penalty: the truncation rule, as in `rewards.make_reward`.
        **options: the backend's options, e.g. `url=` for http, `address=` for ray.

    Returns:
        A function named like its `delta_core.rewards` counterpart (so TRL logs `rewards/dense_reward/...`),
        with the same signature, scores and `log_metric` calls.

    >>> tests = [{"input": "R", "check_output": False}, {"input": "B", "expected_accepted": False, "check_output": False}]
    >>> make_reward("dense")(["START start:\\n    NEXT end\\nEND end"], [tests])
    [0.5]
    """
    # Validate the reward's arguments before building a backend (which may open connections).
    settings = dict(switch_step=switch_step, schedule=schedule, max_completion_length=max_completion_length,
                    eos_id=eos_id, non_stop_penalty=non_stop_penalty)
    rewards.make_reward(kind, **settings)
    reward = rewards.make_reward(kind, judge_batch=make_backend(backend, **options), **settings)
    reward.backend = reward.judge_batch  # type: ignore[attr-defined]
    return reward
