"""``curl`` scripts for reproducing a departure by hand: a check's recorded exchanges (:func:`reproduction`) and
an exploration walk's shortest failing sequence (:func:`replay_script`).

Both follow one contract: the target is ``$CONNECTOR_URL``, the Authorization value is ``$CONNECTOR_AUTH``
(another redacted header becomes its own ``$CONNECTOR_<NAME>``), and a body is sent with exactly the
Content-Type the suite sent, or none. Neither script ever holds a credential.
"""

from __future__ import annotations

import base64
import re
import shlex
from collections.abc import Mapping, Sequence
from typing import Any, Protocol
from urllib.parse import urlencode

from pytest_connector_contract.client.api import _EVIDENCE_BODY_LIMIT as _BODY_LIMIT
from pytest_connector_contract.config.credentials import REDACTED

__all__ = ["AUTH_VARIABLE", "URL_VARIABLE", "ReplayStep", "printf_command", "replay_script", "reproduction"]

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
    sent: str | bytes | None = str(body or "") if sends_body else None
    if request.get("body_base64") is not None:  # the exact bytes of a body shown decoded (a compressed one)
        sent = base64.b64decode(request["body_base64"])
    parts += body_arguments(lowered.get("content-type"), sent)
    command = " ".join(parts)
    return (f"{printf_command(sent)} | {command}" if isinstance(sent, bytes) else command), variables


def body_arguments(content_type: str | None, body: str | bytes | None) -> list[str]:
    """curl arguments sending ``body`` (None: no body) with exactly ``content_type`` (None: no Content-Type).

    Bytes are read from standard input (``--data-binary @-``): pipe :func:`printf_command` of them into curl."""
    parts: list[str] = []
    if content_type is not None:
        parts += ["-H", shlex.quote(f"Content-Type: {content_type}")]
    elif body is not None:
        # curl would add application/x-www-form-urlencoded to any body: send none, as the suite did.
        parts += ["-H", shlex.quote("Content-Type:")]
    if isinstance(body, bytes):
        parts += ["--data-binary", "@-"]
    elif body is not None:
        parts += ["--data-binary", shlex.quote(body)]
    return parts


def printf_command(body: bytes) -> str:
    """A POSIX ``printf`` that writes ``body`` byte for byte, for ``printf ... | curl --data-binary @-``: the way
    to send bytes a command line cannot hold (a compressed body has NULs). Printable ASCII stays as it is;
    every other byte, and ``\\``, ``%`` and ``'``, is an octal escape, which printf's format string decodes."""
    text = "".join(chr(byte) if 0x20 <= byte < 0x7F and chr(byte) not in "\\%'" else f"\\{byte:03o}" for byte in body)
    return f"printf '{text}'"


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


class ReplayStep(Protocol):
    """What :func:`replay_script` reads of one step of a sequence."""

    number: int
    label: str
    method: str
    path_suffix: str  # appended to /_connector/<id>
    query: dict[str, str] | None
    content_type: str | None
    accept: str | None
    body: str | None
    before: str
    expected: str
    expected_http: int
    expected_status: str


_SCRIPT_HEAD = """#!/usr/bin/env bash
# {title}
# Replays the shortest sequence of requests on which the target departed from Elasticsearch (profile
# {profile}), on a new connector, and says whether it departs again (exit status 1) or not (0).
#   CONNECTOR_URL=https://es.example:9200 bash replay.sh
# Credentials (never stored here): export CONNECTOR_AUTH='ApiKey <base64 of id:api_key>' (the Authorization value)
# Only HTTP statuses and the status read back are compared; the JSON report has the full evidence.
set -u
url="${{CONNECTOR_URL:?set CONNECTOR_URL to the target, for example http://127.0.0.1:9200}}"
url="${{url%/}}"
auth=()
if [ -n "${{CONNECTOR_AUTH:-}}" ]; then auth=(-H "Authorization: ${{CONNECTOR_AUTH}}"); fi
id="ccontract-replay-$(date +%s)-$$"
tmp="$(mktemp)"
trap 'rm -f "$tmp"' EXIT
departed=0
code=""
body=""
send() {{  # METHOD PATH [curl arguments]
  local method=$1 path=$2
  shift 2
  code=$(curl -sS -o "$tmp" -w '%{{http_code}}' -X "$method" ${{auth[@]+"${{auth[@]}}"}} "$@" "$url$path") || {{
    echo "cannot reach $url" >&2
    exit 2
  }}
  body="$(cat "$tmp")"
  echo "$method $path -> HTTP $code ${{body:0:200}}"
}}
expect_http() {{  # EXPECTED WHERE
  if [ "$code" != "$1" ]; then
    echo "DEPARTS from Elasticsearch at $2: expected HTTP $1, got HTTP $code"
    departed=1
  fi
}}
expect_status() {{  # EXPECTED WHERE
  if ! printf '%s' "$body" | grep -Eq "\\"status\\" *: *\\"$1\\""; then
    echo "DEPARTS from Elasticsearch at $2: GET does not show status $1"
    departed=1
  fi
}}
"""


def replay_script(title: str, profile: str, steps: Sequence[ReplayStep], *, hard_delete: bool) -> str:
    """A bash script that replays ``steps`` on a new connector and exits 1 when the target departs again."""
    lines = [_SCRIPT_HEAD.format(title=title, profile=profile).rstrip("\n")]
    create = '{"index_name":"\'"$id"\'","name":"\'"$id"\'","is_native":false}'
    lines += [
        "",
        "# a new connector, in created",
        # the body splices the connector id in, so it is quoted by hand (shlex would keep $id literal)
        f"send PUT \"/_connector/$id\" -H 'Content-Type: application/json' --data-binary '{create}'",
        'expect_http 201 "creating the connector"',
    ]
    for step in steps:
        args = body_arguments(step.content_type, step.body)
        if step.accept is not None:
            args += ["-H", shlex.quote(f"Accept: {step.accept}")]
        query = "?" + urlencode(step.query) if step.query else ""
        where = f"step {step.number}"
        lines += [
            "",
            f"# step {step.number}: {step.label} on a connector in {step.before}: expected {step.expected}",
            f'send {step.method} "/_connector/$id{step.path_suffix}{query}" {" ".join(args)}'.rstrip(),
            f'expect_http {step.expected_http} "{where}"',
            'send GET "/_connector/$id"',
            f'expect_status {step.expected_status} "{where}"',
        ]
    hard = "?hard=true" if hard_delete else ""
    lines += [
        "",
        "# clean up",
        f'send DELETE "/_connector/$id{hard}" >/dev/null',
        'if [ "$departed" = 1 ]; then echo "the target departs from Elasticsearch"; fi',
        'if [ "$departed" = 0 ]; then echo "every answer matched"; fi',
        'exit "$departed"',
        "",
    ]
    return "\n".join(lines)
