"""The testing kit is used here only through ``modelshelf.testing``'s public names, as a
project testing its own code against modelshelf would."""

from __future__ import annotations

import os
from pathlib import Path

import httpx
from huggingface_hub import hf_hub_download

import modelshelf
import modelshelf.testing as kit


def test_public_names_are_documented() -> None:
    assert sorted(kit.__all__) == ["FakeCivitai", "FakeFile", "FakeHub", "FakeVersion", "Faults",
                                   "ForwardProxy", "LocalServer", "factories"]
    for name in kit.__all__:
        obj = getattr(kit, name)
        assert obj.__doc__, f"{name} has no docstring"
    assert "Testing your code against modelshelf" in (
        Path(__file__).resolve().parents[2] / "README.md").read_text()


def test_huggingface_hub_downloads_from_the_fake_hub(tmp_path: Path) -> None:
    weights = kit.factories.write_safetensors(tmp_path / "w.safetensors",
                                              kit.factories.flux_vae(tiny=True))
    with kit.FakeHub() as hub:
        hub.add_repo("org/vae", {"vae.safetensors": weights, "config.json": b"{}"})
        path = hf_hub_download("org/vae", "vae.safetensors", endpoint=hub.url,
                               cache_dir=tmp_path / "hf")
    assert Path(path).read_bytes() == weights.read_bytes()
    assert modelshelf.inspect(path).model_type == "vae"


def test_faults_are_seen_by_any_client(tmp_path: Path) -> None:
    with kit.LocalServer() as server:
        server.add_file("/m.bin", b"x" * 1000)
        server.faults.error_burst, server.faults.error_status = 1, 503
        assert httpx.get(f"{server.url}/m.bin").status_code == 503
        assert httpx.get(f"{server.url}/m.bin").content == b"x" * 1000
        assert [r.status for r in server.log] == [503, 200]


def test_fake_civitai_serves_a_version_to_modelshelf(tmp_path: Path) -> None:
    lora = kit.factories.write_safetensors(tmp_path / "l.safetensors",
                                           kit.factories.kohya_lora("sdxl", rank=4))
    with kit.FakeCivitai() as civitai:
        civitai.add_model(1, "L", type="LORA", versions=[kit.FakeVersion(
            2, [kit.FakeFile("l.safetensors", lora.read_bytes())], base_model="SDXL 1.0")])
        settings = modelshelf.load_settings({"MODELSHELF_CIVITAI_ENDPOINT": civitai.url,
                                             "NO_PROXY": "127.0.0.1,localhost",
                                             "MODELSHELF_CONFIG": os.devnull},
                                            home=tmp_path / "shelf")
        model = modelshelf.Shelf(settings=settings).pull("civitai:2")
    assert (model.type, model.architecture) == ("loras", "sdxl")
