"""A registered model inspected from its blobs, whether or not it has a view: before
registration, or while it is kept out of views/ until trusted (pull, bundles, ``info NAME``)."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Sequence
from pathlib import Path, PurePosixPath
from typing import Any

from modelshelf.errors import FormatError
from modelshelf.inspection import Info, inspect_path
from modelshelf.inspection.trust import Verdict, judge
from modelshelf.store import FileRecord, Store


def inspect_stored(store: Store, files: Sequence[FileRecord], *, hashes: bool = False) -> Info:
    """Inspect a model from its blobs, as apps would see it: one file, or a folder of links to
    the blobs (needed when it has no view: before registration, or kept out until trusted)."""
    if len(files) == 1:
        return inspect_path(store.blob_path(files[0].sha256), hashes=hashes)
    with tempfile.TemporaryDirectory(dir=store.staging_dir, prefix="inspect-") as tmp:
        for f in files:
            target = Path(tmp, *PurePosixPath(f.path).parts)
            target.parent.mkdir(parents=True, exist_ok=True)
            os.symlink(store.blob_path(f.sha256), target)
        return inspect_path(Path(tmp), hashes=hashes)


def assess_stored(store: Store, files: Sequence[FileRecord]) -> tuple[Info | None, Verdict]:
    """What the verified bytes are (None: not inspectable) and whether they may be linked:
    the one judgement ``pull`` and bundle ``import`` both make before registering a model, so
    both keep a model apps could be made to run code from out of views/ alike."""
    try:
        info = inspect_stored(store, files) if files else None
    except FormatError:
        info = None

    def safety_of(f: FileRecord) -> str:  # one file by its content, not by its name
        try:
            return str(inspect_path(store.blob_path(f.sha256)).safety["status"])
        except FormatError:
            return "unknown"

    return info, judge(info, files, safety_of)


def assessment_metadata(info: Info | None, verdict: Verdict) -> dict[str, Any]:
    """The registry's record of :func:`assess_stored`: the safety verdict, and what the
    inspection found when the bytes could be read."""
    metadata: dict[str, Any] = {"safety": verdict.safety}
    if info is not None:
        metadata["inspection"] = {"format": info.format, "model_type": info.model_type,
                                  "architecture": info.architecture, "confidence": info.confidence,
                                  "evidence": list(info.evidence)}
    return metadata
