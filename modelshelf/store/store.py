"""The store: blobs + registry + views under one home folder, kept consistent with each other.

Layout under ``home`` (SPEC.md "Store layout")::

    blobs/sha256/<2 hex>/<64 hex>   read-only, one per digest however many names use it
    registry.sqlite3                models and files (WAL)
    staging/                        partial downloads and imports (same filesystem as blobs/)
    views/<type>/...                links to blobs, what apps open
    meta/<name>/                    source snapshots (civitai.json, preview image, ...)
    locks/                          inter-process lock files

Ordering rules that keep it consistent whatever crashes or runs concurrently: bytes reach
``blobs/`` complete before any registry row points at them; views are changed inside the
registry transaction that justifies them; a blob is deleted only inside a write transaction
that has just seen no file row referencing it (and ``add_model`` checks blobs inside its own
write transaction), so a blob can never vanish under a registered model.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sqlite3
import time
from collections.abc import Callable, Iterable, Sequence
from contextlib import AbstractContextManager
from dataclasses import replace
from pathlib import Path
from typing import Any

from modelshelf.errors import (
    ModelNotFound,
    ModelPinned,
    NameConflict,
    NotFoundError,
    RegistryDamaged,
    SizeMismatch,
)
from modelshelf.locks import file_lock, lock_file_for
from modelshelf.staging import STALE_SECONDS, delete_partial, find_stale, staging_bytes
from modelshelf.store.blobs import BlobStore, ImportMode
from modelshelf.store.gc import (
    BLOB_GRACE_SECONDS,
    Eviction,
    GcPlan,
    OrphanBlob,
    find_orphans,
    plan_evictions,
)
from modelshelf.store.linking import prune_empty_dirs, write_atomic
from modelshelf.store.records import (
    FileRecord,
    ModelRecord,
    NewModel,
    check_name,
    check_new_model,
)
from modelshelf.store.registry import Registry, ScanCacheRow
from modelshelf.store.repair import (
    SNAPSHOT,
    RepairReport,
    inode_index,
    models_from_views,
    snapshot_bytes,
    snapshots,
    view_entries,
)
from modelshelf.store.usage import DiskUsage, disk_usage
from modelshelf.store.verify import VerifyReport, verify_models
from modelshelf.store.viewtree import ViewTree

BlobHook = Callable[[Path], object]


class Store:
    """A model store rooted at ``home``; safe to use from several threads and processes.

    ``before_blob_delete`` is called with a blob's path just before the store deletes it: links
    to it made outside the store (the Hub cache) would otherwise keep its bytes on disk.
    """

    def __init__(self, home: Path, *, before_blob_delete: BlobHook | None = None,
                 rebuild_registry: bool = False) -> None:
        """Open the store; a missing, empty or damaged registry while blobs exist raises
        :class:`RegistryDamaged` unless ``rebuild_registry`` (``repair``): then the damaged file
        is moved aside, a new registry is made, and :meth:`repair` fills it."""
        self.home = Path(home)
        self._before_blob_delete = before_blob_delete
        self.blobs_dir = self.home / "blobs"
        self.staging_dir = self.home / "staging"
        self.views_dir = self.home / "views"
        self.meta_dir = self.home / "meta"
        self.locks_dir = self.home / "locks"
        for folder in (self.blobs_dir, self.staging_dir, self.meta_dir, self.locks_dir):
            folder.mkdir(parents=True, exist_ok=True)
        self._blobs = BlobStore(self.blobs_dir, self.staging_dir)
        self._views = ViewTree(self.views_dir)
        self._views.ensure_type_folders()
        registry_file = self.home / "registry.sqlite3"
        init_lock = self.locks_dir / "registry-init.lock"
        self._moved_aside: Path | None = None
        self._rebuilt = False
        try:
            self._registry = Registry(registry_file, init_lock, has_data=self._has_blobs)
            damaged = rebuild_registry and not self._registry.healthy()
        except RegistryDamaged:
            if not rebuild_registry:
                raise
            damaged = True
        if damaged:
            self._moved_aside = set_aside(registry_file)
            self._registry = Registry(registry_file, init_lock)
            self._rebuilt = True

    # -- blobs ----------------------------------------------------------------------------------
    def blob_path(self, sha256: str) -> Path:
        return self._blobs.path(sha256)

    def has_blob(self, sha256: str) -> bool:
        return self._blobs.has(sha256)

    def commit_blob(self, staged: Path, sha256: str, *, repair: bool = False) -> Path:
        """Atomically move a complete file from ``staging/`` in as the blob of ``sha256``
        (``repair``: re-hash an existing blob and replace it if its bytes were damaged)."""
        blob = self._blobs.commit(Path(staged), sha256, repair=repair)
        if repair:
            self._relink_views(sha256)
        return blob

    def import_file(self, src: Path, *, mode: ImportMode = "copy",
                    expected_sha256: str | None = None, repair: bool = False) -> FileRecord:
        """Bring a local file into the blobs (copy / hard link / move leaving a link)."""
        record = self._blobs.import_file(Path(src), mode, expected_sha256, repair=repair)
        if repair:
            self._relink_views(record.sha256)
        return record

    def lock(self, key: str,
             while_waiting: Callable[[], None] | None = None) -> AbstractContextManager[None]:
        """An exclusive inter-process lock named by ``key`` (e.g. ``"url:https://..."``);
        ``while_waiting`` may raise to stop waiting (see :func:`file_lock`)."""
        return file_lock(lock_file_for(self.locks_dir, key), while_waiting)

    # -- models ---------------------------------------------------------------------------------
    def add_model(self, new: NewModel, *, force: bool = False) -> ModelRecord:
        """Register a model whose blobs are all in the store, and link it into views.

        Same name, same files and type: nothing changes (the model counts as used). Same name,
        other files or type: :class:`NameConflict` unless ``force``, which replaces the model
        (keeping its pin) and deletes blobs only the old version used.
        """
        check_new_model(new)
        unchanged = False
        with self._registry.write() as conn:
            self._check_blobs(new)
            existing = self._registry.find(conn, new.name)
            if (existing is not None and existing.content() == new.content()
                    and existing.type == new.type):
                now = time.time()
                self._registry.set_field(conn, new.name, "last_used", now)
                # The same bytes at a newer revision (a branch moved, a file touched): remember
                # it, or every later pull would think the model outdated.
                self._registry.set_field(conn, new.name, "revision", new.revision)
                self._views.build(existing, self.blob_path)
                record: ModelRecord | None = replace(existing, last_used=now,
                                                     revision=new.revision)
                unchanged = True
            else:
                if existing is not None and not force:
                    what = ("content" if existing.content() != new.content()
                            else f"type ({existing.type})")
                    raise NameConflict(f"model {new.name} exists with other {what}",
                                       "use --force to replace")
                self._check_view_clash(conn, new)
                if existing is not None:
                    self._registry.delete(conn, new.name)
                    self._views.remove(existing)
                self._registry.insert(conn, new, pinned=existing.pinned if existing else False)
                try:
                    self._views.build(new, self.blob_path)
                except BaseException:
                    self._views.remove(new)
                    if existing is not None:
                        self._views.build(existing, self.blob_path)
                    raise
                record = self._registry.find(conn, new.name)
        if existing is not None and not unchanged:  # replaced: free what only the old used
            self._collect(f.sha256 for f in existing.files)
        assert record is not None
        self._snapshot(record)
        return record

    def get(self, name: str) -> ModelRecord:
        record = self.find(name)
        if record is None:
            raise _no_model(name)
        return record

    def find(self, name: str) -> ModelRecord | None:
        with self._registry.read() as conn:
            return self._registry.find(conn, name)

    def find_by_source(self, source_ref: str) -> ModelRecord | None:
        """The most recently registered model pulled from ``source_ref``."""
        with self._registry.read() as conn:
            return self._registry.find_by_source(conn, source_ref)

    def list(self, type: str | None = None, architecture: str | None = None) -> list[ModelRecord]:
        with self._registry.read() as conn:
            return self._registry.models(conn, type, architecture)

    def remove(self, name: str, *, force: bool = False) -> int:
        """Unregister a model and its views; returns the bytes of blobs no one uses any more.

        A pinned model is one the user asked to keep: removing it needs ``force``, checked in
        the same transaction as the delete (a pin set a moment ago is honoured).
        """
        with self._registry.write() as conn:
            record = self._registry.find(conn, name)
            if record is None:
                raise _no_model(name)
            if record.pinned and not force:
                raise _pinned(name)
            self._registry.delete(conn, name)
            self._views.remove(record)
        shutil.rmtree(self.meta_dir / name, ignore_errors=True)
        return self._collect(f.sha256 for f in record.files)

    def touch(self, name: str, when: float | None = None) -> None:
        """Record a use (``gc --max-size`` evicts the least recently used first), and put back
        view entries deleted from outside (deleting a model in ComfyUI deletes ours through
        its folder link), so a model reported present is where apps and `path` look."""
        with self._registry.write() as conn:
            if not self._registry.set_field(conn, name, "last_used",
                                            time.time() if when is None else when):
                raise _no_model(name)
            record = self._registry.find(conn, name)
            if record is not None and all(self.has_blob(f.sha256) for f in record.files):
                self._views.build(record, self.blob_path)

    def pin(self, name: str, pinned: bool = True) -> None:
        """Protect a model from eviction (``pinned=False`` lifts it)."""
        self._update(name, "pinned", int(pinned))
        record = self.find(name)
        if record is not None:
            self._snapshot(record)

    def set_linked(self, name: str, linked: bool = True) -> ModelRecord:
        """Expose a model in ``views/`` (and so to apps), or take it out, in one transaction
        with the registry change that says so (``trust``/``untrust``)."""
        with self._registry.write() as conn:
            if not self._registry.set_field(conn, name, "linked", int(linked)):
                raise _no_model(name)
            record = self._registry.find(conn, name)
            assert record is not None
            if linked:
                self._views.build(record, self.blob_path)
            else:
                self._views.remove(record)
        self._snapshot(record)  # `repair` must not link an untrusted model again
        return record

    def view_path(self, record: NewModel) -> Path:
        """The file (single-file model) or folder (multi-file model) in ``views/``."""
        return self._views.path(record)

    # -- reports and maintenance ----------------------------------------------------------------
    def du(self) -> DiskUsage:
        with self._registry.read() as conn:
            models = self._registry.models(conn)
        stale = sum(p.size for p in find_stale(self.staging_dir))
        return disk_usage(models, self._blob_sizes(), shutil.disk_usage(self.home).free,
                          staging_bytes(self.staging_dir), stale)

    def verify(self, names: Sequence[str] | None = None) -> VerifyReport:
        """Re-hash the blobs of the named models (all if ``None``) against the registry."""
        models = self.list() if names is None else [self.get(n) for n in names]
        return verify_models(models, self.blob_path, self._views.entries)

    def gc_plan(self, max_size: int | None = None, keep: Sequence[str] = (), *,
                grace: float = BLOB_GRACE_SECONDS,
                stale_after: float = STALE_SECONDS, force: bool = False) -> GcPlan:
        """What ``gc`` would delete; nothing changes until ``.execute()``.

        ``grace``: unreferenced blobs younger than this are kept (a pull may be about to
        register them). ``stale_after``: age after which an unlocked partial is abandoned.
        An unreferenced blob that ``views/`` still shows or a ``meta/`` snapshot still names is
        one the registry cannot account for (rows lost, not a model removed: ``rm`` takes the
        view and the snapshot with it); it is kept, and listed, unless ``force``.
        """
        with self._registry.read() as conn:
            models = self._registry.models(conn)
            referenced = self._registry.referenced(conn)
        orphans = find_orphans(self._blob_sizes(), referenced, self.blob_path, grace)
        unaccounted: list[OrphanBlob] = []
        if orphans and not force:
            claimed = self._claimed_on_disk()
            unaccounted = [b for b in orphans if b.sha256 in claimed]
            orphans = [b for b in orphans if b.sha256 not in claimed]
        partials = find_stale(self.staging_dir, stale_after)
        evictions: list[Eviction] = []
        if max_size is None:
            before = after = sum(referenced.values())
        else:
            evictions, before, after = plan_evictions(models, max_size, keep)
        return GcPlan(tuple(orphans), tuple(partials), tuple(evictions), max_size, before, after,
                      created=time.time(), apply=self._apply_gc,
                      unaccounted_blobs=tuple(unaccounted))

    def save_meta(self, name: str, filename: str, data: bytes) -> Path:
        """Keep a source snapshot (e.g. ``civitai.json``) beside the model, written atomically."""
        check_name(name)
        check_name(filename)
        target = self.meta_dir / name / filename
        target.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(target, data)
        return target

    def scan_cache_get(self, path: str, size: int, mtime_ns: int,
                       inode: int) -> dict[str, Any] | None:
        """``{"sha256", "info", "scanned_at"}`` if this exact file was scanned before."""
        with self._registry.read() as conn:
            return self._registry.scan_cache_get(conn, path, size, mtime_ns, inode)

    def scan_cache_get_many(self, paths: Sequence[str]) -> dict[str, dict[str, Any]]:
        """``{path: {"size", "mtime_ns", "inode", "sha256", "info", "scanned_at"}}`` for every
        path of ``paths`` that has a cache row, in one read transaction. Rows are returned
        whatever their key: the caller keeps a row only if its own ``stat`` agrees."""
        with self._registry.read() as conn:
            return self._registry.scan_cache_get_many(conn, list(paths))

    def scan_cache_put(self, path: str, size: int, mtime_ns: int, inode: int, sha256: str,
                       info: dict[str, Any]) -> None:
        with self._registry.write() as conn:
            self._registry.scan_cache_put(conn, path, size, mtime_ns, inode, sha256, info)

    def scan_cache_put_many(self, rows: Iterable[ScanCacheRow]) -> None:
        """Write many ``(path, size, mtime_ns, inode, sha256, info)`` rows in one transaction
        (all or none): a commit per file cost a scan more than reading the file did."""
        rows = list(rows)
        if rows:
            with self._registry.write() as conn:
                self._registry.scan_cache_put_many(conn, rows)

    def repair(self) -> RepairReport:
        """Rebuild the registry if this store was opened with ``rebuild_registry`` and it was
        lost (from ``meta/`` snapshots, then ``views/``, see :mod:`modelshelf.store.repair`),
        then put back every view entry of every registered model."""
        restored_exact: list[str] = []
        restored_views: list[str] = []
        notes: list[str] = []
        blobs = {p.name: p for p in self._blobs}
        sizes = self._blob_sizes()
        if self._rebuilt:
            index = inode_index(blobs)
            candidates: list[tuple[NewModel, bool]] = [(r, True) for r in snapshots(self.meta_dir)]
            candidates += [(m, False) for m in models_from_views(self.views_dir, index, sizes)]
            taken: set[Path] = set()
            with self._registry.write() as conn:
                for model, exact in candidates:
                    where = self._views.path(model)
                    lost = [f.path for f in model.files if f.sha256 not in sizes]
                    if where in taken or self._registry.find(conn, model.name) is not None:
                        continue
                    if lost:
                        notes.append(f"{model.name}: not restored, its blobs for "
                                     f"{', '.join(lost)} are gone")
                        continue
                    taken.add(where)
                    self._registry.insert(
                        conn, model, pinned=getattr(model, "pinned", False),
                        now=getattr(model, "created", None) or None)
                    (restored_exact if exact else restored_views).append(model.name)
        relinked = 0
        for record in self.list():
            relinked += len(self._views.build(record, self.blob_path))
            self._snapshot(record)
        with self._registry.read() as conn:
            referenced = self._registry.referenced(conn)
        unclaimed = {sha: size for sha, size in sizes.items() if sha not in referenced}
        return RepairReport(
            self._rebuilt, str(self._moved_aside) if self._moved_aside else None,
            tuple(restored_exact), tuple(restored_views), relinked, len(unclaimed),
            sum(unclaimed.values()), tuple(notes))

    # -- internals ------------------------------------------------------------------------------
    def _claimed_on_disk(self) -> set[str]:
        """Digests a view entry shows or a model snapshot names, whatever the registry says."""
        index = inode_index({p.name: p for p in self._blobs})
        claimed = set(view_entries(self.views_dir, index))
        claimed.update(f.sha256 for r in snapshots(self.meta_dir) for f in r.files)
        return claimed

    def _has_blobs(self) -> bool:
        return next(iter(self._blobs), None) is not None

    def _snapshot(self, record: ModelRecord) -> None:
        """Keep ``meta/<name>/registry.json`` in step with the registry: what ``repair`` reads
        back if the registry is lost. Written atomically; failing to write it (a full disk)
        leaves the model registered and usable, so it is not an error."""
        with contextlib.suppress(OSError):
            self.save_meta(record.name, SNAPSHOT, snapshot_bytes(record))

    def _update(self, name: str, column: str, value: Any) -> None:
        with self._registry.write() as conn:
            if not self._registry.set_field(conn, name, column, value):
                raise _no_model(name)

    def _relink_views(self, sha256: str) -> None:
        """Views are hard links: after a damaged blob was replaced, those of every model using
        it still show the old, damaged inode until pointed at the new blob."""
        with self._registry.write() as conn:  # no `rm` in between: no view left without a model
            for model in self._registry.models(conn):
                if sha256 in {f.sha256 for f in model.files}:
                    self._views.build(model, self.blob_path)

    def _check_blobs(self, new: NewModel) -> None:
        for f in new.files:
            try:
                size = self.blob_path(f.sha256).stat().st_size
            except FileNotFoundError:
                raise NotFoundError(f"model {new.name}: {f.path} has no blob {f.sha256} in the "
                                    "store (commit or import it first)") from None
            if size != f.size:
                raise SizeMismatch(f"model {new.name}: {f.path} is recorded as {f.size} bytes "
                                   f"but blob {f.sha256} has {size}")

    def _check_view_clash(self, conn: sqlite3.Connection, new: NewModel) -> None:
        """Two names must not render to the same view path (``a`` and ``a.safetensors``)."""
        mine = self._views.path(new)
        for other in self._registry.models(conn, type=new.type):
            if other.name != new.name and self._views.path(other) == mine:
                raise NameConflict(f"model {new.name}: its view {mine} is already model "
                                   f"{other.name}'s", "choose another name")

    def _collect(self, digests: Iterable[str]) -> int:
        """Delete those of ``digests`` no model references (checked inside a write lock)."""
        freed = 0
        with self._registry.write() as conn:
            for sha in sorted(self._registry.unreferenced(conn, digests)):
                freed += self._delete_blob(sha)
        return freed

    def _delete_blob(self, sha256: str) -> int:
        if self._before_blob_delete is not None and self.has_blob(sha256):
            self._before_blob_delete(self.blob_path(sha256))
        return self._blobs.delete(sha256)

    def _blob_sizes(self) -> dict[str, int]:
        sizes = {}
        for blob in self._blobs:
            try:
                sizes[blob.name] = blob.stat().st_size
            except FileNotFoundError:
                continue  # deleted while we listed
        return sizes

    def _apply_gc(self, plan: GcPlan) -> int:
        freed = 0
        for eviction in plan.evictions:
            current = self.find(eviction.name)
            if current is None or current.pinned or current.last_used > eviction.last_used:
                continue  # pinned, used again or removed since the plan was made
            with contextlib.suppress(ModelPinned, ModelNotFound):  # ... or in this instant
                freed += self.remove(eviction.name)
        with self._registry.write() as conn:
            doomed = [sha for sha in sorted(self._registry.unreferenced(
                conn, (b.sha256 for b in plan.orphan_blobs)))
                if not _touched_since(self.blob_path(sha), plan.created)]
            # View entries still showing a blob no model references (only ``gc --force``
            # plans such blobs) belong to no model: they go too, or they keep its bytes.
            shown = view_entries(self.views_dir, inode_index(
                {sha: self.blob_path(sha) for sha in doomed})) if doomed else {}
            for sha in doomed:
                for entry in shown.get(sha, ()):
                    entry.unlink(missing_ok=True)
                    type_folder = self.views_dir / entry.relative_to(self.views_dir).parts[0]
                    prune_empty_dirs(entry.parent, type_folder)
                freed += self._delete_blob(sha)
        for partial in plan.stale_partials:
            freed += delete_partial(partial)
        return freed


def set_aside(registry_file: Path) -> Path | None:
    """Move a damaged registry (and its WAL files) out of the way, keeping it for inspection."""
    if not registry_file.exists():
        for extra in ("-wal", "-shm"):  # without their database they are noise
            Path(f"{registry_file}{extra}").unlink(missing_ok=True)
        return None
    aside = registry_file.with_name(f"{registry_file.name}.damaged-{int(time.time())}")
    for extra in ("", "-wal", "-shm"):
        with contextlib.suppress(FileNotFoundError):
            os.replace(f"{registry_file}{extra}", f"{aside}{extra}")
    return aside


def _pinned(name: str) -> ModelPinned:
    return ModelPinned(f"model {name} is pinned; use `modelshelf rm --force {name}` "
                       "(or `modelshelf unpin` first)")


def _no_model(name: str) -> ModelNotFound:
    return ModelNotFound(f"no model named {name!r} in the store (see `modelshelf ls`)")


def _touched_since(path: Path, stamp: float) -> bool:
    try:
        st = path.stat()
    except FileNotFoundError:
        return True  # nothing to delete
    return max(st.st_mtime, st.st_ctime) > stamp
