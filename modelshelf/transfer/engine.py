"""``download()``: a segmented, resumable, verified HTTP transfer into a staging directory.

The story of one call: take the per-URL lock; hand back a finished, unclaimed file if one waits;
else ask for the first missing piece (following redirects, credentials only to their host) and
learn size, validators and Range support from that one answer; check free space; preallocate;
start the sha256 thread; let N worker threads fetch pieces (each over its own keep-alive
connection, pwrite-ing from a fixed buffer); save the resume state every half second; when the
last piece lands, take the digest, compare, and rename the partial to ``<key>.ok``.

If the remote file changes under us (validators differ, If-Range answered with the whole file,
416 on a range), the partial is thrown away and the download starts over, at most twice, and the
reason is reported (``DownloadResult.restarted_reason`` and the ``on_warning`` callback).
"""

from __future__ import annotations

import errno
import http.client
import math
import os
import shutil
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from modelshelf.errors import (
    DownloadError,
    HashMismatch,
    InsufficientSpace,
    ModelshelfError,
    RemoteChanged,
    RemoteNotFound,
    SizeMismatch,
    TokenRequired,
)
from modelshelf.hashing import parse_sha256
from modelshelf.transfer.hasher import PrefixHasher
from modelshelf.transfer.http import (
    TRANSIENT_ERRORS,
    Link,
    RetryableStatus,
    check_status,
    network_error,
    parse_url,
    redact,
    request_following,
)
from modelshelf.transfer.meta import (
    RemoteMeta,
    meta_from,
    parse_content_range,
    reject_error_page,
    same_file,
)
from modelshelf.transfer.pieces import Piece, Scheduler
from modelshelf.transfer.ranges import missing
from modelshelf.transfer.retry import Backoff
from modelshelf.transfer.state import ResumeState, StagingPaths, locked

MIN_PIECE = 2**20  # like aria2c -k1M: never split finer than this
MAX_PIECE = 64 * 2**20
BUFFER = 256 * 1024  # per connection; must stay below MIN_PIECE / 2 (see Scheduler._steal)
SAVE_EVERY = 0.5
PROGRESS_EVERY = 0.1
MAX_RESTARTS = 2
_UNKNOWN_END = 2**62  # a single stream whose length the server did not announce
_NO_SPACE = frozenset({errno.ENOSPC, errno.EDQUOT})
_NO_FALLOCATE = frozenset({errno.EOPNOTSUPP, errno.ENOSYS, errno.EINVAL})


class ProgressCallback(Protocol):
    """Called from one thread, at most about ten times a second, and once at the end."""

    def __call__(self, done_bytes: int, total_bytes: int | None) -> None: ...


@dataclass(frozen=True)
class DownloadResult:
    path: Path  # the complete, verified file inside staging_dir; the caller moves it away
    sha256: str  # hex, computed while streaming
    size: int
    bytes_downloaded: int  # fetched over the network by this call (0 if nothing was missing)
    resumed: bool
    final_url: str  # after redirects, without query string or user info (signed URLs are secret)
    filename: str | None  # sanitised, from Content-Disposition or the URL
    etag: str | None
    connections_used: int
    restarted_reason: str | None = None  # set when a changed remote forced a fresh start


@dataclass(frozen=True)
class _Options:
    url: str
    credentials: Mapping[str, str]
    auth_host: str
    expected_sha256: str | None
    expected_size: int | None
    connections: int
    backoff: Backoff
    timeout: float
    stall_seconds: float
    verify_ssl: bool
    progress: ProgressCallback | None
    free_space_margin: int
    min_piece: int


class _Changed(Exception):
    """The remote file is not the one we started with: start over."""


class _ShortBody(Exception):
    """The connection ended before the announced length; retried like a reset."""


