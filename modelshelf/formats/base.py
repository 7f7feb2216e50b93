"""The common shape every format reader returns, so identification and reports never care which
file format they are looking at. Plain frozen dataclasses: cheap, hashable, printable; and a
header's tensors as a :class:`TensorTable` of columns where building them one by one would cost
a scan most of its time."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from itertools import chain, repeat
from operator import add
from typing import Any, Literal

SafetyStatus = Literal["safe", "unsafe", "unknown"]


def contiguous_stride(shape: tuple[int, ...]) -> tuple[int, ...]:
    """Row-major strides (in elements): what a tensor's stride is when its bytes are one run."""
    stride, acc = [], 1
    for d in reversed(shape):
        stride.append(acc)
        acc *= max(d, 1)
    return tuple(reversed(stride))


@dataclass(frozen=True)
class TensorInfo:
    """One tensor as a header describes it; ``offset``/``nbytes`` are into ``file`` (if known)."""

    name: str
    dtype: str  # safetensors spelling: F32, F16, BF16, F8_E4M3, I64, BOOL, ... or a GGML type name
    shape: tuple[int, ...]
    nbytes: int
    offset: int | None = None  # absolute byte offset of the data in the file, when known
    file: str | None = None  # shard file name (relative) for sharded models / folders
    # Pickles: where the tensor lives inside its storage. ``storage`` is the zip entry (or legacy
    # storage key), ``storage_offset`` counts elements, ``stride`` is in elements. ``offset`` is
    # set only when the bytes can be streamed as-is (stored zip entry, contiguous tensor).
    stride: tuple[int, ...] | None = None
    storage: str | None = None
    storage_offset: int | None = None

    @cached_property
    def numel(self) -> int:
        """Element count. Cached in the instance (``cached_property`` writes the instance dict,
        which a frozen dataclass allows, and eq/hash/repr ignore): a scan asks it of every
        tensor, and the safetensors reader, which computes it while validating, fills it in."""
        return math.prod(self.shape)


# Fields of TensorInfo a header table never sets, with their defaults (see ``TensorTable``).
_TENSOR_DEFAULTS: Mapping[str, Any] = {
    f.name: f.default for f in dataclasses.fields(TensorInfo)
    if f.name not in {"name", "dtype", "shape", "nbytes", "offset", "file"}
}


class TensorTable(Mapping[str, TensorInfo]):
    """A header's tensors column by column; their :class:`TensorInfo` are built when first asked.

    A scan reads the header of every model file it meets and needs only each tensor's name,
    shape, dtype, element and byte counts: building a frozen dataclass per tensor (one
    ``object.__setattr__`` per field) was a third of reading a small safetensors file. Those
    needs are answered from the columns (:attr:`shapes`, :meth:`dtype_counts`,
    :attr:`total_nbytes`; see :func:`tensor_shapes` and friends), and a folder's or a sharded
    model's tables are joined column by column (:meth:`with_file`, :meth:`prefixed`,
    :meth:`concat`). Anything that reads the tensors themselves gets ordinary, equal
    :class:`TensorInfo` objects, built all together on the first read (two threads reading at
    once may each build them: equal objects either way). Read-only, like the dict it stands for.
    """

    __slots__ = ("_dtypes", "_files", "_infos", "_nbytes", "_numels", "_offsets", "shapes")

    def __init__(self, shapes: dict[str, tuple[int, ...]], dtypes: Sequence[str],
                 numels: Sequence[int], nbytes: Sequence[int], offsets: Sequence[int],
                 files: Sequence[str | None]) -> None:
        self.shapes = shapes  # name -> shape, in header order: also the table's keys
        self._dtypes, self._numels, self._nbytes = dtypes, numels, nbytes
        self._offsets, self._files = offsets, files
        self._infos: dict[str, TensorInfo] | None = None

    def _built(self) -> dict[str, TensorInfo]:
        if self._infos is None:
            self._infos = dict(zip(self.shapes, map(
                _table_row, self.shapes, self._dtypes, self.shapes.values(), self._numels,
                self._nbytes, self._offsets, self._files), strict=True))
        return self._infos

    def __getitem__(self, name: str) -> TensorInfo:
        return self._built()[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self.shapes)

    def __len__(self) -> int:
        return len(self.shapes)

    def __contains__(self, name: object) -> bool:
        return name in self.shapes

    def __repr__(self) -> str:
        return f"TensorTable({self._built()!r})"

    def dtype_counts(self) -> dict[str, int]:
        kinds = set(self._dtypes)
        if len(kinds) == 1:  # most files: one dtype, counted in C
            return {kinds.pop(): sum(self._numels)}
        counts: dict[str, int] = {}
        for dtype, numel in zip(self._dtypes, self._numels, strict=True):
            counts[dtype] = counts.get(dtype, 0) + numel
        return counts

    @property
    def total_nbytes(self) -> int:
        return sum(self._nbytes)

    def files(self) -> dict[str, str | None]:
        """Each tensor's file by name."""
        return dict(zip(self.shapes, self._files, strict=True))

    def with_file(self, file: str) -> TensorTable:
        """The same tensors, all in ``file``."""
        return TensorTable(self.shapes, self._dtypes, self._numels, self._nbytes, self._offsets,
                           [file] * len(self.shapes))

    def prefixed(self, prefix: str, *, files_too: bool) -> TensorTable:
        """The tensors named ``<prefix>/<name>`` (a folder's components); with ``files_too``,
        their files ``<prefix>/<file>`` as well."""
        start = prefix + "/"
        shapes = dict(zip(map(add, repeat(start), self.shapes), self.shapes.values(),
                          strict=True))
        files = [start + f if f else None for f in self._files] if files_too else self._files
        return TensorTable(shapes, self._dtypes, self._numels, self._nbytes, self._offsets, files)

    @classmethod
    def concat(cls, tables: Sequence[TensorTable]) -> TensorTable:
        """Every table's tensors, in order. A name in two tables is kept once (the last): the
        caller compares lengths to find that out."""
        shapes: dict[str, tuple[int, ...]] = {}
        for table in tables:
            shapes.update(table.shapes)
        return cls(shapes, *(list(chain.from_iterable(getattr(t, column) for t in tables))
                             for column in ("_dtypes", "_numels", "_nbytes", "_offsets",
                                            "_files")))


