"""``--connector-max-rps``: request starts kept on the limiter's schedule, one limiter for every client of a
process (each xdist worker with its share of the run's rate), racing clients within the run's rate, and no
waiting at all without a limit. Time is an injected clock that moves only when slept."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

import pytest
from support.clock import FakeClock

from pytest_connector_contract.client.api import RateLimiter, run_limiter
from pytest_connector_contract.config.credentials import Secret
from pytest_connector_contract.config.settings import Access, Settings
from pytest_connector_contract.contract.spec import load_spec
from pytest_connector_contract.plugin.state import RunState
from pytest_connector_contract.reference.endpoints import ReferenceTarget
from pytest_connector_contract.reference.messages import Response
from pytest_connector_contract.reference.server import ReferenceServer


@pytest.mark.parametrize("oversleep", [0.0, 0.09])
def test_rate_limiter_keeps_request_starts_on_schedule(oversleep: float) -> None:
    clock = FakeClock(oversleep)
    limiter = RateLimiter(4.0, clock=lambda: clock.now, sleep=clock.sleep)  # 4 a second: a slot every 0.25 s
    for _ in range(9):
        limiter.wait()
        clock.starts.append(clock.now)
    first = clock.starts[0]
    for index, start in enumerate(clock.starts):
        assert start >= first + index * 0.25 - 1e-9  # never ahead of the schedule
    # within any window of one second at most rate * window + 1 starts
    assert all(sum(1 for t in clock.starts if s <= t < s + 1.0) <= 5 for s in clock.starts)


@pytest.mark.parametrize("workers", [1, 4])
def test_no_rate_limit_means_no_waiting(workers: int) -> None:
    """Without --connector-max-rps a process's limiter lets a burst of requests start at once: it never sleeps."""
    clock = FakeClock()
    limiter = run_limiter(Settings(), workers, clock=clock, sleep=clock.sleep)
    for _ in range(50):
        limiter.wait()
    assert clock.waits == []
    assert clock.now == FakeClock().now


# -- one pace for the whole run -----------------------------------------------------------------------------
class Stamped(ReferenceTarget):
    """Stamps every request it answers with the fake clock's time (the time its slot came)."""

    def __init__(self, clock: FakeClock) -> None:
        super().__init__()
        self.clock = clock
        self.stamps: list[tuple[float, str, str]] = []

    def handle(self, method: str, path: str, query: Any, headers: Any, body: bytes) -> Response:
        self.stamps.append((self.clock.now, method, path))
        return super().handle(method, path, query, headers, body)


def _paced_state(settings: Settings, clock: FakeClock, url: str, *, rate_share: int = 1) -> RunState:
    """A process's run state whose one limiter runs on ``clock`` (4 requests a second)."""
    state = RunState(settings, load_spec(), run_prefix="ccontract-0000aaaa", worker_id=None, suite=True,
                     selection=None, rate_share=rate_share)  # fmt: skip
    state.limiter = RateLimiter(4.0, clock=clock, sleep=clock.sleep)
    state.target_url = url
    return state


def _each_request_took_its_own_slot(stamps: list[float], interval: float) -> None:
    """Requests sent together (the racing ones) take one slot each: the slots before them stayed empty."""
    times = sorted(set(stamps))
    for previous, current in itertools.pairwise(times):
        together = stamps.count(current)
        assert current - previous >= together * interval - 1e-9, (previous, current, together)
    # ... so that within any second there are at most rate + 1 starts
    assert all(sum(1 for t in stamps if s <= t < s + 1.0) <= 5 for s in stamps)


def test_every_client_of_a_process_shares_its_one_limiter_of_the_workers_share() -> None:
    settings = Settings(max_rps=8.0, target=Access(api_key=Secret("id:key")), readonly_api_key=Secret("ro:key"))
    state = RunState(settings, load_spec(), run_prefix="ccontract-0000aaaa", worker_id="gw1", suite=True,
                     selection=None, rate_share=4)  # fmt: skip
    state.target_url = "http://127.0.0.1:9"
    clients = [state.client(), state.client()]
    readonly = state.readonly_client()
    assert readonly is not None
    try:
        assert all(client.limiter is state.limiter for client in [*clients, readonly])
        assert state.limiter.interval == pytest.approx(4 / 8.0)  # 8 a second for the run, 2 for each of 4 workers
    finally:
        for client in [*clients, readonly]:
            client.close()


def test_clients_of_one_process_keep_the_runs_rate_together(
    start_target: Callable[..., ReferenceServer],
) -> None:
    clock = FakeClock()
    server = start_target(Stamped(clock))
    settings = Settings(max_rps=4.0, readonly_api_key=Secret("ro:key"))
    state = _paced_state(settings, clock, server.url)
    readonly = state.readonly_client()
    assert readonly is not None
    clients = [state.client(), state.client(), state.client(), readonly]
    try:
        for _ in range(3):
            for client in clients:
                client.get_connector("absent")
    finally:
        for client in clients:
            client.close()
    stamps = [stamp for stamp, _, _ in server.target.stamps]
    assert len(stamps) == 12
    _each_request_took_its_own_slot(stamps, 0.25)


def test_racing_clients_warm_up_and_race_within_the_runs_rate(
    start_target: Callable[..., ReferenceServer],
) -> None:
    from pytest_connector_contract.checks.factory import ConnectorFactory
    from pytest_connector_contract.checks.preflight import identify
    from pytest_connector_contract.checks.race import race
    from pytest_connector_contract.checks.run import Run

    clock = FakeClock()
    server = start_target(Stamped(clock))
    settings = Settings(max_rps=4.0, race_rounds=2)
    state = _paced_state(settings, clock, server.url)
    client = state.client()
    try:
        target = identify(client, state.spec, profile=settings.profile, probe_id="ccontract-0000aaaa-probe")
        factory = ConnectorFactory(client, state.spec, id_prefix=state.id_prefix, ledger=state.ledger,
                                   soft_delete=target.soft_delete)  # fmt: skip
        check = next(c for c in state.spec.optional_checks if c.kind == "race")
        run = Run(check, spec=state.spec, target=target, client=client, factory=factory, settings=settings,
                  new_client=state.client)  # fmt: skip
        race(run)
        assert factory.cleanup() == []
    finally:
        client.close()
    assert run.race is not None
    assert run.race["rounds_run"] == 2
    warm_ups = [(t, p) for t, m, p in server.target.stamps if m == "GET" and p.startswith("/_connector/")]
    assert len(warm_ups) >= 2 * 2  # each racing client's read before each round, counted below
    stamps = [stamp for stamp, _, _ in server.target.stamps]
    _each_request_took_its_own_slot(stamps, 0.25)
