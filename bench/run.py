#!/usr/bin/env python3
"""Benchmarks of pytest-connector-contract: time to verdict, requests per check, harness overhead,
parallel scaling, checks in flight together, and the reference target under load.

    python bench/run.py                 # the full benchmark (a few minutes), writes bench/results.json
    python bench/run.py --quick         # a smoke run: few repeats, tiny sizes (bench/results-quick.json)
    python bench/run.py --only startup,requests

It prints a table and writes it as JSON (shape: docs/performance.md). Every figure is the median of
repeated runs, with min and max; every ratio is taken between runs made side by side in the same repeat,
because absolute times on a shared machine drift. Needs only what ``pip install -e '.[dev]'`` installs.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import itertools
import json
import os
import platform
import random
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from pytest_connector_contract.checks.catalogue import request_floors
from pytest_connector_contract.client import requestlog
from pytest_connector_contract.client.transport import Transport
from pytest_connector_contract.config.settings import DEFAULT_CONCURRENCY
from pytest_connector_contract.contract.spec import Spec, load_spec, parse_version
from pytest_connector_contract.reference.connectors import DEFAULT_ES_VERSION

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_OUTPUT = ROOT / "bench" / "results.json"
#: where --quick writes unless told otherwise: a smoke run never replaces the published figures
QUICK_OUTPUT = ROOT / "bench" / "results-quick.json"
SCHEMA_VERSION = 1
SECTIONS = ("startup", "requests", "overhead", "scaling", "concurrency", "load")

#: the targets of docs/performance.md, by the key of the figure they apply to
TARGETS = {
    "startup": ("whole process, pytest --connector-url embedded", "s", 2.0, "<="),
    "requests": ("requests per check / isolation floor", "x", 1.2, "<="),
    "overhead": ("suite / bare replay over the same transport", "x", 1.5, "<="),
    "scaling": ("-n 8 / serial, 20 ms target", "x", 0.25, "<="),
    "concurrency": ("default / --connector-concurrency 1, 20 ms target", "x", 0.15, "<="),
    "load": ("errors and model violations under load", "", 0, "=="),
}


# ----------------------------------------------------------------------------------------- helpers


def stats(values: Sequence[float], digits: int = 4) -> dict[str, Any]:
    """median, min and max of repeated measurements, and the measurements themselves."""
    return {
        "median": round(statistics.median(values), digits),
        "min": round(min(values), digits),
        "max": round(max(values), digits),
        "runs": [round(v, digits) for v in values],
    }


def bench_env() -> dict[str, str]:
    """The environment of every process the benchmark starts: as a user's shell has it, except that
    Python writes and reads its bytecode caches (as after ``pip install``), and the suite's own
    settings cannot leak in from the caller's environment."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CONNECTOR_", "PYTEST_"))}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONUNBUFFERED"] = "1"
    return env


@dataclass
class Timed:
    wall: float
    cpu: float
    returncode: int
    stdout: str
    #: time.time() when the process was started and when it had exited
    started: float = 0.0
    ended: float = 0.0


