"""The values the public API hands back: a registered :class:`Model` and a :class:`PullResult`.

They are views over store records with the one thing a record lacks — where the model is on disk
for apps — and the JSON shapes SPEC.md promises, so the CLI and the web page print the same thing.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from modelshelf.store import FileRecord, ModelRecord


@dataclass(frozen=True)
class Model:
    name: str
    type: str
    architecture: str
    format: str
    path: Path  # the file (single-file models) or folder in the store's views
    files: tuple[FileRecord, ...]
    source: str
    source_ref: str
    source_url: str | None
    revision: str | None
    pinned: bool
    last_used: float
    metadata: Mapping[str, Any] = field(default_factory=dict)
    linked: bool = True  # False: kept out of views/ and apps until `modelshelf trust NAME`

    @property
    def safety(self) -> str:
        """The inspection's verdict when it was pulled: "safe", "unsafe" or "unknown"."""
        return str(self.metadata.get("safety", "unknown"))

    @property
    def size(self) -> int:
        return sum(f.size for f in self.files)

    @property
    def sha256(self) -> str:
        return max(self.files, key=lambda f: f.size).sha256 if self.files else ""

    @classmethod
    def from_record(cls, record: ModelRecord, path: Path) -> Model:
        return cls(
            name=record.name, type=record.type, architecture=record.architecture,
            format=record.format, path=path, files=tuple(record.files), source=record.source,
            source_ref=record.source_ref, source_url=record.source_url, revision=record.revision,
            pinned=record.pinned, last_used=record.last_used, metadata=dict(record.metadata),
            linked=record.linked,
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name, "type": self.type, "architecture": self.architecture,
            "format": self.format, "size": self.size, "sha256": self.sha256,
            "source": self.source_ref, "revision": self.revision, "path": str(self.path),
            "pinned": self.pinned, "safety": self.safety, "linked": self.linked,
            "files": [f.to_json() for f in self.files],
        }


@dataclass(frozen=True)
class PlannedFile:
    """One line of ``pull --dry-run``: what would be fetched and whether it is already here."""

    path: str
    size: int | None
    sha256: str | None
    present: bool

    def to_json(self) -> dict[str, Any]:
        return {"path": self.path, "size": self.size, "sha256": self.sha256,
                "present": self.present}


class PullStatus(StrEnum):
    """What became of one reference of a batch (the ``status`` of ``pull --json``)."""

    OK = "ok"
    ERROR = "error"
    PLANNED = "planned"  # --dry-run: ``plan`` says what would be fetched


@dataclass(frozen=True)
class PullResult:
    """The outcome of one reference of a batch; a failure is data, not an exception."""

    ref: str
    status: PullStatus
    model: Model | None = None
    bytes_downloaded: int = 0
    error: str | None = None
    exit_code: int = 0
    notes: tuple[str, ...] = ()
    plan: tuple[PlannedFile, ...] = ()

    @property
    def total_bytes(self) -> int:
        """What a planned pull (``--dry-run``) covers; a file of unknown size counts 0."""
        return sum(p.size or 0 for p in self.plan)

    @property
    def missing_bytes(self) -> int:
        """What a planned pull would download: its files not in the store already."""
        return sum(p.size or 0 for p in self.plan if not p.present)

    def to_json(self) -> dict[str, Any]:
        model = self.model
        out: dict[str, Any] = {
            "ref": self.ref,
            "status": self.status,
            "name": model.name if model else None,
            "type": model.type if model else None,
            "architecture": model.architecture if model else None,
            "path": str(model.path) if model else None,
            "safety": model.safety if model else None,
            "linked": model.linked if model else None,
            "files": [f.to_json() for f in (model.files if model else ())],
            "bytes_downloaded": self.bytes_downloaded,
            "error": self.error,
            "notes": list(self.notes),
        }
        if self.status == PullStatus.PLANNED:
            out["plan"] = [p.to_json() for p in self.plan]
            out["total_bytes"] = self.total_bytes
            out["missing_bytes"] = self.missing_bytes
        return out
