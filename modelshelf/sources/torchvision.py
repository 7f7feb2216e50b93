"""``torchvision:NAME[@WEIGHTS]``: torchvision's published weights, found in its own registry.

torchvision knows, for every model, the weights' URL and (in the file name, ``-<hex>.pth``) a
prefix of their sha256 that ``torch.hub`` checks; we read both from the registry rather than
keeping a copy that would go stale, and hand the prefix to the api as
``RemoteFile.sha256_prefix`` (the downloaded sha256 must start with it; ``metadata["hash_prefix"]``
records it). Only the registry is used: nothing is loaded, no model code runs. Torch Hub
repositories are refused when parsing (see :mod:`.refs`).
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Mapping
from enum import Enum
from types import ModuleType
from typing import Any

from modelshelf.config import Settings
from modelshelf.errors import MissingExtra, NotFoundError
from modelshelf.sources.base import Ref, RemoteFile, Resolution, ResolveOptions, SourceName
from modelshelf.sources.url import url_file_name

# torch.hub's rule: the hex run between the last '-' and the extension is a sha256 prefix.
_HASH_PREFIX = re.compile(r"-([0-9a-f]{6,64})\.[A-Za-z0-9]+$")
# Registry meta that is bulky or not about the file (1000 class names, transform callables).
_DROPPED_META = frozenset({"categories", "transforms"})


def _registry(ref: Ref) -> ModuleType:
    try:
        return importlib.import_module("torchvision.models")
    except ImportError:
        raise MissingExtra(f"{ref.raw}: torchvision:{ref.name} needs the torch extra: "
                           "pip install 'modelshelf[torch]'") from None


def _jsonable(value: Any) -> Any:
    """Keep what JSON can hold; drop the rest (callables, tensors) instead of failing."""
    if isinstance(value, Mapping):
        items = ((str(k), _jsonable(v)) for k, v in value.items() if k not in _DROPPED_META)
        return {k: v for k, v in items if v is not None}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    return None


def _weights(models: ModuleType, ref: Ref, wanted: str) -> Enum:
    try:
        enum: type[Enum] = models.get_model_weights(ref.name)
    except (ValueError, KeyError):
        known = ", ".join(sorted(getattr(models, "list_models", list)())[:12])
        raise NotFoundError(f"{ref.raw}: torchvision has no model named {ref.name!r}"
                            + (f" (e.g. {known}, ...)" if known else "")) from None
    try:
        return enum[wanted]
    except KeyError:
        names = ", ".join(["DEFAULT", *(member.name for member in enum)])
        raise NotFoundError(f"{ref.raw}: {enum.__name__} has no weights {wanted!r} "
                            f"(available: {names})") from None


def resolve(ref: Ref, settings: Settings, options: ResolveOptions) -> Resolution:
    models = _registry(ref)
    weights = _weights(models, ref, ref.revision or options.revision or "DEFAULT")
    url: str = weights.value.url
    file_name = url_file_name(url)
    prefix = _HASH_PREFIX.search(file_name)
    weights_id = f"{type(weights).__name__}.{weights.name}"
    metadata = {"weights": weights_id, "url": url, "meta": _jsonable(weights.value.meta)}
    if prefix:
        metadata["hash_prefix"] = prefix.group(1)
    return Resolution(ref=ref.raw, source=SourceName.TORCHVISION, name=str(ref.name),
                      files=(RemoteFile(path=file_name, url=url,
                                        sha256_prefix=prefix.group(1) if prefix else None),),
                      revision=weights.name,
                      source_url=url, type_hint="other", architecture_hint=ref.name,
                      metadata=metadata)
