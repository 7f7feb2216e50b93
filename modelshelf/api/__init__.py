"""The library's front door: :class:`Shelf` and :func:`inspect`. The CLI is a thin shell over this.

Each method is a short composition of the layers below (sources, transfer, store, inspect); no
printing and no ``sys.exit`` here — errors are :mod:`modelshelf.errors` types, results are values.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import Any

from modelshelf.api.models import Model, PlannedFile, PullResult
from modelshelf.api.pull import ProgressFactory, Puller, PullOptions
from modelshelf.api.remote import inspect_remote
from modelshelf.config import Settings, load_settings
from modelshelf.errors import ModelshelfError, NotFoundError, RegistryDamaged, os_error_text
from modelshelf.inspection import Info, inspect_path
from modelshelf.manifest import (
    LockedModel,
    LockFile,
    ManifestEntry,
    check_lock_matches,
    lock_path,
    read_lock,
    read_manifest,
    write_lock,
)
from modelshelf.sources.url import public_url
from modelshelf.store import DiskUsage, GcPlan, ModelRecord, RepairReport, Store, VerifyReport
from modelshelf.views.hfcache import forget_blob

__all__ = ["Model", "PlannedFile", "PullOptions", "PullResult", "Shelf", "inspect"]


class Shelf:
    """A model store plus the settings to fill it: ``Shelf().pull("hf:org/repo/file")``."""

    def __init__(self, home: str | os.PathLike[str] | None = None, *,
                 settings: Settings | None = None) -> None:
        self.settings = settings or load_settings(home=home)
        if settings is not None and home is not None:
            self.settings = replace(settings, home=Path(home).absolute())
        self._store: Store | None = None
        self._damage: RegistryDamaged | None = None
        try:
            self._store = self._open_store()
        except RegistryDamaged as exc:  # raised on first use; `repair()` still works
            self._damage = exc

    def _open_store(self, *, rebuild_registry: bool = False) -> Store:
        hf_cache = self.settings.hf_cache
        # A deleted blob must leave the Hub cache too, or its hard link there keeps the bytes.
        return Store(self.settings.home, rebuild_registry=rebuild_registry,
                     before_blob_delete=lambda blob: forget_blob(hf_cache, blob))

    @property
    def store(self) -> Store:
        """The store; :class:`RegistryDamaged` (naming ``repair``) if its registry was lost."""
        if self._store is None:
            assert self._damage is not None
            raise self._damage
        return self._store

    def repair(self) -> RepairReport:
        """Rebuild a lost or damaged registry from blobs, ``meta/`` snapshots and ``views/``,
        and put back view entries of registered models; safe to run on a healthy store."""
        store = self._open_store(rebuild_registry=True)
        report = store.repair()
        self._store, self._damage = store, None
        return report

    # -- fetching ---------------------------------------------------------------------------------
    def pull(self, ref: str, *, progress: ProgressFactory | None = None,
             **options: Any) -> Model:
        """Fetch, verify, identify and register one reference; raises on failure."""
        outcome = Puller(self.store, self.settings, PullOptions(**options), progress).run(ref)
        if outcome.record is None:
            raise NotFoundError(f"{ref}: nothing was registered (dry run?)")
        return self._model(outcome.record)

    def pull_result(self, ref: str, options: PullOptions,
                    progress: ProgressFactory | None = None,
                    cancel: threading.Event | None = None) -> PullResult:
        """Like :meth:`pull` but a failure is a result (for batches and ``--json``)."""
        shown = _shown(ref)
        try:
            outcome = Puller(self.store, self.settings, options, progress, cancel).run(ref)
        except (ModelshelfError, OSError) as exc:  # a disk or permission problem is one item's too
            return _failure(ref, shown, exc)
        if outcome.record is None:
            return PullResult(shown, "planned", plan=outcome.plan)
        return PullResult(shown, "ok", self._model(outcome.record), outcome.bytes_downloaded,
                          notes=tuple(outcome.notes))

    def pull_many(self, refs: Iterable[str | tuple[str, PullOptions]], *, jobs: int = 4,
                  progress: ProgressFactory | None = None,
                  options: PullOptions | None = None) -> list[PullResult]:
        """Pull several references in parallel; one failure never stops the others.

        An interrupt (Ctrl-C) stops every transfer of the batch at once — each keeps its resume
        state, nothing half-fetched is registered — and is re-raised once they have stopped.
        """
        items = [(r, options or PullOptions()) if isinstance(r, str) else r for r in refs]
        cancel = threading.Event()
        with ThreadPoolExecutor(max(1, jobs), thread_name_prefix="modelshelf-pull") as pool:
            futures = [pool.submit(self.pull_result, ref, opts, progress, cancel)
                       for ref, opts in items]
            try:
                return [future.result() for future in futures]
            except BaseException:
                cancel.set()
                for future in futures:
                    future.cancel()
                raise

    def pull_manifest(self, manifest: Path, *, jobs: int = 4,
                      progress: ProgressFactory | None = None,
                      base: PullOptions | None = None) -> list[PullResult]:
        """Install a manifest; with its lock file present, exactly what the lock pins."""
        base = base or PullOptions()
        entries = read_manifest(manifest)
        lock_file = lock_path(manifest)
        if not lock_file.exists():
            return self.pull_many([(e.ref, _entry_options(e, base)) for e in entries],
                                  jobs=jobs, progress=progress)
        lock = read_lock(lock_file)
        check_lock_matches(entries, lock, lock_file)
        items = [(m.ref, replace(base, name=m.name, type=m.type, revision=m.revision,
                                 include=m.include, exclude=m.exclude,
                                 locked={f.path: f for f in m.files}))
                 for m in lock.models]
        return self.pull_many(items, jobs=jobs, progress=progress)

    def lock(self, manifest: Path, *, jobs: int = 4,
             progress: ProgressFactory | None = None) -> tuple[Path, list[PullResult]]:
        """Resolve and install the manifest afresh, then pin what was installed."""
        entries = read_manifest(manifest)
        results = self.pull_many([(e.ref, _entry_options(e, PullOptions())) for e in entries],
                                 jobs=jobs, progress=progress)
        failed = [r for r in results if r.status != "ok"]
        if failed:
            return lock_path(manifest), results
        locked = []
        for entry, result in zip(entries, results, strict=True):
            model = result.model
            assert model is not None
            locked.append(LockedModel(
                # A local import's revision is this machine's file stamp: nothing to pin.
                ref=entry.ref, name=model.name, type=model.type,
                revision=None if model.source == "local" else model.revision,
                files=model.files,
                include=entry.include, exclude=entry.exclude, source_url=model.source_url))
        write_lock(lock_path(manifest), LockFile(tuple(locked)))
        return lock_path(manifest), results

    def ensure(self, ref: str, **options: Any) -> Path:
        """The path of the model, pulled first if it is not in the store."""
        return self.pull(ref, **options).path

    # -- the registry -----------------------------------------------------------------------------
    def get(self, name: str) -> Model:
        return self._model(self.store.get(name))

    def list(self, type: str | None = None, architecture: str | None = None) -> list[Model]:
        return [self._model(r) for r in self.store.list(type=type, architecture=architecture)]

    def path(self, name: str) -> Path:
        record = self.store.get(name)
        self.store.touch(name)
        return self.store.view_path(record)

    def remove(self, name: str, *, force: bool = False) -> int:
        """Unregister ``name`` and free its bytes; a pinned model needs ``force``."""
        return self.store.remove(name, force=force)

    def pin(self, name: str, pinned: bool = True) -> None:
        self.store.pin(name, pinned)

    def du(self) -> DiskUsage:
        return self.store.du()

    def verify(self, names: Sequence[str] | None = None) -> VerifyReport:
        return self.store.verify(names or None)

    def gc(self, max_size: int | None = None, keep: Sequence[str] = (), *,
           force: bool = False) -> GcPlan:
        """The plan; call ``.execute()`` on it to apply (``--dry-run`` just prints it).
        ``force``: also delete unreferenced blobs that views/ or meta/ still claim."""
        return self.store.gc_plan(max_size=max_size if max_size is not None
                                  else self.settings.gc_max_size, keep=keep, force=force)

    def _model(self, record: ModelRecord) -> Model:
        return Model.from_record(record, self.store.view_path(record))

    # -- inspection -------------------------------------------------------------------------------
    def inspect(self, target: str, *, hashes: bool = False) -> Info:
        """A registered name, a file or folder on disk, or a remote reference (header only)."""
        record = self.store.find(target)
        if record is not None:
            return inspect_path(self.store.view_path(record), hashes=hashes)
        return inspect(target, settings=self.settings, hashes=hashes)


def _shown(ref: str) -> str:
    """A reference as results show it: a signed link's secret is not echoed back."""
    return public_url(ref) if ref.lstrip().lower().startswith(("http:", "https:")) else ref


def _failure(ref: str, shown: str, exc: OSError | ModelshelfError) -> PullResult:
    if isinstance(exc, ModelshelfError):
        error, exit_code = str(exc), exc.exit_code
    else:
        error, exit_code = f"{ref}: {os_error_text(exc)}", 1
    return PullResult(shown, "error", error=error.replace(ref, shown) if shown != ref else error,
                      exit_code=exit_code)


def _entry_options(entry: ManifestEntry, base: PullOptions) -> PullOptions:
    return replace(base, name=entry.name, type=entry.type, include=entry.include,
                   exclude=entry.exclude, revision=entry.revision, sha256=entry.sha256)


def inspect(target: str | os.PathLike[str], *, settings: Settings | None = None,
            hashes: bool = False) -> Info:
    """What a file, folder or remote reference is, without loading or executing it."""
    path = Path(target)
    if path.exists():
        return inspect_path(path, hashes=hashes)
    return inspect_remote(str(target), settings or load_settings())
