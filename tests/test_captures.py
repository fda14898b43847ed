"""The captured requests of the official clients: data that matches its schema, holds no credential and no
release number, covers every client, option and case, and is still what the pinned clients send."""

from __future__ import annotations

import dataclasses
import gzip
import json
import re
from importlib import resources

import pytest
from support.capturing import capture, client_command

from pytest_connector_contract.contract import schemas
from pytest_connector_contract.contract.captures import (
    CONNECTOR_ID,
    VERSION,
    Capture,
    CapturedRequest,
    blank_versions,
    load_captures,
)

CAPTURES = load_captures()


def _stored() -> dict[str, object]:
    text = resources.files("pytest_connector_contract.contract").joinpath("captures.json").read_text("utf-8")
    data: dict[str, object] = json.loads(text)
    return data


def test_the_stored_captures_match_their_schema_and_read_back_as_stored() -> None:
    data = _stored()
    assert schemas.problems("captures", data) == []
    assert [c.to_json() for c in CAPTURES] == data["captures"]
    assert data["options"] == capture.OPTION_NOTES  # what each option means is said where it is stored


def test_every_client_major_option_and_case_is_captured_once() -> None:
    keys = [c.key for c in CAPTURES]
    assert len(keys) == len(set(keys))
    clients = {(c.client, c.major) for c in CAPTURES}
    assert clients == {
        ("elasticsearch-py", 9),
        ("elasticsearch-py", 8),
        ("elasticsearch-js", 8),
        ("elasticsearch-js", 9),
    }
    assert len(CAPTURES) == len(clients) * len(capture.OPTIONS) * len(capture.CASES)
    assert {c.package for c in CAPTURES if c.client == "elasticsearch-py"} == {"elasticsearch", "elasticsearch8"}


def test_no_credential_host_or_release_number_is_stored() -> None:
    text = json.dumps(_stored())
    assert capture.API_KEY not in text
    assert "ApiKey" not in text
    assert "127.0.0.1" not in text
    for c in CAPTURES:
        assert c.request.header("Authorization") is None
        assert CONNECTOR_ID in c.request.path
        assert "capture-" not in c.request.path
        for name in ("User-Agent", "x-elastic-client-meta"):
            value = c.request.header(name)
            assert value is not None, c.name
            assert VERSION in value, c.name
            assert not re.search(r"\d+\.\d+", value), (c.name, value)


@pytest.mark.parametrize(
    ("name", "value", "blanked"),
    [
        (
            "User-Agent",
            "elasticsearch-py/9.1.0 (Python/3.11.2; elastic-transport/9.1.0)",
            "elasticsearch-py/<version> (Python/<version>; elastic-transport/<version>)",
        ),
        (
            "x-elastic-client-meta",
            "es=8.19.0p,py=3.12.1,t=8.19.0,ur=2.5.0",
            "es=<version>,py=<version>,t=<version>,ur=<version>",
        ),
        (
            "user-agent",
            "elasticsearch-js/9.4.3 (linux 6.8.0-1017-aws-x64; Node.js v20.20.2; Transport 9.4.0)",
            "elasticsearch-js/<version> (linux <version>; Node.js <version>; Transport <version>)",
        ),
        ("Accept", "application/vnd.elasticsearch+json; compatible-with=9", None),
    ],
)
def test_version_tokens_are_blanked_in_the_versioned_headers_only(name: str, value: str, blanked: str | None) -> None:
    assert blank_versions(name, value) == (value if blanked is None else blanked)


def test_a_comparison_ignores_the_release_and_the_bytes_gzip_varies_but_nothing_else() -> None:
    py9 = [c for c in CAPTURES if c.client == "elasticsearch-py" and c.major == 9]
    # A new patch release whose gzip wrote another time into its header (and another length): no difference.
    refreshed = []
    for c in py9:
        request = c.request
        if request.header("Content-Encoding") == "gzip":
            assert request.body is not None
            body = gzip.compress(gzip.decompress(request.body), mtime=1)
            headers = tuple((n, "999" if n.lower() == "content-length" else v) for n, v in request.headers)
            request = dataclasses.replace(request, body=body, headers=headers)
        refreshed.append(dataclasses.replace(c, version="9.99.0", request=request))
    assert sum(c.request != r.request for c, r in zip(py9, refreshed, strict=True)) == 4  # compression, all
    assert capture.differences(CAPTURES, refreshed) == []
    # A header more, another body, another query, or a capture missing: each is a difference.
    first = refreshed[0]
    more = dataclasses.replace(first.request, headers=(*first.request.headers, ("x-new", "1")))
    other_body = dataclasses.replace(first.request, body=b'{"status":"error"}')
    other_query = dataclasses.replace(first.request, query="pretty=true")
    for request in (more, other_body, other_query):
        found = capture.differences(CAPTURES, [dataclasses.replace(first, request=request), *refreshed[1:]])
        assert len(found) == 1, found
        assert found[0].startswith(f"{first.name} differs"), found
    assert capture.differences(CAPTURES, refreshed[1:]) == [f"{first.name}: stored, not captured now"]


def test_a_refresh_replaces_only_the_refreshed_clients_captures() -> None:
    py9 = [c for c in CAPTURES if c.client == "elasticsearch-py" and c.major == 9]
    newer = [dataclasses.replace(c, version="9.99.0") for c in py9]
    merged = capture.merged(CAPTURES, newer)
    assert [c.key for c in merged] == [c.key for c in CAPTURES]  # the stored order is stable
    assert [c.version for c in merged if c.client == "elasticsearch-py" and c.major == 9] == ["9.99.0"] * len(py9)
    assert [c for c in merged if (c.client, c.major) != ("elasticsearch-py", 9)] == [
        c for c in CAPTURES if (c.client, c.major) != ("elasticsearch-py", 9)
    ]


def test_stored_request_drops_credentials_and_puts_placeholders() -> None:
    raw = CapturedRequest(
        "PUT",
        "/_connector/capture-x/_status",
        "pretty=true",
        (("Host", "127.0.0.1:1234"), ("authorization", "ApiKey abc"), ("user-agent", "elasticsearch-py/9.1.0")),
        b"{}",
    )
    stored = capture.stored_request(raw, "capture-x")
    assert stored == CapturedRequest(
        "PUT",
        "/_connector/{connector_id}/_status",
        "pretty=true",
        (("Host", "{host}"), ("user-agent", "elasticsearch-py/<version>")),
        b"{}",
    )
    with pytest.raises(capture.CaptureError, match="no Authorization"):
        capture.stored_request(dataclasses.replace(raw, headers=raw.headers[:1]), "capture-x")


@pytest.mark.parametrize("name", list(capture.CLIENTS))
def test_the_pinned_client_still_sends_what_is_stored(name: str) -> None:
    """Re-captures the client and compares. A difference means the pinned client (or the capture) changed: look
    at it, then refresh on purpose with ``python clients/capture.py --write``."""
    command = client_command(name)
    fresh: list[Capture] = capture.capture(capture.CLIENTS[name], command)
    assert len(fresh) == len(capture.OPTIONS) * len(capture.CASES)
    assert capture.differences(CAPTURES, fresh) == []
