"""Which Hub token a pull uses: ``--token`` > ``HF_TOKEN``/config > what ``hf auth login`` stored.

The stored token is read through ``huggingface_hub.get_token()`` so every way the Hub's own tools
log in (token file, ``HF_TOKEN_PATH``, Colab secrets) works. The result is passed to every Hub
request explicitly (``False`` when there is none) so huggingface_hub never picks a token on its own
behind our precedence.
"""

from __future__ import annotations

from huggingface_hub import get_token

from modelshelf.config import SourceSettings
from modelshelf.sources.base import ResolveOptions


def hub_token(options: ResolveOptions, source: SourceSettings) -> str | None:
    return options.token_for(source) or get_token() or None
