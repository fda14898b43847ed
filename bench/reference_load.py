"""The reference target under load: concurrent clients, each on its own keep-alive ``http.client`` connection
(this section measures the target, not the suite's transport), with every answer checked against the
transition table of the profile the target runs; then race rounds, where clients of a group send conflicting
transitions for one connector at once and some order of them must explain every answer."""

from __future__ import annotations

import http.client
import itertools
import json
import random
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

from measuring import connection, serve, stats

from pytest_connector_contract.checks.factory import ConnectorFactory, Ledger, SetupError
from pytest_connector_contract.checks.preflight import identify
from pytest_connector_contract.client.api import ConnectorClient
from pytest_connector_contract.contract.spec import Spec, load_spec

#: the prefix of the ids of every connector the load test creates, on a target it started for itself
ID_PREFIX = "bench"


class Model:
    """What the target must answer to a status update, by the transition table of ``profile``."""

    def __init__(self, spec: Spec, profile: str) -> None:
        self.profile = spec.profiles[profile]
        self.statuses = list(spec.statuses)
        #: the answers to an accepted and a refused transition, as the checks read them from spec.json
        self.answers = spec.raw["transition"]

    def allows(self, current: str, requested: str) -> bool:
        return self.profile.allows(current, requested)

    def expected_http(self, current: str, requested: str) -> int:
        """The status code of the answer to ``current -> requested``: the profile's transition table
        (``Profile.allows``) and the spec's accepted and refused answers, the pieces ``checks/kinds.py``
        and ``checks/explore.py`` build their expectations from."""
        return int(self.answers["accepted" if self.allows(current, requested) else "refused"]["http"])

    def explains(self, start: str, racers: Sequence[tuple[str, int]], final: str) -> bool:
        """Whether some order of the racing requests, each applied atomically to the then-current
        status, gives exactly the answers seen and the final status read back."""
        for order in itertools.permutations(racers):
            current = start
            for requested, code in order:
                if code != self.expected_http(current, requested):
                    break
                if self.allows(current, requested):
                    current = requested
            else:
                if current == final:
                    return True
        return False


def _factory(url: str, spec: Spec, soft_delete: bool | None, ledger: Ledger) -> ConnectorFactory:
    """The suite's own connector factory (its ids, its create, its setup paths) over a client of ``url``; every
    factory of one load level shares ``ledger``, whose numbers keep their ids apart, as a run's do."""
    client = ConnectorClient(url, timeout=30, trust_env=False)
    return ConnectorFactory(client, spec, id_prefix=ID_PREFIX, ledger=ledger, soft_delete=soft_delete)


