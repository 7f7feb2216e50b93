"""Folders (diffusers, transformers, sharded) as one model each; ONNX recognised by structure."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from formats_factories import onnx_bytes, safetensors_bytes, state_dict, torch_zip

from modelshelf.errors import FormatError, NotFoundError
from modelshelf.formats import BytesSource, detect_format, read_header, read_header_from


def _write(path: Path, data: bytes | str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(data, str):
        path.write_text(data)
    else:
        path.write_bytes(data)
    return path


def test_diffusers_folder_reads_each_component(tmp_path: Path) -> None:
    index = {
        "_class_name": "StableDiffusionPipeline", "_diffusers_version": "0.30.0",
        "unet": ["diffusers", "UNet2DConditionModel"], "vae": ["diffusers", "AutoencoderKL"],
        "scheduler": ["diffusers", "PNDMScheduler"], "safety_checker": [None, None],
    }
    _write(tmp_path / "model_index.json", json.dumps(index))
    _write(tmp_path / "unet/config.json", json.dumps({"in_channels": 4}))
    _write(tmp_path / "unet/diffusion_pytorch_model.safetensors",
           safetensors_bytes({"conv_in.weight": ("F32", [2, 4], 32)}))
    _write(tmp_path / "unet/diffusion_pytorch_model.fp16.safetensors",
           safetensors_bytes({"conv_in.weight": ("F16", [2, 4], 16)}))
    _write(tmp_path / "vae/diffusion_pytorch_model.safetensors",
           safetensors_bytes({"decoder.conv_out.weight": ("F16", [3], 6)}))
    _write(tmp_path / "scheduler/scheduler_config.json", "{}")

    assert detect_format(tmp_path) == "diffusers"
    h = read_header(tmp_path)

    assert h.format == "diffusers"
    assert h.config["_class_name"] == "StableDiffusionPipeline"
    assert set(h.components) == {"unet", "vae", "scheduler"}
    unet = h.components["unet"]
    assert unet.format == "safetensors" and unet.config == {"in_channels": 4}
    assert unet.tensors["conv_in.weight"].dtype == "F32"  # full precision preferred over fp16
    assert h.components["scheduler"].format == "unknown"
    assert set(h.tensors) == {"unet/conv_in.weight", "vae/decoder.conv_out.weight"}
    assert h.tensors["vae/decoder.conv_out.weight"].file == (
        "vae/diffusion_pytorch_model.safetensors"
    )
    assert h.parameters == 8 + 3


def test_transformers_folder_with_sharded_pickles(tmp_path: Path) -> None:
    _write(tmp_path / "config.json", json.dumps(
        {"model_type": "bert", "architectures": ["BertModel"], "max_position_embeddings": 512}
    ))
    wm = {}
    for i, name in enumerate(("a.weight", "b.weight"), start=1):
        shard = f"pytorch_model-0000{i}-of-00002.bin"
        sd, storages = state_dict({name: np.zeros((2, 2), np.float32)})
        torch_zip(tmp_path / shard, sd, storages, root=f"shard{i}")
        wm[name] = shard
    _write(tmp_path / "pytorch_model.bin.index.json", json.dumps({"weight_map": wm}))

    assert detect_format(tmp_path) == "transformers"
    h = read_header(tmp_path)
    assert h.format == "transformers"
    assert (h.architecture, h.context_length) == ("bert", 512)
    assert h.config["architectures"] == ["BertModel"]
    assert h.parameters == 8
    assert h.shards == tuple(sorted(wm.values()))
    assert h.safety.status == "safe"
    assert h.tensors["b.weight"].file == "pytorch_model-00002-of-00002.bin"


def test_folder_with_only_an_index_is_that_sharded_model(tmp_path: Path) -> None:
    name = "model-00001-of-00001.safetensors"
    _write(tmp_path / name, safetensors_bytes({"x": ("F32", [1], 4)}))
    _write(tmp_path / "model.safetensors.index.json", json.dumps({"weight_map": {"x": name}}))
    assert detect_format(tmp_path) == "safetensors"
    assert read_header(tmp_path).parameters == 1


def test_index_whose_tensor_is_not_in_its_shard_is_an_error(tmp_path: Path) -> None:
    name = "model-00001-of-00001.safetensors"
    _write(tmp_path / name, safetensors_bytes({"x": ("F32", [1], 4)}))
    index = _write(tmp_path / "model.safetensors.index.json",
                   json.dumps({"weight_map": {"y": name}}))
    with pytest.raises(FormatError, match="'y' is not in shard"):
        read_header(index)


def test_empty_folder_is_unknown_and_missing_path_is_not_found(tmp_path: Path) -> None:
    assert read_header(tmp_path).format == "unknown"
    with pytest.raises(NotFoundError):
        read_header(tmp_path / "nope.safetensors")


def test_oversized_or_broken_config_json_is_a_clear_error(tmp_path: Path) -> None:
    _write(tmp_path / "config.json", "{" * 100_000)
    with pytest.raises(FormatError, match=r"config\.json"):
        read_header(tmp_path)


def test_onnx_is_recognised_by_structure(tmp_path: Path) -> None:
    path = _write(tmp_path / "model.bin", onnx_bytes())
    assert detect_format(path) == "onnx"
    h = read_header(path)
    assert h.format == "onnx"
    assert h.metadata["producer_name"] == "modelshelf-tests"
    assert h.metadata["opset_import"] == {"": 17}


def test_truncated_onnx_is_an_error() -> None:
    data = onnx_bytes(graph=b"\x0a\x04node" * 100)
    with pytest.raises(FormatError, match="ONNX"):
        read_header_from(BytesSource(data[:200]), "cut.onnx")


def test_large_or_odd_json_files_are_just_unknown(tmp_path: Path) -> None:
    big = _write(tmp_path / "dataset.json", "[" + "1," * 9_000_000 + "1]")
    assert read_header(big).format == "unknown"
    assert detect_format(_write(tmp_path / "tokenizer.json", '{"model": {}}')) == "unknown"


def _sharded_transformers(folder: Path) -> None:
    _write(folder / "config.json", json.dumps({"model_type": "llama", "architectures": ["X"]}))
    wm = {}
    for i, names in enumerate((("a.weight", "b.weight"), ("c.weight",)), start=1):
        shard = f"model-0000{i}-of-00002.safetensors"
        _write(folder / shard, safetensors_bytes({n: ("BF16", [2, i], 4 * i) for n in names}))
        wm.update(dict.fromkeys(names, shard))
    _write(folder / "model.safetensors.index.json", json.dumps({"weight_map": wm}))


def _diffusers(folder: Path) -> None:
    _write(folder / "model_index.json", json.dumps({"_class_name": "FluxPipeline",
                                                    "transformer": ["diffusers", "X"],
                                                    "vae": ["diffusers", "Y"]}))
    _sharded_transformers(folder / "transformer")
    _write(folder / "vae/diffusion_pytorch_model.safetensors",
           safetensors_bytes({"decoder.w": ("F32", [3], 12), "encoder.w": ("F16", [2], 4)}))


@pytest.mark.parametrize("build", [_sharded_transformers, _diffusers])
def test_a_folder_joined_column_by_column_reads_as_tensor_by_tensor(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, build) -> None:
    """A folder's or a shard set's safetensors tables are joined as columns (no tensor record
    built); the same folder read from plain dicts, as a pickle's tensors come, must say the
    same: names, files, offsets, counts."""
    from modelshelf.formats import safetensors_fmt
    from modelshelf.inspection.info import all_tensors, summarize

    build(tmp_path)
    joined = read_header(tmp_path)
    as_columns = dict(all_tensors(joined).items())
    columns_summary = summarize(joined)
    plain = safetensors_fmt._tensors
    monkeypatch.setattr(safetensors_fmt, "_tensors",
                        lambda *args: dict(plain(*args).items()))
    one_by_one = read_header(tmp_path)
    assert dict(all_tensors(one_by_one).items()) == as_columns
    assert len(as_columns) == (5 if build is _diffusers else 3)
    assert summarize(one_by_one) == columns_summary
    assert joined == one_by_one
