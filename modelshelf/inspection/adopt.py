"""``scan --adopt``: take a scanned folder's models into the store, leaving links where they were.

Plan, then apply: :func:`plan_adopt` decides names and what collapses onto one blob without
changing anything (``--dry-run`` prints it); :meth:`AdoptPlan.execute` applies it.

Crash safety comes from the store's ``import_file(mode="move")``: the file is hard-linked into the
store, then replaced in one rename by a symbolic link to the blob (why a symlink: see
``BlobStore.import_file``), so its bytes exist under the user's path at every instant. A crash
between importing and registering leaves an unregistered blob that the user's path links to: a
rerun finds the link (to a blob no model references) and registers it. Identical files become
links to one blob, registered once.

Nothing outside the scanned folder is touched: an entry is adopted only if the folder holding it
resolves inside the scanned folder (a symlinked directory leading out is not followed), and a
symlinked file is adopted only if it already points at one of the store's blobs (any other
target is someone else's file).
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from modelshelf.errors import ModelshelfError
from modelshelf.inspection.info import Info, inspect_path
from modelshelf.inspection.scanned import ScannedFile, ScannedFiles
from modelshelf.inspection.trust import Verdict, judge
from modelshelf.naming import name_from, path_from
from modelshelf.store import FileRecord, NewModel, Store
from modelshelf.store.records import TYPES

_SUFFIX_ROOM = 8  # bytes kept free for the "-N" that tells namesakes apart


@dataclass(frozen=True)
class AdoptItem:
    """One model to register; ``paths[0]`` is its origin, the rest are identical copies."""

    name: str
    paths: tuple[str, ...]
    is_dir: bool
    type: str
    architecture: str
    format: str
    sha256: str | None
    size: int
    register: bool = True  # False: the content is already a registered model; only link paths

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "paths": list(self.paths), "type": self.type,
                "architecture": self.architecture, "format": self.format,
                "sha256": self.sha256, "size": self.size, "register": self.register}


@dataclass(frozen=True)
class AdoptOutcome:
    adopted: tuple[str, ...]  # names of models registered
    failed: tuple[tuple[str, str], ...]  # (path, reason)


@dataclass(frozen=True)
class AdoptPlan:
    items: tuple[AdoptItem, ...]
    already: tuple[str, ...]  # paths that already are links to registered blobs
    root: str = ""  # the scanned folder: nothing outside it is touched
    outside: tuple[str, ...] = ()  # found through a symlink leading out: left alone

    def to_json(self) -> dict[str, Any]:
        return {"adopt": [i.to_json() for i in self.items], "already": list(self.already),
                "outside": list(self.outside)}

    def execute(self, store: Store) -> AdoptOutcome:
        """Apply item by item; one failure is reported and does not stop the others."""
        adopted: list[str] = []
        failed: list[tuple[str, str]] = []
        for item in self.items:
            try:
                _apply(item, store, self.root)
            except (ModelshelfError, OSError) as exc:
                failed.append((item.paths[0], str(exc)))
            else:
                if item.register:
                    adopted.append(item.name)
        return AdoptOutcome(tuple(adopted), tuple(failed))


def _apply(item: AdoptItem, store: Store, root: str) -> None:
    for origin in item.paths:  # re-checked: the tree may have changed since the plan
        if not _inside(origin, root):
            raise ModelshelfError(f"{origin}: not inside {root} (reached through a symbolic "
                                  "link); left alone")
    if item.is_dir:
        root_dir = Path(item.paths[0])
        files = []
        for path in _folder_files(root_dir, store):
            rec = store.import_file(path, mode="move")
            files.append(replace(rec, path=path_from(path.relative_to(root_dir).as_posix())))
    else:
        first = store.import_file(Path(item.paths[0]), mode="move",
                                  expected_sha256=item.sha256)
        for dup in item.paths[1:]:
            store.import_file(Path(dup), mode="move", expected_sha256=item.sha256)
        files = [replace(first, path=path_from(first.path))]
    if item.register:
        verdict = _verdict(Path(item.paths[0]), item.is_dir, files)
        store.add_model(NewModel(
            name=item.name, type=item.type, architecture=item.architecture, format=item.format,
            source="local", source_ref=_source_ref(item.paths[0]), source_url=None, revision=None,
            files=tuple(files), linked=verdict.linkable,
            metadata={"adopted_from": list(item.paths), "safety": verdict.safety},
        ))


def _verdict(origin: Path, is_dir: bool, files: list[FileRecord]) -> Verdict:
    """The same linking rule as ``pull``: an adopted pickle that could run code in an app is
    registered but kept out of views/ until trusted. ``origin`` now links to the blobs."""
    try:
        info: Info | None = inspect_path(origin)
    except ModelshelfError:  # broken or unreadable: judged as never analysed
        info = None

    def safety_of(f: FileRecord) -> str:
        try:
            return str(inspect_path(origin / f.path).safety.get("status", "unknown"))
        except ModelshelfError:
            return "unknown"

    return judge(info, files if is_dir else files[:1], safety_of)


def _folder_files(root: Path, store: Store) -> list[Path]:
    """Regular files of a model folder, and links to the store's blobs (an earlier adopt cut
    short); other symlinks are left alone: not ours to move. ``os.walk`` does not follow
    symlinked directories, so nothing outside the folder is reached."""
    out = []
    for folder, dirs, names in os.walk(root):
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        for name in names:
            path = Path(folder, name)
            if name.startswith(".") or not path.is_file():
                continue
            if not path.is_symlink() or _links_to_blob(str(path), store):
                out.append(path)
    return sorted(out)


def _inside(path: str, root: str) -> bool:
    """Whether the directory entry ``path`` lives inside ``root`` once symlinks are resolved
    (the entry itself may be a symlink: replacing it changes nothing it points at)."""
    parent = os.path.realpath(os.path.dirname(path))
    real_root = os.path.realpath(root)
    return parent == real_root or parent.startswith(real_root.rstrip(os.sep) + os.sep)


def _links_to_blob(path: str, store: Store) -> bool:
    """A symlink to one of the store's blobs: what adopt leaves behind."""
    target = Path(os.path.realpath(path))
    return (os.path.islink(path) and len(target.name) == 64
            and target.parent.parent == Path(os.path.realpath(store.blobs_dir)) / "sha256")


