"""PyTorch checkpoints and other pickles, analysed without executing them.

Three containers carry pickles:

* the torch zip (``torch.save`` since 1.6): ``<dir>/data.pkl`` plus one ``<dir>/data/<key>`` entry
  per storage, stored uncompressed;
* the legacy torch stream: a magic-number pickle, a protocol pickle, a sys-info pickle, the main
  pickle, a pickle listing storage keys, then each storage as an 8-byte element count + raw bytes;
* any other pickle (``.pkl``, joblib, ...): only its safety is judged.

Safety comes from the globals the opcodes would import (:mod:`pickle_policy`); tensors come from
the symbolic machine (:mod:`pickle_vm`). Every pickle a loader would unpickle is judged (all
five of a legacy stream, every ``.pkl`` of a zip): the file is as safe as the worst of them.
For local sources the byte offset of each tensor is computed (zip local header + name + extra),
so convert can stream tensors without torch.
"""

from __future__ import annotations

import contextlib
import io
import pickletools
import struct
import warnings
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from modelshelf.errors import FormatError
from modelshelf.formats import pickle_policy
from modelshelf.formats.base import ModelHeader, Safety, TensorInfo, contiguous_stride
from modelshelf.formats.pickle_vm import Call, Global, Machine, Result, TensorRef, _Key
from modelshelf.formats.source import Budget

MAX_PICKLE = 64 * 1024 * 1024  # data.pkl of the largest real checkpoints is a few MB
FIRST_WINDOW = 1024 * 1024
LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
LEGACY_PREFIX = b"\x80\x02\x8a\x0a" + LEGACY_MAGIC.to_bytes(10, "little")
ZIP_MAGIC = b"PK\x03\x04"
MAX_NODES = 2_000_000  # containers visited when collecting tensors
MAX_SCALAR_TEXT = 200
MAX_NUMEL = 2**63 - 1  # torch sizes are int64: a larger element count is no real tensor
# What zipfile raises on a corrupt archive (it is not consistent about it).
ZIP_ERRORS = (
    zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, EOFError, NotImplementedError,
    struct.error, OverflowError,
)


def looks_like_pickle(head: bytes) -> bool:
    """Protocol 2+ pickles open with PROTO; older ones are tried by :func:`parses_as_pickle`."""
    return len(head) >= 2 and head[0] == 0x80 and 2 <= head[1] <= 5


def parses_as_pickle(head: bytes) -> bool:
    """Protocol 0/1 pickles have no magic: they are pickles if the opcodes parse to STOP."""
    try:
        for op, _, _ in _genops_bounded(head, 10_000):
            if op.name == "STOP":
                return True
    except Exception:  # any decoding failure simply means "not a pickle"
        return False
    return False


def _genops_bounded(data: bytes, limit: int) -> Iterator[Any]:
    with warnings.catch_warnings():  # odd escapes in protocol-0 strings: noise
        warnings.simplefilter("ignore", DeprecationWarning)
        for i, item in enumerate(pickletools.genops(io.BytesIO(data))):
            if i >= limit:
                return
            yield item


def torch_zip_root(names: list[str]) -> str | None:
    """The ``<dir>/`` prefix of a torch zip (its one ``<dir>/data.pkl``), else None."""
    roots = [n[: -len("data.pkl")] for n in names if n.endswith("/data.pkl") and n.count("/") == 1]
    return roots[0] if len(roots) == 1 else None


@dataclass(eq=False)
class Storage:
    key: str
    dtype: str
    itemsize: int
    numel: int | None
    extra_offset: int = 0  # legacy storage views


# -- entry point ------------------------------------------------------------------------------


def read(src: Budget, locate: bool = True) -> ModelHeader:
    """``locate``: compute absolute tensor offsets (one small read per storage; local files)."""
    head = src.peek(0, len(LEGACY_PREFIX))
    if head.startswith(ZIP_MAGIC):
        return _read_zip(src, locate)
    if head.startswith(LEGACY_PREFIX):
        return _read_legacy(src, locate)
    return _read_plain(src)


