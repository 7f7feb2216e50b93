"""A registered model inspected from its blobs, whether or not it has a view: before
registration, or while it is kept out of views/ until trusted (pull, bundles, ``info NAME``)."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Sequence
from pathlib import Path, PurePosixPath

from modelshelf.inspection import Info, inspect_path
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
