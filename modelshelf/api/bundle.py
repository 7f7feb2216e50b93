"""Offline bundles: ``export NAME... -o bundle.tar`` here, ``import bundle.tar`` on a machine
with no network.

A bundle is a plain, uncompressed tar (any tar tool can list it) holding, in this order:

``manifest.toml``        the models as a manifest (the project's own format: ref, name, type)
``manifest.toml.lock``   the lock pinning every file (path, sha256, size, revision, source URL)
``models.json``          what the registry knows beyond the lock (architecture, format, source)
``blobs/<sha256>``       each distinct content once

The tar comes from another machine, so it is hostile input: only those member names, only
regular files, sizes bounded by what the lock declares, every blob hashed while it streams out
and committed only when it matches its name. Blobs the store already holds are skipped unread.
Models are registered at the end, each in one registry transaction, so an interrupted import
leaves verified blobs (re-used by the next run) and never a half-registered model. Safety is
judged here again from the bytes (the exporter's verdict is not taken on trust), with the rule
``pull`` uses: a model apps could be made to run code from stays out of views/.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import secrets
import tarfile
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from modelshelf.api.names import register
from modelshelf.api.stored import assess_stored, assessment_metadata
from modelshelf.errors import FormatError, HashMismatch, ModelshelfError, NotFoundError
from modelshelf.hashing import CHUNK
from modelshelf.inspection.trust import trust_hint
from modelshelf.manifest import LockedModel, LockFile, read_lock, write_lock
from modelshelf.store import ModelRecord, NewModel, Store

MANIFEST = "manifest.toml"
LOCK = "manifest.toml.lock"
MODELS = "models.json"
_METADATA_MEMBERS = (MANIFEST, LOCK, MODELS)
_MAX_METADATA_BYTES = 16 * 2**20  # a manifest of thousands of models is far below this
_BLOB_MEMBER = re.compile(r"blobs/([0-9a-f]{64})")
_BUNDLE_VERSION = 1
# The registry fields a lock does not carry; all a pull would have registered.
_EXTRA_FIELDS = ("architecture", "format", "source", "source_ref")

BlobHook = Callable[[str], None]  # called after each blob is committed (tests interrupt here)
_MAX_HEADER_BYTES = 64 * 1024  # a pax or GNU long-name header: names and numbers, nothing more
_HEADER_TYPES = (tarfile.XHDTYPE, tarfile.XGLTYPE, tarfile.SOLARIS_XHDTYPE,
                 tarfile.GNUTYPE_LONGNAME, tarfile.GNUTYPE_LONGLINK)
_FILE_TYPES = (tarfile.REGTYPE, tarfile.AREGTYPE)  # not GNU sparse, which isreg() also accepts


class BundleError(FormatError):
    """The tar is not a bundle this version reads, or carries something a bundle never holds."""


@dataclass
class ExportResult:
    path: Path
    models: list[str]
    blobs: int
    bytes: int

    def to_json(self) -> dict[str, Any]:
        return {"path": str(self.path), "models": self.models, "blobs": self.blobs,
                "bytes": self.bytes}


@dataclass
class ImportResult:
    records: list[ModelRecord] = field(default_factory=list)
    blobs_written: int = 0
    blobs_skipped: int = 0
    bytes_written: int = 0
    notes: list[str] = field(default_factory=list)


# -- export ---------------------------------------------------------------------------------------
def export_bundle(store: Store, names: Sequence[str], output: Path) -> ExportResult:
    """Write the named models and their blobs to ``output`` (temp file, then rename)."""
    records = [store.get(name) for name in dict.fromkeys(names)]  # all checked before writing
    output = Path(output)
    digests = {f.sha256: f.size for r in records for f in r.files}
    # Not mkstemp: its 0600 would make the bundle unreadable to the colleague it is for.
    tmp = output.with_name(f".{output.name}.{secrets.token_hex(4)}.tmp")
    try:
        with tmp.open("xb") as fh, tarfile.open(fileobj=fh, mode="w:",
                                                format=tarfile.PAX_FORMAT) as tar:
            for member, data in _metadata(records).items():
                _add(tar, member, len(data), _Reader(_BytesSource(data)))
            for sha256, size in digests.items():
                with store.blob_path(sha256).open("rb") as blob:
                    reader = _Reader(blob)
                    _add(tar, f"blobs/{sha256}", size, reader)
                if reader.digest.hexdigest() != sha256:  # never ship a blob damaged on disk
                    raise HashMismatch(f"{store.blob_path(sha256)}: stored bytes no longer match "
                                       "their sha256; run `modelshelf verify` and re-pull")
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, output)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return ExportResult(output, [r.name for r in records], len(digests), sum(digests.values()))


def _metadata(records: Sequence[ModelRecord]) -> dict[str, bytes]:
    """The three small members, built through the project's own manifest and lock writers."""
    lock = LockFile(tuple(LockedModel(ref=r.source_ref, name=r.name, type=r.type,
                                      revision=r.revision, files=r.files,
                                      source_url=r.source_url) for r in records))
    with tempfile.TemporaryDirectory() as tmp:
        lock_file = Path(tmp, LOCK)
        write_lock(lock_file, lock)
        lock_bytes = lock_file.read_bytes()
    manifest = "".join(f"[[model]]\nref = {json.dumps(r.source_ref)}\nname = {json.dumps(r.name)}\n"
                       f"type = {json.dumps(r.type)}\n\n" for r in records)
    extras = {r.name: {**{k: getattr(r, k) for k in _EXTRA_FIELDS},
                       "source_metadata": r.metadata.get("source") or {}} for r in records}
    models = json.dumps({"version": _BUNDLE_VERSION, "models": extras}, indent=1, sort_keys=True)
    return {MANIFEST: manifest.encode(), LOCK: lock_bytes, MODELS: models.encode()}


