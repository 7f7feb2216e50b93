"""Models that declare what they are: GGUF metadata, transformers config.json, diffusers
model_index.json — and how declarations and key rules combine."""

from __future__ import annotations

from identify_cases import CASES

from modelshelf.identify import identify
from modelshelf.testing.factories import (
    decoder_lm_tensors,
    diffusers_model_index,
    flux_dev_transformer,
    header_from_shapes,
    llama_gguf_metadata,
    llama_gguf_tensors,
    sd_unet_diffusers,
    sd_vae,
    transformers_config,
)


def _gguf(arch: str, tensors: dict[str, tuple[int, ...]] | None = None):
    return header_from_shapes(tensors if tensors is not None else llama_gguf_tensors(),
                              format="gguf", dtype="F16", metadata=llama_gguf_metadata(arch))


def test_gguf_language_model() -> None:
    found = identify(_gguf("llama"))
    assert (found.architecture, found.model_type) == ("llama", "llm")
    assert found.confidence >= 0.9
    assert "GGUF general.architecture=llama" in found.evidence


def test_gguf_any_new_architecture_is_an_llm_named_as_declared() -> None:
    assert identify(_gguf("qwen3moe")).architecture == "qwen3moe"


def test_gguf_encoders_are_not_llms() -> None:
    assert identify(_gguf("bert")).model_type == "other"
    assert identify(_gguf("t5encoder")).model_type == "text_encoders"


def test_gguf_diffusion_model_is_decided_by_its_keys() -> None:
    found = identify(_gguf("flux", flux_dev_transformer(tiny=True)))
    assert (found.architecture, found.model_type) == ("flux-dev", "diffusion_models")


def test_gguf_diffusion_tag_is_the_fallback() -> None:
    found = identify(_gguf("sd1", {"some.renamed.weight": (4, 4)}))
    assert (found.architecture, found.model_type) == ("sd15", "diffusion_models")
    assert found.confidence <= 0.7


def test_transformers_causal_lm() -> None:
    header = header_from_shapes(decoder_lm_tensors(), format="transformers",
                                config=transformers_config("qwen2", ["Qwen2ForCausalLM"]))
    found = identify(header)
    assert (found.architecture, found.model_type) == ("qwen2", "llm")


def test_transformers_encoder_only_model_is_other() -> None:
    header = header_from_shapes({"embeddings.word_embeddings.weight": (30522, 384)},
                                format="transformers",
                                config=transformers_config("bert", ["BertModel"]))
    assert (identify(header).architecture, identify(header).model_type) == ("bert", "other")


def test_transformers_text_encoder_keys_refine_the_config() -> None:
    header = header_from_shapes(
        {"text_model.embeddings.token_embedding.weight": (49408, 768)}, format="transformers",
        config=transformers_config("clip_text_model", ["CLIPTextModel"]))
    found = identify(header)
    assert (found.architecture, found.model_type) == ("clip-l", "text_encoders")


def test_transformers_config_alone() -> None:
    header = header_from_shapes({}, format="transformers",
                                config=transformers_config("t5", ["T5EncoderModel"]))
    assert (identify(header).architecture, identify(header).model_type) == ("t5", "text_encoders")


def _pipeline(cls: str, **components):
    return header_from_shapes({}, format="diffusers", config=diffusers_model_index(cls),
                              components=components)


def test_diffusers_pipeline_decided_by_its_unet() -> None:
    unet = header_from_shapes(sd_unet_diffusers("sdxl", tiny=True),
                              config={"_class_name": "UNet2DConditionModel"})
    found = identify(_pipeline("StableDiffusionXLPipeline", unet=unet))
    assert (found.architecture, found.model_type) == ("sdxl", "checkpoints")
    assert found.evidence[0] == "model_index.json _class_name=StableDiffusionXLPipeline"


def test_diffusers_pipeline_refined_by_component_config() -> None:
    transformer = header_from_shapes({}, config={"guidance_embeds": False})
    found = identify(_pipeline("FluxPipeline", transformer=transformer))
    assert (found.architecture, found.model_type) == ("flux-schnell", "checkpoints")


def test_diffusers_pipeline_family_only() -> None:
    assert identify(_pipeline("FluxPipeline")).architecture == "flux"
    unknown = identify(_pipeline("SomeNewPipeline"))
    assert (unknown.architecture, unknown.model_type) == ("unknown", "checkpoints")


def test_diffusers_component_class_fills_what_shapes_cannot() -> None:
    tensors, _, _ = CASES["wan2.1-vae"]
    header = header_from_shapes(tensors, config={"_class_name": "AutoencoderKLQwenImage"})
    found = identify(header)
    assert (found.architecture, found.model_type) == ("qwen-image", "vae")


def test_diffusers_vae_stays_unknown_without_a_signal() -> None:
    header = header_from_shapes(sd_vae(tiny=True), config={"_class_name": "AutoencoderKL"})
    assert identify(header).architecture == "unknown"


def test_an_uninformative_component_class_keeps_the_rule_and_reads_metadata() -> None:
    header = header_from_shapes(sd_vae(tiny=True), config={"_class_name": "AutoencoderKL"},
                                metadata={"modelspec.architecture": "stable-diffusion-v1/vae"})
    found = identify(header)
    assert (found.architecture, found.model_type) == ("sd15", "vae")
    assert found.evidence[0] == "rule: sd-family vae"


def test_malformed_declarations_do_not_crash() -> None:
    odd = [
        header_from_shapes({}, format="transformers",
                           config={"model_type": "llama", "architectures": "LlamaForCausalLM"}),
        header_from_shapes({}, format="transformers", config={"model_type": 42}),
        header_from_shapes({}, format="gguf", metadata={"general.architecture": ["llama"]}),
        header_from_shapes({}, format="diffusers", config={"_class_name": 7}),
    ]
    for header in odd:
        found = identify(header)
        assert found.model_type in {"other", "llm"} and 0 <= found.confidence <= 1
