"""Hand-written key sets for rules the factories do not build (rare layouts, fallbacks).

Each case: (tensors {name: shape}, expected architecture, expected model_type). Names and shapes
follow the released files (diffusers configs / ComfyUI's model_detection for the decisive ones).
"""

from __future__ import annotations

from modelshelf.identify import Identification, identify
from modelshelf.testing.factories import header_from_shapes

Shape = tuple[int, ...]
Case = tuple[dict[str, Shape], str, str]


def identify_shapes(tensors: dict[str, Shape]) -> Identification:
    """Identify a bare key set (a safetensors-like header, no metadata)."""
    return identify(header_from_shapes(tensors))


def rule_of(found: Identification) -> str:
    """The name of the rule that decided ``found``."""
    return found.evidence[0].removeprefix("rule: ")

CASES: dict[str, Case] = {
    "flux-schnell-diffusers": ({
        "x_embedder.weight": (3072, 64),
        "transformer_blocks.0.attn.norm_added_k.weight": (128,),
        "single_transformer_blocks.0.proj_mlp.weight": (12288, 3072),
        "time_text_embed.text_embedder.linear_1.weight": (3072, 768),
    }, "flux-schnell", "diffusion_models"),
    "flux-truncated-top-level": ({
        "double_blocks.0.img_attn.norm.key_norm.scale": (128,),
        "double_blocks.0.img_attn.qkv.weight": (9216, 3072),
    }, "flux", "diffusion_models"),
    "sd3-diffusers": ({
        "pos_embed.proj.weight": (1536, 16, 2, 2),
        "transformer_blocks.0.attn.add_q_proj.weight": (1536, 1536),
        "time_text_embed.text_embedder.linear_1.weight": (1536, 2048),
        "context_embedder.weight": (1536, 4096),
    }, "sd3", "diffusion_models"),
    "auraflow-diffusers": ({
        "joint_transformer_blocks.0.attn.add_q_proj.weight": (3072, 3072),
        "register_tokens": (1, 8, 3072),
    }, "auraflow", "diffusion_models"),
    "hunyuan-video-diffusers": ({
        "context_embedder.token_refiner.refiner_blocks.0.norm1.weight": (3072,),
        "x_embedder.proj.weight": (3072, 16, 1, 2, 2),
    }, "hunyuan-video", "diffusion_models"),
    "ltxv-diffusers": ({
        "time_embed.emb.timestep_embedder.linear_1.weight": (2048, 256),
        "proj_in.weight": (2048, 128),
        "caption_projection.linear_1.weight": (2048, 4096),
        "transformer_blocks.0.attn1.norm_k.weight": (2048,),
    }, "ltxv", "diffusion_models"),
    "wan-diffusers": ({
        "condition_embedder.time_embedder.linear_1.weight": (1536, 256),
        "patch_embedding.weight": (1536, 16, 1, 2, 2),
        "scale_shift_table": (1, 2, 1536),
    }, "wan", "diffusion_models"),
    "lumina2": ({
        "cap_embedder.1.weight": (2304, 2304),
        "noise_refiner.0.attention.k_norm.weight": (96,),
    }, "lumina2", "diffusion_models"),
    "krea2": ({
        "txtfusion.projector.weight": (2560, 36), "first.weight": (6144, 64),
        "blocks.0.attn.wq.weight": (6144, 6144),
    }, "krea2", "diffusion_models"),
    "wan2.2-vae": ({
        "decoder.conv1.weight": (1024, 48, 3, 3, 3), "encoder.conv1.weight": (160, 12, 3, 3, 3),
    }, "wan", "vae"),
    "wan2.1-vae": ({
        "decoder.conv1.weight": (384, 16, 3, 3, 3), "decoder.upsamples.0.residual.0.gamma": (384,),
        "encoder.conv1.weight": (96, 3, 3, 3, 3),
    }, "unknown", "vae"),
    "ltxv-vae": ({"decoder.conv_in.conv.weight": (1024, 128, 3, 3, 3)}, "ltxv", "vae"),
    "hunyuan-video-vae": ({"decoder.conv_in.conv.weight": (512, 16, 3, 3, 3)},
                          "hunyuan-video", "vae"),
    "odd-latent-vae": ({"decoder.conv_in.weight": (512, 8, 3, 3),
                        "encoder.conv_in.weight": (128, 3, 3, 3)}, "unknown", "vae"),
    "open-clip-g": ({"transformer.resblocks.0.attn.in_proj_weight": (3840, 1280),
                     "token_embedding.weight": (49408, 1280)}, "clip-g", "text_encoders"),
    "open-clip-h": ({"model.transformer.resblocks.0.attn.in_proj_weight": (3072, 1024),
                     "model.token_embedding.weight": (49408, 1024)},
                    "open-clip-h", "text_encoders"),
    "clip-vit-l": ({"vision_model.embeddings.patch_embedding.weight": (1024, 3, 14, 14)},
                   "clip-vit-l", "clip_vision"),
    "clip-vit-bigg": ({"vision_model.embeddings.patch_embedding.weight": (1664, 3, 14, 14)},
                      "clip-vit-bigg", "clip_vision"),
    "clip-vision-other": ({"vision_model.embeddings.patch_embedding.weight": (768, 3, 16, 16)},
                          "unknown", "clip_vision"),
    "full-clip": ({"text_model.embeddings.token_embedding.weight": (49408, 768),
                   "vision_model.embeddings.patch_embedding.weight": (1024, 3, 14, 14)},
                  "clip", "other"),
    "swinir": ({"conv_first.weight": (180, 3, 3, 3),
                "layers.0.residual_group.blocks.0.attn.relative_position_bias_table": (225, 6)},
               "swinir", "upscale_models"),
    "decoder-lm-no-config": ({"model.embed_tokens.weight": (32000, 64),
                              "model.layers.0.self_attn.q_proj.weight": (64, 64)},
                             "unknown", "text_encoders"),
    "flux-lokr-width-unknown": ({  # w2 missing: the layer width cannot be computed
        "lora_unet_double_blocks_0_img_mlp_0.lokr_w1": (4, 8),
        "lora_unet_double_blocks_0_img_mlp_0.alpha": (),
    }, "flux", "loras"),
    "stable-video-diffusion-unet": ({  # SD2-like context width, but a video model
        "input_blocks.0.0.weight": (320, 8, 3, 3),
        "input_blocks.1.1.transformer_blocks.0.attn2.to_k.weight": (320, 1024),
        "input_blocks.1.1.time_stack.0.attn1.to_q.weight": (320, 320),
        "input_blocks.1.0.time_mixer.mix_factor": (1,),
    }, "unknown", "other"),
    "chroma-radiance": ({
        "distilled_guidance_layer.in_proj.weight": (5120, 64),
        "double_blocks.0.img_attn.norm.key_norm.scale": (128,),
        "nerf_blocks.0.norm.scale": (64,),
    }, "chroma-radiance", "diffusion_models"),
    "cosmos-predict2": ({
        "net.blocks.0.mlp.layer1.weight": (8192, 2048),
        "net.blocks.0.adaln_modulation_cross_attn.1.weight": (256, 2048),
    }, "cosmos", "diffusion_models"),
    "hidream": ({
        "caption_projection.0.linear.weight": (2560, 4096),
        "double_stream_blocks.0.block.ff_i.shared_experts.w3.weight": (3584, 2560),
    }, "hidream", "diffusion_models"),
    "mochi": ({"t5_yproj.weight": (3072, 4096), "blocks.0.attn.qkv_x.weight": (9216, 3072)},
              "mochi", "diffusion_models"),
    "hunyuan-dit": ({"mlp_t5.0.weight": (8192, 2048), "x_embedder.proj.weight": (1408, 4, 2, 2)},
                    "hunyuan-dit", "diffusion_models"),
    "stable-cascade": ({"clf.1.weight": (2048, 2048), "clip_txt_mapper.weight": (2048, 1280)},
                       "stable-cascade", "diffusion_models"),
    "sdxl-lora-without-cross-attention": ({
        "lora_unet_input_blocks_7_1_transformer_blocks_3_attn1_to_q.lora_down.weight": (8, 1280),
        "lora_unet_input_blocks_7_1_transformer_blocks_3_attn1_to_q.lora_up.weight": (1280, 8),
    }, "sdxl", "loras"),
    "sd15-lora-unet-and-te-without-cross-attention": ({
        "lora_unet_down_blocks_0_attentions_0_proj_in.lora_down.weight": (8, 320),
        "lora_unet_down_blocks_0_attentions_0_proj_in.lora_up.weight": (320, 8),
        "lora_te_text_model_encoder_layers_0_self_attn_q_proj.lora_down.weight": (8, 768),
        "lora_te_text_model_encoder_layers_0_self_attn_q_proj.lora_up.weight": (768, 8),
    }, "sd15", "loras"),
    "controlnet-without-attention": ({"control_model.input_hint_block.0.weight": (16, 3, 3, 3),
                                      "control_model.zero_convs.0.0.weight": (320, 320, 1, 1)},
                                     "unknown", "controlnet"),
    "ip-adapter-without-cross-attention": ({"image_proj.proj.weight": (3072, 1024),
                                            "ip_adapter.1.to_q.weight": (320, 320)},
                                           "unknown", "ipadapter"),
}

