"""Every factory example and hand-written case is identified as what it is; every rule in the
tables is exercised by at least one of them (or by the corpus of real key layouts)."""

from __future__ import annotations

import pytest
from identify_cases import CASES, UNBUNDLED_CASES

from modelshelf.identify import identify
from modelshelf.identify.rules import RULES
from modelshelf.testing.factories import (
    EXAMPLES,
    corpus_names,
    header_from_shapes,
    load_corpus,
)

CHECKPOINT_PARTS = {"first_stage_model.encoder.conv_in.weight": (128, 3, 3, 3)}


def _wrap_as_checkpoint(tensors: dict[str, tuple[int, ...]]) -> dict[str, tuple[int, ...]]:
    """A bare model as ComfyUI/A1111 bundle it: under model.diffusion_model. with a VAE."""
    prefix = "model.diffusion_model."
    bare = {k.removeprefix("net."): v for k, v in tensors.items()}
    return {prefix + k: v for k, v in bare.items()} | CHECKPOINT_PARTS


ORIGINAL_NAMING_MODELS = [
    name for name, ex in EXAMPLES.items()
    if ex.model_type == "diffusion_models" and "diffusers" not in name
]
ORIGINAL_NAMING_CASES = [
    name for name, (_, _, model_type) in CASES.items()
    if model_type == "diffusion_models" and "diffusers" not in name
]


@pytest.mark.parametrize("tiny", [False, True], ids=["full", "tiny"])
@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_example(name: str, tiny: bool) -> None:
    ex = EXAMPLES[name]
    found = identify(header_from_shapes(ex.build(tiny)))
    assert (found.architecture, found.model_type) == (ex.architecture, ex.model_type), found
    assert 0 < found.confidence <= 1
    assert found.evidence


@pytest.mark.parametrize("name", ORIGINAL_NAMING_MODELS)
def test_bare_model_inside_a_checkpoint(name: str) -> None:
    ex = EXAMPLES[name]
    found = identify(header_from_shapes(_wrap_as_checkpoint(ex.build(True))))
    assert (found.architecture, found.model_type) == (ex.architecture, "checkpoints"), found


@pytest.mark.parametrize("name", sorted(CASES | UNBUNDLED_CASES))
def test_case(name: str) -> None:
    tensors, arch, model_type = (CASES | UNBUNDLED_CASES)[name]
    found = identify(header_from_shapes(tensors))
    assert (found.architecture, found.model_type) == (arch, model_type), found


@pytest.mark.parametrize("name", ORIGINAL_NAMING_CASES)
def test_case_inside_a_checkpoint(name: str) -> None:
    tensors, arch, _ = CASES[name]
    found = identify(header_from_shapes(_wrap_as_checkpoint(tensors)))
    assert (found.architecture, found.model_type) == (arch, "checkpoints"), found


def _first_rule(tensors: dict[str, tuple[int, ...]]) -> str:
    return identify(header_from_shapes(tensors)).evidence[0].removeprefix("rule: ")


def test_every_rule_is_exercised() -> None:
    """A rule nobody tests is a rule nobody knows works: each must decide at least one key set."""
    decided = {_first_rule(ex.build(True)) for ex in EXAMPLES.values()}
    decided |= {_first_rule(ex.build(False)) for ex in EXAMPLES.values()}
    decided |= {_first_rule(_wrap_as_checkpoint(EXAMPLES[n].build(True)))
                for n in ORIGINAL_NAMING_MODELS}
    decided |= {_first_rule(t) for t, _, _ in (CASES | UNBUNDLED_CASES).values()}
    decided |= {_first_rule(_wrap_as_checkpoint(CASES[n][0])) for n in ORIGINAL_NAMING_CASES}
    decided |= {_first_rule(load_corpus(n)[0]) for n in corpus_names()}
    untested = [r.name for r in RULES if r.name not in decided]
    assert not untested, untested


def test_rule_names_are_unique() -> None:
    names = [r.name for r in RULES]
    assert len(names) == len(set(names))


def test_bare_model_with_checkpoint_prefix_but_no_vae_is_a_diffusion_model() -> None:
    tensors = {"model.diffusion_model." + k: v for k, v in EXAMPLES["sdxl-unet"].build(True).items()}
    found = identify(header_from_shapes(tensors))
    assert (found.architecture, found.model_type) == ("sdxl", "diffusion_models")
