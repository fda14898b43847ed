"""Security and HTTPS of the reference target, its server and its CLI, over real loopback HTTP(S).

What is pinned here is Elasticsearch 8.x/9.x behaviour read from its source (ClusterPrivilegeResolver,
AuthorizationDenialMessages, DefaultAuthenticationFailureHandler, ApiKeyService, TransportAction): who gets
a 401 and in which words, which privilege grants which connector action, and where in the pipeline each
refusal happens. Certificates come from trustme, made fresh for each session: none are committed.
"""

from __future__ import annotations

import base64
import os
import re
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import trustme

import pytest_connector_contract
from pytest_connector_contract.cli import main as cli
from pytest_connector_contract.reference.endpoints import ReferenceTarget
from pytest_connector_contract.reference.security import (
    ACTION_CONNECTOR_GET,
    ACTION_CONNECTOR_UPDATE_STATUS,
    ACTION_MAIN,
    CONNECTOR_ADMIN,
    CONNECTOR_READ_ONLY,
    ApiKey,
    BearerToken,
    Principal,
    Security,
    User,
    _java_base64_decode,
    granting_privileges,
)
from pytest_connector_contract.reference.server import ReferenceServer

CHALLENGES = ['Basic realm="security", charset="UTF-8"', 'Bearer realm="security"', "ApiKey"]
ANONYMOUS = "unable to authenticate with provided credentials and anonymous access is not allowed for this request"
STATUS_ACTION = "action [cluster:admin/xpack/connector/update_status]"

ADMIN_KEY = ApiKey("ci-key", "ci-secret-0123456789")
READ_ONLY_KEY = ApiKey("ro", "ro-secret-0123456789", privileges=CONNECTOR_READ_ONLY, owner="tester")
NO_PRIVILEGE_KEY = ApiKey("nothing", "nothing-secret", privileges=frozenset({"none"}))
ELASTIC = User("elastic", "elastic-password")
VIEWER = User("viewer", "viewer-password", privileges=frozenset({"monitor_connector"}), roles=("viewer", "reader"))
TOKEN = BearerToken("dGhlLWJlYXJlci10b2tlbg", user="connector-service", roles=("connector_role",))
SECURITY = Security(
    api_keys=[ADMIN_KEY, READ_ONLY_KEY, NO_PRIVILEGE_KEY], users=[ELASTIC, VIEWER], bearer_tokens=[TOKEN]
)


def api_key_header(key: ApiKey) -> dict[str, str]:
    return {"Authorization": f"ApiKey {key.encoded}"}


ADMIN = api_key_header(ADMIN_KEY)
READ_ONLY = api_key_header(READ_ONLY_KEY)


# ------------------------------------------------------------------------------------------ fixtures


class Client:
    """A keep-alive session to one server that ignores REQUESTS_CA_BUNDLE and friends (which would
    otherwise override ``verify``), so that each test says exactly what it trusts."""

    def __init__(self, url: str, verify: str | bool = True) -> None:
        self.url = url
        self.session = requests.Session()
        self.session.trust_env = False
        self.session.verify = verify

    def request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        return self.session.request(method, self.url + path, timeout=30, **kwargs)

    def close(self) -> None:
        self.session.close()


@pytest.fixture
def serve(start_target: Callable[..., ReferenceServer]) -> Iterator[Callable[..., tuple[ReferenceServer, Client]]]:
    """Start a server (``start_target``: a secured 9.1.0 target unless told otherwise) and a client for it,
    closed at teardown."""
    clients: list[Client] = []

    def start(
        target: ReferenceTarget | None = None, *, verify: str | bool = True, **kwargs: Any
    ) -> tuple[ReferenceServer, Client]:
        server = start_target(target if target is not None else ReferenceTarget(security=SECURITY), **kwargs)
        client = Client(server.url, verify)
        clients.append(client)
        return server, client

    yield start
    for client in clients:
        client.close()


@pytest.fixture
def es(serve: Callable[..., tuple[ReferenceServer, Client]]) -> Client:
    return serve()[1]


