"""Identification gaps seen on real layouts (issue 10): Kandinsky 2.x / 3, SD3 releases, CLIP text
encoders saved without ``text_model.``, transformers configs without ``architectures``. The key
that decides each is checked in test_decisive_keys.py; here, the near misses that must not be
taken for them, and the configs."""

from __future__ import annotations

from identify_cases import CASES, UNBUNDLED_CASES, identify_shapes, rule_of

from modelshelf.identify import Identification, identify
from modelshelf.testing.factories import (
    decoder_lm_tensors,
    header_from_shapes,
    sd3_transformer,
    sd_unet_diffusers,
    sd_vae,
    transformers_config,
)

Shapes = dict[str, tuple[int, ...]]
ALL = CASES | UNBUNDLED_CASES
_identify, _rule = identify_shapes, rule_of


def test_sd3_medium_by_its_positions() -> None:
    found = _identify(sd3_transformer())
    assert (found.architecture, _rule(found)) == ("sd3-medium", "sd3-medium model"), found
    assert "pos_embed [1, 36864, 1536]" in found.evidence


# --- near misses ---------------------------------------------------------------------------------

def test_sd3_medium_with_dual_attention_is_sd35_medium() -> None:
    """SD3.5 Medium's MMDiT has SD3 Medium's width; its "x_block.attn2" blocks tell them apart."""
    tensors = sd3_transformer() | {"joint_blocks.0.x_block.attn2.qkv.weight": (12, 4)}
    assert _identify(tensors).architecture == "sd3.5-medium"


def test_sd3_medium_with_a_qk_norm_is_no_known_release() -> None:
    tensors = sd3_transformer() | {"joint_blocks.0.context_block.attn.ln_q.weight": (64,)}
    assert _identify(tensors).architecture == "sd3"


def test_sd3_of_an_unreleased_width_is_the_family() -> None:
    tensors = ALL["sd3.5-large"][0] | {"x_embedder.proj.weight": (1152, 16, 2, 2)}
    found = _identify(tensors)
    assert (found.architecture, _rule(found)) == ("sd3", "sd3 model"), found


def test_a_siglip_text_tower_without_prefix_is_not_clip() -> None:
    """SigLIP's text tower is 768 wide too, with the same bare names; its vocabulary is not
    CLIP's 49408 tokens."""
    tensors = ALL["clip-l-no-text-model-prefix"][0] | {
        "embeddings.token_embedding.weight": (32000, 768), "head.weight": (768, 768)}
    found = _identify(tensors)
    assert found.architecture not in {"clip-l", "clip-g"}, found
    assert found.model_type != "text_encoders", found


def test_an_sdxl_unet_is_not_kandinsky() -> None:
    """SDXL's UNet has an add_embedding too (text_time: linear_1/linear_2)."""
    found = _identify(sd_unet_diffusers("sdxl", tiny=True))
    assert found.architecture == "sdxl", found


def test_an_image_conditioned_unet_of_another_width_names_no_kandinsky() -> None:
    tensors = ALL["kandinsky2.2-decoder"][0] | {"add_embedding.image_proj.weight": (1536, 1024)}
    assert not _identify(tensors).architecture.startswith("kandinsky")


def test_a_2_1_decoder_is_not_a_2_2_decoder() -> None:
    """Both have an image projection; only 2.1 adds the text embedding to the time embedding."""
    tensors = ALL["kandinsky2.1-decoder-diffusers"][0] | {
        "add_embedding.image_proj.weight": (1536, 1280), "add_embedding.image_norm.weight": (1536,)}
    assert _identify(tensors).architecture != "kandinsky2.2"


def test_an_sd_vae_is_not_a_movq() -> None:
    found = _identify(sd_vae(tiny=True))
    assert _rule(found) == "sd-family vae", found


# --- transformers config.json without "architectures" ------------------------------------------

def _transformers(tensors: Shapes, config: dict[str, object]) -> Identification:
    return identify(header_from_shapes(tensors, format="transformers", config=config))


def _without_architectures(model_type: str) -> dict[str, object]:
    config = transformers_config(model_type)
    del config["architectures"]
    return config


def test_llm_config_without_architectures_is_an_llm_named_by_model_type() -> None:
    found = _transformers(decoder_lm_tensors(), _without_architectures("llama"))
    assert (found.architecture, found.model_type) == ("llama", "llm"), found
    assert "config.json model_type=llama (no architectures: by model_type)" in found.evidence


def test_clip_text_config_without_architectures_is_a_text_encoder() -> None:
    found = _transformers(ALL["clip-l-no-text-model-prefix"][0],
                          _without_architectures("clip_text_model"))
    assert (found.architecture, found.model_type) == ("clip-l", "text_encoders"), found


def test_encoder_config_without_architectures_is_not_an_llm() -> None:
    found = _transformers({"embeddings.word_embeddings.weight": (30522, 384)},
                          _without_architectures("bert"))
    assert (found.architecture, found.model_type) == ("bert", "other"), found


def test_listed_architectures_still_decide() -> None:
    """A base LlamaModel (no LM head) is not a causal LM: the list, when given, beats the table."""
    found = _transformers(decoder_lm_tensors(), transformers_config("llama", ["LlamaModel"]))
    assert found.model_type != "llm", found


def test_unknown_model_type_without_architectures_stays_other() -> None:
    found = _transformers({}, _without_architectures("some_new_model"))
    assert found.model_type == "other", found


# --- diffusers pipelines ---------------------------------------------------------------------------

def _pipeline(cls: str, **components: object) -> Identification:
    return identify(header_from_shapes({}, format="diffusers", config={"_class_name": cls},
                                       components=components))


def test_kandinsky3_pipeline_decided_by_its_unet() -> None:
    unet = header_from_shapes(ALL["kandinsky3-unet-diffusers"][0],
                              config={"_class_name": "Kandinsky3UNet"})
    found = _pipeline("Kandinsky3Pipeline", unet=unet)
    assert (found.architecture, found.model_type) == ("kandinsky3", "checkpoints"), found


def test_kandinsky_prior_pipeline_named_by_its_class() -> None:
    """A prior pipeline has no unet/transformer to read: its class names the release."""
    found = _pipeline("KandinskyV22PriorPipeline")
    assert (found.architecture, found.model_type) == ("kandinsky2.2", "checkpoints"), found


def test_sd3_pipeline_names_the_release_of_its_transformer() -> None:
    transformer = header_from_shapes(ALL["sd3.5-medium-diffusers"][0],
                                     config={"_class_name": "SD3Transformer2DModel"})
    found = _pipeline("StableDiffusion3Pipeline", transformer=transformer)
    assert found.architecture == "sd3.5-medium", found
