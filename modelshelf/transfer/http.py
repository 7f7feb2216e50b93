"""The HTTP/1.1 layer under the engine: one keep-alive connection per worker, manual redirects that
keep credentials on their origin, and server answers turned into typed errors.

Why ``http.client`` and not httpx: the engine's hot loop is "receive into a reusable buffer, pwrite
it". Measured on this machine (bench loop, 512 MiB over one localhost connection, best of 3):
httpx ``iter_raw`` ~720 MB/s and 0.6 s CPU; ``HTTPResponse.readinto`` into a 1 MiB buffer
~1,500 MB/s and 0.3 s CPU; a hand-written raw-socket ``recv_into`` loop ~1,370 MB/s. ``readinto``
lands in ``socket.recv_into`` with no per-chunk allocation (BufferedReader bypasses its own buffer
for large reads), so a raw client buys nothing over it, while ``http.client`` already parses
headers, chunked bodies and TLS (``ssl``) correctly. httpx stays the tool for API calls elsewhere.
"""

from __future__ import annotations

import contextlib
import email.utils
import functools
import http.client
import math
import re
import socket
import ssl
import time
from collections.abc import Mapping
from urllib.parse import urljoin, urlsplit

from modelshelf.errors import (
    DownloadError,
    ModelshelfError,
    NetworkError,
    RemoteNotFound,
    TokenRequired,
    UsageError,
)
from modelshelf.secrets import NO_CREDENTIALS, Credentials, redact_url
from modelshelf.transfer.proxy import NO_PROXIES, Proxy, ProxyRules, connect_error, proxy_auth_error
from modelshelf.transfer.transport import Connection, Response, Target

MAX_REDIRECTS = 10
MAX_RETRY_AFTER = 60.0
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
# Worth another try: the server or something in front of it is busy or briefly broken.
RETRYABLE_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504, 520, 521, 522, 523, 524})
# Final answers: a typed error the CLI maps to a one-line message.
STATUS_ERRORS: Mapping[int, type[ModelshelfError]] = {
    401: TokenRequired,
    403: TokenRequired,
    404: RemoteNotFound,
    410: RemoteNotFound,
}
STATUS_HINTS: Mapping[int, str] = {
    401: "a token is needed",
    403: "access denied (a token is needed, or the one given is not accepted)",
    404: "not found",
    410: "gone",
    429: "too many requests (rate-limited)",
}
# Transport failures that a new connection may cure.
TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (OSError, http.client.HTTPException)
_MESSAGE_BYTES = 2048
_TAG = re.compile(r"<[^>]*>")


@functools.cache
def tls_context(verify: bool) -> ssl.SSLContext:
    """The TLS settings every HTTPS connection of this process shares (one per ``verify``).

    Building a context loads the system's CA certificates: ~40 ms of CPU, which each of a
    download's connections paid — up to 64 of them a pull, seconds of CPU before the first
    byte. A context is safe to share between threads (it is only read once set up), and
    sharing it also shares its TLS session cache.
    """
    context = ssl.create_default_context()
    if not verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