@pytest.fixture(scope="session")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture(scope="session")
def tls_files(ca: trustme.CA, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """PEM files of a fresh CA and of a loopback server certificate it signed."""
    directory = tmp_path_factory.mktemp("tls")
    cert = ca.issue_cert("127.0.0.1", "localhost", "::1")
    files = {"ca": directory / "ca.pem", "cert": directory / "server.pem", "key": directory / "server-key.pem"}
    ca.cert_pem.write_to_path(str(files["ca"]))
    for index, blob in enumerate(cert.cert_chain_pems):
        blob.write_to_path(str(files["cert"]), append=index > 0)
    cert.private_key_pem.write_to_path(str(files["key"]))
    return {name: str(path) for name, path in files.items()}


def create(client: Client, connector_id: str, headers: dict[str, str] = ADMIN) -> None:
    response = client.request("PUT", f"/_connector/{connector_id}", json={"index_name": connector_id}, headers=headers)
    assert response.status_code == 201, response.text


def assert_security_error(response: requests.Response, status: int, reason: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["status"] == status
    error: dict[str, Any] = body["error"]
    assert error["type"] == "security_exception"
    assert error["reason"] == reason
    root = error["root_cause"][0]
    assert root["type"] == "security_exception"
    assert root["reason"] == reason
    assert "caused_by" not in root
    # RestResponse.filterHeaders: a 401 or 403 carries neither X-elastic-product nor Warning
    assert "X-elastic-product" not in response.headers
    assert "Warning" not in response.headers
    if status == 401:
        assert error["header"] == {"WWW-Authenticate": CHALLENGES}
        assert root["header"] == {"WWW-Authenticate": CHALLENGES}
        assert response.raw.headers.getlist("WWW-Authenticate") == CHALLENGES  # three header lines
    else:
        assert "header" not in error
        assert "WWW-Authenticate" not in response.headers
    return error


# ------------------------------------------------------------------------------------ authentication


def test_security_is_off_by_default(serve: Callable[..., tuple[ReferenceServer, Client]]) -> None:
    _, client = serve(ReferenceTarget())
    assert client.request("GET", "/").status_code == 200
    assert client.request("GET", "/", headers={"Authorization": "ApiKey bm9wZTpub3Bl"}).status_code == 200


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "/", None),
        ("GET", "/_connector", None),
        ("GET", "/_connector/x", None),
        ("PUT", "/_connector/x", b'{"index_name":"x"}'),
        ("PUT", "/_connector/x/_status", b'{"status":"error"}'),
        ("PUT", "/_connector/x/_status", b'{"status":'),  # a broken body: authentication comes first
        ("DELETE", "/_connector/x/_status", None),  # a 405 route
        ("GET", "/_no_such_api/x", None),  # no handler at all
    ],
)
def test_no_credentials_is_401_before_routing_and_parsing(
    es: Client, method: str, path: str, body: bytes | None
) -> None:
    headers = {"Content-Type": "application/json"} if body else {}
    response = es.request(method, path, data=body, headers=headers)
    assert_security_error(response, 401, f"missing authentication credentials for REST request [{path}]")


def test_401_comes_before_media_type_checks_and_keeps_the_query_string(es: Client) -> None:
    bad_accept = es.request("GET", "/", headers={"Accept": "application/vnd.elasticsearch+json; compatible-with=7"})
    assert_security_error(bad_accept, 401, "missing authentication credentials for REST request [/]")
    query = es.request("GET", "/_connector", params={"size": "1"})
    assert_security_error(query, 401, "missing authentication credentials for REST request [/_connector?size=1]")
    head = es.request("HEAD", "/")
    assert head.status_code == 401
    assert head.content == b""
    assert head.raw.headers.getlist("WWW-Authenticate") == CHALLENGES


def basic(value: str) -> str:
    return "Basic " + base64.b64encode(value.encode()).decode()


