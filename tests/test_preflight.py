"""The preflight removes a probe connector that a deviant target created, in the one way the run deletes.

Real requests over real HTTP against the reference target's upsert mutant."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from support.mutants import StatusUpsertsMissing

from pytest_connector_contract.checks.preflight import identify
from pytest_connector_contract.client.api import ConnectorClient
from pytest_connector_contract.contract.spec import load_spec
from pytest_connector_contract.reference.messages import Request, Response
from pytest_connector_contract.reference.server import ReferenceServer

PROBE = "ccontract-0000aaaa-probe"


class _Upserts(StatusUpsertsMissing):
    """Creates the probe when its _status is updated; records every DELETE; ``versionless``: GET / without a
    version number (credentials without ``monitor`` see no version either)."""

    def __init__(self, version: str, *, versionless: bool = False) -> None:
        super().__init__(version)
        self.versionless = versionless
        self.deletes: list[tuple[str, int]] = []

    def finish(self, request: Request, response: Response) -> Response:
        if request.method == "DELETE":
            self.deletes.append((request.uri, response.status))
        return super().finish(request, response)

    def info(self) -> dict[str, Any]:
        data = super().info()
        if self.versionless:
            del data["version"]["number"]
        return data


@pytest.mark.parametrize(
    ("version", "versionless", "profile", "deletes"),
    [
        # soft deletes: ?hard=true removes it for good
        ("9.1.0", False, "auto", [(f"/_connector/{PROBE}?hard=true", 200)]),
        # no soft deletes: a plain DELETE removes it
        ("8.13.4", False, "auto", [(f"/_connector/{PROBE}", 200)]),
        # release unknown: ?hard=true first, and without it once the release refuses the parameter
        ("8.13.4", True, "8.13", [(f"/_connector/{PROBE}?hard=true", 400), (f"/_connector/{PROBE}", 200)]),
    ],
)
def test_a_probe_the_target_created_is_deleted_for_good(
    start_target: Callable[..., ReferenceServer],
    version: str,
    versionless: bool,
    profile: str,
    deletes: list[tuple[str, int]],
) -> None:
    target = _Upserts(version, versionless=versionless)
    server = start_target(target)
    client = ConnectorClient(server.url, timeout=5.0)
    try:
        info = identify(client, load_spec(), profile=profile, probe_id=PROBE)
    finally:
        client.close()
    assert info.profile == ("8.13" if version.startswith("8.13") else "8.15")
    assert target.deletes == deletes
    assert target.connectors == {}
