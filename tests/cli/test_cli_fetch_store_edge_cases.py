"""What a demanding user does to `pull`, `rm`, `pin`, `path` and `verify`: re-pulls under other
names, typos, signed links, interrupts, a full disk, damaged blobs. Each test is one bug found."""

from __future__ import annotations

import hashlib
import os
import signal
import threading
from collections import namedtuple
from collections.abc import Iterator
from pathlib import Path

import pytest

from modelshelf.testing.hub import FakeHub
from modelshelf.testing.server import LocalServer, Request, Response


def _blob(home: Path, sha: str) -> Path:
    return home / "blobs" / "sha256" / sha[:2] / sha


def _flip_byte(path: Path, offset: int = 100) -> None:
    os.chmod(path, 0o644)
    data = bytearray(path.read_bytes())
    data[offset] ^= 0xFF
    path.write_bytes(bytes(data))


def test_bad_name_is_refused_before_any_download(cli, server: LocalServer, random_bytes):
    server.add_file("/m.dat", random_bytes(2**20))
    result = cli("pull", server.url + "/m.dat", "--name", "a/b")
    assert result.code == 2
    assert "model name 'a/b'" in result.err
    assert server.requests_for("/m.dat") == []
    assert cli("du", "--json").json["unique_bytes"] == 0


def test_repull_under_another_name_registers_it_without_a_download(cli, server: LocalServer,
                                                                   random_bytes):
    data = random_bytes(2**20)
    server.add_file("/m.dat", data)
    assert cli("pull", server.url + "/m.dat").code == 0
    server.clear_log()
    again = cli("pull", server.url + "/m.dat", "--name", "second", "--type", "vae", "--json")
    assert again.code == 0, again.err
    (item,) = again.json["results"]
    assert (item["name"], item["type"], item["bytes_downloaded"]) == ("second", "vae", 0)
    assert server.requests_for("/m.dat") == []
    models = {m["name"]: m for m in cli("ls", "--json").json["models"]}
    assert set(models) == {"m", "second"}
    assert Path(models["second"]["path"]).read_bytes() == data


def test_repull_with_another_type_refiles_the_model(cli, server: LocalServer, random_bytes):
    server.add_file("/m.dat", random_bytes(2**20))
    assert cli("pull", server.url + "/m.dat").code == 0
    again = cli("pull", server.url + "/m.dat", "--type", "checkpoints", "--json")
    assert again.code == 0, again.err
    (model,) = cli("ls", "--json").json["models"]
    assert (model["name"], model["type"]) == ("m", "checkpoints")
    assert Path(model["path"]).parent.name == "checkpoints" and Path(model["path"]).exists()


def test_repull_with_a_wrong_sha256_fails(cli, server: LocalServer, random_bytes):
    server.add_file("/m.dat", random_bytes(2**20))
    assert cli("pull", server.url + "/m.dat").code == 0
    result = cli("pull", server.url + "/m.dat", "--sha256", "0" * 64)
    assert result.code == 1
    assert "m.dat" in result.err and "0" * 64 in result.err


def test_rm_with_one_unknown_name_changes_nothing(cli, server: LocalServer, random_bytes):
    server.add_file("/m.dat", random_bytes(2**20))
    assert cli("pull", server.url + "/m.dat").code == 0
    result = cli("rm", "m", "nosuch", "--json")
    assert result.code == 1
    assert "'nosuch'" in result.err and "nothing was changed" in result.err
    assert [m["name"] for m in cli("ls", "--json").json["models"]] == ["m"]
    assert cli("pin", "nosuch").code == 1


def test_path_prints_where_the_model_is(cli, server: LocalServer, random_bytes):
    data = random_bytes(2**16)
    server.add_file("/m.dat", data)
    assert cli("pull", server.url + "/m.dat").code == 0
    shown = cli("path", "m")
    assert shown.code == 0
    assert Path(shown.out.strip()).read_bytes() == data
    assert cli("path", "m", "--json").json["path"] == shown.out.strip()
    missing = cli("path", "nosuch")
    assert missing.code == 1 and "'nosuch'" in missing.err


