"""The LoRA view: every adapted module of a LoRA-like file, under one spelling, with its size.

LoRA files name the same thing many ways: kohya flattens module paths (``lora_unet_double_blocks_0
_img_attn_proj.lora_down.weight``), PEFT keeps dots and adds ``lora_A``/``lora_B``, LyCORIS stores
Kronecker (``lokr_w1``/``lokr_w2``) or Hadamard (``hada_w1_a``...) factors, XLabs writes
``processor.qkv_lora1.down.weight``. Which base model a LoRA targets is decided by the module names
and the adapted layer's width (the context width of SD cross-attention, 3072 for FLUX.1, ...), as
InvokeAI's ``lora_token_vector_length`` does. So this module turns any of those files into
``{"<component>:<flat module name>": (out, in)}`` — component ``unet`` (the diffusion model) or
``te``/``te1``/``te2``/``te3`` (text encoders), dots flattened to underscores like kohya does —
and the rule tables match on that.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from itertools import repeat
from typing import Literal

from modelshelf.formats.base import TensorInfo, tensor_shapes

Role = Literal["in", "out", "full", "kron1", "kron2", "none"]
UNKNOWN = -1

# (suffix, role, index within a factorised pair). "in": shape[1] is the layer's input width;
# "out": shape[0] is its output width; "kron": a LoKr factor (a factorised one is w_a @ w_b).
_SUFFIXES: tuple[tuple[str, Role, str], ...] = (
    (".lora_down.weight", "in", ""),
    (".lora_up.weight", "out", ""),
    (".lora_A.weight", "in", ""),
    (".lora_B.weight", "out", ""),
    (".lora_B.bias", "none", ""),
    (".lora_mid.weight", "none", ""),
    (".hada_w1_a", "out", ""),
    (".hada_w1_b", "in", ""),
    (".hada_w2_a", "out", ""),
    (".hada_w2_b", "in", ""),
    (".hada_t1", "none", ""),
    (".hada_t2", "none", ""),
    (".lokr_w1", "kron1", "w"),
    (".lokr_w1_a", "kron1", "a"),
    (".lokr_w1_b", "kron1", "b"),
    (".lokr_w2", "kron2", "w"),
    (".lokr_w2_a", "kron2", "a"),
    (".lokr_w2_b", "kron2", "b"),
    (".lokr_t2", "none", ""),
    (".alpha", "none", ""),
    (".dora_scale", "none", ""),
    (".diff", "full", ""),
    (".diff_b", "none", ""),
)
_ROLES = {s: (role, part) for s, role, part in _SUFFIXES}
# XLabs / old diffusers attention processors: "...qkv_lora1.down.weight", "...to_k_lora.up.weight"
_PROC_ROLES: dict[str, tuple[Role, str]] = {".down.weight": ("in", ""), ".up.weight": ("out", "")}
_PROC_MODULE = re.compile(r".*lora\d*")
_ALL_SUFFIXES = tuple(_ROLES) + tuple(_PROC_ROLES)

# Where a module lives, from its prefix; the first that fits wins (longest first where they nest).
_COMPONENTS: tuple[tuple[str, str], ...] = (
    ("lora_unet_", "unet"),
    ("lora_transformer_", "unet"),
    ("lora_te1_", "te1"),
    ("lora_te2_", "te2"),
    ("lora_te3_", "te3"),
    ("lora_te_", "te"),
    ("base_model.model.", "unet"),
    ("model.diffusion_model.", "unet"),
    ("diffusion_model.", "unet"),
    ("transformer.", "unet"),
    ("unet.", "unet"),
    ("text_encoder_2.", "te2"),
    ("text_encoder.", "te"),
)

# A file is read as a LoRA when at least this share of its tensors are LoRA parts: some full
# checkpoints carry a few merged-in LoRA keys, and a Control LoRA carries a few plain norms.
MIN_LORA_SHARE = 0.5


def _split(name: str) -> tuple[str, Role, str] | None:
    """(module, role, factor part) of one LoRA tensor name, or None."""
    head, _, last = name.rpartition(".")
    suffix = "." + last
    if suffix in _ROLES:
        return (head, *_ROLES[suffix])
    head2, _, mid = head.rpartition(".")
    suffix = f".{mid}.{last}"
    if suffix in _ROLES:
        return (head2, *_ROLES[suffix])
    if suffix in _PROC_ROLES and _PROC_MODULE.fullmatch(head2):
        return (head2, *_PROC_ROLES[suffix])
    return None


def module_key(module: str) -> str:
    """``lora_unet_a_b`` / ``transformer.a.b`` -> ``unet:a_b``."""
    for prefix, component in _COMPONENTS:
        if module.startswith(prefix):
            return f"{component}:{module[len(prefix):].replace('.', '_')}"
    return f"unet:{module.replace('.', '_')}"


def _kron_side(parts: Mapping[str, tuple[int, ...]]) -> tuple[int, int]:
    """(rows, cols) of one LoKr factor, whole (``w``) or factorised (``a`` @ ``b``)."""
    if "w" in parts and len(parts["w"]) >= 2:
        return parts["w"][0], parts["w"][1]
    a, b = parts.get("a"), parts.get("b")
    if a and b and len(a) >= 1 and len(b) >= 2:
        return a[0], b[1]
    return UNKNOWN, UNKNOWN


def lora_view(tensors: Mapping[str, TensorInfo]) -> dict[str, tuple[int, int]] | None:
    """``{"unet:<module>": (out, in)}`` for a LoRA-like file, or None if it is not one."""
    # Cheap gate first, in C (``map`` of ``str.endswith``, no frame per name): most files are
    # not LoRAs, and every file meets this gate.
    if not tensors or sum(map(str.endswith, tensors, repeat(_ALL_SUFFIXES))) < (
        MIN_LORA_SHARE * len(tensors)
    ):
        return None
    keys: dict[str, str] = {}  # raw module -> normalised key, computed once per module
    dims: dict[str, list[int]] = {}
    krons: dict[str, dict[str, dict[str, tuple[int, ...]]]] = {}
    parts = 0
    for name, shape in tensor_shapes(tensors).items():
        split = _split(name)
        if split is None:
            continue
        parts += 1
        module, role, part = split
        key = keys.get(module)
        if key is None:
            key = keys[module] = module_key(module)
        out_in = dims.setdefault(key, [UNKNOWN, UNKNOWN])
        if role == "in" and len(shape) >= 2:
            out_in[1] = shape[1]
        elif role == "out" and len(shape) >= 1:
            out_in[0] = shape[0]
        elif role == "full" and len(shape) >= 2:
            out_in[0], out_in[1] = shape[0], shape[1]
        elif role in ("kron1", "kron2"):
            krons.setdefault(key, {}).setdefault(role, {})[part] = shape
    if parts < MIN_LORA_SHARE * len(tensors):
        return None
    for key, sides in krons.items():
        (a, b), (c, d) = _kron_side(sides.get("kron1", {})), _kron_side(sides.get("kron2", {}))
        if UNKNOWN not in (a, c):
            dims[key][0] = a * c
        if UNKNOWN not in (b, d):
            dims[key][1] = b * d
    return {k: (v[0], v[1]) for k, v in dims.items()}
