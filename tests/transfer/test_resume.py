"""Resume: a killed download continues with only the missing ranges, unless the remote changed."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from modelshelf.testing.server import LocalServer
from modelshelf.transfer import Endpoint, NetworkPolicy, download
from modelshelf.transfer.ranges import merge

from .conftest import MIB, interrupt_download, parse_range, saved_state, settled_bytes_served, sha

_CHILD = """
import sys
from pathlib import Path
from modelshelf.transfer import Endpoint, NetworkPolicy, download
from modelshelf.transfer import Endpoint, NetworkPolicy
download(Endpoint(sys.argv[1], expected_sha256=sys.argv[3]), Path(sys.argv[2]),
         NetworkPolicy(connections=4, min_piece=256 * 1024, retry_base_delay=0.01))
"""


def _overlaps(span: tuple[int, int], done: list[tuple[int, int]]) -> bool:
    return any(span[0] < end and start < span[1] for start, end in done)


def test_kill_9_then_resume_fetches_only_missing_ranges(
        server: LocalServer, payload: bytes, staging: Path) -> None:
    server.add_file("/m.bin", payload)
    server.faults.rate_per_connection = 1e6  # ~4 MB/s over 4 connections: killed mid-way
    child = subprocess.Popen([sys.executable, "-c", _CHILD, server.url + "/m.bin", str(staging),
                              sha(payload)])
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            states = list(staging.glob("*.json")) if staging.exists() else []
            if states and sum(e - s for s, e in json.loads(states[0].read_text())["done"]) > MIB:
                break
            time.sleep(0.05)
        os.kill(child.pid, signal.SIGKILL)
    finally:
        child.wait()
    state = saved_state(staging)
    assert 0 < state.bytes_done() < len(payload)

    server.faults.rate_per_connection = None
    settled_bytes_served(server, "/m.bin")
    server.clear_log()
    result = download(Endpoint(server.url + "/m.bin", expected_sha256=sha(payload)), staging,
                      NetworkPolicy(connections=4, min_piece=256 * 1024))
    assert result.sha256 == sha(payload) and result.path.read_bytes() == payload
    assert result.resumed
    assert result.bytes_downloaded == len(payload) - state.bytes_done()
    settled_bytes_served(server, "/m.bin")
    fetched = [parse_range(r.range, len(payload)) for r in server.requests_for("/m.bin")]
    assert fetched
    assert not any(_overlaps(span, merge(state.done)) for span in fetched)


def test_interrupted_download_resumes(
        server: LocalServer, payload: bytes, staging: Path, fast: NetworkPolicy) -> None:
    server.add_file("/m.bin", payload)
    interrupt_download(server, staging, fast)
    done = saved_state(staging).bytes_done()
    assert done > MIB
    result = download(server.url + "/m.bin", staging, fast)
    assert result.path.read_bytes() == payload
    assert result.resumed and result.restarted_reason is None
    assert result.bytes_downloaded == len(payload) - done


def test_changed_remote_between_runs_starts_over(
        server: LocalServer, payload: bytes, staging: Path, fast: NetworkPolicy) -> None:
    server.add_file("/m.bin", payload)
    interrupt_download(server, staging, fast)
    new = os.urandom(len(payload) - 1000)
    server.replace_file("/m.bin", new)
    result = download(server.url + "/m.bin", staging, fast)
    assert result.path.read_bytes() == new  # never old bytes mixed with new ones
    assert result.restarted_reason and "changed" in result.restarted_reason
    assert result.bytes_downloaded == len(new)


def test_finished_but_unclaimed_file_is_returned_without_network(
        server: LocalServer, payload: bytes, staging: Path, fast: NetworkPolicy) -> None:
    server.add_file("/m.bin", payload)
    first = download(Endpoint(server.url + "/m.bin", expected_sha256=sha(payload)), staging, fast)
    server.clear_log()
    again = download(Endpoint(server.url + "/m.bin", expected_sha256=sha(payload)), staging, fast)
    assert again.path == first.path and again.sha256 == sha(payload)
    assert again.bytes_downloaded == 0
    assert server.log == []


def test_claimed_file_is_downloaded_again(
        server: LocalServer, payload: bytes, staging: Path, fast: NetworkPolicy) -> None:
    server.add_file("/m.bin", payload)
    first = download(server.url + "/m.bin", staging, fast)
    first.path.rename(staging.parent / "store-blob")  # what the store does with it
    again = download(server.url + "/m.bin", staging, fast)
    assert again.bytes_downloaded == len(payload) and again.path.read_bytes() == payload