@pytest.mark.parametrize(
    ("authorization", "reason", "extra"),
    [
        (
            "ApiKey " + ApiKey("unknown-id", "whatever").encoded,
            ANONYMOUS,
            {"additional_unsuccessful_credentials": "API key: unable to find apikey with id unknown-id"},
        ),
        (
            "ApiKey " + ApiKey("ci-key", "wrong-secret").encoded,
            ANONYMOUS,
            {"additional_unsuccessful_credentials": "API key: invalid credentials for API key [ci-key]"},
        ),
        (
            "ApiKey not_base64",
            "error attempting to authenticate request",
            {"caused_by": {"type": "illegal_argument_exception", "reason": "Illegal base64 character 5f"}},
        ),
        (
            "ApiKey " + base64.b64encode(b"no-colon").decode(),
            "error attempting to authenticate request",
            {"caused_by": {"type": "illegal_argument_exception", "reason": "invalid ApiKey value"}},
        ),
        (basic("elastic:wrong"), "unable to authenticate user [elastic] for REST request [/_connector/x/_status]", {}),
        (basic("nobody:secret"), "unable to authenticate user [nobody] for REST request [/_connector/x/_status]", {}),
        (
            "Basic %%%",
            "invalid basic authentication header encoding",
            {"caused_by": {"type": "illegal_argument_exception", "reason": "Illegal base64 character 25"}},
        ),
        (basic("no-colon"), "invalid basic authentication header value", {}),
        ("Bearer not-a-known-token", ANONYMOUS, {}),
        ("Digest username=elastic", "missing authentication credentials for REST request [/_connector/x/_status]", {}),
        ("ApiKey ", "missing authentication credentials for REST request [/_connector/x/_status]", {}),
    ],
    ids=[
        "unknown-api-key",
        "wrong-api-key-secret",
        "api-key-not-base64",
        "api-key-without-colon",
        "wrong-password",
        "unknown-user",
        "basic-not-base64",
        "basic-without-colon",
        "unknown-bearer-token",
        "unknown-scheme",
        "empty-api-key",
    ],
)
def test_invalid_credentials_are_401(es: Client, authorization: str, reason: str, extra: dict[str, Any]) -> None:
    create(es, "x")
    response = es.request(
        "PUT", "/_connector/x/_status", json={"status": "error"}, headers={"Authorization": authorization}
    )
    error = assert_security_error(response, 401, reason)
    caused_by = extra.get("caused_by")
    assert error.get("caused_by") == caused_by
    metadata = {k: v for k, v in extra.items() if k != "caused_by"}
    for key, value in metadata.items():
        assert error[key] == value
        assert error["root_cause"][0][key] == value
    assert set(error) == {"root_cause", "type", "reason", "header", *extra}
    # Elasticsearch's key order: type, reason, metadata, caused_by, header
    assert list(error)[-1] == "header"
    assert es.request("GET", "/_connector/x", headers=ADMIN).json()["status"] == "created"


def test_the_three_credential_kinds(es: Client) -> None:
    lower_case_scheme = {"Authorization": f"apikey {ADMIN_KEY.encoded}"}
    kinds: list[dict[str, Any]] = [
        {"headers": ADMIN},
        {"headers": lower_case_scheme},
        {"auth": (ELASTIC.name, ELASTIC.password)},
        {"headers": {"Authorization": f"Bearer {TOKEN.token}"}},
    ]
    for n, kwargs in enumerate(kinds):
        assert es.request("GET", "/", **kwargs).json()["version"]["number"] == "9.1.0"
        cid = f"kind-{n}"
        response = es.request("PUT", f"/_connector/{cid}", json={"index_name": cid}, **kwargs)
        assert response.status_code == 201, response.text
        updated = es.request("PUT", f"/_connector/{cid}/_status", json={"status": "error"}, **kwargs)
        assert updated.json() == {"result": "updated"}
        assert es.request("GET", f"/_connector/{cid}", **kwargs).json()["status"] == "error"


# ------------------------------------------------------------------------------------ authorization


def test_read_only_key_reads_but_cannot_write(es: Client) -> None:
    create(es, "ro-target")
    assert es.request("GET", "/", headers=READ_ONLY).status_code == 200
    assert es.request("GET", "/_connector", headers=READ_ONLY).json()["count"] == 1
    assert es.request("GET", "/_connector/ro-target", headers=READ_ONLY).json()["status"] == "created"
    assert es.request("GET", "/_connector/missing", headers=READ_ONLY).status_code == 404
    writes = {
        "update_status": ("PUT", "/_connector/ro-target/_status", {"status": "error"}),
        "put": ("PUT", "/_connector/ro-target", {"index_name": "other"}),
        "post": ("POST", "/_connector", {"index_name": "new"}),
        "delete": ("DELETE", "/_connector/ro-target", None),
    }
    for action, (method, path, body) in writes.items():
        response = es.request(method, path, json=body, headers=READ_ONLY)
        assert_security_error(
            response,
            403,
            f"action [cluster:admin/xpack/connector/{action}] is unauthorized for API key id [ro] of user [tester], "
            "this action is granted by the cluster privileges [manage_connector,manage,all]",
        )
    after = es.request("GET", "/_connector/ro-target", headers=ADMIN).json()
    assert (after["status"], after["index_name"], after["deleted"]) == ("created", "ro-target", False)
    assert es.request("GET", "/_connector", headers=ADMIN).json()["count"] == 1


