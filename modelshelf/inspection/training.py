"""What a model's own metadata says about how it was trained, under plain names.

LoRA trainers write it as strings in the safetensors ``__metadata__``: kohya's ``ss_*`` keys
(``ss_sd_model_name``, ``ss_resolution``, ``ss_clip_skip``, ``ss_max_train_steps``,
``ss_tag_frequency`` ...) and the Stability model spec's ``modelspec.*``; Civitai keeps its own
record of a version (``baseModel``, ``trainedWords``). Users want the answers, not the keys:
which base model, at what resolution, with which clip skip, for how many steps, and the words
that trigger it. The table :data:`FIELDS` says which key answers which question, first found
wins; values are parsed leniently (kohya writes ``"None"`` for unset, numbers as strings,
resolutions as ``"(1024, 1024)"`` or ``"1024,1024"``) and anything unparseable is left out.
Trigger words come from Civitai's ``trainedWords`` or the spec's trigger phrase when given,
else from the most frequent tags of kohya's tag frequency table.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from typing import Any

MAX_TRIGGER_WORDS = 10
_NUMBERS = re.compile(r"\d+")


def _text(value: Any) -> str | None:
    text = str(value).strip() if value is not None else ""
    return text if text and text.lower() not in ("none", "null") else None


def _int(value: Any) -> int | None:
    text = _text(value)
    return int(text) if text is not None and text.lstrip("-").isdigit() else None


def _resolution(value: Any) -> str | None:
    """``(1024, 1024)``, ``1024,1024``, ``1024x1024``, ``512`` -> ``1024x1024`` / ``512x512``."""
    numbers = _NUMBERS.findall(str(value or ""))
    if len(numbers) == 1:
        numbers *= 2
    return "x".join(numbers[:2]) if len(numbers) in (1, 2) else None


def _words(value: Any) -> list[str] | None:
    if isinstance(value, list):
        words = [w.strip() for w in value if isinstance(w, str) and w.strip()]
    else:
        words = [w.strip() for w in (_text(value) or "").split(",") if w.strip()]
    return words[:MAX_TRIGGER_WORDS] or None


def _frequent_tags(value: Any) -> list[str] | None:
    """kohya's ``ss_tag_frequency``: ``{"dataset": {"tag": count}}`` as a JSON string."""
    try:
        table = json.loads(value) if isinstance(value, str) else value
    except ValueError:
        return None
    if not isinstance(table, Mapping):
        return None
    counts: dict[str, int] = {}
    for tags in table.values():
        if isinstance(tags, Mapping):
            for tag, n in tags.items():
                if isinstance(n, int):
                    counts[str(tag).strip()] = counts.get(str(tag).strip(), 0) + n
    ranked = sorted(counts, key=lambda tag: (-counts[tag], tag))
    return [tag for tag in ranked if tag][:MAX_TRIGGER_WORDS] or None


# field -> the keys that answer it (first found wins) and how a value is read.
FIELDS: Mapping[str, tuple[tuple[str, ...], Callable[[Any], Any]]] = {
    "base_model": (("baseModel", "modelspec.architecture", "ss_base_model_version",
                    "ss_sd_model_name"), _text),
    "base_model_file": (("ss_sd_model_name",), _text),
    "resolution": (("modelspec.resolution", "ss_resolution"), _resolution),
    "clip_skip": (("ss_clip_skip",), _int),
    "training_steps": (("ss_max_train_steps", "ss_steps"), _int),
    "epochs": (("ss_num_epochs", "ss_epoch"), _int),
    "network": (("ss_network_module",), _text),
    "network_dim": (("ss_network_dim",), _int),
    "network_alpha": (("ss_network_alpha",), _text),
    "learning_rate": (("ss_learning_rate",), _text),
    "trigger_words": (("trainedWords", "modelspec.trigger_phrase"), _words),
    "title": (("modelspec.title", "ss_output_name"), _text),
}


def training(metadata: Mapping[str, Any],
             civitai: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The named fields found in a file's metadata and (first) a Civitai version record."""
    sources: list[Mapping[str, Any]] = [civitai or {}, metadata]
    found: dict[str, Any] = {}
    for field, (keys, read) in FIELDS.items():
        for key in keys:
            value = next((read(s[key]) for s in sources if key in s and read(s[key])), None)
            if value is not None:
                found[field] = value
                break
    if "trigger_words" not in found:
        tags = _frequent_tags(metadata.get("ss_tag_frequency"))
        if tags:
            found["trigger_words"] = tags
    return found
