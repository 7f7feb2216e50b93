"""torch as the framework (skipped without torch) and ``Shelf.load_model``: the framework object a
model implies, or an error naming the extra that is missing."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest
from load_helpers import malicious_pickle, mixed

from modelshelf import Shelf
from modelshelf.errors import FormatError, MissingExtra, UnsafeFile
from modelshelf.testing.factories.files import write_safetensors

needs_torch = pytest.mark.skipif(importlib.util.find_spec("torch") is None, reason="torch absent")


def _transformers_folder(folder: Path) -> Path:
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps({"model_type": "bert",
                                                    "architectures": ["BertModel"]}))
    write_safetensors(folder / "model.safetensors", {"embeddings.weight": ((4, 2), "F32")})
    return folder


def _diffusers_folder(folder: Path) -> Path:
    (folder / "unet").mkdir(parents=True)
    (folder / "model_index.json").write_text(json.dumps({"unet": ["diffusers", "UNet2DModel"]}))
    write_safetensors(folder / "unet" / "diffusion_pytorch_model.safetensors",
                      {"conv.weight": ((2, 2), "F32")})
    return folder


FOLDERS = [(_transformers_folder, "transformers"), (_diffusers_folder, "diffusers")]


@pytest.mark.parametrize(("make", "package"), FOLDERS)
def test_load_model_without_torch_names_the_torch_extra(tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch,
                                                         make, package: str) -> None:
    folder = make(tmp_path / "m")
    monkeypatch.setitem(sys.modules, "torch", None)  # import torch -> ImportError
    with pytest.raises(MissingExtra, match=r"needs torch: pip install 'modelshelf\[torch\]'"):
        Shelf().load_model(str(folder))


@needs_torch
@pytest.mark.parametrize(("make", "package"), FOLDERS)
def test_load_model_names_the_missing_library_extra(tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch,
                                                    make, package: str) -> None:
    folder = make(tmp_path / "m")
    monkeypatch.setitem(sys.modules, package, None)
    with pytest.raises(MissingExtra, match=rf"needs {package}: pip install "
                                           rf"'modelshelf\[{package}\]'"):
        Shelf().load_model(str(folder))


def test_load_model_of_a_lone_weights_file_says_to_use_load(tmp_path: Path) -> None:
    with pytest.raises(FormatError, match=r"use shelf.load\(\)"):
        Shelf().load_model(str(mixed(tmp_path / "m.safetensors")))


@needs_torch
def test_torch_tensors_match_safetensors_torch_with_bf16_as_bfloat16(tmp_path: Path) -> None:
    import torch
    from safetensors.torch import load_file

    path = mixed(tmp_path / "m.safetensors")
    expected = load_file(path)
    tensors = Shelf().load(str(path), framework="torch")
    for name, tensor in expected.items():
        assert tensors[name].dtype == tensor.dtype
        assert torch.equal(tensors[name], tensor), name
    half = Shelf().load(str(path), framework="torch", dtype="float16")
    assert half["b"].dtype == torch.float16 and half["i"].dtype == torch.int64


@needs_torch
def test_a_torch_checkpoint_loads_with_weights_only(tmp_path: Path) -> None:
    import torch

    path = tmp_path / "ckpt.pt"
    torch.save({"state_dict": {"w": torch.arange(4.0), "b": torch.ones(2, dtype=torch.bfloat16)}},
               path)
    tensors = Shelf().load(str(path), framework="torch")
    assert torch.equal(tensors["state_dict.w"], torch.arange(4.0))
    as_numpy = Shelf().load(str(path))
    assert as_numpy["state_dict.b"].dtype.name == "uint16"  # bf16 bits, as for safetensors


@needs_torch
def test_a_diffusers_folder_of_pickles_names_tensors_by_component(tmp_path: Path) -> None:
    import torch

    folder = tmp_path / "pipe"
    (folder / "unet").mkdir(parents=True)
    (folder / "model_index.json").write_text(json.dumps({"unet": ["diffusers", "UNet2DModel"]}))
    torch.save({"conv.weight": torch.ones(2, 2)}, folder / "unet" / "diffusion_pytorch_model.bin")
    tensors = Shelf().load(str(folder), framework="torch")
    assert list(tensors) == ["unet/conv.weight"]
    assert torch.equal(tensors["unet/conv.weight"], torch.ones(2, 2))


@needs_torch
def test_an_unsafe_pickle_stays_refused_with_torch_unless_trusted(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    path = malicious_pickle(tmp_path / "evil.pt", marker)
    with pytest.raises(UnsafeFile):
        Shelf().load(str(path), framework="torch")
    assert not marker.exists()


@needs_torch
def test_trust_true_is_the_only_way_to_a_full_unpickle(tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    import torch

    calls: list[bool] = []

    def fake_load(path: Path, **kwargs: object) -> dict[str, object]:
        calls.append(bool(kwargs["weights_only"]))
        return {"w": torch.zeros(1)}

    monkeypatch.setattr(torch, "load", fake_load)  # nothing is really unpickled here
    path = malicious_pickle(tmp_path / "evil.pt", tmp_path / "pwned")
    assert list(Shelf().load(str(path), framework="torch", trust=True)) == ["w"]
    safe = tmp_path / "safe.pt"
    safe.write_bytes(b"\x80\x02}q\x00.")  # an empty dict, protocol 2
    Shelf().load(str(safe), framework="torch")
    assert calls == [False, True]  # trusted: full unpickle; otherwise weights_only


@needs_torch
@pytest.mark.skipif(importlib.util.find_spec("transformers") is None, reason="no transformers")
def test_load_model_builds_a_transformers_model(tmp_path: Path) -> None:  # pragma: no cover
    import transformers

    folder = tmp_path / "bert"
    transformers.BertModel(transformers.BertConfig(
        vocab_size=32, hidden_size=8, num_hidden_layers=1, num_attention_heads=2,
        intermediate_size=16)).save_pretrained(folder)
    model = Shelf().load_model(str(folder))
    assert type(model).__name__ == "BertModel"
