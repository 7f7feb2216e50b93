"""``gc``: decide what to delete as a plan, show it (``--dry-run``), then apply it.

Modelled on huggingface_hub's ``DeleteCacheStrategy``: planning reads only, the plan says what
would go and how many bytes that frees, and ``execute()`` re-checks each item against the
live store before deleting it (a model pinned or re-used since the plan was made survives).
"""

from __future__ import annotations

import fnmatch
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from modelshelf.staging import StalePartial
from modelshelf.store.records import ModelRecord

# A blob committed but not registered yet (a pull between commit_blob and add_model) looks
# unreferenced; blobs touched this recently are left alone.
BLOB_GRACE_SECONDS = 3600


@dataclass(frozen=True)
class OrphanBlob:
    sha256: str
    size: int


@dataclass(frozen=True)
class Eviction:
    name: str
    last_used: float
    size: int    # the model's size
    frees: int   # bytes of blobs no remaining model uses


@dataclass(frozen=True)
class GcPlan:
    orphan_blobs: tuple[OrphanBlob, ...]
    stale_partials: tuple[StalePartial, ...]
    evictions: tuple[Eviction, ...]
    max_size: int | None
    unique_bytes_before: int   # bytes of referenced blobs now
    unique_bytes_after: int    # after the evictions
    created: float             # when planned: blobs touched later are not deleted
    apply: Callable[[GcPlan], int] = field(repr=False, compare=False)
    # Unreferenced blobs views/ or meta/ still claim: kept (``gc --force`` deletes them).
    unaccounted_blobs: tuple[OrphanBlob, ...] = ()

    @property
    def kept_bytes(self) -> int:
        return sum(b.size for b in self.unaccounted_blobs)

    @property
    def bytes_freed(self) -> int:
        return (sum(b.size for b in self.orphan_blobs) + sum(p.size for p in self.stale_partials)
                + sum(e.frees for e in self.evictions))

    @property
    def fits(self) -> bool:
        """Whether the store ends within ``max_size`` (pinned/kept models may prevent it)."""
        return self.max_size is None or self.unique_bytes_after <= self.max_size

    def execute(self) -> int:
        """Delete what the plan lists (re-checked); returns the bytes actually freed."""
        return self.apply(self)

    def to_json(self) -> dict[str, Any]:
        return {
            "max_size": self.max_size, "fits": self.fits, "bytes_freed": self.bytes_freed,
            "unique_bytes_before": self.unique_bytes_before,
            "unique_bytes_after": self.unique_bytes_after,
            "evict": [{"name": e.name, "last_used": e.last_used, "size": e.size,
                       "frees": e.frees} for e in self.evictions],
            "unreferenced_blobs": [{"sha256": b.sha256, "size": b.size}
                                   for b in self.orphan_blobs],
            "stale_partials": [{"path": str(p.path), "size": p.size, "reason": p.reason}
                               for p in self.stale_partials],
            "kept_unaccounted_blobs": [{"sha256": b.sha256, "size": b.size}
                                       for b in self.unaccounted_blobs],
            "kept_bytes": self.kept_bytes,
        }


def plan_evictions(models: Sequence[ModelRecord], max_size: int,
                   keep: Sequence[str]) -> tuple[list[Eviction], int, int]:
    """Least-recently-used unpinned, unkept models to drop until referenced bytes fit.

    Evicting a model frees only blobs no remaining model uses. A first pass evicts in LRU
    order until the store fits; a second pass gives back, newest first, every eviction the
    store fits without (e.g. a model whose blobs another, kept model still holds).
    Returns (evictions, bytes before, bytes after).
    """
    sizes: dict[str, int] = {f.sha256: f.size for m in models for f in m.files}
    users = Counter(sha for m in models for sha in {f.sha256 for f in m.files})
    before = sum(sizes.values())

    def freed_by(model: ModelRecord, counts: Counter[str]) -> int:
        return sum(sizes[sha] for sha in {f.sha256 for f in model.files} if counts[sha] == 1)

    def drop(model: ModelRecord, counts: Counter[str]) -> None:
        counts.subtract({f.sha256 for f in model.files})

    candidates = sorted((m for m in models if not m.pinned and not _kept(m.name, keep)),
                        key=lambda m: (m.last_used, m.created, m.name))
    chosen: list[ModelRecord] = []
    unique = before
    for model in candidates:
        if unique <= max_size:
            break
        unique -= freed_by(model, users)
        drop(model, users)
        chosen.append(model)
    for model in reversed(list(chosen)):
        users.update({f.sha256 for f in model.files})
        regained = freed_by(model, users)
        if unique + regained <= max_size:
            chosen.remove(model)
            unique += regained
        else:
            drop(model, users)
    # Report what each eviction frees given the final set, in eviction order.
    counts = Counter(sha for m in models for sha in {f.sha256 for f in m.files})
    evictions = []
    for model in chosen:
        evictions.append(Eviction(model.name, model.last_used, model.size,
                                  freed_by(model, counts)))
        drop(model, counts)
    return evictions, before, unique


def find_orphans(blob_sizes: Mapping[str, int], referenced: Iterable[str],
                 blob_path: Callable[[str], Path], grace: float) -> list[OrphanBlob]:
    used = set(referenced)
    return [OrphanBlob(sha, size) for sha, size in sorted(blob_sizes.items())
            if sha not in used and _older_than(blob_path(sha), grace, with_ctime=True)]


def _kept(name: str, keep: Sequence[str]) -> bool:
    return any(fnmatch.fnmatchcase(name, glob) for glob in keep)


def _older_than(path: Path, seconds: float, *, with_ctime: bool = False) -> bool:
    """Age by mtime (bytes written); ``with_ctime`` also counts chmod/link/utime, which is
    what committing a blob does even when its bytes are old."""
    try:
        st = path.stat()
    except FileNotFoundError:
        return False
    stamp = max(st.st_mtime, st.st_ctime) if with_ctime else st.st_mtime
    return time.time() - stamp >= seconds
