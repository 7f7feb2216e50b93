"""An in-memory :class:`~modelshelf.transfer.transport.Transport`: files served from a dict,
with Range, If-Range, ETag and redirects, and no socket anywhere.

``NetworkPolicy(transport=MemoryTransport({"/m.bin": data}))`` runs the whole engine (pieces,
workers, retries, resume, hashing) in one process without the loopback server, so tests of the
engine's logic are quick and cannot be disturbed by a busy machine. Tests of real HTTP behaviour
(TLS, proxies, keep-alive, stalls) keep using :mod:`modelshelf.testing.server`.
"""

from __future__ import annotations

import hashlib
import io
import re
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, overload

if TYPE_CHECKING:
    from modelshelf.transfer.proxy import ProxyRules
    from modelshelf.transfer.transport import Target

_RANGE = re.compile(r"bytes=(\d+)-(\d*)$")


@dataclass(frozen=True)
class Sent:
    """One request as the transport saw it."""

    path: str
    range: str | None
    headers: Mapping[str, str]


class MemoryResponse:
    """Enough of ``http.client.HTTPResponse`` for the engine: status, headers, a body."""

    def __init__(self, status: int, headers: Mapping[str, str], body: bytes,
                 announced: int | None = None) -> None:
        self.status = status
        self._headers = {k.lower(): v for k, v in headers.items()}
        self._body = io.BytesIO(body)
        self.length: int | None = len(body) if announced is None else announced

    @overload
    def getheader(self, name: str) -> str | None: ...

    @overload
    def getheader(self, name: str, default: str) -> str: ...

    def getheader(self, name: str, default: str | None = None) -> str | None:
        return self._headers.get(name.lower(), default)

    def read(self, amt: int | None = None) -> bytes:
        data = self._body.read(amt)
        self._advance(len(data))
        return data

    def readinto(self, b: memoryview) -> int:
        n = self._body.readinto(b)
        self._advance(n)
        return n

    def _advance(self, n: int) -> None:
        if self.length is not None:
            self.length = max(0, self.length - n)

    def isclosed(self) -> bool:
        return self._body.tell() >= len(self._body.getbuffer())


@dataclass
class MemoryTransport:
    """Serves ``files`` (path -> bytes); ``redirects`` (path -> Location) answer 302.

    ``fail_next`` answers that many body requests with 503; ``cut_after`` ends each of the next
    ``cuts`` bodies after that many bytes while announcing the full length (a reset).
    """

    files: dict[str, bytes] = field(default_factory=dict)
    redirects: dict[str, str] = field(default_factory=dict)
    fail_next: int = 0
    cuts: int = 0
    cut_after: int = 64 * 1024
    log: list[Sent] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def connect(self, timeout: float, verify_ssl: bool, proxies: ProxyRules) -> MemoryConnection:
        return MemoryConnection(self)

    def requests_for(self, path: str) -> list[Sent]:
        with self._lock:
            return [s for s in self.log if s.path == path]

    def answer(self, target: Target, headers: Mapping[str, str]) -> MemoryResponse:
        path = target.path.split("?", 1)[0]
        asked = headers.get("Range")
        with self._lock:
            self.log.append(Sent(path, asked, dict(headers)))
            if path in self.redirects:
                return MemoryResponse(302, {"Location": self.redirects[path]}, b"")
            data = self.files.get(path)
            if data is not None and self.fail_next > 0:
                self.fail_next -= 1
                return MemoryResponse(503, {"Content-Type": "text/plain"}, b"busy")
            cut = self.cuts > 0
            self.cuts -= cut
        if data is None:
            return MemoryResponse(404, {"Content-Type": "text/plain"}, b"not found")
        etag = '"' + hashlib.sha1(data).hexdigest() + '"'
        common = {"ETag": etag, "Accept-Ranges": "bytes",
                  "Content-Type": "application/octet-stream"}
        match = _RANGE.match(asked or "")
        if match is None or headers.get("If-Range", etag) != etag:
            return self._body(200, common, data, cut)
        start = int(match.group(1))
        end = min(int(match.group(2)), len(data) - 1) if match.group(2) else len(data) - 1
        if start >= len(data):
            return MemoryResponse(416, {"Content-Range": f"bytes */{len(data)}"}, b"")
        return self._body(206, {**common, "Content-Range": f"bytes {start}-{end}/{len(data)}"},
                          data[start:end + 1], cut)

    def _body(self, status: int, headers: Mapping[str, str], body: bytes,
              cut: bool) -> MemoryResponse:
        if not cut:
            return MemoryResponse(status, headers, body)
        return MemoryResponse(status, headers, body[:self.cut_after], announced=len(body))


class MemoryConnection:
    """A connection to the :class:`MemoryTransport`; nothing to open, time out or abort."""

    def __init__(self, transport: MemoryTransport) -> None:
        self._transport = transport

    def request(self, target: Target, method: str,
                headers: Mapping[str, str]) -> MemoryResponse:
        return self._transport.answer(target, headers)

    def set_timeout(self, seconds: float) -> None:
        pass

    def abort(self) -> None:
        pass

    def close(self) -> None:
        pass
