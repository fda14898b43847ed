"""Capture what the official Elasticsearch clients send for ``connector.update_status``, and compare it with the
stored captures (``pytest_connector_contract/contract/captures.json``).

    python clients/capture.py                    # re-capture every client available here; exit 1 on a difference
    python clients/capture.py --write            # refresh the stored captures of those clients, on purpose
    python clients/capture.py --client js-es8 --client js-es9

The clients (each pinned, see clients/README.md):

- ``python-es9``, ``python-es8``: ``elasticsearch`` 9.x and ``elasticsearch8`` 8.x, each in a virtual environment
  of its own built from ``clients/constraints-es9.txt`` / ``-es8.txt`` (the two cannot share one); their
  interpreters are named by ``--python-es9`` / ``--python-es8`` or ``CONNECTOR_CLIENT_ES9_PYTHON`` /
  ``CONNECTOR_CLIENT_ES8_PYTHON``;
- ``js-es8``, ``js-es9``: ``@elastic/elasticsearch`` 8 and 9, installed in ``clients/js`` by ``npm ci``, run with
  ``node``.

Each client is run for real (``drive_python.py``, ``js/drive.mjs``) against a :class:`CapturingServer` on
loopback, which records every request as it arrived and answers it as the reference target does (a compressed
body decoded first, as Elasticsearch does), so the client gets the answers it expects. Each option of
:data:`OPTIONS` is captured for an accepted and for a refused transition of a connector in ``created``.
What is stored, and what a comparison ignores, is said in ``pytest_connector_contract/contract/captures.py``.
"""

from __future__ import annotations

import argparse
import contextlib
import difflib
import json
import os
import shutil
import subprocess
import sys
import threading
import zlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs

from pytest_connector_contract.contract.captures import (
    CONNECTOR_ID,
    HOST,
    Capture,
    CapturedRequest,
    blank_versions,
    decoded_body,
)
from pytest_connector_contract.reference.endpoints import ReferenceTarget
from pytest_connector_contract.reference.messages import Response

HERE = Path(__file__).resolve().parent
CAPTURES = HERE.parent / "pytest_connector_contract" / "contract" / "captures.json"

#: each option, and what the drivers switch on for it
OPTIONS: dict[str, tuple[str, ...]] = {
    "default": (),
    "compression": ("compression",),
    "opaque-id": ("opaque-id",),
    "error_trace": ("error_trace",),
    "filter_path": ("filter_path",),
    "human": ("human",),
    "pretty": ("pretty",),
    "all": ("compression", "opaque-id", "error_trace", "filter_path", "human", "pretty"),
}
#: the standard parameters, as passed to ``update_status`` / ``updateStatus``
PARAMS: dict[str, Any] = {"error_trace": True, "filter_path": "result", "human": True, "pretty": True}
#: each case: the status asked for a connector in ``created``, and the answer the client must get
CASES: dict[str, tuple[str, int]] = {"accepted": ("needs_configuration", 200), "refused": ("connected", 400)}
OPAQUE_ID = "connector-contract-capture"
#: the API key the clients are given: not a credential anywhere (the capturing server checks none)
API_KEY = "Y2FwdHVyZTpub3QtYS1zZWNyZXQ="
#: what the stored file says about itself and its options
ABOUT = (
    "Requests the official Elasticsearch clients send for connector.update_status, captured from the pinned "
    "clients by clients/capture.py (never written by hand). Refresh with: python clients/capture.py --write"
)
OPTION_NOTES = {
    "default": "the client as constructed with a URL and an API key, nothing else",
    "compression": "Python: Elasticsearch(..., http_compress=True); JavaScript: new Client({compression: true})",
    "opaque-id": f"Python: client.options(opaque_id={OPAQUE_ID!r}); JavaScript: {{opaqueId: {OPAQUE_ID!r}}}",
    "error_trace": "update_status(..., error_trace=True)",
    "filter_path": "update_status(..., filter_path='result')",
    "human": "update_status(..., human=True)",
    "pretty": "update_status(..., pretty=True)",
    "all": "every option above at once",
}


class CaptureError(Exception):
    """A client could not be run, or did not get the answers it expects."""


