"""Stable Diffusion 1.x / 2.x / XL / XL refiner: UNets (LDM and diffusers naming) and their
inpainting/depth variants, checkpoints, ControlNets (with Control-LoRAs, T2I-Adapters and
SparseCtrl), IP-Adapters, textual-inversion embeddings, LoRAs and AnimateDiff motion modules.

One number tells these UNets apart: the width of the cross-attention context, i.e. the text
encoder output the UNet attends to — ``attn2.to_k.weight`` shape[1]: 768 (CLIP-L, SD1.x),
1024 (OpenCLIP-H, SD2.x), 2048 (CLIP-L + bigG, SDXL), 1280 (bigG only, the SDXL refiner).
ComfyUI's ``detect_unet_config`` reads ``context_dim`` from the same tensor; InvokeAI's
``lora_token_vector_length`` reads it from a LoRA's ``attn2_to_k`` down-projection.
SD2 768-v (v-prediction) and SD2 512 base share every key: both are ``sd2``.

Variants keep their family's architecture (the family's LoRAs, ControlNets and VAEs fit them) and
say what they are in the rule name and note: inpainting and depth UNets by the input width of the
first convolution; Control-LoRAs, T2I-Adapters and SparseCtrl are ``controlnet`` (ComfyUI loads
them from that folder); AnimateDiff motion modules are ``other`` (SPEC has no word for them).
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

_NAMINGS = {  # naming -> (gate key, first convolution, attn2 regex, confidence)
    "ldm": (K("input_blocks.0.0.weight"), "input_blocks.0.0.weight", _LDM_ATTN2, 0.95),
    "diffusers": (K("time_embedding.linear_1.weight"), "conv_in.weight", _DIFFUSERS_ATTN2, 0.9),
}

# UNet variants by the input width of the first convolution (4 = the latent alone): InvokeAI's
# variant probe reads input_blocks.0.0.weight shape[1] (diffusers: unet config in_channels, the
# width of conv_in.weight), ComfyUI's detect_unet_config its in_channels from the same tensor.
# keys: InvokeAI invokeai/backend/model_manager (get_variant_type), ComfyUI comfy/model_detection.py
# variant -> (input channels, architectures it exists for, note)
_VARIANTS: dict[str, tuple[int, tuple[str, ...], str]] = {
    "inpainting": (9, ("sd15", "sd2", "sdxl"),
                   "9 input channels (latent + mask + masked image): an inpainting UNet"),
    "depth": (5, ("sd2",), "5 input channels (latent + depth map): SD2 depth-to-image"),
}


def _unets(naming: str) -> tuple[Rule, ...]:
    """The variants first (they are more specific), then the plain UNet of each architecture."""
    gate, first_conv, attn2, conf = _NAMINGS[naming]
    variants = tuple(
        rule(f"{arch} {variant} unet model ({naming})", arch, "diffusion_models", conf,
             all_of=(K(first_conv, dims={1: channels}, ndim=4),
                     R(attn2, dims={1: CONTEXT_DIMS[arch]})),
             none_of=_VIDEO, prefixes=DIFFUSION_PREFIXES, note=note)
        for variant, (channels, archs, note) in _VARIANTS.items()
        for arch in archs
    )
    return variants + tuple(
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

# Control-LoRAs (Stability AI): a ControlNet stored as low-rank differences from its base UNet —
# each weight of 2 or more dimensions as "<module>.up" / "<module>.down", the rest whole — plus a
# "lora_controlnet" marker that ComfyUI's load_controlnet checks before anything else. The down
# factor of a cross-attention key projection is (rank, context width).
# keys: ComfyUI comfy/controlnet.py (load_controlnet, ControlLora) and its ControlLoraSave node
_CONTROL_LORA_ATTN2 = _LDM_ATTN2.removesuffix(r"\.weight") + r"\.down"
_CONTROL_LORAS = tuple(
    rule(f"{arch} control-lora", arch, "controlnet", 0.9,
         all_of=(K("lora_controlnet"), R(_CONTROL_LORA_ATTN2, dims={1: ctx})))
    for arch, ctx in CONTEXT_DIMS.items()
    if arch != "sdxl-refiner"
)

# T2I-Adapters (TencentARC): a pixel-unshuffle, then a small convolution stack whose features are
# added to the UNet's. The first convolution's input width is image channels x unshuffle factor²:
# SD1.x unshuffles by 8 (64 = 1 x 8² for sketch/canny, 192 = 3 x 8²), SDXL by 16 (256, 768) —
# ComfyUI's load_t2i_adapter sets xl = cin in (256, 768). Its output is the UNet's first width, 320.
# The "light" adapter (SD1.x only: InvokeAI maps adapter_type light_adapter to sd-1) has no conv_in
# but an in/out convolution per stage, the first out_conv 320 wide.
# keys: ComfyUI comfy/controlnet.py (load_t2i_adapter) and comfy/t2i_adapter/adapter.py (original
# naming); diffusers src/diffusers/models/adapter.py (T2IAdapter.adapter: "adapter." + resnets)
_T2I_INPUT_WIDTHS = {"sd15": (64, 192), "sdxl": (256, 768)}
_T2I_NAMINGS = (  # naming, prefix, a residual-block key
    ("original", "", "body.0.block2.weight"),
    ("diffusers", "adapter.", "body.0.resnets.0.block1.weight"),
)
_T2I_ADAPTERS = (
    *(
        rule(f"{arch} t2i-adapter ({naming})", arch, "controlnet", 0.85, prefixes=(prefix,),
             all_of=(K("conv_in.weight", dims={0: 320, 1: widths}, ndim=4), K(block)))
        for arch, widths in _T2I_INPUT_WIDTHS.items()
        for naming, prefix, block in _T2I_NAMINGS
    ),
    rule("sd15 t2i-adapter (light)", "sd15", "controlnet", 0.8, prefixes=("", "adapter."),
         all_of=(K("body.0.in_conv.weight"), K("body.0.out_conv.weight", dims={0: 320}))),
)

# AnimateDiff motion modules (original format): temporal transformers for an SD UNet's blocks.
# SD1.5 modules have four down levels (320, 640, 1280, 1280 wide), SDXL ones three —
# AnimateDiff-Evolved rejects an SDXL module whose last down block is not 2. A SparseCtrl
# ControlNet carries the same modules; the ControlNet rules are tried first.
# keys: sd-webui-controlnet (its SparseCtrl probe), ComfyUI-AnimateDiff-Evolved motion_module_ad.py
_MOTION_NORM = "down_blocks.{}.motion_modules.0.temporal_transformer.norm.weight"
_MOTION_MODULES = (
    rule("sd15 animatediff motion module", "sd15", "other", 0.8,
         all_of=(K(_MOTION_NORM.format(0)), K(_MOTION_NORM.format(3)))),
    rule("sdxl animatediff motion module", "sdxl", "other", 0.7,
         all_of=(K(_MOTION_NORM.format(0)), K(_MOTION_NORM.format(2))),
         none_of=(P("down_blocks.3."),), note="three down levels: an SDXL motion module"),
)

# AnimateDiff's SparseCtrl: a diffusers-style ControlNet with motion modules in its down blocks. Its
# RGB variant's conditioning embedding is a single convolution (use_simplified_condition_embedding),
# so it lacks the conv_in the diffusers ControlNet rows key on — and would pass for a UNet.
# keys: guoyww/AnimateDiff animatediff/models/sparse_controlnet.py; sd-webui-controlnet
_SPARSECTRL = rule("sd15 sparsectrl controlnet", "sd15", "controlnet", 0.85,
                   all_of=(K(_MOTION_NORM.format(0)), P("controlnet_down_blocks."),
                           R(_DIFFUSERS_ATTN2, dims={1: CONTEXT_DIMS["sd15"]})))

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
    _SPARSECTRL, *_CONTROLNETS, *_CONTROL_LORAS, *_T2I_ADAPTERS,
    *_IP_ADAPTERS, *_EMBEDDINGS, *_LORAS, *_MOTION_MODULES,
    rule("controlnet (base unknown)", "unknown", "controlnet", 0.6,
         any_of=(K("control_model.input_hint_block.0.weight"), K("input_hint_block.0.weight"),
                 K("controlnet_cond_embedding.conv_in.weight"))),
    rule("ip-adapter (base unknown)", "unknown", "ipadapter", 0.6,
         all_of=(P("image_proj."), P("ip_adapter."))),
)
