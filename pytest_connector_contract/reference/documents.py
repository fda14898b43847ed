"""The stored connector document and the rules on its fields, as the connector endpoints apply them.

A JSON copy cheap enough for every GET, the default filtering of a new connector
(``ConnectorFiltering.getDefaultConnectorFilteringConfig``), Elasticsearch's index-name rules
(``MetadataCreateIndexService``) and the numbered text of an ``ActionRequestValidationException``. Values and
rules only: no routing, no rendering, no state.
"""

from __future__ import annotations

import copy
from typing import Any

from pytest_connector_contract.reference.messages import EsError

__all__ = ["copy_json", "default_filtering", "index_name_problem", "validation_failed"]


def copy_json(value: Any) -> Any:
    """A deep copy of JSON-shaped data: several times cheaper than ``copy.deepcopy``, which was a third of
    the target's time per request (every GET renders a copy of the stored document)."""
    if isinstance(value, dict):
        return {key: copy_json(item) for key, item in value.items()}
    if isinstance(value, list):
        return [copy_json(item) for item in value]
    if value is None or isinstance(value, str | int | float):
        return value
    return copy.deepcopy(value)


def validation_failed(errors: list[str]) -> EsError:
    """``ActionRequestValidationException``: the numbered list of what validate() found."""
    numbered = "".join(f"{i}: {e};" for i, e in enumerate(errors, 1))
    return EsError(400, "action_request_validation_exception", f"Validation Failed: {numbered}")


def index_name_problem(name: str, *, check_case: bool = True) -> str | None:
    """``MetadataCreateIndexService.validateIndexOrAliasName`` (plus, with ``check_case``, the lower-case rule
    of ``validateIndexName``), as a message tail."""
    if not name:
        return "must not be empty"
    if any(c in name for c in '\\/*?"<>| ,'):
        return 'must not contain the following characters [ , ", *, \\, <, |, ,, >, /, ?]'
    if "#" in name:
        return "must not contain '#'"
    if ":" in name:
        return "must not contain ':'"
    if name[0] in "_-+":
        return "must not start with '_', '-', or '+'"
    if len(name.encode()) > 255:
        return f"index name is too long, ({len(name.encode())} > 255)"
    if name in (".", ".."):
        return "must not be '.' or '..'"
    if check_case and name.lower() != name:
        return "must be lowercase"
    return None


def default_filtering(now: str) -> dict[str, Any]:
    """``ConnectorFiltering.getDefaultConnectorFilteringConfig``: one include-everything rule."""

    def rules() -> dict[str, Any]:
        return {
            "advanced_snippet": {"created_at": now, "updated_at": now, "value": {}},
            "rules": [
                {
                    "created_at": now,
                    "field": "_",
                    "id": "DEFAULT",
                    "order": 0,
                    "policy": "include",
                    "rule": "regex",
                    "updated_at": now,
                    "value": ".*",
                }
            ],
            "validation": {"errors": [], "state": "valid"},
        }

    return {"active": rules(), "domain": "DEFAULT", "draft": rules()}