# T2I-Adapters, Control-LoRAs, SigLIP towers, UNet variants and AnimateDiff motion modules: key
# names from ComfyUI (controlnet.py, t2i_adapter/adapter.py, clip_vision.py), diffusers
# (models/adapter.py), InvokeAI's variant probe and AnimateDiff-Evolved; each rule's decisive key
# and shape is listed in tests/identify/test_decisive_keys.py.
CASES |= {
    "sd15-inpainting-unet": ({
        "input_blocks.0.0.weight": (320, 9, 3, 3),
        "input_blocks.1.1.transformer_blocks.0.attn2.to_k.weight": (320, 768),
        "out.2.weight": (4, 320, 3, 3),
    }, "sd15", "diffusion_models"),
    "sd2-inpainting-unet": ({
        "input_blocks.0.0.weight": (320, 9, 3, 3),
        "input_blocks.1.1.transformer_blocks.0.attn2.to_k.weight": (320, 1024),
        "out.2.weight": (4, 320, 3, 3),
    }, "sd2", "diffusion_models"),
    "sd2-depth-unet": ({
        "input_blocks.0.0.weight": (320, 5, 3, 3),
        "input_blocks.1.1.transformer_blocks.0.attn2.to_k.weight": (320, 1024),
        "out.2.weight": (4, 320, 3, 3),
    }, "sd2", "diffusion_models"),
    "sdxl-inpainting-unet": ({
        "input_blocks.0.0.weight": (320, 9, 3, 3),
        "input_blocks.4.1.transformer_blocks.0.attn2.to_k.weight": (640, 2048),
        "label_emb.0.0.weight": (1280, 2816),
        "out.2.weight": (4, 320, 3, 3),
    }, "sdxl", "diffusion_models"),
    "sd15-inpainting-unet-diffusers": ({
        "conv_in.weight": (320, 9, 3, 3),
        "time_embedding.linear_1.weight": (1280, 320),
        "down_blocks.0.attentions.0.transformer_blocks.0.attn2.to_k.weight": (320, 768),
    }, "sd15", "diffusion_models"),
    "sd2-inpainting-unet-diffusers": ({
        "conv_in.weight": (320, 9, 3, 3),
        "time_embedding.linear_1.weight": (1280, 320),
        "down_blocks.0.attentions.0.transformer_blocks.0.attn2.to_k.weight": (320, 1024),
    }, "sd2", "diffusion_models"),
    "sd2-depth-unet-diffusers": ({
        "conv_in.weight": (320, 5, 3, 3),
        "time_embedding.linear_1.weight": (1280, 320),
        "down_blocks.0.attentions.0.transformer_blocks.0.attn2.to_k.weight": (320, 1024),
    }, "sd2", "diffusion_models"),
    "sdxl-inpainting-unet-diffusers": ({
        "conv_in.weight": (320, 9, 3, 3),
        "time_embedding.linear_1.weight": (1280, 320),
        "down_blocks.1.attentions.0.transformer_blocks.0.attn2.to_k.weight": (640, 2048),
        "add_embedding.linear_1.weight": (1280, 2816),
    }, "sdxl", "diffusion_models"),
    "sd15-control-lora": ({
        "lora_controlnet": (0,),
        "input_hint_block.0.weight": (16, 3, 3, 3),
        "zero_convs.0.0.weight": (320, 320, 1, 1),
        "input_blocks.1.1.norm.weight": (320,),
        "input_blocks.1.1.transformer_blocks.0.attn2.to_k.up": (320, 64),
        "input_blocks.1.1.transformer_blocks.0.attn2.to_k.down": (64, 768),
    }, "sd15", "controlnet"),
    "sd2-control-lora": ({
        "lora_controlnet": (0,),
        "input_hint_block.0.weight": (16, 3, 3, 3),
        "zero_convs.0.0.weight": (320, 320, 1, 1),
        "input_blocks.1.1.transformer_blocks.0.attn2.to_k.up": (320, 64),
        "input_blocks.1.1.transformer_blocks.0.attn2.to_k.down": (64, 1024),
    }, "sd2", "controlnet"),
    "sdxl-control-lora": ({
        "lora_controlnet": (0,),
        "input_hint_block.0.weight": (16, 3, 3, 3),
        "zero_convs.0.0.weight": (320, 320, 1, 1),
        "middle_block_out.0.weight": (1280, 1280, 1, 1),
        "input_blocks.4.1.norm.weight": (640,),
        "input_blocks.4.1.transformer_blocks.0.attn2.to_k.up": (640, 128),
        "input_blocks.4.1.transformer_blocks.0.attn2.to_k.down": (128, 2048),
    }, "sdxl", "controlnet"),
    "sd15-t2i-adapter-depth": ({  # 3-channel hint, unshuffled by 8: 3 x 64 = 192
        "conv_in.weight": (320, 192, 3, 3),
        "body.0.block1.weight": (320, 320, 3, 3),
        "body.0.block2.weight": (320, 320, 1, 1),
        "body.2.in_conv.weight": (640, 320, 1, 1),
    }, "sd15", "controlnet"),
    "sd15-t2i-adapter-sketch-diffusers": ({  # 1-channel hint: 64
        "adapter.conv_in.weight": (320, 64, 3, 3),
        "adapter.body.0.resnets.0.block1.weight": (320, 320, 3, 3),
        "adapter.body.0.resnets.0.block2.weight": (320, 320, 1, 1),
        "adapter.body.1.in_conv.weight": (640, 320, 1, 1),
    }, "sd15", "controlnet"),
    "sdxl-t2i-adapter-original": ({  # unshuffled by 16: 3 x 256 = 768
        "conv_in.weight": (320, 768, 3, 3),
        "body.0.block1.weight": (320, 320, 3, 3),
        "body.0.block2.weight": (320, 320, 1, 1),
    }, "sdxl", "controlnet"),
    "sdxl-t2i-adapter-canny-diffusers": ({  # 1-channel hint: 256
        "adapter.conv_in.weight": (320, 256, 3, 3),
        "adapter.body.0.resnets.0.block1.weight": (320, 320, 3, 3),
        "adapter.body.0.resnets.0.block2.weight": (320, 320, 1, 1),
        "adapter.body.1.in_conv.weight": (640, 320, 1, 1),
    }, "sdxl", "controlnet"),
    "sd15-t2i-adapter-light": ({
        "body.0.in_conv.weight": (80, 192, 1, 1),
        "body.0.body.0.block1.weight": (80, 80, 3, 3),
        "body.0.out_conv.weight": (320, 80, 1, 1),
    }, "sd15", "controlnet"),
    "sd15-t2i-adapter-light-diffusers": ({
        "adapter.body.0.in_conv.weight": (80, 192, 1, 1),
        "adapter.body.0.resnets.0.block1.weight": (80, 80, 3, 3),
        "adapter.body.0.out_conv.weight": (320, 80, 1, 1),
    }, "sd15", "controlnet"),
    "siglip-so400m-patch14-384": ({  # FLUX Redux's image encoder: 27 x 27 = 729 positions
        "vision_model.embeddings.patch_embedding.weight": (1152, 3, 14, 14),
        "vision_model.embeddings.position_embedding.weight": (729, 1152),
        "vision_model.encoder.layers.26.layer_norm1.weight": (1152,),
        "vision_model.post_layernorm.weight": (1152,),
        "vision_model.head.probe": (1, 1, 1152),
    }, "siglip-so400m", "clip_vision"),
    "siglip2-so400m-naflex": ({  # a linear patch embedding: 3 x 16 x 16 = 768 inputs
        "vision_model.embeddings.patch_embedding.weight": (1152, 768),
        "vision_model.embeddings.position_embedding.weight": (256, 1152),
        "vision_model.encoder.layers.26.layer_norm1.weight": (1152,),
        "vision_model.head.probe": (1, 1, 1152),
    }, "siglip2-so400m", "clip_vision"),
    "siglip-other-size": ({  # as wide as CLIP ViT-L, but with SigLIP's pooling head
        "vision_model.embeddings.patch_embedding.weight": (1024, 3, 16, 16),
        "vision_model.embeddings.position_embedding.weight": (256, 1024),
        "vision_model.head.probe": (1, 1, 1024),
        "vision_model.head.attention.in_proj_weight": (3072, 1024),
    }, "siglip", "clip_vision"),
    "full-siglip": ({
        "text_model.embeddings.token_embedding.weight": (32000, 1152),
        "vision_model.embeddings.patch_embedding.weight": (1152, 3, 14, 14),
        "vision_model.head.probe": (1, 1, 1152),
    }, "siglip", "other"),
    "sd15-sparsectrl-rgb": ({  # one-convolution conditioning embedding: no conv_in under it
        "conv_in.weight": (320, 4, 3, 3),
        "time_embedding.linear_1.weight": (1280, 320),
        "controlnet_cond_embedding.weight": (320, 4, 3, 3),
        "controlnet_down_blocks.0.weight": (320, 320, 1, 1),
        "controlnet_mid_block.weight": (1280, 1280, 1, 1),
        "down_blocks.0.attentions.0.transformer_blocks.0.attn2.to_k.weight": (320, 768),
        "down_blocks.0.motion_modules.0.temporal_transformer.norm.weight": (320,),
    }, "sd15", "controlnet"),
    "animatediff-sd15-motion-module": ({
        "down_blocks.0.motion_modules.0.temporal_transformer.norm.weight": (320,),
        "down_blocks.2.motion_modules.0.temporal_transformer.norm.weight": (1280,),
        "down_blocks.3.motion_modules.0.temporal_transformer.norm.weight": (1280,),
        "up_blocks.0.motion_modules.0.temporal_transformer.norm.weight": (1280,),
    }, "sd15", "other"),
    "animatediff-sdxl-motion-module": ({
        "down_blocks.0.motion_modules.0.temporal_transformer.norm.weight": (320,),
        "down_blocks.1.motion_modules.0.temporal_transformer.norm.weight": (640,),
        "down_blocks.2.motion_modules.0.temporal_transformer.norm.weight": (1280,),
        "up_blocks.0.motion_modules.0.temporal_transformer.norm.weight": (1280,),
    }, "sdxl", "other"),
}

