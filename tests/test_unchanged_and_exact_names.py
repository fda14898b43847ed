"""What a status update leaves alone, names matched exactly, every method, and strict results (issue 19, section 3).

The checks themselves are proven by their mutants (tests/mutants.py); these tests pin what the mutants cannot:
the safety of the other-case id, the connector the ``unchanged`` checks build on each release, and the answers
that must stay tolerant (a target without ``_error``, an OPTIONS answer that did not come from Elasticsearch).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from pytest_connector_contract.checks.factory import ConnectorFactory, ErrorEndpointMissing, Ledger
from pytest_connector_contract.client.api import ConnectorClient
from pytest_connector_contract.contract.ids import (
    RUN_ID,
    is_run_connector_id,
    new_run_prefix,
    nth_id,
    other_case,
    owns,
)
from pytest_connector_contract.contract.spec import expect_transition, load_spec
from pytest_connector_contract.reference.endpoints import ReferenceTarget
from pytest_connector_contract.reference.messages import Request, Response
from pytest_connector_contract.reference.rest import Route
from pytest_connector_contract.reference.server import ReferenceServer

SPEC = load_spec()


def test_the_other_case_id_is_never_one_sweep_deletes_but_reads_as_a_run_id_in_text() -> None:
    prefix = new_run_prefix("ccontract")
    connector_id = nth_id(prefix, 7)
    upper = other_case(connector_id)
    assert upper == connector_id.upper() != connector_id
    assert is_run_connector_id(connector_id, "ccontract")
    assert not is_run_connector_id(upper, "ccontract")  # never created, so never swept
    assert not is_run_connector_id(upper, prefix)
    assert RUN_ID.fullmatch(upper)  # reports number it like any other id of the run
    # a faulty target that created it from the run's own update leaves it to the run to delete
    assert owns(prefix, upper)
    assert not owns(prefix, upper.replace("CCONTRACT", "OTHER"))
    assert not owns(prefix, connector_id.replace("ccontract", "CContract"))
    assert other_case("0123-4567") is None


@pytest.mark.parametrize("current", ["configured", "connected", "error"])
def test_strict_results_require_noop_for_a_valid_self_transition_only(current: str) -> None:
    profile = SPEC.profiles[SPEC.newest_profile]
    assert expect_transition(SPEC, profile, current, current).results == ("noop", "updated")
    assert expect_transition(SPEC, profile, current, current, strict_results=True).results == ("noop",)
    other = "configured" if current != "configured" else "connected"
    assert expect_transition(SPEC, profile, current, other, strict_results=True).results == ("updated",)


@pytest.fixture
def factory_on() -> Iterator[Callable[[ReferenceTarget], tuple[ReferenceTarget, ConnectorFactory]]]:
    started: list[tuple[ReferenceServer, ConnectorClient, ConnectorFactory]] = []

    def start(target: ReferenceTarget) -> tuple[ReferenceTarget, ConnectorFactory]:
        server = ReferenceServer(target)
        server.start()
        client = ConnectorClient(server.url, timeout=5)
        factory = ConnectorFactory(client, SPEC, id_prefix="kept", ledger=Ledger(), soft_delete=target.soft_delete)
        started.append((server, client, factory))
        return target, factory

    yield start
    for server, client, factory in started:
        assert factory.cleanup() == []
        assert not server.target.connectors
        client.close()
        server.stop()


@pytest.mark.parametrize(("release", "after_error"), [("8.13.4", "created"), ("8.15.0", "error"), ("9.1.0", "error")])
def test_the_error_text_is_set_first_and_the_chain_starts_where_it_left_the_connector(
    factory_on: Callable[[ReferenceTarget], tuple[ReferenceTarget, ConnectorFactory]], release: str, after_error: str
) -> None:
    section = SPEC.raw["unchanged"]
    target, factory = factory_on(ReferenceTarget(release))
    connector = factory(status="configured", error=section["error_text"], **section["fields"])
    assert connector.first is not None
    assert connector.first["status"] == after_error
    assert connector.document["status"] == "configured"
    for key, value in {"error": section["error_text"], **section["fields"]}.items():
        assert connector.document[key] == value
    assert "service_type" not in section["fields"]
    assert "is_native" not in section["fields"]
    assert target.connectors[connector.id]["is_native"] is False


class _WithoutErrorEndpoint(ReferenceTarget):
    """A test double that serves _status but not _error."""

    def routes(self) -> list[Route]:
        return [route for route in super().routes() if not route.pattern.endswith("/_error")]


def test_a_target_without_error_endpoint_leaves_the_unchanged_checks_not_applicable(
    factory_on: Callable[[ReferenceTarget], tuple[ReferenceTarget, ConnectorFactory]],
    start_target: Callable[..., ReferenceServer],
    run_suite: Callable[..., Any],
) -> None:
    _, factory = factory_on(_WithoutErrorEndpoint())
    with pytest.raises(ErrorEndpointMissing):
        factory(status="configured", error="x")
    # with one check that runs: a run in which no check executed is never green
    run = run_suite(start_target(_WithoutErrorEndpoint()).url, "-k", "unchanged or unknown-value")
    assert run.ret == 0, run.result.stdout.str()
    for case in ("accepted", "refused"):
        check = run.check(f"unchanged[{case}]")
        assert check["outcome"] == "skipped"
        assert "cannot give the connector an error text" in check["message"]


class _OptionsAnsweredInFront(ReferenceTarget):
    """OPTIONS answered 404 by something in front of Elasticsearch: no X-Elastic-Product on that answer."""

    def dispatch(self, request: Request) -> Response:
        if request.method == "OPTIONS":
            return Response(404, {"Content-Type": "text/html"}, b"")
        return super().dispatch(request)

    def finish(self, request: Request, response: Response) -> Response:
        answer = super().finish(request, response)
        if request.method == "OPTIONS":
            answer.headers.pop("X-elastic-product", None)
        return answer


def test_an_options_answer_that_did_not_come_from_elasticsearch_is_advisory(
    start_target: Callable[..., ReferenceServer], run_suite: Callable[..., Any]
) -> None:
    run = run_suite(start_target(_OptionsAnsweredInFront()).url, "-k", "method-options or unknown-value")
    assert run.ret == 0, run.result.stdout.str()
    check = run.check("validation[method-options]")
    assert check["outcome"] == "skipped"
    assert check["message"].startswith("advisory: the answer lacks X-Elastic-Product")
    assert "expected HTTP 200, got HTTP 404" in check["message"]
