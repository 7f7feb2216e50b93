"""Rule gates are only a shortcut: a rule answers the same with and without them."""

from __future__ import annotations

import dataclasses
import inspect
import random
from collections.abc import Iterator

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from modelshelf.identify import engine
from modelshelf.identify.engine import A, K, P, R, Rule, RuleTable, View, match, rule
from modelshelf.identify.lora import lora_view
from modelshelf.identify.rules import RULES
from modelshelf.testing import factories
from modelshelf.testing.factories import corpus_names, header_from_shapes, load_corpus

Shapes = dict[str, tuple[int, ...]]


def _ungated(r: Rule) -> Rule:
    twin = dataclasses.replace(r)
    object.__setattr__(twin, "gates", ())
    object.__setattr__(twin, "head_gates", ())
    return twin


def _layouts() -> Iterator[Shapes]:
    """Every real key list, every factory layout, and prefixed / thinned variants of them."""
    for name in corpus_names():
        yield {k: tuple(s) for k, s in load_corpus(name)[0].items()}
    for name, fn in inspect.getmembers(factories, inspect.isfunction):
        params = inspect.signature(fn).parameters
        if name.startswith("_") or "tiny" not in params or any(
                p.default is p.empty for n, p in params.items() if n != "tiny"):
            continue
        yield dict(fn(tiny=True))
    for base in ("sd15", "sdxl", "flux"):
        yield dict(factories.kohya_lora(base))
        yield dict(factories.peft_lora(base))


LAYOUTS = list(_layouts())


def _variants(shapes: Shapes, rnd: random.Random) -> Iterator[Shapes]:
    yield shapes
    keys = list(shapes)
    for prefix in ("model.diffusion_model.", "first_stage_model.", "params_ema.", ""):
        kept = rnd.sample(keys, max(1, len(keys) // 2))
        yield {prefix + k: shapes[k] for k in kept}


def _views(shapes: Shapes) -> dict[str, View | None]:
    lora = lora_view(header_from_shapes(shapes).tensors)
    return {"tensors": View(shapes), "lora": View(lora) if lora is not None else None}


@pytest.mark.parametrize("index", range(len(LAYOUTS)))
def test_gated_and_ungated_rules_agree(index: int) -> None:
    rnd = random.Random(index)
    for shapes in _variants(LAYOUTS[index], rnd):
        views = _views(shapes)
        for r in RULES:
            view = views[r.view]
            if view is not None:
                assert match(r, view) == match(_ungated(r), View(view.shapes)), r.name


def test_gates_are_built_from_exact_keys_and_fixed_first_components() -> None:
    r = rule("t", "x", "other", 1.0, all_of=(K("a.w"), P("blk."), R(r"\d+\.w")),
             any_of=[[K("b"), A("vae.")], [K("c"), K("d")]], prefixes=("", "m."))
    assert r.gates == (frozenset({"a.w", "m.a.w"}), frozenset({"c", "m.c", "d", "m.d"}))
    # blk. -> "blk" or "m"; the regex fixes no first component; b|vae. -> "b", "m", "vae"
    assert r.head_gates == (frozenset({"blk", "m"}), frozenset({"b", "m", "vae"}))
    assert match(r, View({"m.a.w": (1,), "m.blk.0": (1,), "m.1.w": (1,), "vae.x": (1,),
                          "m.d": (1,)})) is not None
    assert match(r, View({"a.w": (1,), "blk.0": (1,), "1.w": (1,), "b": (1,)})) is None


def test_gates_are_not_part_of_a_rules_identity() -> None:
    r = rule("t", "x", "other", 1.0, all_of=(K("a"),))
    assert r == _ungated(r) and hash(r) == hash(_ungated(r))
    assert "gates" not in repr(r)


def _first_by_trying_every_rule(views: dict[str, View | None]) -> tuple[str, tuple[str, ...]] | None:
    for r in RULES:
        view = views[r.view]
        if view is not None and (evidence := match(r, view)) is not None:
            return r.name, evidence
    return None


@pytest.mark.parametrize("index", range(len(LAYOUTS)))
def test_the_rule_index_picks_the_rule_trying_every_rule_would(index: int) -> None:
    """``RuleTable.first_match`` skips rules by index; the winner and evidence must not move."""
    rnd = random.Random(index)
    for shapes in _variants(LAYOUTS[index], rnd):
        views = _views(shapes)
        found = RULES.first_match(views.__getitem__)
        expected = _first_by_trying_every_rule(views)
        assert (None if found is None else (found[0].name, found[1])) == expected


def test_the_rule_index_tries_only_rules_a_file_can_match() -> None:
    """A small unrelated file meets few rules: most are ruled out without calling ``match``."""
    tried: list[str] = []
    table = RuleTable(RULES)
    shapes = {f"model.layers.{i}.mlp.up_proj.weight": (8, 16) for i in range(40)}
    original = engine.match

    def counting(r: Rule, view: View) -> tuple[str, ...] | None:
        tried.append(r.name)
        return original(r, view)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(engine, "match", counting)
        assert table.first_match(lambda name: View(shapes) if name == "tensors" else None) is None
    assert 0 < len(tried) < len(RULES) // 4


@settings(max_examples=300, deadline=None)
@given(st.lists(st.text(alphabet="ab.-/_0", max_size=8), max_size=30))
def test_a_views_heads_are_every_names_first_component(names: list[str]) -> None:
    """The heads are found a run of names at a time ("a", "a-b.x", "a.c" sort in that order:
    the run under ``a.`` is not everything after ``a``)."""
    view = View(dict.fromkeys(names, (1,)))
    assert view.heads == {name.partition(".")[0] for name in names}