def test_put_without_id_is_the_put_action(es: Client) -> None:
    response = es.request("PUT", "/_connector", json={"index_name": "generated"}, headers=READ_ONLY)
    assert response.status_code == 403
    assert response.json()["error"]["reason"].startswith("action [cluster:admin/xpack/connector/put] ")


def test_403_names_the_user_and_sorted_roles(es: Client) -> None:
    create(es, "for-viewer")
    viewer = (VIEWER.name, VIEWER.password)
    assert es.request("GET", "/_connector/for-viewer", auth=viewer).status_code == 200
    assert_security_error(
        es.request("PUT", "/_connector/for-viewer/_status", json={"status": "error"}, auth=viewer),
        403,
        f"{STATUS_ACTION} is unauthorized for user [viewer] with effective roles [reader,viewer], "
        "this action is granted by the cluster privileges [manage_connector,manage,all]",
    )
    # monitor_connector alone does not grant GET / (cluster:monitor/main)
    assert_security_error(
        es.request("GET", "/", auth=viewer),
        403,
        "action [cluster:monitor/main] is unauthorized for user [viewer] with effective roles [reader,viewer], "
        "this action is granted by the cluster privileges [monitor,manage,all]",
    )


def test_authorization_runs_after_parsing_and_validation_but_before_the_lookup(es: Client) -> None:
    """TransportAction validates the request before the security action filter authorizes it; the
    REST layer parsed the body and checked the parameters before that."""
    create(es, "order")
    bad_body = es.request("PUT", "/_connector/order/_status", json={"status": "bogus"}, headers=READ_ONLY)
    assert (bad_body.status_code, bad_body.json()["error"]["type"]) == (400, "x_content_parse_exception")
    bad_param = es.request(
        "PUT", "/_connector/order/_status", json={"status": "error"}, params={"nope": "1"}, headers=READ_ONLY
    )
    assert (bad_param.status_code, bad_param.json()["error"]["type"]) == (400, "illegal_argument_exception")
    invalid = es.request("PUT", "/_connector/order/_status", json={}, headers=READ_ONLY)
    assert (invalid.status_code, invalid.json()["error"]["type"]) == (400, "action_request_validation_exception")
    missing = es.request("PUT", "/_connector/missing/_status", json={"status": "error"}, headers=READ_ONLY)
    assert missing.status_code == 403  # not 404: authorization comes before the connector is read
    wrong_method = es.request("POST", "/_connector/order/_status", json={"status": "error"}, headers=READ_ONLY)
    assert wrong_method.status_code == 405
    none = es.request("GET", "/_connector/order", headers=api_key_header(NO_PRIVILEGE_KEY))
    assert_security_error(
        none,
        403,
        f"action [{ACTION_CONNECTOR_GET}] is unauthorized for API key id [nothing] of user [connector-contract], "
        "this action is granted by the cluster privileges [monitor_connector,manage_connector,manage,all]",
    )


