"""Memory stays flat whatever the file size: fixed buffers, pwrite, no growing bookkeeping."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from modelshelf.testing.server import LocalServer

# The child reports its own peak (VmHWM, of the memory its program got at exec). Not the
# ``ru_maxrss`` a wait4 returns: Linux carries the high-water mark across exec, and a child
# started by vfork shares the parent's memory until then, so after a suite's heavier tests it
# reported pytest's ~490 MiB, not the download's.
_CHILD = """
import sys
from pathlib import Path
from modelshelf.transfer import download
download(sys.argv[1], Path(sys.argv[2]))
with open("/proc/self/status") as fh:
    print(next(line.split()[1] for line in fh if line.startswith("VmHWM:")))
"""


@pytest.mark.slow
@pytest.mark.skipif(not os.path.exists("/proc/self/status"), reason="needs Linux's /proc")
def test_peak_rss_is_flat_for_a_large_file(server: LocalServer, tmp_path: Path) -> None:
    source = tmp_path / "big.bin"
    with source.open("wb") as fh:
        fh.truncate(2 * 2**30)  # sparse: the page cache serves zeros, the client writes 2 GiB
    server.add_file("/big.bin", source)
    child = subprocess.run([sys.executable, "-c", _CHILD, server.url + "/big.bin",
                            str(tmp_path / "staging")], capture_output=True, text=True)
    assert child.returncode == 0, child.stderr
    assert int(child.stdout) < 150 * 1024  # KiB
