"""Replaying a captured client request (:mod:`pytest_connector_contract.contract.captures`) against a target.

A replay sends what the client sent: the method, the path (with the connector id put in), the query string as
captured, the body's bytes (a compressed body still compressed) and every header, in the captured order and
spelling. Two kinds of header are not the capture's:

- **credentials**: a capture holds none; the user's own ``Authorization`` is applied (after the others);
- **the transport's own framing** (:data:`FRAMING_HEADERS`): ``Host`` names the target and ``Content-Length``
  the body's length (both where the client put them); ``Connection`` and ``Transfer-Encoding`` are the
  transport's (keep-alive, a body sent with its length).

Nothing else is added: a header the client did not send (``Accept-Encoding``, say) is not sent either, where
the HTTP stack would add one of its own. :func:`replay` sends it through a check's client, as evidence.
:func:`curl_command` writes the same request as a curl command line,
a compressed body byte for byte.
"""

from __future__ import annotations

import contextlib
import shlex

from pytest_connector_contract.client.api import _SECRET_HEADERS, ApiResponse, ConnectorClient
from pytest_connector_contract.client.curl import AUTH_VARIABLE, URL_VARIABLE, body_arguments, printf_command
from pytest_connector_contract.client.transport import Headers, Transport
from pytest_connector_contract.config.credentials import Secret
from pytest_connector_contract.contract.captures import CapturedRequest

__all__ = ["FRAMING_HEADERS", "curl_command", "headers_for", "replay", "send"]

#: headers a replay takes from the transport, not from the capture (lower case)
FRAMING_HEADERS = frozenset({"content-length", "host", "connection", "transfer-encoding"})
#: headers curl adds when a request lacks them (Host and Content-Length are framing)
_CURL_DEFAULTS = ("User-Agent", "Accept")


def headers_for(request: CapturedRequest, *, authority: str, authorization: Secret | None = None) -> dict[str, str]:
    """Every header a replay of ``request`` sends to the target ``authority`` (``host[:port]``), in order."""
    length = str(len(request.body)) if request.body is not None else None
    sent: dict[str, str] = {}
    for name, value in request.headers:
        key = name.lower()
        if key in _SECRET_HEADERS or key in ("connection", "transfer-encoding"):
            continue
        if key == "host":
            value = authority
        elif key == "content-length":
            if length is None:
                continue
            value = length
        sent.setdefault(name, value)
    keys = {name.lower() for name in sent}
    if "host" not in keys:
        sent = {"Host": authority, **sent}
    if length is not None and "content-length" not in keys:
        sent["Content-Length"] = length
    if authorization is not None:
        sent["Authorization"] = authorization.reveal()
    return sent


def send(
    transport: Transport, request: CapturedRequest, connector_id: str, *, authorization: Secret | None = None
) -> tuple[int, Headers, bytes]:
    """Replay ``request`` for connector ``connector_id`` over ``transport``; the answer as received.

    Raises OSError as :meth:`Transport.send` does."""
    sent = headers_for(request, authority=transport.authority, authorization=authorization)
    return transport.send(request.method, request.target(connector_id), sent, request.body)


def replay(client: ConnectorClient, request: CapturedRequest, connector_id: str) -> ApiResponse:
    """Replay ``request`` for connector ``connector_id`` through ``client``: its credentials, its rate limit, and
    an exchange in its evidence record that keeps a compressed body's exact bytes (so the check's curl
    reproduction sends them). Raises TargetUnreachable as every request of the client does."""
    sent = headers_for(request, authority=client.transport.authority)
    return client.send_prepared(request.method, request.target(connector_id), sent, request.body)


def curl_command(request: CapturedRequest, connector_id: str, *, authorization: bool = False) -> str:
    """One shell command replaying ``request`` with curl against ``$CONNECTOR_URL`` (``$CONNECTOR_AUTH`` as the
    Authorization value when ``authorization``). A body that is not plain text (a compressed one) is piped in
    from printf, so it arrives byte for byte."""
    # -g: the target as captured, never expanded as a curl glob; --path-as-is: no dot segments squashed.
    target = shlex.quote(request.target(connector_id))
    parts = ["curl", "-sS", "-i", "-g", "--path-as-is", "-X", request.method, f'"${URL_VARIABLE}"{target}']
    keys = set()
    for name, value in request.headers:
        key = name.lower()
        keys.add(key)
        if key in FRAMING_HEADERS or key in _SECRET_HEADERS or key == "content-type":
            continue
        parts += ["-H", shlex.quote(f"{name}: {value}")]
    for name in _CURL_DEFAULTS:
        if name.lower() not in keys:
            parts += ["-H", shlex.quote(f"{name}:")]  # "Name:" makes curl send none of its own
    if authorization:
        parts += ["-H", f'"Authorization: ${AUTH_VARIABLE}"']
    body: str | bytes | None = request.body
    if request.body is not None and request.header("Content-Encoding") is None:
        with contextlib.suppress(UnicodeDecodeError):
            body = request.body.decode("utf-8")
        if isinstance(body, str) and "\0" in body:
            body = request.body
    parts += body_arguments(request.header("Content-Type"), body)
    command = " ".join(parts)
    return f"{printf_command(body)} | {command}" if isinstance(body, bytes) else command
