"""``Shelf.load`` / ``Shelf.tensor`` with numpy: memory-mapped, lazy, shards as one mapping, GGUF
blocks with their type, bf16 without a bf16 dtype, and pickles refused when judged unsafe."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
from load_helpers import MIXED, bf16_as_float32, malicious_pickle, mixed, quantized_gguf, sharded
from safetensors import safe_open
from safetensors.numpy import load_file

from modelshelf import Shelf
from modelshelf.errors import FormatError, MissingExtra, NotFoundError, UnsafeFile, UsageError
from modelshelf.formats.tensors import QuantizedTensor


def test_load_gives_every_tensor_equal_to_safetensors_own_reader(tmp_path: Path) -> None:
    path = mixed(tmp_path / "m.safetensors")
    tensors = Shelf().load(str(path))
    assert set(tensors) == set(MIXED)
    with safe_open(path, framework="np") as reference:
        with pytest.raises(TypeError, match="bfloat16"):  # why we read bf16 ourselves
            reference.get_tensor("b")
        for name in ("w", "h", "i"):
            expected = reference.get_tensor(name)
            np.testing.assert_array_equal(tensors[name], expected)
            assert tensors[name].dtype == expected.dtype


def test_tensors_are_read_only_views_of_a_mapping_built_when_touched(tmp_path: Path) -> None:
    tensors = Shelf().load(str(mixed(tmp_path / "m.safetensors")))
    assert tensors.touched == frozenset()
    w = tensors["w"]
    assert tensors.touched == {"w"}
    assert not w.flags.owndata and not w.flags.writeable  # a view of the file's pages
    assert tensors["w"] is w
    with pytest.raises(ValueError):
        w[0, 0] = 1.0


def test_bf16_comes_as_its_bits_or_upcast_exactly_when_float32_is_asked(tmp_path: Path) -> None:
    path = mixed(tmp_path / "m.safetensors")
    bits = Shelf().load(str(path))["b"]
    assert bits.dtype == np.uint16 and bits.shape == (2, 3)
    up = Shelf().load(str(path), dtype="float32")
    np.testing.assert_array_equal(up["b"], bf16_as_float32(bits))
    assert up["b"].dtype == np.float32 and up["h"].dtype == np.float32
    assert up["i"].dtype == np.int64  # integers are never cast


def test_numpy_refuses_bfloat16_and_devices_with_a_usage_error(tmp_path: Path) -> None:
    path = str(mixed(tmp_path / "m.safetensors"))
    with pytest.raises(UsageError, match="numpy has no bfloat16"):
        Shelf().load(path, dtype="bfloat16")
    with pytest.raises(UsageError, match="framework='torch'"):
        Shelf().load(path, device="cuda:0")


def test_a_sharded_model_is_one_mapping_from_its_folder_index_or_any_shard(tmp_path: Path) -> None:
    folder = sharded(tmp_path / "repo")
    shelf = Shelf()
    for target in (folder, folder / "model.safetensors.index.json",
                   folder / "model-00002-of-00002.safetensors"):
        tensors = shelf.load(str(target))
        assert sorted(tensors) == ["a.weight", "b.bias", "b.weight"], target
        shard = load_file(folder / "model-00002-of-00002.safetensors")
        np.testing.assert_array_equal(tensors["b.weight"], shard["b.weight"])


def test_gguf_quantized_tensors_are_blocks_with_their_ggml_type(tmp_path: Path) -> None:
    tensors = Shelf().load(str(quantized_gguf(tmp_path / "m.gguf")))
    q = tensors["blk.0.q"]
    assert isinstance(q, QuantizedTensor)
    assert (q.ggml_type, q.shape, q.data.shape) == ("Q8_0", (4, 32), (4, 34))
    np.testing.assert_array_equal(q.data, np.arange(4 * 34, dtype=np.uint8).reshape(4, 34))
    np.testing.assert_array_equal(tensors["norm"], np.arange(6, dtype=np.float32).reshape(2, 3))


def test_a_big_endian_gguf_gives_its_true_values(tmp_path: Path) -> None:
    norm = Shelf().load(str(quantized_gguf(tmp_path / "be.gguf", big_endian=True)))["norm"]
    np.testing.assert_array_equal(norm, np.arange(6, dtype=np.float32).reshape(2, 3))


def test_eager_load_copies_into_memory_of_its_own(tmp_path: Path) -> None:
    tensors = Shelf().load(str(mixed(tmp_path / "m.safetensors")), lazy=False)
    assert tensors["w"].flags.owndata and tensors["w"].flags.writeable


def test_tensor_reads_one_tensor_alone(tmp_path: Path) -> None:
    path = mixed(tmp_path / "m.safetensors")
    shelf = Shelf()
    w = shelf.tensor(str(path), "w")
    with safe_open(path, framework="np") as reference:
        np.testing.assert_array_equal(w, reference.get_tensor("w"))
    assert w.flags.writeable  # memory of its own: a view of the read-only mapping is not
    assert shelf.loaded() == []  # nothing cached, nothing left mapped
    with pytest.raises(NotFoundError, match="no tensor named 'nope'"):
        shelf.tensor(str(path), "nope")


def test_an_unsafe_pickle_is_refused_and_never_run(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    path = malicious_pickle(tmp_path / "evil.pt", marker)
    with pytest.raises(UnsafeFile, match="refusing to unpickle"):
        Shelf().load(str(path))
    assert not marker.exists()


def test_a_safe_pickle_without_torch_names_the_extra(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    import pickle

    path = tmp_path / "plain.pt"
    path.write_bytes(pickle.dumps({"n": 1}, protocol=2))
    monkeypatch.setitem(sys.modules, "torch", None)  # import torch -> ImportError
    with pytest.raises(MissingExtra, match=r"pip install 'modelshelf\[torch\]'"):
        Shelf().load(str(path))


def test_a_file_without_tensors_is_a_format_error(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("hello")
    with pytest.raises(FormatError, match="no tensors to load"):
        Shelf().load(str(path))