def test_privilege_model() -> None:
    assert granting_privileges(ACTION_MAIN) == ["monitor", "manage", "all"]
    assert granting_privileges(ACTION_CONNECTOR_GET) == ["monitor_connector", "manage_connector", "manage", "all"]
    assert granting_privileges(ACTION_CONNECTOR_UPDATE_STATUS) == ["manage_connector", "manage", "all"]
    assert granting_privileges("cluster:admin/xpack/connector/secret/get") == ["manage", "all"]
    assert granting_privileges("cluster:admin/xpack/security/user/put") == ["all"]

    def principal(*privileges: str) -> Principal:
        return Principal("u", frozenset(privileges))

    assert principal("manage").may(ACTION_CONNECTOR_UPDATE_STATUS)
    assert not principal("manage").may("cluster:admin/xpack/security/api_key/create")
    assert not principal("monitor").may(ACTION_CONNECTOR_GET)
    assert principal("monitor").may(ACTION_MAIN)
    assert not principal("manage_connector").may(ACTION_MAIN)
    # an action (pattern) is a privilege too, as in an Elasticsearch role
    assert principal("cluster:admin/xpack/connector/update_status").may(ACTION_CONNECTOR_UPDATE_STATUS)
    assert ApiKey("a", "b", privileges=frozenset({"MANAGE_CONNECTOR"})).privileges == {"manage_connector"}
    with pytest.raises(ValueError, match=r"unknown cluster privilege \[manage_connectors\]"):
        ApiKey("a", "b", privileges=frozenset({"manage_connectors"}))
    with pytest.raises(ValueError, match=r"API key id \[a\] is given twice"):
        Security(api_keys=[ApiKey("a", "b"), ApiKey("a", "c")])


def test_keys_parse_and_never_show_their_secrets() -> None:
    key = ApiKey.parse("id-1:secret-1")
    assert (key.id, key.secret, key.privileges) == ("id-1", "secret-1", CONNECTOR_ADMIN)
    assert ApiKey.parse(key.encoded, privileges=CONNECTOR_READ_ONLY) == ApiKey("id-1", "secret-1", CONNECTOR_READ_ONLY)
    for bad in ("no-colon-and-not-base64!", ":secret", "id:", base64.b64encode(b"nocolon").decode()):
        with pytest.raises(ValueError, match="ID:KEY") as info:
            ApiKey.parse(bad)
        assert bad not in str(info.value)
    assert User.parse("bob:pa:ss word").password == "pa:ss word"
    shown = " ".join(map(repr, [ADMIN_KEY, ELASTIC, TOKEN, SECURITY]))
    for secret in (ADMIN_KEY.secret, ADMIN_KEY.encoded, ELASTIC.password, TOKEN.token):
        assert secret not in shown


@pytest.mark.parametrize(
    ("text", "decoded", "error"),
    [
        ("YWJj", b"abc", None),
        ("YWI", b"ab", None),  # padding is optional
        ("YWI=", b"ab", None),
        ("YQ==", b"a", None),
        ("YQ=", None, "Input byte array has wrong 4-byte ending unit"),
        ("YWJj=", None, "Input byte array has wrong 4-byte ending unit"),
        ("YWJjZ", None, "Last unit does not have enough valid bits"),
        ("YWJjZ=", None, "Last unit does not have enough valid bits"),
        ("Y", None, "Input byte[] should at least have 2 bytes for base64 bytes"),
        ("YWI=x", None, "Input byte array has incorrect ending byte at 4"),
        ("YW-j", None, "Illegal base64 character 2d"),
        ("YW j", None, "Illegal base64 character 20"),
    ],
)
def test_java_base64_decoding(text: str, decoded: bytes | None, error: str | None) -> None:
    if error is None:
        assert _java_base64_decode(text) == decoded
    else:
        with pytest.raises(ValueError, match=f"^{re.escape(error)}$"):
            _java_base64_decode(text)


def test_a_read_only_key_that_can_write_is_a_three_line_override(
    serve: Callable[..., tuple[ReferenceServer, Client]],
) -> None:
    class ReadOnlyKeyCanWrite(ReferenceTarget):
        def is_authorized(self, principal: Principal, action: str) -> bool:
            return True

    _, client = serve(ReadOnlyKeyCanWrite(security=SECURITY))
    create(client, "m", headers=READ_ONLY)
    response = client.request("PUT", "/_connector/m/_status", json={"status": "error"}, headers=READ_ONLY)
    assert response.json() == {"result": "updated"}
    assert client.request("GET", "/").status_code == 401  # authentication still holds


# ------------------------------------------------------------------------------------------- HTTPS


def server_context(ca: trustme.CA) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1", "localhost").configure_cert(context)
    return context


