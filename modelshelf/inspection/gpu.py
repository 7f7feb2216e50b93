"""Will it fit? A transparent estimate of the GPU memory a model needs to run.

The rule (returned in the answer, so users can see why):
    needed = weights + activations + 512 MiB
- weights: the tensor bytes, with floating tensors counted at ``--dtype`` if one is given
  (quantised GGUF blocks and integer tensors keep their size: they are not recast);
- activations, temporary buffers and allocator fragmentation during inference: a share of the
  weights plus a fixed amount for the family's usual working size (:data:`ACTIVATIONS`): an
  image model's activations grow with its resolution, not with its weights. Anything else
  gets 20% of its weights, a conservative middle between image models and short-context LLMs;
- 512 MiB: the CUDA context and library workspaces (cuBLAS/cuDNN) every process pays for.

One rule for ``info --gpu-memory`` and ``advise --gpu``: they used to answer the same question
with two (a 12 GiB SDXL checkpoint needed 14.9 GiB to one and 17.4 GiB to the other).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

from modelshelf.config import format_size
from modelshelf.errors import UsageError
from modelshelf.inspection.info import Info

OVERHEAD_FRACTION: Final = 0.20
RUNTIME_BYTES: Final = 512 * 2**20

FLOAT_ITEMSIZE: Final[dict[str, int]] = {"F64": 8, "F32": 4, "F16": 2, "BF16": 2}
DTYPE_NAMES: Final[dict[str, str]] = {
    "fp64": "F64", "fp32": "F32", "fp16": "F16", "bf16": "BF16",
    "float32": "F32", "float16": "F16", "bfloat16": "BF16",
}


@dataclass(frozen=True)
class Activation:
    """Memory beside the weights while running: ``share`` of the weights plus ``fixed`` bytes."""

    share: float
    fixed: int
    assumes: str


_GIB = 2**30
_IMAGE_1024 = Activation(0.15, 3 * _GIB, "1024x1024 image, batch 1")
_VIDEO = Activation(0.15, 8 * _GIB, "a few seconds of 480p video")
DEFAULT_ACTIVATION: Final = Activation(OVERHEAD_FRACTION, 0, "generic: 20% of the weights")
# By model type first (a LoRA runs beside its base model whatever the base), then by
# architecture (SPEC's vocabulary); else the generic rule.
ACTIVATIONS: Final[dict[str, Activation]] = {
    "sd15": Activation(0.20, 1 * _GIB, "512x512 image, batch 1"),
    "sd2": Activation(0.20, int(1.5 * _GIB), "768x768 image, batch 1"),
    "sdxl": Activation(0.20, int(2.5 * _GIB), "1024x1024 image, batch 1"),
    "sdxl-refiner": Activation(0.20, int(2.5 * _GIB), "1024x1024 image, batch 1"),
    **dict.fromkeys(("sd3", "flux", "flux-dev", "flux-schnell", "chroma", "auraflow", "flux2",
                     "qwen-image", "z-image"), _IMAGE_1024),
    **dict.fromkeys(("wan", "hunyuan-video", "ltxv"), _VIDEO),
}
ACTIVATIONS_BY_TYPE: Final[dict[str, Activation]] = {
    "llm": Activation(0.10, 1 * _GIB, "KV cache for 4k tokens, batch 1"),
    "loras": Activation(0.0, 0, "loaded beside its base model"),
    "embeddings": Activation(0.0, 0, "loaded beside its base model"),
}


def activation_for(architecture: str, model_type: str) -> Activation:
    return ACTIVATIONS_BY_TYPE.get(model_type) or ACTIVATIONS.get(architecture,
                                                                  DEFAULT_ACTIVATION)


@dataclass(frozen=True)
class VramNeed:
    """GPU memory to run a model of ``weights`` bytes, and the rule, for people."""

    weights: int
    activations: int
    rule: str

    @property
    def needed(self) -> int:
        return self.weights + self.activations + RUNTIME_BYTES

    @property
    def overhead(self) -> int:
        return self.activations + RUNTIME_BYTES


def vram_need(weights: int, architecture: str, model_type: str) -> VramNeed:
    """The one estimate ``info --gpu-memory`` and ``advise`` both give (see the module doc)."""
    act = activation_for(architecture, model_type)
    activations = int(weights * act.share) + act.fixed
    rule = (f"{format_size(weights)} weights + {format_size(activations)} activations "
            f"({act.assumes}) + {format_size(RUNTIME_BYTES)} runtime")
    return VramNeed(weights, activations, rule)


def weights_bytes(info: Info, dtype: str | None = None) -> int:
    """Tensor bytes, with floating tensors re-counted at ``dtype`` when given."""
    if dtype is None:
        return info.memory_bytes
    target = DTYPE_NAMES.get(dtype.lower(), dtype.upper())
    if target not in FLOAT_ITEMSIZE:
        raise UsageError(f"--dtype {dtype!r}: expected one of fp32, fp16, bf16")
    floats = {d: n for d, n in info.dtypes.items() if d in FLOAT_ITEMSIZE}
    float_bytes_now = sum(n * FLOAT_ITEMSIZE[d] for d, n in floats.items())
    return info.memory_bytes - float_bytes_now + sum(floats.values()) * FLOAT_ITEMSIZE[target]


def gpu_fit(info: Info, gpu_bytes: int, dtype: str | None = None) -> dict[str, Any]:
    """``{"fits", "needed_bytes", "headroom_bytes", ...}``; headroom < 0 when it does not fit."""
    if gpu_bytes <= 0:
        raise UsageError(f"--gpu-memory must be positive, got {gpu_bytes}")
    need = vram_need(weights_bytes(info, dtype), info.architecture, info.model_type)
    return {
        "fits": need.needed <= gpu_bytes,
        "gpu_bytes": gpu_bytes,
        "dtype": dtype,
        "weights_bytes": need.weights,
        "overhead_bytes": need.overhead,
        "needed_bytes": need.needed,
        "headroom_bytes": gpu_bytes - need.needed,
        "rule": need.rule,
    }
