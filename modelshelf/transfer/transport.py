"""The seam between the engine and the network, as httpx's ``BaseTransport`` is.

The engine, its workers, the probe and the Range reader only ever ask a :class:`Transport` for
a :class:`Connection` and send requests on it; what comes back is anything shaped like
``http.client.HTTPResponse`` (:class:`Response`). The real transport is
:class:`~modelshelf.transfer.http.SocketTransport` (http.client over sockets, TLS, proxies);
tests can pass an in-memory one in :class:`~modelshelf.transfer.policy.NetworkPolicy` and
exercise scheduling, retries, resume and verification without opening a socket.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol, overload

from modelshelf.transfer.proxy import ProxyRules


@dataclass(frozen=True)
class Target:
    """A parsed http(s) URL: where to connect and what to ask for."""

    url: str
    scheme: str
    host: str  # lower-case host name
    port: int
    path: str  # path + query, what goes on the request line

    @property
    def key(self) -> tuple[str, str, int]:
        """What a keep-alive connection is good for (and the origin credentials are scoped to)."""
        return self.scheme, self.host, self.port

    @property
    def absolute(self) -> str:
        """The absolute-URI request target a forward proxy needs (no user info, no fragment)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.scheme}://{host}:{self.port}{self.path}"


class Response(Protocol):
    """The part of ``http.client.HTTPResponse`` the engine uses."""

    status: int
    length: int | None  # body bytes still to read when the server said (None: unknown)

    @overload
    def getheader(self, name: str) -> str | None: ...

    @overload
    def getheader(self, name: str, default: str) -> str: ...

    def read(self, amt: int | None = None) -> bytes: ...

    def readinto(self, b: memoryview) -> int: ...

    def isclosed(self) -> bool: ...


class Connection(Protocol):
    """One keep-alive connection a worker owns: requests go out one at a time."""

    def request(self, target: Target, method: str, headers: Mapping[str, str]) -> Response:
        """Send a request (reconnecting as needed) and return the answer's head."""
        ...

    def set_timeout(self, seconds: float) -> None:
        """How long a read may wait for the next byte before it fails (a stalled body)."""
        ...

    def abort(self) -> None:
        """Wake a thread blocked reading this connection, from another thread."""
        ...

    def close(self) -> None: ...


class Transport(Protocol):
    """Opens connections as a :class:`~modelshelf.transfer.policy.NetworkPolicy` says."""

    def connect(self, timeout: float, verify_ssl: bool, proxies: ProxyRules) -> Connection: ...
