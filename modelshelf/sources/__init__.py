"""Turn a model reference into the concrete files to fetch: ``resolve(ref, settings)``.

Like pooch's downloaders, each source is a plain ``resolve(ref, settings, options)`` function
chosen from a dict keyed by ``ref.source``, declared here with the :class:`SourceTraits` the pull
pipeline goes by (not in the source modules: asking about a source imports none of them).
Source modules are imported on first use, so ``import modelshelf.sources`` stays cheap and a
source whose dependencies are missing only fails when it is asked for. This module applies the
rules every source shares before any of them runs: a source switched off in config.toml is
refused, and in offline mode a source that needs the network is refused *before* it could open
a connection.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from modelshelf.config import Settings
from modelshelf.errors import BadReference, OfflineError, SourceDisabled
from modelshelf.sources.base import Ref, Resolution, ResolveOptions, SourceName, SourceTraits
from modelshelf.sources.refs import parse_ref

Resolver = Callable[[Ref, Settings, ResolveOptions], Resolution]


def _lazy(module: str) -> Resolver:
    """A resolver that imports ``modelshelf.sources.<module>`` when first called."""

    def call(ref: Ref, settings: Settings, options: ResolveOptions) -> Resolution:
        resolver: Resolver = importlib.import_module(f"modelshelf.sources.{module}").resolve
        return resolver(ref, settings, options)

    call.__name__ = f"resolve_{module}"
    return call


@dataclass(frozen=True)
class Source:
    resolve: Resolver
    traits: SourceTraits


# Why: a Hub branch moves (resolved again unless the reference names a commit sha); a Civitai
# version id, a URL and torchvision weights name fixed content; a local file changes in place
# (compared by its stat fingerprint); only a plain URL's server names the file.
_T = SourceTraits
#       networked, immutable_refs, versioned, revision_in_ref, selectable, server_names_file
SOURCES: Mapping[SourceName, Source] = {
    SourceName.HF: Source(_lazy("hf"), _T(True, False, True, True, True, False)),
    SourceName.CIVITAI: Source(_lazy("civitai"), _T(True, True, True, False, False, False)),
    SourceName.URL: Source(_lazy("url"), _T(True, True, False, False, False, True)),
    SourceName.TORCHVISION: Source(_lazy("torchvision"), _T(True, True, True, False, False, False)),
    SourceName.LOCAL: Source(_lazy("local"), _T(False, False, False, False, True, False)),
}
RESOLVERS: Mapping[SourceName, Resolver] = {name: s.resolve for name, s in SOURCES.items()}
#: Sources that must reach a server to resolve (everything but local files).
NETWORK_SOURCES = frozenset(name for name, s in SOURCES.items() if s.traits.networked)


def traits(source: SourceName) -> SourceTraits:
    return SOURCES[source].traits


def parse(text: str, settings: Settings, *, cwd: Path | None = None) -> Ref:
    """:func:`parse_ref` that also knows the configured endpoints (a local Hub, a mirror)."""
    endpoints = {name: settings.source(name).endpoint for name in ("hf", "civitai")}
    return parse_ref(text, cwd=cwd, endpoints=endpoints, aliases=settings.aliases)


def resolve(ref: Ref | str, settings: Settings,
            options: ResolveOptions = ResolveOptions()) -> Resolution:  # noqa: B008 (frozen)
    """Resolve ``ref`` through its source; raises only :mod:`modelshelf.errors` types."""
    if isinstance(ref, str):
        ref = parse(ref, settings)
    resolver = RESOLVERS.get(ref.source)
    if resolver is None:
        raise BadReference(f"{ref.raw}: unknown source {ref.source!r}")
    if not settings.source(ref.source).enabled:
        where = settings.config_file or "config.toml"
        raise SourceDisabled(f"{ref.raw}: the {ref.source} source is switched off "
                             f"([sources.{ref.source}] enabled = false in {where})")
    if traits(ref.source).networked and (settings.offline or options.offline):
        raise OfflineError(f"{ref.raw}: offline mode is on (MODELSHELF_OFFLINE / HF_HUB_OFFLINE) "
                           f"and the {ref.source} source needs the network")
    return resolver(ref, settings, options)


__all__ = ["NETWORK_SOURCES", "RESOLVERS", "SOURCES", "Ref", "Resolution", "ResolveOptions",
           "Resolver", "Source", "SourceName", "SourceTraits", "parse", "parse_ref", "resolve",
           "traits"]
