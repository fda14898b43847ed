"""``connector-contract``: the command line of pytest-connector-contract.

``connector-contract serve`` runs the reference target as a standalone server, for developing a
connector service or a client against something that behaves like Elasticsearch's connector API without
running a cluster. The conformance suite itself runs through ``pytest``. With ``--api-key``/``--user`` it
emulates a secured cluster (401 without credentials, 403 for a read-only key that writes), and with
``--certfile`` it serves HTTPS. Secrets can come from environment variables instead of the command line,
where other local users could read them; they are never printed.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import textwrap
import threading
from collections.abc import Callable, Mapping, Sequence
from types import FrameType
from typing import Any

from pytest_connector_contract import __version__
from pytest_connector_contract.cli import report, sweep
from pytest_connector_contract.config.values import parse_number
from pytest_connector_contract.contract.spec import version_text
from pytest_connector_contract.contract.target import MINIMUM_VERSION
from pytest_connector_contract.reference.endpoints import DEFAULT_ES_VERSION, ReferenceTarget
from pytest_connector_contract.reference.security import CONNECTOR_ADMIN, CONNECTOR_READ_ONLY, ApiKey, Security, User
from pytest_connector_contract.reference.server import DEFAULT_MAX_CONTENT_LENGTH, ReferenceServer

__all__ = ["main"]

PROG = "connector-contract"

#: Environment variables holding one credential each, added to those of the matching flag.
ENV_API_KEY = "CONNECTOR_SERVE_API_KEY"
ENV_READONLY_API_KEY = "CONNECTOR_SERVE_READONLY_API_KEY"
ENV_USER = "CONNECTOR_SERVE_USER"


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a port number: {text!r}") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"port must be within 0-65535 (0 = any free port), got {value}")
    return value


def _latency(text: str) -> float:
    return parse_number(text, "milliseconds", minimum=0, maximum=60_000, exclusive=False)


#: ByteSizeValue's units, as http.max_content_length is written ("100mb")
_BYTE_UNITS = {"": 1, "b": 1, "k": 1 << 10, "kb": 1 << 10, "m": 1 << 20, "mb": 1 << 20, "g": 1 << 30, "gb": 1 << 30}


def _byte_size(text: str) -> int:
    number, unit = text.strip().lower(), ""
    while number and not number[-1].isdigit():
        number, unit = number[:-1], number[-1] + unit
    if not number.isdigit() or unit not in _BYTE_UNITS:
        raise argparse.ArgumentTypeError(f"expected a size in bytes such as 1048576, 512kb or 100mb, got {text!r}")
    return int(number) * _BYTE_UNITS[unit]


def _api_key(text: str) -> ApiKey:
    try:
        return ApiKey.parse(text, privileges=CONNECTOR_ADMIN)
    except ValueError as exc:  # the message never repeats the value: it holds a secret
        raise argparse.ArgumentTypeError(str(exc)) from None


def _readonly_api_key(text: str) -> ApiKey:
    try:
        return ApiKey.parse(text, privileges=CONNECTOR_READ_ONLY)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _user(text: str) -> User:
    try:
        return User.parse(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _paragraphs(*texts: str) -> str:
    """Help text with paragraph breaks kept (RawDescriptionHelpFormatter) and lines wrapped here."""
    return "\n\n".join(textwrap.fill(" ".join(text.split()), 100) for text in texts)


_SECURITY_EPILOG = _paragraphs(
    "security: with at least one credential the server answers like a secured cluster: 401 "
    "security_exception (with WWW-Authenticate) without valid credentials, 403 when the credential lacks "
    "the privilege. --api-key grants manage_connector and monitor (every endpoint), --readonly-api-key "
    "monitor_connector and monitor (GET only), --user the privilege all. Clients send "
    '"Authorization: ApiKey <base64 of ID:KEY>" or basic auth.',
    f"Keep secrets off the command line (where other local users can read them) with the environment "
    f"variables {ENV_API_KEY}, {ENV_READONLY_API_KEY} (ID:KEY or the encoded key) and {ENV_USER} "
    "(NAME:PASSWORD): each holds one credential, added to those given by flags. Secrets are never printed.",
    "https: --certfile (and --keyfile unless the key is in the same PEM file) make the server speak HTTPS "
    "only; clients must trust the certificate (for example its CA through ca_certs or verify).",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Tools of pytest-connector-contract (the conformance suite itself runs with pytest).",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    serve = commands.add_parser(
        "serve",
        help="run the reference target (an emulation of Elasticsearch's connector API) as a server",
        description=_paragraphs(
            "Serve an in-memory emulation of the Elasticsearch connector endpoints the suite uses "
            "(GET /, _connector create/get/list/delete and PUT _connector/<id>/_status) until "
            "interrupted. State is lost on exit."
        ),
        epilog=_SECURITY_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default: %(default)s)")
    serve.add_argument(
        "--port", type=_port, default=9200, help="port to bind, 0 for any free port (default: %(default)s)"
    )
    serve.add_argument(
        "--es-version",
        default=DEFAULT_ES_VERSION,
        metavar="VERSION",
        help=f"Elasticsearch version to emulate, {version_text(MINIMUM_VERSION)} or later (default: %(default)s)",
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
    serve.add_argument(
        "--create-delay-ms",
        type=_latency,
        default=0.0,
        metavar="MS",
        help="apply each create (PUT or POST _connector) only this long after accepting it, and answer it then; "
        "every other request is answered at once (default: %(default)s)",
    )
    serve.add_argument(
        "--max-content-length",
        type=_byte_size,
        default=DEFAULT_MAX_CONTENT_LENGTH,
        metavar="SIZE",
        help="the largest request body, decoded, that is read (Elasticsearch's http.max_content_length): a larger "
        "one gets 413 (default: 100mb)",
    )
    serve.add_argument(
        "--api-key",
        dest="api_keys",
        type=_api_key,
        action="append",
        default=[],
        metavar="ID:KEY",
        help=f"accept this API key with the privileges manage_connector and monitor; repeatable (env: {ENV_API_KEY})",
    )
    serve.add_argument(
        "--readonly-api-key",
        dest="readonly_api_keys",
        type=_readonly_api_key,
        action="append",
        default=[],
        metavar="ID:KEY",
        help="accept this API key with the privileges monitor_connector and monitor (reads only); "
        f"repeatable (env: {ENV_READONLY_API_KEY})",
    )
    serve.add_argument(
        "--user",
        dest="users",
        type=_user,
        action="append",
        default=[],
        metavar="NAME:PASSWORD",
        help=f"accept this user (basic auth) with the privilege all; repeatable (env: {ENV_USER})",
    )
    serve.add_argument("--certfile", metavar="PEM", help="serve HTTPS with this certificate (chain)")
    serve.add_argument("--keyfile", metavar="PEM", help="the certificate's private key, if not in --certfile")
    sweep.add_parser(commands)
    report.add_parser(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status (2 for a usage or startup error)."""
    args = build_parser().parse_args(argv)
    if args.command == "serve":
        return _serve(args)
    if args.command == "sweep":
        return sweep.run(args)
    if args.command == "report":
        return report.run(args)
    return 2  # pragma: no cover - argparse requires a known command