def test_https_with_a_private_ca(
    serve: Callable[..., tuple[ReferenceServer, Client]], ca: trustme.CA, tls_files: dict[str, str]
) -> None:
    server, client = serve(ssl_context=server_context(ca), verify=tls_files["ca"])
    assert server.url.startswith("https://127.0.0.1:")
    assert client.request("GET", "/", headers=ADMIN).status_code == 200
    assert client.request("GET", "/").status_code == 401

    untrusting = Client(server.url, verify=True)  # the system CAs do not know this one
    with pytest.raises(requests.exceptions.SSLError):
        untrusting.request("GET", "/", headers=ADMIN)
    untrusting.close()
    plain = Client(server.url.replace("https://", "http://"))
    with pytest.raises(requests.exceptions.ConnectionError):
        plain.request("GET", "/", headers=ADMIN)
    plain.close()

    create(client, "after-refusals")  # the server kept serving, on the old keep-alive connection too
    fresh = Client(server.url, verify=tls_files["ca"])
    assert fresh.request("GET", "/_connector/after-refusals", headers=ADMIN).status_code == 200
    fresh.close()
    assert server.errors == []


def test_https_from_certificate_files(
    serve: Callable[..., tuple[ReferenceServer, Client]], tls_files: dict[str, str]
) -> None:
    server, client = serve(
        ReferenceTarget(), certfile=tls_files["cert"], keyfile=tls_files["key"], verify=tls_files["ca"]
    )
    assert server.url.startswith("https://")
    assert client.request("GET", "/").json()["tagline"] == "You Know, for Search"


def test_tls_clients_that_stall_or_hold_connections_do_not_block_stop(
    ca: trustme.CA, tls_files: dict[str, str]
) -> None:
    server = ReferenceServer(ReferenceTarget(), ssl_context=server_context(ca))
    server.start()
    staller = socket.create_connection(("127.0.0.1", server.port))  # never starts its handshake
    client = Client(server.url, verify=tls_files["ca"])
    try:
        assert client.request("GET", "/").status_code == 200  # and leaves a keep-alive TLS connection
        started = time.monotonic()
        stopper = threading.Thread(target=server.stop)
        stopper.start()
        stopper.join(timeout=10)
        assert not stopper.is_alive(), "stop() hung on a TLS connection"
        assert time.monotonic() - started < 5
    finally:
        staller.close()
        client.close()
        server.stop()
    assert server.errors == []


def test_server_tls_arguments_are_checked(ca: trustme.CA, tls_files: dict[str, str], tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="not both"):
        ReferenceServer(ssl_context=server_context(ca), certfile=tls_files["cert"])
    with pytest.raises(ValueError, match="keyfile needs a certfile"):
        ReferenceServer(keyfile=tls_files["key"])
    with pytest.raises(ValueError, match="server-side"):
        ReferenceServer(ssl_context=ssl.create_default_context())
    with pytest.raises(FileNotFoundError, match="No such file"):
        ReferenceServer(certfile=tmp_path / "missing.pem")
    with pytest.raises(ssl.SSLError):
        ReferenceServer(certfile=tls_files["ca"])  # a certificate without its key


@pytest.mark.filterwarnings("ignore::elasticsearch.exceptions.GeneralAvailabilityWarning")
def test_official_client_over_https_with_an_api_key(
    serve: Callable[..., tuple[ReferenceServer, Client]], ca: trustme.CA, tls_files: dict[str, str]
) -> None:
    from elasticsearch import AuthenticationException, AuthorizationException, Elasticsearch

    server, _ = serve(ssl_context=server_context(ca))
    clients = [
        Elasticsearch(server.url, api_key=(ADMIN_KEY.id, ADMIN_KEY.secret), ca_certs=tls_files["ca"]),
        Elasticsearch(server.url, api_key=READ_ONLY_KEY.encoded, ca_certs=tls_files["ca"]),
        Elasticsearch(server.url, ca_certs=tls_files["ca"]),
    ]
    admin, read_only, anonymous = clients
    try:
        assert admin.info()["version"]["number"] == "9.1.0"
        admin.connector.put(connector_id="py-tls", index_name="py-tls", name="Py")
        assert admin.connector.update_status(connector_id="py-tls", status="error")["result"] == "updated"
        assert read_only.connector.get(connector_id="py-tls")["status"] == "error"
        with pytest.raises(AuthorizationException) as denied:
            read_only.connector.update_status(connector_id="py-tls", status="configured")
        assert denied.value.meta.status == 403
        assert "granted by the cluster privileges [manage_connector,manage,all]" in str(denied.value)
        with pytest.raises(AuthenticationException) as refused:
            anonymous.info()
        assert refused.value.meta.status == 401
    finally:
        for client in clients:
            client.close()