def _add(tar: tarfile.TarFile, name: str, size: int, reader: _Reader) -> None:
    info = tarfile.TarInfo(name)
    info.size, info.mode, info.mtime = size, 0o444, 0  # the same models give the same bytes
    tar.addfile(info, reader)


class _BytesSource:
    def __init__(self, data: bytes) -> None:
        self._data, self._pos = data, 0

    def read(self, n: int = -1) -> bytes:
        end = len(self._data) if n < 0 else self._pos + n
        chunk, self._pos = self._data[self._pos:end], min(end, len(self._data))
        return chunk


class _Reader:
    """A file object hashing what is read from it: the blob is hashed as tar copies it."""

    def __init__(self, source: IO[bytes] | _BytesSource) -> None:
        self._source = source
        self.digest = hashlib.sha256()

    def read(self, n: int = -1) -> bytes:
        chunk = self._source.read(n)
        self.digest.update(chunk)
        return chunk


# -- import ---------------------------------------------------------------------------------------
class _BoundedTarInfo(tarfile.TarInfo):
    """tarfile reads a pax or GNU long-name header whole into memory before we see the member
    it describes: refuse one larger than any honest bundle writes, before it is read."""

    def _proc_member(self, tar: tarfile.TarFile) -> tarfile.TarInfo:
        if self.type in _HEADER_TYPES and self.size > _MAX_HEADER_BYTES:
            raise tarfile.HeaderError(f"an extended header of {self.size} bytes (at most "
                                      f"{_MAX_HEADER_BYTES})")
        return super()._proc_member(tar)  # type: ignore[misc, no-any-return]


@dataclass
class _Plan:
    lock: LockFile
    extras: dict[str, dict[str, Any]]
    sizes: dict[str, int]  # sha256 -> declared size
    owners: dict[str, str]  # sha256 -> "model/path" (for error messages)


def import_bundle(store: Store, bundle: Path, *, allow_unsafe: bool = False,
                  after_blob: BlobHook | None = None) -> ImportResult:
    """Verify and commit the bundle's blobs, then register its models as a pull would."""
    bundle = Path(bundle)
    result = ImportResult()
    try:
        tar = tarfile.open(bundle, mode="r:", tarinfo=_BoundedTarInfo)  # noqa: SIM115 - closed below
    except FileNotFoundError:
        raise NotFoundError(f"{bundle}: no such bundle") from None
    except (tarfile.TarError, IsADirectoryError) as exc:
        raise BundleError(f"{bundle}: not an uncompressed tar bundle ({exc})") from None
    with tar:
        try:
            plan = _read_blobs(store, bundle, tar, result, after_blob)
        except tarfile.TarError as exc:
            raise BundleError(f"{bundle}: damaged tar ({exc})") from None
    missing = [(s, o) for s, o in plan.owners.items() if not store.has_blob(s)]
    if missing:
        raise BundleError(f"{bundle}: {missing[0][1]} (sha256 {missing[0][0]}) is neither in the "
                          "bundle nor in the store")
    for locked in plan.lock.models:
        result.records.append(_register(store, bundle, locked, plan.extras.get(locked.name, {}),
                                        allow_unsafe, result.notes))
    return result


def _read_blobs(store: Store, bundle: Path, tar: tarfile.TarFile, result: ImportResult,
                after_blob: BlobHook | None) -> _Plan:
    metadata: dict[str, bytes] = {}
    plan: _Plan | None = None
    seen: set[str] = set()
    while (member := tar.next()) is not None:
        name = member.name
        if name in seen:
            raise BundleError(f"{bundle}: member {name!r} appears twice")
        seen.add(name)
        if member.type not in _FILE_TYPES:
            raise BundleError(f"{bundle}: member {name!r} is not a regular file (links and "
                              "devices are never part of a bundle)")
        blob = _BLOB_MEMBER.fullmatch(name)
        if name in _METADATA_MEMBERS and plan is None:
            if member.size > _MAX_METADATA_BYTES:
                raise BundleError(f"{bundle}: {name} is {member.size} bytes, too large")
            metadata[name] = _read_member(tar, member)
            if len(metadata) == len(_METADATA_MEMBERS):
                plan = _plan(bundle, metadata)
        elif blob is not None and plan is not None:
            _import_blob(store, bundle, tar, member, blob.group(1), plan, result)
            if after_blob is not None:
                after_blob(blob.group(1))
        else:
            raise BundleError(f"{bundle}: unexpected member {name!r} (a bundle holds "
                              f"{', '.join(_METADATA_MEMBERS)}, then blobs/<sha256>)")
    if plan is None:
        raise BundleError(f"{bundle}: not a modelshelf bundle (no {', '.join(_METADATA_MEMBERS)})")
    return plan