# ------------------------------------------------------------------------------------- the capturing server


class CapturingServer:
    """Records every request (:attr:`requests`) and answers it as ``target`` does, a gzip or deflate body
    decoded first. A context manager; :attr:`url` once started."""

    def __init__(self, target: ReferenceTarget | None = None, *, host: str = "127.0.0.1") -> None:
        self.target = target if target is not None else ReferenceTarget()
        #: every request as it arrived (the body's bytes as sent; no placeholders yet)
        self.requests: list[CapturedRequest] = []
        self._lock = threading.Lock()
        self._httpd = _Server((host, 0), _Handler)
        self._httpd.owner = self
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="capturing-server", daemon=True)

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    def __enter__(self) -> CapturingServer:
        self._thread.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join()

    def record(self, request: CapturedRequest) -> Response:
        with self._lock:
            self.requests.append(request)
        body = request.body or b""
        # A body that does not decode reaches the target as sent, and is answered as the target answers it.
        with contextlib.suppress(ValueError, OSError, EOFError, zlib.error):
            body = decoded_body(body, request.header("Content-Encoding"))
        headers: dict[str, str] = {}
        for name, value in request.headers:
            if name.lower() not in ("content-encoding", "content-length"):
                headers.setdefault(name, value)
        headers["Content-Length"] = str(len(body))
        query = parse_qs(request.query, keep_blank_values=True)
        return self.target.handle(request.method, request.path, query, headers, body)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    owner: CapturingServer


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _handle(self) -> None:
        path, _, query = self.path.partition("?")
        request = CapturedRequest(self.command, path, query, tuple(self.headers.items()), self._body())
        response = self.server.owner.record(request)
        lines = [f"HTTP/1.1 {response.status} {self.responses.get(response.status, ('',))[0]}\r\n"]
        framing = ("content-length", "transfer-encoding", "connection")  # this server writes its own
        lines += [f"{name}: {value}\r\n" for name, value in response.headers.items() if name.lower() not in framing]
        lines += [f"{name}: {value}\r\n" for name, values in response.header_lists.items() for value in values]
        lines.append(f"Content-Length: {len(response.body)}\r\n\r\n")
        head = "".join(lines).encode("latin-1")
        self.wfile.write(head if self.command == "HEAD" else head + response.body)

    do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = do_PATCH = do_OPTIONS = _handle

    def _body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            chunks = []
            while size := int(self.rfile.readline().split(b";")[0].strip() or b"0", 16):
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                pass  # trailers
            return b"".join(chunks)
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))


# ----------------------------------------------------------------------------------------------- clients


@dataclass(frozen=True)
class Client:
    """One official client, pinned, and how to run it."""

    name: str
    client: str
    package: str
    major: int
    #: the environment variable naming the interpreter (Python clients)
    variable: str | None = None
    #: the module the Python driver imports, or the npm alias the JavaScript driver imports
    module: str = ""

    @property
    def python(self) -> bool:
        return self.variable is not None

    def build_command(self) -> str:
        """The shell command that prepares this client, as the docs and .ci/run write it."""
        if self.variable is None:
            return "(cd clients/js && npm ci)"
        venv = f".venv-es{self.major}"
        return (
            f"python3 -m venv {venv} && {venv}/bin/pip install -c clients/constraints-es{self.major}.txt "
            f"{self.package} && export {self.variable}=$PWD/{venv}/bin/python"
        )

    def command(self, interpreter: str | None = None) -> list[str] | None:
        """How to run the driver; None when this client is not installed here."""
        if self.variable is not None:
            interpreter = interpreter or os.environ.get(self.variable)
            return [interpreter, str(HERE / "drive_python.py")] if interpreter else None
        node = shutil.which("node")
        if node is None or not (HERE / "js" / "node_modules" / self.module / "package.json").is_file():
            return None
        return [node, str(HERE / "js" / "drive.mjs")]


CLIENTS = {
    client.name: client
    for client in (
        Client("python-es9", "elasticsearch-py", "elasticsearch", 9, "CONNECTOR_CLIENT_ES9_PYTHON", "elasticsearch"),
        Client("python-es8", "elasticsearch-py", "elasticsearch8", 8, "CONNECTOR_CLIENT_ES8_PYTHON", "elasticsearch8"),
        Client("js-es8", "elasticsearch-js", "@elastic/elasticsearch", 8, module="es8"),
        Client("js-es9", "elasticsearch-js", "@elastic/elasticsearch", 9, module="es9"),
    )
}


