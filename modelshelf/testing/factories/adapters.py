"""Key sets of models that adapt a base model: ControlNets, IP-Adapters, textual-inversion
embeddings and LoRAs (kohya, PEFT, LyCORIS LoHa/LoKr, DoRA).
"""

from __future__ import annotations

from typing import Literal

from modelshelf.testing.factories.diffusion import (
    _ATTN2_KEEP,
    _CTX,
    _FLUX_KEEP,
    _UNET_LAYOUT,
    _flux_bfl,
    _ldm_unet,
    sd_unet_diffusers,
)
from modelshelf.testing.factories.keys import Shape, _finish, _prefixed


def sd_controlnet(base: str = "sd15", *, diffusers: bool = False,
                  tiny: bool = False) -> dict[str, Shape]:
    """An SD ControlNet: LDM naming (``control_model.*``) or diffusers naming."""
    if diffusers:
        t = {k: v for k, v in sd_unet_diffusers(base).items() if "attn2" in k or "conv_in" in k}
        t |= {"controlnet_cond_embedding.conv_in.weight": (16, 3, 3, 3),
              "controlnet_down_blocks.0.weight": (320, 320, 1, 1),
              "controlnet_mid_block.weight": (1280, 1280, 1, 1)}
    else:
        unet = _ldm_unet(base)
        t = _prefixed("control_model.", {k: v for k, v in unet.items() if "out." not in k})
        t |= {"control_model.input_hint_block.0.weight": (16, 3, 3, 3),
              "control_model.zero_convs.0.0.weight": (320, 320, 1, 1),
              "control_model.middle_block_out.0.weight": (1280, 1280, 1, 1)}
    return _finish(t, _ATTN2_KEEP, tiny)


def flux_controlnet_xlabs(*, tiny: bool = False) -> dict[str, Shape]:
    """An XLabs FLUX ControlNet: two FLUX double blocks plus ``controlnet_blocks``."""
    t = {k: v for k, v in _flux_bfl(guidance=True).items() if not k.startswith("single_")}
    t |= {"controlnet_blocks.0.weight": (3072, 3072), "controlnet_blocks.1.weight": (3072, 3072),
          "input_hint_block.0.weight": (16, 3, 3, 3), "pos_embed_input.weight": (3072, 64)}
    return _finish(t, _FLUX_KEEP, tiny)


def sd_ip_adapter(base: str = "sd15", *, tiny: bool = False) -> dict[str, Shape]:
    """An IP-Adapter for SD1.5/SDXL (``image_proj`` + ``ip_adapter.N.to_k_ip``)."""
    ctx, ch = _CTX[base], _UNET_LAYOUT[base][2]
    t = {"image_proj.proj.weight": (4 * ctx, 1024), "image_proj.norm.weight": (ctx,),
         "ip_adapter.1.to_k_ip.weight": (ch, ctx), "ip_adapter.1.to_v_ip.weight": (ch, ctx)}
    return _finish(t, {r"ip_adapter\..*": (1,)}, tiny)


def textual_inversion(base: str = "sd15", vectors: int = 2) -> dict[str, Shape]:
    """A textual-inversion embedding (already tiny): SD1/SD2 ``emb_params``, SDXL clip_l+clip_g."""
    if base == "sdxl":
        return {"clip_l": (vectors, 768), "clip_g": (vectors, 1280)}
    return {"emb_params": (vectors, _CTX[base])}


# --- LoRAs ---------------------------------------------------------------------------------------
# module -> (out, in) of the adapted layer, per base; a LoRA of rank r is built over them.

