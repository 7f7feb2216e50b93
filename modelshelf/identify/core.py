"""``identify(header)``: what a model is, from what its header says — never from its file name.

The order of trust:
1. What a model declares about itself and cannot get wrong: a diffusers pipeline's class, a
   transformers causal-LM config, a GGUF language model's ``general.architecture``.
2. The key-and-shape rules (``identify/rules``): LoRA-like files through the LoRA view, all
   others through their tensors.
3. Declarations that only name a family or a type (a diffusers component class, a GGUF
   diffusion tag, an encoder's config), then trainer metadata (``modelspec.architecture``,
   ``ss_base_model_version``) — used only to fill an architecture the keys could not name.
Anything else is ``unknown`` / ``other`` with confidence 0: a wrong confident answer costs a user
more than an honest "unknown".
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from modelshelf.formats.base import ModelHeader, tensor_shapes
from modelshelf.identify.engine import View, ViewName
from modelshelf.identify.lora import lora_view
from modelshelf.identify.rules import RULES
from modelshelf.identify.rules import configs as cfg


@dataclass(frozen=True)
class Identification:
    """The answer: SPEC.md vocabulary words, how sure, and which keys/shapes decided."""

    architecture: str  # SPEC vocabulary; "unknown" when unsure
    model_type: str  # checkpoints, diffusion_models, vae, loras, ..., llm, other
    confidence: float  # 0..1
    evidence: tuple[str, ...]


UNKNOWN = Identification("unknown", "other", 0.0, ("no identification rule matched",))
_MAX_EVIDENCE = 12  # a rule with many none_of keys should not flood `info --json`


def identify(header: ModelHeader) -> Identification:
    """Identify a model from its header (tensors, metadata, config, components)."""
    found = _declared(header)
    if found is not None:
        return found
    found = _by_rules(header)
    if found is None:
        return _declared_hint(header) or UNKNOWN
    if found.architecture == "unknown":
        hint = _declared_hint(header)
        if hint is not None and hint.architecture != "unknown" and (
            hint.model_type == found.model_type
        ):
            return replace(hint, evidence=found.evidence + hint.evidence)
        return _from_metadata(found, header.metadata)
    return found


# --- 1. declarations -------------------------------------------------------------------------

def _declared(header: ModelHeader) -> Identification | None:
    for step in (_diffusers_pipeline, _transformers_llm, _gguf_language_model):
        found = step(header)
        if found is not None:
            return found
    return None


def _diffusers_pipeline(header: ModelHeader) -> Identification | None:
    cls = header.config.get("_class_name")
    if not isinstance(cls, str) or not cls.endswith("Pipeline"):
        return None
    evidence = [f"model_index.json _class_name={cls}"]
    arch = cfg.DIFFUSERS_PIPELINES.get(cls, "unknown")
    for name in ("transformer", "unet"):
        component = header.components.get(name)
        if component is None:
            continue
        sub = identify(component)
        if sub.architecture != "unknown":
            evidence.append(f"{name}: {sub.architecture}")
            evidence.extend(f"{name}/{e}" for e in sub.evidence[:4])
            return Identification(sub.architecture, "checkpoints", 0.95, tuple(evidence))
    refine = cfg.DIFFUSERS_REFINE.get(cls)
    if refine is not None:
        name, key, table = refine
        component = header.components.get(name)
        value = component.config.get(key) if component is not None else None
        if value in table:
            evidence.append(f"{name}/config.json {key}={value}")
            return Identification(table[value], "checkpoints", 0.9, tuple(evidence))
    conf = 0.85 if arch != "unknown" else 0.6
    return Identification(arch, "checkpoints", conf, tuple(evidence))


def _transformers_type(config: Mapping[str, Any]) -> tuple[str, str] | None:
    """(model_type word, evidence) from a transformers config.json, or None."""
    model_type = config.get("model_type")
    if not isinstance(model_type, str) or "_class_name" in config:
        return None
    listed = config.get("architectures")
    classes = [c for c in listed if isinstance(c, str)] if isinstance(listed, list | tuple) else []
    for c in classes:
        word = cfg.TRANSFORMERS_CLASSES.get(c) or next(
            (w for suffix, w in cfg.TRANSFORMERS_SUFFIXES if c.endswith(suffix)), None
        )
        if word is not None:
            return word, c
    if not classes and model_type in cfg.TRANSFORMERS_MODEL_TYPES:
        return cfg.TRANSFORMERS_MODEL_TYPES[model_type], "no architectures: by model_type"
    return "other", ",".join(classes) or "no architectures"


def _transformers_llm(header: ModelHeader) -> Identification | None:
    found = _transformers_type(header.config)
    if found is None or found[0] != "llm":
        return None
    arch = header.config["model_type"]
    return Identification(arch, "llm", 0.95, (f"config.json model_type={arch} ({found[1]})",))


def _gguf_architecture(header: ModelHeader) -> str | None:
    arch = header.metadata.get("general.architecture") or header.architecture
    return arch if header.format == "gguf" and isinstance(arch, str) and arch else None


def _gguf_language_model(header: ModelHeader) -> Identification | None:
    arch = _gguf_architecture(header)
    if arch is None or arch in cfg.GGUF_DIFFUSION:
        return None
    model_type = cfg.GGUF_ENCODERS.get(arch, "llm")
    return Identification(arch, model_type, 0.95, (f"GGUF general.architecture={arch}",))


# --- 2. rules --------------------------------------------------------------------------------

def _tensor_view(header: ModelHeader) -> View | None:
    return View(tensor_shapes(header.tensors))


def _adapter_view(header: ModelHeader) -> View | None:
    modules = lora_view(header.tensors)
    return View(modules) if modules is not None else None


_VIEWS: dict[ViewName, Callable[[ModelHeader], View | None]] = {
    "tensors": _tensor_view, "lora": _adapter_view,
}


def _by_rules(header: ModelHeader) -> Identification | None:
    if not header.tensors:
        return None
    views: dict[str, View | None] = {}  # built lazily: most files never need the LoRA view

    def view_of(name: ViewName) -> View | None:
        if name not in views:
            views[name] = _VIEWS[name](header)
        return views[name]

    found = RULES.first_match(view_of)
    if found is not None:
        rule, evidence = found
        return Identification(rule.architecture, rule.model_type, rule.confidence,
                              (f"rule: {rule.name}", *evidence[:_MAX_EVIDENCE]))
    if views.get("lora") is not None:
        return Identification("unknown", "loras", 0.5,
                              ("LoRA-style keys, but no rule names the base model",))
    return None


# --- 3. hints ----------------------------------------------------------------------------------

def _declared_hint(header: ModelHeader) -> Identification | None:
    """Family/type declarations that do not settle the architecture on their own."""
    cls = header.config.get("_class_name")
    if isinstance(cls, str) and cls in cfg.DIFFUSERS_COMPONENTS:
        model_type, arch = cfg.DIFFUSERS_COMPONENTS[cls]
        return Identification(arch, model_type, 0.7 if arch != "unknown" else 0.5,
                              (f"config.json _class_name={cls}",))
    found = _transformers_type(header.config)
    if found is not None:
        arch = header.config["model_type"]
        return Identification(arch, found[0], 0.8, (f"config.json model_type={arch} ({found[1]})",))
    gguf_arch = _gguf_architecture(header)
    if gguf_arch is not None and gguf_arch in cfg.GGUF_DIFFUSION:
        return Identification(cfg.GGUF_DIFFUSION[gguf_arch], "diffusion_models", 0.7,
                              (f"GGUF general.architecture={gguf_arch}",))
    return None


def _from_metadata(found: Identification, metadata: Mapping[str, Any]) -> Identification:
    for key, pattern, arch in cfg.METADATA_HINTS:
        value = metadata.get(key)
        if isinstance(value, str) and pattern.search(value):
            return replace(
                found, architecture=arch, confidence=min(found.confidence, 0.6),
                evidence=(*found.evidence, f"metadata {key}={value}"),
            )
    return found