class LoadClient:
    """One client of the load test: its own keep-alive connection and its own connectors."""

    def __init__(self, url: str, new_id: Callable[[], str], model: Model, seed: int) -> None:
        self.conn = connection(url)
        self.new_id = new_id
        self.model = model
        self.rng = random.Random(seed)
        self.owned: dict[str, str] = {}  # id -> status the model predicts
        self.latencies: list[float] = []
        self.problems: list[str] = []

    def call(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        payload = None if body is None else json.dumps(body).encode()
        headers = {"Content-Type": "application/json"} if payload is not None else {}
        start = time.perf_counter()
        try:
            self.conn.request(method, path, body=payload, headers=headers)
            answer = self.conn.getresponse()
            data = answer.read()
        except (OSError, http.client.HTTPException) as exc:
            self.problems.append(f"{method} {path}: {type(exc).__name__}: {exc}")
            return 0, None
        self.latencies.append(time.perf_counter() - start)
        try:
            decoded = json.loads(data) if data else None
        except ValueError:
            decoded = None
        if answer.status >= 500:
            self.problems.append(f"{method} {path}: HTTP {answer.status} {data[:200]!r}")
        return answer.status, decoded

    def status_of(self, cid: str) -> tuple[int, Any]:
        """GET the connector: (HTTP status, the status it shows or None)."""
        code, body = self.call("GET", f"/_connector/{cid}")
        return code, body.get("status") if isinstance(body, dict) else None

    def update(self, cid: str, requested: str) -> int:
        return self.call("PUT", f"/_connector/{cid}/_status", {"status": requested})[0]

    def create(self) -> None:
        cid = self.new_id()
        status, _ = self.call("PUT", f"/_connector/{cid}", {"index_name": cid, "name": cid, "is_native": False})
        if status != 201:
            self.problems.append(f"create {cid}: HTTP {status}, expected 201")
            return
        self.owned[cid] = "created"

    def read(self) -> None:
        cid = self.rng.choice(list(self.owned))
        status, seen = self.status_of(cid)
        if status != 200 or seen != self.owned[cid]:
            self.problems.append(f"read {cid}: HTTP {status} status {seen!r}, model says {self.owned[cid]!r}")

    def transition(self) -> None:
        cid = self.rng.choice(list(self.owned))
        current = self.owned[cid]
        allowed = [s for s in self.model.statuses if self.model.allows(current, s)]
        requested = self.rng.choice(allowed if allowed and self.rng.random() < 0.75 else self.model.statuses)
        status = self.update(cid, requested)
        expected = self.model.expected_http(current, requested)
        if status != expected:
            self.problems.append(f"{cid}: {current}->{requested} answered HTTP {status}, model says {expected}")
        elif self.model.allows(current, requested):
            self.owned[cid] = requested

    def mixed(self, ops: int) -> None:
        self.create()
        for _ in range(ops - 1):
            draw = self.rng.random()
            if draw < 0.2 or not self.owned:
                self.create()
            elif draw < 0.6:
                self.read()
            else:
                self.transition()

    def verify(self) -> None:
        for cid, expected in self.owned.items():
            status, seen = self.status_of(cid)
            if status != 200 or seen != expected:
                self.problems.append(f"final {cid}: HTTP {status} status {seen!r}, model says {expected!r}")

    def close(self) -> None:
        self.conn.close()


def race(
    clients: Sequence[LoadClient], factory: ConnectorFactory, rounds: int, barrier: threading.Barrier, out: list[str]
) -> None:
    """``len(clients)`` clients race conflicting transitions on one connector, ``rounds`` times.

    Each round starts on a new connector that the suite's own factory drove to ``configured``; half the
    racers ask for ``needs_configuration`` and half for ``connected``: whichever is applied first makes every
    other one invalid (neither status may follow the other), so two acceptances mean a transition was
    accepted from a status that was no longer current.
    """
    leader, model = clients[0], clients[0].model
    start = "configured"
    results: list[tuple[str, int] | None] = [None] * len(clients)
    current: list[str | None] = [None]  # the round's connector; None when it could not be set up

    def contend(index: int, client: LoadClient) -> None:
        cid = current[0]
        requested = ("needs_configuration", "connected")[index % 2]
        results[index] = None if cid is None else (requested, client.update(cid, requested))

    def racer(index: int, client: LoadClient) -> None:
        for _ in range(rounds):
            barrier.wait()
            contend(index, client)
            barrier.wait()  # the leader checks the round
            barrier.wait()

    threads = [threading.Thread(target=racer, args=(i, c)) for i, c in enumerate(clients[1:], 1)]
    for thread in threads:
        thread.start()
    try:
        for _ in range(rounds):
            try:
                current[0] = factory(status=start).id
            except SetupError as exc:
                current[0] = None
                out.append(f"race: a connector in {start!r}: {exc}")
            barrier.wait()
            contend(0, leader)
            barrier.wait()
            cid = current[0]
            if cid is not None:
                _, final = leader.status_of(cid)
                seen = [r for r in results if r is not None]
                if final is None or not model.explains(start, seen, final):
                    out.append(
                        f"race {cid}: from {start}, answers {seen} and final status {final!r}: no order explains them"
                    )
            barrier.wait()
    finally:
        for thread in threads:
            thread.join()
        factory.client.close()


def load_level(url: str, clients: int, ops: int, race_rounds: int, seed: int = 0) -> dict[str, Any]:
    """``clients`` concurrent clients: a mixed phase (creates, reads, status updates on their own
    connectors, every answer checked against the model), then race rounds on shared connectors.

    The model is the profile the suite's preflight finds for the target (``checks/preflight.py``)."""
    spec = load_spec()
    ledger = Ledger()
    ids = _factory(url, spec, None, ledger)
    try:
        target = identify(ids.client, spec, profile="auto", probe_id=ids.new_id())
    finally:
        ids.client.close()
    model = Model(spec, target.profile)
    pool = [LoadClient(url, ids.new_id, model, seed * 1000 + n) for n in range(clients)]
    try:
        threads = [threading.Thread(target=c.mixed, args=(ops,)) for c in pool]
        start = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        elapsed = time.perf_counter() - start
        latencies = sorted(x for c in pool for x in c.latencies)
        for c in pool:
            c.verify()
        race_problems: list[str] = []
        groups = [pool[i : i + 4] for i in range(0, len(pool) - 1, 4)] if clients > 1 else []
        groups = [g for g in groups if len(g) > 1]
        race_threads = [
            threading.Thread(
                target=race,
                args=(
                    g,
                    _factory(url, spec, target.soft_delete, ledger),
                    race_rounds,
                    threading.Barrier(len(g), timeout=60),
                    race_problems,
                ),
            )
            for g in groups
        ]
        for thread in race_threads:
            thread.start()
        for thread in race_threads:
            thread.join()
        problems = [p for c in pool for p in c.problems] + race_problems
    finally:
        for c in pool:
            c.close()

    def pct(q: float) -> float:
        return round(latencies[min(len(latencies) - 1, int(q * len(latencies)))] * 1000, 3) if latencies else 0.0

    return {
        "clients": clients,
        "requests": len(latencies),
        "seconds": round(elapsed, 4),
        "rps": round(len(latencies) / elapsed, 1) if elapsed else 0.0,
        "latency_ms": {"p50": pct(0.5), "p90": pct(0.9), "p99": pct(0.99), "max": pct(1.0)},
        "connectors": sum(len(c.owned) for c in pool),
        "race_groups": len(groups),
        "race_rounds": race_rounds * len(groups),
        "errors": len(problems),
        "problems": problems[:20],
    }


def bench_load(repeats: int, levels: Sequence[int], ops: int, race_rounds: int) -> dict[str, Any]:
    results: dict[str, Any] = {}
    for clients in levels:
        runs = []
        for n in range(repeats):
            with serve() as url:
                runs.append(load_level(url, clients, max(2, ops // clients), race_rounds, seed=n))
        results[str(clients)] = {
            "clients": clients,
            "requests": runs[0]["requests"],
            "rps": stats([r["rps"] for r in runs], 1),
            "latency_ms": {q: stats([r["latency_ms"][q] for r in runs], 3) for q in ("p50", "p90", "p99", "max")},
            "race_rounds": sum(r["race_rounds"] for r in runs),
            "errors": sum(r["errors"] for r in runs),
            "problems": [p for r in runs for p in r["problems"]][:20],
        }
    return {"operations_per_level": ops, "mix": {"create": 0.2, "read": 0.4, "status update": 0.4}, "levels": results}
