"""Half-open byte spans ``(start, end)`` and the two operations resume needs on them."""

from __future__ import annotations

from collections.abc import Iterable

Span = tuple[int, int]


def merge(spans: Iterable[Span]) -> list[Span]:
    """Sorted, non-overlapping, non-empty spans covering the same bytes (touching ones joined)."""
    out: list[Span] = []
    for start, end in sorted(s for s in spans if s[1] > s[0]):
        if out and start <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], end))
        else:
            out.append((start, end))
    return out


def missing(done: Iterable[Span], size: int) -> list[Span]:
    """The spans of ``[0, size)`` not covered by ``done``."""
    gaps: list[Span] = []
    cursor = 0
    for start, end in merge(done):
        if start > cursor:
            gaps.append((cursor, min(start, size)))
        cursor = max(cursor, end)
    if cursor < size:
        gaps.append((cursor, size))
    return [g for g in gaps if g[1] > g[0]]


def prefix_end(done: Iterable[Span]) -> int:
    """How far from byte 0 the bytes are complete without a gap."""
    merged = merge(done)
    return merged[0][1] if merged and merged[0][0] == 0 else 0
