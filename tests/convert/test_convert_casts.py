"""The cast kernels against references, over random bit patterns (every class of float)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from modelshelf.convert.casts import make_kernel, target_dtype
from modelshelf.errors import UsageError


def _cast(bits: np.ndarray, src: str, dst: str, out_itemsize: int) -> np.ndarray:
    out = np.empty(bits.size * out_itemsize, np.uint8)
    make_kernel(src, dst)(bits.view(np.uint8), out)
    return out


def _assert_f16_matches_numpy(bits: np.ndarray) -> None:
    x = bits.view(np.float32)
    got = _cast(bits, "F32", "F16", 2).view(np.uint16)
    with np.errstate(over="ignore", invalid="ignore"):
        ref = x.astype(np.float16).view(np.uint16)
    nan = np.isnan(x)
    assert np.array_equal(got[~nan], ref[~nan])
    assert np.all((got[nan] & 0x7C00) == 0x7C00) and np.all(got[nan] & 0x03FF)  # NaN stays NaN
    assert np.array_equal(got[nan] & 0x8000, ref[nan] & 0x8000)  # with its sign


def test_f32_to_f16_random_bit_patterns_match_numpy() -> None:
    rng = np.random.default_rng(42)
    bits = rng.integers(0, 2**32, size=4_000_000, dtype=np.uint32)  # NaNs, subnormals, huge, ...
    _assert_f16_matches_numpy(bits)


def test_f32_to_f16_near_the_fp16_edges() -> None:
    """Every fp32 pattern around the subnormal/normal boundary and overflow threshold."""
    edges = [0x33000000, 0x38800000, 0x477FE000, 0x477FF000, 0x47800000]  # 2^-25, 2^-14, max...
    bits = np.concatenate([np.arange(e - 50_000, e + 50_000, dtype=np.uint32) for e in edges])
    _assert_f16_matches_numpy(np.concatenate([bits, bits | np.uint32(0x80000000)]))


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(0, 2**32 - 1), min_size=1, max_size=64))
def test_f32_to_f16_hypothesis(patterns: list[int]) -> None:
    _assert_f16_matches_numpy(np.array(patterns, dtype=np.uint32))


def test_bf16_roundtrip_and_rounding_direction() -> None:
    rng = np.random.default_rng(7)
    x = rng.standard_normal(1_000_000).astype(np.float32)
    b16 = _cast(x.view(np.uint32), "F32", "BF16", 2)
    back = _cast(b16.view(np.uint16), "BF16", "F32", 4).view(np.float32)
    # The nearest bf16: within half an ulp (2^-8 relative) and exact on bf16 values.
    assert np.all(np.abs(back - x) <= np.abs(x) * 2.0**-8)
    again = _cast(back.view(np.uint32), "F32", "BF16", 2)
    assert np.array_equal(again, b16)


def test_target_names_and_refusals() -> None:
    assert [target_dtype(n) for n in ("fp16", "BF16", "fp32", "F16")] == [
        "F16", "BF16", "F32", "F16"]
    with pytest.raises(UsageError):
        target_dtype("fp8")
    with pytest.raises(UsageError):
        make_kernel("I64", "F16")
