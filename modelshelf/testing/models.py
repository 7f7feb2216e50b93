"""Factories for tests that need models in a store: blobs from bytes, NewModel values.

Blobs enter the way the transfer engine's output does (a file in ``staging/``, then
``commit_blob``), so tests exercise the real path without a download.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable

from modelshelf.store import FileRecord, NewModel, Store

AddBlob = Callable[..., FileRecord]  # the tests' bound put_blob: add_blob(data, path=...)


def put_blob(store: Store, data: bytes, path: str = "model.safetensors") -> FileRecord:
    """Stage ``data`` and commit it; the record names it ``path`` inside its model."""
    sha = hashlib.sha256(data).hexdigest()
    staged = store.staging_dir / f"test-{sha[:12]}-{secrets.token_hex(4)}.part"
    staged.write_bytes(data)
    store.commit_blob(staged, sha)
    return FileRecord(path, sha, len(data))


def new_model(name: str, *files: FileRecord, type: str = "loras", format: str = "safetensors",
              architecture: str = "sdxl", ref: str | None = None) -> NewModel:
    """A NewModel from a direct URL, with a small metadata dict naming it."""
    return NewModel(name=name, type=type, architecture=architecture, format=format, source="url",
                    source_ref=ref or f"https://example.test/{name}", source_url=None,
                    revision=None, files=files, metadata={"note": name})
