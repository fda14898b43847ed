"""Ctrl-C at any moment of a run leaves nothing behind, also when it lands on a create the target applies later.

Each run is a real ``pytest`` subprocess against a reference target that applies every create only
:data:`DELAYS` seconds after accepting it while it answers every other request at once: a Ctrl-C during that
time leaves a create the client never saw answered and that lands after the run's first DELETE of the id.
The interrupt is timed by the requests that reach the target, so every moment is a different point of a run.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import requests
from support.clock import FakeClock

from pytest_connector_contract.checks.factory import CREATE_GRACE, ConnectorFactory, Ledger
from pytest_connector_contract.client.api import ConnectorClient
from pytest_connector_contract.contract.spec import load_spec
from pytest_connector_contract.reference.endpoints import ReferenceTarget
from pytest_connector_contract.reference.server import ReferenceServer

#: seconds the target holds every create before applying it, by xdist worker count: longer than pytest
#: usually takes from Ctrl-C to the session-end DELETE (about 0.3 s serially, 0.5 to 1.7 s in an xdist
#: worker), so that this DELETE meets a create not yet applied
DELAYS = {0: 1.0, 2: 2.5}
#: seconds after a DELETE of a held create that the target applies it: well inside the clean-up's wait
LATE = 0.3
#: a selection whose every check creates connectors, one after another
SELECTION = "connector-contract::transition["


class WatchedTarget(ReferenceTarget):
    """The reference target with the delayed create, at its worst: a create still held when a DELETE of its
    id arrives (404, not applied yet) is applied :data:`LATE` seconds after that DELETE, so that it lands just
    after the run looked. Notes each request as it arrives (before any delay)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(create_delay=DELAYS[0], **kwargs)
        self.arrivals: list[tuple[str, str]] = []
        self.arrived = threading.Condition()
        self.held = 0  # creates accepted and not yet applied
        self.holding: dict[str, float] = {}  # held create -> when it is applied
        #: None: a DELETE does not move the moment a held create is applied
        self.late: float | None = LATE

    def handle(self, method: str, path: str, query: Any, headers: Any, body: bytes) -> Any:
        create = _is_create(method.upper(), path)
        with self.arrived:
            self.arrivals.append((method.upper(), path))
            self.held += create
            self.arrived.notify_all()
        try:
            return super().handle(method, path, query, headers, body)
        finally:
            with self.arrived:
                self.held -= create
                self.arrived.notify_all()

    def delay_create(self, connector_id: str | None) -> None:
        if connector_id is None:
            super().delay_create(connector_id)
            return
        with self.arrived:
            self.holding[connector_id] = time.monotonic() + self.create_delay
            while (left := self.holding[connector_id] - time.monotonic()) > 0:
                self.arrived.wait(left)
            del self.holding[connector_id]

    def handle_delete_connector(self, request: Any, connector_id: str) -> Any:
        with self.arrived:
            if connector_id in self.holding and self.late is not None:
                self.holding[connector_id] = time.monotonic() + self.late
                self.arrived.notify_all()
        return super().handle_delete_connector(request, connector_id)

    def wait_until(self, ready: Callable[[list[tuple[str, str]]], bool], process: subprocess.Popen[bytes]) -> None:
        deadline = time.monotonic() + 60
        with self.arrived:
            while not ready(self.arrivals):
                assert process.poll() is None, "the run ended before the moment of the interrupt"
                assert time.monotonic() < deadline, "the moment of the interrupt never came"
                self.arrived.wait(0.05)

    def run_ids(self, run_prefix: str) -> list[str]:
        """The run's connectors, soft-deleted ones included, once every create that was sent is applied."""
        with self.arrived:
            assert self.arrived.wait_for(lambda: not self.held, timeout=30)
        with self.lock:
            return sorted(cid for cid in self.connectors if cid.startswith(f"{run_prefix}-"))


def _is_create(method: str, path: str) -> bool:
    return method == "PUT" and path.startswith("/_connector/") and not path.endswith("/_status")


