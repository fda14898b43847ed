"""The ids the suite gives the connectors it creates: made and recognised here, and nowhere else.

``connector-contract sweep`` deletes connectors by their id alone, so the shape is a safety rule: every id a run
makes is ``<prefix>-<run token>[-<xdist worker>]-<n>`` (the preflight's probe: ``<prefix>-<run token>-probe``),
where ``<prefix>`` is ``--connector-id-prefix`` and the run token is 8 hex digits drawn once per run. A connector
of the same prefix without that shape belongs to someone else.
"""

from __future__ import annotations

import re
import secrets

__all__ = [
    "RUN_ID",
    "ids_under",
    "is_run_connector_id",
    "new_run_prefix",
    "nth_id",
    "numbered_ids",
    "other_case",
    "owns",
    "probe_id",
    "process_prefix",
]

_TOKEN = r"[0-9a-f]{8}"
#: what follows a run prefix: an optional xdist worker and the number, or the probe
_TAIL = r"(?:gw\d+-)?\d+|probe"
_PROBE = "probe"

#: any id any run made, in free text; ``prefix`` is the ``--connector-id-prefix`` it was made under. Either case:
#: a run also writes its ids in upper case (:func:`other_case`), though it never creates one so written
RUN_ID = re.compile(rf"\b(?P<prefix>[a-z0-9][a-z0-9_]*)-{_TOKEN}-(?:{_TAIL})\b", re.IGNORECASE)


def new_run_prefix(id_prefix: str) -> str:
    """``ccontract`` -> ``ccontract-1a2b3c4d``: the prefix of every id of one run (a fresh token per run)."""
    return f"{id_prefix}-{secrets.token_hex(4)}"


def process_prefix(run_prefix: str, worker_id: str | None) -> str:
    """The prefix of the ids one process of the run makes: the run prefix, plus the xdist worker (``gw0``)."""
    return f"{run_prefix}-{worker_id}" if worker_id else run_prefix


def probe_id(run_prefix: str) -> str:
    """The id the preflight reads (and expects missing) before the run creates anything."""
    return f"{run_prefix}-{_PROBE}"


def nth_id(prefix: str, number: int) -> str:
    """The ``number``-th id a process with :func:`process_prefix` ``prefix`` makes."""
    return f"{prefix}-{number}"


def owns(prefix: str, connector_id: str) -> bool:
    """Whether ``connector_id`` lies under the process prefix ``prefix`` (so the process may take it on), or is
    the :func:`other_case` form of such an id: the run sends to that form only after reading it missing, so a
    connector there is one a faulty target created from the run's own request."""
    return connector_id.startswith(f"{prefix}-") or (
        connector_id.lower().startswith(f"{prefix}-") and other_case(connector_id.lower()) == connector_id
    )


def other_case(connector_id: str) -> str | None:
    """``ccontract-1a2b3c4d-7`` -> ``CCONTRACT-1A2B3C4D-7``: the id a run's connector does *not* have, written
    in the other case, to show ids are matched exactly; None when it has no letter to change. The run never
    creates it (so sweep never needs to recognise it), and only sends to it after a GET found nothing there."""
    upper = connector_id.upper()
    return None if upper == connector_id else upper


def ids_under(prefix: str) -> str:
    """How the ids under a run or process prefix are shown to a user: ``ccontract-1a2b3c4d-*``."""
    return f"{prefix}-*"


def numbered_ids(prefix: str) -> re.Pattern[str]:
    """The ids a process with :func:`process_prefix` ``prefix`` makes, in free text, in either case (see
    :data:`RUN_ID`)."""
    return re.compile(re.escape(prefix) + r"-\d+", re.IGNORECASE)


def is_run_connector_id(connector_id: str, prefix: str) -> bool:
    """Whether ``connector_id`` is one a run with ``--connector-id-prefix`` ``prefix`` made, or, when ``prefix``
    is a whole run prefix (``ccontract-1a2b3c4d``), one that run made."""
    if re.search(rf"-{_TOKEN}$", prefix):  # a whole run prefix: that run only
        pattern = rf"{re.escape(prefix)}-(?:{_TAIL})"
    else:
        pattern = rf"{re.escape(prefix)}-{_TOKEN}-(?:{_TAIL})"
    return re.fullmatch(pattern, connector_id) is not None