_LORA_MODULES: dict[str, dict[str, tuple[int, int]]] = {
    "sd15": {"down_blocks.0.attentions.0.transformer_blocks.0.attn2.to_k": (320, 768),
             "down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_q": (320, 320)},
    "sd2": {"down_blocks.0.attentions.0.transformer_blocks.0.attn2.to_k": (320, 1024),
            "down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_q": (320, 320)},
    "sdxl": {"input_blocks.4.1.transformer_blocks.0.attn2.to_k": (640, 2048),
             "input_blocks.4.1.transformer_blocks.0.attn1.to_q": (640, 640)},
    "sdxl-refiner": {"input_blocks.4.1.transformer_blocks.0.attn2.to_k": (768, 1280)},
    "flux": {"double_blocks.0.img_attn.proj": (3072, 3072),
             "double_blocks.0.img_mlp.0": (12288, 3072),
             "single_blocks.0.linear1": (21504, 3072)},
    "flux-attention": {"double_blocks.0.img_attn.qkv": (9216, 3072),
                       "single_blocks.0.linear2": (3072, 15360)},
    "flux2": {"double_blocks.0.img_attn.proj": (4096, 4096),
              "double_blocks.0.img_mlp.0": (24576, 4096)},
    "chroma": {"distilled_guidance_layer.layers.0.in_layer": (5120, 5120),
               "double_blocks.0.img_attn.proj": (3072, 3072)},
    "sd3": {"joint_blocks.0.x_block.attn.qkv": (4608, 1536),
            "joint_blocks.0.context_block.attn.qkv": (4608, 1536)},
    "auraflow": {"double_layers.0.attn.w1q": (3072, 3072)},
    "hunyuan-video": {"double_blocks.0.img_attn_qkv": (9216, 3072),
                      "double_blocks.0.img_mlp.fc1": (12288, 3072)},
    "wan": {"blocks.0.self_attn.q": (1536, 1536), "blocks.0.ffn.0": (8960, 1536)},
    "z-image": {"layers.0.attention.qkv": (11520, 3840),
                "layers.0.feed_forward.w1": (10240, 3840)},
    "qwen-image": {"transformer_blocks.0.img_mlp.net.0.proj": (12288, 3072),
                   "transformer_blocks.0.attn.to_q": (3072, 3072)},
}
_LORA_TE: dict[str, dict[str, tuple[int, int]]] = {
    "sd15": {"lora_te_text_model_encoder_layers_0_self_attn_q_proj": (768, 768)},
    "sd2": {"lora_te_text_model_encoder_layers_0_self_attn_q_proj": (1024, 1024)},
    "sdxl": {"lora_te1_text_model_encoder_layers_0_self_attn_q_proj": (768, 768),
             "lora_te2_text_model_encoder_layers_0_self_attn_q_proj": (1280, 1280)},
    "flux": {"lora_te1_text_model_encoder_layers_0_self_attn_q_proj": (768, 768)},
}
_PEFT_MODULES: dict[str, dict[str, tuple[int, int]]] = {
    "sd15": {"unet." + k: v for k, v in _LORA_MODULES["sd15"].items()},
    "sdxl": {"unet.down_blocks.1.attentions.0.transformer_blocks.0.attn2.to_k": (640, 2048)},
    "flux": {"transformer.single_transformer_blocks.0.attn.to_k": (3072, 3072),
             "transformer.transformer_blocks.0.attn.to_add_out": (3072, 3072),
             "transformer.transformer_blocks.0.ff_context.net.0.proj": (12288, 3072)},
    "sd3": {"transformer.transformer_blocks.0.attn.to_q": (1536, 1536),
            "transformer.transformer_blocks.0.attn.add_q_proj": (1536, 1536)},
}


def _lora_parts(module: str, out: int, inp: int, rank: int, kind: str) -> dict[str, Shape]:
    if kind == "loha":
        return {f"{module}.hada_w1_a": (out, rank), f"{module}.hada_w1_b": (rank, inp),
                f"{module}.hada_w2_a": (out, rank), f"{module}.hada_w2_b": (rank, inp),
                f"{module}.alpha": ()}
    if kind == "lokr":  # kron(w1 (a, b), w2 (c, d)) is (a*c, b*d)
        return {f"{module}.lokr_w1": (4, 8), f"{module}.lokr_w2": (out // 4, inp // 8),
                f"{module}.alpha": ()}
    if kind == "peft":
        return {f"{module}.lora_A.weight": (rank, inp), f"{module}.lora_B.weight": (out, rank)}
    parts = {f"{module}.lora_down.weight": (rank, inp), f"{module}.lora_up.weight": (out, rank),
             f"{module}.alpha": ()}
    if kind == "dora":
        parts[f"{module}.dora_scale"] = (1, inp)
    return parts


def kohya_lora(base: str = "sdxl", *, rank: int = 8, text_encoder: bool = True,
               unet: bool = True,
               kind: Literal["lora", "loha", "lokr", "dora"] = "lora") -> dict[str, Shape]:
    """A kohya sd-scripts LoRA (``lora_unet_*``/``lora_te*_``) — or LyCORIS LoHa/LoKr/DoRA
    factors over the same modules. Already small (rank x width), so no ``tiny``.
    ``base``: sd15, sd2, sdxl, sdxl-refiner, flux, flux-attention, flux2, chroma, sd3, auraflow,
    hunyuan-video, wan, z-image, qwen-image."""
    t: dict[str, Shape] = {}
    for module, (out, inp) in (_LORA_MODULES[base] if unet else {}).items():
        t |= _lora_parts("lora_unet_" + module.replace(".", "_"), out, inp, rank, kind)
    if text_encoder:
        for module, (out, inp) in _LORA_TE.get(base, {}).items():
            t |= _lora_parts(module, out, inp, rank, kind)
    return t


def peft_lora(base: str = "flux", *, rank: int = 8) -> dict[str, Shape]:
    """A diffusers/PEFT LoRA (``<module>.lora_A.weight`` / ``lora_B.weight``)."""
    t: dict[str, Shape] = {}
    for module, (out, inp) in _PEFT_MODULES[base].items():
        t |= _lora_parts(module, out, inp, rank, "peft")
    return t


def lycoris_lora(base: str = "sd15", *, kind: Literal["loha", "lokr"] = "loha",
                 rank: int = 8) -> dict[str, Shape]:
    """A LyCORIS LoHa or LoKr over the base's UNet modules (kohya prefixes)."""
    return kohya_lora(base, rank=rank, text_encoder=False, kind=kind)
