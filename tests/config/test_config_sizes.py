"""Sizes as users type them (``--gpu-memory 24GB``, ``gc --max-size 500GiB``, ``max_size`` in
config.toml): parsed exactly, and anything that is not a size is one clear usage error."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from modelshelf.config import format_size, parse_size
from modelshelf.errors import ConfigError, UsageError


@pytest.mark.parametrize(("text", "expected"), [
    ("24GB", 24 * 10**9), ("24 gb", 24 * 10**9), ("1.5GiB", 3 * 2**29), ("800M", 800 * 10**6),
    ("123", 123), ("0", 0), ("2TiB", 2 * 2**40), (4096, 4096),
])
def test_sizes_parse_with_decimal_and_binary_units(text: str | int, expected: int) -> None:
    assert parse_size(text) == expected


@pytest.mark.parametrize(("text", "reason"), [
    ("abc", "expected a number"), ("nan", "expected a number"), ("inf", "expected a number"),
    ("1e400", "expected a number"), ("-1", "cannot be negative"), ("-2GB", "cannot be negative"),
    ("5XB", "expected a number"), ("5PB", "expected a number"), ("5 bytes", "expected a number"),
])
def test_what_is_not_a_size_is_a_usage_error_naming_it(text: str, reason: str) -> None:
    with pytest.raises(ConfigError, match=reason) as caught:
        parse_size(text)
    assert isinstance(caught.value, UsageError) and repr(text) in str(caught.value)


@given(st.integers(min_value=0, max_value=2**50))
def test_a_formatted_size_parses_back_to_within_its_rounding(n: int) -> None:
    assert abs(parse_size(format_size(n).replace(" ", "")) - n) <= max(n * 0.01, 1)
