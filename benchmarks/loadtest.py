"""Load test of the verifier service (`delta_core.serve`), on loopback only.

    python benchmarks/loadtest.py                            # 60 s x 200 clients against a fresh server
    python benchmarks/loadtest.py --duration 5 --clients 20  # the short run the test suite does
    python benchmarks/loadtest.py --url http://127.0.0.1:1235 --duration 10   # a server already running

Without `--url` it starts `python -m delta_core.serve` on a free 127.0.0.1 port, with its default
limits, and stops it at the end. `--url` must name a loopback address (127.0.0.0/8, ::1): this script
sends traffic nowhere else. Each client sends one request at a time until the duration is up, then
waits for its last answer (at most `--grace` s); nothing else is sent, so a run is bounded by
clients x duration.

The request mix (seeded, `--seed`), with the status each must get:

    valid     55%  a generated problem's solution, or a near-miss, with its tests      200
    looping   20%  a factory that loops to the 1000-entry path limit on every test    200
    parse      5%  a program that does not parse                                      200 (valid: false)
    malformed 12%  bad JSON, a missing field, a tape that is a number, ...            422
    huge       3%  a body 1.25x the server's max_body_bytes                           413
    batch      5%  POST /test_solutions with 16 valid requests                        200

It reports requests/s, p50/p99/max latency, the count of answers by status code, requests whose status
was not the expected one, connection errors (should be 0), and a health check after the run.
"""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import json
import os
import platform
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from urllib.parse import urlsplit

import httpx

from delta_core.serve import ServeConfig
from delta_core.tasks.generate import generate

MIX = {"valid": 55, "looping": 20, "parse": 5, "malformed": 12, "huge": 3, "batch": 5}
EXPECTED = {"valid": 200, "looping": 200, "parse": 200, "malformed": 422, "huge": 413, "batch": 200}

# Paints blue forever: every test runs to the 1000-entry path limit, the most a single test can cost.
LOOPING = "START start:\n    NEXT paint\nPAINTER_BLUE paint:\n    NEXT paint\nEND end"


def check_loopback(url: str) -> str:
    """`url` if its host resolves to a loopback address only; ValueError otherwise."""
    host = urlsplit(url).hostname
    if not host:
        raise ValueError(f"--url {url!r}: no host")
    addresses = {info[4][0] for info in socket.getaddrinfo(host, None)}
    outside = [a for a in addresses if not ipaddress.ip_address(a.split("%")[0]).is_loopback]
    if outside:
        raise ValueError(f"--url {url!r}: {host} resolves to {outside}; this load test only targets loopback")
    return url.rstrip("/")


# ------------------------------------------------------------------------------------------------
# Workload


def _problems(seed: int) -> list[tuple[str, list[dict]]]:
    """(program, tests) pairs from real generated problems: solutions and near-misses."""
    rng = random.Random(seed)
    families = [
        ("starts_with", "basic", "two_color"), ("ends_with", "medium", "four_color"),
        ("contains_substring", "easy", "two_color"), ("append_sequence", "basic", "four_color"),
        ("regex_pattern", "medium", "two_color"), ("numerical_comparison", "easy", "two_color"),
    ]
    pairs = []
    for family, level, colours in families:
        for problem in generate(family, level, colours, n=8, seed=seed, mode="random"):
            tests = problem.tests()
            pairs.append((problem.solution, tests))
            lines = problem.solution.splitlines()
            # a near-miss: one route sent elsewhere (what a model's wrong answer looks like)
            routes = [i for i, line in enumerate(lines) if line.strip().startswith("[")]
            if routes:
                i = rng.choice(routes)
                colour = lines[i].strip().split("]")[0] + "]"
                lines[i] = f"    {colour} NONE"
                pairs.append(("\n".join(lines), tests))
    return pairs


