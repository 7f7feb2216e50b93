"""What a loaded tensor becomes in each framework, and the framework objects :meth:`Shelf.load_model`
builds. torch, torchvision, transformers and diffusers are optional: each is imported inside the
branch that needs it, and its absence is a :class:`MissingExtra` naming the extra to install.

numpy gets the mapped views of :mod:`modelshelf.formats.tensors` as they are (bfloat16 as its
``uint16`` bits) unless ``dtype`` asks for a floating type: then floating tensors are cast —
bfloat16 by moving its bits into the top half of a float32, which is exact — and integer,
boolean and quantized tensors are left alone (a cast would change what they mean). torch gets
``torch.from_numpy`` of a copy-on-write mapping (zero copy), re-viewed as ``torch.bfloat16`` /
float8 where the bits are those, then moved to ``device`` and cast only if asked.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any, Literal

import numpy as np

from modelshelf.errors import FormatError, MissingExtra, UnsafeFile, UsageError
from modelshelf.formats.base import TensorInfo
from modelshelf.formats.tensors import QuantizedTensor

Framework = Literal["numpy", "torch"]
FRAMEWORKS: tuple[str, ...] = ("numpy", "torch")

# The pip extra that brings each optional package.
EXTRAS: Mapping[str, str] = {
    "torch": "torch", "torchvision": "torch", "transformers": "transformers",
    "diffusers": "diffusers",
}
# Header dtypes whose bits torch can view directly as one of its own types (by attribute name).
TORCH_VIEWS: Mapping[str, str] = {
    "BF16": "bfloat16", "F8_E4M3": "float8_e4m3fn", "F8_E5M2": "float8_e5m2",
    "F8_E8M0": "float8_e8m0fnu",
}
FLOATING = frozenset({"F16", "F32", "F64", "BF16"})


def require(package: str, why: str) -> ModuleType:
    """Import an optional package, or say which extra brings it."""
    try:
        return importlib.import_module(package)
    except ImportError:
        extra = EXTRAS.get(package, package)
        raise MissingExtra(f"{why} needs {package}: pip install 'modelshelf[{extra}]'") from None


@dataclass(frozen=True)
class LoadOptions:
    """How :meth:`Shelf.load` hands tensors out (see its docstring)."""

    framework: str = "numpy"
    device: str = "cpu"
    dtype: Any = None
    lazy: bool = True
    trust: bool = False

    def __post_init__(self) -> None:
        if self.framework not in FRAMEWORKS:
            raise UsageError(f"framework {self.framework!r}: expected one of {', '.join(FRAMEWORKS)}")
        if self.framework == "numpy" and self.device != "cpu":
            raise UsageError(f"device {self.device!r}: numpy arrays live on the cpu; "
                             "use framework='torch' for other devices")

    @property
    def key(self) -> tuple[str, str, str, bool, bool]:
        return (self.framework, self.device, str(self.dtype), self.lazy, self.trust)

    def target_itemsize(self, info: TensorInfo) -> int | None:
        """Bytes per element once cast (``None``: unchanged), for the memory budget."""
        if self.dtype is None or info.dtype not in FLOATING:
            return None
        if self.framework == "numpy":
            dtype = _numpy_dtype(self.dtype)
            return dtype.itemsize if dtype is not None else None
        return int(_torch_dtype(require("torch", "framework='torch'"), self.dtype).itemsize)


def converter(options: LoadOptions) -> Callable[[Any, TensorInfo], Any]:
    """The function turning one mapped numpy view into what ``options`` asks for."""
    if options.framework == "torch":
        torch = require("torch", "framework='torch'")
        dtype = _torch_dtype(torch, options.dtype)
        return lambda value, info: _to_torch(torch, value, info, options.device, dtype)
    dtype = _numpy_dtype(options.dtype)
    return lambda value, info: _to_numpy(value, info, dtype)


def _numpy_dtype(dtype: Any) -> np.dtype[Any] | None:
    if dtype is None:
        return None
    if str(dtype) == "bfloat16":
        raise UsageError("dtype bfloat16: numpy has no bfloat16; bfloat16 tensors come as their "
                         "uint16 bits with dtype=None, or use framework='torch'")
    try:
        result = np.dtype(dtype)
    except TypeError:
        raise UsageError(f"dtype {dtype!r}: not a numpy dtype") from None
    if result.kind != "f":
        raise UsageError(f"dtype {dtype!r}: only floating dtypes can be asked for "
                         "(integer tensors are never cast)")
    return result


def _to_numpy(value: Any, info: TensorInfo, dtype: np.dtype[Any] | None) -> Any:
    if dtype is None or isinstance(value, QuantizedTensor) or info.dtype not in FLOATING:
        return value
    if info.dtype == "BF16":
        # bfloat16 is the top 16 bits of a float32: widening is a shift, exact for every value.
        value = (value.astype(np.uint32) << 16).view(np.float32)
    return value.astype(dtype, copy=False)


def _torch_dtype(torch: ModuleType, dtype: Any) -> Any:
    if dtype is None or isinstance(dtype, torch.dtype):
        return dtype
    found = getattr(torch, str(dtype).removeprefix("torch."), None)
    if not isinstance(found, torch.dtype) or not found.is_floating_point:
        raise UsageError(f"dtype {dtype!r}: not a floating torch dtype")
    return found


def _to_torch(torch: ModuleType, value: Any, info: TensorInfo, device: str, dtype: Any) -> Any:
    if isinstance(value, QuantizedTensor):
        return QuantizedTensor(torch.from_numpy(value.data).to(device), value.ggml_type,
                               value.shape)
    if not value.dtype.isnative:  # a big-endian GGUF file: torch wants native order (a copy)
        value = value.astype(value.dtype.newbyteorder("="))
    tensor = torch.from_numpy(value)
    view = TORCH_VIEWS.get(info.dtype)
    if view is not None:
        tensor = tensor.view(getattr(torch, view))
    if dtype is not None and tensor.is_floating_point():
        return tensor.to(device=device, dtype=dtype)
    return tensor.to(device) if device != "cpu" else tensor


def pickle_tensors(path: Path, status: str, findings: tuple[str, ...],
                   options: LoadOptions) -> dict[str, Any]:
    """A torch checkpoint's tensors, flattened to dotted names.

    Loaded by ``torch.load(weights_only=True, mmap=True)``: torch's own restricted unpickler,
    which refuses any global outside its allow-list, and storages mapped rather than read. A
    file our inspection judged unsafe is refused outright unless ``trust=True`` — then, and
    only then, it is unpickled in full (which runs whatever code it holds).
    """
    if status == "unsafe" and not options.trust:
        shown = "; ".join(findings[:3]) or "unsafe globals"
        raise UnsafeFile(f"{path}: refusing to unpickle a file judged unsafe ({shown}); "
                         "pass trust=True only if you trust where it came from")
    torch = require("torch", f"{path}: loading a pickle checkpoint")
    try:
        loaded = torch.load(path, map_location="cpu", weights_only=not options.trust,
                            mmap=_zip_file(path))
    except Exception as exc:  # torch raises UnpicklingError, RuntimeError, ... for bad input
        raise FormatError(f"{path}: torch.load failed: {exc}".splitlines()[0]) from None
    tensors: dict[str, Any] = {}
    _flatten(torch, loaded, "", tensors)
    if not tensors:
        raise FormatError(f"{path}: the checkpoint holds no tensors")
    convert = converter(options)
    numpy_out = options.framework == "numpy"
    result = {}
    for name, tensor in tensors.items():
        info = TensorInfo(name, _header_dtype(tensor), tuple(tensor.shape), 0)
        if numpy_out:
            bits = tensor.view(torch.int16) if info.dtype == "BF16" else tensor
            array = bits.numpy().view(np.uint16) if info.dtype == "BF16" else bits.numpy()
            result[name] = convert(array, info)
        else:
            result[name] = _to_torch_loaded(tensor, options)
    return result


def _to_torch_loaded(tensor: Any, options: LoadOptions) -> Any:
    torch = require("torch", "framework='torch'")
    dtype = _torch_dtype(torch, options.dtype)
    if dtype is not None and tensor.is_floating_point():
        return tensor.to(device=options.device, dtype=dtype)
    return tensor.to(options.device) if options.device != "cpu" else tensor


def _header_dtype(tensor: Any) -> str:
    name = str(tensor.dtype).removeprefix("torch.")
    return {"bfloat16": "BF16", "float16": "F16", "float32": "F32", "float64": "F64"}.get(name, name)


def _zip_file(path: Path) -> bool:
    """``mmap=True`` works for the zip format only (torch >= 1.6); legacy pickles are read."""
    with open(path, "rb") as fh:
        return fh.read(4) == b"PK\x03\x04"


def _flatten(torch: ModuleType, value: Any, prefix: str, out: dict[str, Any]) -> None:
    """Tensors anywhere in nested dicts/lists (``{"state_dict": {...}}`` and the like)."""
    if isinstance(value, torch.Tensor):
        out[prefix or "tensor"] = value
    elif isinstance(value, Mapping):
        for key, item in value.items():
            _flatten(torch, item, f"{prefix}.{key}" if prefix else str(key), out)
    elif isinstance(value, list | tuple):
        for i, item in enumerate(value):
            _flatten(torch, item, f"{prefix}.{i}" if prefix else str(i), out)


# -- framework objects ------------------------------------------------------------------------------
def build_model(kind: str, path: Path, weights: str | None, architecture: str,
                options: LoadOptions) -> Any:
    """The framework object a model implies: ``kind`` is ``torchvision``, ``transformers`` or
    ``diffusers`` (see :func:`model_kind`)."""
    builder = _BUILDERS.get(kind)
    if builder is None:
        raise FormatError(f"{path}: no framework object is implied by a {kind} model; "
                          "use shelf.load() for its tensors")
    return builder(path, weights, architecture, options)


def _torchvision(path: Path, weights: str | None, architecture: str, options: LoadOptions) -> Any:
    torch = require("torch", f"{path}: a torchvision model")
    models = require("torchvision", f"{path}: a torchvision model").models
    model = models.get_model(architecture, weights=None)
    state = torch.load(path, map_location="cpu", weights_only=True, mmap=_zip_file(path))
    model.load_state_dict(state)
    return _placed(torch, model.eval(), options)


def _transformers(path: Path, weights: str | None, architecture: str,
                  options: LoadOptions) -> Any:
    torch = require("torch", f"{path}: a transformers model")
    transformers = require("transformers", f"{path}: a transformers model")
    extra = {"torch_dtype": _torch_dtype(torch, options.dtype)} if options.dtype else {}
    model = transformers.AutoModel.from_pretrained(str(path), local_files_only=True, **extra)
    return _placed(torch, model, options)


def _diffusers(path: Path, weights: str | None, architecture: str, options: LoadOptions) -> Any:
    torch = require("torch", f"{path}: a diffusers pipeline")
    diffusers = require("diffusers", f"{path}: a diffusers pipeline")
    extra = {"torch_dtype": _torch_dtype(torch, options.dtype)} if options.dtype else {}
    pipeline = diffusers.DiffusionPipeline.from_pretrained(str(path), local_files_only=True,
                                                           **extra)
    return pipeline.to(options.device)


def _placed(torch: ModuleType, model: Any, options: LoadOptions) -> Any:
    dtype = _torch_dtype(torch, options.dtype)
    model = model.to(options.device)
    return model.to(dtype) if dtype is not None else model


_BUILDERS: Mapping[str, Callable[[Path, str | None, str, LoadOptions], Any]] = {
    "torchvision": _torchvision, "transformers": _transformers, "diffusers": _diffusers,
}


def model_kind(source: str, fmt: str) -> str:
    """Which builder a model needs: its source for torchvision weights, else its format."""
    return "torchvision" if source == "torchvision" else fmt
