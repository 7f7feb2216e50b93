"""safetensors: what the header says, and a clear one-line error for every way it can lie."""

from __future__ import annotations

import json
import pickle
import struct
from pathlib import Path

import numpy as np
import pytest
from formats_factories import safetensors_bytes
from safetensors.numpy import save_file

from modelshelf.errors import FormatError
from modelshelf.formats import (
    BytesSource,
    detect_format,
    read_header,
    read_header_from,
    safetensors_fmt,
)
from modelshelf.formats.safetensors_fmt import DTYPE_BITS
from modelshelf.formats.source import Budget


def test_library_written_file_lists_tensors_metadata_and_absolute_offsets(tmp_path: Path) -> None:
    arrays = {
        "w": np.arange(12, dtype=np.float32).reshape(3, 4),
        "b": np.arange(5, dtype=np.float16),
        "i": np.arange(2, dtype=np.int64),
    }
    path = tmp_path / "m.safetensors"
    save_file(arrays, str(path), metadata={"format": "pt", "ss_network_dim": "16"})

    h = read_header(path)

    assert h.format == "safetensors"
    assert h.metadata == {"format": "pt", "ss_network_dim": "16"}
    assert {n: (t.dtype, t.shape) for n, t in h.tensors.items()} == {
        "w": ("F32", (3, 4)), "b": ("F16", (5,)), "i": ("I64", (2,)),
    }
    raw = path.read_bytes()
    for name, arr in arrays.items():
        t = h.tensors[name]
        assert raw[t.offset : t.offset + t.nbytes] == arr.tobytes()
    assert h.parameters == 12 + 5 + 2
    assert h.dtype_counts() == {"F32": 12, "F16": 5, "I64": 2}
    assert h.safety.status == "safe"


