"""Header parsing: file names a server suggests are untrusted (only a safe single component
survives); Retry-After is obeyed within bounds."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from modelshelf.naming import file_name, file_name_from_url
from modelshelf.transfer.http import retry_after
from modelshelf.transfer.names import filename_from_disposition


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=400))
def test_sanitised_names_are_safe_single_components(name: str) -> None:
    safe = file_name(name)
    if safe is None:
        return
    assert safe and safe not in (".", "..")
    assert "/" not in safe and "\\" not in safe
    assert not safe.startswith(".") and safe == safe.strip()
    assert all(ord(ch) >= 32 and ord(ch) != 127 for ch in safe)
    assert len(safe.encode()) <= 255


@pytest.mark.parametrize(("header", "expected"), [
    ('attachment; filename="model.safetensors"', "model.safetensors"),
    ("attachment; filename*=UTF-8''na%C3%AFve%20lora.safetensors", "naïve lora.safetensors"),
    ('attachment; filename="fallback.bin"; filename*=UTF-8\'\'real.bin', "real.bin"),
    ('attachment; filename="../../etc/passwd"', "passwd"),
    ('attachment; filename="..\\\\windows\\\\evil.exe"', "evil.exe"),
    ('attachment; filename=".."', None),
    ('attachment; filename="a\x1b[31mb.bin"', "a[31mb.bin"),
    ("inline", None),
    (None, None),
])
def test_content_disposition(header: str | None, expected: str | None) -> None:
    assert filename_from_disposition(header) == expected


@pytest.mark.parametrize(("url", "expected"), [
    ("https://h/org/repo/resolve/main/unet%2Fmodel.safetensors?download=1", "model.safetensors"),
    ("https://h/files/v1-5-pruned.ckpt", "v1-5-pruned.ckpt"),
    ("https://h/dir/", "dir"),
    ("https://h/", None),
    ("https://h/%2E%2E", None),
])
def test_url_names(url: str, expected: str | None) -> None:
    assert file_name_from_url(url) == expected


def test_long_names_keep_their_extension() -> None:
    name = file_name("x" * 600 + ".safetensors")
    assert name is not None and name.endswith(".safetensors") and len(name.encode()) <= 255


@pytest.mark.parametrize(("header", "seconds"), [
    (None, 0.0), ("2", 2.0), ("3600", 3600.0), ("-5", 0.0), ("soon", 0.0), ("nan", 0.0),
    ("inf", 0.0), ("Wed, 21 Oct 2015 07:28:00 GMT", 0.0),  # a date in the past: no wait
])
def test_retry_after_reads_seconds_and_dates(header: str | None, seconds: float) -> None:
    assert retry_after(header) == seconds