@dataclass(frozen=True)
class Moment:
    """When to press Ctrl-C: ``after`` seconds after the ``count``-th request of ``kind`` reached the target."""

    kind: str  # "create" (a PUT _connector/<id>, held by the target) or "request" (any request)
    count: int
    after: float = 0.0

    def __str__(self) -> str:
        return f"{self.kind}{self.count}+{int(self.after * 1000)}ms"

    def reached(self, arrivals: list[tuple[str, str]]) -> bool:
        seen = [a for a in arrivals if self.kind == "request" or _is_create(*a)]
        return len(seen) >= self.count


# Interrupts while a create is held by the target (the create is in flight: sent, not yet answered nor
# applied), and at other points of a run: between checks, on a GET, on a _status update, on a DELETE.
MOMENTS = [
    Moment("create", 1),
    Moment("create", 1, 0.2),
    Moment("create", 1, 0.5),
    Moment("create", 2, 0.05),
    Moment("create", 2, 0.3),
    Moment("create", 2, 0.7),
    Moment("create", 3, 0.1),
    Moment("create", 3, 0.4),
    Moment("request", 4),
    Moment("request", 7),
    Moment("request", 10, 0.01),
    Moment("request", 13),
]


@pytest.fixture
def watched(start_target: Callable[..., ReferenceServer]) -> tuple[WatchedTarget, ReferenceServer]:
    target = WatchedTarget()
    return target, start_target(target)


def _start_run(
    pytester: pytest.Pytester, url: str, workers: int, prefix: str, *extra: str, selection: str = SELECTION
) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-m", "pytest", "--connector-url", url, "--connector-id-prefix", prefix,
               "-p", "no:cacheprovider", *extra, selection]  # fmt: skip
    if workers:
        command += ["-n", str(workers)]
    # A session of its own: Ctrl-C in a terminal reaches the whole process group, xdist workers included.
    return subprocess.Popen(command, cwd=pytester.path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            start_new_session=True)  # fmt: skip


def _finish(process: subprocess.Popen[bytes], timeout: float) -> str:
    try:
        output, _ = process.communicate(timeout=timeout)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.communicate()
    return output.decode(errors="replace")


#: how the run is started: xdist workers, and checks in flight at once in each process
MODES = {"serial": (0, 1), "concurrent": (0, 8), "xdist": (2, 8)}


@pytest.mark.parametrize("moment", MOMENTS, ids=str)
@pytest.mark.parametrize("mode", list(MODES))
def test_ctrl_c_at_any_moment_leaves_no_connector_behind(
    mode: str, moment: Moment, watched: tuple[WatchedTarget, ReferenceServer], pytester: pytest.Pytester
) -> None:
    target, server = watched
    assert LATE < CREATE_GRACE
    workers, concurrency = MODES[mode]
    target.create_delay = DELAYS[workers]
    prefix = f"ccint{workers}"
    process = _start_run(pytester, server.url, workers, prefix, "--connector-concurrency", str(concurrency))
    output = _interrupt(target, process, moment)
    assert target.run_ids(prefix) == [], output


def _interrupt(watched: WatchedTarget, process: subprocess.Popen[bytes], moment: Moment) -> str:
    """Ctrl-C at ``moment`` of the requests ``watched`` sees; the run must stop and say nothing remains."""
    try:
        watched.wait_until(moment.reached, process)
        time.sleep(moment.after)
        os.killpg(process.pid, signal.SIGINT)
    finally:
        output = _finish(process, timeout=60)
    # Ctrl-C reaches the whole process group; a worker may stop before the controller notices, which
    # xdist reports as a failure rather than an interruption. Either way the run is not green.
    assert process.returncode in (pytest.ExitCode.INTERRUPTED, pytest.ExitCode.TESTS_FAILED), output
    assert "NOT DELETED" not in output, output
    return output


