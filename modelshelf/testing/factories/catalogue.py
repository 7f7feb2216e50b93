"""Every builder with what it must be identified as: the table the identification tests walk."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from modelshelf.testing.factories import adapters, diffusion
from modelshelf.testing.factories.keys import Shape
from modelshelf.testing.factories.llm import decoder_lm_tensors


@dataclass(frozen=True)
class Example:
    """One generated model: ``build(tiny)`` -> {name: shape}, and its expected identification."""

    build: Callable[[bool], dict[str, Shape]]
    architecture: str
    model_type: str


def _t(fn: Callable[..., dict[str, Shape]], *args: Any, **kw: Any,
       ) -> Callable[[bool], dict[str, Shape]]:
    return lambda tiny: fn(*args, tiny=tiny, **kw)


def _small(fn: Callable[..., dict[str, Shape]], *args: Any, **kw: Any,
           ) -> Callable[[bool], dict[str, Shape]]:
    return lambda _tiny: fn(*args, **kw)


EXAMPLES: dict[str, Example] = {
    "sd15-checkpoint": Example(_t(diffusion.sd_checkpoint, "sd15"), "sd15", "checkpoints"),
    "sd2-checkpoint": Example(_t(diffusion.sd_checkpoint, "sd2"), "sd2", "checkpoints"),
    "sdxl-checkpoint": Example(_t(diffusion.sd_checkpoint, "sdxl"), "sdxl", "checkpoints"),
    "sdxl-refiner-checkpoint": Example(_t(diffusion.sd_checkpoint, "sdxl-refiner"), "sdxl-refiner",
                                       "checkpoints"),
    "sd15-unet": Example(_t(diffusion.sd_unet, "sd15"), "sd15", "diffusion_models"),
    "sd2-unet": Example(_t(diffusion.sd_unet, "sd2"), "sd2", "diffusion_models"),
    "sdxl-unet": Example(_t(diffusion.sd_unet, "sdxl"), "sdxl", "diffusion_models"),
    "sdxl-refiner-unet": Example(_t(diffusion.sd_unet, "sdxl-refiner"), "sdxl-refiner", "diffusion_models"),
    "sd15-unet-diffusers": Example(_t(diffusion.sd_unet_diffusers, "sd15"), "sd15", "diffusion_models"),
    **{f"{arch}-unet-diffusers": Example(_t(diffusion.sd_unet_diffusers, arch), arch, "diffusion_models")
       for arch in ("sd2", "sdxl", "sdxl-refiner")},
    "flux-dev": Example(_t(diffusion.flux_dev_transformer), "flux-dev", "diffusion_models"),
    "flux-schnell": Example(_t(diffusion.flux_schnell_transformer), "flux-schnell", "diffusion_models"),
    "flux-dev-diffusers": Example(_t(diffusion.flux_dev_diffusers_transformer), "flux-dev",
                                  "diffusion_models"),
    "flux-dev-checkpoint": Example(_t(diffusion.flux_checkpoint), "flux-dev", "checkpoints"),
    "chroma": Example(_t(diffusion.chroma_transformer), "chroma", "diffusion_models"),
    "flux2": Example(_t(diffusion.flux2_transformer), "flux2", "diffusion_models"),
    "sd3": Example(_t(diffusion.sd3_transformer), "sd3-medium", "diffusion_models"),
    "auraflow": Example(_t(diffusion.auraflow_transformer), "auraflow", "diffusion_models"),
    "qwen-image": Example(_t(diffusion.qwen_image_transformer), "qwen-image", "diffusion_models"),
    "z-image": Example(_t(diffusion.z_image_transformer), "z-image", "diffusion_models"),
    "wan": Example(_t(diffusion.wan_transformer), "wan", "diffusion_models"),
    "hunyuan-video": Example(_t(diffusion.hunyuan_video_transformer), "hunyuan-video", "diffusion_models"),
    "ltxv": Example(_t(diffusion.ltxv_transformer), "ltxv", "diffusion_models"),
    "anima": Example(_t(diffusion.anima_transformer), "anima", "diffusion_models"),
    "sd-vae": Example(_t(diffusion.sd_vae), "unknown", "vae"),
    "flux-vae": Example(_t(diffusion.flux_vae), "unknown", "vae"),
    "clip-l": Example(_t(diffusion.clip_l_text_encoder), "clip-l", "text_encoders"),
    "clip-g": Example(_t(diffusion.clip_g_text_encoder), "clip-g", "text_encoders"),
    "t5-xxl": Example(_t(diffusion.t5_xxl_text_encoder), "t5", "text_encoders"),
    "umt5-xxl": Example(_t(diffusion.umt5_xxl_text_encoder), "umt5", "text_encoders"),
    "qwen3-text-encoder": Example(_t(decoder_lm_tensors, qk_norm=True), "qwen3", "text_encoders"),
    "clip-vision-h": Example(_t(diffusion.clip_vision_h), "clip-vit-h", "clip_vision"),
    "esrgan": Example(_t(diffusion.esrgan_upscaler), "esrgan", "upscale_models"),
    "esrgan-old": Example(_t(diffusion.esrgan_upscaler, new_arch=False), "esrgan", "upscale_models"),
    **{f"{arch}-controlnet{'-diffusers' if diffusers else ''}": Example(
        _t(adapters.sd_controlnet, arch, diffusers=diffusers), arch, "controlnet")
       for arch in ("sd15", "sd2", "sdxl") for diffusers in (False, True)},
    "flux-controlnet-xlabs": Example(_t(adapters.flux_controlnet_xlabs), "flux", "controlnet"),
    "sd15-ip-adapter": Example(_t(adapters.sd_ip_adapter, "sd15"), "sd15", "ipadapter"),
    "sd2-ip-adapter": Example(_t(adapters.sd_ip_adapter, "sd2"), "sd2", "ipadapter"),
    "sdxl-ip-adapter": Example(_t(adapters.sd_ip_adapter, "sdxl"), "sdxl", "ipadapter"),
    "sd15-embedding": Example(_small(adapters.textual_inversion, "sd15"), "sd15", "embeddings"),
    "sd2-embedding": Example(_small(adapters.textual_inversion, "sd2"), "sd2", "embeddings"),
    "sdxl-embedding": Example(_small(adapters.textual_inversion, "sdxl"), "sdxl", "embeddings"),
    "sd15-lora": Example(_small(adapters.kohya_lora, "sd15"), "sd15", "loras"),
    "sd2-lora": Example(_small(adapters.kohya_lora, "sd2"), "sd2", "loras"),
    "sdxl-lora": Example(_small(adapters.kohya_lora, "sdxl"), "sdxl", "loras"),
    "flux-lora": Example(_small(adapters.kohya_lora, "flux"), "flux", "loras"),
    **{f"{base}-lora": Example(_small(adapters.kohya_lora, base), arch, "loras") for base, arch in (
        ("sdxl-refiner", "sdxl-refiner"), ("flux-attention", "flux"), ("flux2", "flux2"),
        ("chroma", "chroma"), ("sd3", "sd3"), ("auraflow", "auraflow"),
        ("hunyuan-video", "hunyuan-video"), ("wan", "wan"), ("z-image", "z-image"),
        ("qwen-image", "qwen-image"))},
    **{f"{base}-lora-te-only": Example(_small(adapters.kohya_lora, base, unet=False), base, "loras")
       for base in ("sd15", "sd2", "sdxl")},
    "sd3-peft-lora": Example(_small(adapters.peft_lora, "sd3"), "sd3", "loras"),
    "sdxl-dora": Example(_small(adapters.kohya_lora, "sdxl", kind="dora"), "sdxl", "loras"),
    "sd15-loha": Example(_small(adapters.lycoris_lora, "sd15", kind="loha"), "sd15", "loras"),
    "sdxl-lokr": Example(_small(adapters.lycoris_lora, "sdxl", kind="lokr"), "sdxl", "loras"),
    "sd15-peft-lora": Example(_small(adapters.peft_lora, "sd15"), "sd15", "loras"),
    "sdxl-peft-lora": Example(_small(adapters.peft_lora, "sdxl"), "sdxl", "loras"),
    "flux-peft-lora": Example(_small(adapters.peft_lora, "flux"), "flux", "loras"),
}
