"""Robust setup requests: a setup request (create, read back, delete) answered 503 or not answered is retried
after the backoff's delays, honouring ``Retry-After`` within its timeout; the request under test is never
retried. The client's waits are recorded by a fake clock (tests/support/clock.py), not slept."""

from __future__ import annotations

import email.utils
import socket
from collections.abc import Callable
from typing import Any

import pytest
from support.clock import FakeClock

from pytest_connector_contract.client.api import RETRY_DELAYS, ConnectorClient, TargetUnreachable
from pytest_connector_contract.reference.endpoints import ReferenceTarget
from pytest_connector_contract.reference.messages import Request, Response
from pytest_connector_contract.reference.server import ReferenceServer


class Flaky(ReferenceTarget):
    """Answers 503 to the first attempt of every create, GET and DELETE of a connector (``_status`` behaves),
    or to every one of them with ``always``; records what it answered."""

    def __init__(self, *, always: bool = False) -> None:
        super().__init__()
        self.always = always
        self.seen: set[tuple[str, str]] = set()
        self.answered: list[tuple[str, str, int]] = []

    def handle(self, method: str, path: str, query: Any, headers: Any, body: bytes) -> Response:
        key = (method, path)
        if path.startswith("/_connector/") and "_status" not in path and (self.always or key not in self.seen):
            self.seen.add(key)
            response = self.error(503, "unavailable_shards_exception", "try again")
        else:
            response = super().handle(method, path, query, headers, body)
        self.answered.append((method, path, response.status))
        return response


def _client(url: str, clock: FakeClock) -> ConnectorClient:
    """A client whose waits between attempts are recorded by ``clock``, not slept."""
    return ConnectorClient(url, timeout=5.0, sleep=clock.sleep)


def test_a_setup_request_answered_503_is_retried_after_the_first_delay(
    start_target: Callable[..., ReferenceServer],
) -> None:
    server = start_target(Flaky())
    clock = FakeClock()
    client = _client(server.url, clock)
    try:
        answer = client.put_connector("retried", {"index_name": "idx-retried"}, retry=True)
    finally:
        client.close()
    assert (answer.status, answer.attempts) == (201, 2)
    assert clock.waits == [RETRY_DELAYS[0]]
    assert server.target.answered == [("PUT", "/_connector/retried", 503), ("PUT", "/_connector/retried", 201)]


def test_a_setup_request_is_tried_once_per_delay_then_gives_the_last_answer(
    start_target: Callable[..., ReferenceServer],
) -> None:
    server = start_target(Flaky(always=True))
    clock = FakeClock()
    client = _client(server.url, clock)
    try:
        answer = client.get_connector("never", retry=True)
    finally:
        client.close()
    assert (answer.status, answer.attempts) == (503, len(RETRY_DELAYS) + 1)
    assert clock.waits == list(RETRY_DELAYS)
    assert [status for _, _, status in server.target.answered] == [503] * (len(RETRY_DELAYS) + 1)


def test_an_unreachable_target_is_retried_before_giving_up() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # bound, never listening: connections are refused
        clock = FakeClock()
        client = _client(f"http://127.0.0.1:{port}", clock)
        try:
            with pytest.raises(TargetUnreachable):
                client.get_connector("x", retry=True)
        finally:
            client.close()
    assert clock.waits == list(RETRY_DELAYS)


def test_without_retry_a_503_is_the_answer(start_target: Callable[..., ReferenceServer]) -> None:
    server = start_target(Flaky())
    clock = FakeClock()
    client = _client(server.url, clock)
    try:
        answer = client.get_connector("once")
    finally:
        client.close()
    assert (answer.status, answer.attempts) == (503, 1)
    assert clock.waits == []
    assert len(server.target.answered) == 1