def test_ctrl_c_midway_through_a_concurrent_run_leaves_nothing_and_reports_the_checks_that_ended(
    pytester: pytest.Pytester,
) -> None:
    """Two checks in flight at a time against a target that answers after 30 ms and holds every create for a
    second: Ctrl-C lands while the second pair is under way and the fifth check has started. Nothing is left,
    and the reports hold the checks whose items were reached, in collection order, each passed; none of a
    check that ran ahead and was cut off."""
    target = WatchedTarget()
    server = ReferenceServer(target, latency_ms=30)
    server.start()
    report = pytester.path / "conformance.json"
    # five checks that need the same requests, so that they start in collection order
    selection = "connector-contract::transition[connected->"
    try:
        process = _start_run(pytester, server.url, 0, "ccmid", "--connector-concurrency", "2",
                             "--connector-json", str(report), selection=selection)  # fmt: skip
        try:
            # the first pair has ended (a second before the third DELETE: the hold of the next create)
            target.wait_until(lambda arrivals: [method for method, _ in arrivals].count("DELETE") >= 3, process)
            os.killpg(process.pid, signal.SIGINT)
        finally:
            output = _finish(process, timeout=60)
        assert process.returncode == pytest.ExitCode.INTERRUPTED, output
        assert "NOT DELETED" not in output, output
        assert target.run_ids("ccmid") == [], output
    finally:
        server.stop()
    checks = json.loads(report.read_text())["checks"]
    ended = [check["id"] for check in checks if check["outcome"] is not None]
    collected = [check.id for check in load_spec().checks if check.id.startswith("transition[connected->")]
    assert 2 <= len(ended) < len(collected), output  # the run really was cut short
    assert ended == collected[: len(ended)], output  # in collection order, none skipped
    assert {check["outcome"] for check in checks if check["outcome"] is not None} == {"passed"}
    assert f"checks: {len(ended)} ({len(ended)} passed)" in output, output


def test_ctrl_c_during_cleanup_ends_the_run_promptly_and_lists_what_may_remain(
    watched: tuple[WatchedTarget, ReferenceServer], pytester: pytest.Pytester
) -> None:
    target, server = watched
    target.create_delay = 4.0  # longer than the run waits for a held create: it lands after the run
    target.late = None
    process = _start_run(pytester, server.url, 0, "ccint")
    held = ""
    try:
        target.wait_until(lambda arrivals: any(_is_create(*a) for a in arrivals), process)
        held = next(path for method, path in target.arrivals if _is_create(method, path)).rsplit("/", 1)[1]
        os.killpg(process.pid, signal.SIGINT)
        # The run deletes the held id (404: not applied yet), then reads it again while it waits: Ctrl-C now.
        target.wait_until(lambda arrivals: arrivals[-1] == ("GET", f"/_connector/{held}"), process)
        os.killpg(process.pid, signal.SIGINT)
        output = _finish(process, timeout=30)
        # Promptly: the run ended while the target still held the create, which it applies 4 s after it came.
        with target.arrived:
            still_held = held in target.holding
    finally:
        if process.poll() is None:
            _finish(process, timeout=0)
    assert process.returncode == pytest.ExitCode.INTERRUPTED, output
    assert still_held, "the run waited for the held create to land after the second Ctrl-C"
    assert f"NOT DELETED {held}: " in output, output


# -- the factory's clean-up, one process, no pytest run -------------------------------------------------------
@pytest.fixture
def held(
    start_target: Callable[..., ReferenceServer],
) -> Iterator[tuple[ReferenceTarget, ReferenceServer, ConnectorFactory]]:
    """A target holding creates for 0.4 s, and a factory whose ledger is shared with nobody."""
    target = ReferenceTarget(create_delay=0.4)
    server = start_target(target)
    client = ConnectorClient(server.url, timeout=5)
    factory = ConnectorFactory(client, load_spec(), id_prefix="held", ledger=Ledger(), soft_delete=target.soft_delete)
    yield target, server, factory
    client.close()


