"""Fuzzing: mutated valid files must give a header or a FormatError — never another exception,
never a hang, never a huge allocation."""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

import numpy as np
import pytest
from formats_factories import (
    Emitter,
    gguf_file,
    onnx_bytes,
    safetensors_bytes,
    state_dict,
    torch_legacy,
    torch_zip,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from modelshelf.errors import FormatError
from modelshelf.formats import BytesSource, ModelHeader, read_header_from


def _seeds() -> dict[str, bytes]:
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        sd, storages = state_dict({
            "a.weight": np.arange(6, dtype=np.float32).reshape(2, 3),
            "b.bias": np.arange(3, dtype=np.float16),
        })
        legacy_sd, legacy_st = state_dict({"w": np.arange(4, dtype=np.float32)}, legacy=True)
        return {
            "safetensors": safetensors_bytes(
                {"a": ("F32", [2, 3], 24), "b": ("BF16", [4], 8)}, metadata={"k": "v"}
            ),
            "gguf": gguf_file(tmp / "f.gguf", n_tokens=40).read_bytes(),
            "torch-zip": torch_zip(tmp / "z.pt", sd, storages).read_bytes(),
            "torch-legacy": torch_legacy(tmp / "l.pt", legacy_sd, legacy_st, {"0": 4}).read_bytes(),
            "pickle": Emitter().dump(sd),
            "onnx": onnx_bytes(),
        }


SEEDS = _seeds()
EXAMPLES = int(os.environ.get("MODELSHELF_FUZZ_EXAMPLES", "40"))

mutations = st.lists(
    st.tuples(st.sampled_from(["set", "insert", "delete", "truncate"]),
              st.floats(0, 1, exclude_max=True), st.integers(0, 255)),
    min_size=1, max_size=6,
)


def _mutate(data: bytes, ops: list[tuple[str, float, int]]) -> bytes:
    buf = bytearray(data)
    for op, where, byte in ops:
        if not buf:
            break
        i = int(where * len(buf))
        if op == "set":
            buf[i] = byte
        elif op == "insert":
            buf.insert(i, byte)
        elif op == "delete":
            del buf[i]
        else:
            del buf[i:]
    return bytes(buf)


@pytest.mark.parametrize("kind", list(SEEDS))
@settings(max_examples=EXAMPLES, deadline=5000,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops=mutations)
def test_mutated_files_give_a_header_or_a_format_error(kind: str, ops: list) -> None:
    data = _mutate(SEEDS[kind], ops)
    try:
        header = read_header_from(BytesSource(data), f"fuzz.{kind}")
    except FormatError as exc:
        assert str(exc).startswith(f"fuzz.{kind}: ") and "\n" not in str(exc)
    else:
        assert isinstance(header, ModelHeader)


@pytest.mark.parametrize("kind", list(SEEDS))
def test_seeds_are_valid(kind: str) -> None:
    assert read_header_from(BytesSource(SEEDS[kind])).format in ("safetensors", "gguf", "pickle",
                                                                  "onnx")


@settings(max_examples=EXAMPLES, deadline=5000)
@given(data=st.binary(max_size=512))
def test_random_bytes_give_a_header_or_a_format_error(data: bytes) -> None:
    with contextlib.suppress(FormatError):
        read_header_from(BytesSource(data), "random")


SNIPPETS = [
    b"(", b")", b"]", b"}", b"N", b"K\x01", b"J\xff\xff\xff\xff", b"X\x01\x00\x00\x00a",
    b"\x8c\x07storage", b"\x8c\x010", b"\x8c\x03cpu", b"t", b"l", b"d", b"s", b"u", b"a", b"e",
    b"R", b"b", b"0", b"2", b"1", b"q\x00", b"q\x01", b"h\x00", b"h\x01", b"\x94", b"\x85", b"\x86",
    b"\x87", b"\x93", b"\x81", b"\x92", b"o", b"Q", b"\x88", b"\x89", b"\x8f", b"\x90", b"\x91",
    b"cos\nsystem\n", b"ctorch\nFloatStorage\n", b"ctorch._utils\n_rebuild_tensor_v2\n",
    b"ccollections\nOrderedDict\n", b"ctorch._utils\n_rebuild_parameter\n", b"\x82\x01",
]


@settings(max_examples=EXAMPLES * 5, deadline=5000)
@given(ops=st.lists(st.sampled_from(SNIPPETS), max_size=60))
def test_random_opcode_sequences_give_a_header_or_a_format_error(ops: list[bytes]) -> None:
    data = b"\x80\x02" + b"".join(ops) + b"."
    try:
        header = read_header_from(BytesSource(data), "ops.pkl")
    except FormatError:
        return
    assert header.format == "pickle"
    if b"cos\nsystem\n" in data:
        assert header.safety.status == "unsafe"


@pytest.mark.slow
@pytest.mark.parametrize("kind", list(SEEDS))
@settings(max_examples=2000, deadline=5000,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops=mutations)
def test_mutated_files_long_run(kind: str, ops: list) -> None:
    test_mutated_files_give_a_header_or_a_format_error.hypothesis.inner_test(kind, ops)
