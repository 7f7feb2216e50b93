"""The library's front door: :class:`Shelf` and :func:`inspect`. The CLI is a thin shell over this.

Each method is a short composition of the layers below (sources, transfer, store, inspect); no
printing and no ``sys.exit`` here — errors are :mod:`modelshelf.errors` types, results are values.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import Any

from modelshelf.api.models import Model, PlannedFile, PullResult
from modelshelf.api.pull import ProgressFactory, Puller, PullOptions
from modelshelf.api.remote import inspect_remote
from modelshelf.config import Settings, load_settings
from modelshelf.errors import ModelshelfError, NotFoundError
from modelshelf.inspect import Info, inspect_path
from modelshelf.manifest import (
    LockedFile,
    LockedModel,
    LockFile,
    ManifestEntry,
    check_lock_matches,
    lock_path,
    read_lock,
    read_manifest,
    write_lock,
)
from modelshelf.store import DiskUsage, FileRecord, GcPlan, ModelRecord, Store, VerifyReport

__all__ = ["Model", "PlannedFile", "PullOptions", "PullResult", "Shelf", "inspect"]


class Shelf:
    """A model store plus the settings to fill it: ``Shelf().pull("hf:org/repo/file")``."""

    def __init__(self, home: str | os.PathLike[str] | None = None, *,
                 settings: Settings | None = None) -> None:
        self.settings = settings or load_settings(home=home)
        if settings is not None and home is not None:
            self.settings = replace(settings, home=Path(home).absolute())
        self.store = Store(self.settings.home)

    # -- fetching ---------------------------------------------------------------------------------
    def pull(self, ref: str, *, progress: ProgressFactory | None = None,
             **options: Any) -> Model:
        """Fetch, verify, identify and register one reference; raises on failure."""
        outcome = Puller(self.store, self.settings, PullOptions(**options), progress).run(ref)
        if outcome.record is None:
            raise NotFoundError(f"{ref}: nothing was registered (dry run?)")
        return self._model(outcome.record)

    def pull_result(self, ref: str, options: PullOptions,
                    progress: ProgressFactory | None = None) -> PullResult:
        """Like :meth:`pull` but a failure is a result (for batches and ``--json``)."""
        try:
            outcome = Puller(self.store, self.settings, options, progress).run(ref)
        except ModelshelfError as exc:
            return PullResult(ref, "error", error=str(exc), exit_code=exc.exit_code)
        if outcome.record is None:
            return PullResult(ref, "planned", plan=outcome.plan)
        return PullResult(ref, "ok", self._model(outcome.record), outcome.bytes_downloaded,
                          notes=tuple(outcome.notes))

    def pull_many(self, refs: Iterable[str | tuple[str, PullOptions]], *, jobs: int = 4,
                  progress: ProgressFactory | None = None,
                  options: PullOptions | None = None) -> list[PullResult]:
        """Pull several references in parallel; one failure never stops the others."""
        items = [(r, options or PullOptions()) if isinstance(r, str) else r for r in refs]
        with ThreadPoolExecutor(max(1, jobs), thread_name_prefix="modelshelf-pull") as pool:
            return list(pool.map(lambda item: self.pull_result(item[0], item[1], progress), items))

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
                                 locked={f.path: FileRecord(f.path, f.sha256, f.size)
                                         for f in m.files}))
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
                ref=entry.ref, name=model.name, type=model.type, revision=model.revision,
                files=tuple(LockedFile(f.path, f.sha256, f.size) for f in model.files),
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

    def remove(self, name: str) -> int:
        return self.store.remove(name)

    def pin(self, name: str, pinned: bool = True) -> None:
        self.store.pin(name, pinned)

    def du(self) -> DiskUsage:
        return self.store.du()

    def verify(self, names: Sequence[str] | None = None) -> VerifyReport:
        return self.store.verify(names or None)

    def gc(self, max_size: int | None = None, keep: Sequence[str] = ()) -> GcPlan:
        """The plan; call ``.execute()`` on it to apply (``--dry-run`` just prints it)."""
        return self.store.gc_plan(max_size=max_size if max_size is not None
                                  else self.settings.gc_max_size, keep=keep)

    def _model(self, record: ModelRecord) -> Model:
        return Model.from_record(record, self.store.view_path(record))

    # -- inspection -------------------------------------------------------------------------------
    def inspect(self, target: str, *, hashes: bool = False) -> Info:
        """A registered name, a file or folder on disk, or a remote reference (header only)."""
        record = self.store.find(target)
        if record is not None:
            return inspect_path(self.store.view_path(record), hashes=hashes)
        return inspect(target, settings=self.settings, hashes=hashes)


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