def run_timed(args: Sequence[str], cwd: Path, *, check: bool = True) -> Timed:
    """Run a command to its end; wall time from start to exit, CPU time of it and its children."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.time()
    start = time.perf_counter()
    done = subprocess.run(list(args), cwd=cwd, env=bench_env(), capture_output=True, text=True, check=False)
    wall = time.perf_counter() - start
    ended = time.time()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if check and done.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} exited {done.returncode}:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    return Timed(wall, cpu, done.returncode, done.stdout, started, ended)


def pytest_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *args]


@contextlib.contextmanager
def serve(latency_ms: float = 0) -> Iterator[str]:
    """``connector-contract serve`` in its own process on a free port; yields its URL."""
    args = [sys.executable, "-m", "pytest_connector_contract.cli.main", "serve", "--port", "0"]
    if latency_ms:
        args += ["--latency-ms", str(latency_ms)]
    process = subprocess.Popen(args, env=bench_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        match = re.search(r"listening on (\S+)", line)
        if match is None:
            raise RuntimeError(
                f"connector-contract serve did not start: {line}{process.stderr.read() if process.stderr else ''}"
            )
        yield match.group(1)
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:  # pragma: no cover - serve stops on SIGTERM
            process.kill()
            process.wait()
        for stream in (process.stdout, process.stderr):
            if stream is not None:
                stream.close()


def connection(url: str) -> http.client.HTTPConnection:
    parts = urlsplit(url)
    assert parts.hostname is not None
    assert parts.port is not None
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    conn.connect()
    return conn


# ------------------------------------------------------------------------ 1. whole process, embedded


def bench_startup(work: Path, repeats: int) -> dict[str, Any]:
    full = pytest_command("--connector-url", "embedded")
    steps = {
        "python -c pass": [sys.executable, "-c", "pass"],
        "import pytest": [sys.executable, "-c", "import pytest"],
        "pytest --collect-only (start-up, plugins, collection)": pytest_command(
            "--connector-url", "embedded", "--collect-only"
        ),
        "pytest --connector-url embedded": full,
    }
    for args in steps.values():  # warm-up: bytecode caches written, files in the page cache
        run_timed(args, work)
    walls: dict[str, list[float]] = {name: [] for name in steps}
    cpus: dict[str, list[float]] = {name: [] for name in steps}
    #: pytest's own "in N s" of the embedded run: the suite's time, start-up and collection excluded
    sessions: list[float] = []
    name = "pytest --connector-url embedded"
    for _ in range(repeats):
        for step, args in steps.items():
            timed = run_timed(args, work)
            walls[step].append(timed.wall)
            cpus[step].append(timed.cpu)
            match = re.search(r" in ([0-9.]+)s", timed.stdout) if step == name else None
            if match:
                sessions.append(float(match.group(1)))
    return {
        "command": "python -m pytest -q -p no:cacheprovider --connector-url embedded",
        "wall_s": stats(walls[name]),
        "cpu_s": stats(cpus[name]),
        "pytest_session_s": stats(sessions),
        "breakdown": {step: {"wall_s": stats(walls[step]), "cpu_s": stats(cpus[step])} for step in steps},
    }


# ------------------------------------------------------------------------------- 2. requests per check


def bench_requests(work: Path) -> dict[str, Any]:
    spec = load_spec()
    log = work / "requests.jsonl"
    run_timed(pytest_command("--connector-url", "embedded", "--connector-request-log", str(log)), work)
    records = requestlog.read(log)
    version = parse_version(DEFAULT_ES_VERSION)
    soft_delete = version is not None and version >= (9, 0, 0)
    per_check: dict[str, int] = {check.id: 0 for check in spec.checks}
    outside = 0
    for record in records:
        if record["check"] is None:
            outside += 1
        else:
            per_check[record["check"]] += 1
    kinds: dict[str, dict[str, int]] = {}
    rows = []
    for check in spec.checks:
        strict, safe = request_floors(spec, check, soft_delete=soft_delete)
        kind = kinds.setdefault(check.kind, {"checks": 0, "requests": 0, "floor_strict": 0, "floor_safe": 0})
        kind["checks"] += 1
        kind["requests"] += per_check[check.id]
        kind["floor_strict"] += strict
        kind["floor_safe"] += safe
        rows.append({"check": check.id, "requests": per_check[check.id], "floor_strict": strict, "floor_safe": safe})
    in_checks = sum(per_check.values())
    floor_strict = sum(r["floor_strict"] for r in rows)
    floor_safe = sum(r["floor_safe"] for r in rows)
    return {
        "total": len(records),
        "outside_checks": outside,
        "in_checks": in_checks,
        "checks": len(spec.checks),
        "per_check": stats([float(r["requests"]) for r in rows], 2),
        "floor_strict": floor_strict,
        "floor_safe": floor_safe,
        "ratio_safe": round(len(records) / floor_safe, 4),
        "ratio_strict": round(len(records) / floor_strict, 4),
        "ratio_safe_checks_only": round(in_checks / floor_safe, 4),
        "by_kind": kinds,
        "by_check": rows,
    }


# --------------------------------------------------------------------------------- 3. harness overhead


def replay(url: str, records: Sequence[dict[str, Any]]) -> tuple[float, int]:
    """Send the logged requests in order over the suite's own transport (a ``requests.Session`` with the
    suite's headers, keep-alive, no proxy), without the suite; (seconds, status mismatches)."""
    transport = Transport(url, timeout=30, trust_env=False)
    prepared = []
    for record in records:
        extra = {"Accept": record["accept"]} if record["accept"] else {}
        if record["content_type"] is not None:
            extra["Content-Type"] = record["content_type"]
        body = requestlog.request_body(record)
        target = record["path"] + (f"?{record['query']}" if record["query"] else "")
        prepared.append((record["method"], target, transport.headers_for(extra, body, record["method"]), body))
    mismatches = 0
    try:
        transport.send("GET", "/", transport.headers_for({}, None, "GET"), None)  # connect outside the timing
        start = time.perf_counter()
        for record, (method, target, headers, body) in zip(records, prepared, strict=True):
            status, _, _ = transport.send(method, target, headers, body)
            mismatches += status != record["status"]
        return time.perf_counter() - start, mismatches
    finally:
        transport.close()


