"""Checks in flight together (``--connector-concurrency N``): a concurrent run reports what a serial run
reports, check by check, and stops, selects and cleans up as a serial run does.

Every run is a real ``pytest`` subprocess against a reference target on loopback. The two runs compared
each get a fresh target, and the reports are compared with what is specific to a run taken out
(``tests/support/comparable.py``): times, the run token and the numbering of connector ids.
"""

from __future__ import annotations

import html
import json
import re
import shutil
import threading
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from support.comparable import comparable, differences
from support.mutants import NoTopLevelStatus, RefusesSelfTransitions
from support.runs import SuiteRun

from pytest_connector_contract.checks.factory import ConnectorFactory, Ledger
from pytest_connector_contract.client import requestlog
from pytest_connector_contract.client.api import ConnectorClient, RunStopped
from pytest_connector_contract.contract.spec import load_spec
from pytest_connector_contract.reference.endpoints import ReferenceTarget
from pytest_connector_contract.reference.server import ReferenceServer

SERIAL = ("--connector-concurrency", "1")
CONCURRENT = ("--connector-concurrency", "8")
MODES = {"serial": SERIAL, "concurrent": CONCURRENT}
#: exploration walks and race checks too: they run one at a time while the pool runs the others
BEYOND = ("--connector-explore", "2", "--connector-seed", "7", "--connector-explore-steps", "6",
          "--connector-race", "--connector-race-rounds", "2")  # fmt: skip


def spans(log: Path) -> dict[str, tuple[float, float]]:
    """Check id -> (start of its first request, end of its last answer), from a request log."""
    found: dict[str, tuple[float, float]] = {}
    for record in requestlog.read(log):
        if record["check"] is None:
            continue
        start, end = record["start"], record["start"] + record["elapsed_ms"] / 1000
        first, last = found.get(record["check"], (start, end))
        found[record["check"]] = (min(first, start), max(last, end))
    return found


def most_in_flight(found: dict[str, tuple[float, float]]) -> int:
    """The most checks that had a request under way, or were between two of theirs, at one moment."""
    events = sorted([(start, 1) for start, _ in found.values()] + [(end, -1) for _, end in found.values()])
    most = current = 0
    for _, step in events:
        current += step
        most = max(most, current)
    return most


def run_both(
    start_target: Callable[..., ReferenceServer],
    run_suite: Callable[..., SuiteRun],
    tmp_path: Path,
    make_target: Callable[[], ReferenceTarget],
    *args: str,
    before: Callable[[], None] = lambda: None,
) -> dict[str, SuiteRun]:
    """The same run serially and concurrently, each against a fresh target that must be left empty
    (``before`` is called before each of them)."""
    runs = {}
    for mode, concurrency in MODES.items():
        before()
        server = start_target(make_target())
        runs[mode] = run_suite(
            server.url, *concurrency, "--connector-request-log", str(tmp_path / f"{mode}.jsonl"), *args
        )
        assert runs[mode].report is not None, runs[mode].result.stdout.str()
        assert not server.target.connectors, (mode, sorted(server.target.connectors))
        assert runs[mode].report["leftovers"] == []
    return runs


@pytest.mark.parametrize("version", ["8.13.0", "9.1.0"])
def test_a_concurrent_run_reports_what_a_serial_run_reports(
    version: str, start_target: Callable[..., ReferenceServer], run_suite: Callable[..., SuiteRun], tmp_path: Path
) -> None:
    runs = run_both(start_target, run_suite, tmp_path, lambda: ReferenceTarget(version), *BEYOND)
    assert runs["serial"].ret == runs["concurrent"].ret == 0, runs["concurrent"].result.stdout.str()
    assert differences(comparable(runs["serial"].report), comparable(runs["concurrent"].report)) == []  # type: ignore[arg-type]
    # The checks really were in flight together, and only in the concurrent run.
    serial, concurrent = spans(tmp_path / "serial.jsonl"), spans(tmp_path / "concurrent.jsonl")
    assert most_in_flight(serial) == 1
    assert most_in_flight(concurrent) > 1
    # Exploration walks (Hypothesis) never overlap one another.
    assert most_in_flight({walk: concurrent[walk] for walk in ("explore[1]", "explore[2]")}) == 1
    # The items report in collection order, as a serial run's do ("order" is part of the comparison).
    assert comparable(runs["concurrent"].report)["order"][:3] == [  # type: ignore[arg-type]
        "transition[created->created]",
        "transition[created->needs_configuration]",
        "transition[created->configured]",
    ]


