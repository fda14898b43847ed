"""How the benchmark measures: repeated figures as median, min and max; the processes it starts (the suite as a
user runs it, ``connector-contract serve``) and their times; where a logged run's time went."""

from __future__ import annotations

import contextlib
import http.client
import os
import re
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit


def stats(values: Sequence[float], digits: int = 4) -> dict[str, Any]:
    """median, min and max of repeated measurements, and the measurements themselves."""
    return {
        "median": round(statistics.median(values), digits),
        "min": round(min(values), digits),
        "max": round(max(values), digits),
        "runs": [round(v, digits) for v in values],
    }


def ratios(numerators: Sequence[float], denominators: Sequence[float]) -> dict[str, Any]:
    """Ratios taken inside each repeat, between runs made side by side (absolute times on a shared machine
    drift, ratios taken side by side much less)."""
    return stats([n / d for n, d in zip(numerators, denominators, strict=True)], 3)


def bench_env() -> dict[str, str]:
    """The environment of every process the benchmark starts: as a user's shell has it, except that
    Python writes and reads its bytecode caches (as after ``pip install``), and the suite's own
    settings cannot leak in from the caller's environment. Removing every ``PYTEST_*`` variable also
    removes ``PYTEST_DISABLE_PLUGIN_AUTOLOAD`` and ``PYTEST_ADDOPTS``: every run loads the installed
    plugins, as a user's does."""
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

    @property
    def session_s(self) -> float:
        """pytest's own "in N s" of the run: its session time, interpreter start-up excluded (nan if absent)."""
        match = re.search(r" in ([0-9.]+)s", self.stdout)
        return float(match.group(1)) if match else float("nan")


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
    """The suite as a user runs it: every installed plugin loaded, none disabled (no ``-p no:...``)."""
    return [sys.executable, "-m", "pytest", "-q", *args]


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


def _answered(record: dict[str, Any]) -> float:
    """When the answer to a logged request was received (time.time())."""
    return float(record["start"] + record["elapsed_ms"] / 1000)


def span(records: Sequence[dict[str, Any]]) -> float:
    """From the first request sent to the last answer received."""
    return max(_answered(r) for r in records) - float(min(r["start"] for r in records))


def phases(timed: Timed, records: Sequence[dict[str, Any]]) -> dict[str, float]:
    """Where a run's time went, from its request log: start-up until the first check's first request
    (interpreter, plugins, preflight and, under xdist, starting the workers), the checks themselves
    (first check request to last answer), and what followed (reports, clean-up, exit)."""
    checks = [r for r in records if r["check"] is not None]
    first = min(r["start"] for r in checks)
    last = max(_answered(r) for r in checks)
    return {"to_first_check_s": first - timed.started, "checks_s": last - first, "after_checks_s": timed.ended - last}


def connection(url: str) -> http.client.HTTPConnection:
    """One bare keep-alive ``http.client`` connection to ``url``, connected."""
    parts = urlsplit(url)
    assert parts.hostname is not None
    assert parts.port is not None
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    conn.connect()
    return conn
