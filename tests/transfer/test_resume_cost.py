"""What a ``kill -9`` costs: the bytes a resumed download fetches twice, counted by the server.

Issue 9's goal: a 64 MiB file killed a third of the way through re-fetches at most 15% of it,
bytes that were in flight at the kill included. The download kills itself (SIGKILL, from its
progress callback) once a third of the file has landed, and the cost is read from the server's
log, so nothing here depends on how fast the machine is.
"""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
from pathlib import Path

from modelshelf.testing.server import LocalServer
from modelshelf.transfer import download

from .conftest import MIB, settled_bytes_served

SIZE = 64 * MIB
# A kill -9 at a byte count: no handler runs, no last save is made.
KILLED_AT_A_THIRD = """
import os, signal, sys
from pathlib import Path
from modelshelf.transfer import NetworkPolicy, download

def kill_at_a_third(done, total):
    if total and done >= total // 3:
        os.kill(os.getpid(), signal.SIGKILL)

download(sys.argv[1], Path(sys.argv[2]), NetworkPolicy(connections=16),
         progress=kill_at_a_third)
"""


def test_kill_9_at_a_third_refetches_a_small_part(server: LocalServer,
                                                         staging: Path) -> None:
    payload = os.urandom(SIZE)
    digest = hashlib.sha256(payload).hexdigest()
    server.add_file("/big.bin", payload)
    # 16 connections x 10 MB/s (aria2c's count): a third of the file lands in ~0.15 s, well
    # inside the engine's half-second timer for saving the resume state. Not the default 32:
    # their step from 16 comes ~0.1 s in, just when this kill does, and sixteen fresh
    # connections each hold the server's first burst, lost to the kill (up to ~12% more, now
    # and then); the bench measures the default.
    server.faults.rate_per_connection = 10e6
    child = subprocess.run([sys.executable, "-c", KILLED_AT_A_THIRD, server.url + "/big.bin",
                            str(staging)], timeout=120)
    assert child.returncode == -signal.SIGKILL

    server.faults.rate_per_connection = None
    assert settled_bytes_served(server, "/big.bin") < SIZE
    result = download(server.url + "/big.bin", staging)
    assert result.sha256 == digest
    extra = settled_bytes_served(server, "/big.bin") - SIZE
    # The goal (<= 15 %, median 8.7 %) is measured by `bench/download.py --modes resume`; a save
    # of the state file can stall ~0.2 s on a congested disk, so the test allows 25 % — still
    # far below the 38-48 % of the code before state was saved by bytes landed.
    assert extra <= 0.25 * SIZE, f"re-fetched {extra / SIZE:.0%} of the file"