def test_a_concurrent_run_judged_against_a_reference_reports_what_a_serial_one_does(
    start_target: Callable[..., ReferenceServer], run_suite: Callable[..., SuiteRun], tmp_path: Path
) -> None:
    """Each check also runs on the reference cluster and is compared there: the differences, the verdicts and
    the lists come out the same whether the checks were in flight together or not, and neither cluster keeps
    anything (the slots create their connectors on both)."""
    reference = start_target(ReferenceTarget())
    runs = run_both(
        start_target, run_suite, tmp_path, RefusesSelfTransitions, "--connector-reference-url", reference.url
    )
    assert not reference.target.connectors
    assert runs["serial"].ret == runs["concurrent"].ret == 1
    serial, concurrent = (comparable(runs[mode].report) for mode in MODES)  # type: ignore[arg-type]
    assert differences(serial, concurrent) == []
    differing = sorted(
        c for c, entry in serial["checks"].items() if (entry.get("differential") or {}).get("differences")
    )
    assert differing == ["transition[configured->configured]", "transition[connected->connected]",
                         "transition[error->error]"]  # fmt: skip
    assert most_in_flight(spans(tmp_path / "concurrent.jsonl")) > 1


@pytest.mark.parametrize("stop", [("-x",), ("--maxfail", "3")], ids=["x", "maxfail"])
def test_after_x_a_concurrent_run_reports_the_checks_a_serial_run_reports_and_leaves_nothing(
    stop: tuple[str, ...],
    start_target: Callable[..., ReferenceServer],
    run_suite: Callable[..., SuiteRun],
    tmp_path: Path,
) -> None:
    # Every error answer of this mutant lacks its top-level status: most checks fail.
    runs = run_both(start_target, run_suite, tmp_path, NoTopLevelStatus, *stop)
    serial, concurrent = (comparable(runs[mode].report) for mode in MODES)  # type: ignore[arg-type]
    assert runs["serial"].ret == runs["concurrent"].ret == 1
    assert differences(serial, concurrent) == []
    failed = [check for check, entry in serial["checks"].items() if entry["outcome"] == "failed"]
    assert len(failed) == (1 if stop == ("-x",) else 3)
    assert serial["order"][-1] == failed[-1]  # nothing was reported after the failure that stopped the run
    # The checks that ran ahead of the stop did run, and deleted what they created (see run_both).
    assert len(spans(tmp_path / "concurrent.jsonl")) > len(serial["checks"])


def test_last_failed_k_baseline_and_comparison_work_as_in_a_serial_run(
    pytester: pytest.Pytester,
    start_target: Callable[..., ReferenceServer],
    run_suite: Callable[..., SuiteRun],
    tmp_path: Path,
) -> None:
    server = start_target(NoTopLevelStatus())
    first = run_suite(server.url, *CONCURRENT)  # the cache now holds its failures, for --lf
    assert first.report is not None
    failed = sorted(check["id"] for check in first.report["checks"] if check["outcome"] == "failed")
    previous = tmp_path / "previous.json"
    previous.write_text(json.dumps(first.report), encoding="utf-8")
    baseline = tmp_path / "baseline.toml"
    baseline.write_text(f'[[expected_failure]]\ncheck = "{failed[0]}"\nreason = "accepted for now"\n', encoding="utf-8")
    # (option=value: a path given as a word of its own would move pytest's rootdir, and with it the cache)
    args = ("--lf", "-k", "not response", f"--connector-baseline={baseline}", f"--connector-compare={previous}")
    cache = pytester.path / ".pytest_cache"
    shutil.copytree(cache, tmp_path / "cache")

    def first_cache() -> None:  # each run starts from the failures of the first one
        shutil.rmtree(cache)
        shutil.copytree(tmp_path / "cache", cache)

    runs = run_both(start_target, run_suite, tmp_path, NoTopLevelStatus, *args, before=first_cache)
    serial, concurrent = (comparable(runs[mode].report) for mode in MODES)  # type: ignore[arg-type]
    assert differences(serial, concurrent) == []
    assert sorted(serial["checks"]) == [check for check in failed if "response" not in check]
    assert serial["checks"][failed[0]]["outcome"] == "xfailed"
    assert serial["comparison"] is not None