# SD3 releases (ComfyUI's detect_unet_config: depth = x_embedder width // 64, dual attention from
# "x_block.attn2", RMS q/k norm from "ln_q"; diffusers' infer_diffusers_model_type: pos_embed
# positions and "joint_blocks.37"). Widths and positions are real, the rest tiny.
CASES |= {
    "sd3.5-large": ({
        "x_embedder.proj.weight": (2432, 16, 2, 2), "pos_embed": (1, 36864, 4),
        "joint_blocks.0.context_block.attn.qkv.weight": (12, 4),
        "joint_blocks.0.context_block.attn.ln_q.weight": (4,),
        "joint_blocks.37.x_block.mlp.fc1.weight": (16, 4),
    }, "sd3.5-large", "diffusion_models"),
    "sd3.5-medium": ({
        "x_embedder.proj.weight": (1536, 16, 2, 2), "pos_embed": (1, 147456, 4),
        "joint_blocks.0.context_block.attn.qkv.weight": (12, 4),
        "joint_blocks.0.context_block.attn.ln_q.weight": (4,),
        "joint_blocks.0.x_block.attn2.qkv.weight": (12, 4),
        "joint_blocks.23.x_block.mlp.fc1.weight": (16, 4),
    }, "sd3.5-medium", "diffusion_models"),
    "sd3-variant-untold": ({  # SD3.5 Large's width, but its 38th block is not in the file
        "x_embedder.proj.weight": (2432, 16, 2, 2),
        "joint_blocks.0.context_block.attn.qkv.weight": (12, 4),
    }, "sd3", "diffusion_models"),
    # the same in diffusers' SD3Transformer2DModel naming (positions in pos_embed.pos_embed)
    "sd3.5-large-diffusers": ({
        "pos_embed.proj.weight": (2432, 16, 2, 2), "pos_embed.pos_embed": (1, 36864, 4),
        "transformer_blocks.0.attn.add_q_proj.weight": (4, 4),
        "transformer_blocks.0.attn.norm_q.weight": (4,),
        "transformer_blocks.37.ff.net.0.proj.weight": (4, 4),
        "time_text_embed.text_embedder.linear_1.weight": (2432, 2048),
        "context_embedder.weight": (2432, 4096),
    }, "sd3.5-large", "diffusion_models"),
    "sd3.5-medium-diffusers": ({
        "pos_embed.proj.weight": (1536, 16, 2, 2), "pos_embed.pos_embed": (1, 147456, 4),
        "transformer_blocks.0.attn.add_q_proj.weight": (4, 4),
        "transformer_blocks.0.attn.norm_q.weight": (4,),
        "transformer_blocks.0.attn2.to_q.weight": (4, 4),
        "time_text_embed.text_embedder.linear_1.weight": (1536, 2048),
        "context_embedder.weight": (1536, 4096),
    }, "sd3.5-medium", "diffusion_models"),
    "sd3-medium-diffusers": ({
        "pos_embed.proj.weight": (1536, 16, 2, 2), "pos_embed.pos_embed": (1, 36864, 4),
        "transformer_blocks.0.attn.add_q_proj.weight": (4, 4),
        "time_text_embed.text_embedder.linear_1.weight": (1536, 2048),
        "context_embedder.weight": (1536, 4096),
    }, "sd3-medium", "diffusion_models"),
    # CLIP text encoders as recent transformers save them: no "text_model." level
    "clip-l-no-text-model-prefix": ({
        "embeddings.token_embedding.weight": (49408, 768),
        "embeddings.position_embedding.weight": (77, 4),
        "encoder.layers.0.self_attn.q_proj.weight": (4, 4),
        "final_layer_norm.weight": (4,),
    }, "clip-l", "text_encoders"),
    "clip-g-no-text-model-prefix": ({
        "embeddings.token_embedding.weight": (49408, 1280),
        "encoder.layers.0.self_attn.q_proj.weight": (4, 4),
        "final_layer_norm.weight": (4,),
        "text_projection.weight": (4, 4),
    }, "clip-g", "text_encoders"),
    "kandinsky-movq": ({
        "quantize.embedding.weight": (16384, 4),
        "encoder.conv_in.weight": (128, 3, 3, 3), "decoder.conv_in.weight": (512, 4, 3, 3),
        "decoder.conv_norm_out.conv_y.weight": (128, 4, 1, 1),
        "decoder.conv_norm_out.norm_layer.weight": (128,),
    }, "unknown", "vae"),
}

