"""Fuzzing the file-format readers: safetensors, GGUF, pickles (torch zip, legacy torch, plain,
and raw opcode sequences), ONNX, and the JSON of model folders (config.json, model_index.json,
shard indexes). The parsers of everything else users and servers send are fuzzed in
test_fuzz_inputs.py.

The property for each: a header or a :class:`ModelshelfError` whose message is one line naming
the file — never another exception, never a hang (pytest's timeout), never unbounded memory (the
corpus replay measures each file's peak allocation).

Bounded per run by ``MODELSHELF_FUZZ_EXAMPLES`` (default 40 per test and seed kind) and seeded
(``MODELSHELF_FUZZ_SEED``, default 0), so CI runs the same inputs every time. The corpus in
``corpus/<parser>/`` seeds the mutations and is replayed first, every run; it grows: with
``MODELSHELF_FUZZ_GROW=1`` an input that breaks the property is saved there before the test
fails, so it stays a regression test once fixed.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import struct
import tempfile
import tracemalloc
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st

from modelshelf.errors import ModelshelfError
from modelshelf.formats import BytesSource, ModelHeader, read_header, read_header_from

EXAMPLES = int(os.environ.get("MODELSHELF_FUZZ_EXAMPLES", "40"))
SEED = int(os.environ.get("MODELSHELF_FUZZ_SEED", "0"))
GROW = os.environ.get("MODELSHELF_FUZZ_GROW") == "1"
CORPUS = Path(__file__).parent / "corpus"
FUZZ = settings(max_examples=EXAMPLES, deadline=None, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
LONG = settings(FUZZ, max_examples=2000)
# What one corpus file may cost to read. The files are a few KB; the bombs among them (a
# 2^80-element shape, a 2^60 GGUF count, a memo bomb) must stay cheap.
MAX_PEAK_BYTES = 64 * 1024 * 1024
_SCRATCH = Path(tempfile.mkdtemp(prefix="modelshelf-fuzz-formats-"))


# -- the readers, each as (case name, bytes) -> header --------------------------------------------
def _bytes_reader(suffix: str) -> Callable[[str, bytes], ModelHeader]:
    """Read ``data`` as a file named ``fuzz<suffix>``: the name claims the format, so bytes that
    match none go through the claimed reader's error path too."""
    return lambda _case, data: read_header_from(BytesSource(data), f"fuzz{suffix}")


def _folder(case: str, data: bytes) -> ModelHeader:
    """``data`` as the JSON file ``case`` of a model folder (a shard index is read directly)."""
    folder = Path(tempfile.mkdtemp(dir=_SCRATCH))
    path = folder / case
    path.write_bytes(data)
    (folder / "unet").mkdir()  # a component folder for model_index.json to find, weightless
    (folder / "unet" / "config.json").write_bytes(data)
    return read_header(path if case.endswith(".index.json") else folder)


PARSERS: dict[str, Callable[[str, bytes], ModelHeader]] = {
    "safetensors": _bytes_reader(".safetensors"),
    "gguf": _bytes_reader(".gguf"),
    "pickle": _bytes_reader(".pt"),
    "onnx": _bytes_reader(".onnx"),
    "folders": _folder,
}


def survives(parser: str, case: str, data: bytes) -> ModelHeader | None:
    """The reader's header, or None for a one-line ModelshelfError; anything else fails (and,
    growing, the input is kept in the corpus)."""
    try:
        return PARSERS[parser](case, data)
    except ModelshelfError as exc:
        assert "\n" not in str(exc), str(exc)
        assert "fuzz" in str(exc) or parser == "folders", str(exc)  # names the file
        return None
    except Exception:
        if GROW:
            name = f"crash-{hashlib.sha256(data).hexdigest()[:16]}-{case}"
            (CORPUS / parser / name).write_bytes(data)
        raise


# -- the corpus, replayed every run ---------------------------------------------------------------
def _corpus(parser: str) -> list[Path]:
    return sorted(p for p in (CORPUS / parser).iterdir() if p.is_file())


def _corpus_cases() -> Iterator[Any]:
    for parser in PARSERS:
        for case in _corpus(parser):
            yield pytest.param(parser, case, id=f"{parser}/{case.name}")


@pytest.mark.parametrize(("parser", "case"), list(_corpus_cases()))
def test_corpus_gives_a_header_or_one_clear_error_within_bounded_memory(
    parser: str, case: Path,
) -> None:
    data = case.read_bytes()
    tracemalloc.start()
    try:
        survives(parser, _case_name(case), data)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < MAX_PEAK_BYTES, f"{case.name}: {peak} bytes"


