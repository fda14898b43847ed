"""Recordings: what a target answered to every check (``--connector-record``), replayed in place of a live
reference cluster (``--connector-expect-from``). Their shape is fixed by ``schemas/recording.schema.json``.

A recording holds each check's normalised steps (normalise.py: no connector ids of the run, no credentials,
which the client redacted before anything read an answer) and its own outcome against the suite's
expectations for the recorded release, with the recorded target's identity and the suite version.
"""

from __future__ import annotations

import datetime as _dt
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pytest_connector_contract import __version__
from pytest_connector_contract.config.files import read_option_file
from pytest_connector_contract.contract import schemas
from pytest_connector_contract.contract.spec import Spec, parse_version, version_text
from pytest_connector_contract.contract.target import TargetInfo

__all__ = ["Recording", "RecordingError", "recording_document"]


class RecordingError(ValueError):
    """A recording cannot be used; the message names the file and says why."""


def recording_document(target: TargetInfo, spec: Spec, checks: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """The recording of a run: ``checks`` are ``{id, outcome, message, steps}`` in catalogue order."""
    return {
        "recording_version": 1,
        "tool": {"name": "pytest-connector-contract", "version": __version__},
        "recorded_at": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
        "target": target.to_dict(),
        "release": version_text(target.release(spec)),
        "checks": [dict(check) for check in checks],
    }


@dataclass(frozen=True)
class Recording:
    """A recording read back, to judge a target against (``--connector-expect-from``)."""

    path: str
    target: TargetInfo
    release: tuple[int, int, int]
    checks: Mapping[str, Mapping[str, Any]]
    recorded_at: str

    @property
    def release_text(self) -> str:
        return version_text(self.release)

    @classmethod
    def load(cls, path: Path) -> Recording:
        """Read and check a recording; :class:`RecordingError` says what is wrong with it."""
        where = f"--connector-expect-from {path}"
        text = read_option_file(
            path,
            RecordingError,
            missing=f"{where}: no such file (write one with --connector-record)",
            unreadable=f"{where}: cannot be read",
        )
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise RecordingError(f"{where}: not JSON: {exc}") from None
        problems = schemas.problems("recording", data)
        if problems:
            shown = "; ".join(problems[:5]) + ("; ..." if len(problems) > 5 else "")
            raise RecordingError(f"{where} is not a recording (recording.schema.json): {shown}")
        recorded = data["tool"]["version"]
        if recorded != __version__:
            raise RecordingError(
                f"{where} was recorded by pytest-connector-contract {recorded}, this is {__version__}: the checks "
                "and their requests may differ, so record again with this version"
            )
        release = parse_version(data["release"])
        assert release is not None  # the schema's pattern: three numbers
        return cls(
            path=str(path),
            target=TargetInfo.from_dict(data["target"]),
            release=release,
            checks={check["id"]: check for check in data["checks"]},
            recorded_at=data["recorded_at"],
        )

    def missing(self, check_ids: Iterable[str]) -> list[str]:
        """The checks of ``check_ids`` the recording has nothing for."""
        return [check_id for check_id in check_ids if check_id not in self.checks]

    def describe(self) -> dict[str, Any]:
        """The reference as the reports show it."""
        return {
            "source": "recording",
            "path": self.path,
            "recorded_at": self.recorded_at,
            "url": self.target.url,
            "product": self.target.product,
            "version": self.target.version,
            "release": self.release_text,
        }
