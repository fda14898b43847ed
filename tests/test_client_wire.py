"""The client[...] checks: each request shape the official clients send, replayed, gets what that client needs.

The faithful reference passes them on every release (a later major's client skipped with the reason, as
Elasticsearch refuses it); a failing one's curl reproduction sends a compressed body byte for byte, with real curl.
"""

from __future__ import annotations

import base64
import gzip
import os
import shutil
import subprocess
from collections.abc import Callable
from typing import Any

import pytest
from support.capturing import capture
from support.mutants import IgnoresContentEncoding

from pytest_connector_contract.client.api import ConnectorClient
from pytest_connector_contract.client.replay import replay
from pytest_connector_contract.client.transport import Headers
from pytest_connector_contract.contract.captures import load_captures
from pytest_connector_contract.contract.spec import SUITE_NODE, load_spec
from pytest_connector_contract.reference.endpoints import ReferenceTarget
from pytest_connector_contract.reference.messages import Request, Response
from pytest_connector_contract.reference.server import ReferenceServer

SPEC = load_spec()
CLIENT_IDS = [check.id for check in SPEC.checks if check.kind == "client"]
NINE = [check_id for check_id in CLIENT_IDS if "-9/" in check_id]
CURL = shutil.which("curl")
SKIP_REASON = "a 9.x client is refused by Elasticsearch 8.x, correctly"


def test_one_check_per_request_shape_named_by_client_and_major_only() -> None:
    shapes = {c.request.shape for c in load_captures()}
    assert len(CLIENT_IDS) == len(shapes) == 32
    assert "client[elasticsearch-py-9/compression/accepted]" in CLIENT_IDS
    assert all(check_id.split("[")[1].split("/")[0].rsplit("-", 1)[1] in ("8", "9") for check_id in CLIENT_IDS)
    check = next(c for c in SPEC.checks if c.id == "client[elasticsearch-py-9/all/refused]")
    assert "elasticsearch-js-9" in check.statement  # the JavaScript client sends the same shape
    assert check.params["requirements"] == [
        "answer", "content-type", "product-header", "no-warning", "opaque-id", "compression", "filter-path",
        "error-trace",
    ]  # fmt: skip


@pytest.mark.parametrize("release", ["8.13.4", "8.14.3", "8.15.0", "8.19.0", "9.0.0", "9.1.0", "serverless"])
def test_the_faithful_reference_passes_every_client_check(
    release: str, start_target: Callable[..., ReferenceServer], run_suite: Callable[..., Any]
) -> None:
    target = (
        ReferenceTarget("8.11.0", build_flavor="serverless") if release == "serverless" else ReferenceTarget(release)
    )
    run = run_suite(start_target(target).url, "connector-contract::client[")
    assert run.ret == 0, run.result.stdout.str()
    assert run.report["summary"]["score"] == 1.0
    assert [c["id"] for c in run.report["checks"]] == CLIENT_IDS
    skipped = NINE if release.startswith("8.") else []
    assert run.not_passed() == dict.fromkeys(skipped, "skipped")
    for check_id in skipped:
        assert SKIP_REASON in run.check(check_id)["message"]


def test_a_cluster_without_detailed_errors_makes_error_trace_not_applicable(
    start_target: Callable[..., ReferenceServer], run_suite: Callable[..., Any]
) -> None:
    class NoDetailedErrors(ReferenceTarget):
        def handle(self, method: str, path: str, query: Any, headers: Any, body: bytes) -> Any:
            if "error_trace" in query:
                return self.simple_error(400, "error traces in responses are disabled.")
            return super().handle(method, path, query, headers, body)

    run = run_suite(start_target(NoDetailedErrors()).url, "-k", "client and elasticsearch-py-9")
    assert run.ret == 0, run.result.stdout.str()
    assert run.not_passed() == {
        f"client[elasticsearch-py-9/{option}/{case}]": "skipped"
        for option in ("error_trace", "all")
        for case in ("accepted", "refused")
    }
    assert "disables detailed errors" in run.check("client[elasticsearch-py-9/all/accepted]")["message"]


class CompressesAnswers(ReferenceTarget):
    """Compresses every answer whose request accepts gzip, as Elasticsearch does with http.compression on."""

    def finish(self, request: Request, response: Response) -> Response:
        answer = super().finish(request, response)
        if "gzip" in (request.headers.get("Accept-Encoding") or "") and answer.body:
            answer.body = gzip.compress(answer.body)
            answer.headers["Content-Encoding"] = "gzip"
        return answer


def test_a_compressed_answer_is_read_decoded_and_never_required(
    start_target: Callable[..., ReferenceServer], run_suite: Callable[..., Any]
) -> None:
    server = start_target(CompressesAnswers())
    stored = next(c for c in load_captures() if c.name == "elasticsearch-py 9 compression accepted").request
    capture.create_connector(server.target, "gzipped")
    client = ConnectorClient(server.url, timeout=30, trust_env=False)
    try:
        answer = replay(client, stored, "gzipped")
    finally:
        client.close()
    assert Headers(client.exchanges[-1].response_headers).get("Content-Encoding") == "gzip"
    assert answer.json == {"result": "updated"}
    run = run_suite(server.url, "-k", "client and (compression or all)")
    assert run.ret == 0, run.result.stdout.str()
    assert run.not_passed() == {}


@pytest.mark.skipif(CURL is None, reason="curl is not installed (apt-get install -y curl; .ci/run does)")
def test_the_reproduction_of_a_compressed_request_sends_its_bytes_with_real_curl(
    start_target: Callable[..., ReferenceServer], run_suite: Callable[..., Any]
) -> None:
    check_id = "client[elasticsearch-py-9/compression/accepted]"
    run = run_suite(start_target(IgnoresContentEncoding()).url, f"{SUITE_NODE}::{check_id}")
    check = run.check(check_id)
    assert check["outcome"] == "failed"
    (replayed,) = [e["request"] for e in check["exchanges"] if "body_base64" in e["request"]]
    stored = next(c for c in load_captures() if c.name == "elasticsearch-py 9 compression accepted").request
    assert base64.b64decode(replayed["body_base64"]) == stored.body
    assert replayed["body"] == '{"status":"needs_configuration"}'  # shown decoded
    with capture.CapturingServer() as server:
        done = subprocess.run(
            ["sh", "-c", check["reproduction"]],
            env={"PATH": os.environ["PATH"], "CONNECTOR_URL": server.url},
            capture_output=True,
            timeout=60,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        (sent,) = [r for r in server.requests if r.header("Content-Encoding") is not None]
    assert sent.body == stored.body
    assert sent.header("Content-Encoding") == "gzip"
    assert sent.header("Content-Type") == stored.header("Content-Type")
