"""A real HTTP server on 127.0.0.1 for tests, the demo and the benchmarks.

It serves registered byte blobs (in memory or files on disk) with HEAD, Range, ETag and
Last-Modified like a CDN does, and takes *routes* (regex -> handler) so the fake Hub and the fake
Civitai API are a few handlers on top of it. Every request is logged (method, path, Range, status,
bytes sent) so tests can assert what was or was not fetched again. :class:`Faults` injects what
real servers do to clients: 5xx bursts, resets mid-body, ignored Range, corrupted bytes, short
bodies, content that changes between requests, per-connection rate caps and stalls.

Nothing in the library imports this package (an import-linter contract keeps it that way).
"""

from __future__ import annotations

import contextlib
import email.utils
import gzip
import hashlib
import json
import os
import re
import socket
import ssl
import struct
import subprocess
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from modelshelf.server.threads import KeepAliveHandler, QuietHTTPServer, Serving

SEND_CHUNK = 256 * 1024
# A rate cap sends 10 ms of bytes at a time: a throttled link trickles, it does not burst. (It
# was 50 ms: at 10 MB/s, 500 KB sat in a socket at once, and a client killed mid-transfer lost
# up to that much per connection in flight, which a resume then had to fetch again.)
PACE_SLICE = 0.01
_RANGE = re.compile(r"bytes=(\d*)-(\d*)$")


@dataclass
class Faults:
    """Mutable fault switches; tests flip them between (or during) requests.

    Counters (``error_burst``, ``resets``) are decremented as they fire, so "two 503s then
    success" is ``error_burst=2``.
    """

    error_burst: int = 0  # next N body requests answer `error_status`
    error_status: int = 503
    retry_after: str | None = None  # Retry-After sent with those errors
    # A server that limits each client's connections: a GET body while more than this many
    # requests are in flight answers `error_status`
    max_in_flight: int | None = None
    resets: int = 0  # next N body responses are cut (socket closed) after `reset_after` bytes
    reset_after: int = 64 * 1024
    ignore_range: bool = False  # answer 200 with the whole body whatever Range says
    corrupt_offset: int | None = None  # flip one byte at this file offset in every response
    short_body: bool = False  # announce the full length, send 1 KiB less, close
    rate_per_connection: float | None = None  # bytes/second cap per response
    stall_after: int | None = None  # stop sending (but keep the socket) after N bytes, once
    stall_seconds: float = 30.0
    html_instead: bool = False  # answer 200 text/html "<html>Access denied</html>"
    # Kinds the chaos campaign (tests/campaign) injects; counters fire on the next N GET bodies.
    rst_resets: int = 0  # cut after `reset_after` bytes with a TCP RST (SO_LINGER 0), not a FIN
    bad_length: int = 0  # a 206 announcing `length_delta` bytes less than its Content-Range
    #                      (that many sent), or a 200 announcing `length_delta` more; then close
    length_delta: int = 1024
    bad_range: int = 0  # a 206 whose Content-Range total is the size + `range_total_delta`
    range_total_delta: int = -4096  # (negative: the range ends past the total it announces)
    gzip_bodies: int = 0  # gzip the body and say Content-Encoding: gzip whatever was asked
    corrupt_once: int = 0  # flip the byte in the middle of the next N bodies
    change_midway: int = 0  # after half a body, the file changes (new bytes, ETag, date)


@dataclass
class Blob:
    data: bytes | Path
    etag: str
    last_modified: float = field(default_factory=time.time)
    content_type: str = "application/octet-stream"
    headers: Mapping[str, str] = field(default_factory=dict)

    @property
    def size(self) -> int:
        return self.data.stat().st_size if isinstance(self.data, Path) else len(self.data)


@dataclass(frozen=True)
class LoggedRequest:
    method: str
    path: str
    range: str | None
    status: int
    bytes_sent: int
    headers: Mapping[str, str]
    host: str