def parse_url(url: str) -> Target:
    """Split an http(s) URL; anything else is a usage error naming the URL (redacted)."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise UsageError(f"{redact_url(url)}: malformed URL ({exc})") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UsageError(f"{redact_url(url)}: not an http(s) URL")
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    default = 443 if parts.scheme == "https" else 80
    return Target(url, parts.scheme, parts.hostname.lower(), port or default, path)


def one_line(text: str, limit: int = 200) -> str:
    """A server's message as one short line: tags stripped, whitespace collapsed."""
    flat = " ".join(_TAG.sub(" ", text).split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def read_message(response: Response) -> str:
    """The start of an error body, as one line (never the whole body: it may be huge)."""
    try:
        raw = response.read(_MESSAGE_BYTES)
    except TRANSIENT_ERRORS:
        return ""
    return one_line(raw.decode("utf-8", errors="replace"))


def status_error(status: int, url: str, message: str, note: str = "") -> ModelshelfError:
    """The typed, one-line error for a final HTTP status; ``note`` says why it is final."""
    kind = STATUS_ERRORS.get(status, NetworkError if status in RETRYABLE_STATUSES
                             else DownloadError)
    hint = STATUS_HINTS.get(status, "unexpected answer")
    text = f"{redact_url(url)}: HTTP {status}, {hint}"
    if message:
        text += f": {message}"
    if note:
        text += f" ({note})"
    return kind(text)


def network_error(url: str, exc: BaseException, tries: int) -> NetworkError:
    """A transport failure after every retry, naming the host and the last cause."""
    target = urlsplit(url)
    cause = str(exc) or type(exc).__name__
    if isinstance(exc, ConnectionRefusedError):
        cause = "connection refused"
    elif isinstance(exc, TimeoutError | socket.timeout):
        cause = "timed out"
    where = f"{target.hostname}:{target.port}" if target.port else f"{target.hostname}"
    after = f" after {tries} tries" if tries > 1 else ""
    return NetworkError(f"cannot reach {where} ({redact_url(url)}){after}: {one_line(cause)}")


class HttpConnection:
    """One worker's keep-alive HTTP connection, reopened when the host changes or a request fails.

    Headers given to :meth:`request` are the caller's; credentials are added only by
    :func:`request_following`, which knows which origin they belong to. ``proxies`` picks the
    proxy per target: http targets are asked for with an absolute URI through it, https ones
    through a ``CONNECT`` tunnel with TLS (and its certificate check) to the origin as usual.
    """

    def __init__(self, timeout: float, verify_ssl: bool, proxies: ProxyRules = NO_PROXIES) -> None:
        self._timeout = timeout
        self._verify = verify_ssl
        self._proxies = proxies
        self._conn: http.client.HTTPConnection | None = None
        self._proxy: Proxy | None = None  # the proxy the open connection goes through
        self._key: tuple[str, str, int] | None = None
        self.sock: socket.socket | None = None  # the socket of the last response (for timeouts)
        # The last answer: while bytes of its body are unread, the connection can't carry
        # another request (an error page read only for its first 2 KiB, a piece abandoned).
        self._last: http.client.HTTPResponse | None = None

    def request(self, target: Target, method: str,
                headers: Mapping[str, str]) -> http.client.HTTPResponse:
        if self._last is not None and not self._last.isclosed():
            self.close()  # its unread body is still on the wire: start a new connection
        reused = self._conn is not None and self._key == target.key
        try:
            return self._send(target, method, headers)
        except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
            if not reused:
                raise
            # The server closed an idle keep-alive connection: that is not a failure.
            self.close()
            return self._send(target, method, headers)

    def _send(self, target: Target, method: str,
              headers: Mapping[str, str]) -> http.client.HTTPResponse:
        conn = self._connection(target)
        proxy = self._proxy
        forwarded = proxy is not None and target.scheme == "http"  # not tunnelled: it answers
        path, sent = target.path, dict(headers)
        if proxy is not None and forwarded:
            path = target.absolute
            sent.update(proxy.headers())
        try:
            if proxy is not None and conn.sock is None:
                _open_through(conn, proxy)
            conn.request(method, path, headers=sent)
            self.sock = conn.sock
            response = self._last = conn.getresponse()
        except ssl.SSLCertVerificationError as exc:  # no retry can fix this: a final answer
            self.close()
            raise NetworkError(f"{target.host}:{target.port}: TLS certificate not accepted "
                               f"({exc.verify_message or exc.reason}) for {redact_url(target.url)}"
                               ) from None
        except BaseException:
            self.close()
            raise
        if proxy is not None and forwarded and response.status == 407:
            self.close()
            raise proxy_auth_error(proxy)
        return response

    def _connection(self, target: Target) -> http.client.HTTPConnection:
        if self._conn is not None and self._key == target.key:
            return self._conn
        self.close()
        proxy = self._proxies.choose(*target.key)
        host, port = (proxy.host, proxy.port) if proxy is not None else (target.host, target.port)
        conn: http.client.HTTPConnection
        if target.scheme == "https":
            conn = http.client.HTTPSConnection(host, port, timeout=self._timeout,
                                               context=tls_context(self._verify))
            if proxy is not None:  # TLS goes to the origin (SNI, certificate) inside the tunnel
                conn.set_tunnel(target.host, target.port, headers=proxy.headers())
        else:
            conn = http.client.HTTPConnection(host, port, timeout=self._timeout)
        self._conn, self._proxy, self._key = conn, proxy, target.key
        return conn

    def set_timeout(self, seconds: float) -> None:
        # An answer with `Connection: close` hands its socket to the response, which closes it
        # once read (fileno -1); the next request reconnects, so there is nothing to set.
        if self.sock is not None and self.sock.fileno() != -1:
            self.sock.settimeout(seconds)

    def abort(self) -> None:
        """Wake a thread blocked reading this connection (from another thread): shutdown, not
        close, is what interrupts a blocking recv."""
        sock = self.sock
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
        self._conn, self._proxy, self._key, self.sock = None, None, None, None
        self._last = None


class SocketTransport:
    """The real network: :class:`HttpConnection` (http.client over sockets, TLS, proxies)."""

    def connect(self, timeout: float, verify_ssl: bool, proxies: ProxyRules) -> HttpConnection:
        return HttpConnection(timeout, verify_ssl, proxies)


SOCKETS = SocketTransport()


def _open_through(conn: http.client.HTTPConnection, proxy: Proxy) -> None:
    """Connect to the proxy (for https: open the tunnel and the TLS session through it) before
    the request, so that a failure there names the proxy instead of passing for the origin's."""
    try:
        conn.connect()
    except ssl.SSLError:  # the origin's TLS, inside a working tunnel: not the proxy's fault
        raise
    except OSError as exc:
        raise connect_error(proxy, exc) from None


def request_following(conn: Connection, url: str, *, method: str = "GET",
                      headers: Mapping[str, str] | None = None,
                      credentials: Credentials = NO_CREDENTIALS,
                      ) -> tuple[Response, str]:
    """Send a request, following redirects by hand; return the final response and URL.

    ``credentials`` go only to their own origin (scheme, host and port): a redirect to another
    host, to another port of the same host, or from https to http gets none. ``headers`` (Range,
    If-Range, User-Agent) go everywhere. A 303 turns into a GET as browsers do. A redirect to
    anything but an http(s) URL is the server's fault, not the user's: a DownloadError.
    """
    target = parse_url(url)
    for _ in range(MAX_REDIRECTS + 1):
        sent = {"User-Agent": "modelshelf", "Accept-Encoding": "identity", **(headers or {}),
                **credentials.headers_for(url)}
        response = conn.request(target, method, sent)
        if response.status not in REDIRECT_STATUSES:
            return response, url
        location = response.getheader("Location")
        _discard(conn, response)
        if not location:
            raise DownloadError(f"{redact_url(url)}: HTTP {response.status} redirect without "
                                "Location")
        url, target = _redirect_target(url, location)
        if response.status == 303:
            method = "GET"
    raise DownloadError(f"{redact_url(url)}: more than {MAX_REDIRECTS} redirects")


def _redirect_target(url: str, location: str) -> tuple[str, Target]:
    """Where a redirect from ``url`` leads, or a DownloadError naming both (masked)."""
    try:
        following = urljoin(url, location)
        return following, parse_url(following)
    except (ValueError, UsageError):
        raise DownloadError(f"{redact_url(url)}: the server redirected to "
                            f"{redact_url(location)}, which is not an http(s) URL the download "
                            "can follow") from None


def _discard(conn: Connection, response: Response) -> None:
    """Drop a small body to keep the connection; close it rather than read a big one."""
    if response.length is not None and response.length <= _MESSAGE_BYTES:
        response.read()
    else:
        conn.close()


class BadAnswer(http.client.HTTPException):
    """An answer that contradicts itself (a 206 whose Content-Length is not its Content-Range's
    span, a range past the total): retried like a broken connection, a bounded number of times,
    then reported. Never written: such bytes cannot be trusted to sit where the range says."""


class RetryableStatus(Exception):
    """A 5xx/429-like answer: worth another try after a pause."""

    def __init__(self, status: int, url: str, message: str, retry_after: float = 0.0) -> None:
        super().__init__(f"HTTP {status}")
        self.status, self.url, self.message = status, url, message
        self.retry_after = retry_after  # what the server asked for (seconds), at most a minute

    def final(self, tries: int) -> ModelshelfError:
        return status_error(self.status, self.url, self.message, f"after {tries} tries")


def check_status(response: Response, url: str, ok: tuple[int, ...]) -> None:
    """Pass ``ok`` statuses; raise RetryableStatus for busy servers, a typed error otherwise."""
    if response.status in ok:
        return
    raise answer_error(response.status, url, read_message(response),
                       response.getheader("Retry-After"))


def answer_error(status: int, url: str, message: str,
                 retry_after_header: str | None = None) -> ModelshelfError | RetryableStatus:
    """What a non-ok status means: RetryableStatus for a busy server (with the wait it asks
    for), a typed final error otherwise. Any HTTP client's answer goes through here (the
    engine's http.client, the sources' httpx), so every caller retries the same statuses."""
    if status not in RETRYABLE_STATUSES:
        return status_error(status, url, message)
    wait = retry_after(retry_after_header)
    if wait > MAX_RETRY_AFTER:  # an hour's ban: waiting silently through it helps nobody
        return status_error(status, url, message,
                            f"the server asks to wait {wait:.0f} s: try again later")
    return RetryableStatus(status, url, message, wait)


def retry_after(value: str | None) -> float:
    """Seconds from a Retry-After header (delta-seconds or an HTTP date): rate-limited Hub and
    CDN answers say how long to wait, and hammering earlier only fails."""
    if not value:
        return 0.0
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return 0.0
        seconds = when.timestamp() - time.time()
    return max(0.0, seconds) if math.isfinite(seconds) else 0.0
