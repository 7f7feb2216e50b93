"""Models that say what they are: diffusers pipelines (``model_index.json`` ``_class_name``),
transformers folders (``config.json`` ``model_type`` / ``architectures``), GGUF files
(``general.architecture``) and file metadata written by trainers (``modelspec.architecture``,
kohya's ``ss_base_model_version``). These are lookup tables, consulted by ``identify.core``.
"""

from __future__ import annotations

import re

# diffusers pipeline class -> architecture (the family where the class covers several variants)
DIFFUSERS_PIPELINES: dict[str, str] = {
    "StableDiffusionPipeline": "sd15",
    "StableDiffusionInpaintPipeline": "sd15",
    "StableDiffusionXLPipeline": "sdxl",
    "StableDiffusionXLInpaintPipeline": "sdxl",
    "StableDiffusionXLImg2ImgPipeline": "sdxl",
    "StableDiffusion3Pipeline": "sd3",
    "FluxPipeline": "flux",
    "FluxFillPipeline": "flux-dev",
    "Flux2Pipeline": "flux2",
    "Flux2KleinPipeline": "flux2",
    "ChromaPipeline": "chroma",
    "AuraFlowPipeline": "auraflow",
    "QwenImagePipeline": "qwen-image",
    "QwenImageEditPipeline": "qwen-image",
    "ZImagePipeline": "z-image",
    "Lumina2Pipeline": "lumina2",
    "WanPipeline": "wan",
    "WanImageToVideoPipeline": "wan",
    "HunyuanVideoPipeline": "hunyuan-video",
    "LTXPipeline": "ltxv",
    "LTXImageToVideoPipeline": "ltxv",
    **dict.fromkeys(("KandinskyPipeline", "KandinskyImg2ImgPipeline", "KandinskyInpaintPipeline",
                     "KandinskyPriorPipeline", "KandinskyCombinedPipeline"), "kandinsky2.1"),
    **dict.fromkeys(("KandinskyV22Pipeline", "KandinskyV22Img2ImgPipeline",
                     "KandinskyV22InpaintPipeline", "KandinskyV22ControlnetPipeline",
                     "KandinskyV22ControlnetImg2ImgPipeline", "KandinskyV22PriorPipeline",
                     "KandinskyV22PriorEmb2EmbPipeline", "KandinskyV22CombinedPipeline"),
                    "kandinsky2.2"),
    **dict.fromkeys(("Kandinsky3Pipeline", "Kandinsky3Img2ImgPipeline"), "kandinsky3"),
}

# Pipelines whose family a component's config narrows down:
# pipeline class -> (component, config key, {value: architecture})
DIFFUSERS_REFINE: dict[str, tuple[str, str, dict[object, str]]] = {
    "StableDiffusionPipeline": ("unet", "cross_attention_dim", {768: "sd15", 1024: "sd2"}),
    "StableDiffusionXLImg2ImgPipeline": (
        "unet", "cross_attention_dim", {2048: "sdxl", 1280: "sdxl-refiner"}),
    "FluxPipeline": ("transformer", "guidance_embeds", {True: "flux-dev", False: "flux-schnell"}),
}

# diffusers component class (a lone component folder) -> (model_type, architecture)
DIFFUSERS_COMPONENTS: dict[str, tuple[str, str]] = {
    "AutoencoderKL": ("vae", "unknown"),
    "AutoencoderKLFlux2": ("vae", "flux2"),
    "AutoencoderKLWan": ("vae", "unknown"),
    "AutoencoderKLQwenImage": ("vae", "qwen-image"),
    "AutoencoderKLHunyuanVideo": ("vae", "hunyuan-video"),
    "AutoencoderKLLTXVideo": ("vae", "ltxv"),
    "UNet2DConditionModel": ("diffusion_models", "unknown"),
    "Kandinsky3UNet": ("diffusion_models", "kandinsky3"),
    "PriorTransformer": ("diffusion_models", "unknown"),  # Kandinsky 2.x, unCLIP, Shap-E
    "VQModel": ("vae", "unknown"),  # MoVQ (Kandinsky) and other VQ-GANs
    "SD3Transformer2DModel": ("diffusion_models", "sd3"),
    "FluxTransformer2DModel": ("diffusion_models", "flux"),
    "Flux2Transformer2DModel": ("diffusion_models", "flux2"),
    "ChromaTransformer2DModel": ("diffusion_models", "chroma"),
    "AuraFlowTransformer2DModel": ("diffusion_models", "auraflow"),
    "QwenImageTransformer2DModel": ("diffusion_models", "qwen-image"),
    "ZImageTransformer2DModel": ("diffusion_models", "z-image"),
    "WanTransformer3DModel": ("diffusion_models", "wan"),
    "HunyuanVideoTransformer3DModel": ("diffusion_models", "hunyuan-video"),
    "LTXVideoTransformer3DModel": ("diffusion_models", "ltxv"),
    "ControlNetModel": ("controlnet", "unknown"),
    "FluxControlNetModel": ("controlnet", "flux"),
    "SD3ControlNetModel": ("controlnet", "sd3"),
}

