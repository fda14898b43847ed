"""Access to secured clusters, run for real: HTTPS with a private CA (certificates from trustme), client
certificates, API keys, basic auth and bearer tokens, and the one-message preflight for each refusal."""

from __future__ import annotations

import json
import ssl
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import trustme
from support.proxy import ForwardingProxy
from support.runs import output, run_pytest

from pytest_connector_contract.config.credentials import basic_credentials
from pytest_connector_contract.reference.endpoints import ReferenceTarget
from pytest_connector_contract.reference.security import CONNECTOR_READ_ONLY, ApiKey, BearerToken, Security, User
from pytest_connector_contract.reference.server import ReferenceServer

SECURITY = Security(
    api_keys=[ApiKey("ci", "ci-secret-0001"), ApiKey("ro", "ro-secret-0002", privileges=CONNECTOR_READ_ONLY)],
    users=[User("elastic", "elastic-pass-0003")],
    bearer_tokens=[BearerToken("bearer-token-0004", user="svc")],
)
#: the official client's accepted update too: it must reach the target with the same access (TLS, credentials)
SELECTION = (
    "connector-contract::transition[connected->",
    "connector-contract::validation[unknown-field]",
    "connector-contract::official_client[python/plain/accepted]",
)


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
def pki(ca: trustme.CA, tmp_path: Path) -> dict[str, Any]:
    server_cert = ca.issue_cert("127.0.0.1", "localhost")
    client_cert = ca.issue_cert("connector-contract-client")
    files = {"ca_file": tmp_path / "ca.pem", "client_file": tmp_path / "client.pem"}
    ca.cert_pem.write_to_path(files["ca_file"])
    client_cert.private_key_and_cert_chain_pem.write_to_path(files["client_file"])
    return {"ca": ca, "server": server_cert, **files}


def _tls_context(pki: dict[str, Any], *, require_client_cert: bool = False) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    pki["server"].configure_cert(context)
    if require_client_cert:
        pki["ca"].configure_trust(context)
        context.verify_mode = ssl.CERT_REQUIRED
    return context


def test_https_with_a_private_ca(
    pytester: pytest.Pytester, start_target: Callable[..., ReferenceServer], pki: dict[str, Any], quick_retries: object
) -> None:
    server = start_target(ReferenceTarget(), ssl_context=_tls_context(pki))
    assert server.url.startswith("https://")
    trusted = run_pytest(pytester, server.url, "--connector-ca-certs", str(pki["ca_file"]), *SELECTION)
    assert trusted.ret == 0, output(trusted)
    untrusted = run_pytest(pytester, server.url, *SELECTION)
    assert untrusted.ret == pytest.ExitCode.INTERRUPTED
    assert "TLS failure" in output(untrusted)
    assert "--connector-ca-certs" in output(untrusted)
    assert "Traceback" not in output(untrusted)
    insecure = run_pytest(pytester, server.url, "--connector-insecure", *SELECTION)
    assert insecure.ret == 0, output(insecure)
    assert "NOT verified" in output(insecure)


def test_client_certificate_authentication(
    pytester: pytest.Pytester, start_target: Callable[..., ReferenceServer], pki: dict[str, Any], quick_retries: object
) -> None:
    server = start_target(ReferenceTarget(), ssl_context=_tls_context(pki, require_client_cert=True))
    with_cert = run_pytest(pytester, server.url, "--connector-ca-certs", str(pki["ca_file"]),
                           "--connector-client-cert", str(pki["client_file"]), *SELECTION)  # fmt: skip
    assert with_cert.ret == 0, output(with_cert)
    without = run_pytest(pytester, server.url, "--connector-ca-certs", str(pki["ca_file"]), *SELECTION)
    assert without.ret == pytest.ExitCode.INTERRUPTED
    assert "cannot reach the target" in output(without)


