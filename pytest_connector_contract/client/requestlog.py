"""The request log (``--connector-request-log PATH``): one JSON line per HTTP request the run sends.

Every process of the run (the only one, or the xdist controller and each worker) appends to the same
file; the process that configures the run empties it first. Each line is written with a single
``write()`` on a file opened with ``O_APPEND``, so lines from different processes never interleave.
Within one process, ``seq`` counts up in the order the requests were logged, as each answer came: the
order they were sent when one check runs at a time, while checks in flight together
(``--connector-concurrency``) interleave theirs. :func:`read` orders them by the time they were sent.

A line holds what is needed to send the request again byte for byte (method, path, query string,
``Content-Type``, ``Accept`` and the body) plus what came of it (status, error, timing), and which check
sent it (``check``: null for the preflight and the end-of-session clean-up). It never holds a credential:
authentication headers are not part of it, and every text passes through the run's redactor.
"""

from __future__ import annotations

import base64
import itertools
import json
import os
import threading
from pathlib import Path
from typing import Any

__all__ = ["RECORD_KEYS", "RequestLog", "read", "request_body", "reset"]

#: the keys of every line, in the order they are written
RECORD_KEYS = (
    "worker",
    "seq",
    "check",
    "method",
    "path",
    "query",
    "content_type",
    "accept",
    "body",
    "body_base64",
    "status",
    "error",
    "start",
    "elapsed_ms",
)

# One sequence per process, shared by every client of the process.
_SEQ = itertools.count(1)
_SEQ_LOCK = threading.Lock()


def reset(path: Path) -> None:
    """Empty (or create) the log: done once, by the process that configures the run."""
    if path.parent and not path.parent.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.close(fd)


class RequestLog:
    """Appends request records to ``path``; one instance per client, closed with it."""

    def __init__(self, path: Path, *, worker: str | None = None) -> None:
        self.path = path
        self.worker = worker
        self._fd: int | None = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)

    def write(
        self,
        *,
        check: str | None,
        method: str,
        path: str,
        query: str,
        content_type: str | None,
        accept: str | None,
        body: bytes | None,
        status: int | None,
        error: str | None,
        start: float,
        elapsed_ms: float,
    ) -> None:
        if self._fd is None:
            return
        text: str | None = None
        encoded: str | None = None
        if body is not None:
            try:
                text = body.decode("utf-8")
            except UnicodeDecodeError:
                encoded = base64.b64encode(body).decode("ascii")
        with _SEQ_LOCK:
            seq = next(_SEQ)
        record: dict[str, Any] = {
            "worker": self.worker,
            "seq": seq,
            "check": check,
            "method": method,
            "path": path,
            "query": query,
            "content_type": content_type,
            "accept": accept,
            "body": text,
            "body_base64": encoded,
            "status": status,
            "error": error,
            "start": round(start, 6),
            "elapsed_ms": round(elapsed_ms, 3),
        }
        line = json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n"
        os.write(self._fd, line.encode("utf-8"))

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


def read(path: Path) -> list[dict[str, Any]]:
    """Every record of a log, ordered by start time (each process's own records stay in ``seq`` order)."""
    records = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    records.sort(key=lambda r: (r["start"], r["worker"] or "", r["seq"]))
    return records


def request_body(record: dict[str, Any]) -> bytes | None:
    """The body bytes of a record, as they were sent."""
    if record.get("body_base64") is not None:
        return base64.b64decode(record["body_base64"])
    if record.get("body") is not None:
        return str(record["body"]).encode("utf-8")
    return None