def _table_row(name: str, dtype: str, shape: tuple[int, ...], numel: int, nbytes: int,
               offset: int, file: str | None) -> TensorInfo:
    """``TensorInfo(name, dtype, shape, nbytes, offset, file)`` at half the cost: filling the
    instance dict directly gives the same object (fields, equality, hash, repr); a test
    compares the two. ``numel`` fills the cached property's slot."""
    info = object.__new__(TensorInfo)
    fields = info.__dict__
    fields.update(_TENSOR_DEFAULTS)
    fields["name"], fields["dtype"], fields["shape"] = name, dtype, shape
    fields["nbytes"], fields["offset"], fields["file"] = nbytes, offset, file
    fields["numel"] = numel
    return info


def tensor_shapes(tensors: Mapping[str, TensorInfo]) -> Mapping[str, tuple[int, ...]]:
    """Each tensor's shape by name (what identification looks at), without building a
    :class:`TensorInfo` where a :class:`TensorTable` holds them as columns."""
    if isinstance(tensors, TensorTable):
        return tensors.shapes
    return {name: t.shape for name, t in tensors.items()}


def tensor_files(tensors: Mapping[str, TensorInfo]) -> Mapping[str, str | None]:
    """Each tensor's file by name (a shard index is checked against it)."""
    if isinstance(tensors, TensorTable):
        return tensors.files()
    return {name: t.file for name, t in tensors.items()}


def dtype_counts(tensors: Mapping[str, TensorInfo]) -> dict[str, int]:
    """Elements per dtype."""
    if isinstance(tensors, TensorTable):
        return tensors.dtype_counts()
    counts: dict[str, int] = {}
    for t in tensors.values():
        counts[t.dtype] = counts.get(t.dtype, 0) + t.numel
    return counts


def total_nbytes(tensors: Mapping[str, TensorInfo]) -> int:
    """Bytes of tensor data."""
    if isinstance(tensors, TensorTable):
        return tensors.total_nbytes
    return sum(t.nbytes for t in tensors.values())


@dataclass(frozen=True)
class Safety:
    """Whether loading the file could run code. ``unknown`` unless a reader has looked: a file
    nobody analysed is never vouched for (a zip of pickles we do not recognise, a tar, ...)."""

    status: SafetyStatus = "unknown"
    findings: tuple[str, ...] = ()


# What readers of data-only formats (safetensors, GGUF, ONNX) say: nothing in them is code.
DATA_ONLY = Safety("safe")
NOT_ANALYSED = Safety("unknown", ("not in a format modelshelf analyses: contents not checked",))


@dataclass(frozen=True)
class ModelHeader:
    """What a reader learnt without loading tensor data.

    ``format`` uses SPEC.md's vocabulary: safetensors, gguf, pickle, onnx, diffusers, transformers,
    unknown. ``config`` holds a folder's parsed config.json / model_index.json (small, bounded).
    """

    format: str
    tensors: Mapping[str, TensorInfo] = field(default_factory=dict)
    metadata: Mapping[str, Any] = field(default_factory=dict)
    safety: Safety = NOT_ANALYSED
    shards: tuple[str, ...] = ()
    config: Mapping[str, Any] = field(default_factory=dict)
    components: Mapping[str, ModelHeader] = field(default_factory=dict)  # diffusers folders
    # What the file itself states (GGUF general.architecture / transformers model_type), not
    # identification's verdict; GGUF's general.file_type name (Q4_K_M, F16, ...); context length.
    architecture: str | None = None
    quantization: str | None = None
    context_length: int | None = None
    byteorder: Literal["little", "big"] = "little"
    # Parts the model itself declares that are not on disk: a diffusers component listed in
    # model_index.json without its folder, the absent members of a ``-0000i-of-0000n`` set.
    missing: tuple[str, ...] = ()

    @property
    def parameters(self) -> int:
        return sum(self.dtype_counts().values())

    @property
    def memory_bytes(self) -> int:
        return total_nbytes(self.tensors)

    def dtype_counts(self) -> dict[str, int]:
        return dtype_counts(self.tensors)