def _persistent(src: Budget, storages: dict[str, Storage]) -> Any:
    def load(pid: Any) -> Any:
        if not (isinstance(pid, tuple) and len(pid) >= 5 and pid[0] == "storage"):
            return Global("?", "persistent")
        _, stype, key, _location, numel, *rest = pid
        if not isinstance(stype, Global) or not isinstance(key, str | int):
            raise src.error("torch storage reference is malformed")
        dtype, itemsize = pickle_policy.STORAGE_DTYPES.get(stype.name, ("U8", 1))
        key = str(key)
        existing = storages.get(key)
        if existing is None:
            existing = storages[key] = Storage(key, dtype, itemsize, _int_or_none(numel))
        view = rest[0] if rest else None
        if isinstance(view, tuple) and len(view) >= 2 and isinstance(view[1], int):
            return Storage(key, dtype, itemsize, existing.numel, view[1])
        return existing

    return load


def _int_or_none(v: Any) -> int | None:
    return v if isinstance(v, int) and not isinstance(v, bool) and v >= 0 else None


def _machine(src: Budget, what: str, storages: dict[str, Storage]) -> Machine:
    """A machine for one pickle of ``src``: its errors name the pickle, its storages land in
    ``storages``."""
    return Machine(lambda reason: src.error(f"{what}: {reason}"), _persistent(src, storages))


def _run_or_flag(src: Budget, data: bytes, what: str, storages: dict[str, Storage]) -> Result:
    """Run one pickle; a *broken* pickle that already named dangerous imports is still
    reported as unsafe: ``torch.load`` would have run them before reaching the damage."""
    machine = _machine(src, what, storages)
    try:
        return machine.run(data)
    except FormatError as exc:
        verdict = pickle_policy.judge(machine.globals, machine.problems)
        if verdict.status == "safe":
            raise
        machine.problems.append(f"broken after its imports: {str(exc).split(': ', 1)[-1]}")
        return Result(None, machine.globals, machine.problems, len(data), 0)


# -- torch zip --------------------------------------------------------------------------------


class _ZipView(io.RawIOBase):
    """A seekable file over a Budget, so :mod:`zipfile` reads through our bounds checks."""

    def __init__(self, src: Budget) -> None:
        self.src = src
        self.pos = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self.pos

    def seek(self, offset: int, whence: int = 0) -> int:
        base = {0: 0, 1: self.pos, 2: self.src.size}[whence]
        self.pos = max(0, base + offset)
        return self.pos

    def read(self, n: int | None = -1) -> bytes:
        left = max(0, self.src.size - self.pos)
        n = left if n is None or n < 0 else min(n, left)
        data = self.src.read(self.pos, n, "zip structure")
        self.pos += n
        return data

    def readinto(self, b: Any) -> int:
        data = self.read(len(b))
        b[: len(data)] = data
        return len(data)


def _open_zip(src: Budget) -> zipfile.ZipFile:
    try:
        return zipfile.ZipFile(_ZipView(src))
    except ZIP_ERRORS as exc:
        if isinstance(exc, FormatError):
            raise
        raise src.error(f"broken zip archive ({exc})") from None


def _read_zip(src: Budget, locate: bool) -> ModelHeader:
    zf = _open_zip(src)
    root = torch_zip_root(zf.namelist())
    if root is None:
        raise src.error("zip archive without a single <dir>/data.pkl: not a torch checkpoint")
    doubts: list[str] = []
    data = _zip_member(src, zf, root + "data.pkl", MAX_PICKLE, doubts)
    storages: dict[str, Storage] = {}
    result = _run_or_flag(src, data, "data.pkl", storages)
    big = root + "byteorder" in zf.NameToInfo and (
        _zip_member(src, zf, root + "byteorder", 16, doubts).strip() == b"big"
    )
    globals_, problems = list(result.globals), list(result.problems)
    for name, data in _other_pickles(src, zf, root, doubts):
        other = _run_or_flag(src, data, name, {})
        globals_ += other.globals
        problems += [f"{name}: {p}" for p in other.problems]
    safety = pickle_policy.judge(globals_, problems, doubts)
    tensors: dict[str, TensorInfo] = {}
    if safety.status != "unsafe":
        located = _zip_storage_offsets(src, zf, root, storages, locate)
        tensors = _tensor_infos(src, result.root, located, root + "data/")
    return ModelHeader(
        format="pickle",
        tensors=tensors,
        metadata={**_scalars(result.root), "pickle.container": _zip_kind(zf, root)},
        safety=safety,
        byteorder="big" if big else "little",
    )


