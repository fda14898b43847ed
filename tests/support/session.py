"""A keep-alive HTTP session bound to one running reference server, with the calls the reference's tests
repeat (``tests/test_reference.py``, ``tests/test_reference_clients.py``)."""

from __future__ import annotations

import http.client
import uuid
from typing import Any

import requests

from pytest_connector_contract.contract.spec import load_spec
from pytest_connector_contract.reference.server import ReferenceServer

SPEC = load_spec()


def new_id() -> str:
    """A connector id no test has used."""
    return f"t-{uuid.uuid4().hex[:12]}"


class ReferenceSession:
    """``requests`` against ``server``, one keep-alive connection; :meth:`raw` for what requests cannot send."""

    def __init__(self, server: ReferenceServer) -> None:
        self.server = server
        self.url = server.url
        self.session = requests.Session()

    def request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        return self.session.request(method, self.url + path, **kwargs)

    def create(self, connector_id: str | None = None, **fields: Any) -> str:
        """Create a connector (a new id unless one is given) and return its id. A new id must be answered 201
        (created); a given one may already exist, and be answered 200 (updated)."""
        expected = (201,) if connector_id is None else (200, 201)
        connector_id = connector_id or new_id()
        body = {"index_name": f"idx-{connector_id.lower()}", "name": connector_id, **fields}
        response = self.request("PUT", f"/_connector/{connector_id}", json=body)
        assert response.status_code in expected, response.text
        return connector_id

    def put_status(self, connector_id: str, status: Any, **kwargs: Any) -> requests.Response:
        """``PUT _connector/<id>/_status`` with ``{"status": status}`` as JSON."""
        return self.request("PUT", f"/_connector/{connector_id}/_status", json={"status": status}, **kwargs)

    def status(self, connector_id: str, body: bytes, **headers: str) -> requests.Response:
        """``PUT _connector/<id>/_status`` with ``body`` and ``headers`` exactly as given."""
        return self.request("PUT", f"/_connector/{connector_id}/_status", data=body, headers=headers)

    def get(self, connector_id: str) -> dict[str, Any]:
        response = self.request("GET", f"/_connector/{connector_id}")
        assert response.status_code == 200, response.text
        document: dict[str, Any] = response.json()
        return document

    def status_of(self, connector_id: str) -> str:
        return str(self.get(connector_id)["status"])

    def drive(self, connector_id: str, status: str) -> None:
        """Take a created connector to ``status`` along the spec's setup path."""
        for step in SPEC.setup_paths[status]:
            response = self.put_status(connector_id, step)
            assert response.status_code == 200, response.text

    def raw(self, method: str, path: str, headers: list[tuple[str, str]], body: bytes = b"") -> tuple[int, Any, bytes]:
        """One request with repeated headers as given (requests folds them into one)."""
        connection = http.client.HTTPConnection(self.server.host, self.server.port, timeout=10)
        try:
            connection.putrequest(method, path, skip_accept_encoding=True)
            for name, value in headers:
                connection.putheader(name, value)
            connection.putheader("Content-Length", str(len(body)))
            connection.endheaders(body)
            response = connection.getresponse()
            return response.status, response.headers, response.read()
        finally:
            connection.close()

    def close(self) -> None:
        self.session.close()
