"""Key sets of diffusion models and their parts: SD UNets and checkpoints, the DiT families
(FLUX, SD3, Wan, ...), VAEs, text encoders, CLIP vision, upscalers.

Shapes follow the released models. The private layouts (``_ldm_unet``, ``_flux_bfl``, the
``*_KEEP`` tables) are shared with ``adapters``, whose ControlNets and LoRAs sit on the same layers.
"""

from __future__ import annotations

from modelshelf.testing.factories.keys import Shape, _finish, _prefixed

_CTX = {"sd15": 768, "sd2": 1024, "sdxl": 2048, "sdxl-refiner": 1280}
# arch -> (model channels, first input block with attention, its channels, label_emb shape)
_UNET_LAYOUT: dict[str, tuple[int, int, int, Shape | None]] = {
    "sd15": (320, 1, 320, None),
    "sd2": (320, 1, 320, None),
    "sdxl": (320, 4, 640, (1280, 2816)),
    "sdxl-refiner": (384, 4, 768, (1536, 2560)),
}
_ATTN2_KEEP = {r".*attn2\.to_[kv]\.weight": (1,), r".*input_blocks\.0\.0\.weight": (1,)}


def _ldm_unet(arch: str) -> dict[str, Shape]:
    ch, block, attn_ch, label = _UNET_LAYOUT[arch]
    ctx = _CTX[arch]
    linear = arch != "sd15"  # SD2+ use linear proj_in, SD1.x a 1x1 conv
    t = {
        "input_blocks.0.0.weight": (ch, 4, 3, 3),
        "input_blocks.0.0.bias": (ch,),
        "time_embed.0.weight": (4 * ch, ch),
        "time_embed.2.weight": (4 * ch, 4 * ch),
        f"input_blocks.{block}.0.in_layers.0.weight": (attn_ch,),
        f"input_blocks.{block}.0.out_layers.3.weight": (attn_ch, attn_ch, 3, 3),
        f"input_blocks.{block}.1.proj_in.weight": (attn_ch, attn_ch) if linear
        else (attn_ch, attn_ch, 1, 1),
        f"input_blocks.{block}.1.transformer_blocks.0.attn1.to_q.weight": (attn_ch, attn_ch),
        f"input_blocks.{block}.1.transformer_blocks.0.attn2.to_k.weight": (attn_ch, ctx),
        f"input_blocks.{block}.1.transformer_blocks.0.attn2.to_v.weight": (attn_ch, ctx),
        "middle_block.0.in_layers.0.weight": (4 * ch,),
        "out.0.weight": (ch,),
        "out.2.weight": (4, ch, 3, 3),
    }
    if label:
        t["label_emb.0.0.weight"] = label
    return t


def _sd_vae_keys(latent: int = 4, quant_conv: bool = True) -> dict[str, Shape]:
    t: dict[str, Shape] = {
        "encoder.conv_in.weight": (128, 3, 3, 3),
        "encoder.down.0.block.0.conv1.weight": (128, 128, 3, 3),
        "encoder.mid.attn_1.q.weight": (512, 512, 1, 1),
        "encoder.conv_out.weight": (2 * latent, 512, 3, 3),
        "decoder.conv_in.weight": (512, latent, 3, 3),
        "decoder.up.3.block.0.conv1.weight": (512, 512, 3, 3),
        "decoder.conv_out.weight": (3, 128, 3, 3),
    }
    if quant_conv:
        t["quant_conv.weight"] = (2 * latent, 2 * latent, 1, 1)
        t["post_quant_conv.weight"] = (latent, latent, 1, 1)
    return t


_VAE_KEEP = {r".*decoder\.conv_in\.weight": (1,), r".*encoder\.conv_out\.weight": (0,)}


def _hf_clip_text(width: int, prefix: str = "") -> dict[str, Shape]:
    return _prefixed(prefix, {
        "text_model.embeddings.token_embedding.weight": (49408, width),
        "text_model.embeddings.position_embedding.weight": (77, width),
        "text_model.encoder.layers.0.self_attn.q_proj.weight": (width, width),
        "text_model.encoder.layers.0.mlp.fc1.weight": (4 * width, width),
        "text_model.final_layer_norm.weight": (width,),
    })


