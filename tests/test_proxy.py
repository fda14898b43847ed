"""The suite through real proxies, run as users run it: HTTP_PROXY / HTTPS_PROXY / NO_PROXY from the
environment, --connector-proxy over them, CONNECT tunnels for https targets, and one clear message naming the
proxy (never its credentials) when the proxy is the problem.

The target is given a name only the proxy can resolve (``es.cluster.test``), as a cluster on a network that
only the proxy reaches: a run that passes has gone through the proxy.
"""

from __future__ import annotations

import base64
import ssl
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import trustme
from support.proxy import ForwardingProxy
from support.runs import output, run_pytest

from pytest_connector_contract.client import requestlog
from pytest_connector_contract.reference.endpoints import ReferenceTarget
from pytest_connector_contract.reference.server import ReferenceServer

HOST = "es.cluster.test"
SELECTION = ("connector-contract::transition[connected->", "connector-contract::validation[truncated-json]")
#: a check of each kind, each kind sending its requests its own way (the harness's client, captured clients'
#: requests replayed, the official client itself), with a transport option (compression) where it has them
EVERY_KIND = (
    *SELECTION,
    "connector-contract::not_found[unknown-id]",
    "connector-contract::response[x-elastic-product]",
    "connector-contract::unchanged[refused]",
    "connector-contract::client[elasticsearch-py-9/compression/accepted]",
    "connector-contract::official_client[python/compression/accepted]",
)
#: a proxy that never answers stops a run after 5 s, not after the default timeout
TIMEOUT = ("--connector-timeout", "5")


@pytest.fixture
def start_proxy() -> Iterator[Callable[..., ForwardingProxy]]:
    proxies: list[ForwardingProxy] = []

    def start(**kwargs: Any) -> ForwardingProxy:
        proxy = ForwardingProxy(hosts={HOST: "127.0.0.1"}, **kwargs).start()
        proxies.append(proxy)
        return proxy

    yield start
    for proxy in proxies:
        proxy.stop()


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
def ca_file(ca: trustme.CA, tmp_path: Path) -> Path:
    path = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(path)
    return path


@pytest.fixture
def https_target(start_target: Callable[..., ReferenceServer], ca: trustme.CA) -> ReferenceServer:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ca.issue_cert(HOST, "127.0.0.1").configure_cert(context)
    return start_target(ReferenceTarget(), ssl_context=context)


@pytest.fixture
def target_for(
    start_target: Callable[..., ReferenceServer], https_target: ReferenceServer
) -> Callable[[str], ReferenceServer]:
    """A reference target speaking ``scheme`` (http or https, with a certificate from the test CA)."""
    return lambda scheme: https_target if scheme == "https" else start_target()


def _named(server: ReferenceServer) -> str:
    """The server's URL under the name only the proxy resolves."""
    return f"{server.scheme}://{HOST}:{server.port}"


def _both_pass(
    pytester: pytest.Pytester, target_for: Callable[[str], ReferenceServer], ca_file: Path, *args: str, named: bool
) -> None:
    """The selection passes against an http and an https target, each by the name only the proxy resolves
    (``named``) or by its loopback address."""
    for scheme in ("http", "https"):
        target = target_for(scheme)
        url = _named(target) if named else target.url
        result = run_pytest(pytester, url, *TIMEOUT, "--connector-ca-certs", str(ca_file), *args, *SELECTION)
        assert result.ret == 0, output(result)


