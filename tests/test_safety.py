"""Safety on a live cluster: nothing lost that the run did not create, no secret in any output, and
robust setup requests. Real runs over real HTTP against the reference target."""

from __future__ import annotations

import base64
import email.utils
import html
import itertools
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote, quote_plus

import pytest

from pytest_connector_contract.cli.sweep import is_run_connector_id
from pytest_connector_contract.client.connector import RETRY_DELAYS, ConnectorClient, RateLimiter, TargetUnreachable
from pytest_connector_contract.client.secrets import Secret
from pytest_connector_contract.config.settings import Settings, decode_cloud_id
from pytest_connector_contract.contract.spec import load_spec
from pytest_connector_contract.plugin.state import RunState
from pytest_connector_contract.reference.connectors import ReferenceTarget
from pytest_connector_contract.reference.messages import Request, Response
from pytest_connector_contract.reference.server import ReferenceServer

OTHERS = ("theirs", "ccontract-theirs", "ccontract-0badc0de")


def _plant_others(target: ReferenceTarget) -> dict[str, str]:
    """Connectors somebody else owns, some under the suite's default prefix; returns their exact bytes."""
    for connector_id in OTHERS:
        body = json.dumps({"index_name": f"idx-{connector_id}", "name": "not yours", "description": "keep"})
        answer = target.handle("PUT", f"/_connector/{connector_id}", {}, {"Content-Type": "application/json"},
                               body.encode())  # fmt: skip
        assert answer.status == 201
    target.handle("PUT", "/_connector/theirs/_status", {}, {"Content-Type": "application/json"},
                  b'{"status": "error"}')  # fmt: skip
    return _bytes_of_others(target)


def _bytes_of_others(target: ReferenceTarget) -> dict[str, str]:
    return {cid: json.dumps(target.snapshot(cid), sort_keys=True) for cid in OTHERS}


def _run_ids(target: ReferenceTarget) -> list[str]:
    return sorted(cid for cid in target.connectors if cid not in OTHERS)


@pytest.mark.parametrize("mode", ["normal", "failing", "parallel"])
def test_connectors_of_others_are_byte_identical_and_none_of_the_runs_remain(
    mode: str, start_target: Callable[..., ReferenceServer], run_suite: Callable[..., Any]
) -> None:
    from support.mutants import RefusalTouchesConnector

    target = RefusalTouchesConnector() if mode == "failing" else ReferenceTarget()
    server = start_target(target)
    before = _plant_others(target)
    run = run_suite(server.url, *(["-n", "4"] if mode == "parallel" else []))
    assert run.ret == (1 if mode == "failing" else 0), run.result.stdout.str()
    assert _bytes_of_others(target) == before
    assert _run_ids(target) == []
    assert run.report["leftovers"] == []


@pytest.mark.parametrize("workers", [0, 4], ids=["serial", "xdist"])
def test_sigint_midway_still_deletes_everything_the_run_created(
    workers: int, pytester: pytest.Pytester, start_target: Callable[..., ReferenceServer]
) -> None:
    target = ReferenceTarget()
    server = start_target(target, latency_ms=25)
    before = _plant_others(target)
    command = [sys.executable, "-m", "pytest", "--connector-url", server.url, "-p", "no:cacheprovider"]
    if workers:
        command += ["-n", str(workers)]
    process = subprocess.Popen(command, cwd=pytester.path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               start_new_session=True)  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while not _run_ids(target) and time.monotonic() < deadline:
            time.sleep(0.01)
        assert _run_ids(target), "the run never created a connector"
        time.sleep(0.3)  # well inside the run: checks are in flight
        os.killpg(process.pid, signal.SIGINT)
        output, _ = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    # Ctrl-C reaches the whole process group; a worker may die before the controller notices, which
    # xdist reports as a failure rather than an interruption. Either way the run is not green.
    assert process.returncode in (pytest.ExitCode.INTERRUPTED, pytest.ExitCode.TESTS_FAILED), output.decode()
    assert _run_ids(target) == [], output.decode()
    assert _bytes_of_others(target) == before


class UndeletableTarget(ReferenceTarget):
    """Refuses every DELETE, as a cluster with a too-narrow key would."""

    def handle_delete_connector(self, request: Request, connector_id: str) -> Response:
        return self.error(403, "security_exception", "action [cluster:admin/xpack/connector/delete] is unauthorized")


