"""Real files: the factories write valid, sparse safetensors that the project's reader and the
reference ``safetensors`` package both accept, and identification gives the same answer."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from modelshelf.identify import identify
from modelshelf.testing.factories import (
    EXAMPLES,
    corpus_names,
    load_corpus,
    sdxl_checkpoint,
    write_safetensors,
)

read_header = pytest.importorskip("modelshelf.formats").read_header


def test_sdxl_sized_file_costs_no_disk(tmp_path: Path) -> None:
    path = write_safetensors(tmp_path / "sdxl.safetensors", sdxl_checkpoint())
    size = path.stat().st_size
    assert size > 100_000_000  # real SDXL shapes: hundreds of MB of (virtual) data
    if hasattr(os.stat_result, "st_blocks"):
        assert path.stat().st_blocks * 512 < 1_000_000  # a sparse hole, not written zeros
    found = identify(read_header(path))
    assert (found.architecture, found.model_type) == ("sdxl", "checkpoints")


def test_header_layout_is_valid_safetensors(tmp_path: Path) -> None:
    path = write_safetensors(
        tmp_path / "m.safetensors",
        {"a": ((2, 3), "F32"), "b": (4,), "scalar": ((), "I64")},
        metadata={"modelspec.architecture": "x", "n": 3}, fill="random",
    )
    raw = path.read_bytes()
    n = int.from_bytes(raw[:8], "little")
    assert n % 8 == 0
    header = json.loads(raw[8:8 + n])
    assert header["__metadata__"] == {"modelspec.architecture": "x", "n": "3"}
    assert header["a"] == {"dtype": "F32", "shape": [2, 3], "data_offsets": [0, 24]}
    assert header["b"] == {"dtype": "F16", "shape": [4], "data_offsets": [24, 32]}
    assert header["scalar"]["data_offsets"] == [32, 40]
    assert len(raw) == 8 + n + 40
    assert raw[8 + n:] != bytes(40)  # random fill really wrote data


def test_reference_library_reads_factory_files(tmp_path: Path) -> None:
    np = pytest.importorskip("numpy")
    safetensors_numpy = pytest.importorskip("safetensors.numpy")
    path = write_safetensors(tmp_path / "m.safetensors", {"w": ((3, 2), "F32"), "v": (5,)},
                             metadata={"k": "v"})
    loaded = safetensors_numpy.load_file(str(path))
    assert loaded["w"].shape == (3, 2) and loaded["w"].dtype == np.float32
    assert not loaded["v"].any()


def test_unknown_dtype_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="dtype"):
        write_safetensors(tmp_path / "x.safetensors", {"a": ((1,), "F7")})


@pytest.mark.parametrize("name", ["sd15-checkpoint", "flux-dev", "sdxl-lora", "flux-lora",
                                  "t5-xxl", "esrgan", "sdxl-embedding", "sd15-controlnet"])
def test_examples_through_real_files(tmp_path: Path, name: str) -> None:
    ex = EXAMPLES[name]
    path = write_safetensors(tmp_path / f"{name}.safetensors", ex.build(True), dtype="BF16")
    assert path.stat().st_size < 8 * 1024 * 1024  # tiny=True: demo-sized
    found = identify(read_header(path))
    assert (found.architecture, found.model_type) == (ex.architecture, ex.model_type)


def test_corpus_through_a_real_file(tmp_path: Path) -> None:
    names = [n for n in corpus_names() if n.startswith("flux_lora_kohya")]
    tensors, expected = load_corpus(names[0])
    path = write_safetensors(tmp_path / "lora.safetensors", tensors)
    found = identify(read_header(path))
    assert (found.architecture, found.model_type) == (expected["architecture"], "loras")


def test_corpus_location_follows_the_environment(tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "keylists").mkdir()
    doc = {"expected": {"model_type": "vae", "architecture": None},
           "tensors": {"decoder.conv_in.weight": [512, 4, 3, 3]}}
    (tmp_path / "keylists" / "mine.json").write_text(json.dumps(doc))
    monkeypatch.setenv("MODELSHELF_CORPUS", str(tmp_path))
    assert corpus_names() == ["mine"]
    tensors, expected = load_corpus("mine")
    assert tensors == {"decoder.conv_in.weight": (512, 4, 3, 3)}
    assert expected["model_type"] == "vae"


def test_gguf_language_model_file(tmp_path: Path) -> None:
    from modelshelf.testing.factories import llama_gguf_metadata, write_gguf

    path = write_gguf(tmp_path / "tiny.gguf", llama_gguf_metadata("qwen2", context=32768))
    header = read_header(path)
    assert header.format == "gguf"
    found = identify(header)
    assert (found.architecture, found.model_type) == ("qwen2", "llm")
