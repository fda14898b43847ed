"""Checks in flight together (``--connector-concurrency N``): a pool of N slots that runs checks ahead of
their turn, each through :func:`~pytest_connector_contract.checks.execute.execute`, as its item would.

Each slot is one thread with one :class:`ConnectorClient` of its own, made on the slot's first check and
reused by every later check of that slot, so its keep-alive connection survives from check to check: a run
opens N connections (plus the main thread's), never one per check, and never pays a TCP or TLS handshake per
check. A client per slot rather than one ``requests.Session`` shared by all slots, because requests does not
promise a Session is safe to use from several threads at once, and because a client's evidence record
(``exchanges``) and its request-log label then belong to the one check the slot is running. The connection
pool each client keeps (``transport.POOL_SIZE``) thus never has more than one request in flight; the run's
connections to the target are sized by N through the number of slots.

Every client of the process waits on the run's one rate limiter (``RunState.limiter``), so
``--connector-max-rps`` stays one cap however many checks are in flight. Every factory records into the
process's one :class:`~pytest_connector_contract.checks.factory.Ledger` (thread-safe), so the end-of-run
safety net knows every connector any slot created. Ids stay unique: the factories share one counter.

Stopping (``-x``, ``--maxfail``, Ctrl-C, or the end of the run): :meth:`CheckPool.stop` runs nothing more,
cancels what has not started, and sets the stop flag every slot client checks before each request
(:class:`~pytest_connector_contract.client.api.RunStopped`), then waits for the checks in flight, at
most ``wait`` seconds. A check stopped that way does not clean up after itself: what it created stays in the
ledger, and the run's final clean-up (``RunState.delete_leftovers``) deletes it.

That clean-up is safe even while a slot is still in flight (after Ctrl-C the plugin does not wait, see
``plugin/concurrency.py``): a slot adds an id to the ledger before it sends the create, as unanswered, so the
clean-up waits for a create in flight as it does for one Ctrl-C cut off; a slot can send nothing once the
flag is set, and a create the flag stopped before it was sent leaves the ledger again (it would otherwise be
listed as possibly remaining by a target that refuses the DELETE of an id it never had); the ledger is
shared under a lock, and an id either side has seen deleted is left alone by the other.

What the slots share, and why it is safe under N threads: the :class:`Ledger` and the
:class:`~pytest_connector_contract.client.api.RateLimiter` take a lock for every change; the id counter
of :class:`~pytest_connector_contract.checks.factory.ConnectorFactory` is an ``itertools.count``, whose
``next()`` is one indivisible step; the request log (``--connector-request-log``) is one file descriptor per
client, opened with ``O_APPEND`` and written one whole line per ``write()``, its sequence numbers drawn under a
lock; a client's :class:`~pytest_connector_contract.client.api.Redactor` is its own and only read once
built; the schemas are compiled at start-up (``schemas.prepare()``), and their ``functools.cache`` would at
worst compile one twice; the catalogue's lazy import of a kind is never reached by a slot (the kinds that load
on first use run alone; the official client itself is imported on pytest's thread, below). Hypothesis is
used by exploration walks alone, which never run in a slot. Every check's evidence is its own ``Run`` and, in
a slot, a copy of its client's record.

What must not run beside pytest is handed to the thread that waits for the checks: an official client
check catches the client's warnings with ``warnings.catch_warnings``, which swaps process-wide state that
pytest swaps too, around every item, on its own thread. A check in a slot prepares its connector there, then
hands the client's part to :meth:`CheckPool.on_main`; the thread that made the pool does that work while it
waits for a check's result (:meth:`CheckPool.result`), between pytest's items' own use of the warnings, and
the slot waits for it. After a stop, nothing more is handed over and what was waiting ends as stopped.

This module never imports pytest: the plugin's glue is ``plugin/concurrency.py``.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from concurrent.futures import wait as wait_for
from dataclasses import dataclass, field
from typing import Any, TypeVar

from pytest_connector_contract.checks.execute import Outcome, execute
from pytest_connector_contract.checks.run import Run
from pytest_connector_contract.client.api import ConnectorClient, Exchange, RunStopped

__all__ = ["Ahead", "CheckPool", "run_ahead"]

T = TypeVar("T")

#: why work handed to the waiting thread (:meth:`CheckPool.on_main`) was not done
_STOPPED = "the run is stopping: the check's remaining work was not started"


@dataclass
class Ahead:
    """A check that ran ahead of its item, and everything its item's phases need to report it as if the item
    had run it: the outcome, its evidence at the end of the check and after its clean-up, and the clean-up's
    problems and duration."""

    run: Run
    outcome: Outcome
    #: the check's requests (what a serial run's call phase shows)
    exchanges: list[Exchange]
    #: the same, followed by the clean-up's (what a serial run's teardown shows)
    cleanup_exchanges: list[Exchange] = field(default_factory=list)
    cleanup_problems: list[str] = field(default_factory=list)
    cleanup_duration: float = 0.0


def run_ahead(run: Run, stop: threading.Event, execute: Callable[[Run], Outcome] = execute) -> Ahead:
    """Execute ``run`` (with ``execute``: the run's way, e.g. also against a reference) and delete what it
    created, as the serial item's call and teardown would."""
    outcome = execute(run)
    ahead = Ahead(run, outcome, list(run.client.exchanges))
    run.exchanges = ahead.exchanges  # the slot's client moves on to other checks
    if stop.is_set():
        return ahead
    started = time.perf_counter()
    ahead.cleanup_problems = run.factory.cleanup()
    ahead.cleanup_duration = time.perf_counter() - started
    ahead.cleanup_exchanges = list(run.client.exchanges)
    return ahead


class CheckPool:
    """``size`` slots running checks ahead of their turn, each slot with its own client (see the module).

    The slots are daemon threads fed from one queue, not a ``ThreadPoolExecutor``: the executor's threads are
    joined when the interpreter exits, so a slot still waiting for an answer after Ctrl-C would hold the run
    up to the request timeout, where a serial run ends at once (tests/test_interrupt.py, a second Ctrl-C).
    A slot left running at exit has nothing more to send: the stop flag is set.
    """

    def __init__(
        self,
        size: int,
        new_client: Callable[[], ConnectorClient],
        execute: Callable[[Run], Outcome] = execute,
    ) -> None:
        self.size = size
        self._new_client = new_client
        self._execute = execute
        self._queue: queue.SimpleQueue[tuple[Future[Any], Callable[[], Any]] | None] = queue.SimpleQueue()
        self._slots: list[threading.Thread] = []
        self._local = threading.local()
        self._clients: list[ConnectorClient] = []
        self._lock = threading.Lock()
        self._futures: list[Future[Any]] = []
        #: set once the run stops: no slot client sends another request
        self.stopping = threading.Event()
        #: the thread that waits for the checks, and the work the slots handed it (see on_main)
        self._owner = threading.current_thread()
        self._handed: list[tuple[Future[Any], Callable[[], Any]]] = []
        self._handed_or_done = threading.Condition()

    def _slot(self) -> None:
        while (job := self._queue.get()) is not None:
            _settle(*job)

    def client(self) -> ConnectorClient:
        """The calling slot's client, made on its first check."""
        client: ConnectorClient | None = getattr(self._local, "client", None)
        if client is None:
            client = self._new_client()
            client.stop = self.stopping
            self._local.client = client
            with self._lock:
                self._clients.append(client)
        return client

    def submit(self, task: Callable[[ConnectorClient], Run]) -> Future[Ahead]:
        """Queue a check: ``task`` builds its Run on the slot's client; the slot executes it and cleans up."""
        return self.start(lambda: run_ahead(task(self.client()), self.stopping, self._execute))

    def start(self, work: Callable[[], T]) -> Future[T]:
        """Queue ``work`` for the next free slot, starting another slot while there are fewer than ``size``."""
        future: Future[T] = Future()
        future.add_done_callback(self._wake)
        self._futures.append(future)
        self._queue.put((future, work))
        if len(self._slots) < min(self.size, len(self._futures)):
            name = f"connector-contract-slot-{len(self._slots) + 1}"
            slot = threading.Thread(target=self._slot, name=name, daemon=True)
            self._slots.append(slot)
            slot.start()
        return future

    def _wake(self, _: Future[Any]) -> None:
        with self._handed_or_done:
            self._handed_or_done.notify_all()

    def on_main(self, work: Callable[[], T]) -> T:
        """``work()`` on the thread that made the pool (see the module): at once when called there, else handed
        to it and waited for. Raises :class:`RunStopped` once the run stops, as a request would."""
        if threading.current_thread() is self._owner:
            return work()
        future: Future[T] = Future()
        with self._handed_or_done:
            if self.stopping.is_set():
                raise RunStopped(_STOPPED)
            self._handed.append((future, work))
            self._handed_or_done.notify_all()
        return future.result()

    def result(self, future: Future[T]) -> T:
        """What ``future`` (a check queued here) ended with, once it has ended; meanwhile this thread does the
        work slots hand it (:meth:`on_main`), in the order handed."""
        while True:
            with self._handed_or_done:
                self._handed_or_done.wait_for(lambda: bool(self._handed) or future.done())
                handed, self._handed = self._handed, []
            for job in handed:
                _settle(*job)
            if not handed:
                return future.result()

    def stop(self, wait: float) -> bool:
        """Run nothing more, stop the checks in flight before their next request and wait for them (at most
        ``wait`` seconds). True when none is still running."""
        self.stopping.set()
        with self._handed_or_done:
            handed, self._handed = self._handed, []
        for job, _ in handed:
            job.set_exception(RunStopped(_STOPPED))
        for future in self._futures:
            future.cancel()
        running = [f for f in self._futures if not f.done()]
        _, not_done = wait_for(running, timeout=wait)
        return not not_done

    def close(self, wait: float) -> bool:
        """Stop (see :meth:`stop`), then close the slots' clients. True when every slot had ended; the clients
        of a slot still in flight are left open for it (its requests end within the timeout, and it sends no
        other)."""
        ended = self.stop(wait)
        for _ in self._slots:
            self._queue.put(None)
        if ended:
            with self._lock:
                clients, self._clients = self._clients, []
            for client in clients:
                client.close()
        return ended


def _settle(future: Future[Any], work: Callable[[], Any]) -> None:
    """Do ``work`` for ``future``, unless it was cancelled before it started; what it raises is handed on."""
    if not future.set_running_or_notify_cancel():
        return
    try:
        future.set_result(work())
    except BaseException as exc:  # handed to whoever waits: the item, which raises it, or the slot
        future.set_exception(exc)