def download(
    url: str,
    staging_dir: Path,
    *,
    expected_sha256: str | None = None,
    expected_size: int | None = None,
    headers: Mapping[str, str] | None = None,
    auth_host: str | None = None,
    connections: int = 16,
    retries: int = 6,
    timeout: float = 30.0,
    stall_seconds: float = 20.0,
    verify_ssl: bool = True,
    progress: ProgressCallback | None = None,
    free_space_margin: int = 64 * 2**20,
    retry_base_delay: float = 0.5,
    min_piece: int = MIN_PIECE,
    on_warning: Callable[[str], None] | None = None,
) -> DownloadResult:
    """Fetch ``url`` into ``staging_dir`` over up to ``connections`` connections, verified.

    ``headers`` (e.g. Authorization) are sent only to ``auth_host`` (default: the URL's host).
    Raises the :mod:`modelshelf.errors` types: HashMismatch, BadContent, SizeMismatch,
    RemoteNotFound, TokenRequired, NetworkError, InsufficientSpace, RemoteChanged, DownloadError.
    """
    target = parse_url(url)
    expected = parse_sha256(expected_sha256) if expected_sha256 else None
    staging_dir = Path(staging_dir)
    staging_dir.mkdir(parents=True, exist_ok=True)
    paths = StagingPaths.for_key(staging_dir, url, expected)
    options = _Options(
        url=url, credentials=dict(headers or {}), auth_host=(auth_host or target.host).lower(),
        expected_sha256=expected, expected_size=expected_size, connections=max(1, connections),
        backoff=Backoff(max(1, retries), retry_base_delay), timeout=timeout,
        stall_seconds=stall_seconds, verify_ssl=verify_ssl, progress=progress,
        free_space_margin=free_space_margin, min_piece=max(4 * 1024, min_piece))
    with locked(paths.lock):
        waiting = _unclaimed(paths, expected)
        if waiting is not None:
            return waiting
        reason: str | None = None
        for _ in range(MAX_RESTARTS + 1):
            try:
                return _Transfer(options, paths, reason).run()
            except _Changed as changed:
                reason = str(changed)
                paths.discard()
                if on_warning is not None:
                    on_warning(f"{redact(url)}: {reason}; starting over")
        raise RemoteChanged(f"{redact(url)}: the remote file kept changing during the download "
                            f"({reason})")


def _unclaimed(paths: StagingPaths, expected: str | None) -> DownloadResult | None:
    """A file an earlier call finished and verified but nobody moved away yet (e.g. the other
    process of two pulls of one URL: the second waits on the lock, then gets this)."""
    state = ResumeState.load(paths.state)
    if state is None or state.sha256 is None or not paths.ok.exists():
        paths.ok.unlink(missing_ok=True)
        return None
    if paths.ok.stat().st_size != state.size or (expected and expected != state.sha256):
        paths.discard()
        return None
    return DownloadResult(paths.ok, state.sha256, state.size, 0, True, state.url, state.filename,
                          state.etag, 0)