def _on_a_fake_clock(factory: ConnectorFactory) -> tuple[ConnectorFactory, FakeClock]:
    """The same factory, but whose wait for unanswered creates runs on a clock that moves only when it sleeps."""
    clock = FakeClock()
    twin = ConnectorFactory(
        factory.client, factory.spec, id_prefix=factory.id_prefix, ledger=factory.ledger,
        soft_delete=factory.soft_delete, create_grace=factory.create_grace, clock=clock, sleep=clock.sleep,
    )  # fmt: skip
    return twin, clock


def _unanswered(factory: ConnectorFactory, connector_id: str) -> str:
    """Own ``connector_id`` as the factory does just before it sends the create."""
    factory.created.append(connector_id)
    factory.ledger.add(connector_id, answered=False)
    return connector_id


def _send_create_and_give_up(url: str, connector_id: str) -> None:
    """What a run interrupted while waiting for a create leaves: the PUT sent, its answer never read."""
    with pytest.raises(requests.Timeout):
        requests.put(f"{url}/_connector/{connector_id}", json={"index_name": connector_id}, timeout=0.05)


def test_cleanup_deletes_a_create_that_lands_after_its_delete(
    held: tuple[ReferenceTarget, ReferenceServer, ConnectorFactory],
) -> None:
    target, server, factory = held
    factory.create_grace = 60.0  # a bound it must not need: it stops reading once both creates landed
    for connector_id in ("held-1", "held-2"):
        _send_create_and_give_up(server.url, _unanswered(factory, connector_id))
    sent = factory.client.request_count
    assert factory.cleanup() == []
    # It waited for the creates: both landed, and were deleted. And only as long as they took: a read of the
    # two ids every 0.2 s while the target held them (0.4 s), not for the 60 s it would have allowed.
    assert target.connectors == {}
    assert factory.ledger.live() == []
    assert factory.client.request_count - sent <= 40


def test_an_unanswered_create_that_never_lands_is_gone_after_a_bounded_wait(
    held: tuple[ReferenceTarget, ReferenceServer, ConnectorFactory],
) -> None:
    factory, clock = _on_a_fake_clock(held[2])
    factory.create_grace = 0.5
    _unanswered(factory, "held-1")  # Ctrl-C before the PUT was sent
    assert factory.cleanup() == []
    assert sum(clock.waits) == pytest.approx(0.5)  # the whole grace, in pauses between reads, and no longer
    assert factory.ledger.live() == []


def test_an_answered_create_is_not_waited_for(held: tuple[ReferenceTarget, ReferenceServer, ConnectorFactory]) -> None:
    target, _, _ = held
    factory, clock = _on_a_fake_clock(held[2])
    target.create_delay = 0
    connector = factory()
    factory.client.delete_connector(connector.id, hard=True)  # somebody removed it: DELETE will find nothing
    assert factory.cleanup() == []
    assert clock.waits == []


def test_a_delete_now_also_waits_for_an_unanswered_create(
    held: tuple[ReferenceTarget, ReferenceServer, ConnectorFactory],
) -> None:
    target, server, factory = held
    _send_create_and_give_up(server.url, _unanswered(factory, "held-1"))
    factory.delete_now("held-1")
    time.sleep(0.1)
    assert target.connectors == {}
    assert factory.created == []


def test_what_an_interrupted_cleanup_gave_up_on_is_left_alone(
    held: tuple[ReferenceTarget, ReferenceServer, ConnectorFactory],
) -> None:
    _, _, factory = held
    _unanswered(factory, "held-1")
    assert factory.ledger.abandon() == ["held-1"]
    sent = factory.client.request_count
    assert factory.cleanup() == []
    assert factory.client.request_count == sent


# -- the reference target's delayed create --------------------------------------------------------------
def test_a_delayed_create_is_applied_late_while_other_requests_are_answered_at_once() -> None:
    target = ReferenceTarget(create_delay=0.5)
    with ReferenceServer(target) as server, requests.Session() as reader:
        started = time.monotonic()
        answers: list[requests.Response] = []
        thread = threading.Thread(
            target=lambda: answers.append(requests.put(f"{server.url}/_connector/late", json={}, timeout=10))
        )
        thread.start()
        while not target.connectors and time.monotonic() - started < 0.3:
            assert reader.get(f"{server.url}/_connector/late").status_code == 404
            assert reader.delete(f"{server.url}/_connector/late").status_code == 404
        thread.join()
        assert time.monotonic() - started >= 0.5
        assert [answer.status_code for answer in answers] == [201]
        assert reader.get(f"{server.url}/_connector/late").status_code == 200