# ---------------------------------------------------------------------------------------------- CLI


def _cli_env(**extra: str) -> dict[str, str]:
    root = str(Path(pytest_connector_contract.__file__).resolve().parent.parent)
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONNECTOR_SERVE_")}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH")) if p)
    return {**env, **extra}


def test_cli_serves_https_with_api_keys(tls_files: dict[str, str]) -> None:
    command = [sys.executable, "-m", "pytest_connector_contract.cli.main", "serve", "--port", "0"]
    command += ["--certfile", tls_files["cert"], "--keyfile", tls_files["key"]]
    command += ["--readonly-api-key", f"{READ_ONLY_KEY.id}:{READ_ONLY_KEY.secret}"]
    env = _cli_env(CONNECTOR_SERVE_API_KEY=ADMIN_KEY.encoded)  # the secret stays off the command line
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env) as process:
        try:
            assert process.stdout is not None
            line = process.stdout.readline().strip()
            assert line.startswith(
                "connector-contract reference target (Elasticsearch 9.1.0 emulation, security on: "
                "API keys ci-key; read-only API keys ro) listening on https://127.0.0.1:"
            ), line
            client = Client(line.rsplit(" ", 1)[1], verify=tls_files["ca"])
            try:
                assert client.request("GET", "/").status_code == 401
                create(client, "cli")
                assert client.request("GET", "/_connector/cli", headers=READ_ONLY).status_code == 200
                denied = client.request("PUT", "/_connector/cli/_status", json={"status": "error"}, headers=READ_ONLY)
                assert denied.status_code == 403
                updated = client.request("PUT", "/_connector/cli/_status", json={"status": "error"}, headers=ADMIN)
                assert updated.json() == {"result": "updated"}
            finally:
                client.close()
            process.send_signal(signal.SIGINT)
            stdout, stderr = process.communicate(timeout=15)
        finally:
            if process.poll() is None:
                process.kill()
                process.communicate()
    assert process.returncode == 0, stderr
    assert stderr == ""
    for secret in (ADMIN_KEY.secret, ADMIN_KEY.encoded, READ_ONLY_KEY.secret):
        assert secret not in line + stdout


@pytest.mark.parametrize(
    ("argv", "env", "message"),
    [
        (["--api-key", "s3cr3t-without-colon"], {}, "an API key must be given as ID:KEY"),
        (["--user", "s3cr3t-without-colon"], {}, "a user must be given as NAME:PASSWORD"),
        ([], {"CONNECTOR_SERVE_READONLY_API_KEY": "s3cr3t-without-colon"}, "$CONNECTOR_SERVE_READONLY_API_KEY: an API"),
        ([], {"CONNECTOR_SERVE_USER": "s3cr3t-without-colon"}, "$CONNECTOR_SERVE_USER: a user must be"),
        (["--api-key", "a:s3cr3t", "--readonly-api-key", "a:s3cr3t2"], {}, "API key id [a] is given twice"),
        (["--keyfile", "key.pem"], {}, "--keyfile needs --certfile"),
        (["--certfile", "no-such-s3cr3t.pem"], {}, "cannot load the certificate: No such file or directory"),
    ],
)
def test_cli_refuses_bad_security_settings_without_echoing_secrets(
    argv: list[str],
    env: dict[str, str],
    message: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    for name in ("CONNECTOR_SERVE_API_KEY", "CONNECTOR_SERVE_READONLY_API_KEY", "CONNECTOR_SERVE_USER"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    try:
        status = cli.main(["serve", "--port", "0", *argv])
    except SystemExit as exc:  # argparse's usage error
        status = int(exc.code or 0)
    assert status == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert message in captured.err
    assert "s3cr3t" not in captured.err.replace("no-such-s3cr3t.pem", "")
