"""``download()``: a segmented, resumable, verified HTTP transfer into a staging directory.

The story of one call: take the per-URL lock; hand back a finished, unclaimed file if one waits;
else ask for the first missing piece (following redirects, credentials only to their origin) and
learn size, validators and Range support from that one answer; check free space; preallocate;
start the sha256 thread (``hasher.py``); let :class:`~modelshelf.transfer.worker.Worker`
threads fetch pieces handed out by the scheduler (``pieces.py``), starting with a few and adding
more while they raise throughput (``ramp.py``, up to ``connections``); save the resume state
(:mod:`modelshelf.staging`) every half second and as bytes land (``pieces.py`` checkpoints);
when the last piece lands, take the digest, compare, and rename the partial to ``<key>.ok``.

If the remote file changes under us (validators differ, If-Range answered with the whole file,
416 on a range), the partial is thrown away and the download starts over, at most twice, and the
reason is reported (``DownloadResult.restarted_reason`` and the ``on_warning`` callback).
"""

from __future__ import annotations

import math
import os
import threading
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Protocol

from modelshelf.errors import (
    DownloadError,
    HashMismatch,
    RemoteChanged,
    SizeMismatch,
)
from modelshelf.hashing import parse_sha256
from modelshelf.locks import file_lock
from modelshelf.secrets import redact_url
from modelshelf.staging import ResumeState, StagingPaths
from modelshelf.transfer.disk import PartialFile, check_free_space
from modelshelf.transfer.hasher import PrefixHasher
from modelshelf.transfer.http import check_status, parse_url, request_following
from modelshelf.transfer.meta import (
    RemoteMeta,
    check_body,
    meta_from,
    parse_content_range,
    reject_error_page,
    same_file,
)
from modelshelf.transfer.pieces import CHECKPOINT_INTERVAL, Piece, Scheduler, checkpoint_bytes
from modelshelf.transfer.policy import Endpoint, NetworkPolicy, as_endpoint
from modelshelf.transfer.ramp import Ramp
from modelshelf.transfer.ranges import missing
from modelshelf.transfer.transport import Connection, Response
from modelshelf.transfer.worker import BUFFER, Changed, Job, Worker

MAX_PIECE = 64 * 2**20
SAVE_EVERY = 0.5
PROGRESS_EVERY = 0.1
RAMP_TICK = 0.01  # how often the ramp looks while it may still add connections
MAX_RESTARTS = 2
HASH_AHEAD = 64 * 2**20  # finished bytes that may wait for the hasher (Scheduler.pace)
_UNKNOWN_END = 2**62  # a single stream whose length the server did not announce


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


def download(
    endpoint: Endpoint | str,
    staging_dir: Path,
    policy: NetworkPolicy | None = None,
    *,
    progress: ProgressCallback | None = None,
    free_space_margin: int | None = None,
    on_warning: Callable[[str], None] | None = None,
) -> DownloadResult:
    """Fetch ``endpoint`` (or a bare URL) into ``staging_dir`` as ``policy`` allows, verified.

    ``on_warning`` hears why a changed remote forced a restart. ``free_space_margin`` is the
    space to leave free beyond the file (default: scaled to it).
    Raises the :mod:`modelshelf.errors` types: HashMismatch, BadContent, SizeMismatch,
    RemoteNotFound, TokenRequired, NetworkError, InsufficientSpace, RemoteChanged, DownloadError.
    """
    endpoint, policy = as_endpoint(endpoint), policy or NetworkPolicy()
    parse_url(endpoint.url)  # a usage error before anything touches the disk
    expected = parse_sha256(endpoint.expected_sha256) if endpoint.expected_sha256 else None
    endpoint = replace(endpoint, expected_sha256=expected)
    staging_dir = Path(staging_dir)
    staging_dir.mkdir(parents=True, exist_ok=True)
    paths = StagingPaths.for_key(staging_dir, endpoint.url, expected)
    shown = redact_url(endpoint.url)
    # The per-download lock: a second process of the same URL waits here (interruptibly), then
    # finds the file finished. A caller holding it already (the pull) re-enters for free.
    with file_lock(paths.lock, what=shown):
        waiting = _unclaimed(paths, expected)
        if waiting is not None:
            return waiting
        reason: str | None = None
        for _ in range(MAX_RESTARTS + 1):
            try:
                return _Transfer(endpoint, policy, paths, progress, free_space_margin,
                                 reason).run()
            except Changed as changed:
                reason = str(changed)
                paths.discard()
                if on_warning is not None:
                    on_warning(f"{shown}: {reason}; starting over")
        raise RemoteChanged(f"{shown}: the remote file kept changing during the download "
                            f"({reason})")