@dataclass
class Workload:
    problems: list[tuple[str, list[dict]]]
    huge_body: bytes

    @classmethod
    def build(cls, seed: int, max_body_bytes: int) -> Workload:
        problems = _problems(seed)
        filler = "R" * int(max_body_bytes * 1.25)
        huge = json.dumps({"dsl": LOOPING, "test_cases": [{"input": "R", "description": filler}]}).encode()
        return cls(problems, huge)

    def request(self, kind: str, rng: random.Random) -> tuple[str, bytes]:
        """(path, body) of one request of `kind`."""
        dsl, tests = rng.choice(self.problems)
        if kind == "valid":
            return "/test_solution", json.dumps({"dsl": dsl, "test_cases": tests}).encode()
        if kind == "looping":
            return "/test_solution", json.dumps({"dsl": LOOPING, "test_cases": tests}).encode()
        if kind == "parse":
            broken = dsl.replace("START start:", "START start", 1)
            return "/test_solution", json.dumps({"dsl": broken, "test_cases": tests}).encode()
        if kind == "malformed":
            return "/test_solution", rng.choice(
                [
                    b'{"dsl": "START start:\\n    NEXT end\\nEND end", "test_cases": [',  # truncated JSON
                    b"not json at all",
                    json.dumps({"test_cases": tests}).encode(),  # no dsl
                    json.dumps({"dsl": dsl, "test_cases": [{"input": 12}]}).encode(),  # a tape that is a number
                    json.dumps({"dsl": dsl, "test_cases": "RBRB"}).encode(),  # tests that are not a list
                    json.dumps({"dsl": dsl, "test_cases": [{"input": "R" * 20_000}]}).encode(),  # over max_tape
                ]
            )
        if kind == "huge":
            return "/test_solution", self.huge_body
        if kind == "batch":
            items = [{"dsl": d, "test_cases": t} for d, t in (rng.choice(self.problems) for _ in range(16))]
            return "/test_solutions", json.dumps(items).encode()
        raise ValueError(kind)


# ------------------------------------------------------------------------------------------------
# Clients


@dataclass
class Report:
    url: str
    duration_s: float
    clients: int
    requests: int = 0
    elapsed_s: float = 0.0
    requests_per_s: float = 0.0
    p50_ms: float = 0.0
    p99_ms: float = 0.0
    max_ms: float = 0.0
    by_status: dict[str, int] = field(default_factory=dict)
    by_kind: dict[str, int] = field(default_factory=dict)
    unexpected: dict[str, int] = field(default_factory=dict)  # "kind: got N" -> count
    connection_errors: dict[str, int] = field(default_factory=dict)
    unanswered: int = 0  # still in flight when the grace period ended
    healthy_after: bool = False
    client_cpu_s: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.unexpected and not self.connection_errors and not self.unanswered and self.healthy_after


async def _client(
    http: httpx.AsyncClient, url: str, workload: Workload, rng: random.Random, deadline: float, out: list
) -> None:
    kinds, weights = list(MIX), list(MIX.values())
    while time.monotonic() < deadline:
        kind = rng.choices(kinds, weights)[0]
        path, body = workload.request(kind, rng)
        start = time.perf_counter()
        try:
            response = await http.post(url + path, content=body, headers={"content-type": "application/json"})
            await response.aread()
            out.append((kind, response.status_code, time.perf_counter() - start))
        except httpx.HTTPError as err:
            out.append((kind, f"{type(err).__name__} ({kind})", time.perf_counter() - start))


async def _run(url: str, duration: float, clients: int, seed: int, grace: float, workload: Workload) -> Report:
    report = Report(url=url, duration_s=duration, clients=clients)
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    timeout = httpx.Timeout(duration + grace, connect=30.0)
    out: list = []
    cpu0 = time.process_time()
    async with httpx.AsyncClient(limits=limits, timeout=timeout) as http:
        start = time.monotonic()
        deadline = start + duration
        tasks = [
            asyncio.create_task(_client(http, url, workload, random.Random(seed * 100_003 + i), deadline, out))
            for i in range(clients)
        ]
        done, pending = await asyncio.wait(tasks, timeout=duration + grace)
        for task in pending:
            task.cancel()
        report.unanswered = len(pending)
        report.elapsed_s = time.monotonic() - start
        try:
            health = await http.get(url + "/health", timeout=10)
            report.healthy_after = health.status_code == 200 and health.json() == {"status": "healthy"}
        except httpx.HTTPError:
            report.healthy_after = False
    report.client_cpu_s = time.process_time() - cpu0
    latencies = sorted(t for _, _, t in out)
    report.requests = len(out)
    report.requests_per_s = len(out) / report.elapsed_s
    if latencies:
        report.p50_ms = 1000 * statistics.median(latencies)
        report.p99_ms = 1000 * latencies[min(len(latencies) - 1, int(0.99 * len(latencies)))]
        report.max_ms = 1000 * latencies[-1]
    report.by_kind = dict(Counter(kind for kind, _, _ in out))
    report.by_status = {str(k): v for k, v in sorted(Counter(s for _, s, _ in out if isinstance(s, int)).items())}
    report.connection_errors = dict(Counter(s for _, s, _ in out if isinstance(s, str)))
    report.unexpected = dict(
        Counter(f"{kind}: got {s}" for kind, s, _ in out if isinstance(s, int) and s != EXPECTED[kind])
    )
    return report