def _open_clip_text(width: int, prefix: str) -> dict[str, Shape]:
    return _prefixed(prefix, {
        "token_embedding.weight": (49408, width),
        "positional_embedding": (77, width),
        "transformer.resblocks.0.attn.in_proj_weight": (3 * width, width),
        "ln_final.weight": (width,),
    })


_TEXT_KEEP = {r".*token_embedding\.weight": (1,), r".*in_proj_weight": (1,)}


def sd_unet(arch: str = "sd15", *, tiny: bool = False) -> dict[str, Shape]:
    """A bare SD UNet in LDM naming (what ComfyUI's diffusion_models folder holds)."""
    return _finish(_ldm_unet(arch), _ATTN2_KEEP, tiny)


def sd15_unet(*, tiny: bool = False) -> dict[str, Shape]:
    return sd_unet("sd15", tiny=tiny)


def sdxl_unet(*, tiny: bool = False) -> dict[str, Shape]:
    return sd_unet("sdxl", tiny=tiny)


def sd_unet_diffusers(arch: str = "sd15", *, tiny: bool = False) -> dict[str, Shape]:
    """A UNet in diffusers naming (``unet/diffusion_pytorch_model.safetensors``)."""
    ch, _block, attn_ch, label = _UNET_LAYOUT[arch]
    level = 0 if attn_ch == ch else 1
    t = {
        "conv_in.weight": (ch, 4, 3, 3),
        "time_embedding.linear_1.weight": (4 * ch, ch),
        f"down_blocks.{level}.attentions.0.transformer_blocks.0.attn2.to_k.weight":
            (attn_ch, _CTX[arch]),
        f"down_blocks.{level}.attentions.0.proj_in.weight": (attn_ch, attn_ch),
        "mid_block.resnets.0.conv1.weight": (4 * ch, 4 * ch, 3, 3),
        "conv_out.weight": (4, ch, 3, 3),
    }
    if label:
        t["add_embedding.linear_1.weight"] = label
    return _finish(t, _ATTN2_KEEP, tiny)


def sd_checkpoint(arch: str = "sd15", *, tiny: bool = False) -> dict[str, Shape]:
    """A full A1111/ComfyUI checkpoint: UNet + VAE + text encoder(s) in one file."""
    t = _prefixed("model.diffusion_model.", _ldm_unet(arch))
    t |= _prefixed("first_stage_model.", _sd_vae_keys())
    if arch == "sd15":
        t |= _hf_clip_text(768, "cond_stage_model.transformer.")
    elif arch == "sd2":
        t |= _open_clip_text(1024, "cond_stage_model.model.")
    elif arch == "sdxl":
        t |= _hf_clip_text(768, "conditioner.embedders.0.transformer.")
        t |= _open_clip_text(1280, "conditioner.embedders.1.model.")
    else:
        t |= _open_clip_text(1280, "conditioner.embedders.0.model.")
    return _finish(t, _ATTN2_KEEP | _VAE_KEEP | _TEXT_KEEP, tiny)


def sd15_checkpoint(*, tiny: bool = False) -> dict[str, Shape]:
    return sd_checkpoint("sd15", tiny=tiny)


def sd2_checkpoint(*, tiny: bool = False) -> dict[str, Shape]:
    return sd_checkpoint("sd2", tiny=tiny)


def sdxl_checkpoint(*, tiny: bool = False) -> dict[str, Shape]:
    return sd_checkpoint("sdxl", tiny=tiny)


def sdxl_refiner_checkpoint(*, tiny: bool = False) -> dict[str, Shape]:
    return sd_checkpoint("sdxl-refiner", tiny=tiny)


def sd_vae(*, tiny: bool = False) -> dict[str, Shape]:
    """An SD1.x/SD2/SDXL VAE (4 latent channels: the three cannot be told apart by shape)."""
    return _finish(_sd_vae_keys(4), _VAE_KEEP, tiny)


