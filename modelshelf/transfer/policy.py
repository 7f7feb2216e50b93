"""The two values a transfer is described by: *what* to fetch (:class:`Endpoint`) and *how*
the network may be used (:class:`NetworkPolicy`).

They replace a long list of keyword arguments: a caller builds an ``Endpoint`` per file from
what its source resolved, and one ``NetworkPolicy`` per pull from the settings, and every layer
below (engine, workers, probe, Range reader) reads the same two frozen objects.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from modelshelf.config import TransferSettings
from modelshelf.secrets import NO_CREDENTIALS, Credentials
from modelshelf.transfer.http import SOCKETS
from modelshelf.transfer.proxy import NO_PROXIES, ProxyRules
from modelshelf.transfer.retry import Backoff
from modelshelf.transfer.transport import Connection, Transport

MIN_PIECE = 2**20  # like aria2c -k1M: never split finer than this
_SMALLEST_PIECE = 4 * 1024


@dataclass(frozen=True)
class Endpoint:
    """One remote file: its URL, the credentials for the origin that issued it, and what the
    source already knows about it (both checked: a mismatch is an error, never a stored file)."""

    url: str
    credentials: Credentials = field(default=NO_CREDENTIALS, repr=False)
    expected_sha256: str | None = None  # hex; checked against the bytes as they stream
    expected_size: int | None = None  # checked against what the server announces


def as_endpoint(endpoint: Endpoint | str) -> Endpoint:
    """A bare URL is an endpoint with no credentials and nothing known in advance."""
    return Endpoint(endpoint) if isinstance(endpoint, str) else endpoint


@dataclass(frozen=True)
class NetworkPolicy:
    """How hard and how wide to try: connections, retries, timeouts, TLS and proxies.

    ``retry_base_delay`` scales the backoff (tests make it tiny); ``min_piece`` is the smallest
    split (like aria2c's ``-k``); ``stall_seconds`` is how long a silent body socket is waited
    for before the piece is retried on a fresh connection; ``transport`` opens the connections
    (the real network unless a test passes an in-memory one).
    """

    connections: int = TransferSettings.connections
    retries: int = 6
    retry_base_delay: float = 0.5
    timeout: float = 30.0
    stall_seconds: float = 20.0
    verify_ssl: bool = True
    proxies: ProxyRules = NO_PROXIES
    min_piece: int = MIN_PIECE
    transport: Transport = field(default=SOCKETS, repr=False, compare=False)

    @property
    def backoff(self) -> Backoff:
        return Backoff(max(1, self.retries), self.retry_base_delay)

    def connection(self) -> Connection:
        """A new keep-alive connection that follows this policy (timeout, TLS, proxies)."""
        return self.transport.connect(self.timeout, self.verify_ssl, self.proxies)

    @property
    def piece_floor(self) -> int:
        """``min_piece`` made sane (a piece smaller than a few KiB costs more than it moves)."""
        return max(_SMALLEST_PIECE, self.min_piece)

    @property
    def max_connections(self) -> int:
        return max(1, self.connections)
