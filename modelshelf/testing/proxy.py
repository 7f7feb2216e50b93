"""A forward HTTP proxy on 127.0.0.1 for tests: what a corporate proxy does to our connections.

Plain-http requests arrive with an absolute URI and are forwarded (keep-alive on both sides,
bodies streamed, the proxy's own headers dropped as real proxies do); ``CONNECT host:port`` opens
a byte tunnel, so https stays end-to-end TLS with the origin. With ``credentials`` every request
must carry the matching ``Proxy-Authorization: Basic``, or gets 407. Every request is logged
(method, target, whether Proxy-Authorization came, the status answered) when its answer is
decided, so a test reading the log after a download never races the proxy. Only loopback
origins are reached: anything else is refused with 403.
"""

from __future__ import annotations

import base64
import contextlib
import http.client
import selectors
import socket
import threading
from dataclasses import dataclass
from urllib.parse import urlsplit

from modelshelf.server.threads import KeepAliveHandler, QuietHTTPServer, Serving

CHUNK = 256 * 1024
LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})
# Headers about one hop (RFC 9110 7.6.1) and the proxy's own: never passed on.
HOP_HEADERS = frozenset({"connection", "keep-alive", "proxy-authorization", "proxy-authenticate",
                         "proxy-connection", "te", "trailer", "transfer-encoding", "upgrade"})


@dataclass(frozen=True)
class ProxiedRequest:
    method: str
    target: str  # the absolute URI, or host:port for CONNECT
    proxy_auth: bool  # a Proxy-Authorization header came with it
    status: int  # what the proxy answered (the origin's status for a forwarded request)


class ForwardProxy(Serving):
    """``with ForwardProxy(credentials=("u", "p")) as proxy: ... proxy.url_with("u", "p")``."""

    def __init__(self, credentials: tuple[str, str] | None = None) -> None:
        self.expected_auth = None if credentials is None else _basic(*credentials)
        self.stopping = threading.Event()
        self._log: list[ProxiedRequest] = []
        self._lock = threading.Lock()
        self._httpd = QuietHTTPServer(("127.0.0.1", 0), _make_handler(self))
        self.port: int = self._httpd.socket.getsockname()[1]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def url_with(self, user: str, password: str) -> str:
        return f"http://{user}:{password}@127.0.0.1:{self.port}"

    @property
    def log(self) -> list[ProxiedRequest]:
        with self._lock:
            return list(self._log)

    def record(self, entry: ProxiedRequest) -> None:
        with self._lock:
            self._log.append(entry)

    def stop(self) -> None:
        """Stop accepting and end open tunnels (they poll ``stopping``)."""
        self.stopping.set()
        super().stop()


def _basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode("ascii")


def _make_handler(proxy: ForwardProxy) -> type[KeepAliveHandler]:
    class _Handler(KeepAliveHandler):
        _upstream: http.client.HTTPConnection | None = None
        _upstream_key: tuple[str, int] | None = None

        def do_CONNECT(self) -> None:
            host, _, port = self.path.rpartition(":")
            if not self._admitted(host.strip("[]")):
                return
            try:
                upstream = socket.create_connection((host.strip("[]"), int(port)), timeout=10)
            except (OSError, ValueError):
                self._refuse(502, "origin unreachable")
                return
            self._answer(200)
            self.send_response(200, "Connection established")
            self.end_headers()
            self.close_connection = True
            with upstream:
                _relay(self.connection, upstream, proxy.stopping)

        def _forward(self) -> None:
            target = urlsplit(self.path)
            if target.scheme != "http" or not target.hostname:
                self._refuse(400, "a proxy request needs an absolute http:// URI")
                return
            if not self._admitted(target.hostname):
                return
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_HEADERS}
            try:
                conn = self._upstream_for(target.hostname, target.port or 80)
                origin_form = (target.path or "/") + (f"?{target.query}" if target.query else "")
                conn.request(self.command, origin_form, body=body or None, headers=headers)
                answer = conn.getresponse()
            except (OSError, http.client.HTTPException):
                self._close_upstream()
                self._refuse(502, "origin unreachable")
                return
            self._answer(answer.status)
            self._relay_response(answer)

        do_GET = do_HEAD = do_POST = _forward

        def _relay_response(self, answer: http.client.HTTPResponse) -> None:
            self.send_response(answer.status, answer.reason)
            for key, value in answer.getheaders():
                if key.lower() not in HOP_HEADERS:
                    self.send_header(key, value)
            self.end_headers()
            expected = 0 if self.command == "HEAD" else int(answer.getheader("Content-Length") or 0)
            sent = 0
            try:
                while chunk := answer.read(CHUNK):
                    self.wfile.write(chunk)
                    sent += len(chunk)
            except (OSError, http.client.HTTPException):
                pass  # the client left or the origin cut the body: end both, like a proxy does
            if sent < expected or answer.will_close:
                self._close_upstream()
                self.close_connection = True

        def _upstream_for(self, host: str, port: int) -> http.client.HTTPConnection:
            """One keep-alive origin connection per client connection."""
            if self._upstream is None or self._upstream_key != (host, port):
                self._close_upstream()
                self._upstream = http.client.HTTPConnection(host, port, timeout=10)
                self._upstream_key = (host, port)
            return self._upstream

        def _close_upstream(self) -> None:
            if self._upstream is not None:
                self._upstream.close()
            self._upstream, self._upstream_key = None, None

        def finish(self) -> None:
            self._close_upstream()
            with contextlib.suppress(OSError):
                super().finish()

        def _admitted(self, host: str) -> bool:
            """Check credentials and that the origin is loopback; answer (and log) if not."""
            if proxy.expected_auth and self.headers.get("Proxy-Authorization") != proxy.expected_auth:
                self._refuse(407, "proxy authentication required",
                             {"Proxy-Authenticate": 'Basic realm="modelshelf-test"'})
                return False
            if host.lower() not in LOOPBACK:
                self._refuse(403, "this test proxy only reaches loopback")
                return False
            return True

        def _answer(self, status: int) -> None:
            proxy.record(ProxiedRequest(self.command, self.path,
                                        "Proxy-Authorization" in self.headers, status))

        def _refuse(self, status: int, text: str, headers: dict[str, str] | None = None) -> None:
            self._answer(status)
            body = text.encode()
            self.send_response(status)
            for key, value in {**(headers or {}), "Content-Type": "text/plain",
                               "Content-Length": str(len(body))}.items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(body)
            self.close_connection = True

    return _Handler


def _relay(client: socket.socket, upstream: socket.socket, stopping: threading.Event) -> None:
    """Copy bytes both ways until either side closes (or the proxy stops)."""
    with selectors.DefaultSelector() as selector, contextlib.suppress(OSError):
        selector.register(client, selectors.EVENT_READ, upstream)
        selector.register(upstream, selectors.EVENT_READ, client)
        while not stopping.is_set():
            for key, _ in selector.select(timeout=0.1):
                data = key.fileobj.recv(CHUNK)  # type: ignore[union-attr]
                if not data:
                    return
                key.data.sendall(data)


__all__ = ["ForwardProxy", "ProxiedRequest"]