def replay_http_client(url: str, records: Sequence[dict[str, Any]]) -> tuple[float, int]:
    """The same replay over one bare ``http.client`` keep-alive connection (what the suite's transport
    was before it moved to requests; kept to show what requests costs per request)."""
    conn = connection(url)
    mismatches = 0
    try:
        start = time.perf_counter()
        for record in records:
            headers = {"Accept": record["accept"] or "*/*"}
            if record["content_type"] is not None:
                headers["Content-Type"] = record["content_type"]
            target = record["path"] + (f"?{record['query']}" if record["query"] else "")
            conn.request(record["method"], target, body=requestlog.request_body(record), headers=headers)
            answer = conn.getresponse()
            answer.read()
            mismatches += answer.status != record["status"]
        return time.perf_counter() - start, mismatches
    finally:
        conn.close()


def span(records: Sequence[dict[str, Any]]) -> float:
    """From the first request sent to the last answer received."""
    first = min(r["start"] for r in records)
    last = max(r["start"] + r["elapsed_ms"] / 1000 for r in records)
    return float(last - first)


def bench_overhead(work: Path, repeats: int) -> dict[str, Any]:
    suite, session, bare, http_client = [], [], [], []
    ratio, ratio_session, ratio_http_client, transport_cost = [], [], [], []
    mismatches = 0
    count = 0
    for n in range(repeats):
        log = work / f"overhead-{n}.jsonl"
        with serve() as url:
            timed = run_timed(pytest_command("--connector-url", url, "--connector-request-log", str(log)), work)
        records = requestlog.read(log)
        count = len(records)
        match = re.search(r" in ([0-9.]+)s", timed.stdout)
        with serve() as url:
            replayed, bad = replay(url, records)
        with serve() as url:
            replayed_http_client, bad_http_client = replay_http_client(url, records)
        mismatches += bad + bad_http_client
        suite.append(span(records))
        session.append(float(match.group(1)) if match else float("nan"))
        bare.append(replayed)
        http_client.append(replayed_http_client)
        ratio.append(suite[-1] / replayed)
        ratio_session.append(session[-1] / replayed)
        ratio_http_client.append(suite[-1] / replayed_http_client)
        transport_cost.append(replayed / replayed_http_client)
    return {
        "requests": count,
        "suite_s": stats(suite),
        "pytest_session_s": stats(session),
        "replay_s": stats(bare),
        "replay_http_client_s": stats(http_client),
        "ratio": stats(ratio, 3),
        "ratio_pytest_session": stats(ratio_session, 3),
        "ratio_vs_http_client": stats(ratio_http_client, 3),
        "transport_vs_http_client": stats(transport_cost, 3),
        "status_mismatches": mismatches,
    }


# ---------------------------------------------------------------------------------- 4. parallel scaling


def phases(timed: Timed, records: Sequence[dict[str, Any]]) -> dict[str, float]:
    """Where a run's time went, from its request log: start-up until the first check's first request
    (interpreter, plugins, preflight and, under xdist, starting the workers), the checks themselves
    (first check request to last answer), and what followed (reports, clean-up, exit)."""
    checks = [r for r in records if r["check"] is not None]
    first = min(r["start"] for r in checks)
    last = max(r["start"] + r["elapsed_ms"] / 1000 for r in checks)
    return {"to_first_check_s": first - timed.started, "checks_s": last - first, "after_checks_s": timed.ended - last}


def bench_scaling(
    work: Path, repeats: int, workers: Sequence[int], latency_ms: float, select: Sequence[str]
) -> dict[str, Any]:
    walls: dict[int, list[float]] = {n: [] for n in workers}
    cpus: dict[int, list[float]] = {n: [] for n in workers}
    parts: dict[int, dict[str, list[float]]] = {n: {} for n in workers}
    for repeat in range(repeats):
        for n in workers:
            log = work / f"scaling-{repeat}-{n}.jsonl"
            with serve(latency_ms) as url:
                # one check at a time in each process: the xdist figures (concurrency is the next section)
                args = pytest_command(
                    "--connector-url", url, "--connector-request-log", str(log), "--connector-concurrency", "1",
                    *select, *(["-n", str(n)] if n else []),
                )  # fmt: skip
                timed = run_timed(args, work)
            walls[n].append(timed.wall)
            cpus[n].append(timed.cpu)
            for key, value in phases(timed, requestlog.read(log)).items():
                parts[n].setdefault(key, []).append(value)
    serial = walls[workers[0]]
    serial_checks = parts[workers[0]]["checks_s"]
    return {
        "latency_ms": latency_ms,
        "selection": list(select),
        "wall_s": {str(n): stats(walls[n]) for n in workers},
        "cpu_s": {str(n): stats(cpus[n]) for n in workers},
        "phases_s": {str(n): {key: stats(values) for key, values in parts[n].items()} for n in workers},
        "ratio_to_serial": {
            str(n): stats([w / s for w, s in zip(walls[n], serial, strict=True)], 3) for n in workers[1:]
        },
        "checks_ratio_to_serial": {
            str(n): stats([c / s for c, s in zip(parts[n]["checks_s"], serial_checks, strict=True)], 3)
            for n in workers[1:]
        },
    }


