"""A threaded HTTP server that runs in the background: the mirror's, and the test servers'.

``Serving`` gives any holder of an ``_httpd`` ``start``/``stop`` and ``with``, so a server can be
embedded in a program or a test (``with MirrorServer(shelf) as mirror: ...``), and
``serve_forever``/``close`` to run it in the foreground (``modelshelf serve``).
"""

from __future__ import annotations

import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self


class QuietHTTPServer(ThreadingHTTPServer):
    """One thread per connection, many queued connections, quiet about hang-ups."""

    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Clients that hang up (a download engine dropping a stolen range) are not errors."""
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class KeepAliveHandler(BaseHTTPRequestHandler):
    """HTTP/1.1 (connections kept alive: every answer carries its length), Nagle's algorithm off,
    no log on stderr.

    An answer leaves in more than one write (status line and headers, then the body). With
    Nagle on, a write that follows a small unacknowledged one waits for the client's ACK, which
    Linux delays by up to 40 ms: every request after the first on a kept-alive connection took
    ~44 ms instead of ~1 ms — the mirror answering a Hub client's metadata calls, the web page's
    polls, and the test Hub (where it added ~40 ms to every call of every benchmarked tool).
    Real servers answer at once (nginx's ``tcp_nodelay``, on by default).

    A subclass binds the ``do_<METHOD>`` names it answers to one dispatcher
    (``do_GET = do_HEAD = _dispatch``), which reads the method from ``self.command``;
    http.server answers every method left unbound with 501.
    """

    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: a server's owner (the CLI, a test) says what matters."""


class Serving:
    """``start``/``stop`` and ``with`` for a server: ``_httpd`` served on a daemon thread
    (short poll, so ``stop`` returns at once)."""

    _httpd: QuietHTTPServer

    def start(self) -> Self:
        threading.Thread(target=self._httpd.serve_forever, daemon=True,
                         kwargs={"poll_interval": 0.05}).start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def serve_forever(self) -> None:
        """Serve in the foreground (``modelshelf serve``) until interrupted."""
        self._httpd.serve_forever()

    def close(self) -> None:
        """Release the port (after ``serve_forever`` returned, or when never started)."""
        self._httpd.server_close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
