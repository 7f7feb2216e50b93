"""Honesty: unknown key sets stay unknown, partial key sets never give a confidently wrong answer,
and metadata only fills what the keys could not say."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from modelshelf.identify import identify
from modelshelf.testing.factories import EXAMPLES, header_from_shapes, kohya_lora, sd_vae

MODEL_TYPES = {"checkpoints", "diffusion_models", "vae", "loras", "text_encoders", "clip_vision",
               "controlnet", "ipadapter", "embeddings", "upscale_models", "llm", "other"}
FAMILY = {"flux-dev": "flux", "flux-schnell": "flux"}

RESNET50 = {  # torchvision resnet50: a real model, but none of ours
    "conv1.weight": (64, 3, 7, 7), "bn1.weight": (64,), "bn1.running_mean": (64,),
    "layer1.0.conv1.weight": (64, 64, 1, 1), "layer4.2.conv3.weight": (2048, 512, 1, 1),
    "fc.weight": (1000, 2048), "fc.bias": (1000,),
}


def test_empty_header_is_unknown() -> None:
    found = identify(header_from_shapes({}))
    assert (found.architecture, found.model_type, found.confidence) == ("unknown", "other", 0.0)


def test_unrelated_real_model_is_unknown() -> None:
    found = identify(header_from_shapes(RESNET50))
    assert (found.architecture, found.model_type, found.confidence) == ("unknown", "other", 0.0)
    assert found.evidence  # says that nothing matched


@settings(max_examples=60, deadline=None)
@given(st.dictionaries(
    st.text(alphabet="abcdefghij_.0123456789", min_size=1, max_size=40),
    st.lists(st.integers(min_value=0, max_value=5000), max_size=4).map(tuple),
    max_size=40,
))
def test_random_key_sets_are_unknown(tensors: dict[str, tuple[int, ...]]) -> None:
    found = identify(header_from_shapes(tensors))
    assert found.model_type in MODEL_TYPES
    assert (found.architecture, found.confidence) == ("unknown", 0.0) or found.confidence <= 0.5


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_partial_key_sets_are_never_confidently_wrong(name: str) -> None:
    ex = EXAMPLES[name]
    tensors = ex.build(True)
    rng = random.Random(name)
    for _ in range(25):
        keep = {k: v for k, v in tensors.items() if rng.random() < 0.5}
        found = identify(header_from_shapes(keep))
        assert found.model_type in MODEL_TYPES
        honest = {ex.architecture, FAMILY.get(ex.architecture), "unknown"}
        assert found.architecture in honest or found.confidence < 0.9, (sorted(keep), found)


def test_flux_dev_missing_guidance_is_not_confident_schnell() -> None:
    tensors = {k: v for k, v in EXAMPLES["flux-dev"].build(True).items()
               if not k.startswith("guidance_in.")}
    found = identify(header_from_shapes(tensors))
    assert found.architecture == "flux-schnell" and found.confidence < 0.9


def test_lora_with_unknown_base_is_a_lora_of_unknown_architecture() -> None:
    tensors = {"lora_unet_mystery_block_0.lora_down.weight": (8, 999),
               "lora_unet_mystery_block_0.lora_up.weight": (999, 8)}
    found = identify(header_from_shapes(tensors))
    assert (found.architecture, found.model_type) == ("unknown", "loras")
    assert found.confidence <= 0.5


def test_a_few_merged_lora_keys_do_not_make_a_checkpoint_a_lora() -> None:
    tensors = EXAMPLES["sdxl-checkpoint"].build(True) | {
        "lora_unet_x.lora_down.weight": (8, 64), "lora_unet_x.lora_up.weight": (64, 8)}
    found = identify(header_from_shapes(tensors))
    assert (found.architecture, found.model_type) == ("sdxl", "checkpoints")


def test_sd_vae_is_honestly_unknown_and_says_why() -> None:
    found = identify(header_from_shapes(sd_vae(tiny=True)))
    assert (found.architecture, found.model_type) == ("unknown", "vae")
    assert any("SDXL" in e for e in found.evidence)


@pytest.mark.parametrize("key, value, arch", [
    ("modelspec.architecture", "stable-diffusion-xl-v1-base/vae", "sdxl"),
    ("modelspec.architecture", "stable-diffusion-v1/vae", "sd15"),
])
def test_metadata_names_what_keys_cannot(key: str, value: str, arch: str) -> None:
    found = identify(header_from_shapes(sd_vae(tiny=True), metadata={key: value}))
    assert (found.architecture, found.model_type) == (arch, "vae")
    assert found.confidence <= 0.6
    assert f"metadata {key}={value}" in found.evidence


def test_metadata_never_overrides_keys() -> None:
    header = header_from_shapes(kohya_lora("sd15"),
                                metadata={"ss_base_model_version": "sdxl_base_v1-0"})
    assert identify(header).architecture == "sd15"


def test_metadata_names_a_lora_of_unknown_base() -> None:
    tensors = {"lora_unet_mystery_0.lora_down.weight": (8, 64),
               "lora_unet_mystery_0.lora_up.weight": (64, 8)}
    found = identify(header_from_shapes(tensors, metadata={"ss_base_model_version": "flux1"}))
    assert (found.architecture, found.model_type) == ("flux", "loras")