# ---------------------------------------------------------------------------------------------- capturing


def create_connector(target: ReferenceTarget, connector_id: str) -> None:
    """A connector in ``created`` on ``target``, made in-process: only the client's own requests reach the wire."""
    body = json.dumps({"index_name": connector_id, "name": connector_id, "is_native": False}).encode()
    answer = target.handle("PUT", f"/_connector/{connector_id}", {}, {"Content-Type": "application/json"}, body)
    if answer.status not in (200, 201):
        raise CaptureError(f"creating connector {connector_id} answered {answer.status}: {answer.body!r}")


def capture(client: Client, command: Sequence[str]) -> list[Capture]:
    """Run ``client`` (its driver, ``command``) through every option and case; its captures in stored order."""
    target = ReferenceTarget()
    calls = []
    for option, switched_on in OPTIONS.items():
        for case, (status, _) in CASES.items():
            connector_id = f"capture-{option}-{case}"
            create_connector(target, connector_id)
            calls.append({"connector_id": connector_id, "status": status, "options": list(switched_on)})
    with CapturingServer(target) as server:
        plan = {
            "module": client.module,
            "package": client.module,
            "url": server.url,
            "api_key": API_KEY,
            "opaque_id": OPAQUE_ID,
            "params": PARAMS,
            "calls": calls,
        }
        try:
            done = subprocess.run(
                list(command), input=json.dumps(plan), capture_output=True, text=True, timeout=300, check=False
            )
        except OSError as exc:
            raise CaptureError(f"{client.name}: cannot run {command[0]}: {exc}") from None
        if done.returncode != 0:
            raise CaptureError(f"{client.name}: the driver exited {done.returncode}:\n{done.stderr[-3000:]}")
    answer = json.loads(done.stdout)
    requests = {request.path: request for request in server.requests}
    if len(requests) != len(server.requests):
        raise CaptureError(f"{client.name} sent a request twice: {[r.path for r in server.requests]}")
    captures = []
    for (option, case), call, result in zip(
        ((o, c) for o in OPTIONS for c in CASES), calls, answer["results"], strict=True
    ):
        expected = CASES[case][1]
        if result["http"] != expected or result["warnings"]:
            raise CaptureError(f"{client.name} {option} {case}: expected HTTP {expected} and no warning, got {result}")
        path = f"/_connector/{call['connector_id']}/_status"
        raw = requests.pop(path, None)
        if raw is None:
            raise CaptureError(f"{client.name} {option} {case}: no request to {path} arrived")
        captures.append(
            Capture(
                client=client.client,
                package=client.package,
                major=client.major,
                version=answer["version"],
                option=option,
                case=case,
                status=call["status"],
                request=stored_request(raw, call["connector_id"]),
            )
        )
    if requests:
        raise CaptureError(f"{client.name} sent requests nobody asked for: {sorted(requests)}")
    return captures


def stored_request(raw: CapturedRequest, connector_id: str) -> CapturedRequest:
    """``raw`` as stored: the id and the host as placeholders, no credentials, version tokens blanked."""
    if raw.header("Authorization") is None:
        raise CaptureError("the client sent no Authorization header: was it given the API key?")
    headers = []
    for name, value in raw.headers:
        if name.lower() == "authorization":
            continue
        if name.lower() == "host":
            value = HOST
        headers.append((name, blank_versions(name, value)))
    return CapturedRequest(
        method=raw.method,
        path=raw.path.replace(connector_id, CONNECTOR_ID),
        query=raw.query,
        headers=tuple(headers),
        body=raw.body,
    )


# ------------------------------------------------------------------------------------ comparing and storing


