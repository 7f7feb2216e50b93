"""Staging and locks as a user meets them: a full disk, partials `du` shows and `gc` frees, and a
pull that waits on another process's download yet still stops when asked."""

from __future__ import annotations

import errno
import fcntl
import logging
import os
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from modelshelf.api import PullOptions, Shelf
from modelshelf.api.pull import PullCancelled
from modelshelf.staging import StagingPaths
from modelshelf.testing.server import LocalServer

MIB = 2**20


@pytest.fixture
def full_disk_after(monkeypatch: pytest.MonkeyPatch) -> Callable[[int], None]:
    """The disk fills up once ``limit`` bytes of partial data are written (pwrite -> ENOSPC)."""

    def arm(limit: int) -> None:
        written = [0]
        real = os.pwrite

        def pwrite(fd: int, data: Any, offset: int) -> int:
            if written[0] + len(data) > limit:
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
            written[0] += len(data)
            return real(fd, data, offset)

        monkeypatch.setattr("modelshelf.transfer.disk.os.pwrite", pwrite)

    return arm


def test_disk_full_on_an_unresumable_download_says_so_and_leaves_nothing(
        cli: Callable[..., Any], server: LocalServer, isolated_env: Path,
        full_disk_after: Callable[[int], None]) -> None:
    server.add_file("/big.bin", os.urandom(4 * MIB))
    server.faults.ignore_range = True  # the whole body each time: nothing to resume from
    full_disk_after(MIB)
    result = cli("pull", server.url + "/big.bin")
    assert result.code == 1
    (line,) = result.err.strip().splitlines()
    assert "disk is full" in line and "to resume" not in line and "start over" in line
    assert cli("du", "--json").json["partial_bytes"] == 0
    assert [p.name for p in (isolated_env / "staging").iterdir() if p.suffix != ".lock"] == []


def test_disk_full_on_a_resumable_download_keeps_it_and_says_resume(
        cli: Callable[..., Any], server: LocalServer, isolated_env: Path,
        full_disk_after: Callable[[int], None]) -> None:
    server.add_file("/big.bin", os.urandom(4 * MIB))
    full_disk_after(MIB)
    result = cli("pull", server.url + "/big.bin", "--connections", "1")
    assert result.code == 1 and "run again to resume" in result.err
    usage = cli("du", "--json").json
    assert usage["partial_bytes"] > 0 and usage["stale_partial_bytes"] == 0
    assert cli("gc", "--json").json["stale_partials"] == []  # gc keeps what a rerun resumes


def test_du_shows_and_gc_frees_a_partial_nobody_can_resume(
        cli: Callable[..., Any], isolated_env: Path) -> None:
    """What a download of unknown size killed mid-way leaves: data and no resume state."""
    staging = isolated_env / "staging"
    staging.mkdir(parents=True)
    dead = StagingPaths.for_key(staging, "http://127.0.0.1/dead.bin", None)
    dead.part.write_bytes(b"x" * 5000)
    busy = StagingPaths.for_key(staging, "http://127.0.0.1/busy.bin", None)
    busy.part.write_bytes(b"y" * 3000)
    human = cli("du")
    assert "partials" in human.out and "`modelshelf gc` frees it" in human.out
    usage = cli("du", "--json").json
    assert usage["partial_bytes"] == 8000 and usage["stale_partial_bytes"] == 8000
    with busy.lock.open("wb") as held:  # a download running in another process
        fcntl.flock(held, fcntl.LOCK_EX)
        result = cli("gc", "--json")
        assert result.code == 0
        assert [(Path(p["path"]).name, p["reason"]) for p in result.json["stale_partials"]] == [
            (dead.part.name, "cannot be resumed")]
        assert result.json["freed_bytes"] == 5000
    assert not dead.part.exists() and busy.part.exists()


@pytest.fixture
def waiting_log(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    with caplog.at_level(logging.WARNING, logger="modelshelf"):
        yield caplog


def test_a_pull_waiting_on_another_process_download_says_so_and_can_be_cancelled(
        server: LocalServer, isolated_env: Path, waiting_log: pytest.LogCaptureFixture) -> None:
    url = server.url + "/shared.bin"
    server.add_file("/shared.bin", os.urandom(MIB))
    shelf = Shelf()
    lock = StagingPaths.for_key(shelf.store.staging_dir, url, None).lock
    cancel = threading.Event()
    outcome: list[BaseException | object] = []

    def pull() -> None:
        try:
            outcome.append(shelf.pull_result(url, PullOptions(), cancel=cancel))
        except BaseException as exc:  # PullCancelled is a BaseException, like CancelledError
            outcome.append(exc)

    with lock.open("wb") as held:  # another process is downloading this URL
        fcntl.flock(held, fcntl.LOCK_EX)
        held.write(b"4242\n")
        held.flush()
        worker = threading.Thread(target=pull)
        worker.start()
        for _ in range(600):  # until the pull says it waits (or a generous bound)
            if any("waiting for another modelshelf process" in r.getMessage()
                   for r in waiting_log.records):
                break
            time.sleep(0.05)
        cancel.set()
        worker.join(60)
        assert not worker.is_alive(), "the wait did not end when the pull was cancelled"
    assert isinstance(outcome[0], PullCancelled)
    (message,) = {r.getMessage() for r in waiting_log.records}
    assert "(pid 4242)" in message and "/shared.bin" in message
    assert server.requests_for("/shared.bin") == []
    assert not any("url" in p.name for p in shelf.store.locks_dir.iterdir())  # one lock only
