"""No secret in any output: credentials (of the target, the reference cluster and the proxy), in every form they
take (raw, JSON-escaped, URL-encoded, base64), reach neither the terminal nor the JSON, HTML, JUnit, log,
request-log, recording or curl-script outputs, even when the server echoes them back. Real runs over real HTTP
against the reference target."""

from __future__ import annotations

import base64
import html
import json
import subprocess
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, quote_plus

import pytest
from support.runs import output, run_pytest_in

from pytest_connector_contract.reference.endpoints import ReferenceTarget
from pytest_connector_contract.reference.messages import Response
from pytest_connector_contract.reference.server import ReferenceServer

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
        "terminal": output(result),
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


def _outputs_of_a_run(out: Path, url: str, *args: str) -> tuple[dict[str, str], dict[str, Any]]:
    """One check's run in ``out`` with every output a user may keep: the terminal and the files it wrote."""
    result = run_pytest_in(
        out, "--connector-url", url, *args, "--connector-json", str(out / "r.json"),
        "--html", str(out / "r.html"), "--self-contained-html", "--junitxml", str(out / "r.xml"),
        "--connector-request-log", str(out / "r.jsonl"), "-rA", "-vv", "--connector-timeout", "5",
        "connector-contract::transition[created->connected]",
    )  # fmt: skip
    texts = {
        "terminal": output(result),
        **{name: (out / name).read_text(encoding="utf-8") for name in ("r.json", "r.html", "r.xml", "r.jsonl")},
    }
    assert result.ret == 1, texts["terminal"]  # the echoing refusal fails its check
    return texts, json.loads(texts["r.json"])


def _kind_forms(credentials: Mapping[str, tuple[str, str | None, object]]) -> list[tuple[str, str]]:
    """Every credential kind in every form it takes (the ones whose header carries it as it is have no base64
    form)."""
    return [(kind, form) for kind, (secret, header, _) in credentials.items() for form in FORMS
            if FORMS[form](secret, header) is not None]  # fmt: skip


def _assert_in_no_view(secret: str, texts: dict[str, str], what: str) -> None:
    """``secret`` is in none of the outputs, neither as written nor as read (see :func:`_views`)."""
    for where, text in texts.items():
        for view in _views(where, text):
            assert secret not in view, f"{what} reached the {where} output"


_KIND_FORMS = _kind_forms(CREDENTIALS)


def _every_form(secret: str, header: str | None) -> str:
    """What the target echoes: the secret in each of its forms at once, space-separated."""
    return " ".join(form for form in (make(secret, header) for make in FORMS.values()) if form is not None)


@dataclass
class EchoedRun:
    """One run against a target that echoed a credential in every form, and what it left."""

    target: EchoesASecret
    texts: dict[str, str]
    report: dict[str, Any]
    proxied: list[str]


@pytest.fixture(scope="module")
def echoed_run(
    tmp_path_factory: pytest.TempPathFactory, start_module_target: Callable[..., ReferenceServer]
) -> Callable[[str], EchoedRun]:
    """``echoed_run(kind)``: the run of one check given a credential of ``kind`` (of :data:`CREDENTIALS` or
    :data:`REFERENCE_CREDENTIALS`), against a target (or a reference cluster) that echoes that credential in
    every form it takes, in the reason and a header of its refusal. One run per kind, made when the first of
    its forms' tests asks and read by the others: each test then looks for its own form in every output."""
    from support.proxy import ForwardingProxy

    runs: dict[str, EchoedRun] = {}

    def run(kind: str) -> EchoedRun:
        if kind in runs:
            return runs[kind]
        out = tmp_path_factory.mktemp(kind)
        if kind in REFERENCE_CREDENTIALS:
            secret, header, reference_args = REFERENCE_CREDENTIALS[kind]
            echoing = EchoesASecret(_every_form(secret, header))
            target, reference = start_module_target(), start_module_target(echoing)
            recording = out / "recording.json"
            texts, report = _outputs_of_a_run(
                out, target.url, "--connector-reference-url", reference.url, *reference_args,
                "--connector-record", str(recording),
            )  # fmt: skip
            texts["recording.json"] = recording.read_text(encoding="utf-8")
            runs[kind] = EchoedRun(echoing, texts, report, [])
            return runs[kind]
        secret, header, arguments = CREDENTIALS[kind]
        echoing = EchoesASecret(_every_form(secret, header))
        server = start_module_target(echoing)
        with ForwardingProxy() as proxy:
            args = arguments(proxy.plain_url if kind == "proxy-password" else server.url)
            texts, report = _outputs_of_a_run(out, server.url, *args)
        runs[kind] = EchoedRun(echoing, texts, report, proxy.requests)
        return runs[kind]

    return run


