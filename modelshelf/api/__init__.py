"""The library's front door: :class:`Shelf` and :func:`inspect`. The CLI is a thin shell over this.

Each method is a short composition of the layers below (sources, transfer, store, inspection);
no printing and no ``sys.exit`` here — errors are :mod:`modelshelf.errors` types, results are
values. Every CLI command is one call of one :class:`Shelf` method.

Pull options are given one way: a :class:`PullOptions` value (``options=``) to every pull-like
method. ``pull`` and ``ensure`` also take its fields as keywords (``shelf.pull(ref,
name="x")``), the short form the README shows, turned into a :class:`PullOptions` at once.

The pull pipeline (transfer engine, Hub client, sources) is imported on first use: ``info`` on a
local file goes through :class:`Shelf` too, and must start in well under 0.3 s.
"""

from __future__ import annotations

import builtins
import contextlib
import importlib
import os
import threading
import warnings
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from modelshelf.api.loaded import LoadedCache, LoadedModel
from modelshelf.api.models import Model, PlannedFile, PullResult, PullStatus
from modelshelf.api.stored import inspect_stored
from modelshelf.config import Settings, load_settings
from modelshelf.errors import (
    ModelshelfError,
    NotFoundError,
    OfflineError,
    UnsafeFile,
    UsageError,
    os_error_text,
)
from modelshelf.inspection import Info, inspect_path
from modelshelf.inspection.trust import trust_hint
from modelshelf.secrets import public_ref
from modelshelf.store import DiskUsage, GcPlan, ModelRecord, RepairReport, Store, VerifyReport
from modelshelf.views.hfcache import forget_blob

if TYPE_CHECKING:
    from modelshelf.api.advise import Step as AdviseStep
    from modelshelf.api.bundle import ExportResult, ImportResult
    from modelshelf.api.presets import Preset, PresetSize
    from modelshelf.api.pull import ProgressFactory, PullOptions
    from modelshelf.api.team import PushReport
    from modelshelf.convert import ConvertResult
    from modelshelf.convert.stream import Progress as ConvertProgress
    from modelshelf.formats.tensors import TensorMap
    from modelshelf.inspection import Report, ScanResult
    from modelshelf.inspection.advice import Advice
    from modelshelf.inspection.scanner import Progress as ScanProgress
    from modelshelf.manifest import ManifestEntry
    from modelshelf.remote import RefManifest, RemoteStore
    from modelshelf.views.comfyui import YamlPlan
    from modelshelf.views.plan import LinkPlan

__all__ = ["LoadedModel", "Model", "PlannedFile", "PullOptions", "PullResult", "Shelf", "inspect"]

_LAZY = {"PullOptions": "modelshelf.api.pull", "ProgressFactory": "modelshelf.api.pull"}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'modelshelf.api' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


def _presets() -> Any:
    """Presets resolve through the pull pipeline: imported on first use too."""
    return importlib.import_module("modelshelf.api.presets")


def _load() -> Any:
    """The load module (numpy, format readers), imported on first use."""
    return importlib.import_module("modelshelf.api.load")


def _pull() -> Any:
    """The pull pipeline module, imported on first use (see the module docstring)."""
    return importlib.import_module("modelshelf.api.pull")