@pytest.mark.parametrize("variable", ["HTTP_PROXY", "http_proxy", "ALL_PROXY"])
def test_every_request_goes_through_the_proxy_of_the_environment(
    variable: str,
    run_suite: Callable[..., Any],
    start_target: Callable[..., ReferenceServer],
    start_proxy: Callable[..., ForwardingProxy],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    server, proxy = start_target(), start_proxy()
    monkeypatch.setenv(variable, proxy.url)
    log = tmp_path / "requests.jsonl"
    selection = EVERY_KIND if variable == "HTTP_PROXY" else SELECTION  # each kind of check once, a part for the others
    run = run_suite(_named(server), "--connector-request-log", str(log), *selection)
    assert run.ret == 0, output(run.result)
    assert run.report is not None
    assert run.report["summary"]["conformant"] is True
    sent = [
        f"{r['method']} http://{HOST}:{server.port}{r['path']}{'?' + r['query'] if r['query'] else ''} HTTP/1.1"
        for r in requestlog.read(log)
    ]
    assert len(sent) > 3 * len(selection)
    # every request of the run, and nothing else (checks in flight together send theirs in no fixed order)
    assert sorted(proxy.requests) == sorted(sent)


def test_without_the_proxy_the_same_target_cannot_be_reached(
    pytester: pytest.Pytester, start_target: Callable[..., ReferenceServer], quick_retries: object
) -> None:
    result = run_pytest(pytester, _named(start_target()), *TIMEOUT, *SELECTION)
    assert result.ret == pytest.ExitCode.INTERRUPTED
    assert "name resolution failed" in output(result)


def test_an_https_target_is_reached_through_a_connect_tunnel(
    pytester: pytest.Pytester,
    https_target: ReferenceServer,
    start_proxy: Callable[..., ForwardingProxy],
    ca_file: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    proxy = start_proxy()
    monkeypatch.setenv("HTTPS_PROXY", proxy.url)
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")  # an https target uses HTTPS_PROXY
    # Two checks in flight at a time: each slot keeps its client, and its tunnel, from check to check.
    args = ("--connector-ca-certs", str(ca_file), "--connector-concurrency", "2")
    result = run_pytest(pytester, _named(https_target), *TIMEOUT, *args, *SELECTION)
    assert result.ret == 0, output(result)
    assert proxy.requests, "the proxy saw nothing"
    assert set(proxy.requests) == {f"CONNECT {HOST}:{https_target.port} HTTP/1.0"}
    # keep-alive: a handful of tunnels (one per client: the preflight's and each slot's) for dozens of requests
    assert len(proxy.requests) <= 4
    assert min(proxy.tunnelled) > 10_000


@pytest.mark.parametrize("how", ["option", "CONNECTOR_PROXY"])
def test_the_proxy_option_overrides_the_environment(
    how: str,
    pytester: pytest.Pytester,
    target_for: Callable[[str], ReferenceServer],
    start_proxy: Callable[..., ForwardingProxy],
    ca_file: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    chosen, decoy = start_proxy(), start_proxy()
    for variable in ("HTTP_PROXY", "HTTPS_PROXY"):
        monkeypatch.setenv(variable, decoy.url)
    monkeypatch.setenv("NO_PROXY", HOST)  # the option is explicit: it applies whatever NO_PROXY says
    args: tuple[str, ...] = ("--connector-proxy", chosen.url) if how == "option" else ()
    if how == "CONNECTOR_PROXY":
        monkeypatch.setenv("CONNECTOR_PROXY", chosen.url)
    _both_pass(pytester, target_for, ca_file, *args, named=True)
    assert any(line.startswith(f"GET http://{HOST}:") for line in chosen.requests)
    assert any(line.startswith(f"CONNECT {HOST}:{target_for('https').port} ") for line in chosen.requests)
    assert decoy.requests == []


@pytest.mark.parametrize("no_proxy", ["127.0.0.1", "localhost,127.0.0.0/8", "*"])
def test_no_proxy_naming_the_target_bypasses_the_proxy(
    no_proxy: str,
    pytester: pytest.Pytester,
    target_for: Callable[[str], ReferenceServer],
    start_proxy: Callable[..., ForwardingProxy],
    ca_file: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    proxy = start_proxy()
    for variable in ("HTTP_PROXY", "HTTPS_PROXY"):
        monkeypatch.setenv(variable, proxy.url)
    monkeypatch.setenv("no_proxy", no_proxy)
    _both_pass(pytester, target_for, ca_file, named=False)
    assert proxy.requests == []


def test_the_embedded_target_never_uses_a_proxy(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")
    monkeypatch.setenv("CONNECTOR_PROXY", "http://127.0.0.1:9")
    result = run_pytest(pytester, "embedded", *TIMEOUT, *SELECTION)
    assert result.ret == 0, output(result)


@pytest.mark.parametrize("how", ["environment", "option"])
@pytest.mark.parametrize("scheme", ["http", "https"])
def test_a_dead_proxy_stops_the_run_with_one_message_naming_it(
    how: str,
    scheme: str,
    pytester: pytest.Pytester,
    target_for: Callable[[str], ReferenceServer],
    ca_file: Path,
    monkeypatch: pytest.MonkeyPatch,
    quick_retries: object,
) -> None:
    with ForwardingProxy() as gone:  # a port that was just a proxy's, and is closed now
        port = gone.port
    dead = f"http://ci-bot:dead-proxy-secret@127.0.0.1:{port}"
    args: tuple[str, ...] = ("--connector-proxy", dead) if how == "option" else ()
    if how == "environment":
        monkeypatch.setenv(f"{scheme.upper()}_PROXY", dead)
    target = target_for(scheme)
    result = run_pytest(pytester, target.url, *TIMEOUT, "--connector-ca-certs", str(ca_file), *args, *SELECTION)
    assert result.ret == pytest.ExitCode.INTERRUPTED
    text = output(result)
    assert f"cannot reach the target {target.url}: " in text
    assert f"through the proxy http://127.0.0.1:{port}: the proxy could not be reached" in text
    assert "Connection refused" in text
    assert "Check --connector-proxy, or HTTPS_PROXY / HTTP_PROXY" in text
    assert "dead-proxy-secret" not in text
    assert "ci-bot" not in text
    assert "Traceback" not in text


@pytest.mark.parametrize("scheme", ["http", "https"])
def test_proxy_credentials_are_sent_to_the_proxy_and_shown_nowhere(
    scheme: str,
    pytester: pytest.Pytester,
    target_for: Callable[[str], ReferenceServer],
    start_proxy: Callable[..., ForwardingProxy],
    ca_file: Path,
    tmp_path: Path,
) -> None:
    user, password = "ci-bot", "proxy-pass-0005"
    proxy = start_proxy(credentials=(user, password))
    target = target_for(scheme)
    log, junit, report = tmp_path / "requests.jsonl", tmp_path / "junit.xml", tmp_path / "conformance.json"
    result = run_pytest(
        pytester,
        _named(target),
        *TIMEOUT,
        "--connector-proxy",
        proxy.url,
        "--connector-ca-certs",
        str(ca_file),
        "--connector-request-log",
        str(log),
        "--connector-json",
        str(report),
        f"--junitxml={junit}",
        f"--html={tmp_path / 'report.html'}",
        "--self-contained-html",
        "-v",
        *SELECTION,
    )
    assert result.ret == 0, output(result)
    expected = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
    assert proxy.authorizations
    assert set(proxy.authorizations) == {expected}
    outputs = [output(result), *(path.read_text() for path in (log, junit, report, tmp_path / "report.html"))]
    for text in outputs:
        assert password not in text
        assert expected.partition(" ")[2] not in text


@pytest.mark.parametrize("scheme", ["http", "https"])
def test_refused_proxy_credentials_say_it_is_the_proxy(
    scheme: str,
    pytester: pytest.Pytester,
    target_for: Callable[[str], ReferenceServer],
    start_proxy: Callable[..., ForwardingProxy],
    ca_file: Path,
    monkeypatch: pytest.MonkeyPatch,
    quick_retries: object,
) -> None:
    proxy = start_proxy(credentials=("ci-bot", "proxy-pass-0005"))
    wrong = f"http://ci-bot:wrong-pass-0006@127.0.0.1:{proxy.port}"
    monkeypatch.setenv(f"{scheme.upper()}_PROXY", wrong)
    target = target_for(scheme)
    result = run_pytest(pytester, _named(target), *TIMEOUT, "--connector-ca-certs", str(ca_file), *SELECTION)
    assert result.ret == pytest.ExitCode.INTERRUPTED
    text = output(result)
    assert f"through the proxy {proxy.plain_url}: " in text
    assert "407 Proxy Authentication Required" in text
    assert "wrong-pass-0006" not in text
    assert "Traceback" not in text


def test_a_proxy_that_cannot_reach_the_target_says_so(
    pytester: pytest.Pytester,
    start_proxy: Callable[..., ForwardingProxy],
    monkeypatch: pytest.MonkeyPatch,
    quick_retries: object,
) -> None:
    proxy = start_proxy()
    with ForwardingProxy() as gone:
        port = gone.port
    monkeypatch.setenv("HTTP_PROXY", proxy.url)
    monkeypatch.setenv("HTTPS_PROXY", proxy.url)
    plain = run_pytest(pytester, f"http://{HOST}:{port}", *TIMEOUT, *SELECTION)
    assert plain.ret == pytest.ExitCode.INTERRUPTED
    assert f"through the proxy {proxy.url} answered HTTP 502" in output(plain)
    assert "Connection refused" in proxy.errors[0]
    tls = run_pytest(pytester, f"https://{HOST}:{port}", *TIMEOUT, *SELECTION)
    assert tls.ret == pytest.ExitCode.INTERRUPTED
    assert f"through the proxy {proxy.url}: the proxy did not open a tunnel to the target: it answered 502" in (
        output(tls)
    )


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("socks5://127.0.0.1:1080", "is not a proxy: give an http(s) URL"),
        ("http://u:proxy-pass-0007@proxy.example:3128/path", "a proxy URL takes no path"),
        ("http://u:proxy-pass-0007@proxy.example:99999", "is not a proxy"),
    ],
)
def test_a_bad_proxy_url_is_a_usage_error_without_its_credentials(
    value: str, message: str, pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    from_option = pytester.runpytest_subprocess("--connector-url", "http://127.0.0.1:9", "--connector-proxy", value)
    monkeypatch.setenv("CONNECTOR_PROXY", value)
    from_env = pytester.runpytest_subprocess("--connector-url", "http://127.0.0.1:9")
    for result in (from_option, from_env):
        assert result.ret == pytest.ExitCode.USAGE_ERROR
        assert message in output(result)
        assert "proxy-pass-0007" not in output(result)
    assert "environment variable CONNECTOR_PROXY" in output(from_env)
