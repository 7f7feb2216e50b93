"""A narrowing cast that pushes values past the target's range (fp16 stops at 65504) is counted
per tensor and reported: an inf in a weight silently ruins every output of the model."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from safetensors.numpy import save_file

from modelshelf.convert import convert
from modelshelf.convert.casts import make_kernel, new_infinities


def _f32_to_f16(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    src = values.astype("<f4").view(np.uint8)
    dst = np.empty(values.size * 2, np.uint8)
    make_kernel("F32", "F16")(src, dst)
    return src, dst


@settings(max_examples=200, deadline=None)
@given(st.lists(st.floats(width=32, allow_nan=True, allow_infinity=True), max_size=64))
def test_new_infinities_counts_exactly_the_finite_values_that_became_inf(values: list[float]) -> None:
    array = np.array(values, np.float32)
    src, dst = _f32_to_f16(array)
    expected = np.count_nonzero(np.isfinite(array) & np.isinf(dst.view(np.float16)))
    assert new_infinities(src, "F32", dst, "F16") == expected


def test_convert_names_the_tensors_that_overflowed(tmp_path: Path) -> None:
    save_file({"t5.ff.w": np.array([1.0, 1e5, -7e4, np.inf, 3.0], np.float32),
               "fine": np.ones(8, np.float32)}, str(tmp_path / "in.safetensors"))
    result = convert(tmp_path / "in.safetensors", tmp_path / "out.safetensors", dtype="fp16")
    assert result.overflowed == {"t5.ff.w": 2}  # the inf that was already there is not news
    assert result.to_json()["overflowed"] == {"t5.ff.w": 2}
    assert convert(tmp_path / "in.safetensors", tmp_path / "b.safetensors",
                   dtype="bf16").overflowed == {}


def test_the_cli_warns_about_overflow_on_stderr(cli, tmp_path: Path) -> None:
    save_file({"big": np.full(4, 1e6, np.float32)}, str(tmp_path / "in.safetensors"))
    result = cli("convert", str(tmp_path / "in.safetensors"), str(tmp_path / "out.safetensors"),
                 "--dtype", "fp16")
    assert result.code == 0
    assert "4 values in 1 tensors were beyond F16's range" in result.err and "(big)" in result.err
