"""T2I-Adapters, Control-LoRAs, SigLIP vision towers, inpainting/depth UNets and AnimateDiff motion
modules: each answer names the key (and shape) that decided it, and the near misses — the plain
model next to each variant, the same layout without its marker — are not mistaken for them."""

from __future__ import annotations

from pathlib import Path

import pytest
from identify_cases import CASES, UNBUNDLED_CASES, identify_shapes, rule_of

from modelshelf.identify import identify
from modelshelf.testing.factories import (
    clip_vision_h,
    sd_controlnet,
    sd_unet,
    sd_unet_diffusers,
    write_safetensors,
)

Shapes = dict[str, tuple[int, ...]]

# case (identify_cases.CASES) -> (rule that must decide it, evidence line that must be given)
DECISIVE: dict[str, tuple[str, str]] = {
    "sd15-inpainting-unet": ("sd15 inpainting unet model (ldm)",
                             "input_blocks.0.0.weight [320, 9, 3, 3]"),
    "sd2-inpainting-unet": ("sd2 inpainting unet model (ldm)",
                            "input_blocks.0.0.weight [320, 9, 3, 3]"),
    "sd2-depth-unet": ("sd2 depth unet model (ldm)", "input_blocks.0.0.weight [320, 5, 3, 3]"),
    "sdxl-inpainting-unet": ("sdxl inpainting unet model (ldm)",
                             "input_blocks.0.0.weight [320, 9, 3, 3]"),
    "sd15-inpainting-unet-diffusers": ("sd15 inpainting unet model (diffusers)",
                                       "conv_in.weight [320, 9, 3, 3]"),
    "sd2-inpainting-unet-diffusers": ("sd2 inpainting unet model (diffusers)",
                                      "conv_in.weight [320, 9, 3, 3]"),
    "sd2-depth-unet-diffusers": ("sd2 depth unet model (diffusers)",
                                 "conv_in.weight [320, 5, 3, 3]"),
    "sdxl-inpainting-unet-diffusers": ("sdxl inpainting unet model (diffusers)",
                                       "conv_in.weight [320, 9, 3, 3]"),
    "sd15-control-lora": ("sd15 control-lora", "lora_controlnet"),
    "sd2-control-lora": ("sd2 control-lora", "lora_controlnet"),
    "sdxl-control-lora": ("sdxl control-lora", "lora_controlnet"),
    "sd15-t2i-adapter-depth": ("sd15 t2i-adapter (original)", "conv_in.weight [320, 192, 3, 3]"),
    "sd15-t2i-adapter-sketch-diffusers": ("sd15 t2i-adapter (diffusers)",
                                          "adapter.conv_in.weight [320, 64, 3, 3]"),
    "sdxl-t2i-adapter-original": ("sdxl t2i-adapter (original)",
                                  "conv_in.weight [320, 768, 3, 3]"),
    "sdxl-t2i-adapter-canny-diffusers": ("sdxl t2i-adapter (diffusers)",
                                         "adapter.conv_in.weight [320, 256, 3, 3]"),
    "sd15-t2i-adapter-light": ("sd15 t2i-adapter (light)", "body.0.out_conv.weight [320, 80, 1, 1]"),
    "sd15-t2i-adapter-light-diffusers": ("sd15 t2i-adapter (light)",
                                         "adapter.body.0.out_conv.weight [320, 80, 1, 1]"),
    "siglip-so400m-patch14-384": ("siglip-so400m clip vision",
                                  "vision_model.embeddings.patch_embedding.weight [1152, 3, 14, 14]"),
    "siglip2-so400m-naflex": ("siglip2-so400m naflex clip vision",
                              "vision_model.embeddings.patch_embedding.weight [1152, 768]"),
    "siglip-other-size": ("siglip clip vision (other size)", "vision_model.head.probe"),
    "full-siglip": ("full siglip (text + vision)", "vision_model.head.probe"),
    "sd15-sparsectrl-rgb": ("sd15 sparsectrl controlnet", "controlnet_down_blocks.0.weight"),
    "animatediff-sd15-motion-module": ("sd15 animatediff motion module",
                                       "down_blocks.3.motion_modules.0.temporal_transformer.norm.weight"),
    "animatediff-sdxl-motion-module": ("sdxl animatediff motion module", "no down_blocks.3."),
    # issue 10's identification gaps (near misses in test_release_gaps.py)
    "sd3.5-large": ("sd3.5-large model", "joint_blocks.37.x_block.mlp.fc1.weight"),
    "sd3.5-medium": ("sd3.5-medium model", "x_embedder.proj.weight [1536, 16, 2, 2]"),
    "sd3-variant-untold": ("sd3 model", "x_embedder.proj.weight"),
    "sd3.5-large-diffusers": ("sd3.5-large (diffusers) model",
                              "transformer_blocks.37.ff.net.0.proj.weight"),
    "sd3.5-medium-diffusers": ("sd3.5-medium (diffusers) model",
                               "transformer_blocks.0.attn2.to_q.weight"),
    "sd3-medium-diffusers": ("sd3-medium (diffusers) model", "pos_embed.pos_embed [1, 36864, 4]"),
    "clip-l-no-text-model-prefix": ("clip-l text encoder (no text_model. prefix)",
                                    "embeddings.token_embedding.weight [49408, 768]"),
    "clip-g-no-text-model-prefix": ("clip-g text encoder (no text_model. prefix)",
                                    "embeddings.token_embedding.weight [49408, 1280]"),
    "kandinsky-movq": ("movq vae", "decoder.conv_norm_out.conv_y.weight"),
    "kandinsky2.1-decoder-diffusers": ("kandinsky2.1 decoder unet (diffusers)",
                                       "add_embedding.image_proj.weight [1536, 768]"),
    "kandinsky2.1-decoder-original": ("kandinsky2.1 decoder unet (original)", "clip_to_seq.weight"),
    "kandinsky2.2-decoder": ("kandinsky2.2 decoder unet",
                             "add_embedding.image_proj.weight [1536, 1280]"),
    "kandinsky2.2-controlnet-decoder": ("kandinsky2.2 controlnet decoder unet",
                                        "add_embedding.input_hint_block.0.weight"),
    "kandinsky2.2-prior": ("kandinsky2.2 prior", "proj_to_clip_embeddings.weight [1280, 2048]"),
    "768-wide-prior": ("768-wide diffusion prior",
                       "Kandinsky 2.1 and unCLIP (Karlo) priors share this layout"),
    "kandinsky3-unet-diffusers": ("kandinsky3 unet (diffusers)",
                                  "encoder_hid_proj.projection_linear.weight"),
    "kandinsky3-unet-original": ("kandinsky3 unet (original)", "projection_lin.weight"),
}


