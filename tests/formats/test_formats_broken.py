"""Visible, not silent: a file whose name claims a model format but whose bytes are no such file
is BROKEN (``info`` exits 1 with one line, ``scan`` lists it), and every reader stops at a
documented limit with one clear error instead of spending seconds and gigabytes."""

from __future__ import annotations

import json
import pickle
import struct
from pathlib import Path

import pytest
from formats_factories import gguf_raw, gguf_string, safetensors_bytes

from modelshelf.errors import FormatError
from modelshelf.formats import BytesSource, read_header, read_header_from
from modelshelf.inspection.scanner import read_facts

BROKEN = {
    "header-past-eof.safetensors": (struct.pack("<Q", 1000), "runs past the end of the file"),
    "empty.safetensors": (b"", "empty file (0 bytes)"),
    "empty.gguf": (b"", "empty file (0 bytes)"),
    "empty.ckpt": (b"", "empty file (0 bytes)"),
    "garbage.safetensors": (b"<html>404 not found</html>" * 4, "not a valid safetensors file"),
    "garbage.gguf": (b"not a gguf file at all", "not a valid gguf file"),
    "garbage.pth": (b"\x00\x01garbage bytes\xff", "not a valid pickle file"),
}


def _one_line(err: str) -> str:
    lines = err.splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


@pytest.mark.parametrize("name", list(BROKEN))
def test_info_on_a_broken_file_exits_1_with_one_line_naming_it(cli, tmp_path: Path,
                                                               name: str) -> None:
    data, cause = BROKEN[name]
    path = tmp_path / name
    path.write_bytes(data)

    result = cli("info", str(path))

    assert result.code == 1
    assert result.out == ""
    line = _one_line(result.err)
    assert str(path) in line and cause in line, line


def test_scan_lists_broken_files_in_text_and_json(cli, tmp_path: Path) -> None:
    root = tmp_path / "models"
    root.mkdir()
    for name, (data, _) in BROKEN.items():
        (root / name).write_bytes(data)
    (root / "ok.safetensors").write_bytes(safetensors_bytes({"w": ("F32", [2], 8)}))
    (root / "notes.txt").write_bytes(b"")  # claims nothing: not a model, not broken

    text = cli("scan", str(root))
    data = cli("scan", str(root), "--json").json

    assert text.code == 0, text.err
    lines = {line.split("  ")[0]: line for line in text.out.splitlines()}
    for name, (_, cause) in BROKEN.items():
        assert "BROKEN: " in lines[str(root / name)] and cause in lines[str(root / name)]
    assert f"{len(BROKEN)} broken" in text.out.splitlines()[-1]
    assert {"files", "duplicates"} <= set(data)  # the keys scripts already parse stay
    broken = {Path(b["path"]).name: b["error"] for b in data["broken"]}
    assert set(broken) == set(BROKEN)
    assert all(BROKEN[name][1] in error for name, error in broken.items())
    assert str(root / "notes.txt") not in lines
    formats = {Path(f["path"]).name: f["format"] for f in data["files"]}
    assert (formats["empty.gguf"], formats["garbage.pth"]) == ("gguf", "pickle")  # as named


