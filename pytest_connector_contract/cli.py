"""``connector-contract``: the command line of pytest-connector-contract.

``connector-contract serve`` runs the reference target as a standalone server, for developing a
connector service or a client against something that behaves like Elasticsearch's connector API without
running a cluster. The conformance suite itself runs through ``pytest``.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from collections.abc import Sequence
from types import FrameType

from . import sweep
from .reference import DEFAULT_ES_VERSION, ReferenceTarget
from .server import ReferenceServer

__all__ = ["main"]

PROG = "connector-contract"


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a port number: {text!r}") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"port must be within 0-65535 (0 = any free port), got {value}")
    return value


def _latency(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of milliseconds: {text!r}") from None
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"latency must not be negative, got {text}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Tools of pytest-connector-contract (the conformance suite itself runs with pytest).",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    serve = commands.add_parser(
        "serve",
        help="run the reference target (an emulation of Elasticsearch's connector API) as a server",
        description=(
            "Serve an in-memory emulation of the Elasticsearch connector endpoints the suite uses "
            "(GET /, _connector create/get/list/delete and PUT _connector/<id>/_status) until "
            "interrupted. State is lost on exit."
        ),
    )
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default: %(default)s)")
    serve.add_argument(
        "--port", type=_port, default=9200, help="port to bind, 0 for any free port (default: %(default)s)"
    )
    serve.add_argument(
        "--es-version",
        default=DEFAULT_ES_VERSION,
        metavar="VERSION",
        help="Elasticsearch version to emulate, 8.13.0 or later (default: %(default)s)",
    )
    serve.add_argument(
        "--build-flavor",
        choices=("default", "serverless"),
        default="default",
        help="'serverless' emulates Elastic Cloud Serverless: newest behaviour whatever the version",
    )
    serve.add_argument(
        "--latency-ms",
        type=_latency,
        default=0.0,
        metavar="MS",
        help="delay every answer, to imitate a remote cluster (default: %(default)s)",
    )
    sweep.add_parser(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status (2 for a usage or startup error)."""
    args = build_parser().parse_args(argv)
    if args.command == "serve":
        return _serve(args)
    if args.command == "sweep":
        return sweep.run(args)
    return 2  # pragma: no cover - argparse requires a known command


def _fail(message: str) -> int:
    print(f"{PROG}: error: {message}", file=sys.stderr, flush=True)
    return 2


def _serve(args: argparse.Namespace) -> int:
    try:
        target = ReferenceTarget(args.es_version, build_flavor=args.build_flavor)
    except ValueError as exc:
        return _fail(str(exc))
    server = ReferenceServer(target, host=args.host, port=args.port, latency_ms=args.latency_ms)
    try:
        server.start()
    except OSError as exc:
        return _fail(f"cannot listen on {args.host}:{args.port}: {exc.strerror or exc}")

    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        flavor = " serverless" if args.build_flavor == "serverless" else ""
        print(
            f"{PROG} reference target (Elasticsearch {target.es_version}{flavor} emulation) listening on {server.url}",
            flush=True,
        )
        while not stop.wait(0.5):
            pass
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
