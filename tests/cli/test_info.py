"""`info`: local files, registered names and remote references (header only, over Range)."""

from __future__ import annotations

from pathlib import Path

import pytest

from modelshelf.testing import factories
from modelshelf.testing.hub import FakeHub
from modelshelf.testing.server import LocalServer


@pytest.fixture
def sdxl_unet_file(tmp_path: Path) -> Path:
    # The decisive SDXL UNet keys at real shapes, sparse zeros (a few KB on disk).
    return factories.write_safetensors(tmp_path / "unet.safetensors", factories.sdxl_unet())


def test_info_of_a_local_file(cli, sdxl_unet_file: Path):
    result = cli("info", str(sdxl_unet_file), "--json")
    assert result.code == 0, result.err
    info = result.json
    assert (info["format"], info["architecture"], info["model_type"]) == \
        ("safetensors", "sdxl", "diffusion_models")
    assert info["memory_bytes"] == sdxl_unet_file.stat().st_size - (
        8 + int.from_bytes(sdxl_unet_file.read_bytes()[:8], "little"))
    assert info["dtypes"] == {"F16": info["parameters"]}
    assert info["safety"]["status"] == "safe"
    assert info["evidence"]


def test_info_of_a_url_reads_only_the_header(cli, server: LocalServer, sdxl_unet_file: Path):
    server.add_file("/big/unet.safetensors", sdxl_unet_file)
    result = cli("info", server.url + "/big/unet.safetensors", "--json", "--gpu-memory", "8GB")
    assert result.code == 0, result.err
    assert result.json["architecture"] == "sdxl"
    assert result.json["memory_bytes"] == cli("info", str(sdxl_unet_file), "--json").json["memory_bytes"]
    assert server.wait_idle()
    assert server.bytes_served("/big/unet.safetensors") < 1_000_000
    assert "fits" in result.json["gpu_fit"]


def test_info_of_a_hub_file_before_downloading(cli, sdxl_unet_file: Path, monkeypatch):
    with FakeHub() as hub:
        hub.add_repo("org/sdxl", {"unet/diffusion_pytorch_model.safetensors": sdxl_unet_file})
        monkeypatch.setenv("HF_ENDPOINT", hub.url)
        result = cli("info", "hf:org/sdxl/unet/diffusion_pytorch_model.safetensors", "--json")
        assert result.code == 0, result.err
        assert result.json["architecture"] == "sdxl"
        assert hub.wait_idle()
        assert sum(r.bytes_sent for r in hub.log) < 1_000_000


def test_gpu_fit_says_no_when_too_small(cli, sdxl_unet_file: Path):
    small = cli("info", str(sdxl_unet_file), "--gpu-memory", "10MB", "--json").json["gpu_fit"]
    big = cli("info", str(sdxl_unet_file), "--gpu-memory", "24GB", "--json").json["gpu_fit"]
    assert small["fits"] is False and big["fits"] is True
    assert big["headroom_bytes"] > 0


def test_info_on_a_broken_file_is_one_line_exit_1(cli, tmp_path: Path):
    broken = tmp_path / "broken.safetensors"
    broken.write_bytes((10**6).to_bytes(8, "little") + b'{"a": ')
    result = cli("info", str(broken))
    assert result.code == 1
    assert result.err.count("\n") == 1 and "broken.safetensors" in result.err


def test_info_on_a_non_model_file_is_unknown_exit_0(cli, tmp_path: Path):
    text = tmp_path / "notes.txt"
    text.write_text("hello")
    result = cli("info", str(text), "--json")
    assert result.code == 0 and result.json["format"] == "unknown"


def test_info_on_a_missing_thing(cli):
    result = cli("info", "no-such-model.safetensors")
    assert result.code == 1
    assert "no-such-model.safetensors" in result.err


def test_info_and_advise_give_one_vram_estimate(cli, sdxl_unet_file: Path):
    """Two rules answered one question: ``info --gpu-memory`` added 20% of the weights to an
    SDXL UNet where ``advise`` added 20% and the 2.5 GB a 1024x1024 image takes. Now both
    use one rule; ``advise`` counts the file's bytes, ``info`` the tensors', so they differ by
    the header alone."""
    info = cli("info", str(sdxl_unet_file), "--gpu-memory", "24GB", "--json").json
    advised = cli("advise", str(sdxl_unet_file), "--gpu", "24GB", "--json").json["models"][0]
    header = sdxl_unet_file.stat().st_size - info["memory_bytes"]
    assert 0 <= advised["needed_bytes"] - info["gpu_fit"]["needed_bytes"] <= header * 1.2
    assert "activations (1024x1024 image, batch 1)" in info["gpu_fit"]["rule"]
