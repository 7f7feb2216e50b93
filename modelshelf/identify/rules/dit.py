"""The other diffusion models: SD3/3.5, AuraFlow, Qwen-Image, Z-Image (and Lumina 2), Wan,
HunyuanVideo, LTX-Video, Anima, Krea 2 — models and LoRAs — plus, models only, Cosmos, HiDream,
Mochi, HunyuanDiT and Stable Cascade.

Each family has one or two keys nobody else has (ComfyUI's ``detect_unet_config`` branches on
the same ones): SD3 ``joint_blocks.*.context_block`` (the release — SD3 Medium, SD3.5 Medium
or Large — by width, dual attention and positions: ``_SD3_NAMINGS``), AuraFlow ``double_layers.*.attn.w1q``,
Qwen-Image ``txt_norm``, Z-Image/Lumina2 ``cap_embedder`` + ``noise_refiner`` (3840 wide for
Z-Image, 2304 for Lumina 2), Wan ``head.modulation``, HunyuanVideo
``txt_in.individual_token_refiner`` (with 3-D patch embedding), LTX-Video ``adaln_single`` with
``patchify_proj``, Anima ``blocks.*.mlp.layer1`` + ``llm_adapter``, Krea 2 ``txtfusion``.

LoRAs keep only adapted module names. Qwen-Image and FLUX.1 share the diffusers names and the
3072 width of their double-stream blocks; Qwen-Image has 60 of them and no single-stream blocks,
so an attention-only LoRA over ``transformer_blocks`` without ``single_transformer_blocks`` is
read as Qwen-Image, with a lower confidence (InvokeAI decides the same way).
"""

from __future__ import annotations

from dataclasses import replace

from modelshelf.identify.engine import K, Key, P, R, Rule, rule
from modelshelf.identify.rules.common import DIFFUSION_PREFIXES, with_checkpoints


def _model(name: str, arch: str, conf: float, **conditions: object) -> Rule:
    return rule(f"{name} model", arch, "diffusion_models", conf,
                prefixes=DIFFUSION_PREFIXES, **conditions)  # type: ignore[arg-type]


# SD3 releases by their MMDiT: ComfyUI's detect_unet_config reads depth = x_embedder width // 64
# (1536 = 24 blocks: SD3 / SD3.5 Medium; 2432 = 38 blocks: SD3.5 Large), dual attention from the
# blocks that have "x_block.attn2" (SD3.5 Medium's first 13) and an RMS q/k norm from "ln_q";
# diffusers' infer_diffusers_model_type tells SD3 Medium from SD3.5 Medium by pos_embed
# (36864 = 192² positions vs 147456 = 384²) and SD3.5 Large by "joint_blocks.37". SD3.5 Large
# Turbo is a distillation of Large with the same layout: it is "sd3.5-large" too. diffusers'
# SD3Transformer2DModel names the same parts pos_embed.proj / transformer_blocks.N.attn2 /
# attn.norm_q and keeps the positions as the buffer pos_embed.pos_embed.
# keys: ComfyUI comfy/model_detection.py; diffusers loaders/single_file_utils.py,
# models/transformers/transformer_sd3.py, models/embeddings.py (PatchEmbed)
_SD3_NAMINGS: dict[str, dict[str, Key]] = {  # naming -> part -> key
    "original": {
        "width": K("x_embedder.proj.weight"), "block37": K("joint_blocks.37.x_block.mlp.fc1.weight"),
        "dual": R(r"joint_blocks\.\d+\.x_block\.attn2\.qkv\.weight"),
        "qk_norm": K("joint_blocks.0.context_block.attn.ln_q.weight"), "positions": K("pos_embed"),
    },
    "diffusers": {
        "width": K("pos_embed.proj.weight"), "block37": P("transformer_blocks.37."),
        "dual": R(r"transformer_blocks\.\d+\.attn2\.to_q\.weight"),
        "qk_norm": K("transformer_blocks.0.attn.norm_q.weight"), "positions": K("pos_embed.pos_embed"),
    },
}


def _sized(key: Key, axis: int, size: int) -> Key:
    return replace(key, dims=((axis, frozenset([size])),))


