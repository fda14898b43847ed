"""Connectors the run creates: unique ids, safe creation, drive-to-status, and guaranteed deletion.

Safety rules (design brief): never PUT an id that exists (PUT overwrites), never touch a connector the run
did not create, delete everything the run created.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from pytest_connector_contract.client.api import ApiResponse, ConnectorClient, RunStopped, TargetUnreachable
from pytest_connector_contract.contract.ids import nth_id, owns
from pytest_connector_contract.contract.spec import Spec, transition_id

__all__ = [
    "CREATE_GRACE",
    "Connector",
    "ConnectorFactory",
    "ErrorEndpointMissing",
    "Ledger",
    "PreconditionFailed",
    "SetupError",
    "delete_for_good",
]

#: seconds clean-up keeps reading an id whose create was sent but never answered, and whose DELETE found
#: nothing, before it counts as gone: the create may still be applied after that DELETE
CREATE_GRACE = 2.0
#: seconds between those reads
_GRACE_POLL = 0.2


def delete_for_good(
    client: ConnectorClient, connector_id: str, soft_delete: bool | None
) -> tuple[ApiResponse, bool | None]:
    """Delete a connector so that nothing of it remains: with ``?hard=true`` where a plain DELETE only marks it
    deleted (``soft_delete``: 9.0+ and Serverless) and where the release is unknown (None), and then, when the
    target refuses ``hard`` as an unknown parameter (a release before 9.0), once more without it.

    The one way the factory, the preflight's probe and the sweep delete. Returns the answer, and
    ``soft_delete`` as now known: False once the target refused ``hard`` (so a caller learns it once)."""
    answer = client.delete_connector(connector_id, hard=soft_delete is not False, retry=True)
    if soft_delete is None and answer.status == 400 and "hard" in (answer.error_reason or ""):
        return client.delete_connector(connector_id, retry=True), False
    return answer, soft_delete


class SetupError(Exception):
    """The harness could not prepare what a check needs (not a verdict on the status API)."""


class ErrorEndpointMissing(SetupError):
    """The target refused ``PUT _connector/<id>/_error``, the setup endpoint that gives a connector an error text
    (not the API under test: a check that needs it does not apply)."""


class PreconditionFailed(SetupError):
    """A setup transition was not honoured, so the check that needed it is blocked by that transition."""

    def __init__(self, blocked_by: str, detail: str) -> None:
        super().__init__(f"blocked by {blocked_by}: {detail}")
        self.blocked_by = blocked_by
        self.detail = detail


@dataclass
class Connector:
    """A connector this run created; ``document`` is what GET returned once it reached ``status``, ``first`` what
    it returned before the status chain, where the factory read it then (after ``_error``)."""

    id: str
    status: str
    document: dict[str, Any] = field(default_factory=dict)
    first: dict[str, Any] | None = None


class Ledger:
    """Every id this process created and is not yet sure is gone again; shared by all factories of a session.

    For each id it knows whether the target answered its create: one that was sent and never answered (Ctrl-C
    while waiting, a timeout) may still be applied after the run's DELETE found nothing.
    """

    def __init__(self, numbers: Iterator[int] | None = None) -> None:
        self._lock = threading.Lock()
        #: id -> whether its create was answered
        self._live: dict[str, bool] = {}
        #: the numbers of the ids the factories make (one sequence per run and process; the run shares it
        #: between the target's ledger and the reference cluster's, so no two of its ids are the same)
        self.numbers = numbers if numbers is not None else itertools.count(1)

    def add(self, connector_id: str, *, answered: bool = True) -> None:
        """Own ``connector_id``; ``answered=False`` from before its create is sent until it is answered."""
        with self._lock:
            self._live[connector_id] = answered

    def answered(self, connector_id: str) -> None:
        """The target answered the create of ``connector_id``: nothing of it can land later."""
        with self._lock:
            if connector_id in self._live:
                self._live[connector_id] = True

    def unanswered(self, connector_id: str) -> bool:
        """Whether ``connector_id`` is held and its create was sent without an answer (it is in flight)."""
        with self._lock:
            return self._live.get(connector_id) is False

    def holds(self, connector_id: str) -> bool:
        with self._lock:
            return connector_id in self._live

    def discard(self, connector_id: str) -> None:
        with self._lock:
            self._live.pop(connector_id, None)

    def live(self) -> list[str]:
        with self._lock:
            return list(self._live)

    def abandon(self) -> list[str]:
        """Give up on every id still held (clean-up was interrupted): they are reported as possibly remaining
        and no factory tries, or waits for, them again. Returns them."""
        with self._lock:
            ids = list(self._live)
            self._live.clear()
            return ids


class ConnectorFactory:
    """Creates connectors under the run's id prefix and deletes them again.

    ``factory()`` returns a fresh connector in ``created``; ``factory(status="connected")`` reaches that
    status through valid ``_status`` transitions from ``created`` and raises :class:`PreconditionFailed`
    naming the transition that failed. ``error="text"`` gives the connector that error text through
    ``PUT _connector/<id>/_error`` first (8.15+ also sets status ``error`` there, so the chain then starts
    from the status the target shows); other keyword arguments are create-body fields.
    """

    def __init__(
        self,
        client: ConnectorClient,
        spec: Spec,
        *,
        id_prefix: str,
        ledger: Ledger,
        soft_delete: bool | None,
        keep: bool = False,
        create_grace: float = CREATE_GRACE,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.client = client
        self.spec = spec
        self.id_prefix = id_prefix
        self.ledger = ledger
        self.soft_delete = soft_delete
        self.keep = keep
        #: seconds to wait for a create that was never answered (see :data:`CREATE_GRACE`)
        self.create_grace = create_grace
        #: the time the wait for an unanswered create is measured on, and how it waits (injected in tests)
        self._clock = clock
        self._sleep = sleep
        self.created: list[str] = []

    def new_id(self) -> str:
        """An id under the run prefix that nothing has used yet in this process."""
        return nth_id(self.id_prefix, next(self.ledger.numbers))

    def unused_id(self) -> str:
        """An id under the run prefix that the target confirms does not exist (404)."""
        connector_id = self.new_id()
        answer = self._setup_request(self.client.get_connector, connector_id, retry=True)
        if answer.status != 404:
            raise SetupError(
                f"refusing to use id {connector_id!r}: GET answered {answer.summary()} instead of 404; "
                "another run may be using the same prefix"
            )
        return connector_id

    def __call__(self, status: str = "created", *, error: str | None = None, **fields: Any) -> Connector:
        return self.create(status=status, error=error, **fields)

    def create(self, status: str = "created", *, error: str | None = None, **fields: Any) -> Connector:
        if status not in self.spec.setup_paths:
            raise ValueError(f"unknown connector status {status!r}; one of {', '.join(self.spec.statuses)}")
        connector_id = self.unused_id()
        # Every version accepts this body: a JSON body (required before 8.15) and a valid, unique
        # index_name (required on 8.13). The index itself is never created by the API.
        body = {"index_name": connector_id, "name": connector_id, "is_native": False}
        body.update(fields)
        # Owned from before the PUT is sent, as unanswered: if the run is interrupted after the PUT was sent,
        # clean-up deletes it, and waits for it when the target has not applied it yet. The id was just
        # proven unused and carries the run's prefix, so a DELETE can only meet what this PUT created.
        self.created.append(connector_id)
        self.ledger.add(connector_id, answered=False)
        try:
            answer = self._setup_request(self.client.put_connector, connector_id, body, retry=True)
        except RunStopped as exc:
            if not exc.sent_before:  # the run stopped before the create was sent: nothing of it can land
                self._forget(connector_id)
            raise
        if answer.status in (200, 201) or answer.attempts == 1:
            # Created, or refused by the only attempt. A refusal after retries is not final: an earlier
            # attempt that got no answer may still be applied.
            self.ledger.answered(connector_id)
        # 200 after a retry: the first attempt created it and its answer was lost; the id is still ours.
        if not (answer.status == 201 or (answer.status == 200 and answer.attempts > 1)):
            raise SetupError(f"PUT _connector/{connector_id} answered {answer.summary()}, expected 201 created")
        current, path, first = "created", self.spec.setup_paths[status], None
        if error is not None:
            first = self._set_error(connector_id, error)
            current = str(first.get("status"))
            paths = {"created": self.spec.setup_paths, "error": self.spec.setup_paths_from_error}.get(current, {})
            if status not in paths:
                raise SetupError(
                    f"after PUT _connector/{connector_id}/_error the connector is in {current!r}: no path from "
                    f"there to {status!r}"
                )
            path = paths[status]
        for step in path:
            answer = self._setup_request(self.client.update_status, connector_id, step, retry=True)
            if answer.status != 200 and not (answer.attempts > 1 and self.read(connector_id).get("status") == step):
                raise PreconditionFailed(transition_id(current, step), f"answered {answer.summary()}")
            current = step
        document = self.read(connector_id)
        if document.get("status") != status:
            last = self.spec.setup_paths[status]
            cell = transition_id("created" if len(last) < 2 else last[-2], status) if last else None
            detail = f"GET shows status {document.get('status')!r} after setting {status!r}"
            if cell is None:
                raise SetupError(f"new connector {connector_id}: {detail}")
            raise PreconditionFailed(cell, detail)
        return Connector(id=connector_id, status=status, document=document, first=first)

    def _set_error(self, connector_id: str, error: str) -> dict[str, Any]:
        """``PUT _connector/<id>/_error``, then the connector as it reads (its status read, not assumed: 8.15+
        sets ``error``). A target without the endpoint makes the check that needs it not applicable."""
        answer = self._setup_request(self.client.update_error, connector_id, error, retry=True)
        if answer.status != 200:
            raise ErrorEndpointMissing(f"PUT _connector/{connector_id}/_error answered {answer.summary()}")
        return self.read(connector_id)

    def adopt(self, connector_id: str) -> None:
        """Take responsibility for a connector under the run prefix that the target created unasked."""
        if not owns(self.id_prefix, connector_id):
            raise ValueError(f"{connector_id!r} is not under this run's prefix: refusing to own it")
        if connector_id not in self.created:
            self.created.append(connector_id)
            self.ledger.add(connector_id)

    def read(self, connector_id: str) -> dict[str, Any]:
        answer = self._setup_request(self.client.get_connector, connector_id, retry=True)
        if answer.status != 200 or not isinstance(answer.json, dict):
            raise SetupError(f"GET _connector/{connector_id} answered {answer.summary()}")
        return answer.json

    def delete(self, connector_id: str) -> ApiResponse:
        """Remove a connector this run created, for good (hard delete where deletes are soft), and forget it
        once it is gone (200, or 404: already gone). A 404 for an id whose create got no answer counts only
        once the create could have landed: see :meth:`cleanup`."""
        if connector_id not in self.created:
            raise ValueError(f"{connector_id!r} was not created by this run: refusing to delete it")
        answer = self._delete_once(connector_id)
        if answer.status == 404 and self.ledger.unanswered(connector_id) and self._await_unanswered([connector_id]):
            return answer  # it may remain: it stays on the list for cleanup(), which reports it
        if answer.status in (200, 404):
            self._forget(connector_id)
        return answer

    def delete_now(self, connector_id: str) -> None:
        """Delete one connector as soon as a check is done with it (unless the run keeps what it creates);
        if the target refuses, the connector stays on the list for :meth:`cleanup`, which reports it."""
        if not self.keep:
            self.delete(connector_id)

    def cleanup(self) -> list[str]:
        """Delete everything this factory created; return a line per connector that could not be deleted.

        An id whose create was sent and never answered, and whose DELETE found nothing, is read again for up
        to :attr:`create_grace` seconds (all such ids together), and deleted if it appears: the target may
        apply that create after the DELETE. Ids the ledger no longer holds are gone, or were given up on by
        an interrupted clean-up that reported them: they are left alone.
        """
        problems: list[str] = []
        if self.keep:
            return problems
        unanswered: list[str] = []
        for connector_id in list(self.created):
            if not self.ledger.holds(connector_id):
                self.created.remove(connector_id)
                continue
            try:
                answer = self._delete_once(connector_id)
            except TargetUnreachable as exc:
                problems.append(f"{connector_id}: {exc}")
                continue
            if answer.status == 404 and self.ledger.unanswered(connector_id):
                unanswered.append(connector_id)
            elif answer.status in (200, 404):
                self._forget(connector_id)
            else:
                problems.append(f"{connector_id}: DELETE answered {answer.summary()}")
        waited = self._await_unanswered(unanswered)
        for connector_id in unanswered:
            if connector_id in waited:
                problems.append(f"{connector_id}: {waited[connector_id]}")
            else:
                self._forget(connector_id)
        self.created.clear()
        return problems

    def _delete_once(self, connector_id: str) -> ApiResponse:
        answer, self.soft_delete = delete_for_good(self.client, connector_id, self.soft_delete)
        return answer

    def _await_unanswered(self, connector_ids: list[str]) -> dict[str, str]:
        """Read ids whose create got no answer and whose DELETE found nothing until :attr:`create_grace` has
        passed, and delete each one that appears. Returns a problem for each id that may remain: one that
        appeared and could not be deleted, or whose last read was not a 404."""
        pending = list(connector_ids)
        problems: dict[str, str] = {}
        unsure: dict[str, str] = {}  # id -> why its last read did not show it missing
        deadline = self._clock() + self.create_grace
        while pending:
            for connector_id in list(pending):
                try:
                    answer = self.client.get_connector(connector_id)
                except TargetUnreachable as exc:
                    unsure[connector_id] = str(exc)
                    continue
                if answer.status == 404:
                    unsure.pop(connector_id, None)
                elif answer.status == 200:
                    # The create landed after the DELETE: delete it now (nothing more of it can land).
                    pending.remove(connector_id)
                    unsure.pop(connector_id, None)
                    self.ledger.answered(connector_id)
                    try:
                        deleted = self._delete_once(connector_id)
                    except TargetUnreachable as exc:
                        problems[connector_id] = f"appeared after its DELETE; deleting it again failed: {exc}"
                        continue
                    if deleted.status not in (200, 404):
                        problems[connector_id] = f"appeared after its DELETE; DELETE answered {deleted.summary()}"
                else:
                    unsure[connector_id] = f"GET answered {answer.summary()}"
            remaining = deadline - self._clock()
            if remaining <= 0:
                break
            self._sleep(min(_GRACE_POLL, remaining))
        for connector_id, why in unsure.items():
            problems[connector_id] = f"its create was never answered and reading it again failed: {why}"
        return problems

    def _forget(self, connector_id: str) -> None:
        self.ledger.discard(connector_id)
        if connector_id in self.created:
            self.created.remove(connector_id)

    def _setup_request(self, method: Any, *args: Any, **kwargs: Any) -> ApiResponse:
        try:
            answer: ApiResponse = method(*args, **kwargs)
        except RunStopped:
            raise
        except TargetUnreachable as exc:
            raise SetupError(str(exc)) from None
        return answer
