"""Hand-written key sets for rules the factories do not build (rare layouts, fallbacks).

Each case: (tensors {name: shape}, expected architecture, expected model_type). Names and shapes
follow the released files (diffusers configs / ComfyUI's model_detection for the decisive ones).
"""

from __future__ import annotations

Shape = tuple[int, ...]
Case = tuple[dict[str, Shape], str, str]

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