def _sd3(naming: str, base: tuple[Key, ...], conf: float) -> tuple[Rule, ...]:
    """The SD3 releases in one naming, most specific first, then the family."""
    part = _SD3_NAMINGS[naming]
    suffix = "" if naming == "original" else f" ({naming})"
    medium = (*base, _sized(part["width"], 0, 1536))
    return (
        _model(f"sd3.5-large{suffix}", "sd3.5-large", conf,
               all_of=(*base, _sized(part["width"], 0, 2432), part["block37"])),
        _model(f"sd3.5-medium{suffix}", "sd3.5-medium", conf - 0.05, all_of=medium,
               any_of=(part["dual"], _sized(part["positions"], 1, 147456))),
        _model(f"sd3-medium{suffix}", "sd3-medium", conf - 0.05,
               all_of=(*medium, _sized(part["positions"], 1, 36864)),
               none_of=(part["dual"], part["qk_norm"])),
        _model(f"sd3{suffix}", "sd3", conf - 0.15, all_of=(*base, part["width"]),
               note="MMDiT width, depth or positions of no known release: the SD3 variant is not told"),
    )


_MODELS = (
    *_sd3("original", (K("joint_blocks.0.context_block.attn.qkv.weight"),), 0.95),
    _model("auraflow", "auraflow", 0.95, all_of=(K("double_layers.0.attn.w1q.weight"),)),
    _model("hunyuan-video", "hunyuan-video", 0.9, all_of=(
        K("txt_in.individual_token_refiner.blocks.0.norm1.weight"),
        K("img_in.proj.weight", ndim=5)), none_of=(K("vision_in.proj.0.weight"),)),
    _model("ltxv", "ltxv", 0.9, all_of=(
        K("adaln_single.emb.timestep_embedder.linear_1.bias"), K("patchify_proj.weight")),
        none_of=(K("pos_embed.proj.bias"), K("audio_adaln_single.linear.weight"))),
    _model("wan", "wan", 0.95, all_of=(K("head.modulation"), K("patch_embedding.weight"))),
    _model("qwen-image", "qwen-image", 0.9, all_of=(
        K("txt_norm.weight"), K("img_in.weight"), P("transformer_blocks."))),
    _model("z-image", "z-image", 0.95, all_of=(K("cap_embedder.1.weight", dims={0: 3840}),),
           any_of=(K("noise_refiner.0.attention.k_norm.weight"),
                   K("noise_refiner.0.attention.norm_k.weight"))),
    _model("lumina2", "lumina2", 0.9, all_of=(K("cap_embedder.1.weight", dims={0: 2304}),),
           any_of=(K("noise_refiner.0.attention.k_norm.weight"),
                   K("noise_refiner.0.attention.norm_k.weight"))),
    _model("anima", "anima", 0.95, all_of=(
        K("blocks.0.mlp.layer1.weight"), K("llm_adapter.blocks.0.cross_attn.q_proj.weight"))),
    _model("krea2", "krea2", 0.9, all_of=(K("txtfusion.projector.weight"), K("first.weight"))),
    _model("cosmos", "cosmos", 0.85, all_of=(
        K("blocks.0.mlp.layer1.weight"), K("blocks.0.adaln_modulation_cross_attn.1.weight")),
        none_of=(P("llm_adapter."),)),
    _model("hidream", "hidream", 0.9, all_of=(
        K("caption_projection.0.linear.weight"), P("double_stream_blocks."))),
    _model("mochi", "mochi", 0.9, all_of=(K("t5_yproj.weight"),)),
    _model("hunyuan-dit", "hunyuan-dit", 0.85, all_of=(K("mlp_t5.0.weight"),)),
    _model("stable-cascade", "stable-cascade", 0.85, all_of=(K("clf.1.weight"),)),
)

