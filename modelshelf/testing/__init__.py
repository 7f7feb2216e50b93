"""modelshelf's testing kit: local servers and model-file factories for *your* tests.

Your code downloads models from the Hugging Face Hub or Civitai, or checks what a file is; its
tests should not need the internet, tokens or gigabytes. The kit is what modelshelf's own tests,
``modelshelf demo`` and the benchmarks run on, and it is supported public API (the names below;
submodules are implementation):

- :class:`LocalServer` — a real HTTP(S) server on 127.0.0.1 serving bytes with Range, ETag and
  Last-Modified like a CDN; ``faults`` (a :class:`Faults`) injects 5xx bursts, resets mid-body,
  ignored Range, corrupt bytes, stalls and rate caps; ``log`` records every request.
- :class:`FakeHub` — the Hugging Face Hub API subset the real ``huggingface_hub`` client calls
  (model info, tree listing, ``resolve`` with LFS redirects to a second loopback host name,
  private and gated repos, branches, tags, ``refs/pr/N``). Point the client at ``hub.url``
  (``endpoint=`` or ``HF_ENDPOINT``).
- :class:`FakeCivitai` with :class:`FakeVersion` / :class:`FakeFile` — Civitai's REST API and
  download redirects; point modelshelf at it with ``MODELSHELF_CIVITAI_ENDPOINT``.
- :class:`ForwardProxy` — an HTTP proxy (absolute-URI and ``CONNECT``) that logs what it relays.
- ``factories`` — model files with real key names and decisive shapes but no real weights:
  ``factories.write_safetensors(path, factories.sd15_checkpoint(tiny=True))``,
  ``factories.kohya_lora("sdxl")``, ``factories.write_gguf(...)``; ``factories.EXAMPLES`` lists
  every builder with what modelshelf identifies it as.

Every server is a context manager that starts on a free port and stops on exit::

    with FakeHub() as hub:
        hub.add_repo("org/tiny", {"config.json": b"{}"})
        path = huggingface_hub.hf_hub_download("org/tiny", "config.json", endpoint=hub.url)

Names load on first use, so importing the kit costs nothing until a server is needed. Nothing
in the library imports it (an import-linter contract keeps it that way).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_LAZY = {
    "LocalServer": "modelshelf.testing.server",
    "Faults": "modelshelf.testing.server",
    "FakeHub": "modelshelf.testing.hub",
    "FakeCivitai": "modelshelf.testing.civitai",
    "FakeVersion": "modelshelf.testing.civitai",
    "FakeFile": "modelshelf.testing.civitai",
    "ForwardProxy": "modelshelf.testing.proxy",
}

__all__ = ["FakeCivitai", "FakeFile", "FakeHub", "FakeVersion", "Faults", "ForwardProxy",
           "LocalServer", "factories"]

if TYPE_CHECKING:
    from modelshelf.testing import factories
    from modelshelf.testing.civitai import FakeCivitai, FakeFile, FakeVersion
    from modelshelf.testing.hub import FakeHub
    from modelshelf.testing.proxy import ForwardProxy
    from modelshelf.testing.server import Faults, LocalServer


def __getattr__(name: str) -> Any:
    if name == "factories":
        return importlib.import_module("modelshelf.testing.factories")
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'modelshelf.testing' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
