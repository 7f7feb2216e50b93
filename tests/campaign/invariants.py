"""What must hold in a store after every campaign step, whatever faults, kills and races came
before: the promise "never loses a byte, never shows a partial as a model" as checks.

Read straight from disk and SQLite (not through ``Store``), so a bug in the store's own reading
cannot hide a bug in its writing.
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from modelshelf.views.sidecars import is_sidecar

from .world import Item


class Broken(AssertionError):
    """An invariant does not hold; the message says which and where."""


@dataclass(frozen=True)
class StoreFacts:
    """What the check saw, for the campaign's summary."""

    models: int
    files: int
    bytes_verified: int


def _hash(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def blob_path(home: Path, sha: str) -> Path:
    return home / "blobs" / "sha256" / sha[:2] / sha


def check_store(home: Path, items: Iterable[Item], *, after_gc: bool = False) -> StoreFacts:
    """Raise :class:`Broken` unless the store at ``home`` is whole and consistent.

    - SQLite ``PRAGMA integrity_check`` is ``ok``;
    - every registered file's blob exists, has the registered size and hashes to the registered
      sha256, and that content is one the item's server really published (never a mix, a gzip
      body, a truncation or a corrupted byte);
    - every model registered from a catalogue reference has all the files that reference names;
    - every entry in ``views/`` is a registered model's blob (same inode, or a symlink to it);
      nothing half-written is visible there;
    - ``after_gc``: no blob is left that no model references, and ``staging/`` holds no data.
    """
    registry = home / "registry.sqlite3"
    if not registry.exists():
        return StoreFacts(0, 0, 0)
    by_ref = {item.ref: item for item in items}
    with sqlite3.connect(f"file:{registry}?mode=ro", uri=True) as conn:
        status = conn.execute("PRAGMA integrity_check").fetchone()[0]
        if status != "ok":
            raise Broken(f"registry integrity_check: {status}")
        models = conn.execute("SELECT id, name, source_ref FROM models").fetchall()
        rows = conn.execute("SELECT model_id, path, sha256, size FROM files").fetchall()
    conn.close()
    files_of: dict[int, dict[str, tuple[str, int]]] = {}
    for model_id, path, sha, size in rows:
        files_of.setdefault(model_id, {})[path] = (sha, size)
    verified: dict[str, int] = {}
    for model_id, name, source_ref in models:
        files = files_of.get(model_id, {})
        if not files:
            raise Broken(f"model {name!r} has no files")
        item = by_ref.get(source_ref)
        if item is not None and set(files) != item.paths:
            raise Broken(f"model {name!r} ({source_ref}) has files {sorted(files)}, "
                         f"expected {sorted(item.paths)}")
        for path, (sha, size) in files.items():
            blob = blob_path(home, sha)
            if not blob.is_file():
                raise Broken(f"model {name!r}: blob of {path} ({sha[:12]}) is missing")
            if blob.stat().st_size != size:
                raise Broken(f"model {name!r}: {path} is {blob.stat().st_size} bytes, "
                             f"registered {size}")
            if sha not in verified:
                actual = _hash(blob)
                if actual != sha:
                    raise Broken(f"model {name!r}: {path} hashes to {actual[:12]}, "
                                 f"registered {sha[:12]}")
                verified[sha] = size
            if item is not None and sha not in item.files[path]:
                raise Broken(f"model {name!r}: {path} holds content {sha[:12]} that "
                             f"{item.ref} never served")
    _check_views(home, set(verified))
    if after_gc:
        _check_no_orphans(home, set(verified))
    return StoreFacts(len(models), len(rows), sum(verified.values()))


def _check_views(home: Path, registered: set[str]) -> None:
    inodes = {blob_path(home, sha).stat().st_ino: sha for sha in registered}
    views = home / "views"
    for folder, _dirs, names in os.walk(views):
        for entry in names:
            path = Path(folder) / entry
            if is_sidecar(entry):  # a Civitai preview / .civitai.info beside a model: not a model
                continue
            target = path.resolve() if path.is_symlink() else path
            if not target.exists():
                raise Broken(f"view {path.relative_to(home)} points at nothing")
            if target.stat().st_ino not in inodes:
                raise Broken(f"view {path.relative_to(home)} is not a registered, complete blob")


def _check_no_orphans(home: Path, registered: set[str]) -> None:
    for blob in (home / "blobs").rglob("sha256/*/*"):
        if blob.name not in registered:
            raise Broken(f"gc left orphan blob {blob.name[:12]}")
    staging = home / "staging"
    leftovers = [p.name for p in staging.iterdir() if not p.name.endswith(".lock")]
    if leftovers:
        raise Broken(f"gc left partials in staging/: {sorted(leftovers)[:4]}")


def check_output(code: int, out: str, err: str, refs: int) -> None:
    """A client's output: exit 0/1 (never 2 or a crash), stdout JSON when asked, and errors as
    one line each on stderr, no traceback."""
    if code not in (0, 1):
        raise Broken(f"exit code {code}; stderr: {err[-400:]!r}")
    if "Traceback" in err or "Traceback" in out:
        raise Broken(f"traceback in output: {err[-600:]!r}")
    lines = [line for line in err.splitlines() if line.strip()]
    if len(lines) > refs:
        raise Broken(f"{len(lines)} stderr lines for {refs} reference(s): {err[-600:]!r}")
    if code == 1 and not lines:
        raise Broken("exit 1 with nothing on stderr")
