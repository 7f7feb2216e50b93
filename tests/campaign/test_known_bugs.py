"""The smallest reproduction of each bug the campaign finds, so it can be routed and its fix
proven. Bugs fixed on another branch are strict xfails here: merging the fix turns them into
passes, and strict makes that loud (then drop the marker and the entry in chaos.KNOWN_BUGS)."""

from __future__ import annotations

import hashlib
import json
import os
import random
import subprocess
import sys
from pathlib import Path

from modelshelf.testing.server import LocalServer

from .world import safetensors_bytes

# A client stuck in a retry loop is the bug, not a slow machine: 60 s is ample for 600 KB, even
# through six backed-off retries on a busy machine.
PULL_SECONDS = 60


def _pull(url: str, home: Path) -> tuple[int | None, str, str]:
    """`modelshelf --json pull URL` in a subprocess, killed after PULL_SECONDS (a hang)."""
    proc = subprocess.Popen([sys.executable, "-m", "modelshelf", "--json", "pull", url,
                             "--home", str(home)], text=True, env=os.environ.copy(),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        out, err = proc.communicate(timeout=PULL_SECONDS)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        return None, out, err
    return proc.returncode, out, err


def _stored_right_or_one_clear_error(server: LocalServer, data: bytes, home: Path) -> None:
    """Pull a file whose every answer is faulty: the right bytes or one clear error, in bounded
    time, and no blob but the right one. Two tries and a 2 s stall limit keep a correct client
    quick (the default six backed-off tries take ~20 s); a looping one still never ends."""
    home.parent.joinpath("config.toml").write_text(
        "[transfer]\nretries = 2\nstall_seconds = 2.0\n")
    server.add_file("/m.safetensors", data)
    code, out, err = _pull(server.url + "/m.safetensors", home)
    assert code is not None, "pull did not finish (retry loop)"
    if code == 0:
        files = json.loads(out)["results"][0]["files"]
        assert files[0]["sha256"] == hashlib.sha256(data).hexdigest(), "wrong bytes stored"
    else:
        assert code == 1 and len(err.strip().splitlines()) == 1, err
    blobs = list((home / "blobs").rglob("sha256/*/*"))
    assert all(p.name == hashlib.sha256(data).hexdigest() for p in blobs), "orphan/wrong blob"


_DATA = safetensors_bytes(random.Random(8), 600 * 1024)


def test_short_206_ends(server: LocalServer, isolated_env: Path) -> None:
    """Every 206 1 KiB shorter than its Content-Range: a clear error after the retries, never a
    loop that counts each short answer as progress."""
    server.faults.bad_length, server.faults.length_delta = 10**6, 1024
    _stored_right_or_one_clear_error(server, _DATA, isolated_env)


def test_content_range_past_total_refused(server: LocalServer, isolated_env: Path) -> None:
    server.faults.bad_range = 10**6
    _stored_right_or_one_clear_error(server, _DATA, isolated_env)


def test_gzip_body_not_stored(server: LocalServer, isolated_env: Path) -> None:
    server.faults.gzip_bodies = 10**6
    _stored_right_or_one_clear_error(server, _DATA, isolated_env)
