"""What every key-set builder shares: the ``Shape`` alias, prefixing, and shrinking for tiny files.

A builder returns ``{name: shape}``; ``keep`` lists, per key regex, the axes that decide
identification, which ``tiny=True`` never shrinks, so a tiny file is identified as the full one.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

Shape = tuple[int, ...]

TINY_DIM = 4


def _finish(tensors: Mapping[str, Shape], keep: Mapping[str, Iterable[int]], tiny: bool,
            ) -> dict[str, Shape]:
    """Apply ``tiny``: every axis not listed in ``keep`` (regex -> axes) shrinks to TINY_DIM."""
    if not tiny:
        return dict(tensors)
    rules = [(re.compile(rx), {a for a in axes}) for rx, axes in keep.items()]
    out: dict[str, Shape] = {}
    for name, shape in tensors.items():
        axes = set().union(*(a for rx, a in rules if rx.fullmatch(name)))
        n = len(shape)
        out[name] = tuple(
            d if (i in axes or i - n in axes) else min(d, TINY_DIM) for i, d in enumerate(shape)
        )
    return out


def _prefixed(prefix: str, tensors: Mapping[str, Shape]) -> dict[str, Shape]:
    return {prefix + k: v for k, v in tensors.items()}
