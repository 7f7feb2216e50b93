"""Sources under abuse: local files edited in place, signed links, a damaged Hub cache."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from modelshelf.config import load_settings
from modelshelf.secrets import public_url
from modelshelf.sources import parse, resolve
from modelshelf.testing.hub import FakeHub


@pytest.fixture
def hub_pull(hub_server: FakeHub, monkeypatch: pytest.MonkeyPatch, cli):
    monkeypatch.setenv("HF_ENDPOINT", hub_server.url)
    return lambda *args: cli("pull", *args)


def _flip_byte(path: Path, offset: int = 10) -> None:
    os.chmod(path, 0o644)
    data = bytearray(path.read_bytes())
    data[offset] ^= 0xFF
    path.write_bytes(bytes(data))


def test_local_revision_follows_the_file_on_disk(tmp_path: Path):
    local = tmp_path / "lora.safetensors"
    local.write_bytes(b"one")
    settings = load_settings()

    def revision() -> str | None:
        return resolve(parse(str(local), settings), settings).revision

    first = revision()
    assert first is not None and first == revision()
    local.write_bytes(b"two")
    os.utime(local, ns=(10**18, 10**18))
    assert revision() != first


@pytest.mark.parametrize(("url", "shown"), [
    ("https://h/a.bin?token=abc&v=1", "https://h/a.bin?token=***&v=1"),
    ("https://u:pw@h/a.bin", "https://u:***@h/a.bin"),
    ("https://h/a?X-Amz-Signature=s&X-Amz-Date=d", "https://h/a?X-Amz-Signature=***&X-Amz-Date=d"),
    ("https://h/a.bin?download=true", "https://h/a.bin?download=true"),
])
def test_public_url_masks_credentials_only(url: str, shown: str):
    assert public_url(url) == shown


def test_force_repull_repairs_a_blob_shared_with_the_hub_cache(hub_pull, hub_server: FakeHub,
                                                               isolated_env: Path):
    first = hub_pull("hf:org/tiny/model.safetensors", "--json")
    assert first.code == 0, first.err
    sha = first.json["results"][0]["files"][0]["sha256"]
    blob = isolated_env / "blobs" / "sha256" / sha[:2] / sha
    _flip_byte(blob)  # the Hub cache's hard link shows the same damaged bytes

    repaired = hub_pull("hf:org/tiny/model.safetensors", "--force", "--json")
    assert repaired.code == 0, repaired.err
    assert repaired.json["results"][0]["bytes_downloaded"] > 0
    assert hashlib.sha256(blob.read_bytes()).hexdigest() == sha
    view = Path(repaired.json["results"][0]["path"])
    assert hashlib.sha256(view.read_bytes()).hexdigest() == sha


def test_a_damaged_small_file_in_the_hub_cache_is_not_adopted(hub_pull, hub_server: FakeHub):
    from huggingface_hub import hf_hub_download

    cached = Path(hf_hub_download("org/tiny", "config.json", endpoint=hub_server.url,
                                  token=False, cache_dir=load_settings().hf_cache))
    _flip_byte(cached.resolve(), offset=2)
    result = hub_pull("hf:org/tiny/config.json", "--json")
    assert result.code == 0, result.err
    expected = hashlib.sha256(hub_server.file("org/tiny", "config.json").data).hexdigest()
    assert result.json["results"][0]["files"][0]["sha256"] == expected


def test_rm_takes_the_model_out_of_the_hub_cache_and_frees_its_bytes(hub_pull, cli,
                                                                     isolated_env: Path):
    from huggingface_hub import hf_hub_download
    from huggingface_hub.errors import LocalEntryNotFoundError

    assert hub_pull("hf:org/tiny", "--include", "*.safetensors").code == 0
    assert hub_pull("hf:org/tiny/model.safetensors", "--name", "shared").code == 0
    cache = load_settings().hf_cache
    weights = Path(hf_hub_download("org/tiny", "model.safetensors", cache_dir=cache,
                                   local_files_only=True))
    unet = Path(hf_hub_download("org/tiny", "unet/diffusion_pytorch_model.safetensors",
                                cache_dir=cache, local_files_only=True))
    assert unet.resolve().stat().st_nlink == 3  # blob, view, Hub cache

    assert cli("rm", "tiny").code == 0
    # Blobs only `tiny` used leave the cache with it: their bytes are really gone.
    assert not unet.exists() and not os.path.lexists(unet)
    with pytest.raises(LocalEntryNotFoundError):
        hf_hub_download("org/tiny", "unet/diffusion_pytorch_model.safetensors", cache_dir=cache,
                        local_files_only=True)
    # A blob another model still uses stays, in the store and in the cache.
    assert weights.exists()
    assert cli("verify").code == 0
    assert cli("rm", "shared").code == 0
    assert not list(cache.glob("models--org--tiny/blobs/*"))
    assert not [p for p in cache.glob("models--org--tiny/snapshots/**/*") if p.is_symlink()]


def test_include_on_a_single_hub_file_is_a_usage_error(hub_pull):
    result = hub_pull("hf:org/tiny/config.json", "--exclude", "*.json")
    assert result.code == 2
    assert "hf:org/tiny/config.json: --include/--exclude" in result.err


def test_a_whole_repo_pull_after_a_filtered_one_fetches_the_rest(hub_pull, cli):
    assert hub_pull("hf:org/tiny", "--include", "*.json").code == 0
    whole = hub_pull("hf:org/tiny", "--json")
    assert whole.code == 0, whole.err
    (item,) = whole.json["results"]
    assert "model.safetensors" in {f["path"] for f in item["files"]}
    assert item["bytes_downloaded"] > 0
    # Asking for a part of what is there fetches nothing and drops nothing.
    part = hub_pull("hf:org/tiny", "--include", "*.json", "--json")
    assert part.json["results"][0]["bytes_downloaded"] == 0
    (model,) = cli("ls", "--json").json["models"]
    assert {f["path"] for f in model["files"]} == {f["path"] for f in item["files"]}


def test_a_file_name_that_is_not_utf8_imports(cli, tmp_path: Path):
    folder = tmp_path / "exported"
    folder.mkdir()
    raw = os.path.join(os.fsencode(folder), b"lora-\xff\xfe.safetensors")
    with open(raw, "wb") as fh:
        fh.write(b"weights")
    for ref in (str(folder), os.fsdecode(raw)):
        result = cli("pull", ref, "--json")
        assert result.code == 0, result.err
    models = cli("ls", "--json").json["models"]
    assert len(models) == 2
    for model in models:
        assert model["files"][0]["path"] == "lora-_.safetensors"
        assert Path(model["path"]).exists()


def test_a_branch_that_moved_without_touching_our_files_is_recorded_once(hub_pull,
                                                                         hub_server: FakeHub):
    assert hub_pull("hf:org/tiny", "--include", "*.safetensors").code == 0
    hub_server.commit("org/tiny", {"README.md": b"# edited\n"})
    moved = hub_pull("hf:org/tiny", "--include", "*.safetensors", "--json")
    assert moved.code == 0, moved.err
    assert moved.json["results"][0]["bytes_downloaded"] == 0
    again = hub_pull("hf:org/tiny", "--include", "*.safetensors", "--json")
    assert [n for n in again.json["results"][0]["notes"] if n.startswith("still at revision")]