@pytest.mark.parametrize(
    ("args", "env"),
    [
        ((), {"CONNECTOR_API_KEY": "ci:ci-secret-0001"}),
        ((), {"CONNECTOR_API_KEY": ApiKey("ci", "ci-secret-0001").encoded}),
        (("--connector-user", "elastic"), {"CONNECTOR_PASSWORD": "elastic-pass-0003"}),
        ((), {"CONNECTOR_BEARER_TOKEN": "bearer-token-0004"}),
    ],
    ids=["api-key-id-colon-key", "api-key-encoded", "basic", "bearer"],
)
def test_each_kind_of_credentials_is_accepted(
    args: tuple[str, ...],
    env: dict[str, str],
    pytester: pytest.Pytester,
    start_target: Callable[..., ReferenceServer],
    pki: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    server = start_target(ReferenceTarget(security=SECURITY), ssl_context=_tls_context(pki))
    result = run_pytest(pytester, server.url, "--connector-ca-certs", str(pki["ca_file"]), *args, *SELECTION)
    assert result.ret == 0, output(result)


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({}, "requires credentials: give --connector-api-key"),
        ({"CONNECTOR_API_KEY": "ci:wrong-secret"}, "HTTP 401: the credentials were refused"),
        ({"CONNECTOR_API_KEY": "ro:ro-secret-0002"}, "lack the manage_connector cluster privilege"),
    ],
    ids=["no-credentials", "wrong-key", "read-only-key"],
)
def test_refused_credentials_stop_the_run_with_one_message(
    env: dict[str, str],
    message: str,
    pytester: pytest.Pytester,
    start_target: Callable[..., ReferenceServer],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    target = ReferenceTarget(security=SECURITY)
    server = start_target(target)
    result = run_pytest(pytester, server.url, *SELECTION)
    assert result.ret == pytest.ExitCode.INTERRUPTED
    text = output(result)
    assert message in text
    assert server.url in text
    assert "secret" not in text
    assert "Traceback" not in text
    assert not target.connectors


def test_embedded_target_requires_the_credentials_it_is_given(pytester: pytest.Pytester) -> None:
    """A request to the embedded target without the key the run was given, or with another key, is refused as
    unauthenticated, and one with it is answered (asked by a user's test through the ``connector_target``
    fixture); the selection passes with the key."""
    pytester.makepyfile(
        test_embedded_auth="""
        import base64, json, urllib.error, urllib.request

        def _status(url, key):
            headers = {"Authorization": "ApiKey " + base64.b64encode(key.encode()).decode()} if key else {}
            try:
                with urllib.request.urlopen(urllib.request.Request(url + "/", headers=headers)) as answer:
                    return answer.status, None
            except urllib.error.HTTPError as refused:
                return refused.code, json.load(refused)["error"]["type"]

        def test_refused_without_the_key(connector_target):
            assert _status(connector_target.url, None) == (401, "security_exception")
            assert _status(connector_target.url, "me:another-secret") == (401, "security_exception")

        def test_answered_with_the_key(connector_target):
            assert _status(connector_target.url, "me:my-secret-1") == (200, None)
        """
    )
    key = ("--connector-api-key", "me:my-secret-1")
    asked = run_pytest(pytester, "embedded", *key, "-rA", "test_embedded_auth.py")
    assert asked.ret == 0, output(asked)
    asked.stdout.fnmatch_lines_random(
        [
            "PASSED test_embedded_auth.py::test_refused_without_the_key",
            "PASSED test_embedded_auth.py::test_answered_with_the_key",
        ]
    )
    suite = run_pytest(pytester, "embedded", *key, *SELECTION)
    assert suite.ret == 0, output(suite)


def test_a_reference_cluster_behind_a_proxy_is_reached_through_its_own_proxy(
    pytester: pytest.Pytester, start_target: Callable[..., ReferenceServer], tmp_path: Path, quick_retries: object
) -> None:
    """--connector-reference-proxy takes the reference cluster's requests, with its credentials, and only those:
    the reference has a name only the proxy resolves, the target is reached straight."""
    host, user, password = "es.reference.test", "ref-bot", "ref-proxy-pass-0006"
    target, reference = start_target(), start_target()
    named = f"http://{host}:{reference.port}"
    report = tmp_path / "conformance.json"
    with ForwardingProxy(credentials=(user, password), hosts={host: "127.0.0.1"}) as proxy:
        args = ("--connector-reference-url", named, "--connector-json", str(report), *SELECTION)
        result = run_pytest(pytester, target.url, "--connector-reference-proxy", proxy.url, *args)
        assert result.ret == 0, output(result)
        assert proxy.requests, "the reference cluster was not reached through the proxy"
        assert all(line.split()[1].startswith(f"{named}/") for line in proxy.requests)
        assert set(proxy.authorizations) == {f"Basic {basic_credentials(user, password)}"}
        seen = len(proxy.requests)
        without = run_pytest(pytester, target.url, *args)
        assert len(proxy.requests) == seen
    assert without.ret == pytest.ExitCode.INTERRUPTED
    assert "cannot reach the reference cluster" in output(without)
    assert "--connector-reference-url" in output(without)
    configuration = json.loads(report.read_text())["configuration"]
    assert configuration["reference_proxy"] == {"value": proxy.plain_url, "source": "cli"}
    for text in (output(result), report.read_text()):
        assert password not in text
        assert basic_credentials(user, password) not in text


def test_a_dead_reference_proxy_stops_the_run_naming_the_references_proxy_option(
    pytester: pytest.Pytester, start_target: Callable[..., ReferenceServer], quick_retries: object
) -> None:
    target, reference = start_target(), start_target()
    with ForwardingProxy(credentials=("ref-bot", "dead-ref-proxy-0008")) as gone:
        dead = gone.url  # a port that was just a proxy's, and is closed now
    result = run_pytest(
        pytester, target.url, "--connector-reference-url", reference.url, "--connector-reference-proxy", dead
    )
    assert result.ret == pytest.ExitCode.INTERRUPTED
    text = output(result)
    assert "cannot reach the reference cluster" in text
    assert f"through the proxy {gone.plain_url}" in text
    assert "Check --connector-reference-proxy" in text
    assert "dead-ref-proxy-0008" not in text
