"""FLUX.1 (dev / schnell), FLUX.2 and Chroma: transformers (BFL and diffusers naming), checkpoints,
ControlNets, IP-Adapters and LoRAs.

Decisive signals (as ComfyUI's detection and InvokeAI's probes use them):
- FLUX family: ``double_blocks.0.img_attn.norm.key_norm.scale`` (diffusers: ``norm_added_k`` in
  ``transformer_blocks`` plus ``single_transformer_blocks``); hidden width 3072 for FLUX.1.
- dev vs schnell: dev is guidance-distilled and has ``guidance_in`` (diffusers
  ``time_text_embed.guidance_embedder``); schnell has none. Only a *complete* top level
  (``img_in``, ``time_in``, ``vector_in``) lets the absence of ``guidance_in`` mean schnell.
- Chroma: ``distilled_guidance_layer`` replaces the modulation inputs (Chroma Radiance, the
  pixel-space variant, adds ``nerf_blocks``).
- FLUX.2: ``double_stream_modulation_img`` (shared modulation); its LoRAs show hidden 4096/6144,
  an MLP ratio of 6 (Klein 4B: 18432 = 6 x 3072) or a text input of 3 x the Qwen3 width.
A LoRA says nothing about dev vs schnell: it is ``flux`` (the family), as is a ControlNet.
"""

from __future__ import annotations

from modelshelf.identify.engine import K, P, R, Rule, rule
from modelshelf.identify.rules.common import DIFFUSION_PREFIXES, with_checkpoints

_KEY_NORM = (K("double_blocks.0.img_attn.norm.key_norm.scale"),
             K("double_blocks.0.img_attn.norm.key_norm.weight"))
_CHROMA = (K("distilled_guidance_layer.0.norms.0.scale"),
           K("distilled_guidance_layer.norms.0.scale"),
           K("distilled_guidance_layer.norms.0.weight"),
           K("distilled_guidance_layer.in_proj.weight"))
_FLUX2 = (K("double_stream_modulation_img.lin.weight"),
          K("double_stream_modulation_img.linear.weight"),
          K("single_transformer_blocks.0.attn.to_qkv_mlp_proj.weight"))
_DIFFUSERS_FLUX = (K("x_embedder.weight"), K("transformer_blocks.0.attn.norm_added_k.weight"),
                   P("single_transformer_blocks."))

_MODELS = (
    rule("flux2 model", "flux2", "diffusion_models", 0.95,
         any_of=_FLUX2, prefixes=DIFFUSION_PREFIXES),
    rule("chroma-radiance model", "chroma-radiance", "diffusion_models", 0.9,
         all_of=(P("nerf_blocks."),), any_of=_CHROMA, prefixes=DIFFUSION_PREFIXES),
    rule("chroma model", "chroma", "diffusion_models", 0.95,
         any_of=_CHROMA, prefixes=DIFFUSION_PREFIXES),
    # single_blocks too: an XLabs ControlNet is two FLUX double blocks with img_in/guidance_in
    rule("flux-dev model", "flux-dev", "diffusion_models", 0.95,
         all_of=(K("img_in.weight"), K("guidance_in.in_layer.weight"), P("single_blocks.")),
         any_of=_KEY_NORM, prefixes=DIFFUSION_PREFIXES),
    rule("flux-schnell model", "flux-schnell", "diffusion_models", 0.8,
         all_of=(K("img_in.weight"), K("time_in.in_layer.weight"),
                 K("vector_in.in_layer.weight"), P("single_blocks.")),
         any_of=_KEY_NORM, none_of=(K("guidance_in.in_layer.weight"),),
         prefixes=DIFFUSION_PREFIXES),
    rule("flux model (variant unknown)", "flux", "diffusion_models", 0.6,
         any_of=_KEY_NORM, prefixes=DIFFUSION_PREFIXES,
         note="incomplete top level: dev vs schnell cannot be told"),
)

# diffusers naming: never bundled into a single-file checkpoint, so no checkpoint twins
_DIFFUSERS_MODELS = (
    rule("flux-dev model (diffusers)", "flux-dev", "diffusion_models", 0.9,
         all_of=(*_DIFFUSERS_FLUX, K("time_text_embed.guidance_embedder.linear_1.weight")),
         prefixes=DIFFUSION_PREFIXES),
    rule("flux-schnell model (diffusers)", "flux-schnell", "diffusion_models", 0.8,
         all_of=(*_DIFFUSERS_FLUX, K("time_text_embed.text_embedder.linear_1.weight")),
         none_of=(K("time_text_embed.guidance_embedder.linear_1.weight"),),
         prefixes=DIFFUSION_PREFIXES),
)