def test_what_could_not_be_deleted_is_listed_in_the_summary_and_the_report(
    start_target: Callable[..., ReferenceServer], run_suite: Callable[..., Any]
) -> None:
    target = UndeletableTarget()
    server = start_target(target)
    run = run_suite(server.url, "connector-contract::transition[created->error]")
    left = _run_ids(target)
    assert len(left) == 1
    assert run.report["leftovers"]
    assert left[0] in run.report["leftovers"][0]
    assert run.ret == 1  # cleanup failed: the check errors in teardown
    run.result.stdout.fnmatch_lines([f"NOT DELETED {left[0]}*"])


def test_what_could_not_be_deleted_on_the_reference_cluster_is_named_as_such_with_its_sweep_command(
    start_target: Callable[..., ReferenceServer], run_suite: Callable[..., Any]
) -> None:
    target, reference = start_target(), start_target(UndeletableTarget())
    run = run_suite(
        target.url, "--connector-reference-url", reference.url, "connector-contract::transition[created->error]"
    )
    left = _run_ids(reference.target)
    assert len(left) == 1
    assert _run_ids(target.target) == []
    where = f"on the reference cluster {reference.url}: {left[0]}"
    assert run.report["leftovers"] == [
        f"{where}: DELETE answered HTTP 403 security_exception: action [cluster:admin/xpack/connector/delete] "
        "is unauthorized"
    ]
    assert run.ret == 1  # as on the target: the check errs
    assert run.outcome("transition[created->error]") == "error"
    assert (
        "could not delete connectors the check created on the reference cluster"
        in run.check("transition[created->error]")["message"]
    )
    prefix = left[0].rsplit("-", 1)[0]
    sweep = f"*connector-contract sweep --connector-url {reference.url} --prefix {prefix}"
    run.result.stdout.fnmatch_lines([f"NOT DELETED {where}: *", sweep])


# -- sweep --------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("connector_id", "prefix", "swept"),
    [
        ("ccontract-1a2b3c4d-7", "ccontract", True),
        ("ccontract-1a2b3c4d-gw3-12", "ccontract", True),
        ("ccontract-1a2b3c4d-probe", "ccontract", True),
        ("ccontract-1a2b3c4d-7", "ccontract-1a2b3c4d", True),
        ("ccontract-1a2b3c4d-7", "ccontract-99999999", False),
        ("ccontract-theirs", "ccontract", False),
        ("ccontract-1a2b3c4d", "ccontract", False),
        ("ccontract-1a2b3c4d-7-x", "ccontract", False),
        ("cc-1a2b3c4d-7", "ccontract", False),
        ("team-ccontract-1a2b3c4d-7", "ccontract", False),
    ],
)
def test_sweep_recognises_only_ids_of_the_suites_shape(connector_id: str, prefix: str, swept: bool) -> None:
    assert is_run_connector_id(connector_id, prefix) is swept


