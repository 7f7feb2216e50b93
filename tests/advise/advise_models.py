"""Helpers for the advise tests: register a file by hard link, write an unsafe pickle."""

from __future__ import annotations

import struct
from pathlib import Path

from modelshelf.store import NewModel, Store


def register(store: Store, path: Path, name: str, type_: str = "other",
             arch: str = "unknown", fmt: str = "safetensors") -> int:
    """Hard-link the file into the store (a sparse file stays sparse) and register it."""
    rec = store.import_file(path, mode="link")
    store.add_model(NewModel(name=name, type=type_, architecture=arch, format=fmt,
                             source="local", source_ref=str(path), source_url=None,
                             revision=None, files=(rec,)))
    return rec.size


def evil_pickle(path: Path) -> Path:
    cmd = b"echo hi"
    path.write_bytes(b"\x80\x02cposix\nsystem\nX" + struct.pack("<I", len(cmd)) + cmd + b"\x85R.")
    return path


