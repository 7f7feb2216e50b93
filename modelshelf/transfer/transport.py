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
from typing import TYPE_CHECKING, Protocol, overload

if TYPE_CHECKING:
    from modelshelf.transfer.http import Target
    from modelshelf.transfer.policy import NetworkPolicy


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
    """Opens connections that follow a policy (timeouts, TLS, proxies)."""

    def connect(self, policy: NetworkPolicy) -> Connection: ...