@dataclass
class Request:
    """What a route handler sees."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: Mapping[str, str]
    body: bytes
    server: LocalServer
    match: re.Match[str]

    def header(self, name: str) -> str:
        """A header by name in any case, "" when absent (clients differ in how they spell names)."""
        return next((v for k, v in self.headers.items() if k.lower() == name.lower()), "")


@dataclass
class Response:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    blob: Blob | None = None  # serve these bytes with full Range/ETag semantics instead of body


Handler = Callable[[Request], Response]


def self_signed_context(folder: Path) -> ssl.SSLContext:
    """A server-side TLS context with a throwaway self-signed certificate for 127.0.0.1, made
    with the ``openssl`` CLI in ``folder`` (``LocalServer(tls=...)``). Raises
    ``OSError``/``CalledProcessError`` when openssl is missing or refuses."""
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", str(key), "-out", str(cert)], capture_output=True, check=True)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    return context


class LocalServer(Serving):
    """``with LocalServer() as srv: srv.add_file("/m.bin", data); httpx.get(srv.url + "/m.bin")``.
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 0,
                 tls: ssl.SSLContext | None = None) -> None:
        """``tls``: a server-side context (cert loaded) to serve https instead of http."""
        self.faults = Faults()
        self.tls = tls
        self._log: list[LoggedRequest] = []
        self._files: dict[str, Blob] = {}
        self._routes: list[tuple[str, re.Pattern[str], Handler]] = []
        self._lock = threading.Lock()
        self._stalled = False
        self._in_flight = 0
        self._httpd = QuietHTTPServer((host, port), _make_handler(self))
        if tls is not None:
            self._httpd.socket = tls.wrap_socket(self._httpd.socket, server_side=True)
        # The bound address (port 0 picks a free one). getsockname() is what server_address holds,
        # but typeshed types that host as str | bytes; an AF_INET(6) socket's is always a str.
        self.host: str
        self.port: int
        self.host, self.port = self._httpd.socket.getsockname()[:2]

    @property
    def url(self) -> str:
        return f"{self.scheme}://{self.host}:{self.port}"

    @property
    def scheme(self) -> str:
        return "https" if self.tls is not None else "http"

    def url_for(self, path: str, host: str | None = None) -> str:
        return f"{self.scheme}://{host or self.host}:{self.port}{path}"

    # -- registration -------------------------------------------------------------------------
    def add_file(self, path: str, data: bytes | Path, *, etag: str | None = None,
                 content_type: str = "application/octet-stream",
                 headers: Mapping[str, str] | None = None) -> Blob:
        if etag is None:
            etag = _etag_of(data)
        blob = Blob(data, etag, content_type=content_type, headers=dict(headers or {}))
        with self._lock:
            self._files[path] = blob
        return blob

    def replace_file(self, path: str, data: bytes | Path) -> Blob:
        """New content, new ETag and Last-Modified: what a re-uploaded file looks like."""
        return self.add_file(path, data)

    def add_route(self, method: str, pattern: str, handler: Handler) -> None:
        self._routes.append((method.upper(), re.compile(pattern), handler))

    # -- log helpers --------------------------------------------------------------------------
    @property
    def log(self) -> list[LoggedRequest]:
        """Every request served so far, in order of completion.

        A response is logged when the server thread finishes it, which can be a moment after
        the client has read the last byte and moved on: so wait (briefly) for requests still
        being served, or a test reading the log right after a call would race the server.
        """
        self.wait_idle(timeout=5.0)
        with self._lock:
            return list(self._log)

    def requests_for(self, path: str, method: str = "GET") -> list[LoggedRequest]:
        return [r for r in self.log if r.path == path and r.method == method]

    def bytes_served(self, path: str) -> int:
        return sum(r.bytes_sent for r in self.requests_for(path))

    def wait_idle(self, timeout: float = 10.0) -> bool:
        """Wait until no request is being served: a response the client aborted is logged only
        once the server notices, which can be after the client has exited."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if self._in_flight == 0:
                    return True
            time.sleep(0.02)
        return False

    def clear_log(self) -> None:
        """Forget every request so far, including those answered but not yet logged: a
        response is logged when the server thread finishes it, which can be after the client
        has moved on (so wait, briefly, for requests still being served first). Otherwise a
        request made before the call could appear in the log after it."""
        self.wait_idle(timeout=5.0)
        with self._lock:
            self._log.clear()

    # -- internals used by the handler ----------------------------------------------------------
    def _find(self, method: str, path: str) -> tuple[Handler, re.Match[str]] | Blob | None:
        for m, pattern, handler in self._routes:
            if m in (method, "*") or (m == "GET" and method == "HEAD"):
                match = pattern.fullmatch(path)
                if match:
                    return handler, match
        return self._files.get(path)

    def _record(self, entry: LoggedRequest) -> None:
        with self._lock:
            self._log.append(entry)

    def _crowded(self) -> bool:
        limit = self.faults.max_in_flight
        with self._lock:
            return limit is not None and self._in_flight > limit

    def _take(self, counter: str) -> bool:
        with self._lock:
            left = getattr(self.faults, counter)
            if left > 0:
                setattr(self.faults, counter, left - 1)
                return True
            return False


def _etag_of(data: bytes | Path) -> str:
    if isinstance(data, Path):
        st = data.stat()
        return f'"{st.st_ino:x}-{st.st_size:x}-{st.st_mtime_ns:x}"'
    return '"' + hashlib.sha1(data).hexdigest() + '"'


def _make_handler(server: LocalServer) -> type[KeepAliveHandler]:
    class _Handler(KeepAliveHandler):
        _extra_headers: dict[str, str]
        _progress: list[int]  # [status, bytes sent] of the response being written

        def _dispatch(self) -> None:
            method = self.command
            split = urlsplit(self.path)
            found = server._find(method, split.path)
            sent, status = 0, 404
            self._progress = [0, 0]  # [status, bytes] so an aborted response is still logged
            with server._lock:
                server._in_flight += 1
            try:
                if found is None:
                    status = self._send_simple(404, b'{"error": "Not Found"}', "application/json")
                elif isinstance(found, Blob):
                    status, sent = self._send_blob(method, found)
                else:
                    handler, match = found
                    length = int(self.headers.get("Content-Length") or 0)
                    request = Request(method, split.path, parse_qs(split.query),
                                      dict(self.headers.items()), self.rfile.read(length),
                                      server, match)
                    response = handler(request)
                    if response.blob is not None:
                        self._extra_headers.update(response.headers)
                        status, sent = self._send_blob(method, response.blob)
                    else:
                        kind = response.headers.get("Content-Type", "application/json")
                        status = self._send_simple(response.status, response.body, kind,
                                                   response.headers, head=method == "HEAD")
            except (BrokenPipeError, ConnectionResetError):
                self.close_connection = True
                status, sent = self._progress[0] or status, self._progress[1]
            finally:
                server._record(LoggedRequest(method, split.path, self.headers.get("Range"),
                                             status, sent, dict(self.headers.items()),
                                             self.headers.get("Host", "")))
                with server._lock:
                    server._in_flight -= 1

        do_HEAD = do_GET = do_POST = _dispatch

        def setup(self) -> None:
            super().setup()
            self._extra_headers = {}
            self._paid_until = 0.0  # rate cap: when this connection's bytes so far are "paid"

        def _send_simple(self, status: int, body: bytes, content_type: str,
                         headers: Mapping[str, str] | None = None, head: bool = False) -> int:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            for k, v in (headers or {}).items():
                if k.lower() not in ("content-type", "content-length"):
                    self.send_header(k, v)
            self.end_headers()
            if not head:
                self.wfile.write(body)
            return status

        def _send_blob(self, method: str, blob: Blob) -> tuple[int, int]:
            faults = server.faults
            extra, self._extra_headers = self._extra_headers, {}
            if method == "GET" and (server._take("error_burst") or server._crowded()):
                wait = {"Retry-After": faults.retry_after} if faults.retry_after is not None else {}
                return self._send_simple(faults.error_status, b"server busy", "text/plain", wait), 0
            if method == "GET" and faults.html_instead:
                page = b"<html><body>Access denied</body></html>"
                return self._send_simple(200, page, "text/html"), 0
            size = blob.size
            start, end, status = 0, size - 1, 200
            header = self.headers.get("Range")
            if_range = self.headers.get("If-Range")
            if header and not faults.ignore_range and if_range in (None, blob.etag):
                match = _RANGE.match(header.strip())
                if match and (match.group(1) or match.group(2)):
                    if match.group(1):
                        start = int(match.group(1))
                        end = min(int(match.group(2)), size - 1) if match.group(2) else size - 1
                    else:
                        start, end = max(0, size - int(match.group(2))), size - 1
                    if start >= size or start > end:
                        self.send_response(416)
                        self.send_header("Content-Range", f"bytes */{size}")
                        self.send_header("Content-Length", "0")
                        self.end_headers()
                        return 416, 0
                    status = 206
            length = end - start + 1
            content_range = {"Content-Range": f"bytes {start}-{end}/{size}"} if status == 206 else {}
            if method == "GET" and status in (200, 206):
                chaos = self._chaos(blob, status, start, end, size, content_range)
                if chaos is not None:
                    return chaos
            self._blob_head(status, blob, length, content_range, {**blob.headers, **extra},
                            ranges="none" if faults.ignore_range else "bytes")
            if method == "HEAD":
                return status, 0
            self._progress[0] = status
            return status, self._stream(blob, start, length)

        def _chaos(self, blob: Blob, status: int, start: int, end: int, size: int,
                   content_range: Mapping[str, str]) -> tuple[int, int] | None:
            """The campaign's faults that change a response's headers or its whole body; None
            when none fires (the caller then answers normally)."""
            length = end - start + 1

            def body() -> bytes:  # the true bytes of the range, read once a fault fires
                with _opened(blob.data) as read_at:
                    return read_at(start, length)

            if server._take("gzip_bodies"):
                packed = gzip.compress(body(), mtime=0)
                return self._send_raw(status, blob, packed, len(packed),
                                      {**content_range, "Content-Encoding": "gzip"})
            if status == 206 and server._take("bad_range"):
                total = size + server.faults.range_total_delta
                return self._send_raw(206, blob, body(), length,
                                      {"Content-Range": f"bytes {start}-{end}/{total}"})
            if server._take("bad_length"):
                delta = server.faults.length_delta
                announced = max(0, length - delta) if status == 206 else length + delta
                return self._send_raw(status, blob, body()[:announced], announced, content_range)
            if server._take("corrupt_once"):
                flipped = bytearray(body())
                if flipped:
                    flipped[len(flipped) // 2] ^= 0xFF
                return self._send_raw(status, blob, bytes(flipped), length, content_range)
            if server._take("change_midway"):
                whole = body()
                return self._send_raw(status, blob, whole, length, content_range,
                                      midway=(len(whole) // 2, lambda: _change_file(server, self.path)))
            return None

        def _send_raw(self, status: int, blob: Blob, body: bytes, announced: int,
                      headers: Mapping[str, str],
                      midway: tuple[int, Callable[[], None]] | None = None) -> tuple[int, int]:
            """Headers as given (whatever the truth), then ``body``; close when they disagree.
            ``midway``: (offset, action) runs the action once that much of the body is out."""
            self._blob_head(status, blob, announced, headers)
            self._progress[0] = status
            split = midway[0] if midway else len(body)
            self.wfile.write(body[:split])
            if midway:
                midway[1]()
            self.wfile.write(body[split:])
            self._progress[1] = len(body)
            if len(body) != announced:
                self.wfile.flush()
                self.close_connection = True
                with contextlib.suppress(OSError):
                    self.connection.shutdown(socket.SHUT_RDWR)
            return status, len(body)

        def _blob_head(self, status: int, blob: Blob, length: int, *extra: Mapping[str, str],
                       ranges: str = "bytes") -> None:
            """The status line and the headers every answer with a blob's bytes carries, then
            each of ``extra`` in order."""
            self.send_response(status)
            self.send_header("Content-Type", blob.content_type)
            self.send_header("Content-Length", str(length))
            self.send_header("Accept-Ranges", ranges)
            self.send_header("ETag", blob.etag)
            self.send_header("Last-Modified",
                             email.utils.formatdate(blob.last_modified, usegmt=True))
            for headers in extra:
                for k, v in headers.items():
                    self.send_header(k, v)
            self.end_headers()

        def _stream(self, blob: Blob, start: int, length: int) -> int:
            faults = server.faults
            limit = length
            reset = server._take("resets")
            rst = not reset and server._take("rst_resets")
            if reset or rst:
                limit = min(limit, faults.reset_after)
            if faults.short_body:
                limit = max(0, length - 1024)
            plain = (limit == length and faults.rate_per_connection is None
                     and faults.corrupt_offset is None and faults.stall_after is None
                     and server.tls is None)  # sendfile would bypass TLS
            if plain and isinstance(blob.data, Path):
                return self._sendfile(blob.data, start, length)
            sent = 0
            with _opened(blob.data) as read_at:
                while sent < limit:
                    n = min(SEND_CHUNK, limit - sent)
                    if faults.rate_per_connection:
                        n = min(n, max(1024, int(faults.rate_per_connection * PACE_SLICE)))
                    chunk = bytearray(read_at(start + sent, n))
                    corrupt = faults.corrupt_offset
                    if corrupt is not None and start + sent <= corrupt < start + sent + len(chunk):
                        chunk[corrupt - start - sent] ^= 0xFF
                    if faults.stall_after is not None and sent >= faults.stall_after:
                        with server._lock:
                            first = not server._stalled
                            server._stalled = True
                        if first:
                            time.sleep(faults.stall_seconds)
                            break
                    self.wfile.write(chunk)
                    sent += len(chunk)
                    self._progress[1] = sent
                    if faults.rate_per_connection:
                        self._pace(len(chunk), faults.rate_per_connection)
            if sent < length:
                self.wfile.flush()
                self.close_connection = True
                if rst:  # linger 0: close() sends RST at once, as a crashed middlebox does
                    self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                               struct.pack("ii", 1, 0))
                    self.connection.close()
                    return sent
                with contextlib.suppress(OSError):
                    self.connection.shutdown(socket.SHUT_RDWR)
            return sent

        def _pace(self, nbytes: int, rate: float) -> None:
            """Cap this *connection* (across keep-alive requests, like a throttled CDN link) at
            ``rate`` bytes/s, with at most 50 ms of unused allowance carried over, so a client
            can't gain speed by splitting a transfer into many short requests."""
            now = time.monotonic()
            self._paid_until = max(self._paid_until, now - 0.05) + nbytes / rate
            if self._paid_until > now:
                time.sleep(self._paid_until - now)

        def _sendfile(self, path: Path, start: int, length: int) -> int:
            self.wfile.flush()
            sent = 0
            with path.open("rb") as fh:
                while sent < length:
                    n = os.sendfile(self.connection.fileno(), fh.fileno(), start + sent,
                                    length - sent)
                    if n == 0:
                        break
                    sent += n
                    self._progress[1] = sent
            return sent

    return _Handler


