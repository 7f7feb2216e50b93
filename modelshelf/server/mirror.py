"""``modelshelf serve --mirror``: the part of the Hub HTTP API ``huggingface_hub`` uses, from the store.

Any machine on the LAN sets ``HF_ENDPOINT=http://shelf-host:PORT`` and ``hf_hub_download``,
``snapshot_download``, transformers and diffusers fetch from here: model info
(``/api/models/{repo}[/revision/{rev}]``), the tree listing (``/api/models/{repo}/tree/{rev}``)
and ``/{repo}/resolve/{rev}/{path}`` (HEAD and GET, with ``Range``) carrying the headers the
client reads (``X-Repo-Commit``, ``ETag``, and for LFS files ``X-Linked-Etag``/``X-Linked-Size``).
LFS bytes are served directly (no redirect to a CDN): the blob file goes out with ``sendfile``.

A stdlib ``ThreadingHTTPServer`` (``server/threads.py``): one thread per connection is plenty
for a LAN, and the core install gains no dependency. With ``[mirror] tokens`` configured every
request must carry one of them as ``Authorization: Bearer``; the mirror's own Hub token (for
pull-through) never leaves it, and private or gated upstream repos go only to a client whose
token a ``[[mirror.grants]]`` entry gives them to.
"""

from __future__ import annotations

import hmac
import json
import re
from collections.abc import Callable, Sequence
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from modelshelf.api import Shelf
from modelshelf.config import MirrorGrant
from modelshelf.errors import (
    AuthError,
    EntryNotFound,
    GatedRepo,
    ModelshelfError,
    OfflineError,
    RemoteNotFound,
    RepoNotFound,
    RevisionNotFound,
    UnsafeFile,
)
from modelshelf.server.catalogue import REPO_ID, Catalogue, Snapshot
from modelshelf.server.hubapi import HubFile, error_headers, model_info, tree_listing
from modelshelf.server.threads import KeepAliveHandler, QuietHTTPServer, Serving

_REPO = r"(?P<repo>[^/]+/[^/]+)"
_RANGE = re.compile(r"bytes=(\d*)-(\d*)")
# The client's exception types, picked by these codes (see huggingface_hub's hf_raise_for_status).
_ERRORS: tuple[tuple[type[ModelshelfError], int, str | None], ...] = (
    (RepoNotFound, 404, "RepoNotFound"), (RevisionNotFound, 404, "RevisionNotFound"),
    (EntryNotFound, 404, "EntryNotFound"), (RemoteNotFound, 404, "EntryNotFound"),
    (GatedRepo, 403, "GatedRepo"), (UnsafeFile, 403, None), (AuthError, 401, None),
    (OfflineError, 503, None),
)


class MirrorServer(Serving):
    """``with MirrorServer(shelf) as mirror: ... mirror.url`` (port 0: any free port), or
    ``serve_forever()`` in the foreground."""

    def __init__(self, shelf: Shelf, host: str = "127.0.0.1", port: int = 0, *,
                 tokens: Sequence[str] | None = None) -> None:
        self.catalogue = Catalogue(shelf)
        self.tokens = tuple(t.reveal() for t in shelf.settings.mirror_tokens) \
            if tokens is None else tuple(tokens)
        self.grants = shelf.settings.mirror_grants
        self._httpd = _HTTPServer((host, port), _Handler)
        self._httpd.mirror = self

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    def admit(self, authorization: str) -> tuple[MirrorGrant, ...] | None:
        """Who asks: None to refuse; else the grants their token holds (private/gated repos they
        may see). No tokens or grants configured: everyone, with no grant. Constant-time
        compares, every configured token tried."""
        given = authorization.removeprefix("Bearer ").strip().encode()
        grants = tuple(g for g in self.grants if hmac.compare_digest(given, g.token.reveal().encode()))
        listed = [hmac.compare_digest(given, t.encode()) for t in self.tokens]
        if grants or any(listed) or not (self.tokens or self.grants):
            return grants
        return None


class _HTTPServer(QuietHTTPServer):
    mirror: MirrorServer


