"""Will it fit? A transparent estimate of the GPU memory a model needs to run.

The rule (returned in the answer, so users can see why):
    needed = weights + 20% of weights + 512 MiB
- weights: the tensor bytes, with floating tensors counted at ``--dtype`` if one is given
  (quantised GGUF blocks and integer tensors keep their size: they are not recast);
- 20%: activations, temporary buffers and allocator fragmentation during inference — a
  conservative middle between image models (larger activations) and LLMs at short context;
- 512 MiB: the CUDA context and library workspaces (cuBLAS/cuDNN) every process pays for.
Long-context LLM KV caches are not included; the answer says so.

``advise`` refines the 20% per architecture (:data:`ACTIVATIONS`): an image model's activations
grow with its resolution, not with its weights, so each family gets a share of the weights plus
a fixed amount for its usual working size, and the rule it used is shown beside the number.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

from modelshelf.errors import UsageError
from modelshelf.inspection.info import Info

OVERHEAD_FRACTION: Final = 0.20
RUNTIME_BYTES: Final = 512 * 2**20
RULE: Final = "weights + 20% activations/fragmentation + 512 MiB runtime; KV cache not included"

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
    weights = weights_bytes(info, dtype)
    overhead = int(weights * OVERHEAD_FRACTION) + RUNTIME_BYTES
    needed = weights + overhead
    return {
        "fits": needed <= gpu_bytes,
        "gpu_bytes": gpu_bytes,
        "dtype": dtype,
        "weights_bytes": weights,
        "overhead_bytes": overhead,
        "needed_bytes": needed,
        "headroom_bytes": gpu_bytes - needed,
        "rule": RULE,
    }
