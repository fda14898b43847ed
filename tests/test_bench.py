"""The benchmark (bench/run.py and the modules beside it) writes the JSON shape docs/performance.md documents,
with plausible figures; its replay gets the answers the suite got; its load test's model catches a target that
accepts a transition from a stale status; its targets are the design brief's. Each test measures only a small
part: the whole benchmark is not a test.

Speed itself is never asserted here: figures come from the benchmark, on a quiet machine, not from tests.
"""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from support.mutants import StaleStatusTarget

from pytest_connector_contract.checks.official_client import official_checks
from pytest_connector_contract.client import requestlog
from pytest_connector_contract.contract.spec import load_spec
from pytest_connector_contract.reference.endpoints import ReferenceTarget
from pytest_connector_contract.reference.server import ReferenceServer

STATS = {"median", "min", "max", "runs"}


@pytest.fixture
def bench(repo_root: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[[str], ModuleType]:
    """Imports a module of bench/ as ``python bench/run.py`` finds it: bench/ first on the path."""
    monkeypatch.syspath_prepend(str(repo_root / "bench"))
    return importlib.import_module


def _is_stats(value: Any) -> bool:
    return isinstance(value, dict) and set(value) == STATS and value["min"] <= value["median"] <= value["max"]


def test_the_benchmark_writes_the_documented_json_for_the_sections_it_ran(repo_root: Path, tmp_path: Path) -> None:
    """The command line end to end, on the two sections that are quick to measure (not the whole benchmark)."""
    output = tmp_path / "results.json"
    done = subprocess.run(
        [
            sys.executable,
            str(repo_root / "bench" / "run.py"),
            "--quick",
            "--only",
            "requests,load",
            "--output",
            str(output),
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
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
    assert (result["schema_version"], result["quick"], result["repeats"]) == (1, True, 1)
    assert result["command"] == f"python bench/run.py --quick --only requests,load --output {output}"
    assert {"cpus", "cpu_model", "platform", "load_average", "load_average_before"} <= set(result["machine"])
    assert result["machine"]["cpus"] >= 1
    assert "pytest-connector-contract" in result["versions"]
    assert any(p.startswith("pytest-connector-contract") for p in result["pytest_plugins"])
    sections = result["sections"]
    assert set(sections) == {"requests", "load"}

    spec = load_spec()
    checks = (*spec.checks, *official_checks(spec))  # a run without options collects the official client's too
    requests = sections["requests"]
    assert [row["check"] for row in requests["by_check"]] == [c.id for c in checks]
    assert requests["checks"] == len(checks)
    assert requests["total"] == requests["in_checks"] + requests["outside_checks"]
    assert 1 <= requests["outside_checks"] <= 10  # the preflight, nothing else outside a check
    assert requests["floor_strict"] <= requests["floor_safe"] <= requests["in_checks"]
    assert all(row["requests"] >= row["floor_safe"] for row in requests["by_check"])
    assert requests["ratio_safe"] == round(requests["total"] / requests["floor_safe"], 4)
    assert 1.0 <= requests["ratio_safe"] < 3.0
    assert sum(kind["checks"] for kind in requests["by_kind"].values()) == len(checks)

    load = sections["load"]
    assert load["operations_per_level"] == 64
    levels = load["levels"]
    assert set(levels) == {"1", "4"}
    for clients, level in levels.items():
        assert level["clients"] == int(clients)
        assert level["errors"] == 0, level["problems"]
        assert level["requests"] >= 64  # the mixed operations, then each client's verifying reads
        assert _is_stats(level["rps"])
        assert level["rps"]["median"] > 0
        latency = {q: level["latency_ms"][q]["median"] for q in ("p50", "p90", "p99", "max")}
        assert 0 < latency["p50"] <= latency["p90"] <= latency["p99"] <= latency["max"]
    assert levels["4"]["race_rounds"] > 0

    assert [t["figure"] for t in result["targets"]] == ["requests", "load"]
    assert all({"name", "measured", "target", "op", "met", "unit", "figure"} == set(t) for t in result["targets"])
    by_figure = {t["figure"]: t for t in result["targets"]}
    assert by_figure["requests"]["measured"] == requests["ratio_safe"]
    assert by_figure["load"] == {**by_figure["load"], "measured": 0, "met": True}


def test_a_logged_run_replays_with_the_same_answers_and_its_phases_add_up(
    bench: Callable[[str], ModuleType], tmp_path: Path
) -> None:
    """The building blocks of the overhead and scaling figures, on a run of two checks."""
    measuring, suite_runs = bench("measuring"), bench("suite_runs")
    log = tmp_path / "requests.jsonl"
    selection = ("connector-contract::transition[created->error]", "connector-contract::not_found[unknown-id]")
    command = measuring.pytest_command("--connector-url", "URL", "--connector-request-log", str(log), *selection)
    assert "-p" not in command  # the suite as users run it: every installed plugin loaded
    with measuring.serve() as url:
        timed = measuring.run_timed([url if arg == "URL" else arg for arg in command], tmp_path)
    records = requestlog.read(log)
    checked = {r["check"] for r in records} - {None}
    assert checked == {"transition[created->error]", "not_found[unknown-id]"}
    for replay in (suite_runs.replay, suite_runs.replay_http_client):
        with measuring.serve() as url:
            seconds, mismatches = replay(url, records)
        assert mismatches == 0, replay.__name__  # a fresh target gives the answers the suite got
        assert 0 < seconds < timed.wall
    assert 0 < measuring.span(records) < timed.wall
    parts = measuring.phases(timed, records)
    assert set(parts) == {"to_first_check_s", "checks_s", "after_checks_s"}
    assert all(value > 0 for value in parts.values()), parts
    assert sum(parts.values()) == pytest.approx(timed.ended - timed.started)


@pytest.mark.parametrize(("target", "caught"), [(ReferenceTarget, False), (StaleStatusTarget, True)])
def test_the_load_model_catches_a_transition_accepted_from_a_stale_status(
    bench: Callable[[str], ModuleType],
    start_target: Callable[..., ReferenceServer],
    target: type[ReferenceTarget],
    caught: bool,
) -> None:
    server = start_target(target())
    level = bench("reference_load").load_level(server.url, clients=4, ops=40, race_rounds=8)
    assert level["race_rounds"] == 8
    stale = [p for p in level["problems"] if "no order explains" in p]
    if caught:
        assert stale, level
    else:
        assert level["errors"] == 0, level["problems"]


def test_the_isolation_floor_counts_what_a_check_cannot_do_without() -> None:
    from pytest_connector_contract.checks.catalogue import request_floors

    spec = load_spec()

    def floors(check_id: str, soft_delete: bool) -> tuple[int, int]:
        return request_floors(spec, next(c for c in spec.checks if c.id == check_id), soft_delete=soft_delete)

    # created -> error: create, request, read, delete (+ the GET proving the id unused)
    assert floors("transition[created->error]", True) == (4, 5)
    # connected needs three setup transitions
    assert floors("transition[connected->error]", True) == (7, 8)
    assert floors("validation[unknown-field]", True) == (4, 5)
    assert floors("not_found[unknown-id]", True) == (3, 3)
    assert floors("not_found[deleted-connector]", True) == (4, 5)
    assert floors("not_found[deleted-connector]", False) == (3, 4)
    assert floors("response[x-elastic-product]", True) == (7, 8)
    # _error and the read of the status it left, then the shorter of the two paths to configured
    assert floors("unchanged[accepted]", True) == (7, 8)
    # create, the GET proving the upper-case id unused, the request, the two reads, the delete
    assert floors("not_found[id-case]", True) == (6, 7)


def test_the_longest_chain_is_the_check_with_the_most_requests(bench: Callable[[str], ModuleType]) -> None:
    records = [{"check": None}] * 3 + [{"check": "a"}] * 4 + [{"check": "b"}] * 9 + [{"check": "c"}] * 2
    assert bench("suite_runs").longest_chain(records) == ("b", 9)
    ratio = {"median": 0.12, "min": 0.1, "max": 0.2, "runs": [0.12]}
    section = {"ratio": ratio, "default_concurrency": 32, "latency_ms": 20}
    (verdict,) = bench("results").verdicts({"concurrency": section})
    assert verdict["met"] is False  # the design's 0.11
    assert verdict["name"] == "default (32 in flight) / one at a time, 20 ms target"


def test_the_targets_are_the_design_briefs(bench: Callable[[str], ModuleType]) -> None:
    """Whole embedded process at most 3.5x ``python -c "import pytest"``, harness overhead at most 1.3x a
    bare replay, the default run against a 20 ms target at most 0.11x one check at a time; no target for
    -n (pytest-xdist stays supported without one)."""
    results = bench("results")

    def ratio(median: float) -> dict[str, Any]:
        return {"median": median, "min": median, "max": median, "runs": [median]}

    sections = {
        "startup": {"ratio_to_import_pytest": ratio(3.4)},
        "overhead": {"ratio": ratio(1.31)},
        "concurrency": {"ratio": ratio(0.11), "default_concurrency": 32, "latency_ms": 20},
        "scaling": {"ratio_to_serial": {"8": ratio(0.5)}, "latency_ms": 20},
    }
    verdicts = {v["figure"]: (v["measured"], v["op"], v["target"], v["met"]) for v in results.verdicts(sections)}
    assert verdicts == {
        "startup": (3.4, "<=", 3.5, True),
        "overhead": (1.31, "<=", 1.3, False),
        "concurrency": (0.11, "<=", 0.11, True),
    }
