"""Memory stays flat whatever the file size: fixed buffers, pwrite, no growing bookkeeping."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from modelshelf.testing.server import LocalServer

_CHILD = """
import sys
from pathlib import Path
from modelshelf.transfer import download
download(sys.argv[1], Path(sys.argv[2]))
"""


@pytest.mark.slow
def test_peak_rss_is_flat_for_a_large_file(server: LocalServer, tmp_path: Path) -> None:
    source = tmp_path / "big.bin"
    with source.open("wb") as fh:
        fh.truncate(2 * 2**30)  # sparse: the page cache serves zeros, the client writes 2 GiB
    server.add_file("/big.bin", source)
    child = subprocess.Popen([sys.executable, "-c", _CHILD, server.url + "/big.bin",
                              str(tmp_path / "staging")])
    _, status, usage = os.wait4(child.pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert usage.ru_maxrss < 150 * 1024  # KiB
