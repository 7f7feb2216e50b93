"""The team store in the pull pipeline: remote first, then the source, then upload.

A reference whose manifest is in the remote store is pulled from it without asking the source
when the reference names fixed content (a commit, a Civitai version, a URL); a branch is
resolved at the source as usual (it may have moved) and only falls back to the manifest's
revision when the source cannot be reached. Either way every file whose sha256 is known and
whose blob the remote holds comes from the remote through the transfer engine (presigned URL,
segmented ranged GETs, sha256 checked as it streams). After a pull from the source, its blobs
and manifest are pushed (``[remote] push_on_pull``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from modelshelf.config import Settings
from modelshelf.errors import DownloadError, HashMismatch, ModelshelfError, NetworkError
from modelshelf.remote import READ_PIECE, RefManifest, RemoteStore
from modelshelf.secrets import NO_CREDENTIALS
from modelshelf.sources import traits
from modelshelf.sources.base import RemoteFile, Resolution, ResolveOptions, SourceName
from modelshelf.store import ModelRecord, Store
from modelshelf.transfer import NetworkPolicy


def remote_store(settings: Settings) -> RemoteStore | None:
    """The configured team store, or None (none configured, or offline mode: the remote is a
    server too, and offline means no connection at all)."""
    if not settings.remote.url or settings.offline:
        return None
    return RemoteStore(settings.remote)


@dataclass
class TeamRoute:
    """The remote store's part in one pull of reference ``key``: where its bytes come from,
    what to say about it, and the upload afterwards. A remote that fails (down, refused) is a
    note, never a failed pull the source could have served."""

    remote: RemoteStore | None
    key: str
    push_on_pull: bool = True
    manifest: RefManifest | None = None
    notes: list[str] = field(default_factory=list)
    all_from_remote: bool = False  # every byte came from the remote: nothing to push back

    selective: bool = False  # --include/--exclude: the pull holds part of the reference

    @classmethod
    def open(cls, settings: Settings, key: str, *, networked: bool, force: bool,
             selective: bool) -> TeamRoute:
        route = cls(None, key, settings.remote.push_on_pull, selective=selective)
        try:  # boto3 missing is a note too: the source can still serve the pull
            route.remote = remote_store(settings) if networked else None
        except ModelshelfError as exc:
            route.notes.append(f"remote store skipped: {exc}")
        if route.remote is not None and not force:
            route.manifest = route._guarded(lambda r: r.read_manifest(key))
        return route

    def resolve(self, immutable: bool, patterns: ResolveOptions,
                from_source: Callable[[], Resolution]) -> Resolution:
        """The remote's manifest for fixed content; otherwise the source, with each file the
        remote holds read from there, and the manifest again if the source is unreachable."""
        remote, manifest = self.remote, self.manifest
        if remote is not None and manifest is not None and immutable:
            self.all_from_remote = True
            self.notes.append(f"from the remote store {remote.url}")
            return resolution_of(manifest, remote, patterns)
        try:
            resolution = from_source()
        except NetworkError as exc:
            if remote is None or manifest is None:
                raise
            self.all_from_remote = True
            self.notes.append(f"{exc}; revision {manifest.revision} from the remote store")
            return resolution_of(manifest, remote, patterns)
        if remote is None:
            return resolution
        routed = self._guarded(lambda r: route_to_remote(resolution, r, manifest))
        if routed is None or not routed[1]:
            return resolution
        self.all_from_remote = routed[1] == len(resolution.files)
        self.notes.append(f"{routed[1]} of {len(resolution.files)} files from the remote store")
        return routed[0]

    def fallback(self, exc: ModelshelfError) -> bool:
        """Whether a failed fetch should be tried again from the source alone: the remote was
        involved and its copy was damaged or unreadable (the sha256 check caught it)."""
        if self.remote is None or not isinstance(exc, HashMismatch | DownloadError | NetworkError):
            return False
        self.notes.append(f"the remote store's copy failed ({exc}); fetched from the source")
        self.remote, self.all_from_remote = None, False
        return True

    def push(self, store: Store, record: ModelRecord) -> None:
        """After a pull: upload what came from the source, and the manifest when the remote
        lacks this revision's, for the next machine. A selective pull uploads its blobs but
        no manifest: one naming part of a reference would answer for all of it."""
        manifest = self.manifest
        current = manifest is not None and manifest.revision == record.revision
        if self.remote is None or not self.push_on_pull or (self.all_from_remote and current):
            return
        report = self._guarded(lambda r: push_record(store, r, record,
                                                     manifest=not self.selective))
        if report is not None and report.uploaded:
            self.notes.append(f"pushed {report.uploaded} blobs to {self.url}")

    def tune(self, url: str, policy: NetworkPolicy) -> NetworkPolicy:
        """Reads from the remote in large pieces (see :data:`READ_PIECE`); others unchanged."""
        if self.remote is not None and self.remote.signed(url):
            return replace(policy, min_piece=max(policy.min_piece, READ_PIECE))
        return policy

    @property
    def url(self) -> str:
        return self.remote.url if self.remote is not None else ""

    def _guarded(self, call: Callable[[RemoteStore], Any]) -> Any:
        assert self.remote is not None
        try:
            return call(self.remote)
        except ModelshelfError as exc:
            self.notes.append(f"remote store skipped: {exc}")
            self.remote = None
            return None


def manifest_of(record: ModelRecord) -> RefManifest:
    return RefManifest(
        ref=record.source_ref, source=record.source, name=record.name, revision=record.revision,
        files=record.files,
        type=record.type, architecture=record.architecture, source_url=record.source_url,
        metadata={"source": record.metadata.get("source", {})})


def resolution_of(manifest: RefManifest, remote: RemoteStore,
                  patterns: ResolveOptions) -> Resolution:
    """A manifest as the source would have resolved it (the files ``--include``/``--exclude``
    keep), every file read from the remote."""
    source = SourceName(manifest.source)
    return Resolution(
        ref=manifest.ref, source=source, name=manifest.name,
        files=tuple(RemoteFile(f.path, remote.blob_url(f.sha256), f.size, f.sha256)
                    for f in manifest.files if patterns.keeps(f.path)),
        revision=manifest.revision, source_url=manifest.source_url, type_hint=manifest.type,
        architecture_hint=None if manifest.architecture == "unknown" else manifest.architecture,
        metadata=_source_metadata(manifest), is_repo=traits(source).selectable)


def route_to_remote(resolution: Resolution, remote: RemoteStore,
                    manifest: RefManifest | None) -> tuple[Resolution, int]:
    """The source's resolution with each file the remote holds read from there instead.

    A file's digest comes from the source, or from the manifest of the same revision (the Hub
    publishes no sha256 for small files; the machine that pushed them hashed them). Returns the
    resolution and how many files were rerouted.
    """
    known = ({f.path: f.sha256 for f in manifest.files}
             if manifest is not None and manifest.revision == resolution.revision else {})
    routed, files = 0, []
    for f in resolution.files:
        digest = f.sha256 or known.get(f.path)
        if f.url is not None and digest and remote.has_blob(digest):
            f = replace(f, url=remote.blob_url(digest), sha256=digest, credentials=NO_CREDENTIALS)
            routed += 1
        files.append(f)
    return replace(resolution, files=tuple(files)), routed


@dataclass
class PushReport:
    name: str
    uploaded: int = 0  # blobs written
    present: int = 0  # blobs the remote already held
    bytes_uploaded: int = 0


def push_record(store: Store, remote: RemoteStore, record: ModelRecord, *,
                manifest: bool = True) -> PushReport:
    """Upload a registered model's missing blobs, then its manifest (last: a manifest names
    only blobs that are there)."""
    report = PushReport(record.name)
    for sha256, size in {f.sha256: f.size for f in record.files}.items():
        if remote.upload_blob(store.blob_path(sha256), sha256):
            report.uploaded += 1
            report.bytes_uploaded += size
        else:
            report.present += 1
    if manifest:
        remote.write_manifest(manifest_of(record))
    return report


def _source_metadata(manifest: RefManifest) -> dict[str, Any]:
    source = manifest.metadata.get("source", {})
    return dict(source) if isinstance(source, dict) else {}


__all__ = ["PushReport", "TeamRoute", "manifest_of", "push_record", "remote_store", "resolution_of",
           "route_to_remote"]