def _fail(message: str) -> int:
    print(f"{PROG}: error: {message}", file=sys.stderr, flush=True)
    return 2


def _credentials_from_env(
    env: Mapping[str, str], name: str, parse: Callable[[str], Any], found: list[Any]
) -> str | None:
    """Append the credential in ``env[name]``; an error message (naming the variable, never its value)."""
    value = env.get(name, "").strip()
    if not value:
        return None
    try:
        found.append(parse(value))
    except argparse.ArgumentTypeError as exc:
        return f"${name}: {exc}"
    return None


def _security(args: argparse.Namespace, env: Mapping[str, str]) -> Security | None:
    api_keys: list[ApiKey] = [*args.api_keys, *args.readonly_api_keys]
    users: list[User] = list(args.users)
    for name, parse, found in (
        (ENV_API_KEY, _api_key, api_keys),
        (ENV_READONLY_API_KEY, _readonly_api_key, api_keys),
        (ENV_USER, _user, users),
    ):
        problem = _credentials_from_env(env, name, parse, found)
        if problem:
            raise ValueError(problem)
    if not api_keys and not users:
        return None
    return Security(api_keys=api_keys, users=users)


def _describe_security(security: Security | None) -> str:
    """Who may connect, by key id and user name (not secrets)."""
    if security is None:
        return ""
    parts = []
    keys = security.api_keys.values()
    for label, privileges in (("API keys", CONNECTOR_ADMIN), ("read-only API keys", CONNECTOR_READ_ONLY)):
        ids = [k.id for k in keys if k.privileges == privileges]
        if ids:
            parts.append(f"{label} {', '.join(ids)}")
    if security.users:
        parts.append(f"users {', '.join(security.users)}")
    return f", security on: {'; '.join(parts)}"


def _serve(args: argparse.Namespace) -> int:
    if args.keyfile and not args.certfile:
        return _fail("--keyfile needs --certfile")
    try:
        target = ReferenceTarget(
            args.es_version,
            build_flavor=args.build_flavor,
            security=_security(args, os.environ),
            create_delay=args.create_delay_ms / 1000,
        )
    except ValueError as exc:
        return _fail(str(exc))
    try:
        server = ReferenceServer(
            target,
            host=args.host,
            port=args.port,
            latency_ms=args.latency_ms,
            max_content_length=args.max_content_length,
            certfile=args.certfile,
            keyfile=args.keyfile,
        )
    except OSError as exc:
        detail = f"{exc.strerror}: {exc.filename}" if exc.filename else (exc.strerror or str(exc))
        return _fail(f"cannot load the certificate: {detail}")
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
            f"{PROG} reference target (Elasticsearch {target.es_version}{flavor} emulation"
            f"{_describe_security(target.security)}) listening on {server.url}",
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