def compared(capture: Capture) -> dict[str, Any]:
    """What must match between a capture and a re-capture: everything but the client's release, the bytes of
    a compressed body (gzip writes the time into them) and so its length; the decoded body must match."""
    data = capture.to_json()
    data["version"] = ""
    request = data["request"]
    encoding = capture.request.header("Content-Encoding")
    if encoding is not None and capture.request.body is not None:
        request["body"] = {"decoded": decoded_body(capture.request.body, encoding).decode("utf-8")}
        request["headers"] = [
            [name, "<compressed length>" if name.lower() == "content-length" else value]
            for name, value in request["headers"]
        ]
    request["headers"] = [[name, blank_versions(name, value)] for name, value in request["headers"]]
    return data


def differences(stored: Iterable[Capture], fresh: Sequence[Capture]) -> list[str]:
    """How ``fresh`` departs from the stored captures of the same clients (empty when it does not)."""
    clients = {(capture.client, capture.major) for capture in fresh}
    old = {c.key: c for c in stored if (c.client, c.major) in clients}
    new = {c.key: c for c in fresh}
    found = []
    for key in new.keys() - old.keys():
        found.append(f"{new[key].name}: captured now, not stored")
    for key in old.keys() - new.keys():
        found.append(f"{old[key].name}: stored, not captured now")
    for key in new.keys() & old.keys():
        before = json.dumps(compared(old[key]), indent=2).splitlines()
        after = json.dumps(compared(new[key]), indent=2).splitlines()
        if before != after:
            diff = "\n".join(difflib.unified_diff(before, after, "stored", "captured now", lineterm=""))
            found.append(f"{new[key].name} differs:\n{diff}")
    return sorted(found)


def merged(stored: Iterable[Capture], fresh: Sequence[Capture]) -> list[Capture]:
    """The stored captures with those of ``fresh``'s clients replaced by ``fresh``, in a stable order."""
    clients = {(capture.client, capture.major) for capture in fresh}
    kept = [c for c in stored if (c.client, c.major) not in clients]
    order = {name: n for n, name in enumerate(OPTIONS)}
    return sorted(
        [*kept, *fresh], key=lambda c: (c.client, -c.major, order.get(c.option, len(order)), c.option, c.case)
    )


def read(path: Path = CAPTURES) -> list[Capture]:
    if not path.is_file():
        return []
    return [Capture.from_json(entry) for entry in json.loads(path.read_text(encoding="utf-8"))["captures"]]


def write(captures: Sequence[Capture], path: Path = CAPTURES) -> None:
    data = {
        "captures_version": 1,
        "about": ABOUT,
        "connector_id": CONNECTOR_ID,
        "options": OPTION_NOTES,
        "captures": [capture.to_json() for capture in captures],
    }
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--write", action="store_true", help="store the new captures instead of comparing")
    parser.add_argument("--client", action="append", choices=sorted(CLIENTS), help="only these (repeatable)")
    parser.add_argument("--python-es9", help="interpreter with elasticsearch 9.x (else $CONNECTOR_CLIENT_ES9_PYTHON)")
    parser.add_argument("--python-es8", help="interpreter with elasticsearch8 (else $CONNECTOR_CLIENT_ES8_PYTHON)")
    args = parser.parse_args(argv)
    interpreters: Mapping[str, str | None] = {"python-es9": args.python_es9, "python-es8": args.python_es8}
    stored = read()
    fresh: list[Capture] = []
    for name in args.client or list(CLIENTS):
        client = CLIENTS[name]
        command = client.command(interpreters.get(name))
        if command is None:
            print(f"{name}: not installed here; prepare it with: {client.build_command()}", file=sys.stderr)
            if args.client:
                return 2
            continue
        try:
            captures = capture(client, command)
        except CaptureError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        print(f"{name}: {len(captures)} requests captured ({captures[0].package} {captures[0].version})")
        fresh += captures
    if not fresh:
        print("no client was captured", file=sys.stderr)
        return 2
    if args.write:
        write(merged(stored, fresh))
        print(f"stored {len(fresh)} captures in {CAPTURES.relative_to(HERE.parent)}")
        return 0
    found = differences(stored, fresh)
    for line in found:
        print(line)
    if found:
        print(f"{len(found)} differences from the stored captures: refresh them on purpose with --write")
        return 1
    print(f"{len(fresh)} captures match the stored ones")
    return 0


if __name__ == "__main__":
    sys.exit(main())
