"""The figures of the suite's own runs, each a section of the result: the whole embedded process, the requests
per check against their isolation floor, the harness overhead against a bare replay, parallel scaling with
pytest-xdist, and checks in flight together against a slow target."""

from __future__ import annotations

import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from measuring import Timed, connection, phases, pytest_command, ratios, run_timed, serve, span, stats

from pytest_connector_contract.checks.catalogue import request_floors
from pytest_connector_contract.checks.official_client import official_checks
from pytest_connector_contract.client import requestlog
from pytest_connector_contract.client.transport import Transport
from pytest_connector_contract.config.settings import DEFAULT_CONCURRENCY
from pytest_connector_contract.contract.spec import deletes_softly, load_spec, parse_version
from pytest_connector_contract.reference.endpoints import DEFAULT_ES_VERSION

#: the embedded run as a user starts it (the figure the start-up target applies to)
EMBEDDED = ("--connector-url", "embedded")


# ------------------------------------------------------------------------ 1. whole process, embedded


def bench_startup(work: Path, repeats: int) -> dict[str, Any]:
    steps = {
        "python -c pass": [sys.executable, "-c", "pass"],
        "import pytest": [sys.executable, "-c", "import pytest"],
        "pytest --collect-only (start-up, plugins, collection)": pytest_command(*EMBEDDED, "--collect-only"),
        "pytest --connector-url embedded": pytest_command(*EMBEDDED),
    }
    for args in steps.values():  # warm-up: bytecode caches written, files in the page cache
        run_timed(args, work)
    runs: dict[str, list[Timed]] = {name: [] for name in steps}
    for _ in range(repeats):
        for step, args in steps.items():
            runs[step].append(run_timed(args, work))
    walls = {step: [t.wall for t in timed] for step, timed in runs.items()}
    cpus = {step: [t.cpu for t in timed] for step, timed in runs.items()}
    name = "pytest --connector-url embedded"
    return {
        "command": " ".join(["python", *pytest_command(*EMBEDDED)[1:]]),
        "wall_s": stats(walls[name]),
        "cpu_s": stats(cpus[name]),
        # pytest's own "in N s" of the embedded run: the suite's time, start-up and collection excluded
        "pytest_session_s": stats([t.session_s for t in runs[name]]),
        "ratio_to_import_pytest": ratios(walls[name], walls["import pytest"]),
        "breakdown": {step: {"wall_s": stats(walls[step]), "cpu_s": stats(cpus[step])} for step in steps},
    }


# ------------------------------------------------------------------------------- 2. requests per check


def bench_requests(work: Path) -> dict[str, Any]:
    spec = load_spec()
    log = work / "requests.jsonl"
    run_timed(pytest_command(*EMBEDDED, "--connector-request-log", str(log)), work)
    records = requestlog.read(log)
    # the embedded target emulates DEFAULT_ES_VERSION: its deletes decide the floor of a deleted-connector check
    soft_delete = bool(deletes_softly(parse_version(DEFAULT_ES_VERSION), None))
    # the checks a run without options collects: the default suite and the official client's
    checks = (*spec.checks, *official_checks(spec))
    per_check: dict[str, int] = {check.id: 0 for check in checks}
    outside = 0
    for record in records:
        if record["check"] is None:
            outside += 1
        else:
            per_check[record["check"]] += 1
    kinds: dict[str, dict[str, int]] = {}
    rows: list[dict[str, Any]] = []
    for check in checks:
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
        "checks": len(checks),
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


def _target(record: dict[str, Any]) -> str:
    return str(record["path"]) + (f"?{record['query']}" if record["query"] else "")


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
        prepared.append((record["method"], _target(record), transport.headers_for(extra, body, record["method"]), body))
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
            conn.request(record["method"], _target(record), body=requestlog.request_body(record), headers=headers)
            answer = conn.getresponse()
            answer.read()
            mismatches += answer.status != record["status"]
        return time.perf_counter() - start, mismatches
    finally:
        conn.close()


def bench_overhead(work: Path, repeats: int) -> dict[str, Any]:
    suite, session, bare, http_client = [], [], [], []
    mismatches = 0
    count = 0
    for n in range(repeats):
        log = work / f"overhead-{n}.jsonl"
        with serve() as url:
            timed = run_timed(pytest_command("--connector-url", url, "--connector-request-log", str(log)), work)
        records = requestlog.read(log)
        count = len(records)
        with serve() as url:
            replayed, bad = replay(url, records)
        with serve() as url:
            replayed_http_client, bad_http_client = replay_http_client(url, records)
        mismatches += bad + bad_http_client
        suite.append(span(records))
        session.append(timed.session_s)
        bare.append(replayed)
        http_client.append(replayed_http_client)
    return {
        "requests": count,
        "suite_s": stats(suite),
        "pytest_session_s": stats(session),
        "replay_s": stats(bare),
        "replay_http_client_s": stats(http_client),
        "ratio": ratios(suite, bare),
        "ratio_pytest_session": ratios(session, bare),
        "ratio_vs_http_client": ratios(suite, http_client),
        "transport_vs_http_client": ratios(bare, http_client),
        "status_mismatches": mismatches,
    }


# ---------------------------------------------------------------------------------- 4. parallel scaling


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
    serial = workers[0]
    return {
        "latency_ms": latency_ms,
        "selection": list(select),
        "wall_s": {str(n): stats(walls[n]) for n in workers},
        "cpu_s": {str(n): stats(cpus[n]) for n in workers},
        "phases_s": {str(n): {key: stats(values) for key, values in parts[n].items()} for n in workers},
        "ratio_to_serial": {str(n): ratios(walls[n], walls[serial]) for n in workers[1:]},
        "checks_ratio_to_serial": {
            str(n): ratios(parts[n]["checks_s"], parts[serial]["checks_s"]) for n in workers[1:]
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
    in_flight = f"{DEFAULT_CONCURRENCY} in flight"
    embedded_modes = {**modes, in_flight: ["--connector-concurrency", str(DEFAULT_CONCURRENCY)]}
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
            embedded[mode].append(run_timed(pytest_command(*EMBEDDED, *args, *select), work).wall)
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
        "ratio": ratios(default, serial),
        "longest_chain": {"check": chain[0], "requests": chain[1], "seconds": round(chain[1] * latency_ms / 1000, 3)},
        "floor_s": stats(floors),
        "floor_ratio": ratios(floors, serial),
        "default_to_floor": ratios(default, floors),
        "embedded_wall_s": {mode: stats(values) for mode, values in embedded.items()},
        "embedded_ratio": ratios(embedded["default"], embedded["one at a time"]),
        "embedded_concurrent_ratio": ratios(embedded[in_flight], embedded["one at a time"]),
    }
