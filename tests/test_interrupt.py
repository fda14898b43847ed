"""The reference target's delayed create: a create it applies late while it answers everything else at once."""

from __future__ import annotations

import threading
import time

import pytest
import requests

from pytest_connector_contract.reference.connectors import ReferenceTarget
from pytest_connector_contract.reference.server import ReferenceServer


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
