"""The pytest glue of checks in flight together (``--connector-concurrency N``; the pool: ``checks/ahead.py``).

When pytest starts its run loop, every item that may run ahead of its turn is handed to the pool, the
longest checks first (by their request floor). Outside xdist the whole ``session.items`` is known; an
xdist worker is handed its items a few at a time, so before each item it hands over the items already in
its queue (xdist's private ``WorkerInteractor.torun``; tests/test_private_apis.py checks its shape, and a
worker where it is not found runs its checks one after another, with a warning).

The items themselves still run one after another, in collection order, through pytest's own protocol: the
``_connector_run`` fixture waits for the check that ran ahead, ``run_check`` raises the outcome it ended with
(the serial path's very exception, translated the same way), the ``connector_factory`` fixture's teardown
reports the problems of its clean-up, and the reports carry its evidence. :func:`adjust` gives each report the
durations of the check itself (call) and of its clean-up (teardown), not the time the item waited.

Not run ahead: exploration walks (Hypothesis is not thread-safe; walks therefore never overlap one another)
and race checks (they run their own threads), whose items run them when their turn comes; items a marker
may skip; and any item but the bundled suite's. An official client check runs ahead, and hands the part that
catches the client's warnings to this thread, which does it while an item waits for its check
(``CheckPool.result``, through :meth:`ChecksAhead.take`).

When the run stops (``-x``/``--maxfail`` after an item, Ctrl-C, or the end of the loop), nothing more is
started and checks in flight stop before their next request; they are waited for, except after Ctrl-C. What
they created is deleted by the session's final clean-up. A check whose item is never reached produces no
report.
"""

from __future__ import annotations

import functools
import time
import warnings
from collections.abc import Callable, Generator, Iterable
from concurrent.futures import Future
from typing import Any

import pytest

from pytest_connector_contract.checks.ahead import Ahead, CheckPool
from pytest_connector_contract.checks.catalogue import RUN_ALONE, request_floors
from pytest_connector_contract.checks.factory import CREATE_GRACE
from pytest_connector_contract.checks.run import Run
from pytest_connector_contract.client.api import RETRY_DELAYS, ConnectorClient
from pytest_connector_contract.contract.spec import Check
from pytest_connector_contract.plugin.keys import AHEAD, WAITED
from pytest_connector_contract.plugin.state import RunState

__all__ = ["ChecksAhead", "adjust", "configure", "take", "taken"]

_PLUGIN_NAME = "connector_contract_concurrency"


def configure(config: pytest.Config, state: RunState, *, runs_checks: bool) -> None:
    """Register the glue in a process that runs the bundled suite's checks, when more than one may be in
    flight (an xdist controller runs none: its workers each have their own pool)."""
    if state.suite and runs_checks and state.settings.in_flight > 1:
        config.pluginmanager.register(ChecksAhead(state), _PLUGIN_NAME)


def _plugin(item: pytest.Item) -> ChecksAhead | None:
    plugin = item.config.pluginmanager.get_plugin(_PLUGIN_NAME)
    return plugin if isinstance(plugin, ChecksAhead) else None


def take(item: pytest.Item) -> Ahead | None:
    """The check ``item`` runs, if it ran ahead of its turn: waits for it to end (in the item's setup)."""
    plugin = _plugin(item)
    return plugin.take(item) if plugin is not None else None


def taken(item: pytest.Item) -> Ahead | None:
    """What :func:`take` returned for ``item`` (None for an item that runs its check itself)."""
    return item.stash.get(AHEAD, None)


def adjust(item: pytest.Item, report: pytest.TestReport) -> None:
    """For an item whose check ran ahead: the phase's evidence and duration are the check's own."""
    ahead = taken(item)
    if ahead is None:
        return
    if report.when == "setup":
        report.duration = max(0.0, report.duration - item.stash.get(WAITED, 0.0))
    elif report.when == "call":
        report.duration = ahead.outcome.duration
    elif report.when == "teardown":
        ahead.run.exchanges = ahead.cleanup_exchanges
        report.duration += ahead.cleanup_duration


