"""Pipeline components on their own: VAEs, text encoders, CLIP vision towers.

VAEs are told apart by their latent width, ``decoder.conv_in.weight`` shape[1]. SD1.x, SD2 and
SDXL VAEs all have 4 latent channels and identical shapes — InvokeAI falls back to the file
name, ComfyUI does not care — so a 4-channel VAE is ``unknown`` here rather than a coin toss
(file metadata such as ``modelspec.architecture`` may still name it). FLUX.1's and SD3's VAEs
share the 16-channel layout the same way. FLUX.2's is 32 channels with a BatchNorm (``bn``);
Wan 2.2's is a 3-D VAE with 48 channels; LTX-Video's 128.

Text encoders are named by their width and vocabulary: CLIP-L 768, CLIP-G (bigG) 1280, T5 with a
32128-token vocabulary, UMT5 with 256384 (and a relative-attention bias in every block).

Vision towers in the transformers layout (``vision_model.*``) are CLIP's or SigLIP's: CLIP by its
width (ViT-L 1024, ViT-H 1280, bigG 1664), SigLIP So400m by its 1152 — a width no CLIP tower has —
and any SigLIP by its attention-pooling head, which CLIP lacks.
"""

from __future__ import annotations

from modelshelf.identify.engine import K, P, R, Rule, rule

_VAE_PREFIXES = ("", "first_stage_model.", "vae.")
_SD_LATENT = "4-channel latent: SD1.x, SD2 and SDXL VAEs share this layout"
_FLUX_LATENT = "16-channel latent: FLUX.1 and SD3 VAEs share this layout"
_WAN21_LATENT = "16-channel 3-D latent: Wan 2.1 and Qwen-Image VAEs share this layout"


def _vae(name: str, arch: str, conf: float, *, note: str = "", **conditions: object) -> Rule:
    return rule(f"{name} vae", arch, "vae", conf, prefixes=_VAE_PREFIXES, note=note,
                **conditions)  # type: ignore[arg-type]


_MOVQ = ("MoVQ (VQ decoder with spatially conditioned norms): Kandinsky 2.1, 2.2 and 3 use "
         "this layout")

_VAES = (
    # before the 4-channel row: a MoVQ has a 4-channel latent too (diffusers VQModel with
    # norm_type "spatial": SpatialNorm's conv_y/conv_b; the codebook "quantize.embedding")
    _vae("movq", "unknown", 0.85, note=_MOVQ,
         all_of=(K("quantize.embedding.weight"), K("decoder.conv_norm_out.conv_y.weight"))),
    _vae("flux2", "flux2", 0.9, all_of=(K("bn.running_mean"), K("decoder.conv_in.weight",
                                                                dims={1: 32}))),
    _vae("wan2.2", "wan", 0.85, all_of=(K("decoder.conv1.weight", dims={1: 48}, ndim=5),)),
    _vae("wan2.1-style", "unknown", 0.85, note=_WAN21_LATENT,
         all_of=(K("decoder.conv1.weight", dims={1: 16}, ndim=5), P("decoder.upsamples."))),
    _vae("ltxv", "ltxv", 0.8, all_of=(K("decoder.conv_in.conv.weight", dims={1: 128}, ndim=5),)),
    _vae("hunyuan-video", "hunyuan-video", 0.75,
         all_of=(K("decoder.conv_in.conv.weight", dims={1: 16}, ndim=5),)),
    _vae("sd-family", "unknown", 0.9, note=_SD_LATENT,
         all_of=(K("decoder.conv_in.weight", dims={1: 4}, ndim=4), K("encoder.conv_in.weight"))),
    _vae("16-channel", "unknown", 0.9, note=_FLUX_LATENT,
         all_of=(K("decoder.conv_in.weight", dims={1: 16}, ndim=4), K("encoder.conv_in.weight"))),
    _vae("generic", "unknown", 0.7,
         all_of=(K("decoder.conv_in.weight"), K("encoder.conv_in.weight"))),
)

_NOT_VISION = (P("vision_model."),)

