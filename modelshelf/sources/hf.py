"""The Hugging Face Hub source: ``hf:ORG/REPO[@REV][/PATH]`` -> files at one commit.

``huggingface_hub`` speaks the protocol (auth, the HTTP client, pagination, the Hub's error codes)
through :mod:`modelshelf.sources.hf_protocol`, which asks for the revision's commit sha and the
tree listing with each file's size, git blob id and LFS sha256 the way ``HfApi`` does, without
importing ``HfApi`` (~80 ms); here its answers become a :class:`Resolution`. The bytes are *not*
fetched here: every file becomes a ``/resolve/<commit>/`` URL for modelshelf's multi-connection
engine, pinned to the commit so a branch moving mid-pull cannot mix two versions, and carrying the
sha256 the Hub publishes for LFS files. Each file's ETag (sha256 for LFS, git blob id otherwise)
rides along because it names the blob in the standard Hub cache (:mod:`modelshelf.views.hfcache`).
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterable, Iterator
from pathlib import PurePosixPath
from urllib.parse import quote

from huggingface_hub.utils import filter_repo_objects

from modelshelf.config import DEFAULT_ENDPOINTS, Settings
from modelshelf.errors import BadContent, EntryNotFound, OfflineError, UsageError
from modelshelf.secrets import Credentials
from modelshelf.sources.base import (
    HubLocation,
    Ref,
    RemoteFile,
    Resolution,
    ResolveOptions,
    SourceName,
)
from modelshelf.sources.hf_errors import hub_answer, hub_errors
from modelshelf.sources.hf_protocol import HubClient, Tree, TreeFile
from modelshelf.sources.hf_token import hub_token
from modelshelf.sources.url import bearer

DEFAULT_REVISION = "main"  # what huggingface_hub asks for (and records in refs/) when given none

_TLS_LOCK = threading.Lock()


@contextlib.contextmanager
def _hub_tls(verify_ssl: bool) -> Iterator[None]:
    """Honour ``[sources.hf] verify_ssl = false`` (a mirror with a private CA or self-signed cert)
    for our own Hub calls only.

    huggingface_hub has one process-wide HTTP client and offers only a process-wide factory to
    change it. So the unverified factory is installed for the duration of the ``with`` block
    and the one that was there before (the default, or one the embedding program set) is put
    back afterwards, which also closes our unverified client: a later Hub call in the same
    process verifies certificates again. The lock keeps two such blocks from restoring each
    other's factory.
    """
    if verify_ssl:
        yield
        return
    import httpx2
    from huggingface_hub.utils import _http, set_client_factory

    with _TLS_LOCK:
        previous = _http._GLOBAL_CLIENT_FACTORY
        set_client_factory(lambda: httpx2.Client(
            event_hooks={"request": [_http.hf_request_event_hook]}, follow_redirects=True,
            timeout=None, verify=False))
        try:
            yield
        finally:
            set_client_factory(previous)


def resolve(ref: Ref, settings: Settings, options: ResolveOptions) -> Resolution:
    """Resolve a Hub reference to concrete files at the commit its revision points to now."""
    if ref.repo_id is None:
        raise UsageError(f"{ref.raw}: not a Hugging Face reference (expected hf:ORG/REPO)")
    if options.offline or settings.offline:
        raise OfflineError(f"{ref.raw}: offline mode is on and it is not in the store")
    source = settings.source("hf")
    endpoint = (source.endpoint or DEFAULT_ENDPOINTS["hf"]).rstrip("/")
    token = hub_token(options, source)
    revision = _requested_revision(ref, options)
    hub = HubClient(endpoint, token, source.timeout_seconds)
    with _hub_tls(source.verify_ssl), \
            hub_errors(ref.raw, ref.repo_id, endpoint, revision, token is not None):
        with hub_answer(ref.raw, "model info"):
            info = hub.model_info(ref.repo_id, revision)
        commit = info.commit
        chosen, whole = _select(hub, ref, commit, options)
        if info.gated and chosen:
            # Listings of gated repos are public; only fetching bytes tells whether the licence
            # was accepted, so ask for one file's metadata now rather than fail mid-download.
            hub.check_file_access(ref.repo_id, commit, chosen[0].path)
    credentials = Credentials.for_url(bearer(token), endpoint)
    files = tuple(_remote_file(endpoint, ref.repo_id, commit, f, credentials) for f in chosen)
    return Resolution(
        ref=ref.raw, source=SourceName.HF, name=_default_name(ref.repo_id, ref.path, whole),
        files=files, revision=commit,
        source_url=f"{endpoint}/{ref.repo_id}" + (f"/blob/{commit}/{ref.path}" if ref.path else ""),
        metadata={
            "repo_id": ref.repo_id,
            "requested_revision": revision or DEFAULT_REVISION,
            "commit": commit,
            "endpoint": endpoint,
            "path": ref.path,
            "private": info.private,
            "gated": info.gated,
            "etags": {f.path: f.etag for f in files},
        },
        is_repo=whole,
        hub=HubLocation(ref.repo_id, revision or DEFAULT_REVISION),
    )


def _requested_revision(ref: Ref, options: ResolveOptions) -> str | None:
    if ref.revision and options.revision and ref.revision != options.revision:
        raise UsageError(f"{ref.raw}: revision {ref.revision} in the reference and "
                         f"--revision {options.revision} disagree")
    return ref.revision or options.revision


def _select(hub: HubClient, ref: Ref, commit: str,
            options: ResolveOptions) -> tuple[list[TreeFile], bool]:
    """The files the reference names, and whether that is a folder (repo or subfolder)."""
    if ref.path is None:
        return _filtered(_tree(hub, ref, commit, None, recursive=True).files, ref, options), True
    path = ref.path.strip("/")
    parent = str(PurePosixPath(path).parent)
    listing = _tree(hub, ref, commit, None if parent == "." else parent, recursive=False)
    if path in listing.folders:
        return _filtered(_tree(hub, ref, commit, path, recursive=True).files, ref, options), True
    for entry in listing.files:
        if entry.path == path:
            return [entry], False
    raise EntryNotFound(f"{ref.raw}: no file {path} in {ref.repo_id} at {commit[:12]}")


def _tree(hub: HubClient, ref: Ref, commit: str, folder: str | None, recursive: bool) -> Tree:
    """One tree listing, read whole and each entry's fields checked, so a malformed listing fails
    here as BadContent and not later, as a TypeError deep in matching or downloading."""
    assert ref.repo_id is not None
    with hub_answer(ref.raw, "tree listing"):
        return hub.tree(ref.repo_id, commit, folder, recursive=recursive)


def _filtered(files: Iterable[TreeFile], ref: Ref, options: ResolveOptions) -> list[TreeFile]:
    """``--include``/``--exclude`` with huggingface_hub's own matcher (``*`` crosses ``/``)."""
    chosen = list(filter_repo_objects(files, allow_patterns=list(options.include) or None,
                                      ignore_patterns=list(options.exclude) or None,
                                      key=lambda f: f.path))
    if not chosen:
        patterns = options.pattern_flags()
        raise EntryNotFound(f"{ref.raw}: no file matches {patterns}" if patterns
                            else f"{ref.raw}: there are no files at this revision")
    return chosen


def _remote_file(endpoint: str, repo_id: str, commit: str, entry: TreeFile,
                 credentials: Credentials) -> RemoteFile:
    if entry.path.startswith("/") or ".." in PurePosixPath(entry.path).parts:
        raise BadContent(f"{repo_id}: the Hub listed an unsafe path {entry.path!r}")
    sha256 = entry.lfs_sha256
    return RemoteFile(
        path=entry.path,  # path inside the repo: the Hub cache and folder views need it whole
        url=f"{endpoint}/{repo_id}/resolve/{commit}/{quote(entry.path)}",
        size=entry.size,
        sha256=sha256,
        credentials=credentials,
        etag=sha256 or entry.blob_id,
        git_blob_id=None if sha256 else entry.blob_id,
    )


def _default_name(repo_id: str, path: str | None, whole: bool) -> str:
    if path is None:
        return repo_id.split("/")[-1]
    leaf = PurePosixPath(path.strip("/"))
    return leaf.name if whole else leaf.stem