# Models never bundled into a single-file checkpoint (no "model.diffusion_model." twin):
# Kandinsky 2.x / 3 UNets and priors, in diffusers and original naming. Key names from diffusers
# (unet_2d_condition.py add_embedding / encoder_hid_proj, embeddings.py, unet_kandinsky3.py,
# prior_transformer.py) and its conversion scripts; the widths the rules read are real.
UNBUNDLED_CASES: dict[str, Case] = {
    "kandinsky2.1-decoder-diffusers": ({
        "conv_in.weight": (384, 4, 3, 3), "time_embedding.linear_1.weight": (1536, 384),
        "add_embedding.text_proj.weight": (1536, 768), "add_embedding.text_norm.weight": (1536,),
        "add_embedding.image_proj.weight": (1536, 768),
        "encoder_hid_proj.image_embeds.weight": (4, 768),
        "encoder_hid_proj.text_proj.weight": (768, 1024),
        "down_blocks.1.attentions.0.add_k_proj.weight": (4, 768),
    }, "kandinsky2.1", "diffusion_models"),
    "kandinsky2.1-decoder-original": ({
        "input_blocks.0.0.weight": (384, 4, 3, 3), "time_embed.0.weight": (1536, 384),
        "clip_to_seq.weight": (4, 768), "to_model_dim_n.weight": (768, 1024),
        "proj_n.weight": (1536, 768), "ln_model_n.weight": (1536,), "img_layer.weight": (1536, 768),
    }, "kandinsky2.1", "diffusion_models"),
    "kandinsky2.2-decoder": ({
        "conv_in.weight": (384, 4, 3, 3), "time_embedding.linear_1.weight": (1536, 384),
        "add_embedding.image_proj.weight": (1536, 1280),
        "add_embedding.image_norm.weight": (1536,),
        "encoder_hid_proj.image_embeds.weight": (4, 1280), "encoder_hid_proj.norm.weight": (768,),
    }, "kandinsky2.2", "diffusion_models"),
    "kandinsky2.2-controlnet-decoder": ({
        "conv_in.weight": (384, 8, 3, 3), "time_embedding.linear_1.weight": (1536, 384),
        "add_embedding.image_proj.weight": (1536, 1280),
        "add_embedding.image_norm.weight": (1536,),
        "add_embedding.input_hint_block.0.weight": (16, 3, 3, 3),
        "encoder_hid_proj.image_embeds.weight": (4, 1280),
    }, "kandinsky2.2", "diffusion_models"),
    "kandinsky2.2-prior": ({
        "prd_embedding": (1, 1, 2048), "positional_embedding": (1, 81, 2048),
        "proj_in.weight": (2048, 1280), "embedding_proj.weight": (2048, 1280),
        "transformer_blocks.0.attn1.to_q.weight": (4, 4),
        "proj_to_clip_embeddings.weight": (1280, 2048), "clip_mean": (1, 1280),
    }, "kandinsky2.2", "diffusion_models"),
    "768-wide-prior": ({  # Kandinsky 2.1's prior, or unCLIP (Karlo)'s: the same config
        "prd_embedding": (1, 1, 2048), "proj_in.weight": (2048, 768),
        "proj_to_clip_embeddings.weight": (768, 2048), "clip_mean": (1, 768),
    }, "unknown", "diffusion_models"),
    "kandinsky3-unet-diffusers": ({
        "conv_in.weight": (192, 4, 3, 3), "time_embedding.linear_1.weight": (1536, 192),
        "encoder_hid_proj.projection_linear.weight": (4, 4096),
        "encoder_hid_proj.projection_norm.weight": (4,),
        "add_time_condition.attention.to_q.weight": (4, 4),
    }, "kandinsky3", "diffusion_models"),
    "kandinsky3-unet-original": ({
        "in_layer.weight": (192, 4, 3, 3), "to_time_embed.1.weight": (1536, 192),
        "projection_lin.weight": (4, 4096), "projection_ln.weight": (4,),
        "feature_pooling.attention.to_query.weight": (4, 4),
    }, "kandinsky3", "diffusion_models"),
}