# ----------------------------------------------------------------------- 5. checks in flight together


def longest_chain(records: Sequence[dict[str, Any]]) -> tuple[str, int]:
    """The check that sends the most requests, and how many: one after another, they are the longest chain
    of requests any check needs, its clean-up included."""
    counts: dict[str, int] = {}
    for record in records:
        if record["check"] is not None:
            counts[record["check"]] = counts.get(record["check"], 0) + 1
    check = max(counts, key=lambda c: (counts[c], c))
    return check, counts[check]


def bench_concurrency(work: Path, repeats: int, latency_ms: float, select: Sequence[str]) -> dict[str, Any]:
    """The default run (checks in flight together) and ``--connector-concurrency 1``, one after the other in
    each repeat: against ``serve --latency-ms`` (whole process, with the request log's phases) and against
    the embedded target (whole process, no log: the zero-setup run as a user starts it; there the default is
    one at a time, so the default number in flight is measured too). The floor of the
    remote figure is the default run's start-up to its first check plus the longest chain of requests of one
    check at the target's latency, plus what follows the last answer (reports, clean-up, exit)."""
    modes = {"default": [], "one at a time": ["--connector-concurrency", "1"]}
    walls: dict[str, list[float]] = {m: [] for m in modes}
    cpus: dict[str, list[float]] = {m: [] for m in modes}
    parts: dict[str, dict[str, list[float]]] = {m: {} for m in modes}
    #: the embedded target runs one check at a time by default; the last mode is what it would cost otherwise
    embedded_modes = {
        **modes,
        f"{DEFAULT_CONCURRENCY} in flight": ["--connector-concurrency", str(DEFAULT_CONCURRENCY)],
    }
    embedded: dict[str, list[float]] = {m: [] for m in embedded_modes}
    chain: tuple[str, int] = ("", 0)
    for repeat in range(repeats):
        for mode, args in modes.items():
            log = work / f"concurrency-{repeat}-{len(args)}.jsonl"
            with serve(latency_ms) as url:
                timed = run_timed(
                    pytest_command("--connector-url", url, "--connector-request-log", str(log), *args, *select), work
                )
            walls[mode].append(timed.wall)
            cpus[mode].append(timed.cpu)
            records = requestlog.read(log)
            for key, value in phases(timed, records).items():
                parts[mode].setdefault(key, []).append(value)
            if not args:
                chain = max(chain, longest_chain(records), key=lambda c: c[1])
        for mode, args in embedded_modes.items():
            embedded[mode].append(run_timed(pytest_command("--connector-url", "embedded", *args, *select), work).wall)
    default, serial = walls["default"], walls["one at a time"]
    floors = [
        start + chain[1] * latency_ms / 1000 + after
        for start, after in zip(parts["default"]["to_first_check_s"], parts["default"]["after_checks_s"], strict=True)
    ]
    return {
        "latency_ms": latency_ms,
        "selection": list(select),
        "default_concurrency": DEFAULT_CONCURRENCY,
        "wall_s": {mode: stats(values) for mode, values in walls.items()},
        "cpu_s": {mode: stats(values) for mode, values in cpus.items()},
        "phases_s": {mode: {key: stats(values) for key, values in parts[mode].items()} for mode in modes},
        "ratio": stats([d / s for d, s in zip(default, serial, strict=True)], 3),
        "longest_chain": {"check": chain[0], "requests": chain[1], "seconds": round(chain[1] * latency_ms / 1000, 3)},
        "floor_s": stats(floors),
        "floor_ratio": stats([f / s for f, s in zip(floors, serial, strict=True)], 3),
        "default_to_floor": stats([d / f for d, f in zip(default, floors, strict=True)], 3),
        "embedded_wall_s": {mode: stats(values) for mode, values in embedded.items()},
        "embedded_ratio": stats(
            [d / s for d, s in zip(embedded["default"], embedded["one at a time"], strict=True)], 3
        ),
        "embedded_concurrent_ratio": stats(
            [
                c / s
                for c, s in zip(embedded[f"{DEFAULT_CONCURRENCY} in flight"], embedded["one at a time"], strict=True)
            ],
            3,
        ),
    }


# ---------------------------------------------------------------------------- 6. reference under load