class _opened:
    """Random access to a blob's bytes, for in-memory data and files alike."""

    def __init__(self, data: bytes | Path) -> None:
        self._data = data
        self._fh: Any = None

    def __enter__(self) -> Callable[[int, int], bytes]:
        if isinstance(self._data, Path):
            self._fh = self._data.open("rb")
            fh = self._fh
            return lambda offset, n: os.pread(fh.fileno(), n, offset)
        data = self._data
        return lambda offset, n: data[offset:offset + n]

    def __exit__(self, *exc: object) -> None:
        if self._fh is not None:
            self._fh.close()


def changed_bytes(data: bytes) -> bytes:
    """What a file becomes when the chaos fault ``change_midway`` re-uploads it: same size, the
    last 32 bytes replaced by a digest of the old content (so every change is new content)."""
    return data[:-32] + hashlib.sha256(data).digest() if len(data) >= 32 else data + b"!"


def _change_file(server: LocalServer, raw_path: str) -> None:
    path = urlsplit(raw_path).path
    with server._lock:
        blob = server._files.get(path)
    if blob is not None:
        data = blob.data.read_bytes() if isinstance(blob.data, Path) else blob.data
        server.replace_file(path, changed_bytes(data))


def json_response(obj: Any, status: int = 200,
                  headers: Mapping[str, str] | None = None) -> Response:
    return Response(status, json.dumps(obj).encode(), {"Content-Type": "application/json",
                                                       **(headers or {})})


def query_value(request: Request, key: str) -> str | None:
    values = request.query.get(key)
    return values[0] if values else None


__all__ = ["Blob", "Faults", "Handler", "LocalServer", "LoggedRequest", "Request", "Response",
           "changed_bytes", "json_response", "query_value"]
