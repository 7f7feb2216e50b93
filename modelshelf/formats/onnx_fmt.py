"""ONNX: recognised by walking the top-level fields of its ``ModelProto`` protobuf.

An ONNX file has no magic number; it starts with field 1 (``ir_version``, a varint), and every
top-level field must be one ModelProto defines with the right wire type. We walk those fields —
skipping the large ``graph`` by its length — and keep the small descriptive ones. No tensor list.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from modelshelf.formats.base import DATA_ONLY, ModelHeader
from modelshelf.formats.source import Budget

VARINT, LEN = 0, 2
# ModelProto field number -> (name, wire type)
FIELDS: Mapping[int, tuple[str, int]] = {
    1: ("ir_version", VARINT), 2: ("producer_name", LEN), 3: ("producer_version", LEN),
    4: ("domain", LEN), 5: ("model_version", VARINT), 6: ("doc_string", LEN), 7: ("graph", LEN),
    8: ("opset_import", LEN), 14: ("metadata_props", LEN), 20: ("training_info", LEN),
    25: ("functions", LEN), 26: ("configuration", LEN),
}
KEEP_TEXT = 64 * 1024
MAX_FIELDS = 10_000
MAX_IR_VERSION = 64


def looks_like(head: bytes, size: int) -> bool:
    """``ir_version`` first, a plausible value, then another ModelProto field tag."""
    if len(head) < 4 or head[0] != 0x08 or not 1 <= head[1] <= MAX_IR_VERSION:
        return False
    field, wire = head[2] >> 3, head[2] & 7
    return FIELDS.get(field, ("", -1))[1] == wire


class _Walker:
    def __init__(self, src: Budget) -> None:
        self.src = src
        self.pos = 0

    def varint(self) -> int:
        raw = self.src.peek(self.pos, 10)
        value = 0
        for i, byte in enumerate(raw):
            value |= (byte & 0x7F) << (7 * i)
            if not byte & 0x80:
                self.pos += i + 1
                return value
        raise self.src.error(f"ONNX: bad varint at byte {self.pos}: truncated or corrupt")

    def length(self) -> int:
        n = self.varint()
        if n > self.src.size - self.pos:
            raise self.src.error(f"ONNX field at byte {self.pos} runs past the end: truncated")
        return n


def read(src: Budget) -> ModelHeader:
    w = _Walker(src)
    meta: dict[str, Any] = {}
    opsets: dict[str, int] = {}
    props: dict[str, str] = {}
    for _ in range(MAX_FIELDS):
        if w.pos >= src.size:
            break
        tag = w.varint()
        name, wire = FIELDS.get(tag >> 3, ("", -1))
        if wire != tag & 7:
            raise src.error(f"ONNX: unexpected field {tag >> 3} (wire type {tag & 7}) at top level")
        if wire == VARINT:
            meta[name] = w.varint()
            continue
        n = w.length()
        start, w.pos = w.pos, w.pos + n
        if name in ("producer_name", "producer_version", "domain") and n <= KEEP_TEXT:
            meta[name] = src.read(start, n, f"ONNX {name}").decode("utf-8", errors="replace")
        elif name in ("opset_import", "metadata_props") and n <= KEEP_TEXT:
            sub = _submessage(src.read(start, n, f"ONNX {name}"))
            if name == "opset_import":
                opsets[str(sub.get(1, ""))] = sub.get(2, 0)  # type: ignore[assignment]
            else:
                props[str(sub.get(1, ""))] = str(sub.get(2, ""))
        elif name == "graph":
            meta["graph_bytes"] = n
    else:
        raise src.error(f"ONNX: more than {MAX_FIELDS} top-level fields")
    if "graph_bytes" not in meta:
        raise src.error("ONNX model without a graph: truncated or not ONNX")
    if opsets:
        meta["opset_import"] = opsets
    if props:
        meta["metadata_props"] = props
    return ModelHeader(format="onnx", metadata=meta, safety=DATA_ONLY)


def _submessage(data: bytes) -> dict[int, int | str]:
    """Fields 1 and 2 of a small message (OperatorSetIdProto / StringStringEntryProto)."""
    out: dict[int, int | str] = {}
    pos = 0
    while pos < len(data):
        tag, pos = _varint(data, pos)
        if tag & 7 == VARINT:
            out[tag >> 3], pos = _varint(data, pos)
        elif tag & 7 == LEN:
            n, pos = _varint(data, pos)
            out[tag >> 3] = data[pos : pos + n].decode("utf-8", errors="replace")
            pos += n
        else:
            break
    return out


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    value = shift = 0
    while pos < len(data):
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80 or shift > 63:
            break
    return value, pos
