"""The pool of checks in flight (``checks/ahead.py``): the work a slot hands to the thread that waits for
the checks runs on that thread, while it waits, and never after the run stopped. Real threads, no clock."""

from __future__ import annotations

import threading

import pytest

from pytest_connector_contract.checks.ahead import CheckPool
from pytest_connector_contract.client.api import ConnectorClient, RunStopped


def _pool() -> CheckPool:
    def no_client() -> ConnectorClient:
        raise AssertionError("these slots send no request")

    return CheckPool(4, no_client)


def test_work_a_slot_hands_over_runs_on_the_waiting_thread_in_the_order_handed() -> None:
    pool = _pool()
    done: list[tuple[int, str]] = []
    released = threading.Event()

    def check(number: int) -> str:
        released.wait(10)
        return str(pool.on_main(lambda: done.append((number, threading.current_thread().name)) or "handed"))

    futures = [pool.start(lambda n=n: check(n)) for n in range(3)]  # type: ignore[misc]
    assert done == []  # nothing runs on this thread until it waits
    released.set()
    assert [pool.result(future) for future in futures] == ["handed"] * 3
    assert {name for _, name in done} == {threading.current_thread().name}
    assert sorted(number for number, _ in done) == [0, 1, 2]
    # On the waiting thread itself, the work is done at once.
    assert pool.on_main(lambda: threading.current_thread().name) == threading.current_thread().name
    assert pool.close(5)


def test_what_a_slot_raises_in_the_handed_work_reaches_the_slot_and_its_check() -> None:
    pool = _pool()

    def fails() -> None:
        raise ValueError("from the handed work")

    future = pool.start(lambda: pool.on_main(fails))
    with pytest.raises(ValueError, match="from the handed work"):
        pool.result(future)
    assert pool.close(5)


def test_after_a_stop_nothing_more_is_handed_over_and_what_waited_ends_as_stopped() -> None:
    pool = _pool()
    handed = threading.Event()
    ran: list[str] = []

    def check() -> None:
        handed.set()
        pool.on_main(lambda: ran.append("handed work"))

    waiting = pool.start(check)
    assert handed.wait(10)
    # The waiting thread stops the run before it ever waits for that check: the handed work never runs.
    assert pool.stop(5)
    with pytest.raises(RunStopped):
        waiting.result(5)
    late = pool.start(lambda: pool.on_main(lambda: ran.append("after the stop")))
    assert late.cancelled() or isinstance(late.exception(5), RunStopped)
    assert ran == []
    assert pool.close(5)
