"""``du``: what the store holds, what dedupe saves, and what the disk has left."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from modelshelf.store.records import ModelRecord


@dataclass(frozen=True)
class DiskUsage:
    total_bytes: int      # sum over models of their sizes, as if nothing were shared
    unique_bytes: int     # bytes of blob files on disk
    saved_bytes: int      # what sharing blobs between names saves
    free_bytes: int       # free space on the store's filesystem
    by_type: Mapping[str, int] = field(default_factory=dict)
    by_model: Mapping[str, int] = field(default_factory=dict)
    unreferenced_bytes: int = 0   # blobs no model uses (gc deletes them)
    staging_bytes: int = 0        # partial downloads and imports in progress
    stale_partial_bytes: int = 0  # of those, what nobody will resume (gc deletes them)

    def to_json(self) -> dict[str, Any]:
        """SPEC.md's ``du --json`` shape (plus a few extra keys)."""
        return {
            "total_bytes": self.total_bytes, "unique_bytes": self.unique_bytes,
            "saved_bytes": self.saved_bytes, "free_bytes": self.free_bytes,
            "by_type": dict(self.by_type), "by_model": dict(self.by_model),
            "unreferenced_bytes": self.unreferenced_bytes, "staging_bytes": self.staging_bytes,
            "partial_bytes": self.staging_bytes, "stale_partial_bytes": self.stale_partial_bytes,
        }


def disk_usage(models: Iterable[ModelRecord], blob_sizes: Mapping[str, int], free_bytes: int,
               staging_bytes: int, stale_partial_bytes: int = 0) -> DiskUsage:
    """Fold the registry and a listing of the blobs (digest -> bytes on disk) into a report."""
    by_type: dict[str, int] = defaultdict(int)
    by_model: dict[str, int] = {}
    referenced: set[str] = set()
    for model in models:
        by_type[model.type] += model.size
        by_model[model.name] = model.size
        referenced.update(f.sha256 for f in model.files)
    total = sum(by_model.values())
    shared_unique = sum(size for sha, size in blob_sizes.items() if sha in referenced)
    unique = sum(blob_sizes.values())
    return DiskUsage(
        total_bytes=total, unique_bytes=unique, saved_bytes=max(0, total - shared_unique),
        free_bytes=free_bytes, by_type=dict(sorted(by_type.items())),
        by_model=dict(sorted(by_model.items())), unreferenced_bytes=unique - shared_unique,
        staging_bytes=staging_bytes, stale_partial_bytes=stale_partial_bytes)
