"""The rule engine and the LoRA view on their own."""

from __future__ import annotations

from modelshelf.identify.engine import A, K, P, R, View, match, rule
from modelshelf.identify.lora import lora_view, module_key
from modelshelf.testing.factories import header_from_shapes


def _view(shapes: dict[str, tuple[int, ...]]) -> View:
    return View(shapes)


def test_all_conditions_must_hold_under_one_prefix() -> None:
    r = rule("t", "x", "other", 1.0, all_of=(K("a"), K("b")), prefixes=("", "p."))
    assert match(r, _view({"a": (1,), "p.b": (1,)})) is None  # a bare, b prefixed: no
    assert match(r, _view({"p.a": (1,), "p.b": (1,)})) == ("p.a", "p.b")


def test_absolute_keys_ignore_the_prefix() -> None:
    r = rule("t", "x", "other", 1.0, all_of=(K("a"),), any_of=(A("vae."),), prefixes=("m.",))
    assert match(r, _view({"m.a": (1,), "vae.w": (1,)})) == ("m.a", "vae.w")


def test_shapes_with_negative_axes_and_rank() -> None:
    r = rule("t", "x", "other", 1.0, all_of=(K("w", dims={-1: 768}, ndim=2),))
    assert match(r, _view({"w": (4, 768)})) == ("w [4, 768]",)
    assert match(r, _view({"w": (4, 1, 768)})) is None
    assert match(r, _view({"w": ()})) is None


def test_regex_finds_a_key_with_the_right_shape_among_several() -> None:
    r = rule("t", "x", "other", 1.0, all_of=(R(r"blk\.\d+\.w", dims={0: 8}),))
    evidence = match(r, _view({"blk.0.w": (4,), "blk.1.w": (8,), "blk.x.w": (8,)}))
    assert evidence == ("blk.1.w [8]",)


def test_groups_and_exclusions() -> None:
    r = rule("t", "x", "other", 1.0, any_of=[[K("a"), K("b")], [P("c.")]], none_of=(K("d"),),
             note="why")
    assert match(r, _view({"b": (1,), "c.1": (1,)})) == ("b", "c.1", "no d", "why")
    assert match(r, _view({"b": (1,)})) is None
    assert match(r, _view({"b": (1,), "c.1": (1,), "d": (1,)})) is None


def test_module_keys_unify_lora_flavours() -> None:
    assert module_key("lora_unet_double_blocks_0_img_attn_proj") == \
        "unet:double_blocks_0_img_attn_proj"
    assert module_key("diffusion_model.double_blocks.0.img_attn.proj") == \
        "unet:double_blocks_0_img_attn_proj"
    assert module_key("transformer.single_transformer_blocks.0.attn.to_k") == \
        "unet:single_transformer_blocks_0_attn_to_k"
    assert module_key("lora_te2_text_model_encoder_layers_0_mlp_fc1") == \
        "te2:text_model_encoder_layers_0_mlp_fc1"


def test_lora_view_dimensions() -> None:
    header = header_from_shapes({
        "lora_unet_a.lora_down.weight": (8, 768, 1, 1), "lora_unet_a.lora_up.weight": (320, 8),
        "b.lokr_w1": (4, 8), "b.lokr_w2": (80, 96), "b.alpha": (),
        "c.hada_w1_a": (64, 4), "c.hada_w1_b": (4, 32),
        "d.lokr_w1_a": (2, 3), "d.lokr_w1_b": (3, 5), "d.lokr_w2": (7, 11),
        "x.processor.qkv_lora1.down.weight": (16, 3072),
        "x.processor.qkv_lora1.up.weight": (9216, 16),
    })
    view = lora_view(header.tensors)
    assert view == {
        "unet:a": (320, 768), "unet:b": (320, 768), "unet:c": (64, 32), "unet:d": (14, 55),
        "unet:x_processor_qkv_lora1": (9216, 3072),
    }


def test_lora_view_needs_a_majority_of_lora_tensors() -> None:
    header = header_from_shapes({"a.weight": (4, 4), "b.weight": (4, 4),
                                 "c.lora_down.weight": (2, 4)})
    assert lora_view(header.tensors) is None
    assert lora_view({}) is None


def test_literal_prefix_never_narrows_too_much() -> None:
    from modelshelf.identify.engine import literal_prefix

    assert literal_prefix(r"input_blocks\.\d+\.1") == "input_blocks."
    assert literal_prefix(r"abc?d") == "ab"
    assert literal_prefix(r"a(?:b|c)") == "a"
    assert literal_prefix(r"ab|cd") == ""
    assert literal_prefix(r"[|]x") == ""
    r = rule("t", "x", "other", 1.0, all_of=(R(r"ab|cd"),))
    assert match(r, _view({"cd": (1,)})) == ("cd",)
