"""Every server we run answers a kept-alive connection's second request at once.

An answer leaves in several writes; with Nagle's algorithm on, the last one waited for the
client's delayed ACK, so each request after the first on a connection took ~44 ms (a Hub
client's metadata calls through the mirror, every poll of the web page). Asserted on the
server's side of the connection rather than with a clock: no timing in tests.
"""

from __future__ import annotations

import http.client
import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from modelshelf.api import Shelf
from modelshelf.server.mirror import MirrorServer
from modelshelf.server.threads import QuietHTTPServer
from modelshelf.server.web import WebServer
from modelshelf.testing.hub import FakeHub


@pytest.fixture
def nodelay(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[int]]:
    """TCP_NODELAY of each server-side connection, read once its requests were answered."""
    seen: list[int] = []
    done = threading.Event()
    original = QuietHTTPServer.finish_request

    def finish_request(self: QuietHTTPServer, request: Any, client_address: Any) -> None:
        original(self, request, client_address)
        seen.append(request.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
        done.set()

    monkeypatch.setattr(QuietHTTPServer, "finish_request", finish_request)
    yield seen
    assert done.wait(10), "the server never finished the connection"


def _mirror(tmp_path: Path) -> AbstractContextManager[Any]:
    return MirrorServer(Shelf())


def _web(tmp_path: Path) -> AbstractContextManager[Any]:
    return WebServer(Shelf())


def _hub(tmp_path: Path) -> AbstractContextManager[Any]:
    hub = FakeHub()
    hub.add_repo("org/x", {"config.json": b"{}"})
    return hub


@pytest.mark.parametrize("make", [_mirror, _web, _hub], ids=["mirror", "web page", "test Hub"])
def test_a_second_request_on_a_kept_alive_connection_is_not_held_back(
        make: Callable[[Path], AbstractContextManager[Any]], tmp_path: Path,
        nodelay: list[int]) -> None:
    with make(tmp_path) as server:
        url = urlsplit(server.url)
        conn = http.client.HTTPConnection(url.hostname or "", url.port)
        for _ in range(2):
            conn.request("GET", "/api/models/org/x")
            response = conn.getresponse()
            response.read()
            assert response.getheader("Connection", "").lower() != "close"
        conn.close()
    assert nodelay and all(nodelay), "Nagle's algorithm is on for the server's connections"
