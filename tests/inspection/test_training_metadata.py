"""``info`` names what a model's metadata says about its training: base model, resolution, clip
skip, steps and trigger words, from kohya ``ss_*`` keys, the model spec, or Civitai's record."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from modelshelf.testing.civitai import FakeCivitai, FakeFile, FakeVersion
from modelshelf.testing.factories import kohya_lora
from modelshelf.testing.factories.files import write_safetensors

KOHYA = {
    "ss_sd_model_name": "sd_xl_base_1.0.safetensors",
    "ss_base_model_version": "sdxl_base_v1-0",
    "ss_resolution": "(1024, 1024)",
    "ss_clip_skip": "None",
    "ss_max_train_steps": "1600",
    "ss_num_epochs": "10",
    "ss_network_module": "networks.lora",
    "ss_network_dim": "4",
    "ss_tag_frequency": json.dumps({"10_tinystyle": {"tinystyle": 40, "1girl": 12, "solo": 9}}),
}


def _lora(path: Path, metadata: dict[str, str]) -> Path:
    return write_safetensors(path, kohya_lora("sdxl", rank=4), metadata=metadata)


def test_info_json_names_kohya_training_metadata(tmp_path: Path, cli) -> None:
    path = _lora(tmp_path / "style.safetensors", {**KOHYA, "ss_clip_skip": "2"})
    result = cli("info", str(path), "--json")
    assert result.code == 0, result.err
    assert result.json["training"] == {
        "base_model": "sdxl_base_v1-0", "base_model_file": "sd_xl_base_1.0.safetensors",
        "resolution": "1024x1024", "clip_skip": 2, "training_steps": 1600, "epochs": 10,
        "network": "networks.lora", "network_dim": 4,
        "trigger_words": ["tinystyle", "1girl", "solo"],
    }


def test_info_text_shows_the_training_lines(tmp_path: Path, cli) -> None:
    path = _lora(tmp_path / "style.safetensors", KOHYA)
    out = cli("info", str(path)).out
    assert "base model    sdxl_base_v1-0" in out
    assert "trigger words tinystyle, 1girl, solo" in out
    assert "clip skip" not in out  # "None": not set, so not shown


def test_the_model_spec_and_no_metadata(tmp_path: Path, cli) -> None:
    spec = _lora(tmp_path / "spec.safetensors", {
        "modelspec.architecture": "stable-diffusion-xl-v1-base/lora",
        "modelspec.resolution": "1024x1024", "modelspec.trigger_phrase": "tiny, style"})
    training = cli("info", str(spec), "--json").json["training"]
    assert training == {"base_model": "stable-diffusion-xl-v1-base/lora",
                        "resolution": "1024x1024", "trigger_words": ["tiny", "style"]}
    bare = write_safetensors(tmp_path / "bare.safetensors", {"w": ((2, 2), "F32")})
    assert cli("info", str(bare), "--json").json["training"] == {}


@pytest.fixture
def civitai(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    data = _lora(tmp_path / "src.safetensors", KOHYA).read_bytes()
    with FakeCivitai() as civ:
        civ.add_model(200, "Tiny LoRA", type="LORA", versions=[FakeVersion(
            2001, [FakeFile("tinyLora.safetensors", data)], base_model="SDXL 1.0",
            trained_words=["tnystyl", "tiny style"])])
        monkeypatch.setenv("MODELSHELF_CIVITAI_ENDPOINT", civ.url)
        yield civ


def test_a_civitai_model_takes_base_model_and_trigger_words_from_its_record(civitai, cli) -> None:
    pulled = cli("pull", "civitai:2001", "--json")
    assert pulled.code == 0, pulled.err
    name = pulled.json["results"][0]["name"]
    training = cli("info", name, "--json").json["training"]
    assert training["base_model"] == "SDXL 1.0"
    assert training["trigger_words"] == ["tnystyl", "tiny style"]
    assert training["training_steps"] == 1600  # still from the file