def run_loadtest(
    url: str, duration: float = 60.0, clients: int = 200, seed: int = 0, grace: float = 60.0,
    max_body_bytes: int | None = None,
) -> Report:
    """Load `url` (loopback only) with `clients` concurrent clients for `duration` seconds."""
    url = check_loopback(url)
    if not (0 < duration <= 3600 and 0 < clients <= 2000):
        raise ValueError(f"duration={duration}, clients={clients}: keep to (0, 3600] s and (0, 2000] clients")
    workload = Workload.build(seed, max_body_bytes or ServeConfig().max_body_bytes)
    return asyncio.run(_run(url, duration, clients, seed, grace, workload))


# ------------------------------------------------------------------------------------------------
# A server of our own


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LocalServer:
    """`python -m delta_core.serve` on a free loopback port, for the length of a `with` block."""

    def __init__(self, *args: str, startup_s: float = 120.0):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.args = args
        self.startup_s = startup_s
        self.log = tempfile.TemporaryFile()
        self.process: subprocess.Popen | None = None

    def __enter__(self) -> LocalServer:
        command = [sys.executable, "-m", "delta_core.serve", "--host", "127.0.0.1", "--port", str(self.port), *self.args]
        self.process = subprocess.Popen(command, stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + self.startup_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the server exited with {self.process.returncode}:\n{self.output()}")
            try:
                if httpx.get(self.url + "/health", timeout=2).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        self.__exit__(None, None, None)
        raise RuntimeError(f"the server did not answer /health within {self.startup_s:g} s:\n{self.output()}")

    def output(self) -> str:
        self.log.seek(0)
        return self.log.read().decode(errors="replace")[-5000:]

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def __exit__(self, *exc: object) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def _print(report: Report, server_alive: bool | None) -> None:
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}")
    print(f"target: {report.url}, {report.clients} clients x {report.duration_s:g} s (ran {report.elapsed_s:.1f} s)")
    print(f"requests: {report.requests:,}  ->  {report.requests_per_s:,.0f} requests/s")
    print(f"latency: p50 {report.p50_ms:.1f} ms, p99 {report.p99_ms:.1f} ms, max {report.max_ms:.1f} ms")
    print(f"by kind: {report.by_kind}")
    print(f"by status: {report.by_status}")
    print(f"unexpected statuses: {report.unexpected or 0}")
    print(f"connection errors: {report.connection_errors or 0}; unanswered: {report.unanswered}")
    print(f"health after the run: {'healthy' if report.healthy_after else 'NOT HEALTHY'}"
          + ("" if server_alive is None else f"; server process {'alive' if server_alive else 'DEAD'}"))
    print(f"load-test client CPU: {report.client_cpu_s:.1f} s (it shares the machine with the server)")
    print("RESULT:", "OK" if report.ok and server_alive is not False else "FAILED")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", help="a running server on a loopback address (default: start one)")
    parser.add_argument("--duration", type=float, default=60.0, help="seconds of load (default 60)")
    parser.add_argument("--clients", type=int, default=200, help="concurrent clients (default 200)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--grace", type=float, default=60.0, help="seconds to wait for the last answers")
    parser.add_argument("--json", help="also write the report to this file")
    parser.add_argument("server_args", nargs="*", help="after --: options for the server we start (e.g. -- --jobs 2)")
    args = parser.parse_args(argv)
    if args.url:
        report = run_loadtest(args.url, args.duration, args.clients, args.seed, args.grace)
        alive = None
    else:
        with LocalServer(*args.server_args) as server:
            report = run_loadtest(server.url, args.duration, args.clients, args.seed, args.grace)
            alive = server.alive()
    _print(report, alive)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(asdict(report) | {"server_alive": alive}, f, indent=2)
    return 0 if report.ok and alive is not False else 1


if __name__ == "__main__":
    sys.exit(main())
