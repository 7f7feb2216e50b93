"""``verify``: re-hash blobs and compare with what the registry recorded, and check that the view
files apps open still show those blobs."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from modelshelf.hashing import sha256_file
from modelshelf.store.linking import shows
from modelshelf.store.records import ModelRecord

MISSING = "missing"  # `actual` of a file whose blob is gone
# Why a view entry is wrong: it is gone, or it is some other file than the model's blob.
VIEW_MISSING = "missing"
VIEW_REPLACED = "replaced by another file"


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
class ViewFailure:
    """A file apps read (``views/<type>/...``) that does not show the registered blob: the blob
    may be fine while ComfyUI loads something else, or nothing."""

    name: str
    path: str      # the view path on disk
    expected: str  # the sha256 the entry should show
    problem: str   # VIEW_MISSING | VIEW_REPLACED

    def to_json(self) -> dict[str, str]:
        return {"name": self.name, "path": self.path, "expected": self.expected,
                "problem": self.problem}


@dataclass(frozen=True)
class VerifyReport:
    checked: int                 # files checked
    ok: int                      # files whose bytes match
    failed: tuple[VerifyFailure, ...] = field(default_factory=tuple)
    views_failed: tuple[ViewFailure, ...] = field(default_factory=tuple)

    @property
    def all_ok(self) -> bool:
        return not self.failed and not self.views_failed

    def to_json(self) -> dict[str, Any]:
        return {"checked": self.checked, "ok": self.ok,
                "failed": [f.to_json() for f in self.failed],
                "views_failed": [v.to_json() for v in self.views_failed]}


def verify_models(models: Iterable[ModelRecord], blob_path: Callable[[str], Path],
                  view_entries: Callable[[ModelRecord], Mapping[Path, str]]) -> VerifyReport:
    """Hash each blob once, however many files of however many models share it; then check
    each view entry of each model shows its blob (same inode, or a symlink to it)."""
    actual_of: dict[str, str] = {}
    checked = ok = 0
    failed: list[VerifyFailure] = []
    views_failed: list[ViewFailure] = []
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
        for entry, sha256 in view_entries(model).items():  # none for a model not linked
            if actual_of[sha256] == MISSING:
                continue  # already reported: no blob for the view to show
            if not shows(entry, blob_path(sha256)):
                problem = VIEW_REPLACED if entry.exists() or entry.is_symlink() else VIEW_MISSING
                views_failed.append(ViewFailure(model.name, str(entry), sha256, problem))
    return VerifyReport(checked, ok, tuple(failed), tuple(views_failed))
