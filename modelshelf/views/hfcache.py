"""The standard Hugging Face Hub cache as a view of the store, and as a place to adopt files from.

``huggingface_hub`` (and so transformers/diffusers) looks for a repo in
``<cache>/models--ORG--REPO/``: ``blobs/<etag>`` holds the bytes, ``snapshots/<commit>/<path>`` is
a relative symlink to the blob, ``refs/<revision>`` holds the commit sha a branch or tag resolved
to. The blob is named by the file's normalised ETag: the sha256 for LFS files, the git blob sha1
for small ones (``file_download._normalize_etag``: quotes and ``W/`` stripped). We write exactly
that, with each blob a *hard link* to the store's blob (a symlink when the cache is on another
filesystem), so ``hf_hub_download(..., local_files_only=True)`` finds the files and ``du`` counts
the bytes once. The other way round, :func:`find_in_hf_cache` finds a blob huggingface_hub already
downloaded so a pull hard-links it into the store instead of fetching it again.
"""

from __future__ import annotations

import contextlib
import os
import re
import stat
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from modelshelf.errors import BadContent
from modelshelf.store.linking import place_link, write_atomic

_SHA256 = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True)
class HubCacheLink:
    """What :func:`link_into_hf_cache` made: the snapshot folder and how each blob was placed."""

    repo_dir: Path
    snapshot: Path
    hard_linked: tuple[str, ...]  # paths in repo whose blob shares the store blob's inode
    symlinked: tuple[str, ...]  # paths whose blob is a symlink to the store (other filesystem)


def repo_folder(hf_cache: Path, repo_id: str, repo_type: str = "model") -> Path:
    """``models--ORG--REPO``, as ``file_download.repo_folder_name`` spells it."""
    return Path(hf_cache) / "--".join([f"{repo_type}s", *repo_id.split("/")])


def normalize_etag(etag: str) -> str:
    """The blob file name huggingface_hub derives from an ETag header."""
    return etag.removeprefix("W/").strip('"')


def link_into_hf_cache(hf_cache: Path, repo_id: str, commit_sha: str, revision_name: str | None,
                       files: Iterable[tuple[str, str, Path]]) -> HubCacheLink:
    """Expose store blobs as ``repo_id`` at ``commit_sha`` in the Hub cache; idempotent.

    ``files`` are ``(path_in_repo, etag, blob_path_in_store)``. ``revision_name`` (a branch or tag,
    None for none) gets ``refs/<name>`` pointing at the commit, as huggingface_hub writes it when
    asked for a revision that is not a commit sha.
    """
    checked = [(path, _safe_parts(path), _safe_name(etag), Path(blob))
               for path, etag, blob in files]
    ref_parts = _safe_parts(revision_name) if revision_name else ()
    repo_dir = repo_folder(hf_cache, repo_id)
    snapshot = repo_dir / "snapshots" / _safe_name(commit_sha)
    blobs = repo_dir / "blobs"
    blobs.mkdir(parents=True, exist_ok=True)
    hard, soft = [], []
    for path_in_repo, parts, blob_name, store_blob in checked:
        blob = blobs / blob_name
        if _place_blob(store_blob, blob):
            hard.append(path_in_repo)
        else:
            soft.append(path_in_repo)
        # A relative symlink, as the Hub cache writes them.
        place_link(blob, snapshot.joinpath(*parts), symlink=True)
    if ref_parts and revision_name != commit_sha:
        ref = repo_dir.joinpath("refs", *ref_parts)
        ref.parent.mkdir(parents=True, exist_ok=True)
        if not ref.is_file() or ref.read_text() != commit_sha:
            write_atomic(ref, commit_sha.encode())
    return HubCacheLink(repo_dir, snapshot, tuple(hard), tuple(soft))


