"""The official Python client itself against the target (issue 19, section 2): ``official_client[...]``.

Run the way users run the suite, in a subprocess against real reference servers: the installed client (the
development extras install ``elasticsearch`` 9.x, as the ``clients`` extra does) passes against every release
it supports, is skipped with the reason where the release refuses its major, is skipped saying how to install
it when it is missing, and talks to the target with the run's own access (credentials, proxy), its requests
seen by the request log and the evidence. The mutants that only the client notices are in tests/mutants.py.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import elasticsearch  # the clients extra, which the development extras include
import pytest
from markupsafe import escape as html_escape

from pytest_connector_contract.contract.spec import load_spec
from pytest_connector_contract.reference.endpoints import ReferenceTarget
from pytest_connector_contract.reference.security import ApiKey, Security
from pytest_connector_contract.reference.server import ReferenceServer

SPEC = load_spec()
OFFICIAL_IDS = [check.id for check in SPEC.official_client_checks()]
INSTALL = "pip install 'elasticsearch<10,>=8.13' (the 'clients' extra)"
SELECT = "connector-contract::official_client["
ONE_OTHER = "connector-contract::transition[created->error]"

CLIENT_MAJOR = int(elasticsearch.__versionstr__.split(".")[0])


def official(run: Any) -> dict[str, dict[str, Any]]:
    return {c["id"]: c for c in run.report["checks"] if c["category"] == "official_client"}


def test_one_client_gives_ids_without_a_version_two_majors_name_theirs() -> None:
    expected = [
        f"official_client[python/{option}/{case}]"
        for option in ("plain", "compression", "opaque-id")
        for case in ("accepted", "refused", "not-found")
    ]
    assert expected == OFFICIAL_IDS
    both = [check.id for check in SPEC.official_client_checks((8, 9))]
    assert both[0] == "official_client[python-8/plain/accepted]"
    assert both[-1] == "official_client[python-9/opaque-id/not-found]"
    assert len(both) == 2 * len(OFFICIAL_IDS)
    # a baseline may name either form, whichever clients the run that wrote it had
    assert SPEC.has_check("official_client[python/compression/refused]")
    assert SPEC.has_check("official_client[python-9/compression/refused]")
    assert not SPEC.has_check("official_client[python-9.1/compression/refused]")
    assert not SPEC.has_check("official_client[python/compression/sideways]")


@pytest.mark.parametrize(
    ("version", "flavor"),
    [("9.0.0", "default"), ("9.1.0", "default"), ("8.11.0", "serverless")],
    ids=["9.0.0", "9.1.0", "serverless"],
)
def test_the_client_passes_against_every_release_it_supports(
    version: str, flavor: str, start_target: Callable[..., ReferenceServer], run_suite: Callable[..., Any]
) -> None:
    if CLIENT_MAJOR != 9:
        pytest.skip(f"written for the 9.x client, {elasticsearch.__versionstr__} is installed")
    server = start_target(ReferenceTarget(version, build_flavor=flavor))
    run = run_suite(server.url, SELECT)
    assert run.ret == 0, run.result.stdout.str()
    checks = official(run)
    assert list(checks) == OFFICIAL_IDS
    assert {c["outcome"] for c in checks.values()} == {"passed"}
    assert checks["official_client[python/plain/accepted]"]["observed"] == "HTTP 200, ['result'] 'updated'"
    assert checks["official_client[python/plain/refused]"]["observed"] == (
        "BadRequestError: .meta.status 400, .error 'status_exception'"
    )
    assert checks["official_client[python/plain/not-found]"]["observed"] == (
        "NotFoundError: .meta.status 404, .error 'resource_not_found_exception'"
    )
    assert not server.target.connectors, "the checks delete what they create"


def test_a_release_that_refuses_the_clients_major_skips_with_the_reason(
    start_target: Callable[..., ReferenceServer], run_suite: Callable[..., Any]
) -> None:
    if CLIENT_MAJOR != 9:
        pytest.skip(f"written for the 9.x client, {elasticsearch.__versionstr__} is installed")
    server = start_target(ReferenceTarget("8.19.3"))
    # with one check that runs: a run in which no check executed is never green
    run = run_suite(server.url, SELECT, ONE_OTHER)
    assert run.ret == 0, run.result.stdout.str()
    reason = (
        "the installed elasticsearch 9.x client is refused by Elasticsearch 8.19.3, correctly: it asks for "
        "compatible-with=9, and 8.x accepts only 7 and 8"
    )
    assert {(c["outcome"], c["message"]) for c in official(run).values()} == {("skipped", reason)}
    run.result.stdout.fnmatch_lines([f"9 official client checks skipped: {reason}"])
    assert not server.target.connectors


def test_without_the_client_the_checks_are_skipped_saying_how_to_install_it(
    pytester: pytest.Pytester, run_suite: Callable[..., Any]
) -> None:
    # As if the clients extra were not installed: every import name of the client is unimportable.
    names = SPEC.raw["official_client"]["modules"]
    pytester.makeconftest("import sys\n" + "".join(f"sys.modules[{name!r}] = None\n" for name in names))
    html = pytester.path / "report.html"
    run = run_suite("embedded", SELECT, ONE_OTHER, "--html", str(html), "--self-contained-html")
    assert run.ret == 0, run.result.stdout.str()
    reason = f"the official Python client is not installed: {INSTALL}"
    assert {(c["outcome"], c["message"]) for c in official(run).values()} == {("skipped", reason)}
    run.result.stdout.fnmatch_lines([f"9 official client checks skipped: {reason}"])
    assert str(html_escape(INSTALL)) in html.read_text(encoding="utf-8")  # as Jinja2 escapes it


def test_the_client_uses_the_runs_credentials_and_its_requests_are_logged(
    pytester: pytest.Pytester, start_target: Callable[..., ReferenceServer], run_suite: Callable[..., Any]
) -> None:
    server = start_target(ReferenceTarget(security=Security(api_keys=[ApiKey("ck", "s3cret-official")])))
    log = pytester.path / "requests.jsonl"
    run = run_suite(
        server.url, SELECT + "python/compression/", "--connector-api-key", "ck:s3cret-official",
        "--connector-request-log", str(log),
    )  # fmt: skip
    assert run.ret == 0, run.result.stdout.str()
    records = [json.loads(line) for line in log.read_text().splitlines()]
    updates = [r for r in records if r["method"] == "PUT" and r["path"].endswith("/_status") and r["check"]]
    assert {r["check"] for r in updates} == {
        f"official_client[python/compression/{c}]" for c in ("accepted", "refused", "not-found")
    }
    # the client's own media type, and the body shown decoded although it went compressed
    assert {r["content_type"] for r in updates} == {"application/vnd.elasticsearch+json; compatible-with=9"}
    assert {r["body"] for r in updates} == {'{"status":"needs_configuration"}', '{"status":"connected"}'}
    assert "s3cret-official" not in run.result.stdout.str() + log.read_text()


def test_the_client_goes_through_the_runs_proxy(
    pytester: pytest.Pytester, start_target: Callable[..., ReferenceServer]
) -> None:
    from support.proxy import ForwardingProxy

    server = start_target()
    with ForwardingProxy(hosts={"es.cluster.test": "127.0.0.1"}) as proxy:
        # a name only the proxy can resolve: a request that bypassed it would not reach the target at all
        url = f"http://es.cluster.test:{server.port}"
        result = pytester.runpytest_subprocess(
            "--connector-url", url, "--connector-proxy", proxy.url, SELECT + "python/opaque-id/", "-q"
        )
    assert result.ret == 0, result.stdout.str()
    result.assert_outcomes(passed=3)
    updates = [line for line in proxy.requests if line.startswith("PUT") and "/_status HTTP/1.1" in line]
    assert len([line for line in updates if "-probe/" not in line]) == 3  # the preflight probes one of its own


def test_a_failing_check_shows_the_clients_exchange(
    start_target: Callable[..., ReferenceServer], run_suite: Callable[..., Any]
) -> None:
    from support.mutants import GzipFrontEndDropsProductHeader

    server = start_target(GzipFrontEndDropsProductHeader(security=Security(api_keys=[ApiKey("ck", "s3cret-gzip")])))
    run = run_suite(server.url, SELECT + "python/compression/accepted", "--connector-api-key", "ck:s3cret-gzip")
    assert run.ret == 1, run.result.stdout.str()
    check = official(run)["official_client[python/compression/accepted]"]
    assert check["outcome"] == "failed"
    assert check["observed"].startswith("UnsupportedProductError: .meta.status 200")
    sent = [e for e in check["exchanges"] if e["request"]["path"].endswith("/_status")]
    assert len(sent) == 1
    assert sent[0]["response"]["status"] == 200
    assert "X-elastic-product" not in sent[0]["response"]["headers"]
    # the request as the client sent it: compressed (its body shown decoded), the run's credentials redacted
    headers = {name.lower(): value for name, value in sent[0]["request"]["headers"].items()}
    assert headers["content-encoding"] == "gzip"
    assert headers["authorization"] == "<redacted>"
    assert sent[0]["request"]["body"] == '{"status":"needs_configuration"}'
    assert "s3cret-gzip" not in run.result.stdout.str() + json.dumps(run.report)
    assert not server.target.connectors