class HoldsTheFirstCreates(ReferenceTarget):
    """Holds its answer to the first ``count`` connector creates until ``release`` is set: the checks that
    made them keep their slots, and the checks queued behind them cannot start."""

    def __init__(self, count: int) -> None:
        super().__init__()
        self.count = count
        self.holding = threading.Semaphore(0)
        self.release = threading.Event()

    def handle(self, method: str, path: str, *args: Any) -> Any:
        if method == "PUT" and path.count("/") == 2 and path.startswith("/_connector/") and self.count:
            self.count -= 1  # (one handler at a time gets here first: the slots' creates are held one by one)
            self.holding.release()
            assert self.release.wait(60), "never released"
        return super().handle(method, path, *args)


#: a plugin for the run: writes when each item starts, before its setup waits for the check it runs
ITEM_STARTS = """
import json, os, time

import pytest


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item):
    start = time.time()  # before the file exists: the test releases the slots once it does
    with open(os.environ["ITEM_STARTS"], "a", encoding="utf-8") as out:
        out.write(json.dumps({"item": item.name, "start": start}) + "\\n")
"""


def test_each_check_reports_its_own_duration_not_the_time_its_item_waited(
    pytester: pytest.Pytester,
    start_target: Callable[..., ReferenceServer],
    run_suite: Callable[..., SuiteRun],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Two slots, both taken by the costlier connected->* checks, whose creates the target holds until the
    first item (created->error, cheaper: queued behind them) has started waiting for its check. That item
    waits from before its check's first request; its duration still counts from the check's start, and every
    check's duration covers its own requests. (Told by the order of what happened, on one clock.)"""
    target = HoldsTheFirstCreates(2)
    server = start_target(target, latency_ms=30)
    log, starts = tmp_path / "requests.jsonl", tmp_path / "starts.jsonl"
    pytester.makepyfile(item_starts=ITEM_STARTS)
    monkeypatch.setenv("ITEM_STARTS", str(starts))
    released: list[float] = []

    def release_once_the_first_item_waits() -> None:
        try:
            for _ in range(2):
                assert target.holding.acquire(timeout=60), "the slots never created a connector"
            for _ in range(6000):  # a minute at most, should the run never reach its items
                if starts.exists():
                    break
                time.sleep(0.01)
            released.append(time.time())
        finally:
            target.release.set()

    releaser = threading.Thread(target=release_once_the_first_item_waits)
    releaser.start()
    try:
        run = run_suite(server.url, "--connector-concurrency", "2", "--connector-request-log", str(log), "-p",
                        "item_starts", "connector-contract::transition[created->error]",
                        "connector-contract::transition[connected->")  # fmt: skip
    finally:
        target.release.set()
        releaser.join()
    assert run.ret == 0, run.result.stdout.str()
    assert run.report is not None
    first = json.loads(starts.read_text(encoding="utf-8").splitlines()[0])
    assert first["item"] == "transition[created->error]"
    found = spans(log)
    check_start, check_end = found["transition[created->error]"]
    # the order the construction promises: the item waited, then the slots were released, then its check began
    assert first["start"] < released[0] < check_start, (first, released, check_start)
    durations = {check["id"]: check["duration"] for check in run.report["checks"]}
    assert len(durations) == 6
    for check_id, duration in durations.items():
        own_start, own_end = found[check_id]
        assert own_end - own_start <= duration, check_id  # a check's duration covers its own requests
    # ... and it starts with the check, not with the wait of its item before the check's first request
    assert check_end - durations["transition[created->error]"] > first["start"], (check_start, check_end, durations)


def test_an_explicit_concurrency_of_one_runs_one_check_at_a_time_with_the_same_option_forms(
    start_target: Callable[..., ReferenceServer], run_suite: Callable[..., SuiteRun], tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    server = start_target()
    log = tmp_path / "requests.jsonl"
    monkeypatch.setenv("CONNECTOR_CONCURRENCY", "1")
    run = run_suite(server.url, "--connector-request-log", str(log), "-k", "validation")
    assert run.ret == 0
    assert run.report is not None
    assert most_in_flight(spans(log)) == 1
    assert run.report["configuration"]["concurrency"] == {"value": 1, "source": "env"}


class Counting(ReferenceTarget):
    """The reference target, counting the requests that reach it."""

    def __init__(self) -> None:
        super().__init__()
        self.seen = 0

    def handle(self, *args: Any, **kwargs: Any) -> Any:
        self.seen += 1
        return super().handle(*args, **kwargs)


def test_a_stopped_client_sends_nothing_and_retries_nothing(start_target: Callable[..., ReferenceServer]) -> None:
    target = Counting()
    server = start_target(target)
    client = ConnectorClient(server.url, timeout=5)
    client.stop = threading.Event()
    assert client.get_connector("x").status == 404
    client.stop.set()
    with pytest.raises(RunStopped, match="not sent, the run is stopping"):
        client.put_connector("x", {"index_name": "x"}, retry=True)
    assert target.seen == 1
    assert "x" not in target.connectors
    # A create stopped before it was sent is not the run's to delete: it leaves the ledger again.
    client.stop.clear()
    factory = ConnectorFactory(client, load_spec(), id_prefix="stop", ledger=Ledger(), soft_delete=True)
    real_put = client.put_connector

    def stop_then_put(*args: Any, **kwargs: Any) -> Any:
        assert client.stop is not None
        client.stop.set()  # the run stops between the GET that proved the id unused and the PUT
        return real_put(*args, **kwargs)

    client.put_connector = stop_then_put  # type: ignore[method-assign]
    with pytest.raises(RunStopped):
        factory.create()
    assert factory.ledger.live() == []
    assert factory.created == []
    assert target.seen == 2  # the GET; never the PUT
    client.close()


def _junit_cases(path: Path) -> list[tuple[str | None, str]]:
    """(test case name, outcome) of a JUnit XML report, in order."""
    cases = []
    for case in ET.fromstring(path.read_text(encoding="utf-8")).iter("testcase"):
        outcome = next((child.tag for child in case if child.tag in ("failure", "error", "skipped")), "passed")
        cases.append((case.get("name"), outcome))
    return cases


def _html_results(path: Path) -> list[tuple[str, list[str]]]:
    """(test id, the result of each of its rows) of a pytest-html report, in order."""
    blob = re.search(r'data-jsonblob="([^"]*)"', path.read_text(encoding="utf-8"))
    assert blob is not None, "pytest-html keeps its data in data-jsonblob"
    tests = json.loads(html.unescape(blob.group(1)))["tests"]
    return [(test_id, [row["result"] for row in rows]) for test_id, rows in tests.items()]


def test_the_junit_and_html_reports_of_a_concurrent_run_are_a_serial_runs(
    start_target: Callable[..., ReferenceServer], run_suite: Callable[..., SuiteRun], tmp_path: Path
) -> None:
    junit: dict[str, list[tuple[str | None, str]]] = {}
    pages: dict[str, list[tuple[str, list[str]]]] = {}
    for mode, concurrency in MODES.items():
        server = start_target(NoTopLevelStatus())
        xml, page = tmp_path / f"{mode}.xml", tmp_path / f"{mode}.html"
        run = run_suite(server.url, *concurrency, f"--junitxml={xml}", f"--html={page}", "--self-contained-html")
        assert run.ret == 1, run.result.stdout.str()
        junit[mode], pages[mode] = _junit_cases(xml), _html_results(page)
    assert junit["concurrent"] == junit["serial"]
    assert {outcome for _, outcome in junit["serial"]} == {"passed", "failure"}
    assert pages["concurrent"] == pages["serial"]


def test_every_slot_waits_on_the_runs_one_rate_limiter() -> None:
    from pytest_connector_contract.checks.ahead import CheckPool
    from pytest_connector_contract.config.settings import Settings
    from pytest_connector_contract.plugin.state import RunState

    state = RunState(Settings(max_rps=8.0), load_spec(), run_prefix="ccontract-0000aaaa", worker_id=None,
                     suite=True, selection=None)  # fmt: skip
    state.target_url = "http://127.0.0.1:9"
    pool = CheckPool(4, state.client)
    seen: list[ConnectorClient] = []
    barrier = threading.Barrier(4)

    def slot_client() -> ConnectorClient:
        client = pool.client()
        seen.append(client)
        barrier.wait(5)  # four checks at once: four slots
        return client

    try:
        futures = [pool.start(slot_client) for _ in range(4)]
        clients = [future.result(10) for future in futures]
    finally:
        assert pool.close(5)
    assert len({id(client) for client in clients}) == 4
    assert all(client.limiter is state.limiter for client in clients)
    assert all(client.stop is pool.stopping for client in clients)


def test_with_checks_in_flight_the_whole_run_stays_within_max_rps(
    start_target: Callable[..., ReferenceServer], run_suite: Callable[..., SuiteRun], tmp_path: Path
) -> None:
    """8 checks in flight, a cap of 50 requests a second: the run's requests, every slot's and the preflight's
    together, start at least 1/50 s apart on average from the first one on, as if one client sent them all.
    Each slot with a limiter of its own would send up to 8 times as fast. (The bound is the limiter's schedule:
    the j-th request to start does so no earlier than j slots after the first; no time is asserted about the
    target or the machine.)"""
    rate = 50.0
    server = start_target()
    log = tmp_path / "requests.jsonl"
    run = run_suite(server.url, "--connector-concurrency", "8", "--connector-max-rps", str(rate),
                    "--connector-request-log", str(log), "-k", "transition and created")  # fmt: skip
    assert run.ret == 0, run.result.stdout.str()
    starts = sorted(record["start"] for record in requestlog.read(log))
    assert len(starts) > 20
    late = [j for j, start in enumerate(starts) if start - starts[0] < j / rate - 0.002]
    assert late == [], f"requests {late} started before their slot under the run's one cap"
    assert most_in_flight(spans(log)) > 1  # the checks really were in flight together


def test_official_client_checks_are_in_flight_together_and_report_as_serially(
    start_target: Callable[..., ReferenceServer], run_suite: Callable[..., SuiteRun], tmp_path: Path
) -> None:
    """They prepare their connectors in the slots and hand the client's part (which catches its warnings)
    to pytest's thread: several are in flight at once, and the report is a serial run's."""
    pytest.importorskip("elasticsearch", reason="the official client checks need the clients extra")
    runs = run_both(start_target, run_suite, tmp_path, ReferenceTarget, "-k", "official_client")
    assert runs["serial"].ret == runs["concurrent"].ret == 0, runs["concurrent"].result.stdout.str()
    assert runs["concurrent"].report["summary"]["passed"] == 9  # type: ignore[index]
    assert differences(comparable(runs["serial"].report), comparable(runs["concurrent"].report)) == []  # type: ignore[arg-type]
    assert most_in_flight(spans(tmp_path / "serial.jsonl")) == 1
    assert most_in_flight(spans(tmp_path / "concurrent.jsonl")) > 1