_ADAPTERS = (
    rule("flux controlnet (xlabs)", "flux", "controlnet", 0.9,
         all_of=(K("controlnet_blocks.0.weight", dims={0: 3072}), P("double_blocks."))),
    rule("flux controlnet (diffusers / instantx)", "flux", "controlnet", 0.9,
         all_of=(K("controlnet_blocks.0.weight", dims={0: 3072}),
                 K("controlnet_x_embedder.weight"))),
    rule("flux ip-adapter (xlabs)", "flux", "ipadapter", 0.9,
         all_of=(R(r"double_blocks\.\d+\.processor\.ip_adapter_double_stream_k_proj\.weight",
                   dims={0: 3072}),
                 P("ip_adapter_proj_model."))),
)

# FLUX.1-only module names in BFL naming (HunyuanVideo shares double/single blocks but names its
# MLP fc1/fc2 and its modulation "linear").
_BFL_FLUX1 = (r"unet:(?:double_blocks_\d+_(?:img|txt)_(?:mlp_[02]|mod_lin)"
              r"|single_blocks_\d+_modulation_lin)")
_BFL_ATTN = r"unet:(?:double_blocks_\d+_(?:img|txt)_attn_(?:qkv|proj)|single_blocks_\d+_linear[12])"
_DIFFUSERS_SINGLE = (r"unet:single_transformer_blocks_\d+_"
                     r"(?:attn_to_[qkv]|proj_mlp|proj_out|norm_linear)")
_DIFFUSERS_DOUBLE_ONLY = (r"unet:transformer_blocks_\d+_"
                          r"(?:ff_context_net_0_proj|norm1_context_linear)")

_LORAS = (
    rule("flux2 lora", "flux2", "loras", 0.85, view="lora", any_of=(
        R(r"unet:double_blocks_\d+_img_attn_proj", dims={1: (4096, 6144)}),
        R(r"unet:double_blocks_\d+_img_mlp_0", dims={0: 18432}),
        R(r"unet:(?:txt_in|context_embedder)", dims={1: (7680, 12288, 15360)}),
        R(r"unet:(?:vector_in|time_text_embed_text_embedder_linear_1)", dims={1: (2560, 4096)}),
        R(r"unet:single_transformer_blocks_\d+_attn_to_qkv_mlp_proj"),
        R(r"unet:transformer_blocks_\d+_ff_linear_in"),
        R(r"unet:double_stream_modulation_img.*"),
    )),
    rule("chroma lora", "chroma", "loras", 0.8, view="lora",
         any_of=(R(r"unet:distilled_guidance_layer_.*"),)),
    rule("flux lora (bfl/kohya)", "flux", "loras", 0.9, view="lora",
         any_of=(R(_BFL_FLUX1, dims={1: (3072, 12288)}),)),
    rule("flux lora (xlabs)", "flux", "loras", 0.9, view="lora",
         any_of=(R(r"unet:double_blocks_\d+_processor_(?:qkv|proj)_lora[12]", dims={1: 3072}),)),
    rule("flux lora (diffusers)", "flux", "loras", 0.9, view="lora",
         any_of=(R(_DIFFUSERS_SINGLE, dims={1: (3072, 15360)}),
                 R(_DIFFUSERS_DOUBLE_ONLY, dims={1: 3072})),
         none_of=(R(r"unet:single_transformer_blocks_\d+_attn_to_out.*"),
                  R(r"unet:transformer_blocks_\d+_(?:img|txt)_(?:mlp|mod)_.*"))),
    rule("flux lora (attention only)", "flux", "loras", 0.7, view="lora",
         any_of=(R(_BFL_ATTN, dims={1: (3072, 15360)}),),
         none_of=(R(r"unet:double_blocks_\d+_(?:img|txt)_(?:mlp_fc[12]|mod_linear)"),
                  R(r"unet:double_blocks_19_.*"), R(r"unet:single_blocks_3[89]_.*"))),
    rule("flux lora (names only)", "flux", "loras", 0.6, view="lora", any_of=(R(_BFL_FLUX1),),
         note="layer widths not in the file: FLUX.1 assumed from module names"),
)

RULES: tuple[Rule, ...] = (
    *with_checkpoints(_MODELS), *_DIFFUSERS_MODELS, *_ADAPTERS, *_LORAS,
)
