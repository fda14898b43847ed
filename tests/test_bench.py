"""The benchmark (bench/run.py) runs end to end and writes the JSON shape docs/performance.md documents; its
load test's model catches a target that accepts a transition from a stale status.

Speed itself is never asserted here: figures come from the benchmark, on a quiet machine, not from tests.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from pytest_connector_contract.reference.server import ReferenceServer
from pytest_connector_contract.reference.target import ReferenceTarget, Request, Response

STATS = {"median", "min", "max", "runs"}


def _bench(repo_root: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_run", repo_root / "bench" / "run.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_run"] = module
    spec.loader.exec_module(module)
    return module


def _is_stats(value: Any) -> bool:
    return isinstance(value, dict) and set(value) == STATS and value["min"] <= value["median"] <= value["max"]


def test_quick_benchmark_prints_the_table_and_writes_the_documented_json(repo_root: Path, tmp_path: Path) -> None:
    output = tmp_path / "results.json"
    done = subprocess.run(
        [sys.executable, str(repo_root / "bench" / "run.py"), "--quick", "--output", str(output)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "requests / safe floor" in done.stdout
    assert f"JSON: {output}" in done.stdout
    result = json.loads(output.read_text())

    assert set(result) == {
        "schema_version", "generated_at", "quick", "repeats", "command", "machine", "versions", "pytest_plugins",
        "sections", "targets",
    }  # fmt: skip
    assert result["schema_version"] == 1
    assert result["quick"] is True
    assert {"cpus", "cpu_model", "platform", "load_average", "load_average_before"} <= set(result["machine"])
    assert "pytest-connector-contract" in result["versions"]
    assert any(p.startswith("pytest-connector-contract") for p in result["pytest_plugins"])
    sections = result["sections"]
    assert set(sections) == {"startup", "requests", "overhead", "scaling", "load"}

    startup = sections["startup"]
    assert _is_stats(startup["wall_s"])
    assert _is_stats(startup["cpu_s"])
    assert _is_stats(startup["pytest_session_s"])
    assert startup["pytest_session_s"]["median"] < startup["wall_s"]["median"]
    assert all(_is_stats(step["wall_s"]) for step in startup["breakdown"].values())

    requests = sections["requests"]
    assert requests["total"] == requests["in_checks"] + requests["outside_checks"]
    assert requests["checks"] == len(requests["by_check"]) > 0
    assert requests["floor_strict"] <= requests["floor_safe"] <= requests["in_checks"]
    assert requests["ratio_safe"] == round(requests["total"] / requests["floor_safe"], 4)
    assert all(row["requests"] >= row["floor_safe"] for row in requests["by_check"])

    overhead = sections["overhead"]
    assert overhead["status_mismatches"] == 0  # the replay got the answers the suite got
    assert overhead["requests"] == requests["total"]
    for key in (
        "suite_s", "pytest_session_s", "replay_s", "replay_http_client_s", "ratio", "ratio_pytest_session",
        "ratio_vs_http_client", "transport_vs_http_client",
    ):  # fmt: skip
        assert _is_stats(overhead[key]), key

    scaling = sections["scaling"]
    assert set(scaling["wall_s"]) == {"0", "2"}
    assert set(scaling["ratio_to_serial"]) == set(scaling["checks_ratio_to_serial"]) == {"2"}
    assert {"to_first_check_s", "checks_s", "after_checks_s"} == set(scaling["phases_s"]["2"])

    levels = sections["load"]["levels"]
    assert set(levels) == {"1", "4"}
    for level in levels.values():
        assert level["errors"] == 0, level["problems"]
        assert level["requests"] > 0
        assert _is_stats(level["rps"])
        assert set(level["latency_ms"]) == {"p50", "p90", "p99", "max"}
    assert levels["4"]["race_rounds"] > 0

    assert [t["figure"] for t in result["targets"]] == ["startup", "requests", "overhead", "scaling", "load"]
    assert all({"name", "measured", "target", "op", "met", "unit", "figure"} == set(t) for t in result["targets"])


class StaleStatusTarget(ReferenceTarget):
    """Checks a transition against the status it read, then writes it after the lock was let go: two
    conflicting updates can then both be accepted (each from a status that was no longer current)."""

    def handle_update_status(self, request: Request, connector_id: str) -> Response:
        status = self.parse_status_body(request)
        self.check_params(request, ("connector_id",), consumes_body=True)
        self.validate_status(status)
        assert status is not None
        with self.lock:
            doc = self.get_connector(connector_id)
            if doc is None:
                return self.connector_not_found(connector_id)
            current = doc["status"]
        time.sleep(0.01)  # the read above goes stale while other requests are served
        if not self.transition_allowed(current, status):
            return self.reject_transition(doc, current, status)
        with self.lock:
            result = self.apply_status(doc, status)
        return self.status_updated(result)


@pytest.mark.parametrize(("target", "caught"), [(ReferenceTarget, False), (StaleStatusTarget, True)])
def test_the_load_model_catches_a_transition_accepted_from_a_stale_status(
    repo_root: Path, start_target: Callable[..., ReferenceServer], target: type[ReferenceTarget], caught: bool
) -> None:
    bench = _bench(repo_root)
    server = start_target(target())
    level = bench.load_level(server.url, clients=4, ops=40, race_rounds=8)
    assert level["race_rounds"] == 8
    stale = [p for p in level["problems"] if "no order explains" in p]
    if caught:
        assert stale, level
    else:
        assert level["errors"] == 0, level["problems"]


def test_the_isolation_floor_counts_what_a_check_cannot_do_without(repo_root: Path) -> None:
    bench = _bench(repo_root)
    from pytest_connector_contract.contract.spec import load_spec

    spec = load_spec()
    # created -> error: create, request, read, delete (+ the GET proving the id unused)
    assert bench.floors(spec, "transition[created->error]", True) == (4, 5)
    # connected needs three setup transitions
    assert bench.floors(spec, "transition[connected->error]", True) == (7, 8)
    assert bench.floors(spec, "validation[unknown-field]", True) == (4, 5)
    assert bench.floors(spec, "not_found[unknown-id]", True) == (3, 3)
    assert bench.floors(spec, "not_found[deleted-connector]", True) == (4, 5)
    assert bench.floors(spec, "not_found[deleted-connector]", False) == (3, 4)
    assert bench.floors(spec, "response[x-elastic-product]", True) == (7, 8)
