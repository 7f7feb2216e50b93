"""Fixtures for the source tests. Hub fixtures are named ``hub_*``; others may add their own."""

from __future__ import annotations

import os
import pickle
from collections.abc import Iterator
from pathlib import Path

import pytest
from hub_constants import HUB_TOKEN

from modelshelf.config import Settings, load_settings
from modelshelf.testing.civitai import FakeCivitai, FakeFile, FakeVersion
from modelshelf.testing.hub import FakeHub


@pytest.fixture(autouse=True)
def hub_no_stored_token(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """huggingface_hub reads its token file path at import time; point it into the test's tmp."""
    import huggingface_hub.constants as constants

    path = tmp_path / "hf-token"
    monkeypatch.setattr(constants, "HF_TOKEN_PATH", str(path))
    return path


@pytest.fixture
def hub_server() -> Iterator[FakeHub]:
    """A fake Hub with ``org/tiny`` (config, LFS weights in a subfolder), a tag, a branch, a PR,
    a private repo (readable with :data:`HUB_TOKEN`) and a gated one (not accepted)."""
    with FakeHub() as hub:
        files = {
            "config.json": b'{"model_type": "bert"}',
            "README.md": b"# tiny\n",
            "model.safetensors": os.urandom(200_000),
            "unet/diffusion_pytorch_model.safetensors": os.urandom(150_000),
            "unet/config.json": b'{"sample_size": 64}',
            # A pickle that only holds bytes: judged safe, so linked like the rest.
            "pytorch_model.bin": pickle.dumps({"w": os.urandom(50_000)}, protocol=4),
        }
        hub.add_repo("org/tiny", files)
        hub.tag("org/tiny", "v1.0")
        hub.commit("org/tiny", {"config.json": b'{"model_type": "bert", "v": 2}'})
        hub.commit("org/tiny", {"dev.json": b"{}"}, branch="dev")
        hub.open_pr("org/tiny", {"pr.json": b'{"pr": 1}'}, number=1)
        hub.add_repo("org/private", {"model.safetensors": os.urandom(10_000)}, private=True,
                     tokens=(HUB_TOKEN,))
        hub.add_repo("org/gated", {"model.safetensors": os.urandom(10_000),
                                   "config.json": b"{}"}, gated="manual")
        yield hub


# -- Civitai (fixtures named civitai_*) -----------------------------------------------------------
CIVITAI_BYTES = {  # version id -> primary file bytes (small: only the plumbing is under test)
    1001: b"ckpt-v1-" * 4096,
    1002: b"ckpt-v2-" * 5000,
    2001: b"gated-lora" * 3000,
    3001: b"embedding!" * 100,
}


@pytest.fixture
def civitai_server() -> Iterator[FakeCivitai]:
    """A fake Civitai: model 100 (Checkpoint, versions 1002 SDXL newest and 1001 SD 1.5),
    model 200 (LORA, version 2001 needs a token, primary file listed second, trigger word),
    model 300 (TextualInversion, version 3001 without a primary flag and without preview)."""
    with FakeCivitai() as civ:
        civ.add_model(100, "Tiny Checkpoint", type="Checkpoint", versions=[
            FakeVersion(1002, [FakeFile("tinyCheckpoint_v20.safetensors", CIVITAI_BYTES[1002])],
                        name="v2.0", base_model="SDXL 1.0"),
            FakeVersion(1001, [FakeFile("tinyCheckpoint_v10.safetensors", CIVITAI_BYTES[1001])],
                        base_model="SD 1.5"),
        ])
        civ.add_model(200, "Gated LoRA", type="LORA", versions=[
            FakeVersion(2001, [FakeFile("training.zip", b"zip" * 10, type="Training Data",
                                        primary=False),
                               FakeFile("gatedLora.safetensors", CIVITAI_BYTES[2001])],
                        base_model="Flux.1 D", trained_words=["tinystyle"], needs_token=True),
        ])
        civ.add_model(300, "Old Embedding", type="TextualInversion", versions=[
            FakeVersion(3001, [FakeFile("old.pt", CIVITAI_BYTES[3001], primary=False)],
                        base_model="SD 1.4", preview=False),
        ])
        yield civ


@pytest.fixture
def civitai_settings(civitai_server: FakeCivitai, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """Settings pointing the civitai source at :func:`civitai_server` (no token configured)."""
    monkeypatch.setenv("MODELSHELF_CIVITAI_ENDPOINT", civitai_server.url)
    return load_settings()
