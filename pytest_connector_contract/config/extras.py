"""How to install what an optional feature needs: the one place that turns an extra of the package's metadata
into the command a message or a page shows.

The command names the extra's own requirements (``pip install 'hypothesis>=6.100'``), packages the public
index serves, rather than ``pytest-connector-contract[explore]``, which an index can serve only once the
suite is published there; the extra's name follows for those who install from a clone or a wheel.
"""

from __future__ import annotations

import importlib.metadata
import re

__all__ = ["DISTRIBUTION", "extra_requirements", "install_hint"]

DISTRIBUTION = "pytest-connector-contract"
_EXTRA = re.compile(r"""^(?P<requirement>[^;]+?)\s*;\s*extra\s*==\s*["'](?P<extra>[\w-]+)["']\s*$""")


def extra_requirements(extra: str) -> list[str]:
    """The requirements the installed package declares for ``extra``, as written in its metadata."""
    found = []
    for line in importlib.metadata.requires(DISTRIBUTION) or []:
        match = _EXTRA.match(line)
        if match and match["extra"] == extra:
            found.append(match["requirement"].replace(" ", ""))
    if not found:
        raise KeyError(f"{DISTRIBUTION} declares no extra {extra!r}")
    return found


def install_hint(extra: str) -> str:
    """``pip install 'hypothesis>=6.100'`` (the ``explore`` extra), for a message that says how to get it."""
    packages = " ".join(f"'{requirement}'" for requirement in extra_requirements(extra))
    return f"pip install {packages} (the {extra!r} extra)"