class _Answer(Exception):
    """An HTTP error answer, raised from anywhere in a handler."""

    def __init__(self, status: int, code: str | None, message: str,
                 commit: str | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.commit = status, code, commit


class _Handler(KeepAliveHandler):
    server: _HTTPServer
    _grants: tuple[MirrorGrant, ...] = ()  # the asking client's, set per request

    def _dispatch(self) -> None:
        """GET and HEAD: what the Hub client sends."""
        head = self.command == "HEAD"
        url = urlsplit(self.path)
        query = parse_qs(url.query)
        routes: tuple[tuple[str, Callable[[re.Match[str], dict[str, list[str]], bool], None]], ...] = (
            (rf"/api/models/{_REPO}/tree/(?P<rev>[^/]+)(?:/(?P<path>.+))?", self._tree),
            (rf"/api/models/{_REPO}(?:/revision/(?P<rev>[^/]+))?", self._info),
            (rf"/{_REPO}/resolve/(?P<rev>[^/]+)/(?P<path>.+)", self._resolve),
        )
        try:
            grants = self.server.mirror.admit(self.headers.get("Authorization", ""))
            if grants is None:
                raise _Answer(401, None, "Invalid credentials in Authorization header")
            self._grants = grants
            for pattern, handler in routes:
                match = re.fullmatch(pattern, url.path)
                if match:
                    handler(match, query, head)
                    return
            raise _Answer(404, None, f"{url.path}: not a Hub API route this mirror answers")
        except _Answer as answer:
            self._error(answer, head)
        except ModelshelfError as exc:
            status, code = next(((s, c) for kind, s, c in _ERRORS if isinstance(exc, kind)),
                                (502, None))
            self._error(_Answer(status, code, str(exc)), head)
        except Exception as exc:  # a bug: an answer, not a dropped connection
            self._error(_Answer(500, None, f"internal error: {type(exc).__name__}"), head)

    do_GET = do_HEAD = _dispatch

    # -- routes ------------------------------------------------------------------------------------
    def _snapshot(self, match: re.Match[str], path: str | None = None) -> Snapshot:
        repo_id = unquote(match["repo"])
        if not REPO_ID.fullmatch(repo_id):
            raise _Answer(404, "RepoNotFound", f"{repo_id}: not a repo id")
        revision = unquote(match["rev"] or "main")
        may_see = any(g.covers(repo_id) for g in self._grants)
        return self.server.mirror.catalogue.fetch(repo_id, revision, path, private_ok=may_see)

    def _info(self, match: re.Match[str], query: dict[str, list[str]], head: bool) -> None:
        snap = self._snapshot(match)
        blobs = query.get("blobs", [""])[0].lower() == "true"
        self._json(model_info(snap.repo_id, snap.commit, snap.files.values(), blobs=blobs), head)

    def _tree(self, match: re.Match[str], query: dict[str, list[str]], head: bool) -> None:
        snap = self._snapshot(match)
        prefix = unquote(match["path"] or "").strip("/")
        recursive = query.get("recursive", [""])[0].lower() == "true"
        entries = tree_listing(snap.files, prefix, recursive)
        if entries is None:
            raise _Answer(404, "EntryNotFound", f'{prefix} does not exist on "{snap.commit}"',
                          snap.commit)
        self._json(entries, head)

    def _resolve(self, match: re.Match[str], query: dict[str, list[str]], head: bool) -> None:
        path = unquote(match["path"])
        snap = self._snapshot(match, path)
        hub_file = snap.files[path]
        headers = {"X-Repo-Commit": snap.commit, "ETag": f'"{hub_file.etag}"',
                   "Accept-Ranges": "bytes", "Content-Type": "application/octet-stream"}
        if hub_file.lfs:
            headers.update({"X-Linked-Etag": f'"{hub_file.sha256}"',
                            "X-Linked-Size": str(hub_file.size)})
        self._send_file(hub_file, headers, head)

    # -- answers -----------------------------------------------------------------------------------
    def _send_file(self, hub_file: HubFile, headers: dict[str, str], head: bool) -> None:
        size = hub_file.size
        start, end, status = 0, size, 200
        requested = self.headers.get("Range")
        match = _RANGE.fullmatch(requested.strip()) if requested else None
        if match and (match[1] or match[2]):
            if match[1]:
                start, end = int(match[1]), min(size, int(match[2]) + 1) if match[2] else size
            else:  # the last N bytes
                start = max(0, size - int(match[2]))
            if start >= size or start >= end:
                self._send(416, b"", {"Content-Range": f"bytes */{size}"}, head)
                return
            status = 206
            headers["Content-Range"] = f"bytes {start}-{end - 1}/{size}"
        self._head(status, end - start, headers)
        if head or end == start:
            return
        data = hub_file.data
        if isinstance(data, bytes):
            self.wfile.write(data[start:end])
            return
        with data.open("rb") as fh:
            self.connection.sendfile(fh, start, end - start)

    def _json(self, payload: Any, head: bool) -> None:
        self._send(200, json.dumps(payload).encode(), {"Content-Type": "application/json"}, head)

    def _error(self, answer: _Answer, head: bool) -> None:
        body = json.dumps({"error": str(answer)}).encode()
        headers = {"Content-Type": "application/json",
                   **error_headers(answer.code, str(answer), answer.commit)}
        self._send(answer.status, body, headers, head)

    def _send(self, status: int, body: bytes, headers: dict[str, str], head: bool) -> None:
        self._head(status, len(body), headers)
        if not head:
            self.wfile.write(body)

    def _head(self, status: int, length: int, headers: dict[str, str]) -> None:
        self.send_response(status)
        for key, value in headers.items():
            # one line of latin-1 each: a message quoting a remote error or a file name must
            # neither split the header block nor fail to encode
            line = " ".join(value.split()).encode("latin-1", "replace").decode("latin-1")
            self.send_header(key, line)
        self.send_header("Content-Length", str(length))
        self.end_headers()
