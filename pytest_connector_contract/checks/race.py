"""Racing clients: conflicting ``_status`` requests for one connector sent at the same moment.

Connector services and Kibana update one connector concurrently (a sync sets ``connected`` while an error
handler sets ``error``). Elasticsearch's ``_status`` reads the connector, checks the transition and writes a
partial document, without a version check of its own. So what it promises under overlap is modest, and that
is all a ``race[...]`` check asserts, round after round on a fresh connector:

- every answer is 200, a 400 ``status_exception`` (the other request changed the status first) or a 409
  ``version_conflict_engine_exception`` (the update's internal optimistic write lost); never a 5xx;
- at least one request is accepted;
- GET afterwards shows the status of an accepted request, and every other field is intact.

That exactly one request wins is *not* asserted: both may be accepted, one after the other.

Each racing request goes out on its own client (its own keep-alive connection, its own evidence record),
from its own thread; a ``threading.Barrier`` releases them together.
"""

from __future__ import annotations

import threading
from typing import Any

from pytest_connector_contract.checks.factory import SetupError
from pytest_connector_contract.checks.run import Run, changed_fields
from pytest_connector_contract.client.api import ApiResponse, ConnectorClient, TargetUnreachable

__all__ = ["race"]

#: seconds the racing threads wait for each other at the barrier before the round is abandoned
_BARRIER_TIMEOUT = 30.0


def race(run: Run) -> None:
    params = run.check.params
    source: str = params["from"]
    targets: list[str] = list(params["to"])
    rounds = run.settings.race_rounds
    expect = run.spec.raw["race"]["expect"]
    allowed = {expect[kind]["http"]: expect[kind].get("error_type") for kind in ("accepted", "refused", "conflict")}
    run.expected = (
        f"{rounds} rounds: every answer 200, 400 {expect['refused']['error_type']} or 409 "
        f"{expect['conflict']['error_type']}; at least one accepted; GET shows an accepted status; "
        "other fields intact"
    )
    if run.new_client is None:  # pragma: no cover - the plugin always provides one
        raise SetupError("racing needs a client factory")
    evidence: dict[str, Any] = {"from": source, "to": targets, "rounds_planned": rounds, "rounds": []}
    run.race = evidence
    # The racing clients share the run's limiter with every other client: their warm-up reads are paced
    # like any request, and each round waits for one slot per racing request before releasing them
    # together (``paced=False``), so the round counts against --connector-max-rps in full.
    clients = [run.new_client() for _ in targets]
    failing_exchanges: list[Any] | None = None
    try:
        for number in range(1, rounds + 1):
            run.client.start_recording()
            connector = run.factory(status=source)
            problems, record, exchanges = _round(clients, connector.id, targets, allowed, run, number)
            after = run.read(connector.id)
            record["read"] = after.get("status")
            accepted = [targets[i] for i, answer in enumerate(record["answers"]) if answer["http"] == 200]
            if not accepted and not problems:
                problems.append("no request was accepted")
            if accepted and after.get("status") not in accepted:
                problems.append(
                    f"GET shows status {after.get('status')!r}, which no accepted request asked for "
                    f"(accepted: {', '.join(accepted)})"
                )
            before = connector.document
            problems.extend(changed_fields(before, after, ignore=frozenset({"status"})))
            record["problems"] = problems
            evidence["rounds"].append(record)
            _delete(run, connector.id)
            if problems:
                failing_exchanges = [*exchanges, *run.client.exchanges]
                run.problems.extend(f"round {number} of {rounds}: {problem}" for problem in problems)
                break
    finally:
        for client in clients:
            client.close()
    if failing_exchanges is not None:
        run.client.exchanges = failing_exchanges
    run.observed = "; ".join(
        f"round {r['round']}: "
        + ", ".join(f"{a['status']} -> HTTP {a['http']}" for a in r["answers"])
        + f", GET {r['read']!r}"
        for r in evidence["rounds"][-1:]
    )
    evidence["rounds_run"] = len(evidence["rounds"])
    run.finish()


def _round(
    clients: list[ConnectorClient],
    connector_id: str,
    targets: list[str],
    allowed: dict[int, str | None],
    run: Run,
    number: int,
) -> tuple[list[str], dict[str, Any], list[Any]]:
    """Send ``targets[i]`` from ``clients[i]``, all released at once; judge each answer on its own."""
    for client in clients:
        client.start_recording()
        try:
            client.get_connector(connector_id, retry=True)  # opens the connection before the start signal
        except TargetUnreachable as exc:
            raise SetupError(str(exc)) from None
    for client in clients:
        client.limiter.wait()  # the racing request's slot, taken now so that they all leave at once
    barrier = threading.Barrier(len(clients), timeout=_BARRIER_TIMEOUT)
    answers: list[ApiResponse | None] = [None] * len(clients)
    failures: list[str | None] = [None] * len(clients)

    def send(index: int) -> None:
        try:
            barrier.wait()
        except threading.BrokenBarrierError:
            failures[index] = "the racing threads did not start together"
            return
        try:
            answers[index] = clients[index].update_status(connector_id, targets[index], paced=False)
        except TargetUnreachable as exc:
            failures[index] = f"no answer: {exc}"

    threads = [threading.Thread(target=send, args=(i,), name=f"connector-race-{i}") for i in range(len(clients))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    problems: list[str] = []
    record: dict[str, Any] = {"round": number, "connector": connector_id, "answers": []}
    for index, answer in enumerate(answers):
        status = targets[index]
        if failures[index] is not None or answer is None:
            if "did not start together" in (failures[index] or ""):
                raise SetupError(failures[index])
            problems.append(f"PUT _status {status!r}: {failures[index]}")
            record["answers"].append({"status": status, "http": None, "result": None, "error_type": None})
            continue
        result = answer.json.get("result") if isinstance(answer.json, dict) else None
        record["answers"].append(
            {"status": status, "http": answer.status, "result": result, "error_type": answer.error_type}
        )
        if answer.status not in allowed:
            problems.append(f"PUT _status {status!r} answered {answer.summary()}, expected 200, 400 or 409")
        elif allowed[answer.status] is not None and answer.error_type != allowed[answer.status]:
            problems.append(
                f"PUT _status {status!r} answered HTTP {answer.status} with error.type {answer.error_type!r}, "
                f"expected {allowed[answer.status]!r}"
            )
    exchanges = [exchange for client in clients for exchange in client.exchanges]
    return problems, record, exchanges


def _delete(run: Run, connector_id: str) -> None:
    """Delete a round's connector at once, so that a long race leaves no crowd behind."""
    try:
        run.factory.delete_now(connector_id)
    except TargetUnreachable:
        return  # the factory's cleanup tries again
