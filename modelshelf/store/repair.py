"""``repair``: rebuild a lost or damaged registry from what the disk still says.

The registry is the only record of which names own which blobs; deleted or truncated, it used
to open as an empty store, and ``gc`` then planned to delete every blob. Now the store refuses
to open (:class:`~modelshelf.errors.RegistryDamaged`) and this module puts it back from three
witnesses, most exact first:

1. ``meta/<name>/registry.json``: a snapshot of each model written at registration (name, type,
   source, revision, files with sha256 and size, pin): restores the row exactly;
2. ``views/<type>/...``: every view entry is a hard link (or symlink) to a blob, so a name, a
   type and the files' paths can be read back from the tree and matched to blobs by inode;
3. the blobs themselves: those neither witness claims stay on disk, counted in the report
   (``gc`` keeps them unless ``--force``).

A damaged registry file is moved aside (``registry.sqlite3.damaged-<time>``), never deleted.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from modelshelf.naming import path_from
from modelshelf.store.records import TYPES, FileRecord, ModelRecord, NewModel

SNAPSHOT = "registry.json"  # meta/<name>/registry.json: no source snapshot is called that
SNAPSHOT_VERSION = 1
_FOLDER_MARKERS = {"model_index.json": "diffusers", "config.json": "transformers"}


@dataclass(frozen=True)
class RepairReport:
    registry_rebuilt: bool             # the registry was missing/damaged and was rebuilt
    moved_aside: str | None            # where the damaged registry file went
    from_snapshots: tuple[str, ...] = ()  # models restored exactly from meta/ snapshots
    from_views: tuple[str, ...] = ()      # models read back from views/ (source unknown)
    views_relinked: int = 0            # view entries put back for registered models
    unclaimed_blobs: int = 0           # blobs no model claims afterwards (gc keeps them)
    unclaimed_bytes: int = 0
    notes: tuple[str, ...] = field(default_factory=tuple)

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        for key in ("from_snapshots", "from_views", "notes"):
            data[key] = list(data[key])
        return data


def snapshot_bytes(record: ModelRecord) -> bytes:
    """The model as ``meta/<name>/registry.json`` keeps it (what :func:`read_snapshot` reads)."""
    data = {"version": SNAPSHOT_VERSION, "name": record.name, "type": record.type,
            "architecture": record.architecture, "format": record.format,
            "source": record.source, "source_ref": record.source_ref,
            "source_url": record.source_url, "revision": record.revision,
            "metadata": dict(record.metadata), "created": record.created,
            "pinned": record.pinned, "linked": record.linked,
            "files": [f.to_json() for f in record.files]}
    return json.dumps(data, indent=1, sort_keys=True).encode()


def read_snapshot(path: Path) -> ModelRecord | None:
    """A snapshot as a record, or None if it is unreadable or not one of ours."""
    try:
        raw = json.loads(path.read_text())
        if raw.get("version") != SNAPSHOT_VERSION:
            return None
        files = tuple(FileRecord(str(f["path"]), str(f["sha256"]), int(f["size"]))
                      for f in raw["files"])
        return ModelRecord(
            name=str(raw["name"]), type=str(raw["type"]), architecture=str(raw["architecture"]),
            format=str(raw["format"]), source=str(raw["source"]),
            source_ref=str(raw["source_ref"]), source_url=raw.get("source_url"),
            revision=raw.get("revision"), files=files, metadata=dict(raw.get("metadata") or {}),
            created=float(raw.get("created") or 0.0), last_used=float(raw.get("created") or 0.0),
            pinned=bool(raw.get("pinned")), linked=bool(raw.get("linked", True)))
    except (OSError, ValueError, TypeError, KeyError, AttributeError):
        return None


def snapshots(meta_dir: Path) -> Iterator[ModelRecord]:
    if meta_dir.is_dir():
        for folder in sorted(meta_dir.iterdir()):
            record = read_snapshot(folder / SNAPSHOT)
            if record is not None and record.name == folder.name:
                yield record


def inode_index(blobs: Mapping[str, Path]) -> dict[tuple[int, int], str]:
    """(device, inode) -> sha256 of every blob: how a view entry is traced back to its blob."""
    index = {}
    for sha, path in blobs.items():
        try:
            st = path.stat()
        except FileNotFoundError:
            continue
        index[(st.st_dev, st.st_ino)] = sha
    return index


def blob_of(entry: Path, index: Mapping[tuple[int, int], str]) -> str | None:
    try:
        st = entry.stat()  # follows a symlink view to its blob
    except OSError:
        return None
    return index.get((st.st_dev, st.st_ino))


def view_entries(views_dir: Path,
                 index: Mapping[tuple[int, int], str]) -> dict[str, list[Path]]:
    """sha256 -> the entries under ``views/`` that show that blob: what apps read, whatever
    the registry says."""
    shown: dict[str, list[Path]] = {}
    for root, _dirs, names in os.walk(views_dir):
        for name in names:
            entry = Path(root, name)
            sha = blob_of(entry, index)
            if sha is not None:
                shown.setdefault(sha, []).append(entry)
    return shown


def models_from_views(views_dir: Path, index: Mapping[tuple[int, int], str],
                      sizes: Mapping[str, int]) -> Iterator[NewModel]:
    """Models read back from the view tree: a file is a single-file model named by its stem, a
    folder a multi-file model named by the folder. Their source is unknown (``repair:``)."""
    for type_ in TYPES:
        folder = views_dir / type_
        if not folder.is_dir():
            continue
        for entry in sorted(folder.iterdir()):
            if entry.name.startswith("."):
                continue  # a temp file of an interrupted link
            if entry.is_dir():
                files = tuple(_folder_files(entry, index, sizes))
                fmt = next((f for marker, f in _FOLDER_MARKERS.items()
                            if (entry / marker).is_file()), "unknown")
                name = entry.name
            else:
                sha = blob_of(entry, index)
                files = (FileRecord(path_from(entry.name), sha, sizes[sha]),) if sha else ()
                fmt, name = "unknown", entry.stem or entry.name
            if files:
                yield NewModel(name=name, type=type_, architecture="unknown", format=fmt,
                               source="unknown", source_ref=f"repair:{type_}/{name}",
                               source_url=None, revision=None, files=files,
                               metadata={"repaired_from": "views", "repaired_at": time.time()})


def _folder_files(root: Path, index: Mapping[tuple[int, int], str],
                  sizes: Mapping[str, int]) -> Iterator[FileRecord]:
    for folder, dirs, names in os.walk(root):
        dirs.sort()
        for name in sorted(names):
            path = Path(folder, name)
            sha = blob_of(path, index)
            if sha is not None and not name.startswith("."):
                yield FileRecord(path_from(path.relative_to(root).as_posix()), sha, sizes[sha])
