"""``connector-contract sweep``: delete what earlier runs left behind, and nothing else.

Only ids of the exact shape the suite gives its connectors (``<prefix>-<8 hex run token>[-gwN]-<n>``, or
the preflight's ``...-probe``; contract/ids.py) are touched, so a prefix that starts someone else's ids is safe.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from typing import Any

from pytest_connector_contract.checks.factory import delete_for_good
from pytest_connector_contract.client.api import ConnectorClient, TargetUnreachable, client_for
from pytest_connector_contract.config.settings import OPTIONS, SettingsError, resolve_from
from pytest_connector_contract.config.values import parse_id_prefix
from pytest_connector_contract.contract.ids import is_run_connector_id
from pytest_connector_contract.contract.spec import deletes_softly
from pytest_connector_contract.contract.target import read_root

__all__ = ["add_parser", "list_run_connectors", "run"]

#: the settings the sweep needs: where the target is and how to reach it
_SWEEP_OPTIONS = (
    "url", "cloud_id", "api_key", "user", "password", "bearer_token",
    "ca_certs", "client_cert", "client_key", "insecure", "timeout", "max_rps",
)  # fmt: skip


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
    found = read_root(root.status, root.json)
    soft_delete = bool(deletes_softly(found.version_tuple, found.build_flavor))
    ids = sorted(set(list_run_connectors(client, prefix, include_deleted=soft_delete)))
    failed = 0
    for connector_id in ids:
        if dry_run:
            print(f"would delete {connector_id}")
            continue
        answer, _ = delete_for_good(client, connector_id, soft_delete)
        if answer.status in (200, 404):
            print(f"deleted {connector_id}")
        else:
            failed += 1
            print(f"could not delete {connector_id}: {answer.summary()}", file=sys.stderr)
    verb = "would delete" if dry_run else "deleted"
    print(f"{verb} {len(ids) - failed} connector(s) under {prefix!r} on {client.display_url}")
    return 1 if failed else 0
