"""A ``curl`` script that replays a check's recorded exchanges, for reproducing a failure by hand.

It is built from the redacted record (:meth:`client.Exchange.to_dict`), so it never holds a credential: the
target is ``$CONNECTOR_URL`` and a redacted header becomes a shell variable (``$CONNECTOR_AUTH`` for
``Authorization``) that the person running it sets.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Mapping, Sequence
from typing import Any

from pytest_connector_contract.client.connector import _EVIDENCE_BODY_LIMIT as _BODY_LIMIT
from pytest_connector_contract.client.connector import REDACTED

__all__ = ["AUTH_VARIABLE", "URL_VARIABLE", "reproduction"]

URL_VARIABLE = "CONNECTOR_URL"
AUTH_VARIABLE = "CONNECTOR_AUTH"
#: headers a client library or curl adds by itself; replaying them would only add noise
_AUTOMATIC = frozenset({"user-agent", "accept-encoding", "connection", "content-length", "host"})


def _variable_for(header: str) -> str:
    if header.lower() == "authorization":
        return AUTH_VARIABLE
    return "CONNECTOR_" + re.sub(r"[^A-Z0-9]+", "_", header.upper()).strip("_")


def _command(request: Mapping[str, Any]) -> tuple[str, list[str]]:
    """One curl command line, and the variables it needs besides the URL."""
    method = str(request["method"])
    path = str(request["path"])
    headers: Mapping[str, str] = request.get("headers") or {}
    lowered = {name.lower(): value for name, value in headers.items()}
    body = request.get("body")
    # -g: ids and query strings are sent as recorded, never expanded as curl globs.
    parts = ["curl", "-sS", "-i", "-g", "-w", shlex.quote(r"\n"), "-X", method, f'"${URL_VARIABLE}"{shlex.quote(path)}']
    variables: list[str] = []
    for name, value in headers.items():
        key = name.lower()
        if key in _AUTOMATIC or key == "content-type":
            continue
        if key == "accept" and value == "*/*":
            continue  # curl's default too
        if value == REDACTED:
            variable = _variable_for(name)
            variables.append(variable)
            parts += ["-H", f'"{name}: ${variable}"']
        else:
            parts += ["-H", shlex.quote(f"{name}: {value}")]
    sends_body = body is not None or lowered.get("content-length") not in (None, "")
    if sends_body:
        if "content-type" in lowered:
            parts += ["-H", shlex.quote(f"Content-Type: {lowered['content-type']}")]
        else:
            # curl would add application/x-www-form-urlencoded to any body: send none, as the check did.
            parts += ["-H", shlex.quote("Content-Type:")]
        parts += ["--data-binary", shlex.quote(str(body or ""))]
    elif "content-type" in lowered:
        parts += ["-H", shlex.quote(f"Content-Type: {lowered['content-type']}")]
    return " ".join(parts), variables


def reproduction(check_id: str, exchanges: Sequence[Mapping[str, Any]] | None) -> str | None:
    """A POSIX shell script replaying every request of the check in order; None when nothing was sent."""
    if not exchanges:
        return None
    commands: list[str] = []
    needed: list[str] = []
    for number, exchange in enumerate(exchanges, start=1):
        request = exchange["request"]
        response = exchange.get("response")
        if response is not None:
            answered = f"answered HTTP {response['status']}"
        else:
            answered = f"got no answer ({exchange.get('error') or 'no response'})"
        commands.append(f"# {number}. {request['method']} {request['path']}: {answered} in the run")
        body = request.get("body")
        if isinstance(body, str) and len(body) > _BODY_LIMIT:
            commands.append(f"# The record keeps only the first {_BODY_LIMIT} characters of this body.")
        command, variables = _command(request)
        commands.append(command)
        needed += [v for v in variables if v not in needed]
    lines = [
        "#!/bin/sh",
        f"# Replays the requests of {check_id}, in the order the check sent them.",
        f"# Set {URL_VARIABLE} to the target's base URL, for example http://localhost:9200.",
        f': "${{{URL_VARIABLE}:?set {URL_VARIABLE} to the target, for example http://localhost:9200}}"',
    ]
    for variable in needed:
        what = "the Authorization header's value (for example 'ApiKey ...')" if variable == AUTH_VARIABLE else "it"
        lines.append(f': "${{{variable}:?set {variable} to {what}; the report never holds credentials}}"')
    return "\n".join([*lines, *commands]) + "\n"
