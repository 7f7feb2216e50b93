"""One connection of a transfer: take a piece, fetch it into the partial file, repeat.

The receive loop is the hot path: ``readinto`` a fixed buffer, ``pwrite`` it at the piece's
position, advance. Both calls release the GIL, so sixteen of these threads and the hasher share
the cores. Anything unexpected about an answer (other bytes, a changed ETag, 416) is reported as
:class:`Changed` and the whole transfer starts over; transport hiccups and busy servers are
retried here with backoff, and only a run of failures without progress gives up.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field

from modelshelf.errors import ModelshelfError, RemoteNotFound, SizeMismatch, TokenRequired
from modelshelf.secrets import redact_url
from modelshelf.transfer.disk import PartialFile
from modelshelf.transfer.http import RetryableStatus, check_status, request_following
from modelshelf.transfer.meta import (
    RemoteMeta,
    check_body,
    meta_from,
    parse_content_range,
    same_file,
)
from modelshelf.transfer.pieces import Piece, Scheduler
from modelshelf.transfer.policy import Endpoint, NetworkPolicy
from modelshelf.transfer.retry import RETRYABLE, final_error
from modelshelf.transfer.transport import Connection, Response

# Per connection. Measured on loopback, 1 GiB: 64 KiB 0.92 s, 128 KiB 0.89 s, 256 KiB 0.84 s,
# 512 KiB 0.82 s (fewer readinto/pwrite round trips through the GIL). It must not exceed half of
# min_piece: a steal leaves the victim at least about min_piece past its position, and the read in
# flight, asked for before the steal, must not run past the victim's new end.
BUFFER = 512 * 1024
# A slow connection reads less at a time: readinto waits until its whole buffer is filled, and
# bytes waiting in a half-filled buffer are lost to a kill -9 (16 connections x 512 KiB would be
# 12% of a 64 MiB file). About this many seconds of the connection's own rate, at least MIN_READ:
# at 10 MB/s, 100 KiB reads; a fast connection still reads the whole buffer.
READ_SECONDS = 0.01
MIN_READ = 64 * 1024


class Changed(Exception):
    """The remote file is not the one we started with: the transfer starts over."""


class _ShortBody(Exception):
    """The connection ended before the announced length; retried like a reset."""


class _Refused(Exception):
    """The server turned this connection away and others are still fetching: it leaves."""


# What a piece is retried on (with backoff); anything else ends the transfer.
_RETRY_ON: tuple[type[BaseException], ...] = (_ShortBody, *RETRYABLE)


@dataclass
class Job:
    """What the workers of one transfer share. ``final_url`` may be renewed (an expired
    signed URL) by any of them, under ``refresh_lock``."""

    endpoint: Endpoint
    policy: NetworkPolicy
    final_url: str
    meta: RemoteMeta
    ranged: bool
    sched: Scheduler
    file: PartialFile
    buffer_size: int
    refresh_lock: threading.Lock = field(default_factory=threading.Lock)
    # How much a connection reads at a time, as the latest one found (unlocked: it is a hint).
    # Connections the ramp adds later start from it: at a whole buffer each, the sixteen added
    # 0.08 s in held up to 8 MiB in half-filled buffers, a kill -9's loss of 12% of 64 MiB.
    read_size: int = field(init=False)

    def __post_init__(self) -> None:
        self.read_size = self.buffer_size


class Worker:
    """A thread's loop: take a piece, fetch it over its own keep-alive connection, repeat."""

    def __init__(self, job: Job, conn: Connection | None = None) -> None:
        self.job = job
        self.conn = conn or job.policy.connection()
        self.received = 0  # bytes this connection fetched
        self.used = False
        # The whole buffer until a connection shows it is slow: small first reads would make
        # a fast connection look slow (and busy) to the ramp's first look.
        self._read_size = job.read_size

    def run(self, piece: Piece | None = None,
            response: Response | None = None) -> None:
        """Fetch pieces until none are left or someone failed (errors go to the scheduler)."""
        sched = self.job.sched
        view = memoryview(bytearray(self.job.buffer_size))
        try:
            if piece is None:
                piece = sched.take()
            while piece is not None:
                self.used = True
                try:
                    self._fetch(piece, response, view)
                finally:
                    response = None
                    sched.release(piece)
                piece = sched.take()
        except _Refused:
            pass  # its piece went back with the release above
        except BaseException as exc:  # reported by the coordinating thread
            sched.fail(exc)
        finally:
            self.conn.close()

    def _fetch(self, piece: Piece, response: Response | None,
               view: memoryview) -> None:
        """Fetch one piece, retrying with backoff; progress resets the count of failures."""
        job = self.job
        failures, high_water, tries = 0, piece.pos, job.policy.backoff.tries
        while not piece.complete and not job.sched.stop.is_set():
            try:
                if response is None:
                    response = self._request(piece)
                self._drain(piece, response, view)
            except ModelshelfError:
                raise
            except _RETRY_ON as exc:
                self.conn.close()
                # Only new ground counts as progress: a single stream restarts at byte 0.
                failures = 0 if piece.pos > high_water else failures + 1
                high_water = max(high_water, piece.pos)
                if isinstance(exc, RetryableStatus) and job.sched.retire():
                    raise _Refused from None
                if failures >= tries:
                    raise self._give_up(exc, failures) from None
                if job.sched.stop.wait(job.policy.backoff.pause(failures, exc)):
                    return
            response = None

    def _request(self, piece: Piece) -> Response:
        job = self.job
        headers: dict[str, str] = {}
        if job.ranged:
            headers["Range"] = f"bytes={piece.pos}-{piece.end - 1}"
            if job.meta.validator:
                headers["If-Range"] = job.meta.validator
        else:
            piece.pos = 0  # no Range: the whole body again, rewritten in place
        began = time.monotonic()
        response = self._send(headers)
        piece.rtt = time.monotonic() - began
        piece.requested_end = piece.end
        if not same_file(job.meta, meta_from(response, job.final_url)):
            raise Changed("the remote file changed during the download (ETag/size differ)")
        if not job.ranged:
            return response
        if response.status == 416:
            raise Changed(f"the server refused bytes {piece.pos}-{piece.end - 1} (HTTP 416)")
        crange = parse_content_range(response.getheader("Content-Range"))
        if response.status != 206 or crange is None or crange.start != piece.pos:
            raise Changed("the server answered a range request with other bytes "
                          "(the file changed, If-Range)")
        return response

    def _send(self, headers: Mapping[str, str]) -> Response:
        """One request for a piece; a signed URL that expired (401/403/404 on the redirect
        target) is renewed once from the original URL."""
        job = self.job
        credentials = job.endpoint.credentials
        response, _ = request_following(self.conn, job.final_url, headers=headers,
                                        credentials=credentials)
        try:
            check_status(response, job.final_url, ok=(200, 206, 416))
        except (TokenRequired, RemoteNotFound):
            if job.final_url == job.endpoint.url:
                raise
            with job.refresh_lock:
                response, job.final_url = request_following(
                    self.conn, job.endpoint.url, headers=headers, credentials=credentials)
            check_status(response, job.final_url, ok=(200, 206, 416))
        check_body(response, job.final_url)
        return response

    def _drain(self, piece: Piece, response: Response,
               view: memoryview) -> None:
        """Receive into the fixed buffer and pwrite until the piece (which may shrink when
        another connection steals its tail) is complete. A silent socket for ``stall_seconds``
        raises TimeoutError: the connection is dropped and the piece retried."""
        job, conn = self.job, self.conn
        stop, file = job.sched.stop, job.file
        conn.set_timeout(job.policy.stall_seconds)
        known_length = job.ranged or response.length is not None
        began, start = time.monotonic(), piece.pos
        while not stop.is_set():
            want = min(self._read_size, piece.end - piece.pos)
            if want <= 0:
                break
            n = response.readinto(view[:want])
            if not n:
                if known_length:
                    raise _ShortBody(f"the body ended at byte {piece.pos} of {piece.end}")
                piece.end = piece.pos  # a body without a length ends when the server closes
                break
            file.write_at(view[:n], piece.pos)
            piece.pos += n
            self.received += n
            job.sched.landed(n)
            elapsed = time.monotonic() - began
            if elapsed > 0:
                rate = (piece.pos - start) / elapsed
                self._read_size = job.read_size = max(MIN_READ,
                                                      min(len(view), int(rate * READ_SECONDS)))
        if stop.is_set() or piece.end < piece.requested_end or not response.isclosed():
            conn.close()  # unread bytes left in this response: the connection can't be reused
        else:
            conn.set_timeout(job.policy.timeout)
        job.sched.observe(piece.pos - start, time.monotonic() - began, piece.rtt)

    def _give_up(self, exc: BaseException, tries: int) -> ModelshelfError:
        if isinstance(exc, _ShortBody):
            return SizeMismatch(f"{redact_url(self.job.final_url)}: the server kept ending the "
                                f"body early ({exc}) after {tries} tries")
        return final_error(exc, self.job.final_url, tries)