def _read_member(tar: tarfile.TarFile, member: tarfile.TarInfo) -> bytes:
    stream = tar.extractfile(member)
    assert stream is not None  # a regular file always has one
    return stream.read(member.size)


def _plan(bundle: Path, metadata: dict[str, bytes]) -> _Plan:
    with tempfile.TemporaryDirectory() as tmp:
        lock_file = Path(tmp, LOCK)
        lock_file.write_bytes(metadata[LOCK])
        try:
            lock = read_lock(lock_file)
        except ModelshelfError as exc:  # a ConfigError (usage) there is bad content here
            raise BundleError(f"{bundle}: {str(exc).replace(str(lock_file), LOCK)}") from None
    try:
        models = json.loads(metadata[MODELS])
    except (ValueError, UnicodeDecodeError) as exc:
        raise BundleError(f"{bundle}: {MODELS} is not valid JSON ({exc})") from None
    version = models.get("version") if isinstance(models, dict) else None
    if version != _BUNDLE_VERSION or not isinstance(models.get("models"), dict):
        raise BundleError(f"{bundle}: {MODELS}: bundle version {version!r} is not supported")
    sizes: dict[str, int] = {}
    owners: dict[str, str] = {}
    for m in lock.models:
        for f in m.files:
            if sizes.setdefault(f.sha256, f.size) != f.size:
                raise BundleError(f"{bundle}: {LOCK} gives sha256 {f.sha256} two sizes")
            owners.setdefault(f.sha256, f"{m.name}/{f.path}")
    return _Plan(lock, models["models"], sizes, owners)


def _import_blob(store: Store, bundle: Path, tar: tarfile.TarFile, member: tarfile.TarInfo,
                 sha256: str, plan: _Plan, result: ImportResult) -> None:
    owner = plan.owners.get(sha256)
    if owner is None:
        raise BundleError(f"{bundle}: unexpected member {member.name!r} (no file in {LOCK} has "
                          "that sha256)")
    if member.size != plan.sizes[sha256]:
        raise BundleError(f"{bundle}: {owner}: blob is {member.size} bytes, {LOCK} says "
                          f"{plan.sizes[sha256]}")
    if store.has_blob(sha256):  # already here (another model, an earlier run): not read at all
        result.blobs_skipped += 1
        return
    stream = tar.extractfile(member)
    assert stream is not None
    store.staging_dir.mkdir(parents=True, exist_ok=True)
    staged = store.staging_dir / f"bundle-{sha256[:16]}-{secrets.token_hex(4)}.part"
    digest = hashlib.sha256()
    try:
        with staged.open("wb") as out:
            remaining = member.size
            while remaining:
                chunk = stream.read(min(CHUNK, remaining))
                if not chunk:
                    raise BundleError(f"{bundle}: {owner}: the tar ends inside its blob")
                digest.update(chunk)
                out.write(chunk)
                remaining -= len(chunk)
            out.flush()
            os.fsync(out.fileno())
        if digest.hexdigest() != sha256:
            raise HashMismatch(f"{bundle}: {owner}: content does not match its sha256 {sha256} "
                               f"(got {digest.hexdigest()}); the bundle is damaged or tampered")
        store.commit_blob(staged, sha256)
    except BaseException:
        staged.unlink(missing_ok=True)
        raise
    result.blobs_written += 1
    result.bytes_written += member.size


def _register(store: Store, bundle: Path, locked: LockedModel, extras: dict[str, Any],
              allow_unsafe: bool, notes: list[str]) -> ModelRecord:
    """Register as ``pull`` does: the bundle's names and labels, this machine's safety verdict."""
    files = locked.files
    info, verdict = assess_stored(store, files)
    metadata = {"source": extras.get("source_metadata") or {}, "bundle": bundle.name,
                **assessment_metadata(info, verdict)}
    record = register(store, NewModel(
        name=locked.name, type=locked.type,
        architecture=str(extras.get("architecture") or "unknown"),
        format=str(extras.get("format") or (info.format if info else "unknown")),
        source=str(extras.get("source") or "bundle"),
        source_ref=str(extras.get("source_ref") or locked.ref), source_url=locked.source_url,
        revision=locked.revision, files=files, metadata=metadata,
        linked=verdict.linkable or allow_unsafe), force=False, ref=f"{bundle.name}: {locked.name}")
    if not record.linked:
        notes.append(f"{record.name}: not linked into views/ or app folders: {verdict.reason}; "
                     f"{trust_hint(record.name)}")
    return record
