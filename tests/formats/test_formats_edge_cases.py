"""Hostile or odd things on disk that are not model files at all: they must fail fast, clearly."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import numpy as np
import pytest

from modelshelf.errors import FormatError
from modelshelf.formats import detect_format, read_header


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no named pipes here")
def test_a_named_pipe_is_refused_instead_of_blocking_forever(tmp_path: Path) -> None:
    fifo = tmp_path / "model.safetensors"
    os.mkfifo(fifo)  # opening it for reading waits for a writer: a scan would hang on it
    writer = os.open(fifo, os.O_RDWR)  # here one is there, so a regression fails, not hangs
    try:
        with pytest.raises(FormatError, match=r"model\.safetensors: not a regular file"):
            read_header(fifo)
        with pytest.raises(FormatError, match="not a regular file"):
            detect_format(fifo)
    finally:
        os.close(writer)


def test_a_character_device_is_refused(tmp_path: Path) -> None:
    if not os.path.exists(os.devnull) or os.path.isfile(os.devnull):
        pytest.skip("no character device to try")
    with pytest.raises(FormatError, match="not a regular file"):
        read_header(Path(os.devnull))


def _st(path: Path) -> Path:
    from safetensors.numpy import save_file

    path.parent.mkdir(parents=True, exist_ok=True)
    save_file({"w": np.ones((2, 2), np.float32)}, path)
    return path


def test_a_diffusers_folder_names_the_components_it_lacks(tmp_path: Path) -> None:
    (tmp_path / "model_index.json").write_text(json.dumps({
        "_class_name": "StableDiffusionPipeline",
        "unet": ["diffusers", "UNet2DConditionModel"], "vae": ["diffusers", "AutoencoderKL"],
        "text_encoder": ["transformers", "CLIPTextModel"],
        "tokenizer": ["transformers", "CLIPTokenizer"], "scheduler": ["diffusers", "PNDMScheduler"],
        "safety_checker": [None, None],
    }))
    _st(tmp_path / "unet" / "diffusion_pytorch_model.safetensors")
    (tmp_path / "vae").mkdir()
    (tmp_path / "vae" / "config.json").write_text("{}")  # a config alone is no model
    assert read_header(tmp_path).missing == ("vae", "text_encoder")


def test_a_shard_names_its_missing_siblings(tmp_path: Path) -> None:
    first = _st(tmp_path / "model-00001-of-00003.safetensors")
    _st(tmp_path / "model-00003-of-00003.safetensors")
    assert read_header(first).missing == ("model-00002-of-00003.safetensors",)
    lonely = _st(tmp_path / "x-00001-of-99999.safetensors")  # a name cannot make us list 99,998
    assert read_header(lonely).missing == ("99998 of 99999 shards",)


def test_a_model_index_cannot_pull_in_folders_from_elsewhere(tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    _st(elsewhere / "diffusion_pytorch_model.safetensors")
    pipe = tmp_path / "pipe"
    pipe.mkdir()
    (pipe / "model_index.json").write_text(json.dumps({
        "_class_name": "StableDiffusionPipeline",
        str(elsewhere): ["diffusers", "UNet2DConditionModel"],  # absolute
        "../elsewhere": ["diffusers", "AutoencoderKL"],  # relative, out of the folder
    }))
    header = read_header(pipe)
    assert header.components == {} and header.tensors == {} and header.missing == ()


def test_a_broadcast_pickle_tensor_cannot_claim_an_absurd_shape(tmp_path: Path) -> None:
    from formats_factories import OD, tensor, torch_zip

    four = np.ones(4, np.float32)
    sd = OD(w=tensor("0", four, shape=(10**5000,), stride=(0,)))  # stride 0: any size "fits"
    path = torch_zip(tmp_path / "bcast.ckpt", sd, {"0": four.tobytes()})
    with pytest.raises(FormatError, match="more elements than a torch tensor can") as caught:
        read_header(path)
    assert len(str(caught.value)) < 200  # and the message does not print the number


def test_a_tensor_in_two_shards_is_reported_with_the_shard_path(tmp_path: Path) -> None:
    for i in (1, 2):
        _st(tmp_path / f"model-0000{i}-of-00002.safetensors")  # both hold "w"
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "llama"}))
    shard = tmp_path / "model-00002-of-00002.safetensors"
    with pytest.raises(FormatError, match=f"^{re.escape(str(shard))}: tensor 'w' also appears"):
        read_header(tmp_path)
