"""What a result file holds besides the figures (the machine, the versions, the plugins every run loads), the
targets the figures are judged against, and the table the benchmark prints."""

from __future__ import annotations

import contextlib
import os
import platform
import re
import subprocess
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

from measuring import bench_env

#: the performance targets of the design brief ("Performance targets"), by the section whose figure they
#: judge: (what is compared, unit, limit, operator). Requests per check and the load test's correctness are
#: the benchmark's own; parallel scaling with pytest-xdist is measured with no target (xdist stays supported,
#: checks in flight together are the way to a fast verdict).
TARGETS = {
    "startup": ('whole process, pytest --connector-url embedded / python -c "import pytest"', "x", 3.5, "<="),
    "requests": ("requests per check / isolation floor", "x", 1.2, "<="),
    "overhead": ("suite / bare replay over the same transport", "x", 1.3, "<="),
    "concurrency": ("default / --connector-concurrency 1, 20 ms target", "x", 0.11, "<="),
    "load": ("errors and model violations under load", "", 0, "=="),
}


def target_text(key: str) -> str:
    _, unit, limit, op = TARGETS[key]
    return f"{op} {limit:g}{unit}"


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
            measured = section["ratio_to_import_pytest"]["median"]
        elif key == "requests":
            measured = section["ratio_safe"]
        elif key == "overhead":
            measured = section["ratio"]["median"]
        elif key == "concurrency":
            measured = section["ratio"]["median"]
            latency = f"{section['latency_ms']:g} ms target"
            name = f"default ({section['default_concurrency']} in flight) / one at a time, {latency}"
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
            row(f"{step} (s)", values["wall_s"])
        row("  of which CPU, whole process (s)", s["cpu_s"])
        row("  pytest session time, the suite itself (s)", s["pytest_session_s"])
        row("whole process / import pytest", s["ratio_to_import_pytest"], target_text("startup"))
    if "requests" in sections:
        s = sections["requests"]
        row("requests, total", s["total"])
        row("requests, outside checks (preflight)", s["outside_checks"])
        row("requests per check", s["per_check"])
        row("isolation floor, strict (create = PUT)", s["floor_strict"])
        row("isolation floor, safe (create = GET 404 + PUT)", s["floor_safe"])
        row("requests / safe floor", s["ratio_safe"], target_text("requests"))
        row("requests / strict floor", s["ratio_strict"])
    if "overhead" in sections:
        s = sections["overhead"]
        row("suite, first request to last answer (s)", s["suite_s"])
        row("bare replay over the same transport (requests) (s)", s["replay_s"])
        row("bare replay over one http.client connection (s)", s["replay_http_client_s"])
        row("suite / bare replay over the same transport", s["ratio"], target_text("overhead"))
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
            row(f"-n {n} / serial, whole process", values)
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
        row(f"default / one at a time, {s['latency_ms']:g} ms target", s["ratio"], target_text("concurrency"))
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
            row(f"reference, {n} client(s): errors + model violations", level["errors"], target_text("load"))
    lines.append("")
    if result["quick"]:
        lines.append("quick run: tiny sizes and one repeat, so the verdicts below say nothing about the targets")
    for verdict in result["targets"]:
        mark = "met" if verdict["met"] else "NOT MET"
        lines.append(f"target {verdict['name']}: {verdict['measured']} {verdict['op']} {verdict['target']}: {mark}")
    return "\n".join(lines)