def flux_vae(*, tiny: bool = False) -> dict[str, Shape]:
    """FLUX.1 ``ae.safetensors``: 16 latent channels, no quant_conv (SD3's VAE looks the same)."""
    return _finish(_sd_vae_keys(16, quant_conv=False), _VAE_KEEP, tiny)


def _flux_bfl(h: int = 3072, *, guidance: bool, chroma: bool = False) -> dict[str, Shape]:
    t: dict[str, Shape] = {"img_in.weight": (h, 64), "txt_in.weight": (h, 4096),
                           "final_layer.linear.weight": (64, h)}
    for b in (0, 1):
        for stream in ("img", "txt"):
            p = f"double_blocks.{b}.{stream}_"
            t |= {
                p + "attn.norm.key_norm.scale": (128,), p + "attn.norm.query_norm.scale": (128,),
                p + "attn.qkv.weight": (3 * h, h), p + "attn.proj.weight": (h, h),
                p + "mlp.0.weight": (4 * h, h), p + "mlp.2.weight": (h, 4 * h),
            }
            if not chroma:
                t[p + "mod.lin.weight"] = (6 * h, h)
        t |= {f"single_blocks.{b}.linear1.weight": (7 * h, h),
              f"single_blocks.{b}.linear2.weight": (h, 5 * h),
              f"single_blocks.{b}.norm.key_norm.scale": (128,)}
        if not chroma:
            t[f"single_blocks.{b}.modulation.lin.weight"] = (3 * h, h)
    if chroma:
        t |= {"distilled_guidance_layer.in_proj.weight": (5120, 64),
              "distilled_guidance_layer.layers.0.in_layer.weight": (5120, 5120),
              "distilled_guidance_layer.norms.0.scale": (5120,),
              "distilled_guidance_layer.out_proj.weight": (h, 5120)}
        return t
    t |= {"time_in.in_layer.weight": (h, 256), "time_in.out_layer.weight": (h, h),
          "vector_in.in_layer.weight": (h, 768), "vector_in.out_layer.weight": (h, h),
          "final_layer.adaLN_modulation.1.weight": (2 * h, h)}
    if guidance:
        t |= {"guidance_in.in_layer.weight": (h, 256),
              "guidance_in.out_layer.weight": (h, h)}
    return t


_FLUX_KEEP = {r".*img_in\.weight": (1,), r".*controlnet_blocks\.0\.weight": (0,)}


def flux_dev_transformer(*, tiny: bool = False) -> dict[str, Shape]:
    """FLUX.1-dev in BFL naming (``flux1-dev.safetensors``): has ``guidance_in``."""
    return _finish(_flux_bfl(guidance=True), _FLUX_KEEP, tiny)


def flux_schnell_transformer(*, tiny: bool = False) -> dict[str, Shape]:
    """FLUX.1-schnell in BFL naming: the same minus ``guidance_in``."""
    return _finish(_flux_bfl(guidance=False), _FLUX_KEEP, tiny)


def chroma_transformer(*, tiny: bool = False) -> dict[str, Shape]:
    """Chroma: FLUX blocks without modulation, plus ``distilled_guidance_layer``."""
    return _finish(_flux_bfl(guidance=False, chroma=True), _FLUX_KEEP, tiny)


def flux_checkpoint(*, tiny: bool = False) -> dict[str, Shape]:
    """A ComfyUI all-in-one FLUX.1-dev checkpoint (model + CLIP-L + T5 + VAE)."""
    t = _prefixed("model.diffusion_model.", _flux_bfl(guidance=True))
    t |= _hf_clip_text(768, "text_encoders.clip_l.transformer.")
    t |= _prefixed("text_encoders.t5xxl.transformer.", _t5_keys(32128))
    t |= _prefixed("vae.", _sd_vae_keys(16, quant_conv=False))
    return _finish(t, _FLUX_KEEP | _VAE_KEEP | _TEXT_KEEP, tiny)


