"""What a scan found, as the types both ``scan`` and ``scan --adopt`` use.

A module of its own so that :mod:`.adopt` (which plans from a scan's files) and :mod:`.scanner`
(which runs the adoption it plans) do not import each other.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, NamedTuple, Protocol


def facts_text(facts: Mapping[str, Any]) -> str:
    """The one serialisation of a file's facts (sorted keys: the same facts, the same text, so
    a result rebuilt from the cache equals the one first computed)."""
    return json.dumps(facts, sort_keys=True, separators=(",", ":"))


class ScannedFile(NamedTuple):
    """One model (file or folder) found by a scan, with what identification said about it.

    A NamedTuple rather than a frozen dataclass, like the walk's ``Unit``: a rescan of an
    unchanged tree builds one per file and does little else, and a frozen dataclass's
    ``__init__`` (one ``object.__setattr__`` per field) cost more than the ``stat``. For the
    same reason the detailed facts stay the JSON text the cache holds (``details``) until
    someone reads :attr:`facts`: decoding them cost a rescan as much as the ``stat`` did.
    """

    path: str
    format: str
    architecture: str
    model_type: str
    size: int
    sha256: str | None  # known when hashed (duplicate candidates, adopt) or cached
    is_dir: bool = False
    inode: tuple[int, int] = (0, 0)  # (st_dev, st_ino): hard links are one copy, not duplicates
    details: str = "{}"  # facts_text(): parameters, dtypes, safety, findings, error
    error: str | None = None  # why the file is broken (its magic claims a format it fails)

    @property
    def facts(self) -> dict[str, Any]:
        return dict(json.loads(self.details))

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "path": self.path, "format": self.format, "architecture": self.architecture,
            "model_type": self.model_type, "size": self.size, "sha256": self.sha256,
        }
        out.update({k: v for k, v in self.facts.items() if k not in out and k != "v"})
        return out


class ScannedFiles(Protocol):
    """What adoption needs of a scan result: the folder scanned and the files it found."""

    @property
    def root(self) -> str: ...

    @property
    def files(self) -> tuple[ScannedFile, ...]: ...
