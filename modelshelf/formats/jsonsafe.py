"""JSON from untrusted bytes: bounded size, bounded item count, strict UTF-8, nesting depth
guarded.

``json.loads`` recurses once per nesting level; CPython turns runaway depth into
``RecursionError``, which we report as a one-line :class:`FormatError` instead of a crash.
What it builds costs ~17 bytes of memory per byte of a header full of small objects (a 100 MB
safetensors header took 1.7 GB and 15 s), so the number of items is counted before parsing —
one ``bytes.count`` per separator, ~20 ms for 100 MB — and a document with more is refused.

Parsing goes through ``orjson`` first: a scan parses the header of every model file it meets,
and ``json.loads`` spent a quarter of reading a small safetensors file (56 µs of 240 for a
40-tensor header; orjson takes 18). orjson is a stricter reader than ``json`` — it refuses
``NaN``, lone surrogates, a byte-order mark, nesting past 1,024 — and it turns an integer
outside 64 bits into a float. So what it refuses, and any document holding a run of 19 or
more digits, is parsed by ``json`` as before: the result, or the error, is always the one
``json`` gives.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson

from modelshelf.errors import FormatError

MAX_CONFIG_JSON = 16 * 1024 * 1024  # config.json / model_index.json / *.index.json
# Commas bound the values of every array and object. The largest real documents: a shard index
# of a 100k-tensor model (100k), a safetensors header of 250k tensors (~2M: one per field, one
# per shape dimension). At the cap, parsing costs at most a few hundred MB.
MAX_ITEMS = 2_500_000
# A run of 19 digits: an integer orjson may not hold exactly (beyond -2**63..2**64-1), or in a
# string, just a slower parse. Found by mapping every digit to "0" and everything else to " "
# (a ``translate`` and a ``find``: 3 µs for a 4 KB header, where ``re`` took 55).
_DIGITS_AS_ZEROS = bytes(b"0"[0] if chr(i).isdigit() and i < 128 else b" "[0] for i in range(256))
_LONG_DIGITS = b"0" * 19


def loads(data: bytes, error: Callable[[str], FormatError], what: str = "JSON") -> Any:
    """Parse ``data`` or raise ``error(reason)``; never lets a decoder exception escape."""
    if data.count(b",") > MAX_ITEMS:
        raise error(f"{what} holds more than {MAX_ITEMS} items (the limit)")
    try:
        doc = orjson.loads(data)
    except orjson.JSONDecodeError:
        pass  # json says what is wrong, or reads what orjson will not (NaN, say)
    else:
        if _LONG_DIGITS not in data.translate(_DIGITS_AS_ZEROS):
            return doc
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise error(f"{what} is not valid UTF-8 (byte {exc.start})") from None
    try:
        return json.loads(text)
    except RecursionError:
        raise error(f"{what} is nested too deeply") from None
    except ValueError as exc:  # JSONDecodeError, and int-string conversion limits
        raise error(f"{what} is not valid JSON ({str(exc).splitlines()[0]})") from None


def load_file(path: Path, limit: int = MAX_CONFIG_JSON) -> Any:
    """A small JSON file (config, index) read with a size cap."""

    def error(reason: str) -> FormatError:
        return FormatError(f"{path}: {reason}")

    try:
        with path.open("rb") as fh:
            data = fh.read(limit + 1)
    except OSError as exc:
        raise error(f"cannot read ({exc.strerror})") from None
    if len(data) > limit:
        raise error(f"JSON file larger than {limit} bytes")
    return loads(data, error)
