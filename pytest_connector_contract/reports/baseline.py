"""The baseline: deviations of a target that a team accepts for now, so the suite can gate CI from day one.

A TOML file with one ``[[expected_failure]]`` table per accepted deviation (``check``, ``reason``, and
optionally ``link`` and ``expires``), checked against ``schemas/baseline.schema.json``. A listed check that
fails is reported as xfailed; one that passes, or an entry past its ``expires`` date, fails the run, so the
baseline can only shrink.
"""

from __future__ import annotations

import datetime as _dt
import re
import tomllib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pytest_connector_contract.config.files import read_option_file
from pytest_connector_contract.contract import schemas
from pytest_connector_contract.contract.spec import Spec

__all__ = ["Baseline", "BaselineError", "Entry", "load", "parse", "render"]

TABLE = "expected_failure"
#: what --connector-baseline-write puts where a person has to write the reason
REASON_TO_FILL = "TODO: say why this deviation is accepted for now"


class BaselineError(Exception):
    """The baseline file cannot be used; the message names the file and line."""


@dataclass(frozen=True)
class Entry:
    check: str
    reason: str
    link: str | None = None
    expires: _dt.date | None = None
    line: int | None = None

    def expired(self, today: _dt.date) -> bool:
        """From its ``expires`` day on, an entry no longer applies."""
        return self.expires is not None and today >= self.expires

    def to_dict(self) -> dict[str, Any]:
        """The entry as shown on a check in the JSON report (and sent to xdist workers)."""
        return {
            "check": self.check,
            "reason": self.reason,
            "link": self.link,
            "expires": self.expires.isoformat() if self.expires else None,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Entry:
        expires = data.get("expires")
        return cls(
            check=data["check"],
            reason=data["reason"],
            link=data.get("link"),
            expires=_dt.date.fromisoformat(expires) if expires else None,
        )

    @property
    def marker_reason(self) -> str:
        """The xfail reason pytest shows: the team's reason and where it is tracked."""
        link = f" ({self.link})" if self.link else ""
        return f"baseline: {self.reason}{link}"


@dataclass(frozen=True)
class Baseline:
    path: str
    entries: tuple[Entry, ...]
    today: _dt.date

    def applied(self) -> dict[str, Entry]:
        """Entries in force: each listed check is expected to fail."""
        return {e.check: e for e in self.entries if not e.expired(self.today)}

    def expired(self) -> list[Entry]:
        return [e for e in self.entries if e.expired(self.today)]

    def entry(self, check_id: str) -> Entry | None:
        return self.applied().get(check_id)


def _today() -> _dt.date:
    return _dt.datetime.now(_dt.UTC).date()


def load(path: Path, spec: Spec, *, today: _dt.date | None = None) -> Baseline:
    """Read and check a baseline file; raise :class:`BaselineError` naming the file and line."""
    text = read_option_file(
        path, BaselineError, missing=f"{path}: no such baseline file", unreadable=f"{path}: cannot read the baseline"
    )
    return parse(text, spec, path=str(path), today=today)


_TOML_POSITION = re.compile(r"\(at line (\d+), column (\d+)\)")


def parse(text: str, spec: Spec, *, path: str = "<baseline>", today: _dt.date | None = None) -> Baseline:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        message = str(exc)
        match = _TOML_POSITION.search(message)
        where = f"{path}:{match.group(1)}" if match else path
        raise BaselineError(f"{where}: not valid TOML: {_TOML_POSITION.sub('', message).strip()}") from None
    lines = text.splitlines()
    instance = _jsonable(data)
    for error in sorted(schemas.validator("baseline").iter_errors(instance), key=lambda e: list(e.absolute_path)):
        location = list(error.absolute_path)
        line = _line_of(lines, location, error.message)
        what = _describe_location(location, data)
        raise BaselineError(f"{path}:{line}: {what}{_friendly(error)}")
    header_lines = _entry_lines(lines)
    entries: list[Entry] = []
    seen: dict[str, int] = {}
    for index, raw in enumerate(data.get(TABLE, [])):
        line = header_lines[index] if index < len(header_lines) else 1
        check = raw["check"]
        if not spec.has_check(check):
            raise BaselineError(
                f"{path}:{line}: {TABLE}[{index}] names {check!r}, which is not a check of the suite; "
                "see 'pytest --connector-url embedded --collect-only -q' for the ids"
            )
        if check in seen:
            raise BaselineError(f"{path}:{line}: {check!r} is listed twice (first on line {seen[check]})")
        seen[check] = line
        expires = raw.get("expires")
        if isinstance(expires, str):
            try:
                expires = _dt.date.fromisoformat(expires)
            except ValueError:
                raise BaselineError(
                    f"{path}:{_line_of(lines, [TABLE, index, 'expires'], '')}: {TABLE}[{index}] ({check}): "
                    f"expires {expires!r} is not a date"
                ) from None
        entries.append(Entry(check=check, reason=raw["reason"], link=raw.get("link"), expires=expires, line=line))
    return Baseline(path=path, entries=tuple(entries), today=today or _today())


def _jsonable(value: Any) -> Any:
    """TOML values as JSON values: dates and times become ISO 8601 strings (a date-time is not a date)."""
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    if isinstance(value, _dt.date | _dt.time):  # datetime is a date too: isoformat() keeps its time part
        return value.isoformat()
    return value


def _friendly(error: Any) -> str:
    if error.validator == "pattern" and list(error.absolute_path)[-1:] == ["expires"]:
        return f"expires must be a date such as 2027-03-01, not {error.instance!r}"
    if error.validator == "pattern" and list(error.absolute_path)[-1:] == ["reason"]:
        return "reason must say why the deviation is accepted (it is empty)"
    if error.validator == "pattern" and list(error.absolute_path)[-1:] == ["check"]:
        return f"{error.instance!r} is not a check id such as 'transition[created->error]'"
    return str(error.message)


def _describe_location(location: Sequence[Any], data: Mapping[str, Any]) -> str:
    if len(location) >= 2 and location[0] == TABLE and isinstance(location[1], int):
        try:
            check = data[TABLE][location[1]].get("check")
        except (AttributeError, IndexError, KeyError, TypeError):
            check = None
        label = f"{TABLE}[{location[1]}]" + (f" ({check})" if isinstance(check, str) else "")
        return f"{label}: "
    return ""


def _entry_lines(lines: Sequence[str]) -> list[int]:
    """1-based line numbers of the ``[[expected_failure]]`` headers, in order."""
    header = re.compile(rf"^\s*\[\[\s*{TABLE}\s*\]\]")
    return [number for number, line in enumerate(lines, start=1) if header.match(line)]


def _line_of(lines: Sequence[str], location: Sequence[Any], message: str) -> int:
    """Best-effort line of a schema error: the entry's header, or the line of the offending key."""
    unexpected = re.search(r"'([^']+)' (?:was|were) unexpected", message)
    if len(location) >= 2 and location[0] == TABLE and isinstance(location[1], int):
        headers = _entry_lines(lines)
        if location[1] < len(headers):
            start = headers[location[1]]
            name = location[2] if len(location) >= 3 else (unexpected.group(1) if unexpected else None)
            if name is not None:
                key = re.compile(rf"^\s*{re.escape(str(name))}\s*=")
                for number in range(start + 1, len(lines) + 1):
                    text = lines[number - 1]
                    if re.match(r"^\s*\[", text):
                        break
                    if key.match(text):
                        return number
            return start
    names = [unexpected.group(1)] if unexpected else [str(p) for p in location[:1]]
    for name in names:
        pattern = re.compile(rf"^\s*(\[+\s*{re.escape(name)}\b|{re.escape(name)}\s*=)")
        for number, text in enumerate(lines, start=1):
            if pattern.match(text):
                return number
    return 1


# -- writing ---------------------------------------------------------------------------------------
def _toml_string(value: str) -> str:
    """A TOML basic string (escapes what TOML requires; everything else is kept as UTF-8)."""
    out = ['"']
    for char in value:
        if char == '"':
            out.append('\\"')
        elif char == "\\":
            out.append("\\\\")
        elif char == "\n":
            out.append("\\n")
        elif char == "\t":
            out.append("\\t")
        elif ord(char) < 0x20 or ord(char) == 0x7F:
            out.append(f"\\u{ord(char):04X}")
        else:
            out.append(char)
    out.append('"')
    return "".join(out)


def _comment(text: str) -> str:
    """One line (a newline would end the comment) without the control characters TOML forbids in comments."""
    text = " ".join(text.split())
    return "".join(f"\\x{ord(c):02x}" if ord(c) < 0x20 or ord(c) == 0x7F else c for c in text)


def render(entries: Iterable[Mapping[str, Any]], *, header: str | None = None) -> str:
    """A baseline file for ``entries`` (``check``, ``reason``, optional ``link``, ``expires``, ``note``)."""
    lines = [
        "# Known deviations accepted for now (pytest --connector-baseline).",
        "# A listed check that fails is an expected failure; one that passes, or an entry past its",
        "# 'expires' date, fails the run. Give each entry the reason it is accepted.",
    ]
    if header:
        lines.append(f"# {_comment(header)}")
    for entry in entries:
        lines.append("")
        if entry.get("note"):
            lines.append(f"# {_comment(str(entry['note']))}")
        lines.append(f"[[{TABLE}]]")
        lines.append(f"check = {_toml_string(str(entry['check']))}")
        lines.append(f"reason = {_toml_string(str(entry.get('reason') or REASON_TO_FILL))}")
        if entry.get("link"):
            lines.append(f"link = {_toml_string(str(entry['link']))}")
        expires = entry.get("expires")
        if expires:
            day = expires if isinstance(expires, _dt.date) else _dt.date.fromisoformat(str(expires))
            lines.append(f"expires = {day.isoformat()}")
    return "\n".join(lines) + "\n"
