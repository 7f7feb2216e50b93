"""GGUF: header-only reading, checked against gguf's own reader; corrupt counts never allocate."""

from __future__ import annotations

import struct
from pathlib import Path

import gguf
import numpy as np
import pytest
from formats_factories import gguf_file, gguf_raw, gguf_string

from modelshelf.errors import FormatError
from modelshelf.formats import BytesSource, detect_format, read_header, read_header_from


def test_header_matches_gguf_reader(tmp_path: Path) -> None:
    path = gguf_file(tmp_path / "tiny.gguf", n_tokens=1000)
    h = read_header(path)

    assert h.format == "gguf" and detect_format(path) == "gguf"
    assert h.architecture == "llama"
    assert h.quantization == "Q8_0"
    assert h.context_length == 4096
    assert h.metadata["general.name"] == "tiny test model"
    assert h.metadata["test.small"] == [1, 2, 3]
    assert h.metadata["tokenizer.ggml.tokens"] == {
        "type": "array", "element_type": "STRING", "length": 1000,
    }
    ref = gguf.GGUFReader(str(path))
    assert len(h.tensors) == len(ref.tensors)
    for t in ref.tensors:
        mine = h.tensors[t.name]
        assert mine.offset == t.data_offset
        assert mine.nbytes == t.n_bytes
        assert mine.shape == tuple(int(d) for d in reversed(t.shape))
        assert mine.dtype == t.tensor_type.name
    assert h.tensors["blk.0.attn_q.weight"].dtype == "Q8_0"
    assert h.parameters == 8 * 64 + 64 + 4 * 64
    raw = path.read_bytes()
    emb = h.tensors["token_embd.weight"]
    assert np.array_equal(
        np.frombuffer(raw[emb.offset : emb.offset + emb.nbytes], np.float32).reshape(emb.shape),
        np.arange(64 * 8, dtype=np.float32).reshape(8, 64),
    )


def test_big_endian_file_is_read_and_said_so(tmp_path: Path) -> None:
    h = read_header(gguf_file(tmp_path / "be.gguf", big_endian=True))
    assert h.byteorder == "big"
    assert h.architecture == "llama" and h.context_length == 4096


def _error(data: bytes) -> str:
    with pytest.raises(FormatError) as exc:
        read_header_from(BytesSource(data), "bad.gguf")
    assert str(exc.value).startswith("bad.gguf: ")
    return str(exc.value)


def test_absurd_counts_are_errors_not_allocations() -> None:
    assert "tensor count" in _error(gguf_raw(n_tensors=1 << 60))
    assert "key/value count" in _error(gguf_raw(n_kv=1 << 62))
    huge_array = gguf_string("k") + struct.pack("<IIQ", 9, 4, 1 << 61)
    assert "larger than the file could hold" in _error(gguf_raw(n_kv=1, body=huge_array))
    huge_str_array = gguf_string("k") + struct.pack("<IIQ", 9, 8, 1 << 40)
    assert "larger than the file could hold" in _error(gguf_raw(n_kv=1, body=huge_str_array))
    huge_string = struct.pack("<Q", 1 << 50) + b"x"
    assert "larger than the file could hold" in _error(gguf_raw(n_kv=1, body=huge_string))


def test_nested_arrays_are_bounded() -> None:
    body = gguf_string("k") + struct.pack("<I", 9) + struct.pack("<IQ", 9, 1) * 10
    assert "nested too deeply" in _error(gguf_raw(n_kv=1, body=body + b"\0" * 64))


def test_bad_version_value_type_and_dims_are_errors() -> None:
    assert "unsupported GGUF version 1" in _error(gguf_raw(version=1))
    assert "unknown value type" in _error(
        gguf_raw(n_kv=1, body=gguf_string("k") + struct.pack("<I", 99) + b"\0" * 8)
    )
    tensor = gguf_string("t") + struct.pack("<I", 9) + b"\0" * 100
    assert "dimensions" in _error(gguf_raw(n_tensors=1, body=tensor))


def test_unknown_ggml_type_and_data_past_eof_are_errors() -> None:
    def one_tensor(ggml_type: int, dim: int) -> bytes:
        info = gguf_string("t") + struct.pack("<IQIQ", 1, dim, ggml_type, 0)
        return gguf_raw(n_tensors=1, body=info)

    assert "unknown ggml type" in _error(one_tensor(999, 4))
    assert "past the end" in _error(one_tensor(0, 1 << 40))


def test_truncated_file_is_an_error(tmp_path: Path) -> None:
    data = gguf_file(tmp_path / "t.gguf").read_bytes()
    for cut in (6, 30, len(data) // 3, len(data) - 40):
        _error(data[:cut])


def test_bad_alignment_is_an_error() -> None:
    body = gguf_string("general.alignment") + struct.pack("<II", 4, 3)
    assert "power of two" in _error(gguf_raw(n_kv=1, body=body))


class _HeaderOnly:
    """A 'remote' GGUF that serves only its first ``keep`` bytes; counts what is read."""

    def __init__(self, data: bytes, keep: int) -> None:
        self.data, self.size, self.bytes_read = data[:keep], len(data), 0

    def read_at(self, offset: int, length: int) -> bytes:
        self.bytes_read += length
        return (self.data[offset : offset + length]).ljust(min(length, self.size - offset), b"\0")


def test_remote_header_read_stays_in_the_header(tmp_path: Path) -> None:
    big = {"token_embd.weight": np.zeros((2048, 1024), np.float32)}  # 8 MiB of tensor data
    data = gguf_file(tmp_path / "big.gguf", n_tokens=5000, tensors=big).read_bytes()
    h = read_header(tmp_path / "big.gguf")
    first = min(t.offset for t in h.tensors.values())
    src = _HeaderOnly(data, first)
    assert read_header_from(src, "remote.gguf").tensors.keys() == h.tensors.keys()
    assert src.bytes_read < first + 300 * 1024