# transformers class name (config.json "architectures") -> model_type word; exact names first,
# then suffixes. Causal and seq2seq LMs are "llm" (SPEC.md), encoders the pipelines use are
# "text_encoders", vision towers "clip_vision".
TRANSFORMERS_CLASSES: dict[str, str] = {
    "CLIPTextModel": "text_encoders",
    "CLIPTextModelWithProjection": "text_encoders",
    "T5EncoderModel": "text_encoders",
    "UMT5EncoderModel": "text_encoders",
    "CLIPVisionModel": "clip_vision",
    "CLIPVisionModelWithProjection": "clip_vision",
    "SiglipVisionModel": "clip_vision",
}
TRANSFORMERS_SUFFIXES: tuple[tuple[str, str], ...] = (
    ("ForCausalLM", "llm"),
    ("LMHeadModel", "llm"),
    ("ForConditionalGeneration", "llm"),
)

# config.json "model_type" -> model_type word, for a config without "architectures" (older or
# hand-written configs, and some conversions write none): the model_type alone names the kind.
# Decoder-only LM families are "llm" (SPEC.md: their model_type is the architecture); the
# encoders pipelines use are "text_encoders" (a seq2seq T5 lists T5ForConditionalGeneration);
# BERT-style sentence encoders are "other", as a BertModel is. Types not listed stay "other".
# keys: transformers models/auto/configuration_auto.py (CONFIG_MAPPING_NAMES)
TRANSFORMERS_MODEL_TYPES: dict[str, str] = {
    **dict.fromkeys((
        "llama", "mistral", "mixtral", "qwen2", "qwen2_moe", "qwen3", "qwen3_moe", "gemma",
        "gemma2", "gemma3_text", "phi", "phi3", "phimoe", "gpt2", "gpt_neox", "gptj", "gpt_neo",
        "falcon", "opt", "bloom", "mpt", "starcoder2", "olmo", "olmo2", "cohere", "stablelm",
        "deepseek_v2", "deepseek_v3", "granite", "internlm2", "exaone", "smollm3",
    ), "llm"),
    **dict.fromkeys(("clip_text_model", "t5", "umt5", "mt5"), "text_encoders"),
    **dict.fromkeys(("clip_vision_model", "siglip_vision_model"), "clip_vision"),
    **dict.fromkeys(("bert", "roberta", "xlm-roberta", "distilbert", "mpnet", "clip",
                     "siglip"), "other"),
}

# GGUF general.architecture values of diffusion models (city96's ComfyUI-GGUF conversions)
GGUF_DIFFUSION: dict[str, str] = {
    "flux": "flux", "sd1": "sd15", "sdxl": "sdxl", "sd3": "sd3", "aura": "auraflow",
    "wan": "wan", "hyvid": "hunyuan-video", "ltxv": "ltxv", "qwen_image": "qwen-image",
    "lumina2": "lumina2", "chroma": "chroma", "hidream": "hidream", "cosmos": "cosmos",
}
# GGUF architectures that are encoders, not language models to chat with
GGUF_ENCODERS: dict[str, str] = {
    "t5": "text_encoders", "t5encoder": "text_encoders", "clip": "text_encoders",
    "bert": "other", "nomic-bert": "other", "jina-bert-v2": "other",
}

# (metadata key, regex on its value, architecture): trainer-written hints, used only when the
# keys could not name the architecture. Case-insensitive, first match wins.
METADATA_HINTS: tuple[tuple[str, re.Pattern[str], str], ...] = tuple(
    (key, re.compile(rx, re.IGNORECASE), arch) for key, rx, arch in (
        ("modelspec.architecture", r"stable-diffusion-xl-v1-refiner", "sdxl-refiner"),
        ("modelspec.architecture", r"stable-diffusion-xl", "sdxl"),
        ("modelspec.architecture", r"stable-diffusion-v2", "sd2"),
        ("modelspec.architecture", r"stable-diffusion-v1", "sd15"),
        ("modelspec.architecture", r"stable-diffusion-v3", "sd3"),
        ("modelspec.architecture", r"flux[.-]?1-dev", "flux-dev"),
        ("modelspec.architecture", r"flux[.-]?1-schnell", "flux-schnell"),
        ("ss_base_model_version", r"sdxl_refiner", "sdxl-refiner"),
        ("ss_base_model_version", r"sdxl", "sdxl"),
        ("ss_base_model_version", r"sd_v2", "sd2"),
        ("ss_base_model_version", r"sd_v1", "sd15"),
        ("ss_base_model_version", r"sd3", "sd3"),
        ("ss_base_model_version", r"flux", "flux"),
        ("ss_base_model_version", r"krea2", "krea2"),
    )
)
