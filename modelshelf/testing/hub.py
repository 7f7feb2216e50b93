"""A fake Hugging Face Hub on 127.0.0.1 that the real ``huggingface_hub`` client accepts.

It speaks the subset of the Hub HTTP API that ``huggingface_hub`` 2.x calls when pointed at it
(``HF_ENDPOINT`` or ``endpoint=``): model info per revision (``/api/models/R[/revision/REV]``,
with ``?blobs=true`` file metadata), the paginated tree listing (``/api/models/R/tree/REV[/PATH]``)
and file resolution (``/R/resolve/REV/PATH``) with the Hub's headers — ``X-Repo-Commit``, the
git blob id as ``ETag`` for small files, and for LFS files a 302 to another host name (``localhost``
when the Hub is ``127.0.0.1``: both loopback, but a different origin, so "no token to another host"
is really exercised) with ``X-Linked-Etag`` (the sha256) and ``X-Linked-Size``. Errors carry the
``X-Error-Code``/``X-Error-Message`` headers that ``hf_raise_for_status`` turns into the client's
own exception types, with the Hub's quirk of answering 401 (not 404) to anonymous requests for
repos that do not exist or are private. No ``X-Xet-*`` header is ever sent, so the client uses
plain HTTP. LFS bytes are ordinary :class:`LocalServer` files, so Range, ETag and ``faults`` apply.
"""

from __future__ import annotations

import hashlib
import itertools
import re
import ssl
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote, unquote

from modelshelf.server.hubapi import (
    HubFile,
    digest,
    error_headers,
    git_blob_id,
    hub_file,
    is_lfs_path,
    model_info,
    tree_listing,
)
from modelshelf.testing.server import (
    Blob,
    LocalServer,
    Request,
    Response,
    json_response,
    query_value,
)

_REPO = r"(?P<repo>[^/]+/[^/]+)"
_COMMIT = re.compile(r"[0-9a-f]{40}")


@dataclass
class HubRepo:
    """A repository: commits (sha -> tree), refs (branch/tag/``refs/pr/N`` -> sha), access rules."""

    repo_id: str
    commits: dict[str, dict[str, HubFile]] = field(default_factory=dict)
    refs: dict[str, str] = field(default_factory=dict)
    private: bool = False
    gated: bool | str = False  # False, "auto" or "manual" like the Hub's model info
    granted: set[str] = field(default_factory=set)  # may read (private) / accepted (gated)

    def commit_for(self, revision: str) -> str | None:
        if revision in self.refs:
            return self.refs[revision]
        return revision if _COMMIT.fullmatch(revision) and revision in self.commits else None


def make_hub_file(path: str, data: bytes | Path, lfs: bool | None = None) -> HubFile:
    size, sha256, blob_id = digest(data)
    return hub_file(path, data, size, sha256, lfs=is_lfs_path(path, size) if lfs is None else lfs,
                    blob_id=blob_id)


def _error(status: int, code: str | None, message: str, commit: str | None = None) -> Response:
    return json_response({"error": message}, status, error_headers(code, message, commit))