def _source_ref(path: str) -> str:
    """Where a model was adopted from, as text the registry can hold: the bytes of a name that
    is not UTF-8 as ``\\xNN`` escapes (the path itself stays as it is)."""
    return os.fsencode(path).decode("utf-8", "backslashreplace")


def _base_name(path: str, is_dir: bool) -> str:
    """The model name a file or folder suggests, with room for the "-N" that tells namesakes
    apart: otherwise a file could be found but never adopted."""
    p = Path(path)
    return name_from(p.name if is_dir else p.stem, room=_SUFFIX_ROOM)


class _Names:
    """Hands out names unique among the store's models and this plan: stem, stem-2, stem-3..."""

    def __init__(self, taken: Iterable[str]) -> None:
        self.taken = set(taken)

    def claim(self, base: str) -> str:
        name, n = base, 1
        while name in self.taken:
            n += 1
            name = f"{base}-{n}"
        self.taken.add(name)
        return name


def _shows_blob(path: str, store: Store, sha256: str) -> bool:
    try:
        return os.path.samefile(path, store.blob_path(sha256))
    except OSError:
        return False


def plan_adopt(result: ScannedFiles, store: Store) -> AdoptPlan:
    """Decide what to adopt; changes nothing. Broken files and symlinks are left as they are."""
    models = store.list()
    registered = {f.sha256 for m in models for f in m.files}
    names = _Names(m.name for m in models)
    items: list[AdoptItem] = []
    already: list[str] = []
    outside: list[str] = []
    by_digest: dict[str, list[ScannedFile]] = {}
    for f in result.files:
        if not _inside(f.path, result.root):
            outside.append(f.path)
            continue
        if f.error or (os.path.islink(f.path) and not _links_to_blob(f.path, store)):
            continue  # broken: not ours to fix; symlink: its target is not ours to replace
        if f.is_dir:
            if store.find_by_source(_source_ref(f.path)) is not None:
                already.append(f.path)
                continue
            items.append(_item(f, (f.path,), names.claim(_base_name(f.path, True)), True))
        elif f.sha256:
            by_digest.setdefault(f.sha256, []).append(f)
    for digest, group in by_digest.items():
        done = digest in registered
        todo = [f for f in group if not (done and _shows_blob(f.path, store, digest))]
        already += [f.path for f in group if f not in todo]
        if todo:
            # The origin is the plainest name: "style.safetensors" over "style (1).safetensors".
            todo.sort(key=lambda f: (len(Path(f.path).name), f.path))
            paths = tuple(f.path for f in todo)
            name = "" if done else names.claim(_base_name(paths[0], False))
            items.append(_item(todo[0], paths, name, not done))
    return AdoptPlan(tuple(items), tuple(sorted(already)), result.root, tuple(outside))


def _item(f: ScannedFile, paths: tuple[str, ...], name: str, register: bool) -> AdoptItem:
    model_type = f.model_type if f.model_type in TYPES else "other"
    return AdoptItem(name, paths, f.is_dir, model_type, f.architecture, f.format, f.sha256,
                     f.size, register)