def test_a_signed_link_secret_is_not_stored_or_printed(cli, server: LocalServer, random_bytes,
                                                       home: Path):
    server.add_file("/m.dat", random_bytes(2**16))
    result = cli("pull", server.url + "/m.dat?token=S3CR3T-value&v=2", "--json")
    assert result.code == 0, result.err
    assert "S3CR3T" not in result.out + result.err
    listed = cli("ls", "--json")
    assert "S3CR3T" not in listed.out
    assert listed.json["models"][0]["source"].endswith("/m.dat?token=%2A%2A%2A&v=2") or \
        listed.json["models"][0]["source"].endswith("/m.dat?token=***&v=2")
    assert not any(b"S3CR3T" in p.read_bytes() for p in home.rglob("*") if p.is_file())
    assert not [p for p in home.rglob("*S3CR3T*")]  # nor in a file name (e.g. a lock file's)
    # The same link with another token is the same model: nothing is fetched again.
    again = cli("pull", server.url + "/m.dat?token=OTHER-value&v=2", "--json")
    assert again.json["results"][0]["bytes_downloaded"] == 0


def test_offline_mode_still_imports_local_files(cli, tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("MODELSHELF_OFFLINE", "1")
    local = tmp_path / "weights.dat"
    local.write_bytes(b"local bytes")
    result = cli("pull", str(local))
    assert result.code == 0, result.err


def test_a_changed_local_file_is_imported_again(cli, tmp_path: Path):
    local = tmp_path / "lora.dat"
    local.write_bytes(b"first export")
    assert cli("pull", str(local)).code == 0
    local.write_bytes(b"second export")
    os.utime(local, ns=(10**18, 10**18))  # a new mtime even on coarse-clock filesystems
    result = cli("pull", str(local), "--json")
    assert result.code == 0, result.err
    (model,) = cli("ls", "--json").json["models"]
    assert Path(model["path"]).read_bytes() == b"second export"
    assert "unchanged on disk" in cli("pull", str(local), "--json").json["results"][0]["notes"]


def test_a_local_copy_that_cannot_fit_is_refused_up_front(cli, tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch):
    local = tmp_path / "big.dat"
    local.write_bytes(b"x" * 4096)
    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr("modelshelf.api.pull.shutil.disk_usage", lambda _: usage(1, 1, 1024))
    result = cli("pull", str(local))
    assert result.code == 1
    assert str(local) in result.err and "free" in result.err
    assert len(result.err.strip().splitlines()) == 1


def test_force_repull_repairs_a_damaged_blob_and_every_view(cli, server: LocalServer,
                                                            random_bytes, home: Path):
    data = random_bytes(2**20)
    server.add_file("/m.dat", data)
    server.add_file("/copy.dat", data)
    assert cli("pull", server.url + "/m.dat").code == 0
    assert cli("pull", server.url + "/copy.dat").code == 0  # a second name, the same blob
    sha = hashlib.sha256(data).hexdigest()
    _flip_byte(_blob(home, sha))
    damaged = cli("verify", "--json")
    assert damaged.code == 1 and len(damaged.json["failed"]) == 2
    assert "pull --force" in cli("verify").out

    assert cli("pull", server.url + "/m.dat").code == 0  # already present: no repair, no fetch
    assert cli("pull", server.url + "/m.dat", "--force").code == 0
    assert cli("verify").code == 0
    for model in cli("ls", "--json").json["models"]:
        assert Path(model["path"]).read_bytes() == data, model["name"]


@pytest.fixture
def ctrl_c() -> Iterator[None]:
    """SIGINT raises KeyboardInterrupt, as in a terminal. A shell without job control starts
    background commands with SIGINT ignored, and Python then installs no handler: a suite run
    with ``&`` would see these pulls finish instead of stop."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)


@pytest.mark.usefixtures("ctrl_c")
def test_ctrl_c_stops_the_transfer_registers_nothing_and_the_next_pull_resumes(
        cli, server: LocalServer, random_bytes, home: Path):
    data = random_bytes(4 * 2**20)
    blob = server.add_file("/slow.dat", data)
    interrupted = []

    def interrupt_once(request: Request) -> Response:
        if not interrupted:
            interrupted.append(True)
            # What Ctrl-C does: SIGINT to the main thread, blocked waiting for the pull threads.
            signal.pthread_kill(threading.main_thread().ident or 0, signal.SIGINT)
        return Response(blob=blob)

    server.add_route("GET", "/slow-route.dat", interrupt_once)
    server.faults.rate_per_connection = 100_000
    result = cli("pull", server.url + "/slow-route.dat")
    assert result.code == 130
    assert "interrupted" in result.err
    assert cli("ls", "--json").json["models"] == []
    assert server.bytes_served("/slow-route.dat") < len(data)
    assert list((home / "staging").glob("*.part"))  # the partial is kept for a resume

    server.faults.rate_per_connection = None
    again = cli("pull", server.url + "/slow-route.dat", "--json")
    assert again.code == 0, again.err
    (item,) = again.json["results"]
    assert item["files"][0]["sha256"] == hashlib.sha256(data).hexdigest()
    assert 0 < item["bytes_downloaded"] < len(data)


def test_a_model_removed_during_a_repull_is_fetched_again(cli, server: LocalServer, random_bytes,
                                                          monkeypatch: pytest.MonkeyPatch):
    from modelshelf.store import Store

    data = random_bytes(2**16)
    server.add_file("/m.dat", data)
    assert cli("pull", server.url + "/m.dat").code == 0
    touch = Store.touch

    def removed_meanwhile(store: Store, name: str, when: float | None = None) -> None:
        monkeypatch.setattr(Store, "touch", touch)
        store.remove(name)  # what a concurrent `modelshelf rm` does
        touch(store, name, when)

    monkeypatch.setattr(Store, "touch", removed_meanwhile)
    again = cli("pull", server.url + "/m.dat", "--json")
    assert again.code == 0, again.err
    (model,) = cli("ls", "--json").json["models"]
    assert Path(model["path"]).read_bytes() == data


def test_a_batch_error_line_names_its_reference(cli, server: LocalServer, random_bytes):
    server.add_file("/a/m.dat", random_bytes(2**10, seed=1))
    server.add_file("/b/m.dat", random_bytes(2**10, seed=2))
    assert cli("pull", server.url + "/a/m.dat").code == 0
    result = cli("pull", server.url + "/b/m.dat")
    assert result.code == 1
    (line,) = result.err.strip().splitlines()
    assert server.url + "/b/m.dat" in line and "exists with other content" in line


@pytest.mark.parametrize(("manifest", "lock", "message"), [
    ('[[model]]\nref = "hf:org/x"\nname = 5\n', None, "'name' must be a string"),
    ('[[model]]\nref = "hf:org/x"\nrevision = ["v1"]\n', None, "'revision' must be a string"),
    ("model = [1, 2]\n", None, "expected a table"),
    ('[[model]]\nref = "hf:org/x"\n', 'version = 1\n[[model]]\nref = "hf:org/x"\n',
     "'name' is required"),
    ('[[model]]\nref = "hf:org/x"\n',
     'version = 1\n[[model]]\nref = "hf:org/x"\nname = "x"\ntype = "vae"\n'
     '[[model.file]]\npath = "a"\nsha256 = "' + "a" * 64 + '"\nsize = "big"\n',
     "'size' must be a whole number"),
])
def test_a_malformed_manifest_or_lock_is_a_usage_error_naming_it(cli, tmp_path: Path,
                                                                 manifest: str, lock: str | None,
                                                                 message: str):
    path = tmp_path / "models.toml"
    path.write_text(manifest)
    if lock is not None:
        (tmp_path / "models.toml.lock").write_text(lock)
    result = cli("pull", "-f", str(path))
    assert result.code == 2, result.err
    (line,) = result.err.strip().splitlines()
    assert str(path) in line and message in line and "internal error" not in line


def test_a_folder_given_as_manifest_is_a_usage_error(cli, tmp_path: Path):
    result = cli("pull", "-f", str(tmp_path))
    assert result.code == 2
    assert f"{tmp_path}: is a folder" in result.err


@pytest.mark.parametrize("flags", [["--revision", "v1"], ["--include", "*.json"],
                                   ["--exclude", "*.dat"]])
def test_flags_a_url_cannot_use_are_usage_errors(cli, server: LocalServer, random_bytes,
                                                 flags: list[str]):
    server.add_file("/m.dat", random_bytes(2**10))
    result = cli("pull", server.url + "/m.dat", *flags)
    assert result.code == 2
    assert flags[0] in result.err and server.url + "/m.dat" in result.err
    assert server.requests_for("/m.dat") == []


def test_include_and_exclude_choose_the_files_of_a_local_folder(cli, tmp_path: Path):
    folder = tmp_path / "repo"
    (folder / "unet").mkdir(parents=True)
    for rel in ("config.json", "model.safetensors", "model.dat", "unet/weights.safetensors"):
        (folder / rel).write_bytes(rel.encode())
    result = cli("pull", str(folder), "--include", "*.safetensors", "--include", "*.json",
                 "--exclude", "unet/", "--json")
    assert result.code == 0, result.err
    assert sorted(f["path"] for f in result.json["results"][0]["files"]) == \
        ["config.json", "model.safetensors"]
    nothing = cli("pull", str(folder), "--include", "*.gguf", "--name", "other")
    assert nothing.code == 1 and "--include *.gguf" in nothing.err


def test_a_view_deleted_from_outside_comes_back(cli, server: LocalServer, random_bytes):
    data = random_bytes(2**12)
    server.add_file("/m.dat", data)
    view = Path(cli("pull", server.url + "/m.dat", "--json").json["results"][0]["path"])
    view.unlink()  # e.g. "delete model" in an app whose folder links to views/
    assert cli("pull", server.url + "/m.dat").code == 0
    assert view.read_bytes() == data
    view.unlink()
    assert Path(cli("path", "m").out.strip()).read_bytes() == data


def test_a_lost_blob_is_fetched_again_by_a_plain_pull(cli, server: LocalServer, random_bytes,
                                                      home: Path):
    data = random_bytes(2**12)
    server.add_file("/m.dat", data)
    assert cli("pull", server.url + "/m.dat").code == 0
    _blob(home, hashlib.sha256(data).hexdigest()).unlink()
    assert cli("verify", "--json").json["failed"][0]["actual"] == "missing"
    again = cli("pull", server.url + "/m.dat", "--json")
    assert again.code == 0, again.err
    assert again.json["results"][0]["bytes_downloaded"] == len(data)
    assert cli("verify").code == 0


def test_ls_with_a_misspelt_type_is_a_usage_error(cli):
    result = cli("ls", "--type", "lora")
    assert result.code == 2
    assert "'lora'" in result.err and "loras" in result.err
    assert cli("ls", "--type", "loras", "--json").json == {"models": []}


@pytest.mark.usefixtures("ctrl_c")
def test_ctrl_c_while_waiting_for_another_pull_of_the_same_model(cli, server: LocalServer,
                                                                 random_bytes, home: Path):
    from modelshelf.store import Store

    server.add_file("/m.dat", random_bytes(2**10))
    holding, done = threading.Event(), threading.Event()

    def other_pull() -> None:  # holds the pull's lock as long as its own download would take
        with Store(home).lock("pull:" + server.url + "/m.dat"):
            holding.set()
            done.wait(timeout=30)  # a pull that cannot stop waiting fails the test, not hangs it
        holding.clear()

    threading.Thread(target=other_pull, daemon=True).start()
    holding.wait()
    threading.Timer(0.2, signal.pthread_kill,
                    (threading.main_thread().ident or 0, signal.SIGINT)).start()
    result = cli("pull", server.url + "/m.dat")
    still_held = holding.is_set()
    done.set()
    assert result.code == 130
    assert still_held  # it stopped waiting when asked, not when the other pull let go
    assert cli("ls", "--json").json["models"] == []


@pytest.mark.parametrize("name", ["x" * 300, " padded "])
def test_an_unusable_name_is_refused_before_the_download(cli, server: LocalServer, random_bytes,
                                                         name: str):
    server.add_file("/m.dat", random_bytes(2**10))
    result = cli("pull", server.url + "/m.dat", "--name", name)
    assert result.code == 2
    assert "model name" in result.err
    assert server.requests_for("/m.dat") == []


def test_a_long_local_file_name_still_imports(cli, tmp_path: Path):
    local = tmp_path / ("ü" * 110 + " .safetensors")
    local.write_bytes(b"weights")
    result = cli("pull", str(local), "--json")
    assert result.code == 0, result.err
    name = result.json["results"][0]["name"]
    assert name == name.strip() and len(name.encode()) <= 200
    assert Path(cli("path", name).out.strip()).read_bytes() == b"weights"


def test_a_blank_reference_is_reported_as_typed(cli):
    result = cli("pull", "   ", "--json")
    assert result.code == 2
    assert result.json["results"][0]["ref"] == "   "
    assert "civitai:model/MODEL_ID a Civitai" in result.err


def test_a_disk_error_in_one_pull_does_not_sink_the_batch(cli, server: LocalServer, random_bytes,
                                                          tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch):
    from modelshelf.store import Store

    server.add_file("/m.dat", random_bytes(2**10))
    local = tmp_path / "secret.dat"
    local.write_bytes(b"unreadable")

    def refuse(store: Store, src: Path, **kwargs: object) -> None:
        raise PermissionError(13, "Permission denied", str(src))

    monkeypatch.setattr(Store, "import_file", refuse)
    result = cli("pull", str(local), server.url + "/m.dat", "--json")
    assert result.code == 1
    failed, ok = result.json["results"]
    assert ok["status"] == "ok"
    assert failed["status"] == "error"
    assert f"{local}: Permission denied" in failed["error"]


def test_an_unwritable_hub_cache_is_a_note_not_a_failed_pull(cli, tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch):
    not_a_folder = tmp_path / "hub-cache"
    not_a_folder.write_text("a file where the Hub cache should be")
    monkeypatch.setenv("HF_HUB_CACHE", str(not_a_folder))
    with FakeHub() as hub:
        hub.add_repo("org/m", {"config.json": b"{}"})
        monkeypatch.setenv("HF_ENDPOINT", hub.url)
        result = cli("pull", "hf:org/m", "--json")
    assert result.code == 0, result.err
    (notes,) = [r["notes"] for r in result.json["results"]]
    assert any("not linked into the Hub cache" in n and str(not_a_folder) in n for n in notes)
    assert [m["name"] for m in cli("ls", "--json").json["models"]] == ["m"]


def test_rm_and_gc_report_what_they_really_freed(cli, server: LocalServer, random_bytes,
                                                tmp_path: Path):
    for name in ("a", "b"):
        server.add_file(f"/{name}.dat", random_bytes(2**12, seed=ord(name)))
        assert cli("pull", f"{server.url}/{name}.dat").code == 0
    assert cli("link", "flat", str(tmp_path / "app")).code == 0  # hard links to both
    assert cli("rm", "a", "--json").json["freed_bytes"] == 0
    evicted = cli("gc", "--max-size", "0", "--json").json
    assert [e["name"] for e in evicted["evict"]] == ["b"]
    assert evicted["freed_bytes"] == 0  # the app folder still holds the bytes
    assert (tmp_path / "app" / "other" / "b.dat").stat().st_size == 2**12


def test_debug_shows_the_traceback(cli):
    result = cli("rm", "nosuch", "--debug")
    assert result.code == 1
    assert "Traceback (most recent call last)" in result.err
    assert "ModelNotFound" in result.err and "NoneType: None" not in result.err
    plain = cli("rm", "nosuch")
    assert "Traceback" not in plain.err and len(plain.err.strip().splitlines()) == 1


def test_a_disk_that_fills_during_a_local_copy_names_the_file(cli, tmp_path: Path, home: Path,
                                                              monkeypatch: pytest.MonkeyPatch):
    import errno

    local = tmp_path / "model.dat"
    local.write_bytes(b"x" * 4096)

    def disk_full(src: Path, dest: Path) -> str:
        dest.write_bytes(b"x" * 100)
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr("modelshelf.store.blobs._copy_hashing", disk_full)
    result = cli("pull", str(local))
    assert result.code == 1
    (line,) = result.err.strip().splitlines()
    assert "filled up" in line and str(local) in line
    assert not [p for p in (home / "staging").iterdir() if not p.name.endswith(".lock")]


def test_a_pull_that_waited_for_another_one_of_a_renamed_download_fetches_nothing(
        cli, server: LocalServer, random_bytes, monkeypatch: pytest.MonkeyPatch):
    from modelshelf.store import Store

    server.add_file("/dl", random_bytes(2**12),
                    headers={"Content-Disposition": 'attachment; filename="real.safetensors"'})
    assert cli("pull", server.url + "/dl").code == 0
    find = Store.find_by_source

    def not_yet_registered(store: Store, key: str) -> object:
        # The other process registers it while this one waits for the lock.
        monkeypatch.setattr(Store, "find_by_source", find)
        return None

    monkeypatch.setattr(Store, "find_by_source", not_yet_registered)
    server.clear_log()
    again = cli("pull", server.url + "/dl", "--json")
    assert again.code == 0, again.err
    assert again.json["results"][0]["notes"] == ["fetched by another modelshelf process"]
    assert server.requests_for("/dl") == []


def test_a_name_clash_is_told_whole_when_the_shelf_path_holds_a_semicolon(
        cli, tmp_path, monkeypatch, server, random_bytes):
    """``pull`` replaced the store's advice by cutting the message at the first "; ", which
    a shelf folder's name may hold: the clash came out as "its view .../team". The advice
    now travels apart from what clashed."""
    monkeypatch.setenv("MODELSHELF_HOME", str(tmp_path / "models; team"))
    server.add_file("/one/x.safetensors", random_bytes(2000, seed=1))
    server.add_file("/two/y.safetensors", random_bytes(2000, seed=2))
    assert cli("pull", f"{server.url}/one/x.safetensors", "--name", "a").code == 0
    clash = cli("pull", f"{server.url}/two/y.safetensors", "--name", "a.safetensors")
    assert clash.code == 1
    assert "models; team" in clash.err and "is already model a's" in clash.err
    assert "choose another --name, e.g. a.safetensors-2" in clash.err and "--force" not in clash.err
