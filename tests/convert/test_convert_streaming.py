"""convert: exact casts, metadata kept, atomic output, unsafe pickles refused, pickles streamed."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import numpy as np
import pytest
from convert_torchzip import View, simple_state_dict, write_torch_zip
from safetensors import safe_open
from safetensors.numpy import load_file, save_file

from modelshelf.convert import convert
from modelshelf.convert.plan import METADATA_NOTE_KEY
from modelshelf.errors import FormatError, UnsafeFile, UsageError

SPECIALS = np.array(
    [0.0, -0.0, 1.0, -1.0, np.inf, -np.inf, np.nan, 65504.0, 65520.0, 65519.99, 1e6, -1e6,
     6.1e-5, 6.0e-8, 2.9e-8, 3.0e-8, 1e-10, 1.0009765625, 1.00048828125, 1.00146484375,
     np.float32(1.0) + np.float32(2**-11), 3.14159265, -2.71828],
    dtype=np.float32,
)


def _values(n: int, seed: int = 0) -> np.ndarray:
    """Normal values over many magnitudes (subnormal to overflow for fp16), plus specials."""
    rng = np.random.default_rng(seed)
    vals = (rng.standard_normal(n) * 10.0 ** rng.integers(-9, 6, n)).astype(np.float32)
    vals[: SPECIALS.size] = SPECIALS
    return vals


def _raw(path: Path) -> tuple[dict, bytes]:
    data = path.read_bytes()
    n = struct.unpack("<Q", data[:8])[0]
    return json.loads(data[8 : 8 + n]), data[8 + n :]


def _tensor_bits(path: Path, name: str, dtype: type) -> np.ndarray:
    header, body = _raw(path)
    begin, end = header[name]["data_offsets"]
    return np.frombuffer(body[begin:end], dtype)


def _bf16_reference(x: np.ndarray) -> np.ndarray:
    """Round-to-nearest-even to bf16, computed independently: pick the nearer of the two
    bf16 neighbours in float64 (ties -> even mantissa)."""
    bits = x.view(np.uint32).astype(np.uint64)
    lo = bits & 0xFFFF0000
    hi = lo + 0x10000
    xf = x.astype(np.float64)
    lo_f = lo.astype(np.uint32).view(np.float32).astype(np.float64)
    # The upper neighbour of the largest finite bf16 is 2^128 (it rounds to inf), not inf itself.
    overflow = (hi & 0x7FFFFFFF) == 0x7F800000
    with np.errstate(invalid="ignore", over="ignore"):
        hi_f = hi.astype(np.uint32).view(np.float32).astype(np.float64)
        hi_f = np.where(overflow, np.copysign(2.0**128, xf), hi_f)
        d_lo, d_hi = np.abs(xf - lo_f), np.abs(hi_f - xf)
    pick_hi = (d_hi < d_lo) | ((d_hi == d_lo) & (((lo >> 16) & 1) == 1))
    pick_hi &= np.isfinite(x)
    out = np.where(pick_hi, hi, lo) >> 16
    return out.astype(np.uint16)


def test_fp32_to_fp16_matches_numpy_bit_for_bit(tmp_path: Path) -> None:
    src, dst = tmp_path / "in.safetensors", tmp_path / "out.safetensors"
    a = _values(300_000)
    save_file({"w": a.reshape(600, 500), "ids": np.arange(7, dtype=np.int64)}, src,
              metadata={"modelspec.title": "x"})
    result = convert(src, dst, dtype="fp16")

    out = load_file(dst)
    with np.errstate(over="ignore"):
        ref = a.astype(np.float16)
    got = out["w"].reshape(-1)
    assert np.array_equal(np.isnan(got), np.isnan(ref))
    finite = ~np.isnan(ref)
    assert np.array_equal(got[finite].view(np.uint16), ref[finite].view(np.uint16))
    assert out["ids"].dtype == np.int64 and list(out["ids"]) == list(range(7))  # not cast
    assert result.cast_tensors == 1 and result.tensors == 2 and result.dtype == "F16"
    assert result.dst_size == dst.stat().st_size


def test_fp32_to_bf16_rounds_to_nearest_even(tmp_path: Path) -> None:
    src, dst = tmp_path / "in.safetensors", tmp_path / "out.safetensors"
    a = _values(200_000, seed=1)
    ties = np.array([0x3F808000, 0x3F818000, 0x3F80C000, 0x7F7FFFFF], np.uint32).view(np.float32)
    a[SPECIALS.size : SPECIALS.size + ties.size] = ties
    save_file({"w": a}, src)
    convert(src, dst, dtype="bf16")

    header, _ = _raw(dst)
    assert header["w"]["dtype"] == "BF16"
    got = _tensor_bits(dst, "w", np.uint16)
    nan = np.isnan(a)
    assert np.all((got[nan] & 0x7F80) == 0x7F80) and np.all(got[nan] & 0x7F)  # still NaN
    assert np.array_equal(got[~nan], _bf16_reference(a)[~nan])


@pytest.mark.parametrize(("src_dtype", "target"), [("F16", "fp32"), ("BF16", "fp32"),
                                                   ("F16", "bf16"), ("F64", "fp16")])
def test_other_casts_are_exact_or_correctly_rounded(
    tmp_path: Path, src_dtype: str, target: str
) -> None:
    a = _values(5_000, seed=2)
    a = a[np.isfinite(a) & (np.abs(a) < 60000)]
    src, dst = tmp_path / "in.safetensors", tmp_path / "out.safetensors"
    if src_dtype == "BF16":
        bits = _bf16_reference(a)
        body = bits.tobytes()
        head = json.dumps({"w": {"dtype": "BF16", "shape": [a.size],
                                 "data_offsets": [0, len(body)]}}).encode()
        src.write_bytes(struct.pack("<Q", len(head)) + head + body)
        expected = (bits.astype(np.uint32) << 16).view(np.float32)
    else:
        np_dtype = {"F16": np.float16, "F64": np.float64}[src_dtype]
        src_vals = a.astype(np_dtype)
        save_file({"w": src_vals}, src)
        expected = src_vals
    convert(src, dst, dtype=target)
    if target == "fp32":
        got = _tensor_bits(dst, "w", np.float32)
        assert np.array_equal(got, expected.astype(np.float32))  # widening: exact
    elif target == "bf16":
        got = _tensor_bits(dst, "w", np.uint16)
        assert np.array_equal(got, _bf16_reference(expected.astype(np.float32)))
    else:
        got = _tensor_bits(dst, "w", np.float16)
        assert np.array_equal(got, expected.astype(np.float16))


def test_metadata_kept_with_a_note(tmp_path: Path) -> None:
    src, dst = tmp_path / "in.safetensors", tmp_path / "out.safetensors"
    save_file({"a": np.ones(4, np.float32)}, src, metadata={"ss_base_model": "sdxl", "k": "v"})
    convert(src, dst, dtype="fp16")
    with safe_open(dst, "np") as f:
        meta = f.metadata()
    assert meta["ss_base_model"] == "sdxl" and meta["k"] == "v"
    assert "F16" in meta[METADATA_NOTE_KEY]


def test_without_dtype_the_tensors_are_copied_unchanged(tmp_path: Path) -> None:
    src, dst = tmp_path / "in.safetensors", tmp_path / "out.safetensors"
    tensors = {f"t{i}": np.random.default_rng(i).standard_normal((i + 1, 3)).astype(np.float32)
               for i in range(20)}
    save_file(tensors, src)
    result = convert(src, dst)
    out = load_file(dst)
    assert result.cast_tensors == 0
    for k, v in tensors.items():
        assert np.array_equal(out[k], v)


def test_broken_input_leaves_no_output_and_keeps_an_existing_one(tmp_path: Path) -> None:
    src, dst = tmp_path / "in.safetensors", tmp_path / "out.safetensors"
    save_file({"a": np.ones(100_000, np.float32)}, src)
    data = src.read_bytes()
    src.write_bytes(data[: len(data) // 2])  # truncated
    dst.write_bytes(b"previous")
    with pytest.raises(FormatError):
        convert(src, dst, dtype="fp16")
    assert dst.read_bytes() == b"previous"
    assert sorted(p.name for p in tmp_path.glob("*.safetensors*")) == ["in.safetensors", "out.safetensors"]


def test_failure_mid_stream_removes_the_temp_file(tmp_path: Path, monkeypatch) -> None:
    src, dst = tmp_path / "in.safetensors", tmp_path / "out.safetensors"
    save_file({f"t{i}": np.ones(300_000, np.float32) for i in range(4)}, src)
    import modelshelf.convert.stream as stream

    calls = {"n": 0}
    real_write = stream.write_all

    def failing_write(fd: int, data: np.ndarray) -> None:
        calls["n"] += 1
        if calls["n"] == 3:
            raise OSError(28, "No space left on device")
        real_write(fd, data)

    monkeypatch.setattr(stream, "write_all", failing_write)
    with pytest.raises(OSError, match="No space"):
        convert(src, dst, dtype="fp16")
    assert not dst.exists()
    assert [p.name for p in tmp_path.glob("*.safetensors*")] == ["in.safetensors"]


def test_unsafe_pickle_is_refused_and_never_run(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    payload = (b"\x80\x02cposix\nsystem\nq\x00X" + struct.pack("<I", len(f"touch {marker}"))
               + f"touch {marker}".encode() + b"\x85R.")
    src = tmp_path / "evil.ckpt"
    src.write_bytes(payload)
    with pytest.raises(UnsafeFile):
        convert(src, tmp_path / "out.safetensors")
    assert not marker.exists()
    assert not (tmp_path / "out.safetensors").exists()


def test_torch_zip_checkpoint_becomes_safetensors(tmp_path: Path) -> None:
    tensors = {"conv.weight": _values(64 * 3 * 3, seed=3).reshape(64, 3, 3),
               "conv.bias": np.linspace(-1, 1, 64, dtype=np.float32),
               "steps": np.array([12345], dtype=np.int64)}
    src = simple_state_dict(tmp_path / "model.pt", tensors)
    dst = tmp_path / "model.safetensors"
    result = convert(src, dst, dtype="fp16")
    out = load_file(dst)
    assert result.src_format == "pickle"
    assert set(out) == set(tensors)
    with np.errstate(over="ignore"):
        assert np.array_equal(out["conv.bias"], tensors["conv.bias"].astype(np.float16))
    assert out["conv.weight"].shape == (64, 3, 3)
    assert out["steps"].dtype == np.int64 and int(out["steps"][0]) == 12345


def test_pickle_tensors_sharing_one_storage_are_each_written(tmp_path: Path) -> None:
    storage = np.arange(100, dtype=np.float32)
    views = {"first": View("0", 0, (10, 5)), "second": View("0", 50, (50,)),
             "overlap": View("0", 40, (20,))}
    src = write_torch_zip(tmp_path / "shared.pt", views, {"0": storage})
    dst = tmp_path / "shared.safetensors"
    convert(src, dst)
    out = load_file(dst)
    assert np.array_equal(out["first"], storage[:50].reshape(10, 5))
    assert np.array_equal(out["second"], storage[50:])
    assert np.array_equal(out["overlap"], storage[40:60])


def test_strided_view_is_refused_clearly(tmp_path: Path) -> None:
    storage = np.arange(12, dtype=np.float32)
    views = {"t": View("0", 0, (3, 4), stride=(1, 3))}  # a transpose
    src = write_torch_zip(tmp_path / "t.pt", views, {"0": storage})
    with pytest.raises(FormatError, match="strided view"):
        convert(src, tmp_path / "t.safetensors")
    assert not (tmp_path / "t.safetensors").exists()


def test_compressed_storage_is_refused_clearly(tmp_path: Path) -> None:
    storage = np.arange(1000, dtype=np.float32)
    src = write_torch_zip(tmp_path / "c.pt", {"t": View("0", 0, (1000,))}, {"0": storage},
                          compress=True)
    with pytest.raises(FormatError, match="compressed"):
        convert(src, tmp_path / "c.safetensors")


def test_bad_dtype_and_same_path_are_usage_errors(tmp_path: Path) -> None:
    src = tmp_path / "in.safetensors"
    save_file({"a": np.ones(4, np.float32)}, src)
    with pytest.raises(UsageError):
        convert(src, tmp_path / "o.safetensors", dtype="int3")
    with pytest.raises(UsageError):
        convert(src, src, dtype="fp16")


def test_progress_reports_every_byte(tmp_path: Path) -> None:
    src, dst = tmp_path / "in.safetensors", tmp_path / "out.safetensors"
    save_file({"a": np.ones(3_000_000, np.float32), "b": np.ones(10, np.float32)}, src)
    seen: list[tuple[int, int | None]] = []
    convert(src, dst, dtype="bf16", progress=lambda d, t: seen.append((d, t)))
    assert seen[-1] == (12_000_040, 12_000_040)
    assert [d for d, _ in seen] == sorted(d for d, _ in seen)


def test_sharded_folder_becomes_one_file(tmp_path: Path) -> None:
    folder = tmp_path / "sharded"
    folder.mkdir()
    a = np.arange(12, dtype=np.float32).reshape(3, 4)
    b = np.arange(5, dtype=np.float32)
    save_file({"a": a}, folder / "model-00001-of-00002.safetensors")
    save_file({"b": b}, folder / "model-00002-of-00002.safetensors")
    index = {"metadata": {}, "weight_map": {"a": "model-00001-of-00002.safetensors",
                                            "b": "model-00002-of-00002.safetensors"}}
    (folder / "model.safetensors.index.json").write_text(json.dumps(index))
    dst = tmp_path / "merged.safetensors"
    result = convert(folder, dst, dtype="fp16")
    out = load_file(dst)
    assert result.tensors == 2
    assert np.array_equal(out["a"], a.astype(np.float16))
    assert np.array_equal(out["b"], b.astype(np.float16))