def test_a_run_against_a_flaky_target_retries_its_setup_and_passes(
    start_target: Callable[..., ReferenceServer], run_suite: Callable[..., Any]
) -> None:
    server = start_target(Flaky())
    run = run_suite(server.url, "connector-contract::transition[created->error]")
    assert run.ret == 0, run.result.stdout.str()
    refused = [(method, path) for method, path, status in server.target.answered if status == 503]
    assert {method for method, _ in refused} >= {"PUT", "GET"}  # the create and the read-back were refused
    for method, path in refused:  # ... and each was sent again and answered
        assert any(m == method and p == path and s != 503 for m, p, s in server.target.answered), (method, path)


class UnderTestFlaky(ReferenceTarget):
    """Answers 503 to the first request for a transition to connected from configured, then behaves."""

    answered: set[str] = set()

    def handle_update_status(self, request: Request, connector_id: str) -> Response:
        doc = self.get_connector(connector_id)
        if doc and doc["status"] == "configured" and b"connected" in request.body and connector_id not in self.answered:
            self.answered.add(connector_id)
            return self.error(503, "unavailable_shards_exception", "try again")
        return super().handle_update_status(request, connector_id)


def test_the_request_under_test_is_never_retried(
    start_target: Callable[..., ReferenceServer], run_suite: Callable[..., Any]
) -> None:
    server = start_target(UnderTestFlaky())
    run = run_suite(server.url, "connector-contract::transition[configured->connected]")
    assert run.ret == 1
    assert run.outcome("transition[configured->connected]") == "failed"
    assert "got HTTP 503" in run.check("transition[configured->connected]")["problems"][0]


class AsksToWait(ReferenceTarget):
    """Answers ``status`` with ``Retry-After: <retry_after>`` to the first ``times`` GETs of a connector."""

    def __init__(self, status: int, retry_after: str, times: int = 1) -> None:
        super().__init__()
        self.status, self.retry_after, self.times = status, retry_after, times
        self.answered: list[int] = []

    def handle(self, method: str, path: str, query: Any, headers: Any, body: bytes) -> Response:
        if method == "GET" and path.startswith("/_connector/") and len(self.answered) < self.times:
            response = self.error(self.status, "unavailable", "busy")
            response.headers["Retry-After"] = self.retry_after
        else:
            response = super().handle(method, path, query, headers, body)
        self.answered.append(response.status)
        return response


#: the wall clock's time when the target's HTTP-date says "three seconds from now"
_WALL = 1_796_000_000.0


@pytest.mark.parametrize(
    ("status", "retry_after", "times", "waits", "answered"),
    [
        (503, "2", 1, [2.0], [503, 404]),
        (429, "2", 1, [2.0], [429, 404]),
        (429, email.utils.formatdate(_WALL + 3, usegmt=True), 1, [3.0], [429, 404]),
        (503, "0", 1, [RETRY_DELAYS[0]], [503, 404]),  # never sooner than the backoff
        (503, "soon", 1, [RETRY_DELAYS[0]], [503, 404]),  # not a Retry-After: the backoff
        (502, "2", 1, [RETRY_DELAYS[0]], [502, 404]),  # only 429 and 503 carry a Retry-After worth honouring
        (503, "3600", 9, [5.0], [503, 503]),  # bounded by the 5 s timeout, then the answer is the last
        (503, "3", 9, [3.0, 2.0], [503, 503, 503]),  # 3 s, then the 2 s left of the timeout
    ],
    ids=["503-seconds", "429-seconds", "429-http-date", "zero", "unparsable", "502-ignored", "huge", "budget"],
)
def test_a_retried_setup_request_honours_retry_after_within_its_timeout(
    status: int,
    retry_after: str,
    times: int,
    waits: list[float],
    answered: list[int],
    start_target: Callable[..., ReferenceServer],
) -> None:
    server = start_target(AsksToWait(status, retry_after, times))
    clock = FakeClock()
    client = ConnectorClient(server.url, timeout=5.0, clock=clock, sleep=clock.sleep, wall_clock=lambda: _WALL)
    try:
        answer = client.get_connector("absent", retry=True)
    finally:
        client.close()
    assert clock.waits == waits
    assert server.target.answered == answered
    assert answer.status == answered[-1]
