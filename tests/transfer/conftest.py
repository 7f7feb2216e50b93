"""Fixtures for the transfer engine's tests: random payloads and fast-failing download options."""

from __future__ import annotations

import hashlib
import os
import ssl
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from modelshelf.staging import ResumeState
from modelshelf.testing.server import LocalServer
from modelshelf.transfer import NetworkPolicy

MIB = 2**20


@pytest.fixture
def payload() -> bytes:
    """6 MiB and a bit: enough for many 256 KiB pieces, odd size to catch off-by-ones."""
    return os.urandom(6 * MIB + 4321)


@pytest.fixture
def staging(tmp_path: Path) -> Path:
    return tmp_path / "staging"


@pytest.fixture
def fast() -> NetworkPolicy:
    """The network policy for tests: small pieces, short backoff, short stall timeout."""
    return NetworkPolicy(min_piece=256 * 1024, retry_base_delay=0.01, timeout=5.0,
                         stall_seconds=5.0, connections=8)


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def staged_data(staging: Path) -> list[Path]:
    """Files holding downloaded bytes or state (the empty lock files don't count)."""
    if not staging.exists():
        return []
    return sorted(p for p in staging.iterdir() if p.suffix != ".lock")


def saved_state(staging: Path) -> ResumeState:
    states = [p for p in staging.iterdir() if p.suffix == ".json"]
    assert len(states) == 1, states
    state = ResumeState.load(states[0])
    assert state is not None
    return state


def parse_range(header: str | None, size: int) -> tuple[int, int]:
    """A logged Range header as a half-open span (the whole file when absent)."""
    if not header:
        return 0, size
    first, last = header.removeprefix("bytes=").split("-")
    return int(first), min(int(last) + 1, size) if last else size


def settled_bytes_served(server: LocalServer, path: str) -> int:
    """Bytes served for ``path`` once the log stops growing (the server logs a request after
    its last byte is sent, so right after a download the last entries may still be missing)."""
    seen = -1
    for _ in range(50):
        now = server.bytes_served(path)
        if now == seen:
            return now
        seen = now
        time.sleep(0.05)
    return seen


@pytest.fixture
def tls_server(tls_context: ssl.SSLContext) -> Iterator[LocalServer]:
    with LocalServer(tls=tls_context) as srv:
        yield srv


class _Abort(Exception):
    pass


def interrupt_download(server: LocalServer, staging: Path, options: NetworkPolicy) -> None:
    """Run a download of ``/m.bin`` until a bit more than 1 MiB is done, then stop it (like
    Ctrl-C), leaving resume state behind."""
    from modelshelf.transfer import download

    server.faults.rate_per_connection = 2e6

    def stop_midway(done: int, _total: int | None) -> None:
        if done > MIB:
            raise _Abort

    with pytest.raises(_Abort):
        download(server.url + "/m.bin", staging, options, progress=stop_midway)
    server.faults.rate_per_connection = None