def flux_dev_diffusers_transformer(*, tiny: bool = False) -> dict[str, Shape]:
    """FLUX.1-dev in diffusers naming (``transformer/diffusion_pytorch_model.safetensors``)."""
    h = 3072
    t = {
        "x_embedder.weight": (h, 64), "context_embedder.weight": (h, 4096),
        "time_text_embed.timestep_embedder.linear_1.weight": (h, 256),
        "time_text_embed.text_embedder.linear_1.weight": (h, 768),
        "time_text_embed.guidance_embedder.linear_1.weight": (h, 256),
        "transformer_blocks.0.attn.norm_added_k.weight": (128,),
        "transformer_blocks.0.attn.to_q.weight": (h, h),
        "transformer_blocks.0.attn.add_q_proj.weight": (h, h),
        "transformer_blocks.0.ff.net.0.proj.weight": (4 * h, h),
        "single_transformer_blocks.0.attn.to_q.weight": (h, h),
        "single_transformer_blocks.0.proj_mlp.weight": (4 * h, h),
        "single_transformer_blocks.0.proj_out.weight": (h, 5 * h),
        "proj_out.weight": (64, h),
    }
    return _finish(t, {r".*text_embedder\.linear_1\.weight": (1,)}, tiny)


def flux2_transformer(*, tiny: bool = False) -> dict[str, Shape]:
    """FLUX.2 (Klein 9B shapes) in BFL naming: shared ``double_stream_modulation_*``."""
    h = 4096
    t = {
        "double_stream_modulation_img.lin.weight": (6 * h, h),
        "double_stream_modulation_txt.lin.weight": (6 * h, h),
        "single_stream_modulation.lin.weight": (3 * h, h),
        "double_blocks.0.img_attn.norm.key_norm.scale": (128,),
        "double_blocks.0.img_attn.qkv.weight": (3 * h, h),
        "single_blocks.0.linear1.weight": (9 * h, h),
        "img_in.weight": (h, 128), "txt_in.weight": (h, 12288),
        "time_in.in_layer.weight": (h, 256), "final_layer.linear.weight": (128, h),
    }
    return _finish(t, {}, tiny)


def sd3_transformer(*, tiny: bool = False) -> dict[str, Shape]:
    """SD3 Medium (MMDiT) in the original naming: ``joint_blocks.*.context_block``."""
    h = 1536
    t = {
        "x_embedder.proj.weight": (h, 16, 2, 2), "pos_embed": (1, 36864, h),
        "context_embedder.weight": (h, 4096), "y_embedder.mlp.0.weight": (h, 2048),
        "t_embedder.mlp.0.weight": (h, 256),
        "joint_blocks.0.context_block.attn.qkv.weight": (3 * h, h),
        "joint_blocks.0.x_block.attn.qkv.weight": (3 * h, h),
        "joint_blocks.0.x_block.mlp.fc1.weight": (4 * h, h),
        "final_layer.linear.weight": (64, h),
    }
    # width (depth = width // 64) and positions (192²) are what tell SD3 Medium from SD3.5
    return _finish(t, {r"x_embedder\.proj\.weight": (0,), r"pos_embed": (1,)}, tiny)


def auraflow_transformer(*, tiny: bool = False) -> dict[str, Shape]:
    """AuraFlow in the original naming: ``double_layers.*.attn.w1q``."""
    h = 3072
    t = {
        "double_layers.0.attn.w1q.weight": (h, h), "double_layers.0.attn.w2q.weight": (h, h),
        "single_layers.0.attn.w1q.weight": (h, h), "positional_encoding": (1, 9216, h),
        "cond_seq_linear.weight": (h, 2048), "register_tokens": (1, 8, h),
        "init_x_linear.weight": (h, 64), "final_linear.weight": (64, h),
    }
    return _finish(t, {}, tiny)