def _case_name(case: Path) -> str:
    """A grown crash file keeps the name of the file it was (``crash-<hash>-config.json``)."""
    return case.name.split("-", 2)[2] if case.name.startswith("crash-") else case.name


def test_each_parser_has_a_valid_seed() -> None:
    for parser in PARSERS:
        headers = [h for case in _corpus(parser)
                   if (h := survives(parser, _case_name(case), case.read_bytes())) is not None]
        assert any(h.format != "unknown" for h in headers), parser


# -- mutations of the corpus ----------------------------------------------------------------------
# Values that make length and count fields lie: huge, negative as signed, off by one.
INTERESTING = [struct.pack("<Q", v) for v in (0, 1, 2**31, 2**32 - 1, 2**63 - 1, 2**64 - 1)]
MUTATIONS = st.lists(
    st.tuples(st.sampled_from(["set", "insert", "delete", "truncate", "lie", "repeat"]),
              st.floats(0, 1, exclude_max=True), st.integers(0, 255)),
    min_size=1, max_size=6,
)


def mutate(data: bytes, ops: list[tuple[str, float, int]]) -> bytes:
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
        elif op == "truncate":
            del buf[i:]
        elif op == "lie":  # overwrite 8 bytes with a lying length or count
            buf[i : i + 8] = INTERESTING[byte % len(INTERESTING)]
        else:  # repeat a slice: more of the same structure
            buf[i:i] = buf[i : i + byte] * 4
    return bytes(buf)


def _seeds(parser: str) -> list[tuple[str, bytes]]:
    return [(_case_name(p), p.read_bytes()) for p in _corpus(parser)]


@pytest.mark.parametrize("parser", list(PARSERS))
@FUZZ
@seed(SEED)
@given(pick=st.integers(0, 10**6), ops=MUTATIONS)
def test_mutated_corpus_gives_a_header_or_one_clear_error(
    parser: str, pick: int, ops: list[tuple[str, float, int]],
) -> None:
    seeds = _seeds(parser)
    case, data = seeds[pick % len(seeds)]
    survives(parser, case, mutate(data, ops))


@pytest.mark.slow
@pytest.mark.parametrize("parser", list(PARSERS))
@LONG
@given(pick=st.integers(0, 10**6), ops=MUTATIONS)
def test_mutated_corpus_long_run(parser: str, pick: int, ops: list[tuple[str, float, int]]) -> None:
    test_mutated_corpus_gives_a_header_or_one_clear_error.hypothesis.inner_test(parser, pick, ops)


# -- structured inputs: headers built from parts ------------------------------------------------
_DTYPES = st.sampled_from(["F32", "F16", "BF16", "I64", "U8", "BOOL", "F4", "F6_E2M3", "F8_E4M3",
                           "C64", "f32", "", "F128"])
_INTS = st.one_of(st.integers(-2, 64), st.integers(-(2**64), 2**80), st.booleans(), st.none(),
                  st.floats(allow_nan=True), st.text(max_size=3))
_ENTRY = st.fixed_dictionaries(
    {"dtype": st.one_of(_DTYPES, _INTS)},
    optional={"shape": st.one_of(st.lists(_INTS, max_size=5), _INTS),
              "data_offsets": st.one_of(st.lists(_INTS, max_size=3), _INTS)},
)
_META = st.one_of(st.dictionaries(st.text(max_size=8), st.text(max_size=20), max_size=3), _INTS)
SAFETENSORS_HEADERS = st.dictionaries(
    st.one_of(st.text(max_size=12), st.just("__metadata__")), st.one_of(_ENTRY, _META),
    max_size=6)


@FUZZ
@seed(SEED)
@given(header=SAFETENSORS_HEADERS, data=st.binary(max_size=64), pad=st.integers(0, 16))
def test_structured_safetensors_headers(header: dict[str, Any], data: bytes, pad: int) -> None:
    raw = json.dumps(header).encode() + b" " * pad
    survives("safetensors", "fuzz.safetensors", struct.pack("<Q", len(raw)) + raw + data)


_GGUF_VALUES = st.tuples(st.integers(0, 14), st.binary(max_size=24))  # (value type, payload)


@FUZZ
@seed(SEED)
@given(version=st.sampled_from([2, 3, 0x03000000, 1, 4]), n_tensors=st.integers(0, 4),
       kvs=st.lists(st.tuples(st.text(max_size=12), _GGUF_VALUES), max_size=5),
       tail=st.binary(max_size=128))
