"""Connectors the run creates: unique ids, safe creation, drive-to-status, and guaranteed deletion.

Safety rules (design brief): never PUT an id that exists (PUT overwrites), never touch a connector the run
did not create, delete everything the run created.
"""

from __future__ import annotations

import itertools
import threading
from dataclasses import dataclass, field
from typing import Any

from pytest_connector_contract.client.connector import ApiResponse, ConnectorClient, TargetUnreachable
from pytest_connector_contract.contract.spec import Spec, transition_id

__all__ = ["Connector", "ConnectorFactory", "Ledger", "PreconditionFailed", "SetupError"]


class SetupError(Exception):
    """The harness could not prepare what a check needs (not a verdict on the status API)."""


class PreconditionFailed(SetupError):
    """A setup transition was not honoured, so the check that needed it is blocked by that transition."""

    def __init__(self, blocked_by: str, detail: str) -> None:
        super().__init__(f"blocked by {blocked_by}: {detail}")
        self.blocked_by = blocked_by
        self.detail = detail


@dataclass
class Connector:
    """A connector this run created; ``document`` is what GET returned once it reached ``status``."""

    id: str
    status: str
    document: dict[str, Any] = field(default_factory=dict)


class Ledger:
    """Every id this process created and whether it is gone again; shared by all factories of a session."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._live: dict[str, None] = {}

    def add(self, connector_id: str) -> None:
        with self._lock:
            self._live[connector_id] = None

    def discard(self, connector_id: str) -> None:
        with self._lock:
            self._live.pop(connector_id, None)

    def live(self) -> list[str]:
        with self._lock:
            return list(self._live)


class ConnectorFactory:
    """Creates connectors under the run's id prefix and deletes them again.

    ``factory()`` returns a fresh connector in ``created``; ``factory(status="connected")`` reaches that
    status through valid ``_status`` transitions from ``created`` and raises :class:`PreconditionFailed`
    naming the transition that failed.
    """

    _counter = itertools.count(1)

    def __init__(
        self,
        client: ConnectorClient,
        spec: Spec,
        *,
        id_prefix: str,
        ledger: Ledger,
        soft_delete: bool | None,
        keep: bool = False,
    ) -> None:
        self.client = client
        self.spec = spec
        self.id_prefix = id_prefix
        self.ledger = ledger
        self.soft_delete = soft_delete
        self.keep = keep
        self.created: list[str] = []

    def new_id(self) -> str:
        """An id under the run prefix that nothing has used yet in this process."""
        return f"{self.id_prefix}-{next(self._counter)}"

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

    def __call__(self, status: str = "created", **fields: Any) -> Connector:
        return self.create(status=status, **fields)

    def create(self, status: str = "created", **fields: Any) -> Connector:
        if status not in self.spec.setup_paths:
            raise ValueError(f"unknown connector status {status!r}; one of {', '.join(self.spec.statuses)}")
        connector_id = self.unused_id()
        # Every version accepts this body: a JSON body (required before 8.15) and a valid, unique
        # index_name (required on 8.13). The index itself is never created by the API.
        body = {"index_name": connector_id, "name": connector_id, "is_native": False}
        body.update(fields)
        # Owned from before the PUT is sent: if the run is interrupted after the target created it but
        # before the answer arrived, clean-up still deletes it. The id was just proven unused and carries
        # the run's prefix, so a DELETE can only meet what this PUT created (or answer 404).
        self.created.append(connector_id)
        self.ledger.add(connector_id)
        answer = self._setup_request(self.client.put_connector, connector_id, body, retry=True)
        # 200 after a retry: the first attempt created it and its answer was lost; the id is still ours.
        if not (answer.status == 201 or (answer.status == 200 and answer.attempts > 1)):
            raise SetupError(f"PUT _connector/{connector_id} answered {answer.summary()}, expected 201 created")
        current = "created"
        for step in self.spec.setup_paths[status]:
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
        return Connector(id=connector_id, status=status, document=document)

    def adopt(self, connector_id: str) -> None:
        """Take responsibility for a connector under the run prefix that the target created unasked."""
        if not connector_id.startswith(f"{self.id_prefix}-"):
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
        once it is gone (200, or 404: already gone)."""
        if connector_id not in self.created:
            raise ValueError(f"{connector_id!r} was not created by this run: refusing to delete it")
        hard = self.soft_delete is not False
        answer = self.client.delete_connector(connector_id, hard=hard, retry=True)
        if self.soft_delete is None and answer.status == 400 and "hard" in (answer.error_reason or ""):
            # Version unknown and `hard` is not understood: the target's delete is a hard one.
            self.soft_delete = False
            answer = self.client.delete_connector(connector_id, retry=True)
        if answer.status in (200, 404):
            self.ledger.discard(connector_id)
            self.created.remove(connector_id)
        return answer

    def delete_now(self, connector_id: str) -> None:
        """Delete one connector as soon as a check is done with it (unless the run keeps what it creates);
        if the target refuses, the connector stays on the list for :meth:`cleanup`, which reports it."""
        if not self.keep:
            self.delete(connector_id)

    def cleanup(self) -> list[str]:
        """Delete everything this factory created; return a line per connector that could not be deleted."""
        problems: list[str] = []
        if self.keep:
            return problems
        for connector_id in list(self.created):
            try:
                answer = self.delete(connector_id)
            except TargetUnreachable as exc:
                problems.append(f"{connector_id}: {exc}")
                continue
            if answer.status not in (200, 404):
                problems.append(f"{connector_id}: DELETE answered {answer.summary()}")
        self.created.clear()
        return problems

    def _setup_request(self, method: Any, *args: Any, **kwargs: Any) -> ApiResponse:
        try:
            answer: ApiResponse = method(*args, **kwargs)
        except TargetUnreachable as exc:
            raise SetupError(str(exc)) from None
        return answer