@pytest.mark.parametrize("version", ["8.14.3", "9.1.0"])
def test_sweep_deletes_leftovers_of_earlier_runs_and_only_those(
    version: str, start_target: Callable[..., ReferenceServer], pytester: pytest.Pytester
) -> None:
    target = ReferenceTarget(version)
    server = start_target(target)
    before = _plant_others(target)
    kept = pytester.runpytest_subprocess("--connector-url", server.url, "--connector-keep",
                                         "connector-contract::transition[connected->error]")  # fmt: skip
    assert kept.ret == 0
    if target.soft_delete:  # a soft-deleted leftover must go too
        target.handle("DELETE", f"/_connector/{_run_ids(target)[0]}", {}, {}, b"")
    leftovers = _run_ids(target)
    assert leftovers
    command = [sys.executable, "-m", "pytest_connector_contract.cli.main", "sweep", "--connector-url", server.url,
               "--prefix", "ccontract"]  # fmt: skip
    dry = subprocess.run([*command, "--dry-run"], capture_output=True, text=True, timeout=60)
    assert dry.returncode == 0, dry.stderr
    assert _run_ids(target) == leftovers
    assert all(f"would delete {cid}" in dry.stdout for cid in leftovers)
    done = subprocess.run(command, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert _run_ids(target) == []
    assert _bytes_of_others(target) == before


def test_sweep_without_a_target_is_a_usage_error() -> None:
    command = [sys.executable, "-m", "pytest_connector_contract.cli.main", "sweep", "--prefix", "x"]
    env = {**os.environ, "CONNECTOR_URL": ""}
    done = subprocess.run(command, capture_output=True, text=True, timeout=60, env=env)
    assert done.returncode == 2
    assert "--connector-url" in done.stderr


# -- secrets --------------------------------------------------------------------------------------------
API_KEY = "zZ9-recognisable-api-key-1337"
PASSWORD = "hunter2-recognisable-pass"


class EchoesCredentials(ReferenceTarget):
    """Refuses one transition with a reason that echoes the Authorization header back (a careless proxy)."""

    def reject_transition(self, doc: Any, current: str, requested: str) -> Response:
        return self.error(400, "status_exception", f"refused for {self._auth}")

    def handle(self, method: str, path: str, query: Any, headers: Any, body: bytes) -> Response:
        self._auth = dict(headers).get("Authorization", "")
        return super().handle(method, path, query, headers, body)


@pytest.mark.parametrize(
    ("args", "env", "secrets"),
    [
        (
            (),
            {"CONNECTOR_API_KEY": f"key-id:{API_KEY}"},
            [API_KEY, base64.b64encode(f"key-id:{API_KEY}".encode()).decode()],
        ),
        (
            ("--connector-user", "elastic"),
            {"CONNECTOR_PASSWORD": PASSWORD},
            [PASSWORD, base64.b64encode(f"elastic:{PASSWORD}".encode()).decode()],
        ),
        (("--connector-bearer-token", API_KEY), {}, [API_KEY]),
    ],
    ids=["api-key", "basic", "bearer"],
)
def test_no_secret_reaches_any_output(
    args: tuple[str, ...],
    env: dict[str, str],
    secrets: list[str],
    pytester: pytest.Pytester,
    start_target: Callable[..., ReferenceServer],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    server = start_target(EchoesCredentials())
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    out = pytester.path
    result = pytester.runpytest_subprocess(
        "--connector-url", server.url, *args, "--connector-json", str(out / "r.json"),
        "--html", str(out / "r.html"), "--self-contained-html", "--junitxml", str(out / "r.xml"),
        "--log-file", str(out / "r.log"), "--log-file-level", "DEBUG", "-rA", "-vv", "-l",
        "--connector-timeout", "5",
    )  # fmt: skip
    assert result.ret == 1  # the echoing refusals fail their checks
    texts = {
        "terminal": result.stdout.str() + result.stderr.str(),
        **{name: (out / name).read_text(encoding="utf-8") for name in ("r.json", "r.html", "r.xml", "r.log")},
    }
    assert "<redacted>" in texts["r.json"]
    for where, text in texts.items():
        for secret in secrets:
            assert secret not in text, f"a secret reached the {where} output"


#: what makes a credential's forms differ: JSON escapes (quote, backslash), URL-encoding (space, slash, plus,
#: ampersand, equals, percent)
_SPECIAL = '"\\ /+&=%'
_KEY = f"kEy{_SPECIAL}-id-and-key-4242"
_ENCODED_KEY = base64.b64encode(f"enc-id:kEy{_SPECIAL}-encoded-4242".encode()).decode()
_PASSWORD = f"pä{_SPECIAL}-basic-4242"
_TOKEN = f"tok{_SPECIAL}-bearer-4242"
_READONLY_KEY = f"rO{_SPECIAL}-readonly-4242"
_PROXY_PASSWORD = f"px{_SPECIAL}-proxy-4242"


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


#: credential kind -> (its secret, the base64 form its header carries or None, how the run is given it)
CREDENTIALS: dict[str, tuple[str, str | None, Callable[[str], list[str]]]] = {
    "api-key-encoded": (_ENCODED_KEY, None, lambda url: ["--connector-api-key", _ENCODED_KEY]),
    "api-key-id-key": (_KEY, _b64(f"key-id:{_KEY}"), lambda url: ["--connector-api-key", f"key-id:{_KEY}"]),
    "basic": (
        _PASSWORD,
        _b64(f"elastic:{_PASSWORD}"),
        lambda url: ["--connector-user", "elastic", "--connector-password", _PASSWORD],
    ),
    "bearer": (_TOKEN, None, lambda url: ["--connector-bearer-token", _TOKEN]),
    "readonly-api-key": (
        _READONLY_KEY,
        _b64(f"ro-id:{_READONLY_KEY}"),
        lambda url: [
            "--connector-api-key",
            "main-id:main-key",
            "--connector-readonly-api-key",
            f"ro-id:{_READONLY_KEY}",
        ],
    ),
    "proxy-password": (
        _PROXY_PASSWORD,
        base64.b64encode(f"ci-bot:{_PROXY_PASSWORD}".encode("latin-1")).decode(),
        lambda proxy: ["--connector-proxy", proxy.replace("://", f"://ci-bot:{quote(_PROXY_PASSWORD, safe='')}@")],
    ),
}
FORMS: dict[str, Callable[[str, str | None], str | None]] = {
    "raw": lambda secret, header: secret,
    "json-escaped": lambda secret, header: json.dumps(secret)[1:-1],
    "url-encoded": lambda secret, header: quote(secret, safe=""),
    "url-encoded-plus": lambda secret, header: quote_plus(secret),
    "base64": lambda secret, header: header,
}


class EchoesASecret(ReferenceTarget):
    """Refuses a transition with a reason, and a header, that echo ``echo`` back (a careless proxy or a
    debugging build); a conformant server never does."""

    def __init__(self, echo: str) -> None:
        super().__init__()
        self.echo = echo
        self.echoed = 0

    def reject_transition(self, doc: Any, current: str, requested: str) -> Response:
        self.echoed += 1
        response = self.error(400, "status_exception", f"refused for {self.echo}")
        response.headers["X-Echo"] = self.echo
        return response


def _views(name: str, text: str) -> list[str]:
    """A report as written and as read: HTML and XML entities resolved, JSON strings decoded."""
    views = [text, html.unescape(text)]
    if name.endswith((".json", ".jsonl")):
        documents = (
            [json.loads(line) for line in text.splitlines() if line.strip()]
            if name.endswith("l")
            else [json.loads(text)]
        )
        views.append("\n".join(_strings(document) for document in documents))
    return views


def _strings(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, dict):
        return "\n".join(_strings(k) + "\n" + _strings(v) for k, v in value.items())
    if isinstance(value, list):
        return "\n".join(_strings(item) for item in value)
    return ""


def _outputs_of_a_run(pytester: pytest.Pytester, url: str, *args: str) -> tuple[dict[str, str], dict[str, Any]]:
    out = pytester.path
    result = pytester.runpytest_subprocess(
        "--connector-url", url, *args, "--connector-json", str(out / "r.json"),
        "--html", str(out / "r.html"), "--self-contained-html", "--junitxml", str(out / "r.xml"),
        "--connector-request-log", str(out / "r.jsonl"), "-rA", "-vv", "--connector-timeout", "5",
        "connector-contract::transition[created->connected]",
    )  # fmt: skip
    texts = {
        "terminal": result.stdout.str() + result.stderr.str(),
        **{name: (out / name).read_text(encoding="utf-8") for name in ("r.json", "r.html", "r.xml", "r.jsonl")},
    }
    assert result.ret == 1, texts["terminal"]  # the echoing refusal fails its check
    return texts, json.loads(texts["r.json"])


#: every credential kind in every form it takes (the ones whose header carries it as it is have no base64 form)
_KIND_FORMS = [(kind, form) for kind, (secret, header, _) in CREDENTIALS.items() for form in FORMS
               if FORMS[form](secret, header) is not None]  # fmt: skip


@pytest.mark.parametrize(("kind", "form"), _KIND_FORMS, ids=[f"{kind}-{form}" for kind, form in _KIND_FORMS])
def test_a_secret_in_any_form_reaches_no_output(
    kind: str, form: str, pytester: pytest.Pytester, start_target: Callable[..., ReferenceServer]
) -> None:
    from support.proxy import ForwardingProxy

    secret, header, arguments = CREDENTIALS[kind]
    echo = FORMS[form](secret, header)
    assert echo is not None
    target = EchoesASecret(echo)
    server = start_target(target)
    with ForwardingProxy() as proxy:
        args = arguments(proxy.plain_url if kind == "proxy-password" else server.url)
        texts, report = _outputs_of_a_run(pytester, server.url, *args)
    assert target.echoed
    scripts = [check["reproduction"] for check in report["checks"] if check.get("reproduction")]
    assert scripts, "no curl script to look into"
    assert '"Authorization: $CONNECTOR_AUTH"' in "".join(scripts) or kind == "proxy-password"
    assert kind != "proxy-password" or proxy.requests, "the run did not go through the proxy"
    assert "<redacted>" in texts["r.json"]
    for where, text in {**texts, "curl scripts": "\n".join(scripts)}.items():
        for view in _views(where, text):
            assert echo not in view, f"the {form} form of the {kind} reached the {where} output"


#: the reference cluster's credentials (--connector-reference-*): kind -> (secret, its header's base64 form, args)
REFERENCE_CREDENTIALS: dict[str, tuple[str, str | None, list[str]]] = {
    "reference-api-key": (_KEY, _b64(f"ref-id:{_KEY}"), ["--connector-reference-api-key", f"ref-id:{_KEY}"]),
    "reference-basic": (
        _PASSWORD,
        _b64(f"elastic:{_PASSWORD}"),
        ["--connector-reference-user", "elastic", "--connector-reference-password", _PASSWORD],
    ),
    "reference-bearer": (_TOKEN, None, ["--connector-reference-bearer-token", _TOKEN]),
}
_REFERENCE_FORMS = [(kind, form) for kind, (secret, header, _) in REFERENCE_CREDENTIALS.items() for form in FORMS
                    if FORMS[form](secret, header) is not None]  # fmt: skip


@pytest.mark.parametrize(("kind", "form"), _REFERENCE_FORMS, ids=[f"{kind}-{form}" for kind, form in _REFERENCE_FORMS])
def test_a_secret_of_the_reference_cluster_in_any_form_reaches_no_output(
    kind: str, form: str, pytester: pytest.Pytester, start_target: Callable[..., ReferenceServer]
) -> None:
    """The reference echoes its credential: the comparison shows its answer beside the target's, the recording
    and every report hold neither."""
    secret, header, arguments = REFERENCE_CREDENTIALS[kind]
    echo = FORMS[form](secret, header)
    assert echo is not None
    reference = EchoesASecret(echo)
    target, reference_server = start_target(), start_target(reference)
    recording = pytester.path / "recording.json"
    texts, report = _outputs_of_a_run(
        pytester, target.url, "--connector-reference-url", reference_server.url, *arguments,
        "--connector-record", str(recording),
    )  # fmt: skip
    texts["recording.json"] = recording.read_text(encoding="utf-8")
    assert reference.echoed
    assert report["differential"]["differing"], "the echoing reference answers unlike the target"
    assert "<redacted>" in texts["r.json"]
    for where, text in texts.items():
        for view in _views(where, text):
            assert echo not in view, f"the {form} form of the {kind} reached the {where} output"


def test_a_short_password_in_the_url_reaches_no_output_in_headers_and_urls(
    pytester: pytest.Pytester, start_target: Callable[..., ReferenceServer]
) -> None:
    """Too short for free-text redaction, the password is still never in a header or a URL."""
    header = _b64("elastic:xy")
    target = EchoesASecret(f"Basic {header} http://elastic:xy@es.test:9200/")
    server = start_target(target)
    texts, report = _outputs_of_a_run(pytester, server.url.replace("://", "://elastic:xy@"))
    assert target.echoed
    exchanges = [e for check in report["checks"] for e in check.get("exchanges") or []]
    assert exchanges
    assert {e["request"]["headers"]["Authorization"] for e in exchanges} == {"<redacted>"}
    for where, text in texts.items():
        for view in _views(where, text):
            assert header not in view, where
            assert "elastic:xy@" not in view, where


# -- robustness --------------------------------------------------------------------------------------------
class Flaky(ReferenceTarget):
    """Answers 503 to the first attempt of every create, GET and DELETE of a connector (``_status`` behaves),
    or to every one of them with ``always``; records what it answered."""

    def __init__(self, *, always: bool = False) -> None:
        super().__init__()
        self.always = always
        self.seen: set[tuple[str, str]] = set()
        self.answered: list[tuple[str, str, int]] = []

    def handle(self, method: str, path: str, query: Any, headers: Any, body: bytes) -> Response:
        key = (method, path)
        if path.startswith("/_connector/") and "_status" not in path and (self.always or key not in self.seen):
            self.seen.add(key)
            response = self.error(503, "unavailable_shards_exception", "try again")
        else:
            response = super().handle(method, path, query, headers, body)
        self.answered.append((method, path, response.status))
        return response


class RecordedSleep:
    """Stands in for time.sleep: records each wait and returns at once."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


def _client(url: str, sleep: RecordedSleep) -> ConnectorClient:
    return ConnectorClient(url, timeout=5.0, sleep=sleep)


def test_a_setup_request_answered_503_is_retried_after_the_first_delay(
    start_target: Callable[..., ReferenceServer],
) -> None:
    server = start_target(Flaky())
    sleep = RecordedSleep()
    client = _client(server.url, sleep)
    try:
        answer = client.put_connector("retried", {"index_name": "idx-retried"}, retry=True)
    finally:
        client.close()
    assert (answer.status, answer.attempts) == (201, 2)
    assert sleep.waits == [RETRY_DELAYS[0]]
    assert server.target.answered == [("PUT", "/_connector/retried", 503), ("PUT", "/_connector/retried", 201)]


def test_a_setup_request_is_tried_once_per_delay_then_gives_the_last_answer(
    start_target: Callable[..., ReferenceServer],
) -> None:
    server = start_target(Flaky(always=True))
    sleep = RecordedSleep()
    client = _client(server.url, sleep)
    try:
        answer = client.get_connector("never", retry=True)
    finally:
        client.close()
    assert (answer.status, answer.attempts) == (503, len(RETRY_DELAYS) + 1)
    assert sleep.waits == list(RETRY_DELAYS)
    assert [status for _, _, status in server.target.answered] == [503] * (len(RETRY_DELAYS) + 1)


def test_an_unreachable_target_is_retried_before_giving_up() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # bound, never listening: connections are refused
        sleep = RecordedSleep()
        client = _client(f"http://127.0.0.1:{port}", sleep)
        try:
            with pytest.raises(TargetUnreachable):
                client.get_connector("x", retry=True)
        finally:
            client.close()
    assert sleep.waits == list(RETRY_DELAYS)


def test_without_retry_a_503_is_the_answer(start_target: Callable[..., ReferenceServer]) -> None:
    server = start_target(Flaky())
    sleep = RecordedSleep()
    client = _client(server.url, sleep)
    try:
        answer = client.get_connector("once")
    finally:
        client.close()
    assert (answer.status, answer.attempts) == (503, 1)
    assert sleep.waits == []
    assert len(server.target.answered) == 1


def test_a_run_against_a_flaky_target_retries_its_setup_and_passes(
    start_target: Callable[..., ReferenceServer], run_suite: Callable[..., Any]
) -> None:
    server = start_target(Flaky())
    run = run_suite(server.url, "connector-contract::transition[created->error]")
    assert run.ret == 0, run.result.stdout.str()
    refused = [(method, path) for method, path, status in server.target.answered if status == 503]
    assert {method for method, _ in refused} >= {"PUT", "GET"}  # the create and the read-back were refused
    for method, path in refused:  # ... and each was sent again and answered
        assert any(m == method and p == path and s != 503 for m, p, s in server.target.answered), (method, path)


class UnderTestFlaky(ReferenceTarget):
    """Answers 503 to the first request for a transition to connected from configured, then behaves."""

    answered: set[str] = set()

    def handle_update_status(self, request: Request, connector_id: str) -> Response:
        doc = self.get_connector(connector_id)
        if doc and doc["status"] == "configured" and b"connected" in request.body and connector_id not in self.answered:
            self.answered.add(connector_id)
            return self.error(503, "unavailable_shards_exception", "try again")
        return super().handle_update_status(request, connector_id)


def test_the_request_under_test_is_never_retried(
    start_target: Callable[..., ReferenceServer], run_suite: Callable[..., Any]
) -> None:
    server = start_target(UnderTestFlaky())
    run = run_suite(server.url, "connector-contract::transition[configured->connected]")
    assert run.ret == 1
    assert run.outcome("transition[configured->connected]") == "failed"
    assert "got HTTP 503" in run.check("transition[configured->connected]")["problems"][0]


class FakeClock:
    """Time that moves only when slept, with an optional oversleep to imitate a loaded machine; records
    each wait."""

    def __init__(self, oversleep: float = 0.0) -> None:
        self.now = 100.0
        self.oversleep = oversleep
        self.starts: list[float] = []
        self.waits: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.waits.append(seconds)
        self.now += seconds + self.oversleep


@pytest.mark.parametrize("oversleep", [0.0, 0.09])
def test_rate_limiter_keeps_request_starts_on_schedule(oversleep: float) -> None:
    clock = FakeClock(oversleep)
    limiter = RateLimiter(4.0, clock=lambda: clock.now, sleep=clock.sleep)  # 4 a second: a slot every 0.25 s
    for _ in range(9):
        limiter.wait()
        clock.starts.append(clock.now)
    first = clock.starts[0]
    for index, start in enumerate(clock.starts):
        assert start >= first + index * 0.25 - 1e-9  # never ahead of the schedule
    # within any window of one second at most rate * window + 1 starts
    assert all(sum(1 for t in clock.starts if s <= t < s + 1.0) <= 5 for s in clock.starts)


def test_no_rate_limit_means_no_waiting() -> None:
    limiter = RateLimiter(None)
    assert limiter.interval == 0.0


# -- one pace for the whole run -----------------------------------------------------------------------------
class Stamped(ReferenceTarget):
    """Stamps every request it answers with the fake clock's time (the time its slot came)."""

    def __init__(self, clock: FakeClock) -> None:
        super().__init__()
        self.clock = clock
        self.stamps: list[tuple[float, str, str]] = []

    def handle(self, method: str, path: str, query: Any, headers: Any, body: bytes) -> Response:
        self.stamps.append((self.clock.now, method, path))
        return super().handle(method, path, query, headers, body)


def _paced_state(settings: Settings, clock: FakeClock, url: str, *, rate_share: int = 1) -> RunState:
    """A process's run state whose one limiter runs on ``clock`` (4 requests a second)."""
    state = RunState(settings, load_spec(), run_prefix="ccontract-0000aaaa", worker_id=None, suite=True,
                     selection=None, rate_share=rate_share)  # fmt: skip
    state.limiter = RateLimiter(4.0, clock=clock, sleep=clock.sleep)
    state.target_url = url
    return state


def _each_request_took_its_own_slot(stamps: list[float], interval: float) -> None:
    """Requests sent together (the racing ones) take one slot each: the slots before them stayed empty."""
    times = sorted(set(stamps))
    for previous, current in itertools.pairwise(times):
        together = stamps.count(current)
        assert current - previous >= together * interval - 1e-9, (previous, current, together)
    # ... so that within any second there are at most rate + 1 starts
    assert all(sum(1 for t in stamps if s <= t < s + 1.0) <= 5 for s in stamps)


def test_every_client_of_a_process_shares_its_one_limiter_of_the_workers_share() -> None:
    settings = Settings(max_rps=8.0, api_key=Secret("id:key"), readonly_api_key=Secret("ro:key"))
    state = RunState(settings, load_spec(), run_prefix="ccontract-0000aaaa", worker_id="gw1", suite=True,
                     selection=None, rate_share=4)  # fmt: skip
    state.target_url = "http://127.0.0.1:9"
    clients = [state.client(), state.client()]
    readonly = state.readonly_client()
    assert readonly is not None
    try:
        assert all(client.limiter is state.limiter for client in [*clients, readonly])
        assert state.limiter.interval == pytest.approx(4 / 8.0)  # 8 a second for the run, 2 for each of 4 workers
    finally:
        for client in [*clients, readonly]:
            client.close()


def test_clients_of_one_process_keep_the_runs_rate_together(
    start_target: Callable[..., ReferenceServer],
) -> None:
    clock = FakeClock()
    server = start_target(Stamped(clock))
    settings = Settings(max_rps=4.0, readonly_api_key=Secret("ro:key"))
    state = _paced_state(settings, clock, server.url)
    readonly = state.readonly_client()
    assert readonly is not None
    clients = [state.client(), state.client(), state.client(), readonly]
    try:
        for _ in range(3):
            for client in clients:
                client.get_connector("absent")
    finally:
        for client in clients:
            client.close()
    stamps = [stamp for stamp, _, _ in server.target.stamps]
    assert len(stamps) == 12
    _each_request_took_its_own_slot(stamps, 0.25)


def test_racing_clients_warm_up_and_race_within_the_runs_rate(
    start_target: Callable[..., ReferenceServer],
) -> None:
    from pytest_connector_contract.checks.connectors import ConnectorFactory
    from pytest_connector_contract.checks.preflight import identify
    from pytest_connector_contract.checks.race import race
    from pytest_connector_contract.checks.run import Run

    clock = FakeClock()
    server = start_target(Stamped(clock))
    settings = Settings(max_rps=4.0, race_rounds=2)
    state = _paced_state(settings, clock, server.url)
    client = state.client()
    try:
        target = identify(client, state.spec, profile=settings.profile, probe_id="ccontract-0000aaaa-probe")
        factory = ConnectorFactory(client, state.spec, id_prefix=state.id_prefix, ledger=state.ledger,
                                   soft_delete=target.soft_delete)  # fmt: skip
        check = next(c for c in state.spec.optional_checks if c.kind == "race")
        run = Run(check, spec=state.spec, target=target, client=client, factory=factory, settings=settings,
                  new_client=state.client)  # fmt: skip
        race(run)
        assert factory.cleanup() == []
    finally:
        client.close()
    assert run.race is not None
    assert run.race["rounds_run"] == 2
    warm_ups = [(t, p) for t, m, p in server.target.stamps if m == "GET" and p.startswith("/_connector/")]
    assert len(warm_ups) >= 2 * 2  # each racing client's read before each round, counted below
    stamps = [stamp for stamp, _, _ in server.target.stamps]
    _each_request_took_its_own_slot(stamps, 0.25)


class AsksToWait(ReferenceTarget):
    """Answers ``status`` with ``Retry-After: <retry_after>`` to the first ``times`` GETs of a connector."""

    def __init__(self, status: int, retry_after: str, times: int = 1) -> None:
        super().__init__()
        self.status, self.retry_after, self.times = status, retry_after, times
        self.answered: list[int] = []

    def handle(self, method: str, path: str, query: Any, headers: Any, body: bytes) -> Response:
        if method == "GET" and path.startswith("/_connector/") and len(self.answered) < self.times:
            response = self.error(self.status, "unavailable", "busy")
            response.headers["Retry-After"] = self.retry_after
        else:
            response = super().handle(method, path, query, headers, body)
        self.answered.append(response.status)
        return response


#: the wall clock's time when the target's HTTP-date says "three seconds from now"
_WALL = 1_796_000_000.0


@pytest.mark.parametrize(
    ("status", "retry_after", "times", "waits", "answered"),
    [
        (503, "2", 1, [2.0], [503, 404]),
        (429, "2", 1, [2.0], [429, 404]),
        (429, email.utils.formatdate(_WALL + 3, usegmt=True), 1, [3.0], [429, 404]),
        (503, "0", 1, [RETRY_DELAYS[0]], [503, 404]),  # never sooner than the backoff
        (503, "soon", 1, [RETRY_DELAYS[0]], [503, 404]),  # not a Retry-After: the backoff
        (502, "2", 1, [RETRY_DELAYS[0]], [502, 404]),  # only 429 and 503 carry a Retry-After worth honouring
        (503, "3600", 9, [5.0], [503, 503]),  # bounded by the 5 s timeout, then the answer is the last
        (503, "3", 9, [3.0, 2.0], [503, 503, 503]),  # 3 s, then the 2 s left of the timeout
    ],
    ids=["503-seconds", "429-seconds", "429-http-date", "zero", "unparsable", "502-ignored", "huge", "budget"],
)
def test_a_retried_setup_request_honours_retry_after_within_its_timeout(
    status: int,
    retry_after: str,
    times: int,
    waits: list[float],
    answered: list[int],
    start_target: Callable[..., ReferenceServer],
) -> None:
    server = start_target(AsksToWait(status, retry_after, times))
    clock = FakeClock()
    client = ConnectorClient(server.url, timeout=5.0, clock=clock, sleep=clock.sleep, wall_clock=lambda: _WALL)
    try:
        answer = client.get_connector("absent", retry=True)
    finally:
        client.close()
    assert clock.waits == waits
    assert server.target.answered == answered
    assert answer.status == answered[-1]


@pytest.mark.parametrize(
    ("cloud_id", "url"),
    [
        (
            "my-deployment:" + base64.b64encode(b"us-central1.gcp.cloud.es.io$abc123$kib456").decode(),
            "https://abc123.us-central1.gcp.cloud.es.io:443",
        ),
        (
            "x:" + base64.b64encode(b"eu-west-1.aws.found.io:9243$es0$kb0").decode(),
            "https://es0.eu-west-1.aws.found.io:9243",
        ),
    ],
)
def test_cloud_id_decodes_to_the_deployment_url(cloud_id: str, url: str) -> None:
    assert decode_cloud_id(cloud_id) == url


def test_cloud_id_becomes_the_target(pytester: pytest.Pytester) -> None:
    cloud_id = "d:" + base64.b64encode(b"localhost:1$nohost$kb").decode()
    result = pytester.runpytest_subprocess("--connector-cloud-id", cloud_id, "--connector-timeout", "2")
    assert result.ret == pytest.ExitCode.INTERRUPTED
    assert "cannot reach the target https://nohost.localhost:1" in result.stdout.str() + result.stderr.str()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--connector-api-key", "k", "--connector-bearer-token", "t"), "give one kind of credentials"),
        (("--connector-user", "u"), "needs both --connector-user and --connector-password"),
        (("--connector-client-key", "{file}"), "--connector-client-key needs --connector-client-cert"),
        (("--connector-ca-certs", "/nonexistent/ca.pem"), "no such file"),
        (("--connector-insecure", "--connector-ca-certs", "{file}"), "contradict"),
        (("--connector-max-rps", "0"), "requests per second must be more than 0"),
    ],
)
def test_access_options_are_validated(pytester: pytest.Pytester, args: tuple[str, ...], message: str) -> None:
    file = pytester.makefile(".pem", ca="not really a certificate")
    result = pytester.runpytest_subprocess("--connector-url", "embedded", *(a.format(file=file) for a in args))
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert message in result.stderr.str()


def test_insecure_warns_once_and_loudly(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest_subprocess("--connector-url", "embedded", "--connector-insecure",
                                           "connector-contract::transition[created->error]")  # fmt: skip
    assert result.ret == 0
    text = result.stdout.str()
    assert text.count("TLS certificate is NOT verified") == 1
    assert "InsecureRequestWarning" not in text


def test_header_names_the_run_prefix(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest_subprocess("--connector-url", "embedded", "--connector-id-prefix", "team-a",
                                           "connector-contract::transition[created->error]")  # fmt: skip
    result.stdout.fnmatch_lines(["connector-contract: target http://127.0.0.1:* connector ids team-a-*"])


def test_repo_has_no_committed_certificates(repo_root: Path) -> None:
    tracked = subprocess.run(["git", "ls-files"], cwd=repo_root, capture_output=True, text=True).stdout.split()
    assert not [p for p in tracked if p.endswith((".pem", ".crt", ".key"))]
