"""Language models and declared configs: GGUF metadata and tensors, transformers ``config.json``
and state dicts, diffusers ``model_index.json``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from modelshelf.testing.factories.keys import Shape


def llama_gguf_metadata(arch: str = "llama", *, context: int = 4096) -> dict[str, Any]:
    """The GGUF metadata a llama.cpp conversion writes (the part identification reads)."""
    return {"general.architecture": arch, "general.name": f"tiny-{arch}",
            "general.file_type": 15, f"{arch}.context_length": context,
            f"{arch}.block_count": 2, f"{arch}.embedding_length": 64}


def llama_gguf_tensors(*, tiny: bool = True) -> dict[str, Shape]:
    """GGUF tensor names of a llama-style model (``blk.N.*``), shapes in numpy order."""
    width = 64 if tiny else 4096
    return {"token_embd.weight": (width, 32000), "blk.0.attn_q.weight": (width, width),
            "blk.0.ffn_up.weight": (width, 4 * width), "output_norm.weight": (width,),
            "output.weight": (width, 32000)}


def transformers_config(model_type: str = "qwen2",
                        architectures: Iterable[str] = ("Qwen2ForCausalLM",)) -> dict[str, Any]:
    """A transformers ``config.json`` (only the fields identification reads, plus a few)."""
    return {"model_type": model_type, "architectures": list(architectures),
            "hidden_size": 64, "num_hidden_layers": 2, "torch_dtype": "float16"}


def decoder_lm_tensors(*, qk_norm: bool = False, tiny: bool = True) -> dict[str, Shape]:
    """A decoder-only LM state dict in transformers naming (Qwen3 when ``qk_norm``)."""
    w = 64 if tiny else 2560
    t = {"model.embed_tokens.weight": (151936 if not tiny else 256, w),
         "model.layers.0.self_attn.q_proj.weight": (w, w),
         "model.layers.0.mlp.gate_proj.weight": (4 * w, w), "model.norm.weight": (w,)}
    if qk_norm:
        t["model.layers.0.self_attn.q_norm.weight"] = (128,)
    return t


def diffusers_model_index(class_name: str = "StableDiffusionXLPipeline") -> dict[str, Any]:
    """A diffusers ``model_index.json``."""
    return {"_class_name": class_name, "_diffusers_version": "0.31.0",
            "unet": ["diffusers", "UNet2DConditionModel"], "vae": ["diffusers", "AutoencoderKL"]}
