"""Stable Diffusion 1.x / 2.x / XL / XL refiner: UNets (LDM and diffusers naming), checkpoints,
ControlNets, IP-Adapters, textual-inversion embeddings and LoRAs.

One number tells these UNets apart: the width of the cross-attention context, i.e. the text
encoder output the UNet attends to — ``attn2.to_k.weight`` shape[1]: 768 (CLIP-L, SD1.x),
1024 (OpenCLIP-H, SD2.x), 2048 (CLIP-L + bigG, SDXL), 1280 (bigG only, the SDXL refiner).
ComfyUI's ``detect_unet_config`` reads ``context_dim`` from the same tensor; InvokeAI's
``lora_token_vector_length`` reads it from a LoRA's ``attn2_to_k`` down-projection.
SD2 768-v (v-prediction) and SD2 512 base share every key: both are ``sd2``.
"""

from __future__ import annotations

from modelshelf.identify.engine import K, P, R, Rule, rule
from modelshelf.identify.rules.common import DIFFUSION_PREFIXES, with_checkpoints

# architecture -> cross-attention context width
CONTEXT_DIMS: dict[str, int] = {"sd15": 768, "sd2": 1024, "sdxl": 2048, "sdxl-refiner": 1280}

_LDM_ATTN2 = r"input_blocks\.\d+\.1\.transformer_blocks\.0\.attn2\.to_k\.weight"
_DIFFUSERS_ATTN2 = r"down_blocks\.\d+\.attentions\.0\.transformer_blocks\.0\.attn2\.to_k\.weight"

# Stable Video Diffusion is an SD2-like UNet (1024 context) with temporal layers: not an image model
_VIDEO = (R(r"input_blocks\.\d+\.\d+\.time_(?:stack|mixer)\..*"),
          R(r"down_blocks\.\d+\.attentions\.\d+\.temporal_transformer_blocks\..*"))

_NAMINGS = {  # naming -> (gate key, attn2 regex, confidence)
    "ldm": (K("input_blocks.0.0.weight"), _LDM_ATTN2, 0.95),
    "diffusers": (K("time_embedding.linear_1.weight"), _DIFFUSERS_ATTN2, 0.9),
}


def _unets(naming: str) -> tuple[Rule, ...]:
    gate, attn2, conf = _NAMINGS[naming]
    return tuple(
        rule(f"{arch} unet model ({naming})", arch, "diffusion_models", conf,
             all_of=(gate, R(attn2, dims={1: ctx})), none_of=_VIDEO, prefixes=DIFFUSION_PREFIXES)
        for arch, ctx in CONTEXT_DIMS.items()
    )


_CONTROLNETS = tuple(
    rule(f"{arch} controlnet ({naming})", arch, "controlnet", conf,
         all_of=(*gates, R(attn2, dims={1: ctx})), prefixes=("", "control_model."))
    for arch, ctx in CONTEXT_DIMS.items()
    if arch != "sdxl-refiner"  # no refiner ControlNets exist
    for naming, gates, attn2, conf in (
        ("ldm", (K("input_hint_block.0.weight"), P("zero_convs.")), _LDM_ATTN2, 0.9),
        ("diffusers", (K("controlnet_cond_embedding.conv_in.weight"),
                       P("controlnet_down_blocks.")), _DIFFUSERS_ATTN2, 0.9),
    )
)

_IP_ADAPTERS = tuple(
    rule(f"{arch} ip-adapter", arch, "ipadapter", 0.85,
         all_of=(P("image_proj."), R(r"ip_adapter\.\d+\.to_k_ip\.weight", dims={1: ctx})))
    for arch, ctx in CONTEXT_DIMS.items()
    if arch != "sdxl-refiner"
)

_EMBEDDINGS = (
    rule("sdxl embedding", "sdxl", "embeddings", 0.9,
         all_of=(K("clip_l", dims={-1: 768}), K("clip_g", dims={-1: 1280}))),
    *(
        rule(f"{arch} embedding", arch, "embeddings", 0.85,
             any_of=(K("emb_params", dims={-1: ctx}),
                     R(r"string_to_param\.[^.\n]+", dims={-1: ctx})))
        for arch, ctx in (("sd15", 768), ("sd2", 1024))
    ),
)

_ATTN2_MODULE = r"unet:.*attn2_(?:processor_)?to_k(?:_lora)?"
_CLIP_TE_MODULE = r"{te}:text_model_encoder_layers_\d+_self_attn_(?:q|k|v|out)_proj"

_LORAS = (
    *(
        rule(f"{arch} lora (unet)", arch, "loras", 0.9, view="lora",
             all_of=(R(_ATTN2_MODULE, dims={1: ctx}),))
        for arch, ctx in CONTEXT_DIMS.items()
    ),
    # No cross-attention key adapted: SDXL's deeper transformer stacks (2 and 10 blocks per
    # attention, SD1/SD2 have 1) still show in the module names.
    rule("sdxl lora (transformer depth)", "sdxl", "loras", 0.75, view="lora",
         all_of=(R(r"unet:(?:.*_attentions_\d+|(?:input|output)_blocks_\d+_1|middle_block_1)"
                   r"_transformer_blocks_[1-9]\d*_(?:attn[12]|ff)_.*"),)),
    # Judged by the text encoders: SDXL trains both (te1 CLIP-L + te2 bigG, 1280 wide; SD3 adds
    # a te3 T5); SD1/SD2 have one ("lora_te_"). FLUX LoRAs use te1 (CLIP-L) + te2 (T5, 4096).
    rule("sdxl lora (text encoders)", "sdxl", "loras", 0.7, view="lora",
         all_of=(R(_CLIP_TE_MODULE.format(te="te2"), dims={1: 1280}),),
         none_of=(P("te3:"),)),
    *(
        rule(f"{arch} lora (text encoder)", arch, "loras", 0.7, view="lora",
             all_of=(R(_CLIP_TE_MODULE.format(te="te"), dims={1: ctx}),))
        for arch, ctx in (("sd15", 768), ("sd2", 1024))
    ),
)

RULES: tuple[Rule, ...] = (
    *with_checkpoints(_unets("ldm")), *_unets("diffusers"),
    *_CONTROLNETS, *_IP_ADAPTERS, *_EMBEDDINGS, *_LORAS,
    rule("controlnet (base unknown)", "unknown", "controlnet", 0.6,
         any_of=(K("control_model.input_hint_block.0.weight"), K("input_hint_block.0.weight"),
                 K("controlnet_cond_embedding.conv_in.weight"))),
    rule("ip-adapter (base unknown)", "unknown", "ipadapter", 0.6,
         all_of=(P("image_proj."), P("ip_adapter."))),
)