def test_structured_gguf_headers(
    version: int, n_tensors: int, kvs: list[tuple[str, tuple[int, bytes]]], tail: bytes,
) -> None:
    body = b"".join(struct.pack("<Q", len(k.encode())) + k.encode() + struct.pack("<I", vt) + v
                    for k, (vt, v) in kvs)
    raw = b"GGUF" + struct.pack("<IQQ", version, n_tensors, len(kvs)) + body + tail
    survives("gguf", "fuzz.gguf", raw)


# Pickle opcodes that build containers, import, call, memoize and mutate: random programs of
# them exercise the symbolic machine's every handler and its stack/mark/memo accounting.
SNIPPETS = [
    b"(", b")", b"]", b"}", b"N", b"K\x01", b"J\xff\xff\xff\xff", b"X\x01\x00\x00\x00a",
    b"\x8c\x07storage", b"\x8c\x010", b"\x8c\x03cpu", b"t", b"l", b"d", b"s", b"u", b"a", b"e",
    b"R", b"b", b"0", b"2", b"1", b"q\x00", b"q\x01", b"h\x00", b"h\x01", b"\x94", b"\x85",
    b"\x86", b"\x87", b"\x93", b"\x81", b"\x92", b"o", b"Q", b"\x88", b"\x89", b"\x8f", b"\x90",
    b"\x91", b"\x95\x08\x00\x00\x00\x00\x00\x00\x00", b"\x97", b"\x98",
    b"cos\nsystem\n", b"ctorch\nFloatStorage\n", b"ctorch._utils\n_rebuild_tensor_v2\n",
    b"ccollections\nOrderedDict\n", b"ctorch._utils\n_rebuild_parameter\n", b"\x82\x01",
    b"cnumpy.dtypes\n__builtins__.get\n", b"cbuiltins\ndict.get\n", b"inumpy\nprod\n",
    b"\x8c\x0cnumpy.dtypes\x8c\x0bFloat32DType\x93",
]
DANGEROUS_SNIPPETS = (b"cos\nsystem\n", b"cnumpy.dtypes\n__builtins__.get\n",
                      b"cbuiltins\ndict.get\n")


@FUZZ
@seed(SEED)
@given(ops=st.lists(st.sampled_from(SNIPPETS), max_size=60), proto=st.integers(0, 5))
def test_random_opcode_programs(ops: list[bytes], proto: int) -> None:
    data = (b"\x80" + bytes([proto]) if proto >= 2 else b"") + b"".join(ops) + b"."
    header = survives("pickle", "fuzz.pt", data)
    if header is None or header.format != "pickle":
        return
    if any(s in data for s in DANGEROUS_SNIPPETS):  # named anywhere: never "safe"
        assert header.safety.status != "safe", header.safety


@pytest.mark.slow
@LONG
@given(ops=st.lists(st.sampled_from(SNIPPETS), max_size=200), proto=st.integers(0, 5))
def test_random_opcode_programs_long_run(ops: list[bytes], proto: int) -> None:
    test_random_opcode_programs.hypothesis.inner_test(ops, proto)


MAGICS = [b"", b"GGUF\x03\x00\x00\x00", b"PK\x03\x04", b"\x80\x04", b"\x80\x02\x8a\x0a",
          struct.pack("<Q", 40) + b"{", b"\x08\x07\x12"]


@FUZZ
@seed(SEED)
@given(magic=st.sampled_from(MAGICS), data=st.binary(max_size=512),
       suffix=st.sampled_from([".bin", ".safetensors", ".gguf", ".pt", ".onnx"]))
def test_random_bytes_behind_each_magic(magic: bytes, data: bytes, suffix: str) -> None:
    with contextlib.suppress(ModelshelfError):
        _bytes_reader(suffix)("", magic + data)


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner,
                                                                max_size=4),
    max_leaves=16)
_FOLDER_JSON = st.one_of(
    _JSON,
    st.fixed_dictionaries({"model_type": _JSON}, optional={"architectures": _JSON,
                                                           "max_position_embeddings": _JSON}),
    st.dictionaries(st.sampled_from(["unet", "vae", "scheduler", "_class_name", "..", "a/b"]),
                    st.one_of(st.lists(st.one_of(st.none(), st.text(max_size=20)), max_size=3),
                              _JSON), max_size=4),
    st.fixed_dictionaries({"weight_map": st.one_of(
        st.dictionaries(st.text(max_size=8), st.one_of(st.text(max_size=12), _JSON), max_size=3),
        _JSON)}),
)


@FUZZ
@seed(SEED)
@given(doc=_FOLDER_JSON,
       case=st.sampled_from(["config.json", "model_index.json", "model.safetensors.index.json"]))
def test_folder_json_gives_a_header_or_one_clear_error(doc: Any, case: str) -> None:
    survives("folders", case, json.dumps(doc).encode())
