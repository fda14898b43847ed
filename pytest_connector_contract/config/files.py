"""Reading a file an option names (a baseline, a report to compare with, a recording): one rule for a file that
is missing or cannot be read, each caller giving the words its users know it by."""

from __future__ import annotations

from pathlib import Path

__all__ = ["read_option_file"]


def read_option_file(path: Path | str, error: type[Exception], *, missing: str, unreadable: str) -> str:
    """The text of ``path`` (UTF-8). A missing file raises ``error(missing)``; one that cannot be read or
    decoded raises ``error(f"{unreadable}: <why>")``, without the traceback of the cause."""
    try:
        return Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise error(missing) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise error(f"{unreadable}: {exc}") from None
