"""The pull pipeline: reference -> resolution -> bytes in the store -> identified, registered model.

It reads as a story (pooch's ``fetch`` is the model): decide whether anything needs doing, resolve
the reference through its source, fetch each missing file through the transfer engine (or adopt it
from the Hub cache / a local path) under an inter-process lock, identify what the bytes really are,
then register everything in one registry transaction and expose it to the Hub cache.
"""

from __future__ import annotations

import dataclasses
import errno
import re
import shutil
import threading
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path, PurePosixPath

from modelshelf.api.capacity import evict_to_fit, plan_room
from modelshelf.api.models import PlannedFile
from modelshelf.api.names import check_name_free, register
from modelshelf.api.network import network_policy
from modelshelf.api.stored import assess_stored, assessment_metadata
from modelshelf.api.team import TeamRoute
from modelshelf.config import Settings, format_size
from modelshelf.errors import (
    EntryNotFound,
    HashMismatch,
    InsufficientSpace,
    LockMismatch,
    ModelNotFound,
    ModelshelfError,
    OfflineError,
    UsageError,
    os_error_text,
)
from modelshelf.hashing import git_blob_sha1, parse_sha256, sha256_file
from modelshelf.inspection import Info
from modelshelf.inspection.trust import trust_hint
from modelshelf.manifest import Selection
from modelshelf.naming import name_from
from modelshelf.secrets import public_url
from modelshelf.sources import parse, resolve, traits
from modelshelf.sources.base import HubLocation, Ref, RemoteFile, Resolution, ResolveOptions
from modelshelf.sources.refs import canonical
from modelshelf.store import TYPES, FileRecord, ImportMode, ModelRecord, NewModel, Store, check_name
from modelshelf.store.records import ModelType
from modelshelf.transfer import (
    Endpoint,
    ProgressCallback,
    download,
    download_lock,
    free_space_margin,
)
from modelshelf.views import sync_sidecars
from modelshelf.views.hfcache import find_in_hf_cache, link_into_hf_cache

_FILE_JOBS = 4  # files of one repo fetched at once, each over its own set of connections
# Files up to this size (a repo's JSON, tokenizer and index files) are fetched beside those, not
# in their queue: each costs a few round trips and no bandwidth, and queued between the shards
# they held a shard's slot (measured: 0.05-0.13 s of an 8 x 32 MiB pull).
_SMALL_FILE = 2**20

ProgressFactory = Callable[[str, int | None], ProgressCallback]


class PullCancelled(BaseException):
    """The batch this pull belongs to was interrupted (Ctrl-C in the main thread).

    Raised inside the pull's own threads, including from the transfer engine's progress
    callback, which makes the engine drop its connections and save its resume state. A
    ``BaseException``, like asyncio's ``CancelledError``: no ``except Exception`` that turns a
    failure into a per-item result may swallow it.
    """


@dataclass(frozen=True)
class PullOptions(Selection):
    connections: int | None = None
    force: bool = False
    token: str | None = None
    link: bool = False
    dry_run: bool = False
    allow_unsafe: bool = False  # link unsafe/unknown files into views and apps all the same
    locked: Mapping[str, FileRecord] | None = None  # from a lock file: path -> pinned content


@dataclass
class PullOutcome:
    record: ModelRecord | None
    bytes_downloaded: int = 0
    notes: list[str] = field(default_factory=list)
    plan: tuple[PlannedFile, ...] = ()


def canonical_ref(ref: Ref, options: PullOptions) -> str:
    """The registry key of a reference: the same model typed two ways is found again.

    ``--revision`` is folded into the key, so ``hf:a/b --revision v1`` and ``hf:a/b@v1`` match.
    """
    if traits(ref.source).revision_in_ref and options.revision:
        ref = replace(ref, revision=options.revision)
    if ref.local_path is not None:
        ref = replace(ref, local_path=Path(ref.local_path).resolve())
    if ref.url is not None:
        return public_url(canonical(ref))  # a signed link's secret is no part of the key
    # A path that is not UTF-8 (lone surrogates) cannot be stored as is; escaped, it stays unique.
    return canonical(ref).encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