def qwen_image_transformer(*, tiny: bool = False) -> dict[str, Shape]:
    """Qwen-Image (diffusers naming, as ComfyUI ships it): ``txt_norm`` + ``img_mod``."""
    h = 3072
    t = {
        "img_in.weight": (h, 64), "txt_norm.weight": (3584,), "txt_in.weight": (h, 3584),
        "transformer_blocks.0.img_mod.1.weight": (6 * h, h),
        "transformer_blocks.0.txt_mod.1.weight": (6 * h, h),
        "transformer_blocks.0.attn.to_q.weight": (h, h),
        "transformer_blocks.0.attn.add_q_proj.weight": (h, h),
        "transformer_blocks.0.img_mlp.net.0.proj.weight": (4 * h, h),
        "proj_out.weight": (64, h),
    }
    return _finish(t, {}, tiny)


def z_image_transformer(*, tiny: bool = False) -> dict[str, Shape]:
    """Z-Image (Lumina-2 family, 3840 wide): ``cap_embedder`` + ``noise_refiner``."""
    h = 3840
    t = {
        "cap_embedder.0.weight": (2560,), "cap_embedder.1.weight": (h, 2560),
        "noise_refiner.0.attention.k_norm.weight": (128,),
        "noise_refiner.0.attention.qkv.weight": (3 * h, h),
        "context_refiner.0.attention.qkv.weight": (3 * h, h),
        "layers.0.attention.qkv.weight": (3 * h, h),
        "layers.0.feed_forward.w1.weight": (10240, h),
        "x_embedder.weight": (h, 64), "t_embedder.mlp.0.weight": (1024, 256),
    }
    return _finish(t, {r"cap_embedder\.1\.weight": (0,)}, tiny)


def wan_transformer(*, tiny: bool = False) -> dict[str, Shape]:
    """Wan 2.1 T2V 1.3B in the original naming: ``head.modulation`` + 3-D ``patch_embedding``."""
    h = 1536
    t = {
        "head.modulation": (1, 2, h), "head.head.weight": (64, h),
        "patch_embedding.weight": (h, 16, 1, 2, 2),
        "text_embedding.0.weight": (h, 4096), "time_embedding.0.weight": (h, 256),
        "blocks.0.self_attn.q.weight": (h, h), "blocks.0.cross_attn.k.weight": (h, h),
        "blocks.0.ffn.0.weight": (8960, h),
    }
    return _finish(t, {}, tiny)


def hunyuan_video_transformer(*, tiny: bool = False) -> dict[str, Shape]:
    """HunyuanVideo in the original naming: ``txt_in.individual_token_refiner``, 3-D patches."""
    h = 3072
    t = {
        "img_in.proj.weight": (h, 16, 1, 2, 2),
        "txt_in.individual_token_refiner.blocks.0.norm1.weight": (h,),
        "txt_in.input_embedder.weight": (h, 4096),
        "double_blocks.0.img_attn_qkv.weight": (3 * h, h),
        "double_blocks.0.img_attn_q_norm.weight": (128,),
        "double_blocks.0.img_mlp.fc1.weight": (4 * h, h),
        "double_blocks.0.img_mod.linear.weight": (6 * h, h),
        "single_blocks.0.linear1.weight": (7 * h, h),
        "time_in.mlp.0.weight": (h, 256), "vector_in.in_layer.weight": (h, 768),
    }
    return _finish(t, {}, tiny)


def ltxv_transformer(*, tiny: bool = False) -> dict[str, Shape]:
    """LTX-Video in the original naming: ``adaln_single`` + ``patchify_proj``."""
    h = 2048
    t = {
        "adaln_single.emb.timestep_embedder.linear_1.bias": (h,),
        "adaln_single.emb.timestep_embedder.linear_1.weight": (h, 256),
        "adaln_single.linear.weight": (6 * h, h),
        "patchify_proj.weight": (h, 128), "caption_projection.linear_1.weight": (h, 4096),
        "scale_shift_table": (2, h),
        "transformer_blocks.0.attn1.to_q.weight": (h, h),
        "transformer_blocks.0.attn1.q_norm.weight": (h,),
        "proj_out.weight": (128, h),
    }
    return _finish(t, {}, tiny)


