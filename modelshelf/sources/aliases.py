"""Short names: what a bare word such as ``gpt2`` or ``resnet18`` means as a reference.

The scripts this replaces call ``auto_download("resnet18")`` or ``load_model("bert-base-uncased")``;
here such a word is looked up, in order:

1. the user's ``[aliases]`` table in config.toml (``NAME = "REFERENCE"``) — a user's choice is
   final, so it may also settle an ambiguity below;
2. the built-in table :data:`BUILTIN` — the Hub's canonical repos for names that were Hub ids
   before the Hub moved them under organisations (``gpt2`` is now ``openai-community/gpt2``);
3. torchvision's model registry, when torchvision is installed (``resnet18`` ->
   ``torchvision:resnet18``).

When 2 and 3 both know a word, neither is preferred: the error lists both spellings (and how to
pin one with an alias). An alias's target is a full reference (never another short name), so a
table cannot loop. A word that is an existing local path stays that path.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Mapping

from modelshelf.errors import BadReference

# Names that were Hub repo ids before the Hub moved them, and a few very common short names.
BUILTIN: Mapping[str, str] = {
    "gpt2": "hf:openai-community/gpt2",
    "gpt2-medium": "hf:openai-community/gpt2-medium",
    "gpt2-large": "hf:openai-community/gpt2-large",
    "distilgpt2": "hf:distilbert/distilgpt2",
    "bert-base-uncased": "hf:google-bert/bert-base-uncased",
    "bert-base-cased": "hf:google-bert/bert-base-cased",
    "bert-large-uncased": "hf:google-bert/bert-large-uncased",
    "bert-base-multilingual-cased": "hf:google-bert/bert-base-multilingual-cased",
    "distilbert-base-uncased": "hf:distilbert/distilbert-base-uncased",
    "roberta-base": "hf:FacebookAI/roberta-base",
    "roberta-large": "hf:FacebookAI/roberta-large",
    "xlm-roberta-base": "hf:FacebookAI/xlm-roberta-base",
    "t5-small": "hf:google-t5/t5-small",
    "t5-base": "hf:google-t5/t5-base",
    "all-minilm-l6-v2": "hf:sentence-transformers/all-MiniLM-L6-v2",
    "resnet-50": "hf:microsoft/resnet-50",
    "vit-base-patch16-224": "hf:google/vit-base-patch16-224",
}


def torchvision_names() -> frozenset[str]:
    """The models torchvision's registry knows (empty without torchvision; nothing is loaded)."""
    if importlib.util.find_spec("torchvision") is None:
        return frozenset()
    from torchvision import models

    return frozenset(name.lower() for name in models.list_models())


def lookup(word: str, user: Mapping[str, str]) -> str | None:
    """The reference a bare ``word`` stands for, ``None`` if no table knows it; raises
    :class:`BadReference` listing the candidates when two tables know it."""
    key = word.lower()
    if key in user:
        return user[key]
    candidates = [BUILTIN[key]] if key in BUILTIN else []
    if key in torchvision_names():
        candidates.append(f"torchvision:{key}")
    if len(candidates) > 1:
        listed = " or ".join(candidates)
        raise BadReference(f"{word!r} is ambiguous: it could be {listed}; write one of them, "
                           f"or pin it in config.toml: [aliases] {key} = \"{candidates[0]}\"")
    return candidates[0] if candidates else None