def _other_pickles(
    src: Budget, zf: zipfile.ZipFile, root: str, doubts: list[str]
) -> Iterator[tuple[str, bytes]]:
    """The archive's pickles besides data.pkl: ``constants.pkl`` (``torch.jit.load`` unpickles
    it), and any entry that is a pickle under another name (``extra/config.p``: picklescan's
    CVE-2025-1889 looked at ``.pkl`` names only), for whatever code may load it later. Tensor
    storages (``data/``) are raw bytes, never pickles, and are not read."""
    for info in zf.infolist():
        name = info.filename
        # ``name.endswith("/")`` is what ``info.is_dir()`` tests, minus its IndexError on a
        # member named "" (which a hostile archive may hold)
        if name == root + "data.pkl" or name.startswith(root + "data/") or name.endswith("/"):
            continue
        if name.endswith(".pkl"):
            yield name, _zip_member(src, zf, name, MAX_PICKLE, doubts)
        elif info.file_size <= MAX_PICKLE:
            try:
                data = _zip_member(src, zf, name, MAX_PICKLE, doubts)
            except FormatError as exc:  # not torch's to load: what we cannot read, we doubt
                doubts.append(f"zip entry {name} cannot be read ({exc})")
                continue
            if looks_like_pickle(data[:2]):
                yield name, data


def _zip_kind(zf: zipfile.ZipFile, root: str) -> str:
    """TorchScript archives carry their model's code next to the pickle."""
    code = any(n.startswith(root + "code/") for n in zf.namelist())
    return "torchscript" if code else "torch-zip"


def _zip_member(
    src: Budget, zf: zipfile.ZipFile, name: str, limit: int, doubts: list[str]
) -> bytes:
    """The bytes of one entry, read the way torch's zip reader reads them.

    :mod:`zipfile` refuses entries whose CRC is wrong, whose flag bits say "encrypted" or whose
    local header names another file; torch reads them all (picklescan's CVE-2025-1944/1945 and
    JFrog's CRC bypass: the scanner gave up, torch ran the pickle). So the entry is read from its
    local header by hand and analysed anyway; each such oddity is a doubt (``unknown``).
    """
    info = zf.getinfo(name)
    # deflate may grow incompressible bytes a little; a larger compressed size is a lie
    if info.file_size > limit or info.compress_size > limit + limit // 100 + 64:
        raise src.error(f"{name} is {max(info.file_size, info.compress_size)} bytes, larger "
                        f"than we analyse ({limit})")
    start, name_len = _local_header(src, info, f"zip local header of {name}")
    encoding = "utf-8" if info.flag_bits & 0x800 else "cp437"  # as zipfile decoded it
    if src.peek(info.header_offset + 30, name_len) != info.orig_filename.encode(encoding, "replace"):
        doubts.append(f"zip entry {name}: its local header names another file (a scanner trick)")
    if info.flag_bits & 0x1:
        doubts.append(f"zip entry {name} is flagged encrypted (a scanner trick; torch ignores it)")
    raw = src.read(start, info.compress_size, name)
    if info.compress_type == zipfile.ZIP_STORED:
        data = raw[:limit]
    elif info.compress_type == zipfile.ZIP_DEFLATED:
        try:
            data = zlib.decompressobj(-15).decompress(raw, limit)
        except zlib.error as exc:
            raise src.error(f"cannot read {name} ({exc})") from None
    else:
        raise src.error(f"{name}: zip compression method {info.compress_type} is not supported")
    if len(data) != info.file_size:
        raise src.error(f"{name}: holds {len(data)} bytes, the zip directory says "
                        f"{info.file_size}: truncated or corrupt")
    if zlib.crc32(data) != info.CRC:
        doubts.append(f"zip entry {name} has a wrong CRC (a scanner trick; torch ignores it)")
    return data


def _local_header(src: Budget, info: zipfile.ZipInfo, what: str) -> tuple[int, int]:
    """(where the entry's bytes start, the length of the name its local header holds): the
    local header, not the central directory, is what a reader follows to the bytes."""
    local = src.read(info.header_offset, 30, what)
    if local[:4] != ZIP_MAGIC:
        raise src.error(f"zip local header of {info.filename} is corrupt")
    name_len, extra_len = struct.unpack("<HH", local[26:30])
    return info.header_offset + 30 + name_len + extra_len, name_len


def _zip_storage_offsets(
    src: Budget, zf: zipfile.ZipFile, root: str, storages: dict[str, Storage], locate: bool
) -> dict[str, tuple[int | None, int]]:
    """storage key -> (absolute data offset if streamable, entry size in bytes)."""
    out: dict[str, tuple[int | None, int]] = {}
    for key, st in storages.items():
        info = zf.NameToInfo.get(f"{root}data/{key}")
        if info is None:
            raise src.error(f"storage {key!r} is referenced but {root}data/{key} is missing")
        if st.numel is not None and info.file_size < st.numel * st.itemsize:
            raise src.error(f"storage {key!r} holds {info.file_size} bytes, fewer than declared")
        offset = None
        if locate and info.compress_type == zipfile.ZIP_STORED:
            offset, _ = _local_header(src, info, "zip local header")
            if offset + info.file_size > src.size:
                raise src.error(f"{info.filename} runs past the end of the file: truncated")
        out[key] = (offset, info.file_size)
    return out