class Model:
    """What the target must answer, from the transition table of the emulated version."""

    def __init__(self, spec: Spec, version: str) -> None:
        parsed = parse_version(version)
        assert parsed is not None
        profile = spec.profile_for_version(parsed)
        assert profile is not None
        self.profile = profile
        self.statuses = list(spec.statuses)

    def allows(self, current: str, requested: str) -> bool:
        return self.profile.allows(current, requested)

    def explains(self, start: str, racers: Sequence[tuple[str, int]], final: str) -> bool:
        """Whether some order of the racing requests, each applied atomically to the then-current
        status, gives exactly the answers seen and the final status read back."""
        for order in itertools.permutations(racers):
            current = start
            for requested, code in order:
                accepted = self.allows(current, requested)
                if (code == 200) != accepted:
                    break
                if accepted:
                    current = requested
            else:
                if current == final:
                    return True
        return False


class LoadClient:
    """One client of the load test: its own keep-alive connection and its own connectors."""

    def __init__(self, url: str, name: str, model: Model, seed: int) -> None:
        self.conn = connection(url)
        self.name = name
        self.model = model
        self.rng = random.Random(seed)
        self.owned: dict[str, str] = {}  # id -> status the model predicts
        self.latencies: list[float] = []
        self.problems: list[str] = []
        self._next = itertools.count(1)

    def call(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        payload = None if body is None else json.dumps(body).encode()
        headers = {"Content-Type": "application/json"} if payload is not None else {}
        start = time.perf_counter()
        try:
            self.conn.request(method, path, body=payload, headers=headers)
            answer = self.conn.getresponse()
            data = answer.read()
        except (OSError, http.client.HTTPException) as exc:
            self.problems.append(f"{method} {path}: {type(exc).__name__}: {exc}")
            return 0, None
        self.latencies.append(time.perf_counter() - start)
        try:
            decoded = json.loads(data) if data else None
        except ValueError:
            decoded = None
        if answer.status >= 500:
            self.problems.append(f"{method} {path}: HTTP {answer.status} {data[:200]!r}")
        return answer.status, decoded

    def create(self) -> None:
        cid = f"bench-{self.name}-{next(self._next)}"
        status, _ = self.call("PUT", f"/_connector/{cid}", {"index_name": cid, "name": cid, "is_native": False})
        if status != 201:
            self.problems.append(f"create {cid}: HTTP {status}, expected 201")
            return
        self.owned[cid] = "created"

    def read(self) -> None:
        cid = self.rng.choice(list(self.owned))
        status, body = self.call("GET", f"/_connector/{cid}")
        seen = body.get("status") if isinstance(body, dict) else None
        if status != 200 or seen != self.owned[cid]:
            self.problems.append(f"read {cid}: HTTP {status} status {seen!r}, model says {self.owned[cid]!r}")

    def update(self) -> None:
        cid = self.rng.choice(list(self.owned))
        current = self.owned[cid]
        allowed = [s for s in self.model.statuses if self.model.allows(current, s)]
        requested = self.rng.choice(allowed if allowed and self.rng.random() < 0.75 else self.model.statuses)
        status, _ = self.call("PUT", f"/_connector/{cid}/_status", {"status": requested})
        expected = 200 if self.model.allows(current, requested) else 400
        if status != expected:
            self.problems.append(f"{cid}: {current}->{requested} answered HTTP {status}, model says {expected}")
        elif status == 200:
            self.owned[cid] = requested

    def mixed(self, ops: int) -> None:
        self.create()
        for _ in range(ops - 1):
            draw = self.rng.random()
            if draw < 0.2 or not self.owned:
                self.create()
            elif draw < 0.6:
                self.read()
            else:
                self.update()

    def verify(self) -> None:
        for cid, expected in self.owned.items():
            status, body = self.call("GET", f"/_connector/{cid}")
            seen = body.get("status") if isinstance(body, dict) else None
            if status != 200 or seen != expected:
                self.problems.append(f"final {cid}: HTTP {status} status {seen!r}, model says {expected!r}")

    def close(self) -> None:
        self.conn.close()


def race(clients: Sequence[LoadClient], group: int, rounds: int, barrier: threading.Barrier, out: list[str]) -> None:
    """``len(clients)`` clients race conflicting transitions on one connector, ``rounds`` times.

    Each round starts from ``configured``; half the racers ask for ``needs_configuration`` and half for
    ``connected``: whichever is applied first makes every other one invalid (neither status may follow
    the other), so two acceptances mean a transition was accepted from a status that was no longer current.
    """
    leader, model = clients[0], clients[0].model
    cid = f"bench-race-{group}"
    results: list[tuple[str, int] | None] = [None] * len(clients)

    def setup() -> str | None:
        status, body = leader.call("GET", f"/_connector/{cid}")
        current = body.get("status") if isinstance(body, dict) and status == 200 else None
        path = {
            None: ["needs_configuration", "configured"],
            "created": ["needs_configuration", "configured"],
            "needs_configuration": ["configured"],
            "connected": ["configured"],
            "error": ["configured"],
            "configured": [],
        }[current]
        if current is None:
            code, _ = leader.call("PUT", f"/_connector/{cid}", {"index_name": cid, "name": cid, "is_native": False})
            if code != 201:
                out.append(f"race {cid}: create answered HTTP {code}")
                return None
        for step in path:
            code, _ = leader.call("PUT", f"/_connector/{cid}/_status", {"status": step})
            if code != 200:
                out.append(f"race {cid}: reset to {step} answered HTTP {code}")
                return None
        return "configured"

    def racer(index: int, client: LoadClient) -> None:
        for _ in range(rounds):
            barrier.wait()
            requested = ("needs_configuration", "connected")[index % 2]
            code, _ = client.call("PUT", f"/_connector/{cid}/_status", {"status": requested})
            results[index] = (requested, code)
            barrier.wait()  # the leader checks the round
            barrier.wait()

    threads = [threading.Thread(target=racer, args=(i, c)) for i, c in enumerate(clients[1:], 1)]
    for thread in threads:
        thread.start()
    for _ in range(rounds):
        start = setup()
        barrier.wait()
        code, _ = leader.call("PUT", f"/_connector/{cid}/_status", {"status": "needs_configuration"})
        results[0] = ("needs_configuration", code)
        barrier.wait()
        _status, body = leader.call("GET", f"/_connector/{cid}")
        final = body.get("status") if isinstance(body, dict) else None
        seen = [r for r in results if r is not None]
        if start is not None and (final is None or not model.explains(start, seen, final)):
            out.append(f"race {cid}: from {start}, answers {seen} and final status {final!r}: no order explains them")
        barrier.wait()
    for thread in threads:
        thread.join()


def load_level(url: str, clients: int, ops: int, race_rounds: int, seed: int = 0) -> dict[str, Any]:
    """``clients`` concurrent clients: a mixed phase (creates, reads, status updates on their own
    connectors, every answer checked against the model), then race rounds on shared connectors."""
    model = Model(load_spec(), DEFAULT_ES_VERSION)
    pool = [LoadClient(url, f"{clients}c{n}", model, seed * 1000 + n) for n in range(clients)]
    try:
        threads = [threading.Thread(target=c.mixed, args=(ops,)) for c in pool]
        start = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        elapsed = time.perf_counter() - start
        latencies = sorted(x for c in pool for x in c.latencies)
        for c in pool:
            c.verify()
        race_problems: list[str] = []
        groups = [pool[i : i + 4] for i in range(0, len(pool) - 1, 4)] if clients > 1 else []
        groups = [g for g in groups if len(g) > 1]
        race_threads = [
            threading.Thread(
                target=race, args=(g, n, race_rounds, threading.Barrier(len(g), timeout=60), race_problems)
            )
            for n, g in enumerate(groups)
        ]
        for thread in race_threads:
            thread.start()
        for thread in race_threads:
            thread.join()
        problems = [p for c in pool for p in c.problems] + race_problems
    finally:
        for c in pool:
            c.close()

    def pct(q: float) -> float:
        return round(latencies[min(len(latencies) - 1, int(q * len(latencies)))] * 1000, 3) if latencies else 0.0

    return {
        "clients": clients,
        "requests": len(latencies),
        "seconds": round(elapsed, 4),
        "rps": round(len(latencies) / elapsed, 1) if elapsed else 0.0,
        "latency_ms": {"p50": pct(0.5), "p90": pct(0.9), "p99": pct(0.99), "max": pct(1.0)},
        "connectors": sum(len(c.owned) for c in pool),
        "race_groups": len(groups),
        "race_rounds": race_rounds * len(groups),
        "errors": len(problems),
        "problems": problems[:20],
    }


def bench_load(repeats: int, levels: Sequence[int], ops: int, race_rounds: int) -> dict[str, Any]:
    results: dict[str, Any] = {}
    for clients in levels:
        runs = []
        for n in range(repeats):
            with serve() as url:
                runs.append(load_level(url, clients, max(2, ops // clients), race_rounds, seed=n))
        results[str(clients)] = {
            "clients": clients,
            "requests": runs[0]["requests"],
            "rps": stats([r["rps"] for r in runs], 1),
            "latency_ms": {q: stats([r["latency_ms"][q] for r in runs], 3) for q in ("p50", "p90", "p99", "max")},
            "race_rounds": sum(r["race_rounds"] for r in runs),
            "errors": sum(r["errors"] for r in runs),
            "problems": [p for r in runs for p in r["problems"]][:20],
        }
    return {"operations_per_level": ops, "mix": {"create": 0.2, "read": 0.4, "status update": 0.4}, "levels": results}


# --------------------------------------------------------------------------------------------- report


def versions() -> dict[str, str]:
    found = {"python": platform.python_version()}
    for dist in (
        "pytest-connector-contract",
        "pytest",
        "pytest-xdist",
        "pytest-html",
        "requests",
        "urllib3",
        "jsonschema",
    ):
        with contextlib.suppress(metadata.PackageNotFoundError):
            found[dist] = metadata.version(dist)
    return found


def pytest_plugins() -> list[str]:
    """The third-party pytest plugins every run of the benchmark loads (each adds to start-up)."""
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-VV"], env=bench_env(), capture_output=True, text=True, check=False
    )
    names = re.findall(r"^  (\S+) at ", done.stdout + done.stderr, flags=re.M)
    return sorted(set(names))


def machine() -> dict[str, Any]:
    model = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return {
        "cpus": os.cpu_count(),
        "cpu_model": model,
        "platform": platform.platform(),
        "load_average": list(os.getloadavg()),
    }


def verdicts(sections: dict[str, Any]) -> list[dict[str, Any]]:
    rows = []
    for key, (name, unit, limit, op) in TARGETS.items():
        section = sections.get(key)
        if section is None:
            continue
        if key == "startup":
            measured = section["wall_s"]["median"]
        elif key == "requests":
            measured = section["ratio_safe"]
        elif key == "overhead":
            measured = section["ratio"]["median"]
        elif key == "concurrency":
            measured = section["ratio"]["median"]
            latency = f"{section['latency_ms']:g} ms target"
            name = f"default ({section['default_concurrency']} in flight) / one at a time, {latency}"
        elif key == "scaling":
            ratio = section["ratio_to_serial"]
            last = max(ratio, key=int) if ratio else None
            if last is None:
                continue
            measured = ratio[last]["median"]
            name = f"-n {last} / serial, {section['latency_ms']:g} ms target"
        else:
            measured = sum(level["errors"] for level in section["levels"].values())
        met = measured <= limit if op == "<=" else measured == limit
        rows.append(
            {"figure": key, "name": name, "unit": unit, "measured": measured, "target": limit, "op": op, "met": met}
        )
    return rows


def table(result: dict[str, Any]) -> str:
    lines = [f"{'figure':<58} {'median':>9} {'min':>9} {'max':>9}  target"]

    def row(name: str, s: dict[str, Any] | float, target: str = "") -> None:
        if isinstance(s, dict):
            lines.append(f"{name:<58} {s['median']:>9} {s['min']:>9} {s['max']:>9}  {target}")
        else:
            lines.append(f"{name:<58} {s:>9} {'':>9} {'':>9}  {target}")

    sections = result["sections"]
    if "startup" in sections:
        s = sections["startup"]
        for step, values in s["breakdown"].items():
            row(f"{step} (s)", values["wall_s"], "<= 2 s" if step.startswith("pytest --connector-url") else "")
        row("  of which CPU, whole process (s)", s["cpu_s"])
        row("  pytest session time, the suite itself (s)", s["pytest_session_s"], "< 1 s")
    if "requests" in sections:
        s = sections["requests"]
        row("requests, total", s["total"])
        row("requests, outside checks (preflight)", s["outside_checks"])
        row("requests per check", s["per_check"])
        row("isolation floor, strict (create = PUT)", s["floor_strict"])
        row("isolation floor, safe (create = GET 404 + PUT)", s["floor_safe"])
        row("requests / safe floor", s["ratio_safe"], "<= 1.2")
        row("requests / strict floor", s["ratio_strict"])
    if "overhead" in sections:
        s = sections["overhead"]
        row("suite, first request to last answer (s)", s["suite_s"])
        row("bare replay over the same transport (requests) (s)", s["replay_s"])
        row("bare replay over one http.client connection (s)", s["replay_http_client_s"])
        row("suite / bare replay over the same transport", s["ratio"], "<= 1.5")
        row("suite / http.client replay", s["ratio_vs_http_client"])
        row("transport replay / http.client replay", s["transport_vs_http_client"])
        row("pytest session time / bare replay", s["ratio_pytest_session"])
    if "scaling" in sections:
        s = sections["scaling"]
        for n, values in s["wall_s"].items():
            row(f"{'serial' if n == '0' else '-n ' + n}, {s['latency_ms']:g} ms target (s)", values)
        for n, values in s["phases_s"].items():
            label = "serial" if n == "0" else "-n " + n
            row(f"  {label}: start-up to the first check (s)", values["to_first_check_s"])
            row(f"  {label}: the checks, first request to last answer (s)", values["checks_s"])
        for n, values in s["ratio_to_serial"].items():
            row(f"-n {n} / serial, whole process", values, "<= 0.25" if n == "8" else "")
        for n, values in s["checks_ratio_to_serial"].items():
            row(f"-n {n} / serial, the checks alone", values)
    if "concurrency" in sections:
        s = sections["concurrency"]
        for mode, values in s["wall_s"].items():
            row(f"{mode}, {s['latency_ms']:g} ms target, whole process (s)", values)
        for mode, values in s["phases_s"].items():
            row(f"  {mode}: start-up to the first check (s)", values["to_first_check_s"])
            row(f"  {mode}: the checks, first request to last answer (s)", values["checks_s"])
            row(f"  {mode}: after the last answer (s)", values["after_checks_s"])
            row(f"  {mode}: CPU time (s)", s["cpu_s"][mode])
        row("default / one at a time, 20 ms target", s["ratio"], "<= 0.15")
        chain = s["longest_chain"]
        row(f"longest chain: {chain['check']} ({chain['requests']} requests) (s)", chain["seconds"])
        row("floor: start-up + longest chain + after (s)", s["floor_s"])
        row("floor / one at a time", s["floor_ratio"])
        row("default / floor", s["default_to_floor"])
        for mode, values in s["embedded_wall_s"].items():
            row(f"{mode}, embedded, whole process (s)", values)
        row("default / one at a time, embedded (the same: 1 in flight)", s["embedded_ratio"])
        row(f"{s['default_concurrency']} in flight / one at a time, embedded", s["embedded_concurrent_ratio"])
    if "load" in sections:
        for n, level in sections["load"]["levels"].items():
            row(f"reference, {n} client(s): requests/s", level["rps"])
            for q in ("p50", "p99"):
                row(f"reference, {n} client(s): latency {q} (ms)", level["latency_ms"][q])
            row(f"reference, {n} client(s): errors + model violations", level["errors"], "0")
    lines.append("")
    if result["quick"]:
        lines.append("quick run: tiny sizes and one repeat, so the verdicts below say nothing about the targets")
    for verdict in result["targets"]:
        mark = "met" if verdict["met"] else "NOT MET"
        lines.append(f"target {verdict['name']}: {verdict['measured']} {verdict['op']} {verdict['target']}: {mark}")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="few repeats and tiny sizes (a smoke test)")
    parser.add_argument("--repeats", type=int, default=None, help="repeats of each timed figure (default 5, quick 1)")
    parser.add_argument("--only", default=",".join(SECTIONS), help=f"comma-separated sections of {', '.join(SECTIONS)}")
    parser.add_argument(
        "--output",
        type=Path,
        default=None,
        help="where to write the JSON (default bench/results.json; bench/results-quick.json with --quick)",
    )
    args = parser.parse_args(argv)
    only = [s.strip() for s in args.only.split(",") if s.strip()]
    unknown = set(only) - set(SECTIONS)
    if unknown:
        parser.error(f"unknown section(s): {', '.join(sorted(unknown))}")
    repeats = args.repeats or (1 if args.quick else 5)
    started = datetime.now(UTC)
    load_before = list(os.getloadavg())
    sections: dict[str, Any] = {}
    steps: dict[str, Callable[[Path], dict[str, Any]]] = {
        "startup": lambda work: bench_startup(work, repeats),
        "requests": bench_requests,
        "overhead": lambda work: bench_overhead(work, repeats),
        "scaling": lambda work: bench_scaling(
            work,
            max(1, repeats // 2) if not args.quick else 1,
            (0, 2) if args.quick else (0, 2, 4, 8),
            20.0,
            ["-k", "transition and created"] if args.quick else [],
        ),
        "concurrency": lambda work: bench_concurrency(
            work,
            1 if args.quick else repeats,
            20.0,
            ["-k", "transition and created"] if args.quick else [],
        ),
        "load": lambda work: bench_load(
            1 if args.quick else max(1, repeats // 2),
            (1, 4) if args.quick else (1, 8, 32),
            64 if args.quick else 4000,
            2 if args.quick else 50,
        ),
    }
    work = Path(tempfile.mkdtemp(prefix="connector-contract-bench-"))
    try:
        for name in only:
            print(f"[bench] {name} ...", file=sys.stderr, flush=True)
            sections[name] = steps[name](work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    result = {
        "schema_version": SCHEMA_VERSION,
        "generated_at": started.isoformat(timespec="seconds"),
        "quick": args.quick,
        "repeats": repeats,
        "command": " ".join(["python", "bench/run.py", *(argv if argv is not None else sys.argv[1:])]),
        "machine": {**machine(), "load_average_before": load_before},
        "versions": versions(),
        "pytest_plugins": pytest_plugins(),
        "sections": sections,
    }
    result["targets"] = verdicts(sections)
    output: Path = args.output or (QUICK_OUTPUT if args.quick else DEFAULT_OUTPUT)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(table(result))
    print(f"\nJSON: {output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