class Shelf:
    """A model store plus the settings to fill it: ``Shelf().pull("hf:org/repo/file")``."""

    def __init__(self, home: str | os.PathLike[str] | None = None, *,
                 settings: Settings | None = None) -> None:
        if settings is None:
            settings = load_settings(home=home)
            for warning in settings.warnings:  # a config typo must not pass in silence
                warnings.warn(warning, UserWarning, stacklevel=2)
        elif home is not None:
            settings = replace(settings, home=Path(home).absolute())
        self.settings = settings
        self._loaded = LoadedCache(settings.load_max_memory)

    @cached_property
    def store(self) -> Store:
        """The store, opened (folders made, registry migrated) on first use: ``inspect`` of a
        file on disk needs none of it. A lost or damaged registry raises
        :class:`RegistryDamaged` (naming ``repair``) on every use until :meth:`repair`."""
        return self._open_store()

    def _open_store(self, *, rebuild_registry: bool = False) -> Store:
        hf_cache = self.settings.hf_cache
        # A deleted blob must leave the Hub cache too, or its hard link there keeps the bytes.
        return Store(self.settings.home, rebuild_registry=rebuild_registry,
                     before_blob_delete=lambda blob: forget_blob(hf_cache, blob))

    def repair(self) -> RepairReport:
        """Rebuild a lost or damaged registry from blobs, ``meta/`` snapshots and ``views/``,
        and put back view entries of registered models; safe to run on a healthy store."""
        store = self._open_store(rebuild_registry=True)
        report = store.repair()
        self.__dict__["store"] = store  # replaces the cached (or never opened) store
        return report

    # -- the team store (S3) ---------------------------------------------------------------------
    def push(self, names: Sequence[str] = (), *, all: bool = False) -> list[PushReport]:
        """Upload models (``all``: every registered model) to the ``[remote]`` store: missing
        blobs first (create-only), then one manifest per reference."""
        team = importlib.import_module("modelshelf.api.team")
        if not names and not all:
            raise UsageError("push: name a model, or --all")
        records = self.store.list() if all else [self.store.get(n) for n in dict.fromkeys(names)]
        remote = self._remote()
        return [team.push_record(self.store, remote, record) for record in records]

    def remote_list(self) -> list[RefManifest]:
        """What the ``[remote]`` store holds: one manifest per pushed reference, by name."""
        return sorted(self._remote().manifests(), key=lambda m: (m.name, m.ref))

    def _remote(self) -> RemoteStore:
        if self.settings.offline:
            raise OfflineError("the remote store is a server too, and offline mode is on")
        from modelshelf.remote import RemoteStore

        return RemoteStore(self.settings.remote)

    # -- fetching ---------------------------------------------------------------------------------
    def pull(self, ref: str, *, options: PullOptions | None = None,
             progress: ProgressFactory | None = None, **fields: Any) -> Model:
        """Fetch, verify, identify and register one reference; raises on failure.

        ``fields`` are :class:`PullOptions` fields (``name="x"``), applied over ``options``.
        """
        outcome = _pull().Puller(self.store, self.settings, _options(options, fields),
                                 progress).run(ref)
        if outcome.record is None:
            raise NotFoundError(f"{ref}: nothing was registered (dry run?)")
        return self._model(outcome.record)

    def pull_result(self, ref: str, options: PullOptions | None = None,
                    progress: ProgressFactory | None = None,
                    cancel: threading.Event | None = None) -> PullResult:
        """Like :meth:`pull` but a failure is a result (for batches and ``--json``)."""
        shown = public_ref(ref)
        try:
            outcome = _pull().Puller(self.store, self.settings, _options(options),
                                     progress, cancel).run(ref)
        except (ModelshelfError, OSError) as exc:  # a disk or permission problem is one item's too
            return _failure(ref, shown, exc)
        if outcome.record is None:
            return PullResult(shown, PullStatus.PLANNED, plan=outcome.plan)
        return PullResult(shown, PullStatus.OK, self._model(outcome.record), outcome.bytes_downloaded,
                          notes=tuple(outcome.notes))

    def pull_many(self, refs: Iterable[str | tuple[str, PullOptions]], *, jobs: int = 4,
                  progress: ProgressFactory | None = None,
                  options: PullOptions | None = None) -> list[PullResult]:
        """Pull several references in parallel; one failure never stops the others.

        An interrupt (Ctrl-C) stops every transfer of the batch at once — each keeps its resume
        state, nothing half-fetched is registered — and is re-raised once they have stopped.
        """
        items = [(r, _options(options)) if isinstance(r, str) else r for r in refs]
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
                      options: PullOptions | None = None,
                      base: PullOptions | None = None) -> list[PullResult]:
        """Install a manifest; with its lock file present, exactly what the lock pins.

        ``options`` apply to every entry unless the entry says otherwise (``base`` is its old
        name, still accepted).
        """
        from modelshelf.manifest import check_lock_matches, lock_path, read_lock, read_manifest

        base = _options(options or base)
        entries = read_manifest(manifest)
        lock_file = lock_path(manifest)
        if not lock_file.exists():
            return self.pull_many([(e.ref, _entry_options(e, base)) for e in entries],
                                  jobs=jobs, progress=progress)
        lock = read_lock(lock_file)
        check_lock_matches(entries, lock, lock_file)
        # The manifest's reference, not the lock's: the lock records a URL with its credentials
        # masked, and the manifest (or the environment it names) is where they live.
        items = [(e.ref, replace(base, name=m.name, type=m.type, revision=m.revision,
                                 include=m.include, exclude=m.exclude,
                                 locked={f.path: f for f in m.files}))
                 for e, m in zip(entries, lock.models, strict=True)]
        return self.pull_many(items, jobs=jobs, progress=progress)

    def lock(self, manifest: Path, *, jobs: int = 4,
             progress: ProgressFactory | None = None) -> tuple[Path, list[PullResult]]:
        """Resolve and install the manifest afresh, then pin what was installed."""
        from modelshelf.manifest import LockedModel, LockFile, lock_path, read_manifest, write_lock

        entries = read_manifest(manifest)
        results = self.pull_many([(e.ref, _entry_options(e, _options())) for e in entries],
                                 jobs=jobs, progress=progress)
        failed = [r for r in results if r.status != PullStatus.OK]
        if failed:
            return lock_path(manifest), results
        locked = []
        for entry, result in zip(entries, results, strict=True):
            model = result.model
            assert model is not None
            locked.append(LockedModel(
                # A local import's revision is this machine's file stamp: nothing to pin.
                ref=public_ref(entry.ref), name=model.name, type=model.type,
                revision=None if model.source == "local" else model.revision,
                files=model.files,
                include=entry.include, exclude=entry.exclude, source_url=model.source_url))
        write_lock(lock_path(manifest), LockFile(tuple(locked)))
        return lock_path(manifest), results

    def pull_preset(self, name: str, *, jobs: int = 4, progress: ProgressFactory | None = None,
                    base: PullOptions | None = None) -> builtins.list[PullResult]:
        """Install a named model set (see :mod:`modelshelf.api.presets`)."""
        return _presets().pull_preset(  # type: ignore[no-any-return]
            self, name, jobs=jobs, progress=progress, base=base)

    def presets(self) -> dict[str, Preset]:
        return _presets().all_presets(self.settings)  # type: ignore[no-any-return]

    def preset_size(self, preset: Preset) -> PresetSize:
        """Total bytes from the preset's lock, else resolved remotely, else unknown (offline)."""
        return _presets().preset_size(self, preset)  # type: ignore[no-any-return]

    def ensure(self, ref: str, *, options: PullOptions | None = None, **fields: Any) -> Path:
        """The path of the model, pulled first if it is not in the store; a model kept out of
        views/ (unsafe or unknown, not trusted) has none: :class:`UnsafeFile` says so."""
        return self.path(self.pull(ref, options=options, **fields).name)

    # -- offline bundles (api/bundle.py) -----------------------------------------------------------
    def export_bundle(self, names: Sequence[str], output: str | os.PathLike[str]) -> ExportResult:
        """Write the named models and their blobs to one plain tar for an air-gapped machine."""
        from modelshelf.api.bundle import export_bundle

        return export_bundle(self.store, names, Path(output))

    def import_bundle(self, bundle: str | os.PathLike[str], *,
                      allow_unsafe: bool = False) -> ImportResult:
        """Verify, dedupe and register a bundle's models; never touches the network, and a
        re-run after an interruption finishes the job re-using the blobs already committed."""
        from modelshelf.api.bundle import import_bundle

        return import_bundle(self.store, Path(bundle), allow_unsafe=allow_unsafe)

    # -- the registry -----------------------------------------------------------------------------
    def get(self, name: str) -> Model:
        return self._model(self.store.get(name))

    def find(self, name: str) -> Model | None:
        """The model registered as ``name``, or None (where :meth:`get` raises)."""
        record = self.store.find(name)
        return None if record is None else self._model(record)

    def list(self, type: str | None = None, architecture: str | None = None) -> list[Model]:
        return [self._model(r) for r in self.store.list(type=type, architecture=architecture)]

    def path(self, name: str) -> Path:
        record = self.store.get(name)
        if not record.linked:
            raise UnsafeFile(f"model {name} is not linked into views/ (safety "
                             f"{self._model(record).safety}); {trust_hint(name)}")
        self.store.touch(name)
        return self.store.view_path(record)

    def remove(self, name: str, *, force: bool = False) -> int:
        """Unregister ``name`` and free its bytes; a pinned model needs ``force``. Its Civitai
        preview and ``.civitai.info`` beside the view go with it."""
        from modelshelf.views import sync_sidecars

        freed = self.store.remove(name, force=force)
        with contextlib.suppress(OSError):  # derived files: a failure here loses nothing
            sync_sidecars(self.store.views_dir, self.store.meta_dir, only=name)
        return freed

    def pin(self, name: str, pinned: bool = True) -> None:
        self.store.pin(name, pinned)

    def trust(self, name: str, trusted: bool = True) -> Model:
        """Link a model judged unsafe or unknown into views/ (and so into apps) after all;
        ``trusted=False`` takes any model out of them again. Kept in the registry."""
        return self._model(self.store.set_linked(name, trusted))

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

    # -- loading (api/load.py, imported on first use: numpy, formats) ------------------------------
    def load(self, ref_or_name: str, *, framework: str = "numpy", device: str = "cpu",
             dtype: Any = None, lazy: bool = True, trust: bool = False) -> TensorMap:
        """The model's tensors as a mapping, memory-mapped and read when touched.

        A path on disk loads in place; a registered name or reference is pulled first if it is
        missing (an error offline). ``framework="torch"`` needs the torch extra; pickles need it
        too, load with ``weights_only=True``, and one judged unsafe only with ``trust=True``.
        Loaded models are cached (see :meth:`loaded`, :meth:`unload`, ``[load] max_memory``).
        """
        load = _load()
        return load.load(self, self._loaded, ref_or_name,  # type: ignore[no-any-return]
                         load.LoadOptions(framework, device, dtype, lazy, trust))

    def tensor(self, ref_or_name: str, key: str, *, framework: str = "numpy",
               device: str = "cpu", dtype: Any = None) -> Any:
        """One tensor, read by itself (no other tensor's bytes are read, nothing stays mapped)."""
        load = _load()
        return load.read_tensor(load.locate(self, ref_or_name).path, key,
                                load.LoadOptions(framework, device, dtype))

    def load_model(self, ref_or_name: str, *, device: str = "cpu", dtype: Any = None) -> Any:
        """The framework object the model implies: a torchvision network with its weights, a
        transformers ``AutoModel``, a diffusers pipeline (each needs its extra)."""
        load = _load()
        return load.load_model(self, self._loaded, ref_or_name,
                               load.LoadOptions("torch", device, dtype))

    def unload(self, name: str) -> bool:
        """Forget what was loaded for ``name`` (freeing the CUDA cache); False if nothing was."""
        return bool(self._loaded.unload(_load().locate_name(self, name)))

    def loaded(self) -> builtins.list[LoadedModel]:  # ``list`` is a method here
        """What the cache holds, least recently used first."""
        return self._loaded.loaded()

    # -- inspection -------------------------------------------------------------------------------
    def inspect(self, target: str | os.PathLike[str], *, hashes: bool = False) -> Info:
        """A file or folder on disk, else a registered name, else a remote reference (its header
        only). A path on disk comes first and never opens the store."""
        if Path(target).exists():
            return inspect_path(Path(target), hashes=hashes)
        if self.store.find(str(target)) is not None:
            return self.inspect_model(str(target), hashes=hashes)
        return inspect(target, settings=self.settings, hashes=hashes)

    def inspect_model(self, name: str, *, hashes: bool = False) -> Info:
        """The registered model ``name``, never a file that happens to have that name in the
        working folder (which :meth:`inspect` would read first): the web page asks by name."""
        record = self.store.get(name)
        if not record.linked:  # no view to read: its blobs, then
            return inspect_stored(self.store, record.files, hashes=hashes)
        info = inspect_path(self.store.view_path(record), hashes=hashes)
        if record.source != "civitai":
            return info
        # the Civitai version record names the base model and trigger words best
        from modelshelf.inspection.training import training

        civitai = record.metadata.get("source") or {}
        return replace(info, training={**info.training, **training({}, civitai)})

    def scan(self, directory: str | os.PathLike[str], *, adopt: bool = False,
             dry_run: bool = False, progress: ScanProgress | None = None) -> ScanResult:
        """Identify every model under ``directory`` (cached in this store's registry), find
        duplicates; with ``adopt``, move them into the store and leave links (``dry_run``: the
        plan only, on ``result.adopt_plan``)."""
        from modelshelf.inspection import scan

        if dry_run and not adopt:
            raise UsageError("scan: --dry-run goes with --adopt")
        folder = Path(directory)
        if not folder.exists():
            raise NotFoundError(f"scan: {folder}: no such folder")
        if not folder.is_dir():
            raise UsageError(f"scan: {folder} is not a folder")
        return scan(folder, store=self.store, adopt=adopt, dry_run=dry_run, progress=progress)

    def report(self, extra_dirs: Iterable[str | os.PathLike[str]] = ()) -> Report:
        """The whole collection (and model files under ``extra_dirs``): counts, sizes,
        duplicates, savings, unsafe files, and what advise would save (``optimization``)."""
        from modelshelf.inspection.advice_facts import report_with_advice

        return report_with_advice(self.store, extra_dirs=tuple(Path(d) for d in extra_dirs))

    def advise(self, targets: Sequence[str] = (), *, profile: str | None = None,
               gpu: str | None = None, disk: str | None = None,
               extra_dirs: Iterable[str | os.PathLike[str]] = (),
               unused_days: int | None = None) -> Advice:
        """Will each model fit (``targets``: names or paths; none = every registered model)
        on ``gpu``/``disk`` or a ``profile``, and what would help — see
        :mod:`modelshelf.inspection.advice`. Reads headers only; changes nothing."""
        from modelshelf.inspection.advice import UNUSED_DAYS, advise
        from modelshelf.inspection.advice_facts import path_facts, store_facts
        from modelshelf.inspection.targets import resolve_target

        target = resolve_target(profile, gpu, disk, self.settings.profiles)
        paths = [t for t in targets if Path(t).exists()]
        names = [t for t in targets if t not in paths]
        facts = [path_facts(Path(p)) for p in paths]
        if names or not targets:
            facts += store_facts(self.store, names or None,
                                 tuple(Path(d) for d in extra_dirs))
        return advise(facts, target,
                      unused_days=UNUSED_DAYS if unused_days is None else unused_days)

    def advise_plan(self, advice: Advice) -> builtins.list[AdviseStep]:
        """What ``advise --apply`` would do: conversions to NEW models (see api/advise.py)."""
        from modelshelf.api.advise import plan

        return plan(self, advice)

    def advise_apply(self, steps: Sequence[AdviseStep]) -> builtins.list[AdviseStep]:
        from modelshelf.api.advise import execute

        return execute(self, builtins.list(steps))

    def convert(self, src: str | os.PathLike[str], dst: str | os.PathLike[str], *,
                dtype: str | None = None,
                progress: ConvertProgress | None = None) -> ConvertResult:
        """Rewrite ``src`` (safetensors, shard folder or safe pickle) as safetensors ``dst``,
        optionally casting floating tensors to ``dtype`` (fp16, bf16, fp32)."""
        from modelshelf.convert import convert

        return convert(Path(src), Path(dst), dtype=dtype, progress=progress)

    def link(self, app: str, directory: str | os.PathLike[str], *, extra_paths: bool = False,
             force: bool = False) -> LinkPlan | YamlPlan:
        """The plan exposing this store to ``app`` (comfyui, a1111, invokeai, flat) at
        ``directory``; nothing changes there until ``.execute()`` (a dry run just shows it).

        ``extra_paths`` (comfyui only): merge a section into ``extra_model_paths.yaml`` instead
        of making links. ``force``: accept a folder that is not a ComfyUI root. Civitai
        previews and trigger words are first brought up to date beside the files in
        ``views/`` (the store's own folder, so also on a dry run; never ``directory``), where
        every app style sees them.
        """
        from modelshelf.views import check_root, plan_app_links, plan_extra_paths, sync_sidecars

        dest = Path(directory).absolute()
        if extra_paths and app != "comfyui":
            raise UsageError(f"link {app}: --extra-paths is for comfyui only")
        if app == "comfyui":
            check_root(dest, force=force)
        synced = sync_sidecars(self.store.views_dir, self.store.meta_dir)
        plan: LinkPlan | YamlPlan = (
            plan_extra_paths(self.store.views_dir.absolute(), dest) if extra_paths
            else plan_app_links(self.store.views_dir, app, dest, force=force))
        if not synced:
            return plan
        note = (f"Civitai previews and trigger words (.preview.*, .civitai.info): {len(synced)} "
                "updated beside the models")
        return replace(plan, notes=(*plan.notes, note))

    def unlink(self, app: str,
               directory: str | os.PathLike[str]) -> tuple[LinkPlan | YamlPlan, ...]:
        """The plans taking out of ``directory`` only what ``link`` put there (links into this
        store, and for comfyui our ``extra_model_paths.yaml`` section)."""
        from modelshelf.views import plan_extra_paths, plan_unlink

        plan = plan_unlink(self.store.views_dir, app, Path(directory))
        if app != "comfyui":
            return (plan,)
        return plan, plan_extra_paths(self.store.views_dir.absolute(), plan.dest, remove=True)


def _failure(ref: str, shown: str, exc: OSError | ModelshelfError) -> PullResult:
    if isinstance(exc, ModelshelfError):
        error, exit_code = str(exc), exc.exit_code
    else:
        error, exit_code = f"{ref}: {os_error_text(exc)}", 1
    return PullResult(shown, PullStatus.ERROR, error=error.replace(ref, shown) if shown != ref else error,
                      exit_code=exit_code)


def _options(options: PullOptions | None = None,
             fields: dict[str, Any] | None = None) -> PullOptions:
    """The one way options reach the pipeline: ``options`` (default: none set) with ``fields``
    (keyword shorthand) applied over it."""
    base = options if options is not None else _pull().PullOptions()
    return replace(base, **fields) if fields else base


def _entry_options(entry: ManifestEntry, base: PullOptions) -> PullOptions:
    return replace(base, **entry.selection())


def inspect(target: str | os.PathLike[str], *, settings: Settings | None = None,
            hashes: bool = False) -> Info:
    """What a file, folder or remote reference is, without loading or executing it."""
    path = Path(target)
    if path.exists():
        return inspect_path(path, hashes=hashes)
    from modelshelf.api.remote import inspect_remote

    return inspect_remote(str(target), settings or load_settings())