def test_every_dtype_is_accepted_with_its_size() -> None:
    tensors = {f"t_{d}": (d, [2, 4], 8 * DTYPE_BITS[d] // 8) for d in DTYPE_BITS}
    h = read_header_from(BytesSource(safetensors_bytes(tensors)), "all.safetensors")
    assert {t.dtype for t in h.tensors.values()} == set(DTYPE_BITS)
    assert h.tensors["t_F4"].nbytes == 4
    assert h.tensors["t_BF16"].nbytes == 16


def test_zero_sized_tensor_is_fine() -> None:
    data = safetensors_bytes({"e": ("F32", [0, 3], 0), "x": ("U8", [2], 2)})
    h = read_header_from(BytesSource(data))
    assert h.tensors["e"].nbytes == 0


def test_renamed_file_is_still_safetensors(tmp_path: Path) -> None:
    path = tmp_path / "model (3).bin"
    path.write_bytes(safetensors_bytes({"a": ("F32", [1], 4)}))
    assert detect_format(path) == "safetensors"
    assert read_header(path).format == "safetensors"


def test_a_safetensors_name_on_a_pickle_is_reported_as_pickle(tmp_path: Path) -> None:
    path = tmp_path / "model.safetensors"
    path.write_bytes(pickle.dumps({"a": [1, 2, 3]}, protocol=4))
    assert detect_format(path) == "pickle"
    assert read_header(path).format == "pickle"


@pytest.mark.parametrize("content", [b"", b"hello world, not a model\n", bytes(range(256)) * 4])
def test_non_model_files_are_unknown_without_error(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "notes.bin"  # a name that claims no format
    path.write_bytes(content)
    assert detect_format(path) == "unknown"
    header = read_header(path)
    assert header.format == "unknown"
    assert header.safety.status == "unknown"  # never analysed: not vouched for


@pytest.mark.parametrize("content", [b"", b"hello world, not a model\n", bytes(range(256)) * 4])
def test_non_model_bytes_named_safetensors_are_broken(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "notes.safetensors"
    path.write_bytes(content)
    assert detect_format(path) == "unknown"  # detection goes by content...
    with pytest.raises(FormatError) as exc:  # ...but a file named like a model must be one
        read_header(path)
    assert str(exc.value).startswith(f"{path}: ") and "\n" not in str(exc.value)
    assert ("empty file" if not content else "not a valid safetensors file") in str(exc.value)


def _error(data: bytes) -> str:
    with pytest.raises(FormatError) as exc:
        read_header_from(BytesSource(data), "bad.safetensors")
    msg = str(exc.value)
    assert msg.startswith("bad.safetensors: ") and "\n" not in msg
    return msg


GOOD = {"a": ("F32", [2, 2], 16), "b": ("F16", [4], 8)}


def test_truncated_data_is_an_error() -> None:
    assert "truncated" in _error(safetensors_bytes(GOOD)[:-5])


def test_header_length_past_eof_is_an_error() -> None:
    data = bytearray(safetensors_bytes(GOOD))
    data[:8] = struct.pack("<Q", 10_000)
    assert "past the end" in _error(bytes(data))


def test_absurd_header_length_is_refused_before_reading() -> None:
    data = struct.pack("<Q", 1 << 39) + b"{" + b" " * 100
    assert "limit" in _error(data)


def test_overlapping_offsets_are_an_error() -> None:
    header = {
        "a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
        "b": {"dtype": "F32", "shape": [2], "data_offsets": [4, 12]},
    }
    assert "overlaps" in _error(safetensors_bytes({}, header=header, data=b"\0" * 12))


def test_gap_is_an_error_but_trailing_padding_is_tolerated() -> None:
    header = {"a": {"dtype": "F32", "shape": [1], "data_offsets": [4, 8]}}
    assert "gap" in _error(safetensors_bytes({}, header=header, data=b"\0" * 8))
    header = {"a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}}
    h = read_header_from(BytesSource(safetensors_bytes({}, header=header, data=b"\0" * 8)))
    assert h.tensors["a"].nbytes == 4


def test_shape_of_2_pow_60_elements_is_an_error_not_an_allocation() -> None:
    header = {"a": {"dtype": "F32", "shape": [1 << 30, 1 << 30], "data_offsets": [0, 4]}}
    assert "needs 4611686018427387904 bytes" in _error(
        safetensors_bytes({}, header=header, data=b"\0" * 4)
    )


def test_shape_size_mismatch_unknown_dtype_and_bad_shapes_are_errors() -> None:
    def one(entry: dict) -> str:
        return _error(safetensors_bytes({}, header={"a": entry}, data=b"\0" * 8))

    assert "needs 4 bytes" in one({"dtype": "F32", "shape": [1], "data_offsets": [0, 8]})
    assert "unknown dtype" in one({"dtype": "F128", "shape": [1], "data_offsets": [0, 8]})
    assert "non-negative" in one({"dtype": "F32", "shape": [-2], "data_offsets": [0, 8]})
    assert "non-negative" in one({"dtype": "F32", "shape": [True], "data_offsets": [0, 8]})
    assert "data_offsets" in one({"dtype": "F32", "shape": [2], "data_offsets": [8, 0]})
    assert "not an object" in _error(safetensors_bytes({}, header={"a": [1, 2]}, data=b""))


def test_sub_byte_dtype_must_fill_whole_bytes() -> None:
    header = {"a": {"dtype": "F4", "shape": [3], "data_offsets": [0, 2]}}
    assert "whole number of bytes" in _error(safetensors_bytes({}, header=header, data=b"\0\0"))


def test_non_utf8_header_is_an_error() -> None:
    assert "UTF-8" in _error(safetensors_bytes({}, raw_header=b'{"\xff\xfe": 1}', data=b""))


def test_deeply_nested_header_is_an_error_not_a_crash() -> None:
    deep = b"{" + b'"a":' * 1 + b"[" * 200_000 + b"]" * 200_000 + b"}"
    assert "nested too deeply" in _error(safetensors_bytes({}, raw_header=deep, data=b""))


def test_header_must_be_an_object_and_metadata_strings() -> None:
    with pytest.raises(FormatError, match="not a JSON object"):
        safetensors_fmt.read(Budget(BytesSource(struct.pack("<Q", 6) + b"[1, 2]"), "x"))
    bad_meta = safetensors_bytes({}, header={"__metadata__": {"a": 1}}, data=b"")
    assert "__metadata__" in _error(bad_meta)
    assert "not valid JSON" in _error(safetensors_bytes({}, raw_header=b"{nope", data=b""))


def test_sharded_file_lists_its_siblings(tmp_path: Path) -> None:
    for i in (1, 2):
        (tmp_path / f"model-0000{i}-of-00002.safetensors").write_bytes(
            safetensors_bytes({f"t{i}": ("F32", [1], 4)})
        )
    h = read_header(tmp_path / "model-00001-of-00002.safetensors")
    assert list(h.tensors) == ["t1"]
    assert h.shards == ("model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors")


def test_index_file_reads_the_whole_sharded_model(tmp_path: Path) -> None:
    wm = {}
    for i in (1, 2):
        name = f"model-0000{i}-of-00002.safetensors"
        (tmp_path / name).write_bytes(safetensors_bytes({f"t{i}": ("F32", [2], 8)}))
        wm[f"t{i}"] = name
    index = tmp_path / "model.safetensors.index.json"
    index.write_text(json.dumps({"metadata": {"total_size": 16}, "weight_map": wm}))

    assert detect_format(index) == "safetensors"
    h = read_header(index)
    assert h.format == "safetensors"
    assert h.parameters == 4
    assert h.tensors["t2"].file == "model-00002-of-00002.safetensors"
    assert h.shards == tuple(sorted(wm.values()))
    assert h.metadata["total_size"] == 16


def test_index_naming_a_missing_shard_is_an_error(tmp_path: Path) -> None:
    index = tmp_path / "model.safetensors.index.json"
    index.write_text(json.dumps({"weight_map": {"a": "model-00001-of-00002.safetensors"}}))
    with pytest.raises(FormatError, match="missing"):
        read_header(index)
    index.write_text(json.dumps({"weight_map": {"a": "../escape.safetensors"}}))
    with pytest.raises(FormatError, match="leaves the folder"):
        read_header(index)


class _CountingSource:
    """A 'remote' file of ``size`` bytes whose body is never stored; counts what is read."""

    def __init__(self, head: bytes, size: int) -> None:
        self.head, self.size, self.bytes_read = head, size, 0

    def read_at(self, offset: int, length: int) -> bytes:
        self.bytes_read += length
        end = min(offset + length, self.size)
        chunk = self.head[offset:end]
        return chunk + bytes(max(0, end - max(offset, len(self.head))))


def test_a_remote_header_read_never_touches_the_body() -> None:
    n = 4 << 30  # a 4 GiB tensor behind a RandomAccess that stores only the header
    head = safetensors_bytes({}, header={"big": {"dtype": "U8", "shape": [n],
                                                 "data_offsets": [0, n]}}, data=b"")
    src = _CountingSource(head, len(head) + n)
    h = read_header_from(src, "remote.safetensors")
    assert h.tensors["big"].nbytes == n
    assert src.bytes_read < 1024
