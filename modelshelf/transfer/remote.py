"""Random access to a remote file over HTTP Range, for reading headers without downloading.

``info hf:org/repo/model.safetensors`` needs the first few KiB (the safetensors header, a GGUF
header); :class:`RemoteReader` gives ``read_at`` over Range requests on one keep-alive
connection, with a budget (``max_bytes``) so a bad header length can't make us fetch gigabytes.
"""

from __future__ import annotations

from collections.abc import Mapping

from modelshelf.errors import DownloadError
from modelshelf.transfer.http import Link, check_status, host_of, redact, request_following
from modelshelf.transfer.meta import RemoteMeta, parse_content_range, probe
from modelshelf.transfer.proxy import NO_PROXIES, ProxyRules
from modelshelf.transfer.retry import Backoff


class RemoteReader:
    """``read_at(offset, length)`` over HTTP; use as a context manager (or call ``close``)."""

    def __init__(self, meta: RemoteMeta, link: Link, backoff: Backoff,
                 headers: Mapping[str, str] | None, auth_host: str, max_bytes: int) -> None:
        if meta.size is None:
            raise DownloadError(f"{redact(meta.final_url)}: the server does not say the size")
        self.meta = meta
        self.size: int = meta.size
        self.bytes_read = 0
        self._link = link
        self._backoff = backoff
        self._headers = dict(headers or {})
        self._auth_host = auth_host
        self._max = max_bytes

    def read_at(self, offset: int, length: int) -> bytes:
        """Bytes ``[offset, offset+length)`` clipped to the file; short only at its end."""
        if offset < 0 or length < 0:
            raise ValueError(f"read_at({offset}, {length}): negative offset or length")
        length = max(0, min(length, self.size - offset))
        if length == 0:
            return b""
        cost = length if self.meta.accept_ranges else offset + length
        if self.bytes_read + cost > self._max:
            raise DownloadError(f"{redact(self.meta.final_url)}: reading {length} bytes at "
                                f"{offset} would exceed the {self._max}-byte budget for "
                                f"header inspection")
        data = self._backoff.run(lambda: self._fetch(offset, length), self.meta.final_url)
        self.bytes_read += cost
        return data

    def _fetch(self, offset: int, length: int) -> bytes:
        response, _ = request_following(
            self._link, self.meta.final_url,
            headers={"Range": f"bytes={offset}-{offset + length - 1}"},
            credentials=self._headers, auth_host=self._auth_host)
        check_status(response, self.meta.final_url, ok=(200, 206))
        crange = parse_content_range(response.getheader("Content-Range"))
        skip = offset if response.status == 200 else 0
        if response.status == 206 and (crange is None or crange.start != offset):
            self._link.close()
            raise DownloadError(f"{redact(self.meta.final_url)}: asked for bytes from {offset}, "
                                f"got another range")
        if skip:
            response.read(skip)  # the server ignored Range: skip to the offset (budgeted)
        data = response.read(length)
        if not response.isclosed():
            self._link.close()
        if len(data) != length:
            raise ConnectionResetError(f"short read: {len(data)} of {length} bytes")
        return data

    def close(self) -> None:
        self._link.close()

    def __enter__(self) -> RemoteReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open_remote(url: str, *, headers: Mapping[str, str] | None = None,
                auth_host: str | None = None, timeout: float = 30.0, verify_ssl: bool = True,
                proxies: ProxyRules = NO_PROXIES, max_bytes: int = 8 * 2**20, retries: int = 6,
                retry_base_delay: float = 0.5) -> RemoteReader:
    """Probe ``url`` (redirects followed once) and return a reader over its final URL."""
    host = auth_host or host_of(url)
    meta = probe(url, headers=headers, auth_host=host, timeout=timeout, verify_ssl=verify_ssl,
                 proxies=proxies, retries=retries, retry_base_delay=retry_base_delay)
    return RemoteReader(meta, Link(timeout, verify_ssl, proxies),
                        Backoff(retries, retry_base_delay), headers, host, max_bytes)
