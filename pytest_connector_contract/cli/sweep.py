"""``connector-contract sweep``: delete what earlier runs left behind, and nothing else.

Only ids of the exact shape the suite gives its connectors (``<prefix>-<8 hex run token>[-gwN]-<n>``, or
the preflight's ``...-probe``) are touched, so a prefix that happens to start someone else's ids is safe.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Iterator
from typing import Any

from pytest_connector_contract.client.connector import ConnectorClient, TargetUnreachable, client_for
from pytest_connector_contract.config.settings import OPTIONS, SettingsError, resolve_from
from pytest_connector_contract.config.values import parse_id_prefix
from pytest_connector_contract.contract.spec import deletes_softly, parse_version

__all__ = ["add_parser", "is_run_connector_id", "list_run_connectors", "run"]

#: the settings the sweep needs: where the target is and how to reach it
_SWEEP_OPTIONS = (
    "url", "cloud_id", "api_key", "user", "password", "bearer_token",
    "ca_certs", "client_cert", "client_key", "insecure", "timeout", "max_rps",
)  # fmt: skip
_TOKEN = r"[0-9a-f]{8}"
_TAIL = r"(?:gw\d+-)?\d+|probe"


def is_run_connector_id(connector_id: str, prefix: str) -> bool:
    """Whether ``connector_id`` is one a run with ``--connector-id-prefix`` (or run prefix) ``prefix`` made."""
    if re.search(rf"-{_TOKEN}$", prefix):  # a whole run prefix: that run only
        pattern = rf"{re.escape(prefix)}-(?:{_TAIL})"
    else:
        pattern = rf"{re.escape(prefix)}-{_TOKEN}-(?:{_TAIL})"
    return re.fullmatch(pattern, connector_id) is not None


def list_run_connectors(client: ConnectorClient, prefix: str, *, include_deleted: bool) -> Iterator[str]:
    """Ids of connectors under ``prefix`` on the target, from the list endpoint (paged)."""
    size, start = 100, 0
    while start < 10_000:
        params = {"from": str(start), "size": str(size)}
        if include_deleted:
            params["include_deleted"] = "true"
        answer = client.request("GET", "/_connector", params=params, retry=True)
        results = answer.json.get("results") if isinstance(answer.json, dict) else None
        if answer.status != 200 or not isinstance(results, list):
            raise RuntimeError(f"GET _connector answered {answer.summary()}")
        for document in results:
            if isinstance(document, dict) and is_run_connector_id(str(document.get("id")), prefix):
                yield str(document["id"])
        if len(results) < size:
            return
        start += size


def add_parser(commands: Any) -> None:
    sweep = commands.add_parser(
        "sweep",
        help="delete the connectors earlier conformance runs left behind (only those)",
        description="Deletes connectors whose ids have the exact shape the suite gives them under PREFIX "
        "(<prefix>-<run token>[-gwN]-<n>). Every option also reads its environment variable.",
    )
    sweep.add_argument("--prefix", required=True, type=parse_id_prefix, help="the --connector-id-prefix of the runs, "
                       "or one run's whole prefix (ccontract-1a2b3c4d) as printed in its header")  # fmt: skip
    sweep.add_argument("--dry-run", action="store_true", help="list what would be deleted, delete nothing")
    by_dest = {option.dest: option for option in OPTIONS}
    for dest in _SWEEP_OPTIONS:
        option = by_dest[dest]
        for flag, arguments in option.arguments(dest, f"{option.help} [env {option.env}]"):
            sweep.add_argument(flag, **arguments)


def run(args: argparse.Namespace) -> int:
    try:
        settings = resolve_from(lambda option: getattr(args, option.dest, None))
    except SettingsError as exc:
        print(f"connector-contract sweep: {exc}", file=sys.stderr)
        return 2
    url = None if settings.target.embedded else settings.target.url
    if url is None:
        print("connector-contract sweep: give the target with --connector-url (or CONNECTOR_URL)", file=sys.stderr)
        return 2
    client = client_for(settings, url)
    try:
        return _sweep(client, args.prefix, dry_run=args.dry_run)
    except (TargetUnreachable, RuntimeError) as exc:
        print(f"connector-contract sweep: {client.redact(str(exc))}", file=sys.stderr)
        return 1
    finally:
        client.close()


def _sweep(client: ConnectorClient, prefix: str, *, dry_run: bool) -> int:
    root = client.request("GET", "/", retry=True)
    version_data = root.json.get("version", {}) if isinstance(root.json, dict) else {}
    flavor = version_data.get("build_flavor") if isinstance(version_data, dict) else None
    version = parse_version(str(version_data.get("number", ""))) if isinstance(version_data, dict) else None
    soft_delete = bool(deletes_softly(version, flavor))
    ids = sorted(set(list_run_connectors(client, prefix, include_deleted=soft_delete)))
    failed = 0
    for connector_id in ids:
        if dry_run:
            print(f"would delete {connector_id}")
            continue
        answer = client.delete_connector(connector_id, hard=soft_delete, retry=True)
        if answer.status in (200, 404):
            print(f"deleted {connector_id}")
        else:
            failed += 1
            print(f"could not delete {connector_id}: {answer.summary()}", file=sys.stderr)
    verb = "would delete" if dry_run else "deleted"
    print(f"{verb} {len(ids) - failed} connector(s) under {prefix!r} on {client.display_url}")
    return 1 if failed else 0
