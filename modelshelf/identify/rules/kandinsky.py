"""Kandinsky 2.1, 2.2 and 3: decoder UNets, priors, and the MoVQ image decoder.

Architecture words: ``kandinsky2.1``, ``kandinsky2.2`` and ``kandinsky3`` (as ``sd3.5-large`` names
a release within ``sd3``); a 2.1 and a 2.2 decoder are not interchangeable — they read image
embeddings of different CLIP towers — so each is named where its keys tell.

- 2.x decoders are diffusers ``UNet2DConditionModel``s conditioned on a CLIP image embedding:
  2.1 adds text and image embeddings to the time embedding (``add_embedding.text_proj`` +
  ``image_proj``, ViT-L: 768 wide); 2.2 the image embedding alone (``add_embedding.image_proj`` +
  ``image_norm``, ViT-bigG: 1280 wide); the 2.2 depth ControlNet decoder adds a hint encoder
  (``add_embedding.input_hint_block``). The original 2.1 checkpoint names the same layers
  ``clip_to_seq`` / ``to_model_dim_n`` / ``img_layer``.
- 2.x priors are diffusers ``PriorTransformer``s (``prd_embedding``, ``proj_to_clip_embeddings``)
  mapping a text embedding to an image embedding: 1280 wide for 2.2; 768 wide is Kandinsky 2.1's
  and unCLIP (Karlo)'s alike — same default config — so that width names no architecture.
- Kandinsky 3 is its own UNet (``Kandinsky3UNet``): an attention-pooled text condition on the time
  embedding (``add_time_condition``; originally ``feature_pooling``) and a projection of the
  FLAN-UL2 encoder output (``encoder_hid_proj.projection_linear``; originally ``projection_lin``).
- MoVQ (a VQ decoder with spatially conditioned norms: ``quantize.embedding``,
  ``decoder.conv_norm_out.conv_y``) serves 2.1, 2.2 and 3: see ``components``.
keys: diffusers models/unets/unet_2d_condition.py (addition_embed_type text_image / image /
image_hint), models/embeddings.py (TextImageTimeEmbedding, ImageTimeEmbedding,
ImageHintTimeEmbedding), models/unets/unet_kandinsky3.py, scripts/convert_kandinsky_to_diffusers.py
and scripts/convert_kandinsky3_unet.py (original names)
"""

from __future__ import annotations

from modelshelf.identify.engine import K, P, Rule, rule

_IMAGE_PROJ = "add_embedding.image_proj.weight"  # (time embedding width, CLIP image width)
_HINT = P("add_embedding.input_hint_block.")


def _model(name: str, arch: str, conf: float, note: str = "", **conditions: object) -> Rule:
    return rule(name, arch, "diffusion_models", conf, note=note,
                **conditions)  # type: ignore[arg-type]


RULES: tuple[Rule, ...] = (
    _model("kandinsky2.1 decoder unet (diffusers)", "kandinsky2.1", 0.9, all_of=(
        K("add_embedding.text_proj.weight"), K(_IMAGE_PROJ, dims={1: 768}),
        K("encoder_hid_proj.text_proj.weight"))),
    _model("kandinsky2.1 decoder unet (original)", "kandinsky2.1", 0.9, all_of=(
        K("clip_to_seq.weight"), K("to_model_dim_n.weight"), K("img_layer.weight", dims={1: 768}))),
    _model("kandinsky2.2 controlnet decoder unet", "kandinsky2.2", 0.9, all_of=(
        K(_IMAGE_PROJ, dims={1: 1280}), _HINT),
        note="a hint encoder in the time embedding: the 2.2 depth ControlNet decoder"),
    _model("kandinsky2.2 decoder unet", "kandinsky2.2", 0.9, all_of=(
        K(_IMAGE_PROJ, dims={1: 1280}), K("add_embedding.image_norm.weight"),
        K("encoder_hid_proj.image_embeds.weight")),
        none_of=(K("add_embedding.text_proj.weight"), _HINT)),
    _model("kandinsky2.2 prior", "kandinsky2.2", 0.8, all_of=(
        K("prd_embedding"), K("proj_to_clip_embeddings.weight", dims={0: 1280})),
        note="a diffusion prior: text embedding -> CLIP ViT-bigG image embedding"),
    _model("kandinsky3 unet (diffusers)", "kandinsky3", 0.9, all_of=(
        K("encoder_hid_proj.projection_linear.weight"), P("add_time_condition."))),
    _model("kandinsky3 unet (original)", "kandinsky3", 0.9, all_of=(
        K("projection_lin.weight"), P("feature_pooling."))),
    _model("768-wide diffusion prior", "unknown", 0.7, all_of=(
        K("prd_embedding"), K("proj_to_clip_embeddings.weight", dims={0: 768})),
        note="Kandinsky 2.1 and unCLIP (Karlo) priors share this layout"),
)