def download_lock(staging_dir: Path, url: str, expected_sha256: str | None = None,
                  while_waiting: Callable[[], None] | None = None) -> AbstractContextManager[None]:
    """The lock :func:`download` takes for this URL and digest, for a caller that must also
    do work before and after it under the same lock (look for the blob, move the file in).
    ``download`` inside it re-enters the lock instead of waiting on itself."""
    expected = parse_sha256(expected_sha256) if expected_sha256 else None
    return file_lock(StagingPaths.for_key(Path(staging_dir), url, expected).lock, while_waiting,
                     what=redact_url(url))


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

    def __init__(self, endpoint: Endpoint, policy: NetworkPolicy, paths: StagingPaths,
                 progress: ProgressCallback | None, free_space_margin: int | None,
                 restarted: str | None) -> None:
        self.endpoint = endpoint
        self.policy = policy
        self.paths = paths
        self.progress = progress
        self.free_space_margin = free_space_margin
        self.restarted = restarted
        self.shown = redact_url(endpoint.url)  # how errors and the state file name the URL
        self.final_url = endpoint.url
        self.meta: RemoteMeta | None = None
        self.ranged = True
        self.file: PartialFile | None = None
        self.sched: Scheduler | None = None
        self.job: Job | None = None
        self.workers: list[Worker] = []
        self.threads: list[threading.Thread] = []
        self.first_rtt = 0.0  # seconds the first request waited for its answer

    # -- the story ----------------------------------------------------------------------------
    def run(self) -> DownloadResult:
        state = self._saved_state()
        conn = self.policy.connection()
        try:  # the connection is ours to close until the first worker thread takes it over
            first, response = self._first_request(conn, state)
            meta = self.meta
            assert meta is not None
            if response.status == 416:  # the first piece of an empty file (or a stale partial)
                conn.close()
                if state is None and meta.size == 0:
                    return self._finish_empty(meta)
                raise Changed("the server refused the saved range (HTTP 416)")
            if state is not None and not self.ranged:
                state = None  # the server stopped honouring Range: the partial cannot be used
            size = meta.size
            done = state.done if state is not None else []
            expected_size = self.endpoint.expected_size
            if expected_size is not None and size not in (None, expected_size):
                raise SizeMismatch(f"{self.shown}: the server announces {size} bytes, "
                                   f"expected {expected_size}")
            needed = size if size is not None else expected_size or 0
            if needed:
                check_free_space(self.paths.part.parent, needed, self.shown,
                                 present=state.bytes_done() if state is not None else 0,
                                 margin=self.free_space_margin)
            self.file = PartialFile(self.paths.part, self.shown, truncate=state is None,
                                    resumable=self.ranged)
        except BaseException:
            conn.close()
            raise
        try:
            self.file.preallocate(size or 0)
            new_state = ResumeState(self.shown, size or 0, meta.etag, meta.last_modified,
                                    list(done), filename=meta.filename)
            if self.ranged:
                new_state.save(self.paths.state)
            else:
                self.paths.state.unlink(missing_ok=True)
            return self._fetch_all(conn, first, response, new_state, resumed=bool(done))
        finally:
            self.file.close()

    def _saved_state(self) -> ResumeState | None:
        state = ResumeState.load(self.paths.state)
        if state is None or state.sha256 is not None or not self.paths.part.exists() \
                or state.size <= 0:
            self.paths.discard()
            return None
        return state

    def _first_request(self, conn: Connection, state: ResumeState | None,
                       ) -> tuple[Piece, Response]:
        """Ask for the first missing piece; its answer also tells size, validators, ranges."""
        min_piece = self.policy.piece_floor
        floor = 4 * min_piece
        if state is None:
            start, end = 0, floor
        else:
            start, gap_end = missing(state.done, state.size)[0]
            end = gap_end if gap_end - start - floor < min_piece else start + floor
        saved = None if state is None else RemoteMeta(
            state.size, state.etag, state.last_modified, True, self.endpoint.url, None, None)
        headers = {"Range": f"bytes={start}-{end - 1}"}
        if saved is not None and saved.validator:
            headers["If-Range"] = saved.validator  # changed since? then the whole new file

        def attempt() -> Response:
            response, self.final_url = request_following(
                conn, self.endpoint.url, headers=headers, credentials=self.endpoint.credentials)
            check_status(response, self.final_url, ok=(200, 206, 416))
            check_body(response, self.final_url)
            return response

        began = time.monotonic()
        response = self.policy.backoff.run(attempt, self.endpoint.url)
        self.first_rtt = time.monotonic() - began
        meta = meta_from(response, self.final_url)
        self.meta = meta
        if response.status == 416:
            return Piece(0, 0, 0), response
        reject_error_page(response, meta, self.final_url)
        crange = parse_content_range(response.getheader("Content-Range"))
        self.ranged = response.status == 206 and crange is not None and meta.size is not None
        if saved is not None and not same_file(saved, meta):
            conn.close()
            raise Changed("the remote file changed since the partial download "
                          "(ETag/Last-Modified/size differ)")
        if not self.ranged:
            size = meta.size if meta.size is not None else _UNKNOWN_END
            return Piece(0, size, 0, size), response
        assert crange is not None and crange.start is not None and crange.end is not None
        if crange.start != start:
            conn.close()
            raise DownloadError(f"{redact_url(self.final_url)}: asked for bytes from {start}, "
                                f"the server sent from {crange.start}")
        return Piece(start, crange.end + 1, start, crange.end + 1), response

    def _fetch_all(self, conn: Connection, first: Piece, response: Response,
                   state: ResumeState, resumed: bool) -> DownloadResult:
        assert self.meta is not None and self.file is not None
        size = state.size if self.ranged else first.end
        gaps = missing(state.done, size) if self.ranged else [(0, size)]
        todo = sum(end - start for start, end in gaps)
        min_piece = self.policy.piece_floor
        workers = min(self.policy.max_connections, max(1, math.ceil(todo / min_piece))) \
            if self.ranged else 1
        sched = Scheduler(gaps, state.done, min_piece=min_piece, max_piece=MAX_PIECE,
                          workers=workers, stealing=self.ranged)
        sched.claim(first)
        if self.ranged:  # a single stream has no resume state to keep current
            sched.checkpoint(checkpoint_bytes(size), lambda: self._save(state),
                             CHECKPOINT_INTERVAL)
        self.sched = sched
        self.job = Job(self.endpoint, self.policy, self.final_url, self.meta, self.ranged, sched,
                       self.file, buffer_size=min(BUFFER, max(4096, min_piece // 2)))
        ramp = Ramp(workers, rtt=self.first_rtt)
        on_disk = sched.prefix()  # a resume's old prefix, which the hasher reads first
        hasher = PrefixHasher(self.paths.part, sched.prefix).start()
        sched.pace(hasher.reached, HASH_AHEAD)
        try:
            self._add_workers(ramp.target, conn, first, response)
            self._watch(ramp, state, lambda: time.process_time() if hasher.hashed >= on_disk
                        else None)
        except BaseException as exc:  # Ctrl-C, or the progress callback raised
            sched.fail(exc)
            for worker in self.workers:
                worker.conn.abort()
            for thread in self.threads:
                thread.join()
            hasher.cancel()
            self._save_or_discard(state)
            raise
        if sched.error is not None:
            hasher.cancel()
            self._save_or_discard(state)
            raise sched.error
        if not self.ranged:
            size = first.pos
            expected_size = self.endpoint.expected_size
            if expected_size is not None and size != expected_size:
                hasher.cancel()
                self.paths.discard()
                raise SizeMismatch(f"{self.shown}: got {size} bytes, expected {expected_size}")
            self.file.truncate(size)
        digest = hasher.finish(size)
        return self._complete(state, size, digest, resumed,
                              sum(w.received for w in self.workers))

    def _add_workers(self, count: int, conn: Connection | None = None,
                     first: Piece | None = None,
                     response: Response | None = None) -> None:
        """Start worker threads up to ``count``; the very first one takes over the connection
        and the answer of the first request."""
        assert self.job is not None and self.sched is not None
        while len(self.workers) < count:
            i = len(self.workers)
            worker = Worker(self.job, conn if i == 0 else None)
            thread = threading.Thread(target=worker.run, name=f"modelshelf-dl-{i}", daemon=True,
                                      args=(first, response) if i == 0 else ())
            self.workers.append(worker)
            self.threads.append(thread)
            self.sched.workers = len(self.workers)
            thread.start()

    def _watch(self, ramp: Ramp, state: ResumeState, cpu: Callable[[], float | None]) -> None:
        """The coordinating thread: grows the connection count as ``ramp`` decides (ticking
        faster while it does), progress at most 10x/s, resume state every 0.5 s; once one
        connection failed for good, wake the others instead of waiting out their timeouts."""
        assert self.sched is not None
        last_save = last_report = time.monotonic()
        while alive := [t for t in self.threads if t.is_alive()]:
            alive[0].join(PROGRESS_EVERY if ramp.settled else RAMP_TICK)
            now = time.monotonic()
            if self.sched.stop.is_set():
                for worker in self.workers:
                    worker.conn.abort()
            elif not ramp.settled:
                if self.sched.refused:  # past the server's limit: settle, and tick slower
                    ramp.hold("refused")
                else:
                    received = sum(w.received for w in self.workers)
                    self._add_workers(ramp.update(now, received, cpu()))
            if now - last_report >= PROGRESS_EVERY:
                self._report()
                last_report = now
            if self.ranged and now - last_save >= SAVE_EVERY:
                self._save(state)
                last_save = now

    def _report(self) -> None:
        if self.progress is None or self.sched is None:
            return
        size = self.meta.size if self.meta else None
        done = sum(end - start for start, end in self.sched.done_spans())
        self.progress(done, size)

    def _save_or_discard(self, state: ResumeState) -> None:
        """After a failure: keep what a rerun can resume; a partial of a server that gave no
        size or ignored Range can never be resumed, so it goes now rather than fill the disk
        (a full disk is the usual failure) until gc finds it."""
        if self.ranged:
            self._save(state)
        else:
            self.paths.discard()

    def _save(self, state: ResumeState) -> None:
        if self.ranged and self.sched is not None:
            state.done = self.sched.done_spans()
            state.save(self.paths.state)

    def _complete(self, state: ResumeState, size: int, digest: str, resumed: bool,
                  downloaded: int) -> DownloadResult:
        meta = self.meta
        assert meta is not None
        expected = self.endpoint.expected_sha256
        name = meta.filename or self.shown
        if expected is not None and digest != expected:
            self.paths.discard()
            raise HashMismatch(f"{name}: sha256 mismatch: expected {expected}, got {digest} "
                               f"(downloaded data deleted)")
        state.size, state.done, state.sha256 = size, [(0, size)], digest
        state.save(self.paths.state)
        os.replace(self.paths.part, self.paths.ok)
        if self.progress is not None:
            self.progress(size, size)
        return DownloadResult(self.paths.ok, digest, size, downloaded, resumed,
                              redact_url(self.job.final_url if self.job else self.final_url),
                              meta.filename, meta.etag,
                              max(1, sum(w.used for w in self.workers)), self.restarted)

    def _finish_empty(self, meta: RemoteMeta) -> DownloadResult:
        self.paths.part.write_bytes(b"")
        digest = PrefixHasher(self.paths.part, lambda: 0).start().finish(0)
        state = ResumeState(self.shown, 0, meta.etag, meta.last_modified,
                            filename=meta.filename)
        return self._complete(state, 0, digest, False, 0)
