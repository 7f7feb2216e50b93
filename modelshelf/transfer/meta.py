"""What a server says about a remote file, read from one response: size, validators, name, type.

:func:`probe` asks with ``GET`` + ``Range: bytes=0-0`` rather than ``HEAD``: some CDNs answer
HEAD differently from GET (or not at all), and the 206's ``Content-Range`` proves Range support
in the same round trip.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from modelshelf.errors import BadContent
from modelshelf.secrets import redact_url
from modelshelf.transfer.http import BadAnswer, check_status, read_message, request_following
from modelshelf.transfer.names import pick_filename
from modelshelf.transfer.transport import Response

if TYPE_CHECKING:
    from modelshelf.transfer.policy import Endpoint, NetworkPolicy

_CONTENT_RANGE = re.compile(r"bytes\s+(?:(\d+)-(\d+)|\*)/(\d+|\*)", re.IGNORECASE)
# An error page dressed as a 200: where a model was expected, these types mean "message".
_PAGE_TYPES = {"text/html": (".html", ".htm"), "application/json": (".json",),
               "application/problem+json": (".json",), "text/xml": (".xml",)}


@dataclass(frozen=True)
class RemoteMeta:
    """A remote file as the server describes it. ``size`` is None when it did not say."""

    size: int | None
    etag: str | None
    last_modified: str | None
    accept_ranges: bool
    final_url: str
    filename: str | None
    content_type: str | None

    @property
    def validator(self) -> str | None:
        """What to send as If-Range: a strong ETag, else Last-Modified (RFC 9110 13.1.5)."""
        if self.etag and not self.etag.startswith("W/"):
            return self.etag
        return self.last_modified


@dataclass(frozen=True)
class ContentRange:
    start: int | None
    end: int | None  # inclusive, as on the wire
    total: int | None


def parse_content_range(value: str | None) -> ContentRange | None:
    match = _CONTENT_RANGE.match(value.strip()) if value else None
    if not match:
        return None
    start, end, total = match.groups()
    return ContentRange(int(start) if start else None, int(end) if end else None,
                        int(total) if total and total != "*" else None)


def meta_from(response: Response, final_url: str) -> RemoteMeta:
    """Describe the file behind a 200/206/416 response."""
    crange = parse_content_range(response.getheader("Content-Range"))
    if crange is not None:
        size = crange.total
    elif response.status == 200 and response.getheader("Transfer-Encoding") is None:
        size = response.length
    else:
        size = None
    ranges = response.status == 206 or (
        response.status == 200 and response.getheader("Accept-Ranges", "").lower() == "bytes")
    content_type = response.getheader("Content-Type")
    return RemoteMeta(
        size=size,
        etag=response.getheader("ETag"),
        last_modified=response.getheader("Last-Modified"),
        accept_ranges=ranges,
        final_url=final_url,
        filename=pick_filename(response.getheader("Content-Disposition"), final_url),
        content_type=content_type.split(";", 1)[0].strip().lower() if content_type else None,
    )


def same_file(a: RemoteMeta, b: RemoteMeta) -> bool:
    """Whether two answers describe the same bytes (a validator the server gave both times)."""
    if a.size is not None and b.size is not None and a.size != b.size:
        return False
    if a.etag and b.etag:
        return a.etag == b.etag
    if a.last_modified and b.last_modified:
        return a.last_modified == b.last_modified
    return True


def reject_error_page(response: Response, meta: RemoteMeta, url: str) -> None:
    """Raise BadContent when a 2xx body is an HTML/JSON message instead of the file.

    A ``.json`` file (a Hub ``config.json``) legitimately comes as application/json, so the type
    only counts as an error page when the file name does not carry the matching extension.
    """
    suffixes = _PAGE_TYPES.get(meta.content_type or "")
    if suffixes is None:
        return
    name = (meta.filename or "").lower()
    if name.endswith(suffixes):
        return
    message = read_message(response)
    raise BadContent(f"{redact_url(url)}: the server sent a {meta.content_type} page instead of the "
                     f"file: {message or '(empty)'}")


def check_body(response: Response, url: str) -> None:
    """Refuse a 200/206 body we could not store as the file.

    A ``Content-Encoding`` (gzip, br...) despite our ``Accept-Encoding: identity`` means the
    bytes are not the file's: http.client does not decode them, and ranges of an encoded body
    cannot be decoded piece by piece. That is final (a server that does it once does it again).
    A 206 must carry exactly the span its ``Content-Range`` names, inside the total.
    """
    encoding = (response.getheader("Content-Encoding") or "identity").strip().lower()
    if encoding != "identity":
        raise BadContent(f"{redact_url(url)}: the server sent the file {encoding}-encoded "
                         "(Content-Encoding) although asked for the plain bytes; not stored")
    if response.status != 206:
        return
    crange = parse_content_range(response.getheader("Content-Range"))
    if crange is None or crange.start is None or crange.end is None:
        return
    span = crange.end - crange.start + 1
    shown = response.getheader("Content-Range")
    if span <= 0 or (crange.total is not None and crange.end >= crange.total):
        raise BadAnswer(f"the server sent an impossible range ({shown})")
    if response.length is not None and response.length != span:
        raise BadAnswer(f"the server's Content-Length ({response.length}) disagrees with its "
                        f"Content-Range ({shown})")


def probe(endpoint: Endpoint | str, policy: NetworkPolicy | None = None) -> RemoteMeta:
    """Describe a remote file without downloading it (one request, redirects followed)."""
    from modelshelf.transfer.policy import NetworkPolicy, as_endpoint

    endpoint, policy = as_endpoint(endpoint), policy or NetworkPolicy()
    conn = policy.connection()

    def attempt() -> RemoteMeta:
        response, final_url = request_following(
            conn, endpoint.url, headers={"Range": "bytes=0-0"},
            credentials=endpoint.credentials)
        check_status(response, final_url, ok=(200, 206, 416))
        check_body(response, final_url)
        return meta_from(response, final_url)

    try:
        return policy.backoff.run(attempt, endpoint.url)
    finally:
        conn.close()