class ChecksAhead:
    """Hands the run's items to the pool and their results back to the items (one per process)."""

    def __init__(self, state: RunState) -> None:
        self.state = state
        self.pool: CheckPool | None = None
        self.futures: dict[str, Future[Ahead]] = {}
        self.queued: Callable[[], list[int]] | None = None
        self.session: pytest.Session | None = None

    @property
    def wait(self) -> float:
        """Seconds a stop waits for the checks in flight: a request under way, a retry's backoff, and the
        wait for a create that got no answer."""
        return self.state.settings.timeout + max(RETRY_DELAYS) + CREATE_GRACE

    @pytest.hookimpl(wrapper=True)
    def pytest_runtestloop(self, session: pytest.Session) -> Generator[None, object, object]:
        self.session = session
        self.pool = CheckPool(self.state.settings.in_flight, self.state.client, self.state.execute)
        if hasattr(session.config, "workerinput"):
            self.queued = _xdist_queue(session.config)
        else:
            self._hand_over(session.items)
        try:
            result = yield
        except BaseException:
            # Ctrl-C (or pytest.exit, or an internal error): stop the slots, without waiting for the checks in
            # flight. A request under way cannot be cut short in another thread, and the clean-up must not
            # wait for it (an xdist worker still busy 5 s after the controller stops it is interrupted again,
            # by execnet). The clean-up is safe while they end (checks/ahead.py).
            self.pool.close(0)
            raise
        self.pool.close(self.wait)
        return result

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_protocol(
        self, item: pytest.Item, nextitem: pytest.Item | None
    ) -> Generator[None, object, object]:
        session = self.session
        if session is not None and self.queued is not None:
            self._hand_over([item, *(session.items[i] for i in self.queued()), *([nextitem] if nextitem else [])])
        try:
            return (yield)
        finally:
            if session is not None and (session.shouldstop or session.shouldfail) and self.pool is not None:
                self.pool.stop(self.wait)

    def _hand_over(self, items: Iterable[pytest.Item]) -> None:
        pool = self.pool
        if pool is None or pool.stopping.is_set():
            return
        batch: list[tuple[pytest.Item, Check]] = []
        for item in items:
            check: Check | None = getattr(item, "check", None)
            if check is not None and item.nodeid not in self.futures and _may_run_ahead(item, check):
                batch.append((item, check))
        # The longest checks first, so that none of them starts last and ends after all the others (the
        # items still report in collection order).
        batch.sort(key=lambda pair: -self._cost(pair[1]))
        for item, check in batch:
            self.futures[item.nodeid] = pool.submit(functools.partial(self._new_run, check))

    def _cost(self, check: Check) -> int:
        """Requests the check needs at least (0 when that depends on the run's options)."""
        soft_delete = bool(self.state.target and self.state.target.soft_delete)
        try:
            return request_floors(self.state.spec, check, soft_delete=soft_delete)[1]
        except KeyError:
            return 0

    def _new_run(self, check: Check, client: ConnectorClient) -> Run:
        run = self.state.new_run(check, client, self.state.new_factory(client))
        assert self.pool is not None
        run.on_main = self.pool.on_main
        return run

    def take(self, item: pytest.Item) -> Ahead | None:
        future = self.futures.pop(item.nodeid, None)
        if future is None or future.cancelled():
            return None
        started = time.perf_counter()
        assert self.pool is not None
        ahead = self.pool.result(future)
        item.stash[WAITED] = time.perf_counter() - started
        item.stash[AHEAD] = ahead
        return ahead


def _may_run_ahead(item: pytest.Item, check: Check) -> bool:
    """Not a kind that runs alone, and not an item a marker may keep from running its check (``skip``,
    ``skipif`` whatever its condition, ``xfail(run=False)``): its check would run for nothing."""
    if check.kind in RUN_ALONE or item.get_closest_marker("skip") or item.get_closest_marker("skipif"):
        return False
    return all(mark.kwargs.get("run", True) for mark in item.iter_markers("xfail"))


def _xdist_queue(config: pytest.Config) -> Callable[[], list[int]] | None:
    """The indices an xdist worker has been handed and not started yet, read from xdist's WorkerInteractor
    (private: its ``torun`` queue, whose ``lock()`` yields the deque of indices). None, with a warning, when
    this xdist keeps them elsewhere: the worker then runs its checks one after another."""
    for plugin in config.pluginmanager.get_plugins():
        if type(plugin).__name__ != "WorkerInteractor":
            continue
        queue = getattr(plugin, "torun", None)
        lock = getattr(queue, "lock", None)
        if callable(lock):
            return functools.partial(_indices, lock)
    _warn_xdist("no WorkerInteractor with a torun queue")
    return None


def _indices(lock: Callable[[], Any]) -> list[int]:
    with lock() as indices:
        return [i for i in indices if isinstance(i, int)]


@functools.cache
def _warn_xdist(problem: str) -> None:
    message = (
        f"connector-contract: unknown pytest-xdist worker layout ({problem}); "
        "this worker runs its checks one after another (--connector-concurrency has no effect in it)"
    )
    warnings.warn(pytest.PytestWarning(message), stacklevel=1)
