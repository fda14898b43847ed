"""What the official clients need: each request shape they send for ``connector.update_status`` (the captures of
``contract/captures.json``), replayed verbatim, gets the answer that client needs.

One check per shape (``client[elasticsearch-py-9/compression/accepted]``), its requirements those of spec.json's
``client`` section that apply to the request (``params["requirements"]``). What a check may not assert, because
a stock cluster's settings or a proxy in front of it change it, stays out (facts sheet, section 9): the whole
``Content-Type`` string (only its media type and ``compatible-with``), whether the answer is compressed, a license
``Warning`` (or a deprecation one on an error answer), and ``error_trace`` where the cluster disables detailed errors
(not applicable, with that reason).
"""

from __future__ import annotations

from typing import Any

from pytest_connector_contract.checks.run import JSON_MEDIA_TYPES, CheckSkipped, Run
from pytest_connector_contract.client.api import ApiResponse, untolerated_warnings
from pytest_connector_contract.client.replay import replay
from pytest_connector_contract.contract.captures import Capture, CapturedRequest, load_captures
from pytest_connector_contract.contract.spec import expect_transition

__all__ = ["check_client_wire"]

#: what Elasticsearch answers ``error_trace=true`` when ``http.detailed_errors.enabled`` is false
ERROR_TRACES_DISABLED = "error traces in responses are disabled."


def check_client_wire(run: Run) -> None:
    capture = _capture(run.check.params["capture"])
    requirements = set(run.check.params["requirements"])
    request = capture.request
    release_major = run.release[0]
    if capture.major > release_major:
        raise CheckSkipped(
            f"a {capture.major}.x client is refused by Elasticsearch {release_major}.x, correctly "
            f"(compatible-with={capture.major} names a later major; Serverless accepts both)"
        )
    expect = expect_transition(run.spec, run.profile, "created", capture.status)
    run.expected = f"{expect.describe()}; {', '.join(sorted(requirements - {'answer'}))} as the client needs"
    connector = run.factory()
    answer = replay(run.client, request, connector.id)
    run.observed = answer.summary()
    if "error-trace" in requirements and answer.status == 400 and ERROR_TRACES_DISABLED.encode() in answer.body:
        raise CheckSkipped(f"not applicable: the target disables detailed errors ({ERROR_TRACES_DISABLED!r})")
    expect = expect.for_answer(answer.status)
    if "compression" in requirements:
        run.require(
            answer.status == expect.http,
            f"a body sent with Content-Encoding: {request.header('Content-Encoding')} must be answered as the plain "
            f"one (Elasticsearch decodes it before reading it): expected HTTP {expect.http}, got {answer.summary()}",
        )
    if "filter-path" in requirements:
        if answer.status < 400:
            _require_filtered(run, answer, _param(request, "filter_path"))
        else:
            run.require(
                isinstance(answer.json, dict) and "error" in answer.json,
                f"the error body lacks error with filter_path={_param(request, 'filter_path')}: Elasticsearch never "
                f"filters an error body, got {answer.body[:200]!r}",
            )
    if "error-trace" in requirements and not expect.accepted:
        _require_stack_traces(run, answer)
    run.require_transition(expect, answer, connector)
    _require_headers(run, answer, request, requirements)
    run.finish()


def _capture(key: list[Any]) -> Capture:
    return next(capture for capture in load_captures() if list(capture.key) == key)


def _param(request: CapturedRequest, name: str) -> str | None:
    for pair in request.query.split("&"):
        key, _, value = pair.partition("=")
        if key == name:
            return value
    return None


def _require_headers(run: Run, answer: ApiResponse, request: CapturedRequest, requirements: set[str]) -> None:
    """The headers the client reads on the answer to its request."""
    accept = _media_type(request.header("Accept"))
    content_type = _media_type(answer.headers.get("Content-Type"))
    if accept is not None and accept[0] in JSON_MEDIA_TYPES:
        run.require(
            content_type == accept,
            f"the answer has Content-Type {answer.headers.get('Content-Type')!r}, expected the media type and "
            f"compatible-with the Accept header asked for ({request.header('Accept')!r})",
        )
    else:
        run.require(
            content_type is not None and content_type[0] in JSON_MEDIA_TYPES,
            f"the answer has Content-Type {answer.headers.get('Content-Type')!r}, expected JSON",
        )
    product = answer.headers.get("X-Elastic-Product")
    run.require(product == "Elasticsearch", f"the answer has X-Elastic-Product {product!r}, expected 'Elasticsearch'")
    if "opaque-id" in requirements:
        sent, echoed = request.header("X-Opaque-Id"), answer.headers.get("X-Opaque-Id")
        run.require(echoed == sent, f"the answer has X-Opaque-Id {echoed!r}, expected the request's {sent!r} echoed")
    unexpected = untolerated_warnings(answer.headers.get("Warning"), answer.status)
    run.require(not unexpected, f"the answer carries a Warning the client raises as an error: {unexpected!r}")


def _media_type(value: str | None) -> tuple[str, str | None] | None:
    """A media type and its ``compatible-with``, the only parts of ``Content-Type`` a check compares."""
    if not value:
        return None
    kind, *params = (part.strip() for part in value.split(";"))
    named = dict(p.partition("=")[::2] for p in params)
    return kind.lower(), (named.get("compatible-with") or "").strip('"') or None


def _require_filtered(run: Run, answer: ApiResponse, filter_path: str | None) -> None:
    """A success body holds what ``filter_path`` asked for (the ``_status`` answer has it: ``result``), and no
    other top-level field."""
    filters = [f for f in (filter_path or "").split(",") if f and not f.startswith("-")]
    if not filters or any("*" in f for f in filters) or not isinstance(answer.json, dict):
        return
    asked = sorted({f.split(".")[0] for f in filters})
    extra, lacking = sorted(set(answer.json) - set(asked)), sorted(set(asked) - set(answer.json))
    run.require(not extra, f"the success body keeps {extra} although filter_path={filter_path} asked for {asked}")
    run.require(not lacking, f"the success body lacks {lacking} although filter_path={filter_path} asked for it")


def _require_stack_traces(run: Run, answer: ApiResponse) -> None:
    """``error_trace=true``: stack_trace on the error, on its cause and on each root cause."""
    error = answer.error
    if not isinstance(error, dict):
        return  # require_error has said what is wrong with the body
    places = [("error", error)]
    if isinstance(error.get("caused_by"), dict):
        places.append(("error.caused_by", error["caused_by"]))
    for number, cause in enumerate(error.get("root_cause") or []):
        if isinstance(cause, dict):
            places.append((f"error.root_cause[{number}]", cause))
    missing = [name for name, place in places if not isinstance(place.get("stack_trace"), str)]
    run.require(not missing, f"no stack_trace in {', '.join(missing)} although the request asked for error_trace=true")