_TEXT_ENCODERS = (
    *(
        rule(f"{arch} text encoder", arch, "text_encoders", 0.9,
             all_of=(K("text_model.embeddings.token_embedding.weight", dims={1: width}),),
             none_of=_NOT_VISION, prefixes=("", "transformer."))
        for arch, width in (("clip-l", 768), ("clip-g", 1280))
    ),
    # Recent transformers save a CLIPTextModel(WithProjection) without the "text_model." level:
    # "embeddings.token_embedding.weight", "encoder.layers.N..." at the root. A bare
    # "embeddings.*" is not CLIP's alone (a SigLIP text tower is 768 wide too), so the CLIP
    # vocabulary (49408 tokens, CLIP-L and bigG alike) is required as well.
    # keys: transformers models/clip/modeling_clip.py (CLIPTextTransformer, CLIPTextEmbeddings)
    *(
        rule(f"{arch} text encoder (no text_model. prefix)", arch, "text_encoders", 0.85,
             all_of=(K("embeddings.token_embedding.weight", dims={0: 49408, 1: width}),
                     K("encoder.layers.0.self_attn.q_proj.weight")),
             none_of=(*_NOT_VISION, P("text_model.")))
        for arch, width in (("clip-l", 768), ("clip-g", 1280))
    ),
    *(
        rule(f"{arch} text encoder (open_clip)", arch, "text_encoders", 0.85,
             all_of=(K("transformer.resblocks.0.attn.in_proj_weight", dims={1: width}),
                     K("token_embedding.weight")),
             prefixes=("", "model."))
        for arch, width in (("clip-g", 1280), ("open-clip-h", 1024))
    ),
    rule("umt5 text encoder", "umt5", "text_encoders", 0.9,
         all_of=(K("encoder.block.0.layer.0.SelfAttention.q.weight"),),
         any_of=(K("shared.weight", dims={0: 256384}),
                 K("encoder.block.1.layer.0.SelfAttention.relative_attention_bias.weight"))),
    rule("t5 text encoder", "t5", "text_encoders", 0.85,
         all_of=(K("encoder.block.0.layer.0.SelfAttention.q.weight"),),
         none_of=(P("decoder.block."),)),
    rule("qwen2.5-vl text encoder", "qwen2_5_vl", "text_encoders", 0.8,
         all_of=(P("visual.blocks."), K("model.embed_tokens.weight"))),
    rule("qwen3 text encoder", "qwen3", "text_encoders", 0.7,
         all_of=(K("model.embed_tokens.weight"), K("model.layers.0.self_attn.q_norm.weight")),
         none_of=(P("visual."),)),
    rule("decoder-only LM text encoder", "unknown", "text_encoders", 0.5,
         all_of=(K("model.embed_tokens.weight"),
                 R(r"model\.layers\.\d+\.self_attn\.q_proj\.weight")),
         note="a single-file decoder-only language model without config.json"),
)

_PATCH_EMBEDDING = "vision_model.embeddings.patch_embedding.weight"
_NOT_TEXT = (P("text_model."),)  # a tower with its text model is a whole CLIP/SigLIP, not clip_vision

# SigLIP (FLUX Redux's image encoder, some IP-Adapters') first: a SigLIP tower may be as wide as
# a CLIP one. So400m: 1152 wide; ComfyUI's load_clipvision_from_sd picks its SigLIP configs by that
# width (384 px / patch 14 and 512 px / patch 16) and its SigLIP2 NaFlex config by a 2-D (linear)
# patch embedding. Other sizes: the multi-head attention-pooling head (its "probe" query).
# keys: ComfyUI comfy/clip_vision.py with clip_vision_siglip_384.json, clip_vision_siglip_512.json,
# clip_vision_siglip2_base_naflex.json (hidden_size 1152); transformers SiglipVisionTransformer
# (head = SiglipMultiheadAttentionPoolingHead: probe, attention, layernorm, mlp)
_SIGLIP = (
    rule("siglip-so400m clip vision", "siglip-so400m", "clip_vision", 0.85,
         all_of=(K(_PATCH_EMBEDDING, dims={0: 1152}, ndim=4),), none_of=_NOT_TEXT,
         note="SigLIP and fixed-resolution SigLIP2 So400m towers share this layout"),
    rule("siglip2-so400m naflex clip vision", "siglip2-so400m", "clip_vision", 0.85,
         all_of=(K(_PATCH_EMBEDDING, dims={0: 1152}, ndim=2),), none_of=_NOT_TEXT,
         note="linear patch embedding: a SigLIP2 NaFlex tower"),
    rule("siglip clip vision (other size)", "siglip", "clip_vision", 0.75,
         all_of=(K(_PATCH_EMBEDDING), K("vision_model.head.probe")), none_of=_NOT_TEXT),
)

_CLIP_VISION = (
    *_SIGLIP,
    *(
        rule(f"{arch} clip vision", arch, "clip_vision", 0.85,
             all_of=(K(_PATCH_EMBEDDING, dims={0: width}),), none_of=_NOT_TEXT)
        for arch, width in (("clip-vit-l", 1024), ("clip-vit-h", 1280), ("clip-vit-bigg", 1664))
    ),
    rule("clip vision (other)", "unknown", "clip_vision", 0.7,
         all_of=(K(_PATCH_EMBEDDING),), none_of=_NOT_TEXT),
    rule("full siglip (text + vision)", "siglip", "other", 0.7,
         all_of=(P("text_model."), K("vision_model.head.probe"))),
    rule("full clip (text + vision)", "clip", "other", 0.7,
         all_of=(P("text_model."), P("vision_model."))),
)

RULES: tuple[Rule, ...] = (*_VAES, *_TEXT_ENCODERS, *_CLIP_VISION)