def test_a_delayed_create_is_applied_even_when_the_client_stopped_waiting() -> None:
    target = ReferenceTarget(create_delay=0.4)
    with ReferenceServer(target) as server:
        with pytest.raises(requests.Timeout):
            requests.put(f"{server.url}/_connector/late", json={}, timeout=0.1)
        assert "late" not in target.connectors
        time.sleep(0.6)
        assert target.snapshot("late") is not None
    with pytest.raises(ValueError, match="negative"):
        ReferenceTarget(create_delay=-1)


def test_serve_takes_the_create_delay() -> None:
    from pytest_connector_contract.cli.main import build_parser

    assert build_parser().parse_args(["serve", "--create-delay-ms", "250"]).create_delay_ms == 250
    assert build_parser().parse_args(["serve"]).create_delay_ms == 0


class RefusesDeletes(ReferenceTarget):
    """A target that answers every DELETE of a connector with 500: nothing the run creates can be deleted."""

    def handle_delete_connector(self, request: Any, connector_id: str) -> Any:
        return self.error(500, "illegal_state_exception", "deletes are switched off")


def test_after_ctrl_c_under_xdist_the_summary_lists_what_the_workers_could_not_delete(
    pytester: pytest.Pytester,
) -> None:
    """The workers clean up after the controller has stopped waiting for checks: what they could not delete
    still reaches the summary and the JSON report."""
    target = RefusesDeletes()
    server = ReferenceServer(target)
    server.start()
    report = pytester.path / "conformance.json"
    try:
        command = [sys.executable, "-m", "pytest", "--connector-url", server.url, "--connector-id-prefix", "ccleft",
                   "--connector-json", str(report), "-p", "no:cacheprovider", "-n", "2", SELECTION]  # fmt: skip
        process = subprocess.Popen(command, cwd=pytester.path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                   start_new_session=True)  # fmt: skip
        deadline = time.monotonic() + 60
        while len([c for c in target.connectors if c.startswith("ccleft-")]) < 4 and time.monotonic() < deadline:
            time.sleep(0.02)
        os.killpg(process.pid, signal.SIGINT)
        output = _finish(process, timeout=60)
        remaining = sorted(c for c in target.connectors if c.startswith("ccleft-"))
    finally:
        server.stop()
    assert remaining, output
    for connector_id in remaining:
        assert f"NOT DELETED {connector_id}" in output, output
    leftovers = json.loads(report.read_text())["leftovers"]  # "<id>: why it could not be deleted"
    assert sorted(entry.split(":", 1)[0] for entry in leftovers) == remaining


@pytest.mark.parametrize("moment", [Moment("create", 1, 0.2), Moment("create", 2, 0.05)], ids=str)
@pytest.mark.parametrize("workers", [0, 2], ids=["serial", "xdist"])
def test_ctrl_c_leaves_nothing_on_the_reference_cluster_either(
    workers: int,
    moment: Moment,
    watched: tuple[WatchedTarget, ReferenceServer],
    pytester: pytest.Pytester,
    start_target: Callable[..., ReferenceServer],
) -> None:
    """The reference cluster (--connector-reference-url) holds its creates: Ctrl-C while one is in flight there."""
    reference, reference_server = watched
    reference.create_delay = DELAYS[workers]
    target = start_target()
    prefix = f"ccref{workers}"
    process = _start_run(pytester, target.url, workers, prefix, "--connector-reference-url", reference_server.url)
    output = _interrupt(reference, process, moment)
    assert reference.run_ids(prefix) == [], output
    assert sorted(target.target.connectors) == [], output
