"""The scan's fast paths give the same answers as the plain ones: one prefetched read serves
magic and header (and headers past it still read), and tensors built without ``__init__`` are
the same objects."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from formats_factories import safetensors_bytes
from hypothesis import given, settings
from hypothesis import strategies as st

from modelshelf.errors import FormatError
from modelshelf.formats import BytesSource, jsonsafe, read_header, read_header_from
from modelshelf.formats.base import (
    TensorInfo,
    TensorTable,
    dtype_counts,
    tensor_shapes,
    total_nbytes,
)
from modelshelf.formats.reader import PREFETCH


def test_a_table_row_is_an_ordinary_tensor_info() -> None:
    table = TensorTable({"w": (2, 3)}, ["F16"], [6], [12], [64], ["a.safetensors"])
    fast = table["w"]
    slow = TensorInfo("w", "F16", (2, 3), 12, 64, "a.safetensors")
    assert fast == slow and hash(fast) == hash(slow) and repr(fast) == repr(slow)
    assert fast.numel == 6 and fast.stride is None and fast.storage_offset is None
    with pytest.raises(AttributeError):  # still frozen
        fast.name = "x"  # type: ignore[misc]


def test_a_table_answers_as_the_dict_of_its_tensors() -> None:
    data = safetensors_bytes({"b": ("BF16", [4, 2], 16), "a": ("F32", [3], 12),
                              "c": ("BF16", [1], 2)})
    table = read_header_from(BytesSource(data)).tensors
    assert isinstance(table, TensorTable)
    plain = dict(table.items())
    assert list(table) == list(plain) == ["b", "a", "c"]  # header order
    assert table == plain and len(table) == 3 and "a" in table and "z" not in table
    assert tensor_shapes(table) == tensor_shapes(plain) == {"b": (4, 2), "a": (3,), "c": (1,)}
    assert dtype_counts(table) == dtype_counts(plain) == {"BF16": 9, "F32": 3}
    assert total_nbytes(table) == total_nbytes(plain) == 30
    assert table["a"].offset == plain["a"].offset and table.get("z") is None


@pytest.mark.parametrize("tensors", [8, 2_000])  # a header inside the prefetch, and past it
def test_file_and_byte_source_read_the_same_header(tmp_path: Path, tensors: int) -> None:
    data = safetensors_bytes(
        {f"model.layers.{i}.mlp.down_proj.weight": ("BF16", [4, 2], 16) for i in range(tensors)},
        metadata={"format": "pt"})
    path = tmp_path / "m.safetensors"
    path.write_bytes(data)
    assert (len(data) > PREFETCH) == (tensors > 8)
    from_file, from_bytes = read_header(path), read_header_from(BytesSource(data))
    assert from_file == from_bytes
    assert len(from_file.tensors) == tensors and from_file.metadata == {"format": "pt"}


def test_truncated_header_past_the_prefetch_is_still_an_error(tmp_path: Path) -> None:
    data = safetensors_bytes({f"t{i}": ("F32", [1], 4) for i in range(3_000)})
    path = tmp_path / "m.safetensors"
    path.write_bytes(data[: PREFETCH + 100])
    with pytest.raises(FormatError, match="past the end"):
        read_header(path)


@pytest.mark.parametrize("dtype", [["F16"], {"F": 16}, 16, None])
def test_a_dtype_that_is_no_string_is_a_clear_error(dtype: object) -> None:
    data = safetensors_bytes({}, header={"w": {"dtype": dtype, "shape": [1],
                                               "data_offsets": [0, 2]}}, data=b"\0\0")
    with pytest.raises(FormatError, match="unknown dtype"):
        read_header_from(BytesSource(data))


def test_missing_path_is_not_found_and_a_folder_is_read_as_one(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="no such"):
        read_header(tmp_path / "nope.safetensors")
    (tmp_path / "file.txt").write_text("x")
    with pytest.raises(FileNotFoundError, match="no such"):
        read_header(tmp_path / "file.txt" / "below-a-file")  # ENOTDIR, as Path.exists() saw it
    assert read_header(tmp_path).format == "unknown"


def _layout_error(header: dict[str, dict[str, object]], data_len: int) -> str | None:
    try:
        read_header_from(BytesSource(safetensors_bytes({}, header=header,
                                                       data=b"\0" * data_len)))
    except FormatError as exc:
        return str(exc)
    return None


def _f32(start: int, end: int) -> dict[str, object]:
    return {"dtype": "F32", "shape": [(end - start) // 4], "data_offsets": [start, end]}


def test_layout_is_checked_whatever_order_the_header_lists_tensors_in() -> None:
    # data order and another order: both valid
    assert _layout_error({"a": _f32(0, 8), "b": _f32(8, 12)}, 12) is None
    assert _layout_error({"b": _f32(8, 12), "z": _f32(12, 12), "a": _f32(0, 8)}, 12) is None
    # out of order, with a gap / an overlap / past the end: each named as before
    assert "'b'" in _layout_error({"b": _f32(12, 16), "a": _f32(0, 8)}, 16) and "gap" in \
        _layout_error({"b": _f32(12, 16), "a": _f32(0, 8)}, 16)
    assert "overlaps" in _layout_error({"b": _f32(4, 12), "a": _f32(0, 8)}, 12)
    assert "truncated" in _layout_error({"b": _f32(8, 16), "a": _f32(0, 8)}, 12)
    assert "truncated" in _layout_error({"a": _f32(0, 8), "b": _f32(8, 16)}, 12)


_JSON = st.recursive(
    st.none() | st.booleans() | st.floats(allow_nan=True) | st.text()
    | st.integers(min_value=-(2**70), max_value=2**70) | st.sampled_from([2**63, 2**64, -(2**63) - 1]),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4),
    max_leaves=20)


@settings(max_examples=400, deadline=None)
@given(_JSON)
def test_json_reads_every_document_as_the_standard_library_does(doc: object) -> None:
    """orjson reads headers first (3x faster) but turns integers past 64 bits into floats and
    refuses NaN and lone surrogates: such documents go to ``json``, so the answer never
    differs. ``repr`` compares NaN, and an int from a float (1 != 1.0 in repr)."""
    data = json.dumps(doc).encode("utf-8", "surrogatepass")
    try:
        expected: object = repr(json.loads(data.decode("utf-8")))
    except UnicodeDecodeError:
        expected = "not valid UTF-8"
    try:
        got: object = repr(jsonsafe.loads(data, FormatError))
    except FormatError as exc:
        got = "not valid UTF-8" if "not valid UTF-8" in str(exc) else str(exc)
    assert got == expected