class FakeHub(LocalServer):
    """``with FakeHub() as hub: hub.add_repo("org/m", {"config.json": b"{}"}); ... hub.url``.

    ``cdn_host`` is the host name LFS redirects point to; keep it different from ``host``.
    ``tree_page_size`` is small in tests that check pagination is followed.
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 0, *, cdn_host: str = "localhost",
                 tree_page_size: int = 1000, tls: ssl.SSLContext | None = None) -> None:
        super().__init__(host, port, tls=tls)
        self.cdn_host = cdn_host
        self.tree_page_size = tree_page_size
        self.repos: dict[str, HubRepo] = {}
        self.tokens: set[str] = set()  # every token the Hub knows; others get 401
        self.outage: int | None = None  # e.g. 503: every API and resolve answer is that status
        self._counter = itertools.count(1)
        self.add_route("GET", rf"/api/models/{_REPO}(?:/revision/(?P<rev>[^/]+))?", self._info)
        self.add_route("GET", rf"/api/models/{_REPO}/tree/(?P<rev>[^/]+)(?:/(?P<path>.+))?",
                       self._tree)
        self.add_route("GET", rf"/{_REPO}/resolve/(?P<rev>[^/]+)/(?P<path>.+)", self._resolve)

    # -- building repositories ------------------------------------------------------------------
    def add_repo(self, repo_id: str, files: Mapping[str, bytes | Path], *, private: bool = False,
                 gated: bool | str = False, tokens: tuple[str, ...] = (),
                 lfs: Mapping[str, bool] | None = None) -> str:
        """Create a repo whose ``main`` holds ``files``; returns the commit sha.

        ``tokens`` may read it (private) or have accepted its licence (gated); they become known
        to the Hub. ``lfs`` overrides the LFS-or-not guess per path.
        """
        self.repos[repo_id] = HubRepo(repo_id, private=private, gated=gated, granted=set(tokens))
        self.tokens.update(tokens)
        return self.commit(repo_id, files, lfs=lfs)

    def commit(self, repo_id: str, files: Mapping[str, bytes | Path], *, branch: str = "main",
               delete: tuple[str, ...] = (), lfs: Mapping[str, bool] | None = None) -> str:
        """A new commit on ``branch`` (created from ``main`` if new); returns its sha."""
        repo = self.repos[repo_id]
        parent = repo.refs.get(branch) or repo.refs.get("main")
        tree = dict(repo.commits[parent]) if parent else {}
        for path in delete:
            tree.pop(path, None)
        for path, data in files.items():
            tree[path] = make_hub_file(path, data, (lfs or {}).get(path))
            if tree[path].lfs:
                self.add_file(f"/lfs/{tree[path].sha256}", data, etag=f'"{tree[path].sha256}"')
        seed = f"{repo_id}\0{parent}\0{next(self._counter)}\0" + "\0".join(sorted(tree))
        sha = hashlib.sha1(seed.encode()).hexdigest()
        repo.commits[sha] = tree
        repo.refs[branch] = sha
        return sha

    def tag(self, repo_id: str, name: str, revision: str = "main") -> str:
        repo = self.repos[repo_id]
        sha = repo.commit_for(revision)
        if sha is None:
            raise ValueError(f"no revision {revision} in {repo_id}")
        repo.refs[name] = sha
        return sha

    def open_pr(self, repo_id: str, files: Mapping[str, bytes | Path], number: int = 1) -> str:
        """``refs/pr/N``: a commit on top of ``main`` that no branch points to."""
        return self.commit(repo_id, files, branch=f"refs/pr/{number}")

    def file(self, repo_id: str, path: str, revision: str = "main") -> HubFile:
        repo = self.repos[repo_id]
        return repo.commits[repo.commit_for(revision) or ""][path]

    # -- HTTP handlers ----------------------------------------------------------------------------
    def _access(self, request: Request, repo_id: str, reading_bytes: bool) -> Response | None:
        """The Hub's auth answers, or None when the request may proceed."""
        if self.outage is not None:
            return _error(self.outage, None, "Service unavailable")
        token = request.header("Authorization").removeprefix("Bearer ").strip() or None
        if token is not None and token not in self.tokens:
            return _error(401, None, "Invalid credentials in Authorization header")
        repo = self.repos.get(repo_id)
        if repo is None or (repo.private and token not in repo.granted):
            # Anonymous callers get 401 so that private repos' existence does not leak.
            return _error(401 if token is None else 404, "RepoNotFound", "Repository not found")
        if repo.gated and reading_bytes and token not in repo.granted:
            message = (f"Access to model {repo_id} is restricted. You must have access to it "
                       "and be authenticated to access it. Please log in.")
            return _error(401 if token is None else 403, "GatedRepo", message)
        return None

    def _repo_at(self, request: Request,
                 reading_bytes: bool = False) -> tuple[HubRepo, str] | Response:
        """The repo and commit a request names, or the Hub's error answer."""
        repo_id = request.match["repo"]
        denied = self._access(request, repo_id, reading_bytes)
        if denied:
            return denied
        repo = self.repos[repo_id]
        raw = request.match["rev"]
        revision = unquote(raw) if raw else "main"
        sha = repo.commit_for(revision)
        if sha is None:
            return _error(404, "RevisionNotFound", f"Invalid rev id: {revision}")
        return repo, sha

    def _info(self, request: Request) -> Response:
        found = self._repo_at(request)
        if isinstance(found, Response):
            return found
        repo, sha = found
        repo_id = repo.repo_id
        blobs = (query_value(request, "blobs") or "").lower() == "true"
        return json_response(model_info(repo_id, sha, repo.commits[sha].values(), blobs=blobs,
                                        private=repo.private, gated=repo.gated))

    def _tree(self, request: Request) -> Response:
        found = self._repo_at(request)
        if isinstance(found, Response):
            return found
        repo, sha = found
        prefix = unquote(request.match["path"] or "").strip("/")
        recursive = (query_value(request, "recursive") or "").lower() == "true"
        entries = tree_listing(repo.commits[sha], prefix, recursive)
        if entries is None:
            return _error(404, "EntryNotFound", f"{prefix} does not exist on \"{sha}\"", sha)
        start = int(query_value(request, "cursor") or 0)
        page = entries[start:start + self.tree_page_size]
        headers = {}
        if start + self.tree_page_size < len(entries):
            host = request.headers.get("Host", f"{self.host}:{self.port}")
            query = "&".join(f"{k}={quote(v[0])}" for k, v in request.query.items()
                             if k != "cursor")
            nxt = f"http://{host}{request.path}?{query}&cursor={start + self.tree_page_size}"
            headers["Link"] = f'<{nxt}>; rel="next"'
        return json_response(page, headers=headers)

    def _resolve(self, request: Request) -> Response:
        found = self._repo_at(request, reading_bytes=True)
        if isinstance(found, Response):
            return found
        repo, sha = found
        path = unquote(request.match["path"])
        hub_file = repo.commits[sha].get(path)
        if hub_file is None:
            return _error(404, "EntryNotFound", "Entry not found", sha)
        headers = {"X-Repo-Commit": sha}
        if not hub_file.lfs:
            blob = Blob(hub_file.data, f'"{hub_file.blob_id}"', content_type="text/plain")
            return Response(headers=headers, blob=blob)
        location = self.url_for(f"/lfs/{hub_file.sha256}", host=self.cdn_host)
        headers.update({"Location": location, "ETag": f'"{hub_file.sha256}"',
                        "X-Linked-Etag": f'"{hub_file.sha256}"',
                        "X-Linked-Size": str(hub_file.size), "Content-Type": "text/plain"})
        return Response(302, b"", headers)


__all__ = ["FakeHub", "HubFile", "HubRepo", "git_blob_id", "make_hub_file"]
