"""The Hugging Face Hub's HTTP protocol, as plain data: what ``huggingface_hub`` reads.

Shared by the LAN mirror (``serve --mirror``) and the test suite's FakeHub, so both answer the
client the same way: file descriptions with the identifiers the Hub publishes (git blob id,
LFS pointer, sha256), the model-info and tree-listing JSON, and the error headers
(``X-Error-Code``/``X-Error-Message``) that ``hf_raise_for_status`` turns into the client's own
exception types. No I/O happens here beyond hashing a file handed in.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

LFS_SUFFIXES = (".safetensors", ".bin", ".gguf", ".pt", ".pth", ".ckpt", ".onnx", ".msgpack",
                ".h5", ".pkl", ".zip")
LFS_MIN_SIZE = 10 * 2**20  # the Hub's git rejects plain files above 10 MB
CREATED = "2024-01-01T00:00:00.000Z"
_HASH_CHUNK = 4 * 2**20


@dataclass(frozen=True)
class HubFile:
    """One file of one commit, with the identifiers the Hub publishes for it."""

    path: str
    data: bytes | Path
    size: int
    sha256: str
    blob_id: str  # git blob sha1 (of the LFS pointer for LFS files), the tree's "oid"
    lfs: bool
    pointer_size: int

    @property
    def etag(self) -> str:
        """What the Hub sends as (linked) ETag — and so the Hub cache's blob file name."""
        return self.sha256 if self.lfs else self.blob_id

    def tree_entry(self) -> dict[str, object]:
        entry: dict[str, object] = {"type": "file", "oid": self.blob_id, "size": self.size,
                                    "path": self.path}
        if self.lfs:
            entry["lfs"] = {"oid": self.sha256, "size": self.size, "pointerSize": self.pointer_size}
        return entry

    def sibling(self, blobs: bool) -> dict[str, object]:
        if not blobs:
            return {"rfilename": self.path}
        entry: dict[str, object] = {"rfilename": self.path, "size": self.size,
                                    "blobId": self.blob_id}
        if self.lfs:
            entry["lfs"] = {"sha256": self.sha256, "size": self.size,
                            "pointerSize": self.pointer_size}
        return entry


def git_blob_id(data: bytes) -> str:
    """The sha1 git gives a blob: ``sha1(b"blob <size>\\0" + data)``."""
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def lfs_pointer(sha256: str, size: int) -> bytes:
    """The git-lfs pointer file the Hub's git stores in place of a large file."""
    return f"version https://git-lfs.github.com/spec/v1\noid sha256:{sha256}\nsize {size}\n".encode()


def is_lfs_path(path: str, size: int) -> bool:
    """The Hub's own rule of thumb: weight-file suffixes and anything over 10 MB go to LFS."""
    return path.endswith(LFS_SUFFIXES) or size >= LFS_MIN_SIZE


def hub_file(path: str, data: bytes | Path, size: int, sha256: str, *, lfs: bool,
             blob_id: str | None = None) -> HubFile:
    """A file as the Hub describes it; an LFS file's blob id is its pointer's, so its bytes are
    never re-read, and a small file's is given (the Hub's ETag) or computed from ``data``."""
    if lfs:
        pointer = lfs_pointer(sha256, size)
        return HubFile(path, data, size, sha256, git_blob_id(pointer), True, len(pointer))
    if blob_id is None:
        blob_id = git_blob_id(data if isinstance(data, bytes) else data.read_bytes())
    return HubFile(path, data, size, sha256, blob_id, False, 0)


def digest(data: bytes | Path) -> tuple[int, str, str]:
    """(size, sha256, git blob id) streaming over files so large shards never sit in memory."""
    if isinstance(data, bytes):
        return len(data), hashlib.sha256(data).hexdigest(), git_blob_id(data)
    size = data.stat().st_size
    sha256, sha1 = hashlib.sha256(), hashlib.sha1(b"blob %d\0" % size)
    with data.open("rb") as fh:
        while chunk := fh.read(_HASH_CHUNK):
            sha256.update(chunk)
            sha1.update(chunk)
    return size, sha256.hexdigest(), sha1.hexdigest()


def error_headers(code: str | None, message: str, commit: str | None = None) -> dict[str, str]:
    """The headers ``hf_raise_for_status`` reads to pick the client's exception type."""
    headers = {"X-Error-Message": message}
    if code:
        headers["X-Error-Code"] = code
    if commit:
        headers["X-Repo-Commit"] = commit
    return headers


def model_info(repo_id: str, sha: str, files: Iterable[HubFile], *, blobs: bool,
               private: bool = False, gated: bool | str = False) -> dict[str, Any]:
    """``GET /api/models/{repo}[/revision/{rev}]``: what ``HfApi.model_info`` parses."""
    tree = list(files)
    return {
        "_id": hashlib.sha1(repo_id.encode()).hexdigest()[:24],
        "id": repo_id, "modelId": repo_id, "author": repo_id.split("/")[0], "sha": sha,
        "lastModified": CREATED, "createdAt": CREATED, "private": private,
        "gated": gated, "disabled": False, "downloads": 0, "likes": 0, "tags": [],
        "siblings": [f.sibling(blobs) for f in sorted(tree, key=lambda f: f.path)],
        "usedStorage": sum(f.size for f in tree),
    }


def tree_listing(tree: Mapping[str, HubFile], prefix: str,
                 recursive: bool) -> list[dict[str, object]] | None:
    """The Hub's tree entries under ``prefix`` (folders first), or None if it is no folder."""
    base = f"{prefix}/" if prefix else ""
    under = sorted(p for p in tree if p.startswith(base))
    if prefix and not under:
        return None
    folders: set[str] = set()
    files: list[dict[str, object]] = []
    for path in under:
        rest = path[len(base):].split("/")
        depth = len(rest) if recursive else 1
        folders.update(base + "/".join(rest[:i]) for i in range(1, min(depth, len(rest) - 1) + 1))
        if recursive or len(rest) == 1:
            files.append(tree[path].tree_entry())
    dirs = [{"type": "directory", "oid": hashlib.sha1(d.encode()).hexdigest(), "size": 0,
             "path": d} for d in sorted(folders)]
    return dirs + files