def anima_transformer(*, tiny: bool = False) -> dict[str, Shape]:
    """Anima (Cosmos-Predict2 DiT + LLM adapter) as released, under ``net.``."""
    t = {
        "net.blocks.0.mlp.layer1.weight": (8192, 2048),
        "net.blocks.0.self_attn.q_proj.weight": (2048, 2048),
        "net.blocks.0.cross_attn.k_proj.weight": (2048, 1024),
        "net.llm_adapter.blocks.0.cross_attn.q_proj.weight": (1024, 1024),
        "net.llm_adapter.embed.weight": (32128, 1024),
        "net.x_embedder.proj.1.weight": (2048, 68),
        "net.final_layer.linear.weight": (64, 2048),
    }
    return _finish(t, {}, tiny)


def _t5_keys(vocab: int, width: int = 4096, *, per_block_bias: bool = False) -> dict[str, Shape]:
    t = {
        "shared.weight": (vocab, width),
        "encoder.block.0.layer.0.SelfAttention.q.weight": (width, width),
        "encoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight": (32, 64),
        "encoder.block.0.layer.1.DenseReluDense.wi_0.weight": (10240, width),
        "encoder.block.1.layer.0.SelfAttention.q.weight": (width, width),
        "encoder.final_layer_norm.weight": (width,),
    }
    if per_block_bias:  # UMT5: every block has its own relative attention bias
        t["encoder.block.1.layer.0.SelfAttention.relative_attention_bias.weight"] = (32, 64)
    return t


def clip_l_text_encoder(*, tiny: bool = False) -> dict[str, Shape]:
    return _finish(_hf_clip_text(768), _TEXT_KEEP, tiny)


def clip_g_text_encoder(*, tiny: bool = False) -> dict[str, Shape]:
    return _finish(_hf_clip_text(1280) | {"text_projection.weight": (1280, 1280)},
                   _TEXT_KEEP, tiny)


def t5_xxl_text_encoder(*, tiny: bool = False) -> dict[str, Shape]:
    return _finish(_t5_keys(32128), {r"shared\.weight": (0,)}, tiny)


def umt5_xxl_text_encoder(*, tiny: bool = False) -> dict[str, Shape]:
    return _finish(_t5_keys(256384, per_block_bias=True), {r"shared\.weight": (0,)}, tiny)


def clip_vision_h(*, tiny: bool = False) -> dict[str, Shape]:
    """CLIP ViT-H/14 vision tower (IP-Adapter's image encoder)."""
    t = {
        "vision_model.embeddings.patch_embedding.weight": (1280, 3, 14, 14),
        "vision_model.embeddings.class_embedding": (1280,),
        "vision_model.encoder.layers.0.self_attn.q_proj.weight": (1280, 1280),
        "vision_model.post_layernorm.weight": (1280,),
        "visual_projection.weight": (1024, 1280),
    }
    return _finish(t, {r".*patch_embedding\.weight": (0,)}, tiny)


def esrgan_upscaler(*, new_arch: bool = True, tiny: bool = False) -> dict[str, Shape]:
    """An ESRGAN x4 upscaler (RRDBNet), BasicSR naming or the original ``model.N`` naming."""
    if new_arch:
        t = {"conv_first.weight": (64, 3, 3, 3), "body.0.rdb1.conv1.weight": (32, 64, 3, 3),
             "body.0.rdb1.conv5.weight": (64, 192, 3, 3), "conv_body.weight": (64, 64, 3, 3),
             "conv_up1.weight": (64, 64, 3, 3), "conv_up2.weight": (64, 64, 3, 3),
             "conv_last.weight": (3, 64, 3, 3)}
    else:
        t = {"model.0.weight": (64, 3, 3, 3), "model.1.sub.0.RDB1.conv1.0.weight": (32, 64, 3, 3),
             "model.1.sub.23.weight": (64, 64, 3, 3), "model.3.weight": (64, 64, 3, 3),
             "model.10.weight": (3, 64, 3, 3)}
    return _finish(t, {}, tiny)