# diffusers naming: never bundled into single-file checkpoints, so no checkpoint twins
_DIFFUSERS_MODELS = (
    *_sd3("diffusers", (
        K("transformer_blocks.0.attn.add_q_proj.weight"),
        K("time_text_embed.text_embedder.linear_1.weight", dims={1: 2048}),
        K("context_embedder.weight")), 0.9),
    _model("auraflow (diffusers)", "auraflow", 0.9, all_of=(
        K("joint_transformer_blocks.0.attn.add_q_proj.weight"), K("register_tokens"))),
    _model("hunyuan-video (diffusers)", "hunyuan-video", 0.85, all_of=(
        K("context_embedder.token_refiner.refiner_blocks.0.norm1.weight"),
        K("x_embedder.proj.weight", ndim=5))),
    _model("ltxv (diffusers)", "ltxv", 0.8, all_of=(
        K("time_embed.emb.timestep_embedder.linear_1.weight"), K("proj_in.weight", dims={1: 128}),
        K("caption_projection.linear_1.weight"), K("transformer_blocks.0.attn1.norm_k.weight"))),
    _model("wan (diffusers)", "wan", 0.85, all_of=(
        K("condition_embedder.time_embedder.linear_1.weight"), K("patch_embedding.weight"),
        K("scale_shift_table"))),
)

_QWEN_ATTN = r"unet:transformer_blocks_\d+_attn_(?:to_[qkv]|to_out_0|add_[qkv]_proj|to_add_out)"


def _lora(name: str, arch: str, conf: float, **conditions: object) -> Rule:
    return rule(f"{name} lora", arch, "loras", conf, view="lora",
                **conditions)  # type: ignore[arg-type]


_LORAS = (
    _lora("sd3", "sd3", 0.85, any_of=(R(r"unet:joint_blocks_\d+_.*"),)),
    _lora("sd3 (diffusers)", "sd3", 0.8, any_of=(
        R(r"unet:transformer_blocks_\d+_(?:attn_(?:to_[qkv]|add_[qkv]_proj)|ff_context_net_0_proj)",
          dims={1: (1536, 2432)}),)),
    _lora("auraflow", "auraflow", 0.75, any_of=(
        R(r"unet:(?:joint_transformer_blocks|double_layers|single_layers)_\d+_.*"),)),
    _lora("hunyuan-video", "hunyuan-video", 0.8, any_of=(
        R(r"unet:double_blocks_\d+_(?:img|txt)_(?:mlp_fc[12]|mod_linear)"),
        R(r"unet:single_blocks_\d+_modulation_linear"),
        R(r"unet:(?:double_blocks_19|single_blocks_3[89])_.*"))),
    _lora("qwen-image", "qwen-image", 0.9, any_of=(
        R(r"unet:transformer_blocks_\d+_(?:img|txt)_(?:mlp|mod)_.*"),
        R(r"unet:transformer_blocks_(?:19|[2-5]\d)_attn_.*", dims={1: 3072}))),
    _lora("qwen-image (attention only)", "qwen-image", 0.6, any_of=(
        R(_QWEN_ATTN, dims={1: 3072}),),
        none_of=(R(r"unet:single_transformer_blocks_.*"), R(r"unet:(?:double|single)_blocks_.*"))),
    _lora("z-image", "z-image", 0.85, any_of=(
        R(r"unet:layers_\d+_(?:attention_(?:to_[qkv]|qkv)|feed_forward_w[13])", dims={1: 3840}),)),
    _lora("wan", "wan", 0.8, any_of=(
        R(r"unet:blocks_\d+_(?:self_attn|cross_attn)_[qkvo]"), R(r"unet:blocks_\d+_ffn_[02]"))),
    _lora("krea2", "krea2", 0.8, all_of=(R(r"unet:blocks_\d+_attn_w[qkvo]"),),
          any_of=(R(r"unet:txtfusion_.*"), R(r"unet:(?:first|last_linear|tmlp_\d+|tproj_\d+)"))),
    _lora("anima", "anima", 0.75, any_of=(
        R(r"unet:blocks_\d+_(?:self_attn|cross_attn)_(?:q|k|v|output)_proj"),
        R(r"unet:blocks_\d+_mlp_layer[12]"),
        R(r"unet:blocks_\d+_adaln_modulation_(?:self_attn|cross_attn|mlp)_\d")),
        note="Anima LoRAs share Cosmos-Predict2 module names"),
)

RULES: tuple[Rule, ...] = (*with_checkpoints(_MODELS), *_DIFFUSERS_MODELS, *_LORAS)
