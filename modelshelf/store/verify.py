"""``verify``: re-hash blobs and compare with what the registry recorded."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from modelshelf.hashing import sha256_file
from modelshelf.store.records import ModelRecord

MISSING = "missing"  # `actual` of a file whose blob is gone


@dataclass(frozen=True)
class VerifyFailure:
    name: str
    path: str
    expected: str
    actual: str  # a sha256, or "missing"

    def to_json(self) -> dict[str, str]:
        return {"name": self.name, "path": self.path, "expected": self.expected,
                "actual": self.actual}


@dataclass(frozen=True)
class VerifyReport:
    checked: int                 # files checked
    ok: int                      # files whose bytes match
    failed: tuple[VerifyFailure, ...] = field(default_factory=tuple)

    @property
    def all_ok(self) -> bool:
        return not self.failed

    def to_json(self) -> dict[str, Any]:
        return {"checked": self.checked, "ok": self.ok,
                "failed": [f.to_json() for f in self.failed]}


def verify_models(models: Iterable[ModelRecord], blob_path: Callable[[str], Path]) -> VerifyReport:
    """Hash each blob once, however many files of however many models share it."""
    actual_of: dict[str, str] = {}
    checked = ok = 0
    failed: list[VerifyFailure] = []
    for model in models:
        for f in model.files:
            if f.sha256 not in actual_of:
                blob = blob_path(f.sha256)
                actual_of[f.sha256] = sha256_file(blob) if blob.is_file() else MISSING
            checked += 1
            if actual_of[f.sha256] == f.sha256:
                ok += 1
            else:
                failed.append(VerifyFailure(model.name, f.path, f.sha256, actual_of[f.sha256]))
    return VerifyReport(checked, ok, tuple(failed))