_COMMIT_SHA = re.compile(r"[0-9a-f]{40}")


def _is_commit_sha(revision: str | None) -> bool:
    return bool(revision and _COMMIT_SHA.fullmatch(revision))


class _Vanished(Exception):
    """The registered model a pull was about to return was removed meanwhile."""


class Puller:
    """One pull of one reference; holds the per-pull state so helpers stay small."""

    def __init__(self, store: Store, settings: Settings, options: PullOptions,
                 progress: ProgressFactory | None = None,
                 cancel: threading.Event | None = None) -> None:
        self.store = store
        self.settings = settings
        self.options = options
        self.progress = progress
        self.cancel = cancel or threading.Event()
        self._damaged: set[tuple[str, int, int]] = set()  # (sha256, inode, mtime_ns), see _present_blob
        self._patterns = ResolveOptions(include=options.include, exclude=options.exclude)
        self._route = TeamRoute(None, "")  # the remote store's part, set per reference in _run

    # -- the story ------------------------------------------------------------------------------
    def run(self, ref_text: str) -> PullOutcome:
        try:
            return self._run(ref_text)
        except _Vanished:  # `rm` by another process between our look-up and our use: fetch it
            return self._run(ref_text)

    def _run(self, ref_text: str) -> PullOutcome:
        ref = parse(ref_text, self.settings)
        self._check_options(ref)
        key = canonical_ref(ref, self.options)
        previous = None if self.options.force else self.store.find_by_source(key)
        existing = previous if previous is not None and self._intact(previous) else None
        source = traits(ref.source)
        immutable = source.immutable_refs or _is_commit_sha(self.options.revision or ref.revision)
        networked = source.networked
        if (existing is not None and (immutable or (self.settings.offline and networked))
                and not self.options.dry_run):
            return self._already(existing, "already present; nothing downloaded")
        if self.settings.offline and networked:
            raise OfflineError(f"{ref_text}: not in the store, and offline mode is on")
        self._route = TeamRoute.open(
            self.settings, key, networked=networked and not self.options.dry_run,
            force=self.options.force, selective=bool(self.options.include or self.options.exclude))

        def from_source() -> Resolution:
            return resolve(ref, self.settings, replace(
                self._patterns, revision=self.options.revision, token=self.options.token))

        resolution = self._route.resolve(immutable, self._patterns, from_source)
        self._check_selection(resolution.ref, is_repo=resolution.is_repo)
        expected = self._expected_digests(resolution)
        self._check_name_free(key, resolution, expected)
        if self.options.dry_run:
            return PullOutcome(None, plan=self._plan(resolution, expected))
        if existing is not None and _covers(existing, resolution):
            return self._already(existing, f"still at revision {resolution.revision}"
                                 if networked else "unchanged on disk")
        try:
            return self._fetch_locked(key, resolution, expected, previous)
        except ModelshelfError as exc:
            if not self._route.fallback(exc):
                raise
            try:  # the remote's copy is damaged or unreadable: the source, as if no remote
                resolution = from_source()
            except ModelshelfError as source_exc:
                raise type(exc)(f"{ref_text}: the remote store's copy failed ({exc}); "
                                f"the source failed too: {source_exc}") from None
            return self._fetch_locked(key, resolution, self._expected_digests(resolution), previous)

    def _fetch_locked(self, key: str, resolution: Resolution, expected: dict[str, str | None],
                      previous: ModelRecord | None) -> PullOutcome:
        with self.store.lock(f"pull:{key}", self._check_cancelled):
            # Another process may have fetched it while we waited for the lock.
            again = None if self.options.force else self.store.find_by_source(key)
            if again is not None and self._intact(again) and _covers(again, resolution):
                return self._already(again, "fetched by another modelshelf process")
            return self._fetch_and_register(key, resolution, expected, again or previous)

    def _check_options(self, ref: Ref) -> None:
        """Refuse a bad ``--type`` or ``--name`` before any byte is fetched, not after, and
        flags the reference cannot use rather than silently ignore them."""
        if self.options.type and self.options.type not in TYPES:
            raise UsageError(f"--type {self.options.type!r}: expected one of {', '.join(TYPES)}")
        if self.options.name is not None:
            check_name(self.options.name)
        source = traits(ref.source)
        if self.options.revision and not source.versioned:
            raise UsageError(f"{ref.raw}: --revision applies to hf: and civitai: references, "
                             f"not to a {'local path' if ref.local_path else 'URL'}")
        if not source.selectable:
            self._check_selection(ref.raw, is_repo=False)

    def _check_selection(self, ref_text: str, *, is_repo: bool) -> None:
        if (self.options.include or self.options.exclude) and not is_repo:
            raise UsageError(f"{ref_text}: --include/--exclude choose files of a repo or "
                             "folder; this reference is a single file")

    def _intact(self, record: ModelRecord) -> bool:
        """Whether all of a registered model's bytes are still in the store: one whose blob was
        lost (deleted by hand) is fetched again rather than reported present."""
        return all(self.store.has_blob(f.sha256) for f in record.files)

    def _check_cancelled(self) -> None:
        if self.cancel.is_set():
            raise PullCancelled("interrupted")

    def _already(self, record: ModelRecord, note: str) -> PullOutcome:
        """The reference is in the store: check it against the lock / ``--sha256``, and honour a
        ``--name`` or ``--type`` that differs from how it was registered (no bytes move)."""
        pinned = {path: f.sha256 for path, f in (self.options.locked or {}).items()}
        if self.options.sha256 and len(record.files) == 1:
            pinned[record.files[0].path] = parse_sha256(self.options.sha256)
        have = {f.path: f.sha256 for f in record.files}
        for path, wanted in sorted(pinned.items()):
            if have.get(path) != wanted:
                error = LockMismatch if self.options.locked is not None else HashMismatch
                raise error(f"{record.source_ref}: {path} in the store is "
                            f"{have.get(path) or 'missing'}, expected {wanted}")
        name = self.options.name or record.name
        model_type = self.options.type or record.type
        notes = [note]
        if self.options.allow_unsafe and not record.linked:
            record = self._set_linked(record.name)
            notes.append("linked into views/ (--allow-unsafe)")
        elif not record.linked:  # still kept from apps: say so on every pull, not only the first
            notes.append(f"not linked into views/ or app folders (safety "
                         f"{record.metadata.get('safety', 'unknown')}); {trust_hint(name)}")
        if (name, model_type) == (record.name, record.type):
            try:
                self.store.touch(record.name)
            except ModelNotFound:
                raise _Vanished from None
            return PullOutcome(record, notes=notes)
        fields = {f.name: getattr(record, f.name) for f in dataclasses.fields(NewModel)}
        # A second name for part of a repo (`--include '*.json' --name x`) holds that part only.
        chosen = tuple(f for f in record.files if self._patterns.keeps(f.path))
        if not chosen:
            raise EntryNotFound(f"{record.source_ref}: no file of model {record.name} matches "
                                f"{self._patterns.pattern_flags()}")
        renamed = NewModel(**{**fields, "name": name, "type": model_type, "files": chosen})
        # Same name, other type: the user re-files that model. Other name: a second name for
        # the same blobs, which must not clobber a different model already called that.
        added = register(self.store, renamed, force=name == record.name, ref=record.source_ref)
        notes[0] = f"{note}; registered as {name} ({model_type})"
        return PullOutcome(added, notes=notes)

    def _set_linked(self, name: str) -> ModelRecord:
        try:
            return self.store.set_linked(name, True)
        except ModelNotFound:
            raise _Vanished from None

    def _check_name_free(self, key: str, resolution: Resolution,
                         expected: dict[str, str | None]) -> None:
        """A name another model holds is refused before any byte moves. The default name
        counts too when the source gives it now (a URL's server names its file later)."""
        name = self.options.name
        if name is None and not traits(resolution.source).server_names_file:
            name = name_from(resolution.name)
        if name and not self.options.force:
            check_name_free(self.store, name, key, resolution.ref,
                            {(f.path, expected[f.path], f.size) for f in resolution.files})

    # -- verification inputs ----------------------------------------------------------------------
    def _expected_digests(self, resolution: Resolution) -> dict[str, str | None]:
        expected = {f.path: f.sha256 for f in resolution.files}
        if self.options.sha256:
            if len(resolution.files) != 1:
                raise UsageError(f"{resolution.ref}: --sha256 needs a single-file reference "
                                 f"(this one has {len(resolution.files)} files)")
            wanted = parse_sha256(self.options.sha256)
            only = resolution.files[0]
            if only.sha256 and only.sha256 != wanted:
                raise HashMismatch(f"{resolution.ref}: --sha256 {wanted} differs from the "
                                   f"source's published sha256 {only.sha256}")
            expected[only.path] = wanted
        if self.options.locked is not None:
            expected = self._apply_lock(resolution, expected)
        return expected

    def _apply_lock(self, resolution: Resolution,
                    expected: dict[str, str | None]) -> dict[str, str | None]:
        locked = self.options.locked or {}
        missing = sorted(set(locked) - set(expected))
        extra = sorted(set(expected) - set(locked))
        if missing or extra:
            what = ", ".join([f"missing {p}" for p in missing] + [f"unexpected {p}" for p in extra])
            raise LockMismatch(f"{resolution.ref}: the source differs from the lock file ({what})")
        for path, pinned in locked.items():
            published = expected[path]
            if published and published != pinned.sha256:
                raise LockMismatch(f"{resolution.ref}: {path} is now sha256 {published}, "
                                   f"the lock file pins {pinned.sha256}")
            expected[path] = pinned.sha256
        return expected

    def _plan(self, resolution: Resolution, expected: dict[str, str | None]) -> tuple[PlannedFile, ...]:
        return tuple(PlannedFile(f.path, f.size, expected[f.path], self._stored(expected[f.path]))
                     for f in resolution.files)

    def _stored(self, sha256: str | None) -> bool:
        """Whether the store already holds the blob of a digest we know in advance."""
        return bool(sha256) and self.store.has_blob(sha256 or "")

    # -- bytes ----------------------------------------------------------------------------------
    def _fetch_and_register(self, key: str, resolution: Resolution,
                            expected: dict[str, str | None],
                            previous: ModelRecord | None = None) -> PullOutcome:
        self._check_free_space(resolution, expected)
        replaced = previous.name if previous is not None else None
        limit = self.settings.gc_max_size
        if limit is not None:
            plan_room(self.store, limit, self._new_bytes(resolution, expected), resolution.ref,
                      replaced=replaced)
        outcome = PullOutcome(None)
        small = [f.size is not None and f.size <= _SMALL_FILE for f in resolution.files]
        jobs = max(1, min(_FILE_JOBS, small.count(False)))
        with (ThreadPoolExecutor(jobs, thread_name_prefix="modelshelf-file") as pool,
              ThreadPoolExecutor(max(1, sum(small)), thread_name_prefix="modelshelf-small") as aside):
            futures = [(aside if is_small else pool).submit(
                self._fetch_file, resolution, f, expected[f.path])
                for f, is_small in zip(resolution.files, small, strict=True)]
            fetched = [future.result() for future in futures]
        self._check_cancelled()  # interrupted after the last byte: register nothing
        files = tuple(record for record, _ in fetched)
        outcome.bytes_downloaded = sum(n for _, n in fetched)
        if limit is not None and any(f.size is None for f in resolution.files):
            # Sizes only the transfer learnt: check again before registering.
            used = {f.sha256 for m in self.store.list() for f in m.files}
            plan_room(self.store, limit,
                      sum({f.sha256: f.size for f in files if f.sha256 not in used}.values()),
                      resolution.ref, replaced=replaced, fetched=True)
        name = self.options.name or _default_name(resolution, files)
        info, verdict = assess_stored(self.store, files)
        model_type, architecture = self._classify(resolution, info, outcome.notes)
        metadata = {"source": dict(resolution.metadata), **assessment_metadata(info, verdict)}
        record = register(self.store, NewModel(
            name=name, type=model_type, architecture=architecture,
            format=info.format if info else "unknown", source=resolution.source,
            source_ref=key, source_url=resolution.source_url, revision=resolution.revision,
            files=files, metadata=metadata,
            linked=verdict.linkable or self.options.allow_unsafe),
            # A moved branch updates the model it registered before: that is no name clash.
            force=self.options.force or replaced == name, ref=resolution.ref)
        if not record.linked:
            outcome.notes.append(f"not linked into views/ or app folders: {verdict.reason}; "
                                 f"{trust_hint(record.name)}")
        elif verdict.safety == "unsafe":
            outcome.notes.append(f"linked although {verdict.reason} (--allow-unsafe); "
                                 "modelshelf never loads it, prefer a safetensors copy")
        if limit is not None:
            evicted = evict_to_fit(self.store, limit, keep=(record.name,))
            if evicted:
                outcome.notes.append(f"evicted {', '.join(evicted)} (least recently used) to stay "
                                     f"within [gc] max_size {format_size(limit)}")
        if previous is not None and previous.revision != resolution.revision:
            outcome.notes.append(f"updated from revision {previous.revision} to {resolution.revision}")
        self._after_registration(resolution, record, files, outcome.notes)
        self._route.push(self.store, record)
        outcome.notes.extend(self._route.notes)
        outcome.record = record
        return outcome

    def _after_registration(self, resolution: Resolution, record: ModelRecord,
                            files: tuple[FileRecord, ...], notes: list[str]) -> None:
        """Source snapshots and the Hub cache are extras: the model is registered and usable
        by now, so failing to write them (a full disk, an unwritable HF_HUB_CACHE) is a note,
        not a failed pull that left a model behind anyway."""
        try:
            for filename, data in resolution.extras.items():
                self.store.save_meta(record.name, filename, data)
            if resolution.extras and record.linked:
                # A preview and trigger words beside the file, where front-ends look.
                sync_sidecars(self.store.views_dir, self.store.meta_dir, only=record.name)
        except OSError as exc:
            notes.append(f"source snapshot not saved: {os_error_text(exc)}")
        if resolution.hub is not None and record.linked:  # unvetted bytes stay out of it too
            try:
                self._expose_to_hf_cache(resolution.hub, resolution, files)
            except OSError as exc:
                notes.append(f"not linked into the Hub cache at {self.settings.hf_cache}: "
                             f"{os_error_text(exc)}")

    def _new_bytes(self, resolution: Resolution, expected: dict[str, str | None]) -> int:
        """What the pull adds to the store: files whose blob is not there, each digest once."""
        sizes = {expected[f.path] or f.path: f.size or 0 for f in resolution.files
                 if not self._stored(expected[f.path])}
        return sum(sizes.values())

    def _check_free_space(self, resolution: Resolution, expected: dict[str, str | None]) -> None:
        """The whole pull must fit before any file starts: the engine checks each file alone,
        and a repo's files are fetched side by side. Local imports count too unless ``--link``
        (a copy needs the space as much as a download does)."""
        needed = sum(f.size or 0 for f in resolution.files
                     if (f.url or not self.options.link) and not self._stored(expected[f.path]))
        self.store.staging_dir.mkdir(parents=True, exist_ok=True)
        free = shutil.disk_usage(self.store.staging_dir).free
        if needed and needed + free_space_margin(needed) > free:
            raise InsufficientSpace(
                f"{resolution.ref}: needs {format_size(needed)} but only {format_size(free)} are "
                f"free under {self.store.home} (try `modelshelf gc --max-size ...`)")

    def _fetch_file(self, resolution: Resolution, remote: RemoteFile,
                    sha256: str | None) -> tuple[FileRecord, int]:
        self._check_cancelled()
        present = self._present_blob(remote, sha256)
        if present is not None:
            return present, 0
        if remote.local_path is not None:
            return self._import_local(resolution, remote, sha256), 0
        adopted = self._adopt_from_hf_cache(resolution, remote, sha256)
        if adopted is not None:
            return adopted, 0
        assert remote.url is not None
        callback = self._progress_for(remote)
        with download_lock(self.store.staging_dir, remote.url, sha256, self._check_cancelled):
            present = self._present_blob(remote, sha256)  # fetched while we waited?
            if present is not None:
                return present, 0
            result = download(
                Endpoint(remote.url, remote.credentials, sha256, remote.size),
                self.store.staging_dir,
                self._route.tune(remote.url, network_policy(self.settings, resolution.source,
                                                            self.options.connections)),
                progress=callback)
            self._check_published_ids(resolution, remote, sha256, result.path, result.sha256)
            self.store.commit_blob(result.path, result.sha256, repair=self.options.force)
        path = remote.path
        if traits(resolution.source).server_names_file and result.filename:
            path = result.filename
        return FileRecord(path, result.sha256, result.size), result.bytes_downloaded

    def _import_local(self, resolution: Resolution, remote: RemoteFile,
                      sha256: str | None) -> FileRecord:
        assert remote.local_path is not None
        mode: ImportMode = "link" if self.options.link else "copy"
        try:
            imported = self.store.import_file(remote.local_path, mode=mode, expected_sha256=sha256,
                                              repair=self.options.force)
        except OSError as exc:
            if exc.errno != errno.ENOSPC:
                raise
            raise InsufficientSpace(f"{resolution.ref}: the disk under {self.store.home} filled up "
                                    f"while importing {remote.local_path}") from None
        return FileRecord(remote.path, imported.sha256, imported.size)

    def _progress_for(self, remote: RemoteFile) -> ProgressCallback:
        """The engine's progress callback; raising from it is how an interrupt stops a transfer
        (connections dropped, resume state saved) instead of being waited out."""
        report = self.progress(remote.path, remote.size) if self.progress else None

        def update(done_bytes: int, total_bytes: int | None) -> None:
            self._check_cancelled()
            if report is not None:
                report(done_bytes, total_bytes)

        return update

    def _present_blob(self, remote: RemoteFile, sha256: str | None) -> FileRecord | None:
        """The store's blob for ``sha256`` if there is one; under ``--force`` only if its bytes
        still hash to its name, so a re-pull repairs a damaged blob instead of trusting it.

        A blob found damaged is not read again while its file is unchanged (the second look,
        inside the download lock): only a replaced file, another process's repair, can pass now.
        """
        if not (sha256 and self.store.has_blob(sha256)):
            return None
        blob = self.store.blob_path(sha256)
        st = blob.stat()
        if self.options.force:
            seen = (sha256, st.st_ino, st.st_mtime_ns)
            if seen in self._damaged or sha256_file(blob) != sha256:
                self._damaged.add(seen)
                return None
        return FileRecord(remote.path, sha256, st.st_size)

    @staticmethod
    def _check_published_ids(resolution: Resolution, remote: RemoteFile, sha256: str | None,
                             staged: Path, actual: str) -> None:
        """Digests a source publishes that are not a full sha256: check them before committing.

        torchvision names its files ``-<sha256 prefix>.pth``; the Hub gives small (non-LFS)
        files only their git blob id.
        """
        problem = None
        prefix = remote.sha256_prefix
        if prefix and not actual.startswith(prefix):
            problem = f"sha256 {actual} does not start with the published prefix {prefix}"
        blob_id = remote.git_blob_id
        if problem is None and not sha256 and blob_id and git_blob_sha1(staged) != blob_id:
            problem = f"{remote.path} does not match the Hub's git blob id {blob_id}"
        if problem:
            staged.unlink(missing_ok=True)
            raise HashMismatch(f"{resolution.ref}: {problem}")

    def _adopt_from_hf_cache(self, resolution: Resolution, remote: RemoteFile,
                             sha256: str | None) -> FileRecord | None:
        if resolution.hub is None or not remote.etag:
            return None
        cached = find_in_hf_cache(self.settings.hf_cache, resolution.hub.repo_id, remote.etag)
        if cached is None or not _matches_git_blob_id(cached, sha256, remote.git_blob_id):
            return None
        try:
            imported = self.store.import_file(cached, mode="link", expected_sha256=sha256,
                                              repair=self.options.force)
        except HashMismatch:
            return None  # a damaged copy in the Hub cache: download the file instead
        return FileRecord(remote.path, imported.sha256, imported.size)

    def _expose_to_hf_cache(self, hub: HubLocation, resolution: Resolution,
                            files: tuple[FileRecord, ...]) -> None:
        etags = {f.path: f.etag for f in resolution.files}
        link_into_hf_cache(
            self.settings.hf_cache, hub.repo_id, str(resolution.revision), hub.requested_revision,
            [(f.path, etags.get(f.path) or f.sha256, self.store.blob_path(f.sha256)) for f in files])

    # -- identification ---------------------------------------------------------------------------
    def _classify(self, resolution: Resolution, info: Info | None,
                  notes: list[str]) -> tuple[str, str]:
        """The file's own evidence beats the source's label; say so when they disagree."""
        found_type = info.model_type if info and info.model_type not in ("other", "unknown") else None
        found_arch = info.architecture if info and info.architecture != "unknown" else None
        for what, hint, found in (("type", resolution.type_hint, found_type),
                                  ("architecture", resolution.architecture_hint, found_arch)):
            if hint and found and hint != found:
                notes.append(f"the source says {what} {hint}, the file looks like {found}; "
                             f"using {found}")
        model_type = self.options.type or found_type or resolution.type_hint or ModelType.OTHER
        return model_type, found_arch or resolution.architecture_hint or "unknown"


def _matches_git_blob_id(path: Path, sha256: str | None, blob_id: str | None) -> bool:
    """A small (non-LFS) Hub file has no published sha256, only its git blob id: check a
    cached copy against it, as a download is checked, before adopting it."""
    return bool(sha256) or not blob_id or git_blob_sha1(path) == blob_id


def _covers(record: ModelRecord, resolution: Resolution) -> bool:
    """Whether the registered model already holds what was resolved: the same revision and at
    least these files (``--include '*.json'`` first, the whole repo later, must fetch the rest;
    the other way round keeps what is there). A direct download's file is named by the server
    (Content-Disposition), not by the resolution: its revision alone decides."""
    return record.revision == resolution.revision and (
        traits(resolution.source).server_names_file
        or {f.path for f in resolution.files} <= {f.path for f in record.files})


def _default_name(resolution: Resolution, files: tuple[FileRecord, ...]) -> str:
    """A name derived from the source, trimmed to what :func:`check_name` accepts (file names
    may be longer, or end in a space) so a pull never fails on a name nobody chose."""
    name = resolution.name
    if traits(resolution.source).server_names_file and len(files) == 1:
        name = PurePosixPath(files[0].path).stem or resolution.name
    return name_from(name)