@pytest.mark.parametrize(("kind", "form"), _KIND_FORMS, ids=[f"{kind}-{form}" for kind, form in _KIND_FORMS])
def test_a_secret_in_any_form_reaches_no_output(kind: str, form: str, echoed_run: Callable[[str], EchoedRun]) -> None:
    secret, header, _ = CREDENTIALS[kind]
    echo = FORMS[form](secret, header)
    assert echo is not None
    run = echoed_run(kind)
    assert run.target.echoed
    assert echo in run.target.echo
    scripts = [check["reproduction"] for check in run.report["checks"] if check.get("reproduction")]
    assert scripts, "no curl script to look into"
    assert '"Authorization: $CONNECTOR_AUTH"' in "".join(scripts) or kind == "proxy-password"
    assert kind != "proxy-password" or run.proxied, "the run did not go through the proxy"
    assert "<redacted>" in run.texts["r.json"]
    _assert_in_no_view(echo, {**run.texts, "curl scripts": "\n".join(scripts)}, f"the {form} form of the {kind}")


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
_REFERENCE_FORMS = _kind_forms(REFERENCE_CREDENTIALS)


@pytest.mark.parametrize(("kind", "form"), _REFERENCE_FORMS, ids=[f"{kind}-{form}" for kind, form in _REFERENCE_FORMS])
def test_a_secret_of_the_reference_cluster_in_any_form_reaches_no_output(
    kind: str, form: str, echoed_run: Callable[[str], EchoedRun]
) -> None:
    """The reference echoes its credential: the comparison shows its answer beside the target's, the recording
    and every report hold neither."""
    secret, header, _ = REFERENCE_CREDENTIALS[kind]
    echo = FORMS[form](secret, header)
    assert echo is not None
    run = echoed_run(kind)
    assert run.target.echoed
    assert echo in run.target.echo
    assert run.report["differential"]["differing"], "the echoing reference answers unlike the target"
    assert "<redacted>" in run.texts["r.json"]
    _assert_in_no_view(echo, run.texts, f"the {form} form of the {kind}")


def test_a_short_password_in_the_url_reaches_no_output_in_headers_and_urls(
    tmp_path: Path, start_target: Callable[..., ReferenceServer]
) -> None:
    """Too short for free-text redaction, the password is still never in a header or a URL."""
    header = _b64("elastic:xy")
    target = EchoesASecret(f"Basic {header} http://elastic:xy@es.test:9200/")
    server = start_target(target)
    texts, report = _outputs_of_a_run(tmp_path, server.url.replace("://", "://elastic:xy@"))
    assert target.echoed
    exchanges = [e for check in report["checks"] for e in check.get("exchanges") or []]
    assert exchanges
    assert {e["request"]["headers"]["Authorization"] for e in exchanges} == {"<redacted>"}
    _assert_in_no_view(header, texts, "the password's header form")
    _assert_in_no_view("elastic:xy@", texts, "the password in the URL")


def test_repo_has_no_committed_certificates(repo_root: Path) -> None:
    tracked = subprocess.run(["git", "ls-files"], cwd=repo_root, capture_output=True, text=True).stdout.split()
    assert not [p for p in tracked if p.endswith((".pem", ".crt", ".key"))]