# -- legacy torch stream ----------------------------------------------------------------------


LEGACY_PICKLES = ("magic number", "protocol version", "sys_info", "main pickle", "storage keys")


def _read_legacy(src: Budget, locate: bool) -> ModelHeader:
    """``torch.load`` unpickles all five pickles of the stream, in order, each before it checks
    the one before: each is judged, and the first unsafe one decides the file."""
    storages: dict[str, Storage] = {}
    pos = 0
    pickles: list[Result] = []
    globals_: list[tuple[str, str]] = []
    problems: list[str] = []
    for what in LEGACY_PICKLES:
        res = _run_window(src, pos, what, storages if what == "main pickle" else {})
        pickles.append(res)
        globals_ += res.globals
        problems += [f"{what}: {p}" for p in res.problems]
        safety = pickle_policy.judge(globals_, problems)
        if safety.status == "unsafe":
            return ModelHeader("pickle", metadata={"pickle.container": "torch-legacy"},
                               safety=safety)
        if what == "magic number" and res.root != LEGACY_MAGIC:
            raise src.error("legacy torch file with a wrong magic number")
        pos += res.end
    main, keys = pickles[3], pickles[4]
    metadata = {**_scalars(main.root), "pickle.container": "torch-legacy"}
    sys_info = pickles[2].root
    byteorder = "little"
    if isinstance(sys_info, dict) and sys_info.get("little_endian") is False:
        byteorder = "big"
    located = _legacy_storage_offsets(src, pos, keys.root, storages, locate)
    return ModelHeader(
        format="pickle",
        tensors=_tensor_infos(src, main.root, located, ""),
        metadata=metadata,
        safety=safety,
        byteorder=byteorder,  # type: ignore[arg-type]
    )


def _run_window(src: Budget, start: int, what: str, storages: dict[str, Storage]) -> Result:
    """Run the pickle starting at ``start``; read a growing window rather than the whole file.
    ``Result.end`` is relative to ``start``."""
    window = FIRST_WINDOW
    while True:
        n = min(window, src.size - start, MAX_PICKLE)
        if n <= 0:
            raise src.error(f"{what}: missing (file ends at byte {src.size})")
        data = src.read(start, n, what)
        whole = n == src.size - start or n >= MAX_PICKLE  # else the window may cut it short
        try:
            if whole:
                return _run_or_flag(src, data, what, storages)
            return _machine(src, what, storages).run(data)
        except FormatError:
            if whole:
                raise
            window *= 8


def _legacy_storage_offsets(
    src: Budget, pos: int, keys: Any, storages: dict[str, Storage], locate: bool
) -> dict[str, tuple[int | None, int]]:
    if not isinstance(keys, list) or not all(isinstance(k, str) for k in keys):
        raise src.error("legacy torch file: storage key list is malformed")
    out: dict[str, tuple[int | None, int]] = {}
    for key in keys:
        st = storages.get(key)
        if st is None:
            raise src.error(f"legacy torch file: storage {key!r} is listed but never used")
        (numel,) = struct.unpack("<q", src.read(pos, 8, f"storage {key} size"))
        nbytes = numel * st.itemsize
        if numel < 0 or pos + 8 + nbytes > src.size:
            raise src.error(f"storage {key!r} runs past the end of the file: truncated")
        out[key] = (pos + 8 if locate else None, nbytes)
        pos += 8 + nbytes
    missing = set(storages) - set(out)
    if missing:
        raise src.error(f"legacy torch file: storages {sorted(missing)[:3]} have no data")
    return out


# -- any other pickle -------------------------------------------------------------------------