class _Transfer:
    """One attempt at the whole file (a restart makes a new one)."""

    def __init__(self, options: _Options, paths: StagingPaths, restarted: str | None) -> None:
        self.o = options
        self.paths = paths
        self.restarted = restarted
        self.final_url = options.url
        self.meta: RemoteMeta | None = None
        self.ranged = True
        self.fd = -1
        self.sched: Scheduler | None = None
        self.received: list[int] = []
        self.used: list[bool] = []
        self._refresh_lock = threading.Lock()

    # -- the story ----------------------------------------------------------------------------
    def run(self) -> DownloadResult:
        state = self._saved_state()
        link = Link(self.o.timeout, self.o.verify_ssl)
        try:
            first, response = self._first_request(link, state)
        except BaseException:
            link.close()
            raise
        meta = self.meta
        assert meta is not None
        if response.status == 416:  # the first piece of an empty file (or a stale partial)
            link.close()
            if state is None and meta.size == 0:
                return self._finish_empty(meta)
            raise _Changed("the server refused the saved range (HTTP 416)")
        if state is not None and not self.ranged:
            state = None  # the server stopped honouring Range: the partial cannot be used
        size = meta.size
        if self.o.expected_size is not None and size is not None and size != self.o.expected_size:
            link.close()
            raise SizeMismatch(f"{redact(self.o.url)}: the server announces {size} bytes, "
                               f"expected {self.o.expected_size}")
        done = state.done if state is not None else []
        self._check_space(size, sum(end - start for start, end in done))
        self.fd = os.open(self.paths.part, os.O_RDWR | os.O_CREAT | (0 if state else os.O_TRUNC),
                          0o644)
        try:
            self._preallocate(size)
            new_state = ResumeState(redact(self.o.url), size or 0, meta.etag, meta.last_modified,
                                    list(done), filename=meta.filename)
            if self.ranged:
                new_state.save(self.paths.state)
            else:
                self.paths.state.unlink(missing_ok=True)
            return self._fetch_all(link, first, response, new_state, resumed=bool(done))
        finally:
            os.close(self.fd)

    def _saved_state(self) -> ResumeState | None:
        state = ResumeState.load(self.paths.state)
        if state is None or state.sha256 is not None or not self.paths.part.exists() \
                or state.size <= 0:
            self.paths.discard()
            return None
        return state

    def _first_request(self, link: Link, state: ResumeState | None,
                       ) -> tuple[Piece, http.client.HTTPResponse]:
        """Ask for the first missing piece; its answer also tells size, validators, ranges."""
        floor = 4 * self.o.min_piece
        if state is None:
            start, end = 0, floor
        else:
            start, gap_end = missing(state.done, state.size)[0]
            end = gap_end if gap_end - start - floor < self.o.min_piece else start + floor
        headers = {"Range": f"bytes={start}-{end - 1}"}
        if state is not None and (state.etag or state.last_modified):
            headers["If-Range"] = (state.etag if state.etag and not state.etag.startswith("W/")
                                   else state.last_modified or "")

        def attempt() -> http.client.HTTPResponse:
            response, self.final_url = request_following(
                link, self.o.url, headers=headers, credentials=self.o.credentials,
                auth_host=self.o.auth_host)
            check_status(response, self.final_url, ok=(200, 206, 416))
            return response

        response = self.o.backoff.run(attempt, self.o.url)
        meta = meta_from(response, self.final_url)
        self.meta = meta
        if response.status == 416:
            return Piece(0, 0, 0), response
        reject_error_page(response, meta, self.final_url)
        crange = parse_content_range(response.getheader("Content-Range"))
        self.ranged = response.status == 206 and crange is not None and meta.size is not None
        if state is not None:
            saved = RemoteMeta(state.size, state.etag, state.last_modified, True, "", None, None)
            if not same_file(saved, meta):
                link.close()
                raise _Changed("the remote file changed since the partial download "
                               "(ETag/Last-Modified/size differ)")
        if not self.ranged:
            size = meta.size if meta.size is not None else _UNKNOWN_END
            return Piece(0, size, 0, size), response
        assert crange is not None and crange.start is not None and crange.end is not None
        if crange.start != start:
            link.close()
            raise DownloadError(f"{redact(self.final_url)}: asked for bytes from {start}, "
                                f"the server sent from {crange.start}")
        return Piece(start, crange.end + 1, start, crange.end + 1), response

    def _fetch_all(self, link: Link, first: Piece, response: http.client.HTTPResponse,
                   state: ResumeState, resumed: bool) -> DownloadResult:
        size = state.size if self.ranged else first.end
        gaps = missing(state.done, size) if self.ranged else [(0, size)]
        sched = Scheduler(gaps, state.done, min_piece=self.o.min_piece, max_piece=MAX_PIECE,
                          stealing=self.ranged)
        self.sched = sched
        sched.claim(first)
        todo = sum(end - start for start, end in gaps)
        workers = min(self.o.connections, max(1, math.ceil(todo / self.o.min_piece))) \
            if self.ranged else 1
        self.received = [0] * workers
        self.used = [False] * workers
        hasher = PrefixHasher(self.paths.part, sched.prefix).start()
        threads = [threading.Thread(target=self._work, name=f"modelshelf-dl-{i}", daemon=True,
                                    args=(i, link if i == 0 else None,
                                          first if i == 0 else None,
                                          response if i == 0 else None))
                   for i in range(workers)]
        try:
            for thread in threads:
                thread.start()
            self._watch(threads, state)
        except BaseException as exc:
            sched.fail(exc)
            for thread in threads:
                thread.join()
            hasher.cancel()
            self._save(state)
            raise
        if sched.error is not None:
            hasher.cancel()
            self._save(state)
            raise sched.error
        if not self.ranged:
            size = first.pos
            if self.o.expected_size is not None and size != self.o.expected_size:
                hasher.cancel()
                self.paths.discard()
                raise SizeMismatch(f"{redact(self.o.url)}: got {size} bytes, "
                                   f"expected {self.o.expected_size}")
            os.ftruncate(self.fd, size)
        digest = hasher.finish(size)
        return self._complete(state, size, digest, resumed, sum(self.received))

    def _watch(self, threads: list[threading.Thread], state: ResumeState) -> None:
        """The coordinating thread: progress at most 10x/s, resume state every 0.5 s."""
        assert self.sched is not None
        last_save = time.monotonic()
        while alive := [t for t in threads if t.is_alive()]:
            alive[0].join(PROGRESS_EVERY)
            self._report()
            if self.ranged and time.monotonic() - last_save >= SAVE_EVERY:
                self._save(state)
                last_save = time.monotonic()

    def _report(self) -> None:
        if self.o.progress is None or self.sched is None:
            return
        size = self.meta.size if self.meta else None
        done = sum(end - start for start, end in self.sched.done_spans())
        self.o.progress(done, size)

    def _save(self, state: ResumeState) -> None:
        if self.ranged and self.sched is not None:
            state.done = self.sched.done_spans()
            state.save(self.paths.state)

    def _complete(self, state: ResumeState, size: int, digest: str, resumed: bool,
                  downloaded: int) -> DownloadResult:
        meta = self.meta
        assert meta is not None
        expected = self.o.expected_sha256
        name = meta.filename or redact(self.o.url)
        if expected is not None and digest != expected:
            self.paths.discard()
            raise HashMismatch(f"{name}: sha256 mismatch: expected {expected}, got {digest} "
                               f"(downloaded data deleted)")
        state.size, state.done, state.sha256 = size, [(0, size)], digest
        state.save(self.paths.state)
        os.replace(self.paths.part, self.paths.ok)
        if self.o.progress is not None:
            self.o.progress(size, size)
        return DownloadResult(self.paths.ok, digest, size, downloaded, resumed,
                              redact(self.final_url), meta.filename, meta.etag,
                              max(1, sum(self.used)), self.restarted)

    def _finish_empty(self, meta: RemoteMeta) -> DownloadResult:
        self.paths.part.write_bytes(b"")
        digest = PrefixHasher(self.paths.part, lambda: 0).start().finish(0)
        state = ResumeState(redact(self.o.url), 0, meta.etag, meta.last_modified,
                            filename=meta.filename)
        return self._complete(state, 0, digest, False, 0)

    # -- disk ---------------------------------------------------------------------------------
    def _check_space(self, size: int | None, present: int) -> None:
        needed = (size if size is not None else self.o.expected_size or 0)
        if not needed:
            return
        needed += self.o.free_space_margin - present
        free = shutil.disk_usage(self.paths.part.parent).free
        if free < needed:
            raise InsufficientSpace(
                f"{self.paths.part.parent}: not enough free space for {redact(self.o.url)}: "
                f"need {_mib(needed)} (file plus margin), {_mib(free)} free")

    def _preallocate(self, size: int | None) -> None:
        """Reserve the blocks up front: ENOSPC now rather than at 90%, and no fragmentation."""
        if not size:
            return
        try:
            os.posix_fallocate(self.fd, 0, size)
        except OSError as exc:
            if exc.errno in _NO_SPACE:
                raise self._disk_full() from None
            if exc.errno not in _NO_FALLOCATE:
                raise
            os.ftruncate(self.fd, size)

    def _disk_full(self) -> InsufficientSpace:
        free = shutil.disk_usage(self.paths.part.parent).free
        return InsufficientSpace(
            f"{self.paths.part.parent}: the disk is full ({_mib(free)} free) while downloading "
            f"{redact(self.o.url)}; free some space and run again to resume")

    def _write(self, view: memoryview, offset: int) -> None:
        try:
            while view:
                n = os.pwrite(self.fd, view, offset)
                view, offset = view[n:], offset + n
        except OSError as exc:
            if exc.errno in _NO_SPACE:
                raise self._disk_full() from None
            raise DownloadError(f"{self.paths.part}: cannot write: {exc.strerror}") from None

    # -- workers ------------------------------------------------------------------------------
    def _work(self, index: int, link: Link | None, piece: Piece | None,
              response: http.client.HTTPResponse | None) -> None:
        """One connection's life: fetch pieces until none are left or someone failed."""
        sched = self.sched
        assert sched is not None
        link = link or Link(self.o.timeout, self.o.verify_ssl)
        buf = bytearray(min(BUFFER, max(4096, self.o.min_piece // 4)))
        try:
            if piece is None:
                piece = sched.take()
            while piece is not None:
                self.used[index] = True
                try:
                    self._fetch(index, link, piece, response, memoryview(buf))
                finally:
                    response = None
                    sched.release(piece)
                piece = sched.take()
        except BaseException as exc:  # reported by the coordinating thread
            sched.fail(exc)
        finally:
            link.close()

    def _fetch(self, index: int, link: Link, piece: Piece,
               response: http.client.HTTPResponse | None, view: memoryview) -> None:
        """Fetch one piece, retrying with backoff; progress resets the count of failures."""
        sched = self.sched
        assert sched is not None
        failures, high_water = 0, piece.pos
        while not piece.complete and not sched.stop.is_set():
            try:
                if response is None:
                    response = self._request(link, piece)
                self._drain(index, link, piece, response, view)
            except ModelshelfError:
                raise
            except (RetryableStatus, _ShortBody, *TRANSIENT_ERRORS) as exc:
                link.close()
                # Only new ground counts as progress: a single stream restarts at byte 0.
                failures = 0 if piece.pos > high_water else failures + 1
                high_water = max(high_water, piece.pos)
                if failures >= self.o.backoff.tries:
                    raise self._give_up(exc, failures) from None
                if self.o.backoff.stop.is_set() or sched.stop.wait(
                        self.o.backoff.delay(failures)):
                    return
            response = None

    def _request(self, link: Link, piece: Piece) -> http.client.HTTPResponse:
        assert self.meta is not None
        headers: dict[str, str] = {}
        if self.ranged:
            headers["Range"] = f"bytes={piece.pos}-{piece.end - 1}"
            if self.meta.validator:
                headers["If-Range"] = self.meta.validator
        else:
            piece.pos = 0  # no Range: the whole body again, rewritten in place
        began = time.monotonic()
        response = self._send(link, headers)
        piece.rtt = time.monotonic() - began
        piece.requested_end = piece.end
        meta = meta_from(response, self.final_url)
        if not same_file(self.meta, meta):
            raise _Changed("the remote file changed during the download (ETag/size differ)")
        if not self.ranged:
            return response
        if response.status == 416:
            raise _Changed(f"the server refused bytes {piece.pos}-{piece.end - 1} (HTTP 416)")
        crange = parse_content_range(response.getheader("Content-Range"))
        if response.status != 206 or crange is None or crange.start != piece.pos:
            raise _Changed("the server answered a range request with other bytes "
                           "(the file changed, If-Range)")
        return response

    def _send(self, link: Link, headers: Mapping[str, str]) -> http.client.HTTPResponse:
        """One request for a piece; a signed URL that expired (401/403/404 on the redirect
        target) is renewed once from the original URL."""
        response, _ = request_following(link, self.final_url, headers=headers,
                                        credentials=self.o.credentials, auth_host=self.o.auth_host)
        try:
            check_status(response, self.final_url, ok=(200, 206, 416))
            return response
        except (TokenRequired, RemoteNotFound):
            if self.final_url == self.o.url:
                raise
        with self._refresh_lock:
            response, self.final_url = request_following(
                link, self.o.url, headers=headers, credentials=self.o.credentials,
                auth_host=self.o.auth_host)
        check_status(response, self.final_url, ok=(200, 206, 416))
        return response

    def _drain(self, index: int, link: Link, piece: Piece, response: http.client.HTTPResponse,
               view: memoryview) -> None:
        """Receive into the fixed buffer and pwrite until the piece (which may shrink when
        another connection steals its tail) is complete. A silent socket for ``stall_seconds``
        raises TimeoutError: the connection is dropped and the piece retried."""
        assert self.sched is not None
        stop = self.sched.stop
        if link.sock is not None:
            link.sock.settimeout(self.o.stall_seconds)
        known_length = self.ranged or response.length is not None
        began, start = time.monotonic(), piece.pos
        while not stop.is_set():
            want = min(len(view), piece.end - piece.pos)
            if want <= 0:
                break
            n = response.readinto(view[:want])
            if not n:
                if known_length:
                    raise _ShortBody(f"the body ended at byte {piece.pos} of {piece.end}")
                piece.end = piece.pos  # a body without a length ends when the server closes
                break
            self._write(view[:n], piece.pos)
            piece.pos += n
            self.received[index] += n
        if stop.is_set() or piece.end < piece.requested_end or not response.isclosed():
            link.close()  # unread bytes left in this response: the connection can't be reused
        elif link.sock is not None:
            link.sock.settimeout(self.o.timeout)
        self.sched.observe(piece.pos - start, time.monotonic() - began, piece.rtt)

    def _give_up(self, exc: BaseException, tries: int) -> ModelshelfError:
        if isinstance(exc, RetryableStatus):
            return exc.final(tries)
        if isinstance(exc, _ShortBody):
            return SizeMismatch(f"{redact(self.final_url)}: the server kept ending the body "
                                f"early ({exc}) after {tries} tries")
        return network_error(self.final_url, exc, tries)


def _mib(n: int) -> str:
    return f"{n / 2**20:,.1f} MiB"
