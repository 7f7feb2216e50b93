"""`pull` of direct URLs end to end: the store, the registry, dedupe, errors, exit codes."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from cli_helpers import spawn

from modelshelf.testing.server import LocalServer


def test_pull_registers_verified_file_and_view(cli, server: LocalServer, random_bytes, home: Path):
    data = random_bytes(3 * 2**20)
    server.add_file("/models/tiny-model.dat", data)
    result = cli("pull", server.url + "/models/tiny-model.dat", "--json")
    assert result.code == 0, result.err
    (item,) = result.json["results"]
    assert item["status"] == "ok"
    assert item["name"] == "tiny-model"
    assert item["files"][0]["sha256"] == hashlib.sha256(data).hexdigest()
    assert item["bytes_downloaded"] == len(data)
    view = Path(item["path"])
    assert view.read_bytes() == data
    assert str(view).startswith(str(home / "views"))

    listed = cli("ls", "--json").json["models"]
    assert [m["name"] for m in listed] == ["tiny-model"]
    assert listed[0]["sha256"] == hashlib.sha256(data).hexdigest()
    assert listed[0]["size"] == len(data)


def test_second_pull_transfers_nothing(cli, server: LocalServer, random_bytes):
    server.add_file("/a.dat", random_bytes(2**20))
    assert cli("pull", server.url + "/a.dat").code == 0
    server.clear_log()
    again = cli("pull", server.url + "/a.dat", "--json")
    assert again.code == 0
    assert again.json["results"][0]["bytes_downloaded"] == 0
    assert server.requests_for("/a.dat") == []


def test_two_names_one_blob_and_du_shows_saving(cli, server: LocalServer, random_bytes, home):
    data = random_bytes(2**20, seed=7)
    server.add_file("/one.dat", data)
    server.add_file("/two.dat", data)
    assert cli("pull", server.url + "/one.dat").code == 0
    assert cli("pull", server.url + "/two.dat").code == 0
    usage = cli("du", "--json").json
    assert usage["total_bytes"] == 2 * len(data)
    assert usage["unique_bytes"] == len(data)
    assert usage["saved_bytes"] == len(data)
    paths = [Path(m["path"]) for m in cli("ls", "--json").json["models"]]
    assert paths[0].stat().st_ino == paths[1].stat().st_ino


def test_wrong_sha256_registers_nothing(cli, server: LocalServer, random_bytes):
    server.add_file("/m.dat", random_bytes(2**20))
    result = cli("pull", server.url + "/m.dat", "--sha256", "0" * 64)
    assert result.code == 1
    assert result.err.count("\n") == 1 and "sha256" in result.err
    assert "Traceback" not in result.err
    assert cli("ls", "--json").json["models"] == []


def test_malformed_sha256_is_usage_error(cli, server: LocalServer):
    result = cli("pull", server.url + "/m.dat", "--sha256", "xyz")
    assert result.code == 2
    assert "sha256" in result.err


def test_bad_inputs_give_one_line_and_spec_exit_codes(cli, server: LocalServer):
    server.add_route("GET", "/private.dat", lambda r: __import__(
        "modelshelf.testing.server", fromlist=["Response"]).Response(401, b"no"))
    cases = [
        (("frobnicate",), 2),
        (("pull", "http://"), 2),
        (("pull", "not a ref at all !!"), 2),
        (("pull", server.url + "/missing.dat"), 1),
        (("pull", server.url + "/private.dat"), 1),
        (("pull", "http://127.0.0.1:9/closed.dat"), 1),
        (("pull", "--jobs", "zero", server.url + "/x"), 2),
    ]
    for args, code in cases:
        result = cli(*args)
        assert result.code == code, (args, result.err)
        assert result.err.strip().count("\n") == 0, (args, result.err)
        assert "Traceback" not in result.err


def test_name_collision_needs_force(cli, server: LocalServer, random_bytes):
    server.add_file("/x/model.dat", random_bytes(1000, seed=1))
    server.add_file("/y/model.dat", random_bytes(1000, seed=2))
    assert cli("pull", server.url + "/x/model.dat").code == 0
    clash = cli("pull", server.url + "/y/model.dat")
    assert clash.code == 1 and "model" in clash.err
    assert cli("pull", server.url + "/y/model.dat", "--force").code == 0


def test_two_concurrent_pulls_of_one_url_make_one_transfer(server: LocalServer, random_bytes):
    data = random_bytes(8 * 2**20, seed=3)
    server.add_file("/big.dat", data)
    server.faults.rate_per_connection = 8e6
    procs = [spawn("pull", server.url + "/big.dat", "--json") for _ in range(2)]
    outs = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outs
    downloaded = sorted(json.loads(out)["results"][0]["bytes_downloaded"] for out, _ in outs)
    assert downloaded[0] == 0 and downloaded[1] >= len(data)
    # One transfer: stolen ranges may overlap a little on the wire, never a second whole copy.
    assert server.wait_idle()
    assert len(data) <= server.bytes_served("/big.dat") < 1.5 * len(data)


def test_eight_different_concurrent_pulls_leave_consistent_registry(server, random_bytes, cli):
    for i in range(8):
        server.add_file(f"/m{i}.dat", random_bytes(2**20, seed=100 + i))
    procs = [spawn("pull", server.url + f"/m{i}.dat") for i in range(8)]
    for p in procs:
        p.communicate(timeout=120)
        assert p.returncode == 0
    models = cli("ls", "--json").json["models"]
    assert sorted(m["name"] for m in models) == [f"m{i}" for i in range(8)]
    assert cli("verify", "--json").json["failed"] == []


def test_local_import_copy_and_link(cli, tmp_path: Path, random_bytes):
    src = tmp_path / "drive" / "weights.dat"
    src.parent.mkdir()
    src.write_bytes(random_bytes(5000))
    assert cli("pull", str(src)).code == 0
    linked = cli("pull", f"file:{src}", "--link", "--name", "linked", "--json")
    assert linked.code == 0
    assert Path(linked.json["results"][0]["path"]).stat().st_ino == src.stat().st_ino or \
        linked.json["results"][0]["bytes_downloaded"] == 0


def test_verify_detects_corruption(cli, server: LocalServer, random_bytes):
    server.add_file("/v.dat", random_bytes(4096))
    result = cli("pull", server.url + "/v.dat", "--json")
    path = Path(result.json["results"][0]["path"])
    os.chmod(path, 0o644)
    with path.open("r+b") as fh:
        fh.write(b"\xff")
    report = cli("verify", "--json")
    assert report.code == 1
    assert report.json["failed"][0]["name"] == "v"


def test_gc_max_size_evicts_least_recently_used_unpinned(cli, server, random_bytes):
    for name in ("old", "pinned", "new"):
        server.add_file(f"/{name}.dat", random_bytes(2**20, seed=hash(name) % 1000))
        assert cli("pull", server.url + f"/{name}.dat").code == 0
    assert cli("pin", "pinned").code == 0
    plan = cli("gc", "--max-size", "2.5MB", "--dry-run", "--json")
    assert plan.code == 0
    assert [m["name"] for m in cli("ls", "--json").json["models"]] != []
    assert cli("gc", "--max-size", "2.5MB").code == 0
    names = sorted(m["name"] for m in cli("ls", "--json").json["models"])
    assert names == ["new", "pinned"]


def test_json_stdout_is_only_json(cli, server: LocalServer, random_bytes):
    server.add_file("/j.dat", random_bytes(1000))
    result = cli("pull", server.url + "/j.dat", "--json")
    assert result.json["results"][0]["status"] == "ok"
    assert cli("config", "--json").json["sources"]["hf"]["enabled"] is True


def test_kill_9_mid_pull_then_pull_again_resumes(server: LocalServer, random_bytes, home: Path,
                                                cli):
    """The whole CLI, not just the engine: a second `pull` finds the first one's partial."""
    import signal
    import time

    data = random_bytes(12 * 2**20, seed=5)
    server.add_file("/resume.dat", data)
    server.faults.rate_per_connection = 1e6
    child = spawn("pull", server.url + "/resume.dat", "--connections", "4")
    staging = home / "staging"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        states = list(staging.glob("*.json")) if staging.exists() else []
        done = json.loads(states[0].read_text())["done"] if states else []
        if sum(end - start for start, end in done) > 3 * 2**20:
            break
        time.sleep(0.05)
    os.kill(child.pid, signal.SIGKILL)
    child.wait()
    assert server.wait_idle()
    first = server.bytes_served("/resume.dat")
    assert 0 < first < len(data)
    assert cli("ls", "--json").json["models"] == []  # nothing half-done looks complete

    server.faults.rate_per_connection = None
    result = cli("pull", server.url + "/resume.dat", "--json")
    assert result.code == 0, result.err
    item = result.json["results"][0]
    assert item["files"][0]["sha256"] == hashlib.sha256(data).hexdigest()
    assert item["bytes_downloaded"] < len(data)  # only the missing ranges
    assert server.wait_idle()
    assert server.bytes_served("/resume.dat") < len(data) + first