def test_a_file_claiming_nothing_stays_plain_unknown(cli, tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_bytes(b"hello, not a model")
    result = cli("info", str(path), "--json")
    assert result.code == 0, result.err
    assert result.json["format"] == "unknown"
    assert result.json["safety"]["status"] == "unknown"  # nothing analysed, nothing vouched for


# -- limits: each a one-line error naming the file and the limit ----------------------------------


def _error(data: bytes, name: str) -> str:
    with pytest.raises(FormatError) as exc:
        read_header_from(BytesSource(data), name)
    msg = str(exc.value)
    assert msg.startswith(f"{name}: ") and "\n" not in msg
    return msg


def test_safetensors_tensor_count_is_capped_before_parsing(monkeypatch: pytest.MonkeyPatch) -> None:
    from modelshelf.formats import safetensors_fmt

    monkeypatch.setattr(safetensors_fmt, "MAX_TENSORS", 100)
    data = safetensors_bytes({f"t{i}": ("U8", [1], 1) for i in range(101)})
    assert "more than 100 tensors (the limit)" in _error(data, "many.safetensors")
    ok = safetensors_bytes({f"t{i}": ("U8", [1], 1) for i in range(100)})
    assert len(read_header_from(BytesSource(ok), "ok.safetensors").tensors) == 100


def test_a_shape_multiplying_past_2_to_the_64_is_one_error(tmp_path: Path) -> None:
    """A shape of thousands of huge dims: each multiply cost the digits so far (40,000 dims
    of 2**60 took 4.6 s) and printing the size then raised Python's int-to-text ValueError,
    which escaped ``scan`` whole. Refused as the reference implementation does: overflow."""
    for shape, error in (([2**60] * 3_000, "shape has 2**64 or more elements"),
                         ([2**32, 2**32], "shape has 2**64 or more elements"),
                         ([0, 10**4000], "below 2**64"), ([0, 2**64], "below 2**64"),
                         ([2**64, 0], "below 2**64")):
        raw = json.dumps({"w": {"dtype": "F16", "shape": shape, "data_offsets": [0, 2]}})
        data = struct.pack("<Q", len(raw)) + raw.encode() + b"\0\0"
        assert error in _error(data, "dims.safetensors")
    empty = json.dumps({"w": {"dtype": "F16", "shape": [0, 2**63], "data_offsets": [0, 2]}})
    assert "needs 0 bytes" in _error(  # a zero dim beside a large one: an empty tensor's shape
        struct.pack("<Q", len(empty)) + empty.encode() + b"\0\0", "dims.safetensors")
    (tmp_path / "dims.safetensors").write_bytes(data)
    found = read_facts(tmp_path / "dims.safetensors")
    assert found["format"] == "safetensors" and "below 2**64" in found["error"]


def test_json_item_count_is_capped(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from modelshelf.formats import jsonsafe

    monkeypatch.setattr(jsonsafe, "MAX_ITEMS", 10)
    raw = json.dumps({"x": {"dtype": "U8", "shape": [1] * 20, "data_offsets": [0, 1]}}).encode()
    assert "holds more than 10 items (the limit)" in _error(
        struct.pack("<Q", len(raw)) + raw + b"\0", "wide.safetensors")
    folder = tmp_path / "m"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps({"model_type": "x", "a": list(range(20))}))
    with pytest.raises(FormatError, match=r"config\.json: JSON holds more than 10 items"):
        read_header(folder)


def test_gguf_array_length_and_key_count_are_capped(monkeypatch: pytest.MonkeyPatch) -> None:
    from modelshelf.formats import gguf_fmt

    monkeypatch.setattr(gguf_fmt, "MAX_ARRAY", 100)
    u8_array = struct.pack("<II", 9, 0) + struct.pack("<Q", 101) + bytes(101)
    data = gguf_raw(3, 0, 1, gguf_string("k") + u8_array)
    assert "count 101 is more than the limit (100)" in _error(data, "long.gguf")

    monkeypatch.setattr(gguf_fmt, "MAX_ARRAY_OF_ARRAYS", 2)
    empty_u8_array = struct.pack("<I", 0) + struct.pack("<Q", 0)
    nested = struct.pack("<II", 9, 9) + struct.pack("<Q", 3) + empty_u8_array * 3
    assert "count 3 is more than the limit (2)" in _error(
        gguf_raw(3, 0, 1, gguf_string("k") + nested), "nested.gguf")

    monkeypatch.setattr(gguf_fmt, "MAX_KV", 2)
    kv = gguf_string("k") + struct.pack("<IB", 0, 1)  # key "k": UINT8 1
    assert "limits" in _error(gguf_raw(3, 0, 3, kv * 3), "keys.gguf")


@pytest.mark.parametrize(("limit", "value", "pickled", "message"), [
    ("MAX_MEMO", 10, pickle.dumps([[i] for i in range(20)], 4), "memo holds more than 10"),
    ("MAX_STACK", 10, b"\x80\x02(" + b"K\x01" * 20 + b"l.", "stack deeper than 10 entries"),
    ("MAX_OPS", 10, pickle.dumps(list(range(20)), 2), "more than 10 opcodes"),
])
def test_pickle_machine_limits(monkeypatch: pytest.MonkeyPatch, limit: str, value: int,
                               pickled: bytes, message: str) -> None:
    from modelshelf.formats import pickle_vm

    monkeypatch.setattr(pickle_vm, limit, value)
    assert f"{message}" in _error(pickled, "big.pkl") and "(the limit)" in _error(pickled, "b.pkl")


@pytest.mark.slow
def test_a_100_mb_safetensors_header_is_refused_at_the_limit(tmp_path: Path) -> None:
    """issue 8: 100 MB of tiny tensor entries cost 15 s and 1.7 GB to parse; now the count is
    taken before parsing (0.4 s, the 100 MB read buffer)."""
    entries = b",".join(b'"t%d":{"dtype":"U8","shape":[1],"data_offsets":[%d,%d]}' % (i, i, i + 1)
                        for i in range(1_300_000))
    body = b"{" + entries + b"}"
    path = tmp_path / "huge-header.safetensors"
    path.write_bytes(struct.pack("<Q", len(body)) + body + bytes(1_300_000))
    with pytest.raises(FormatError, match="more than 250000 tensors \\(the limit\\)"):
        read_header(path)
