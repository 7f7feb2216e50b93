"""Random access to a remote file over HTTP Range, for reading headers without downloading.

``info hf:org/repo/model.safetensors`` needs the first few KiB (the safetensors header, a GGUF
header); :class:`RemoteReader` gives ``read_at`` over Range requests on one keep-alive
connection, with a budget (``max_bytes``) so a bad header length can't make us fetch gigabytes.
Credentials follow the same origin rule as downloads (:class:`~modelshelf.secrets.Credentials`).
"""

from __future__ import annotations

from modelshelf.errors import DownloadError
from modelshelf.secrets import Credentials, redact_url
from modelshelf.transfer.http import check_status, request_following
from modelshelf.transfer.meta import RemoteMeta, check_body, parse_content_range, probe
from modelshelf.transfer.policy import Endpoint, NetworkPolicy, as_endpoint
from modelshelf.transfer.retry import Backoff
from modelshelf.transfer.transport import Connection


class RemoteReader:
    """``read_at(offset, length)`` over HTTP; use as a context manager (or call ``close``)."""

    def __init__(self, meta: RemoteMeta, conn: Connection, backoff: Backoff,
                 credentials: Credentials, max_bytes: int) -> None:
        if meta.size is None:
            raise DownloadError(f"{redact_url(meta.final_url)}: the server does not say the size")
        self.meta = meta
        self.size: int = meta.size
        self.bytes_read = 0
        self._conn = conn
        self._backoff = backoff
        self._credentials = credentials
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
            raise DownloadError(f"{redact_url(self.meta.final_url)}: reading {length} bytes at "
                                f"{offset} would exceed the {self._max}-byte budget for "
                                f"header inspection")
        data = self._backoff.run(lambda: self._fetch(offset, length), self.meta.final_url)
        self.bytes_read += cost
        return data

    def _fetch(self, offset: int, length: int) -> bytes:
        response, _ = request_following(
            self._conn, self.meta.final_url,
            headers={"Range": f"bytes={offset}-{offset + length - 1}"},
            credentials=self._credentials)
        check_status(response, self.meta.final_url, ok=(200, 206))
        check_body(response, self.meta.final_url)
        crange = parse_content_range(response.getheader("Content-Range"))
        skip = offset if response.status == 200 else 0
        if response.status == 206 and (crange is None or crange.start != offset):
            self._conn.close()
            raise DownloadError(f"{redact_url(self.meta.final_url)}: asked for bytes from "
                                f"{offset}, got another range")
        if skip:
            response.read(skip)  # the server ignored Range: skip to the offset (budgeted)
        data = response.read(length)
        if not response.isclosed():
            self._conn.close()
        if len(data) != length:
            raise ConnectionResetError(f"short read: {len(data)} of {length} bytes")
        return data

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> RemoteReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open_remote(endpoint: Endpoint | str, policy: NetworkPolicy | None = None, *,
                max_bytes: int = 8 * 2**20) -> RemoteReader:
    """Probe the endpoint (redirects followed once) and return a reader over its final URL."""
    endpoint, policy = as_endpoint(endpoint), policy or NetworkPolicy()
    meta = probe(endpoint, policy)
    return RemoteReader(meta, policy.connection(), policy.backoff, endpoint.credentials,
                        max_bytes)