_identify, _rule = identify_shapes, rule_of
ALL = CASES | UNBUNDLED_CASES


@pytest.mark.parametrize("name", sorted(DECISIVE))
def test_the_decisive_key_is_named(name: str) -> None:
    tensors, arch, model_type = ALL[name]
    rule_name, evidence = DECISIVE[name]
    found = _identify(tensors)
    assert (found.architecture, found.model_type) == (arch, model_type), found
    assert _rule(found) == rule_name, found
    assert evidence in found.evidence, found


@pytest.mark.parametrize("name", ["sdxl-control-lora", "sd15-t2i-adapter-depth",
                                  "siglip-so400m-patch14-384", "sdxl-inpainting-unet",
                                  "sd3.5-large", "kandinsky2.2-decoder",
                                  "clip-l-no-text-model-prefix"])
def test_through_a_real_file(tmp_path: Path, name: str) -> None:
    read_header = pytest.importorskip("modelshelf.formats").read_header
    tensors, arch, model_type = ALL[name]
    path = write_safetensors(tmp_path / f"{name}.safetensors", tensors)
    found = identify(read_header(path))
    assert (found.architecture, found.model_type, _rule(found)) == (
        arch, model_type, DECISIVE[name][0])


# --- near misses ---------------------------------------------------------------------------------

@pytest.mark.parametrize("tensors, rule_name", [
    (sd_unet("sdxl", tiny=True), "sdxl unet model (ldm)"),
    (sd_unet("sd15", tiny=True), "sd15 unet model (ldm)"),
    (sd_unet_diffusers("sd2", tiny=True), "sd2 unet model (diffusers)"),
], ids=["sdxl", "sd15", "sd2-diffusers"])
def test_a_four_channel_unet_is_not_a_variant(tensors: Shapes, rule_name: str) -> None:
    found = _identify(tensors)
    assert _rule(found) == rule_name, found
    assert not any("input channels" in e for e in found.evidence)


def test_an_eight_channel_unet_is_the_plain_family() -> None:
    """Only the widths InvokeAI names (9 inpainting, 5 depth) make a variant; others stay plain."""
    tensors = CASES["sdxl-inpainting-unet"][0] | {"input_blocks.0.0.weight": (320, 8, 3, 3)}
    assert _rule(_identify(tensors)) == "sdxl unet model (ldm)"


def test_a_controlnet_is_not_a_control_lora() -> None:
    found = _identify(sd_controlnet("sdxl", tiny=True))
    assert (found.architecture, _rule(found)) == ("sdxl", "sdxl controlnet (ldm)")


def test_a_control_lora_without_its_marker_names_no_base() -> None:
    tensors = {k: v for k, v in CASES["sdxl-control-lora"][0].items() if k != "lora_controlnet"}
    found = _identify(tensors)
    assert (found.architecture, found.model_type) == ("unknown", "controlnet"), found


def test_an_adapter_of_unknown_input_width_is_not_a_t2i_adapter() -> None:
    """12 = 3 x 2²: neither SD1.x's 8x nor SDXL's 16x pixel-unshuffle."""
    tensors = CASES["sd15-t2i-adapter-depth"][0] | {"conv_in.weight": (320, 12, 3, 3)}
    found = _identify(tensors)
    assert found.model_type != "controlnet" and found.architecture == "unknown", found


def test_clip_vision_is_not_siglip() -> None:
    found = _identify(clip_vision_h())
    assert (found.architecture, found.model_type) == ("clip-vit-h", "clip_vision")


def test_a_whole_siglip_model_is_not_a_vision_tower() -> None:
    found = _identify(CASES["siglip-so400m-patch14-384"][0] | CASES["full-siglip"][0])
    assert (found.architecture, found.model_type, _rule(found)) == (
        "siglip", "other", "full siglip (text + vision)")


def test_a_motion_module_showing_one_level_names_no_base() -> None:
    tensors = {"down_blocks.0.motion_modules.0.temporal_transformer.norm.weight": (320,)}
    assert _identify(tensors).architecture == "unknown"


def test_motion_modules_inside_a_sparsectrl_do_not_make_a_motion_module() -> None:
    found = _identify(CASES["sd15-sparsectrl-rgb"][0])
    assert (found.model_type, _rule(found)) == ("controlnet", "sd15 sparsectrl controlnet")
