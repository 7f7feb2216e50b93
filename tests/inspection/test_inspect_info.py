"""info: exact counts for every format, fingerprints, folders, and the GPU-fit arithmetic."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
from convert_torchzip import simple_state_dict
from inspect_models import write_gguf, write_sharded, write_st

from modelshelf.errors import FormatError, UsageError
from modelshelf.formats import read_header
from modelshelf.inspection import Info, gpu_fit, inspect_header, inspect_path, scan
from modelshelf.inspection.gpu import RUNTIME_BYTES

SPEC_KEYS = {"path", "format", "size", "architecture", "model_type", "parameters", "dtypes",
             "tensors", "memory_bytes", "metadata", "shards", "safety"}


def test_safetensors_counts_are_exact(tmp_path: Path) -> None:
    path = write_st(tmp_path / "m.safetensors", {"w": (3, 4), "b": (4,)},
                    metadata={"ss_network_dim": "8"})
    info = inspect_path(path)
    data = info.to_json()
    assert set(data) >= SPEC_KEYS and {"evidence", "confidence", "fingerprints"} <= set(data)
    assert data["format"] == "safetensors"
    assert data["parameters"] == 16 and data["dtypes"] == {"F32": 16}
    assert data["tensors"] == 2 and data["memory_bytes"] == 64
    assert data["size"] == path.stat().st_size
    assert data["metadata"] == {"ss_network_dim": "8"}
    assert data["safety"] == {"status": "safe", "findings": []}
    json.dumps(data)  # JSON-able as is


def test_fingerprints_sha256_only_when_asked(tmp_path: Path) -> None:
    path = write_st(tmp_path / "m.safetensors", {"w": (300, 1000)})  # > 1 MiB: legacy hash reads
    cheap = inspect_path(path).fingerprints
    assert cheap["sha256"] is None and cheap["autov2"] is None
    data = path.read_bytes()
    assert cheap["a1111_legacy"] == hashlib.sha256(data[0x100000:0x110000]).hexdigest()[:8]
    full = inspect_path(path, hashes=True).fingerprints
    assert full["sha256"] == hashlib.sha256(data).hexdigest()
    assert full["autov2"] == full["sha256"][:10].upper()


def test_gguf_quantization_and_context_length(tmp_path: Path) -> None:
    info = inspect_path(write_gguf(tmp_path / "m.gguf", context_length=8192, file_type=1))
    assert info.format == "gguf"
    assert info.parameters == 8 * 16 + 16
    assert info.dtypes == {"F16": 128, "F32": 16}
    assert info.memory_bytes == 128 * 2 + 16 * 4
    assert info.context_length == 8192
    assert info.quantization == "F16"
    assert info.architecture == "llama" and info.model_type == "llm"


def test_pickle_checkpoint(tmp_path: Path) -> None:
    tensors = {"w": np.ones((6, 7), np.float32), "n": np.arange(3, dtype=np.int64)}
    info = inspect_path(simple_state_dict(tmp_path / "m.pt", tensors))
    assert info.format == "pickle" and info.safety["status"] == "safe"
    assert info.parameters == 45 and info.dtypes == {"F32": 42, "I64": 3}
    assert info.memory_bytes == 42 * 4 + 3 * 8


def test_sharded_folder_counts_every_shard(tmp_path: Path) -> None:
    folder = write_sharded(tmp_path / "llm")
    info = inspect_path(folder)
    assert info.parameters == 100 + 20
    assert info.dtypes == {"F32": 100, "F16": 20}
    assert info.memory_bytes == 400 + 40
    assert len(info.shards) == 2
    assert info.size == sum(p.stat().st_size for p in folder.iterdir())
    assert info.fingerprints["sha256"] is None  # a folder has no single digest


def test_inspect_header_needs_no_file(tmp_path: Path) -> None:
    path = write_st(tmp_path / "m.safetensors", {"w": (2, 2)})
    header = read_header(path)
    path.unlink()
    info = inspect_header(header, path="hf:org/repo/m.safetensors", size=1234)
    assert info.path == "hf:org/repo/m.safetensors" and info.size == 1234
    assert info.parameters == 4


def test_unknown_and_broken_files(tmp_path: Path) -> None:
    text = tmp_path / "notes.txt"
    text.write_text("just words\n" * 50)
    info = inspect_path(text)
    assert info.format == "unknown" and info.parameters == 0 and info.architecture == "unknown"
    broken = write_st(tmp_path / "b.safetensors", {"w": (100, 100)})
    broken.write_bytes(broken.read_bytes()[:1000])
    with pytest.raises(FormatError):
        inspect_path(broken)


def test_long_metadata_is_abbreviated(tmp_path: Path) -> None:
    path = write_st(tmp_path / "m.safetensors", {"w": (1,)}, metadata={"big": "x" * 100_000})
    value = inspect_path(path).metadata["big"]
    assert len(value) < 20_000 and value.endswith("(100000 chars)")


def _info(dtypes: dict[str, int], memory: int) -> Info:
    return Info(path="x", format="safetensors", size=memory, architecture="sdxl",
                model_type="checkpoints", parameters=sum(dtypes.values()), dtypes=dtypes,
                tensors=1, memory_bytes=memory, metadata={}, shards=(), safety={})


def test_gpu_fit_arithmetic() -> None:
    gib = 2**30
    info = _info({"F32": 3 * gib, "I64": 1000}, 3 * gib * 4 + 8000)  # 12 GiB fp32 + ints
    as_is = gpu_fit(info, 24 * gib)
    weights = 12 * gib + 8000
    assert as_is["weights_bytes"] == weights
    # an SDXL checkpoint: 20% of the weights and the 2.5 GiB of a 1024x1024 image
    assert as_is["needed_bytes"] == weights + int(weights * 0.2) + int(2.5 * gib) + RUNTIME_BYTES
    assert as_is["fits"] is True
    assert as_is["headroom_bytes"] == 24 * gib - as_is["needed_bytes"]

    half = gpu_fit(info, 12 * gib, dtype="fp16")
    assert half["weights_bytes"] == 6 * gib + 8000  # floats halved, integers kept
    assert half["fits"] is True and half["headroom_bytes"] > 0

    small = gpu_fit(info, 16 * gib)  # fits by the weights and 20%, not with the image
    assert small["fits"] is False and small["headroom_bytes"] < 0


def test_gpu_fit_keeps_quantised_blocks_and_refuses_bad_dtype() -> None:
    info = _info({"Q4_K": 1000, "F32": 10}, 600 + 40)
    assert gpu_fit(info, 2**30, dtype="bf16")["weights_bytes"] == 600 + 20
    with pytest.raises(UsageError):
        gpu_fit(info, 2**30, dtype="int4")
    with pytest.raises(UsageError):
        gpu_fit(info, 0)


def test_diffusers_folder_sums_its_components(tmp_path: Path) -> None:
    root = tmp_path / "pipe"
    root.mkdir()
    (root / "model_index.json").write_text(json.dumps({
        "_class_name": "StableDiffusionPipeline", "unet": ["diffusers", "UNet2DConditionModel"],
        "vae": ["diffusers", "AutoencoderKL"]}))
    for comp, shapes in {"unet": {"conv_in.weight": (4, 4)}, "vae": {"decoder.w": (3,)}}.items():
        write_st(root / comp / "diffusion_pytorch_model.safetensors", shapes)
        (root / comp / "config.json").write_text("{}")
    info = inspect_path(root)
    assert info.format == "diffusers"
    assert info.parameters == 16 + 3 and info.tensors == 2
    assert info.memory_bytes == 19 * 4


@pytest.mark.parametrize("named", ["model-00001-of-00002.safetensors",
                                   "model-00002-of-00002.safetensors",
                                   "model.safetensors.index.json"])
def test_info_on_one_shard_describes_the_whole_sharded_model(tmp_path: Path, named: str) -> None:
    """SPEC: for a sharded model, parameters count all shards — whichever file is named."""
    folder = write_sharded(tmp_path / "m")
    info = inspect_path(folder / named)
    assert info.parameters == 10 * 10 + 5 * 4 and info.tensors == 2
    assert info.shards == ("model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors")
    assert info.size == sum((folder / s).stat().st_size for s in info.shards)


def test_scan_still_counts_each_shard_once(tmp_path: Path) -> None:
    folder = write_sharded(tmp_path / "m")
    (folder / "config.json").unlink()  # no longer a transformers folder: shard files are units
    files = {Path(f.path).name: f for f in scan(tmp_path / "m").files}
    assert set(files) == {"model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"}
    assert sum(f.facts["parameters"] for f in files.values()) == 10 * 10 + 5 * 4