def _read_plain(src: Budget) -> ModelHeader:
    """Safety only. A pickle larger than we read is judged on its first MAX_PICKLE bytes: what
    they import is certain, what follows is not, so the best verdict is ``unknown``."""
    n = min(src.size, MAX_PICKLE)
    data = src.read(0, n, "pickle")
    if n == src.size:
        res = _run_or_flag(src, data, "pickle", {})
        safety = pickle_policy.judge(res.globals, res.problems)
    else:
        machine = Machine(src.error, _persistent(src, {}))
        with contextlib.suppress(FormatError):  # cut short by our read limit, maybe not broken
            machine.run(data)
        safety = pickle_policy.judge(machine.globals, machine.problems)
        if safety.status != "unsafe":
            note = f"only the first {n} of {src.size} bytes were analysed"
            safety = Safety("unknown", (*safety.findings, note))
    return ModelHeader("pickle", metadata={"pickle.container": "pickle"}, safety=safety)


# -- from the object tree to TensorInfo -------------------------------------------------------


def _tensor_infos(
    src: Budget, root: Any, located: dict[str, tuple[int | None, int]], entry_prefix: str
) -> dict[str, TensorInfo]:
    if isinstance(root, dict) and isinstance(root.get("state_dict"), dict):
        root = root["state_dict"]  # Lightning / SD .ckpt: the model is the state_dict
    return {
        name: _tensor_info(src, name, ref, located, entry_prefix)
        for name, ref in _walk(src, root)
        if isinstance(ref.storage, Storage)
    }


def _tensor_info(
    src: Budget, name: str, ref: TensorRef, located: dict[str, tuple[int | None, int]], prefix: str
) -> TensorInfo:
    st = ref.storage
    if (
        not isinstance(ref.storage_offset, int)
        or ref.storage_offset < 0
        or len(ref.stride) != len(ref.shape)
        or any(d < 0 for d in ref.shape)
        or any(s < 0 for s in ref.stride)
    ):
        raise src.error(f"tensor {name!r}: malformed shape, stride or storage offset")
    numel = 1
    for d in ref.shape:
        numel *= d
    if numel > MAX_NUMEL:  # stride 0 lets a 4-byte storage claim any shape; torch cannot
        raise src.error(f"tensor {name!r}: its shape holds more elements than a torch tensor can")
    start = st.extra_offset + ref.storage_offset
    last = sum((d - 1) * s for d, s in zip(ref.shape, ref.stride, strict=True))
    extent = last + 1 if numel else 0
    offset, entry_bytes = located.get(st.key, (None, 0))
    if (start + extent) * st.itemsize > entry_bytes:
        raise src.error(f"tensor {name!r} reaches past the end of storage {st.key!r}")
    contiguous = ref.stride == contiguous_stride(ref.shape)
    return TensorInfo(
        name=name,
        dtype=st.dtype,
        shape=ref.shape,
        nbytes=numel * st.itemsize,
        offset=offset + start * st.itemsize if offset is not None and contiguous else None,
        stride=ref.stride,
        storage=prefix + st.key,
        storage_offset=start,
    )


def _walk(src: Budget, root: Any) -> Iterator[tuple[str, TensorRef]]:
    """Depth-first (name, tensor) pairs; each container visited once (pickles can share or
    cycle), at most MAX_NODES of them."""
    seen: set[int] = set()
    todo: list[tuple[str, Any]] = [("", root)]
    while todo:
        name, obj = todo.pop()
        if isinstance(obj, TensorRef):
            yield name, obj
            continue
        children = _children(obj)
        if children is None or id(obj) in seen:
            continue
        seen.add(id(obj))
        if len(seen) > MAX_NODES:
            raise src.error(f"pickle object tree has more than {MAX_NODES} containers")
        for key, child in reversed(children):
            todo.append((f"{name}.{key}" if name else key, child))


def _children(obj: Any) -> list[tuple[str, Any]] | None:
    if isinstance(obj, dict):
        return [(_key(k), v) for k, v in obj.items()]
    if isinstance(obj, list | tuple):
        return [(str(i), v) for i, v in enumerate(obj)]
    if isinstance(obj, Call):
        state = obj.state if isinstance(obj.state, dict) else {}
        return [(_key(k), v) for k, v in {**state, **obj.items}.items()]
    return None


def _key(k: Any) -> str:
    if isinstance(k, _Key):
        k = k.value
    return k if isinstance(k, str) else str(k) if isinstance(k, int | float | bool) else "?"


def _scalars(root: Any) -> dict[str, Any]:
    """Top-level numbers and short strings (epoch, global_step, versions): cheap context."""
    if not isinstance(root, dict):
        return {}
    return {k: v for k, v in root.items() if isinstance(k, str) and _is_scalar(v)}


def _is_scalar(v: Any) -> bool:
    return isinstance(v, int | float | bool) or (isinstance(v, str) and len(v) <= MAX_SCALAR_TEXT)