def find_in_hf_cache(hf_cache: Path, repo_id: str, etag: str,
                     size: int | None = None) -> Path | None:
    """A complete blob with this ETag in the Hub cache, or None.

    The repo's own ``blobs/`` is looked at first; an LFS ETag is the file's sha256, the same in
    every repo, so other repos' blobs are searched for it too. ``size`` (when known) rejects a
    blob that is not the file. The caller still verifies the bytes while adopting them.
    """
    try:
        name = _safe_name(etag)
    except BadContent:
        return None
    candidates = [repo_folder(hf_cache, repo_id) / "blobs" / name]
    if _SHA256.fullmatch(name) and Path(hf_cache).is_dir():
        candidates += sorted(Path(hf_cache).glob(f"*--*/blobs/{name}"))
    for blob in candidates:
        try:
            st = blob.stat()  # follows a symlinked blob to its target
        except OSError:
            continue
        if stat.S_ISREG(st.st_mode) and (size is None or st.st_size == size):
            return blob
    return None


def forget_blob(hf_cache: Path, store_blob: Path) -> int:
    """Take a store blob that is about to be deleted out of the Hub cache; returns how many
    cache blobs went.

    The cache's ``blobs/<etag>`` entries that are the store blob (a hard link, or a symlink to
    it) and the snapshot pointers showing them are removed, as are snapshot folders left
    empty: otherwise ``rm``/``gc`` would report bytes freed that the cache's hard link keeps
    on disk, or leave dangling snapshot links.
    """
    try:
        target = store_blob.stat()
    except FileNotFoundError:
        return 0
    real = os.path.realpath(store_blob)
    gone = 0
    for blob in sorted(Path(hf_cache).glob("models--*/blobs/*")):
        if target.st_nlink == 1 and not blob.is_symlink():
            continue  # only a symlink can show a blob nothing else hard-links
        if _is_same(blob, target, real):
            _forget_pointers(blob.parent.parent / "snapshots", blob)
            blob.unlink(missing_ok=True)
            gone += 1
    return gone


def _is_same(blob: Path, target: os.stat_result, real: str) -> bool:
    try:
        st = blob.lstat()
    except FileNotFoundError:
        return False
    if stat.S_ISLNK(st.st_mode):
        return os.path.realpath(blob) == real
    return (st.st_dev, st.st_ino) == (target.st_dev, target.st_ino)


def _forget_pointers(snapshots: Path, blob: Path) -> None:
    """Remove snapshot symlinks resolving to ``blob``, then snapshot folders left empty."""
    if not snapshots.is_dir():
        return
    wanted = os.path.realpath(blob)
    for pointer in sorted(snapshots.rglob("*"), reverse=True):  # children before parents
        if pointer.is_symlink():
            if os.path.realpath(pointer) == wanted:
                pointer.unlink(missing_ok=True)
        elif pointer.is_dir():
            with contextlib.suppress(OSError):
                pointer.rmdir()  # only if empty


def _place_blob(store_blob: Path, blob: Path) -> bool:
    """Make ``blob`` the store's bytes; True if hard-linked (same inode), False if symlinked.

    An existing blob with other bytes on disk (huggingface_hub downloaded it itself) is replaced
    by the link, which is what frees the second copy.
    """
    with contextlib.suppress(OSError):
        if os.path.samefile(store_blob, blob) and not blob.is_symlink():
            return True
    return place_link(store_blob, blob, relative_symlink=False) == "hardlink"


def _safe_name(etag: str) -> str:
    name = normalize_etag(etag)
    if not name or "/" in name or name.startswith("."):
        raise BadContent(f"refusing unusable ETag as a blob name: {etag!r}")
    return name


def _safe_parts(path_in_repo: str) -> tuple[str, ...]:
    parts = PurePosixPath(path_in_repo).parts
    if not parts or path_in_repo.startswith("/") or any(p in ("..", ".") for p in parts):
        raise BadContent(f"refusing unsafe path in repo: {path_in_repo!r}")
    return parts


__all__ = ["HubCacheLink", "find_in_hf_cache", "forget_blob", "link_into_hf_cache",
           "normalize_etag", "repo_folder"]
