"""``report --html FILE``: the report as one self-contained page, for people who'd rather look.

No external assets (no scripts, fonts, stylesheets or images to fetch): the page opens offline and
can be mailed around. Bar charts are inline SVG drawn from ``Report.to_json()`` — the same numbers
as ``report --json``, each shown as text beside its bar. Every name comes from model files or the
user, so every one is escaped.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from modelshelf.config import format_size
from modelshelf.store.linking import write_atomic

BAR_WIDTH, ROW_HEIGHT, LABEL_WIDTH = 360, 22, 180
_STYLE = ("body{font-family:system-ui,sans-serif;margin:2em;color:#222}"
          "h1{font-size:1.4em}h2{font-size:1.1em;margin-top:1.6em}"
          "td,th{padding:2px 10px;text-align:left}td.n{text-align:right}"
          "svg text{font-size:12px}")


def bar_chart(title: str, rows: Sequence[tuple[str, int]]) -> str:
    """A horizontal bar per row, scaled to the largest; the size is written beside each bar."""
    if not rows:
        return f"<h2>{html.escape(title)}</h2><p>nothing to show</p>"
    top = max(value for _, value in rows) or 1
    height = ROW_HEIGHT * len(rows)
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{LABEL_WIDTH + BAR_WIDTH + 120}" '
             f'height="{height}" role="img" aria-label="{html.escape(title)}">']
    for i, (label, value) in enumerate(rows):
        y = i * ROW_HEIGHT
        width = max(1, round(BAR_WIDTH * value / top))
        parts.append(
            f'<text x="0" y="{y + 15}">{html.escape(label[:28])}</text>'
            f'<rect x="{LABEL_WIDTH}" y="{y + 3}" width="{width}" height="{ROW_HEIGHT - 6}" '
            f'fill="#4a7bd0"><title>{html.escape(label)}: {value} bytes</title></rect>'
            f'<text x="{LABEL_WIDTH + width + 6}" y="{y + 15}">{format_size(value)}</text>')
    parts.append("</svg>")
    return f"<h2>{html.escape(title)}</h2>" + "".join(parts)


def _bytes_of(groups: Mapping[str, Mapping[str, int]]) -> list[tuple[str, int]]:
    return [(name, g["bytes"]) for name, g in groups.items()]


def render_html(data: Mapping[str, Any]) -> str:
    """The page for ``report --json``'s ``data``."""
    opt = data.get("optimization") or {"savings_by_kind": {}, "total_saves_bytes": 0, "top": []}
    savings = [("duplicates (reclaimable)", data["reclaimable_bytes"]),
               *opt["savings_by_kind"].items()]
    top_rows = "".join(
        f"<tr><td>{html.escape(s['priority'])}</td><td>{html.escape(s['model'])}</td>"
        f"<td>{html.escape(s['action'])}</td><td class=n>{format_size(s['saves_bytes'])}</td>"
        f"<td>{html.escape(s['detail'])}</td></tr>" for s in opt["top"])
    body = [
        "<h1>modelshelf report</h1>",
        f"<p>{data['models']} models, {format_size(data['total_bytes'])}; up to "
        f"{format_size(opt['total_saves_bytes'])} to save; {len(data['unsafe'])} unsafe, "
        f"{len(data['unknown'])} unidentified.</p>",
        bar_chart("Size by type", _bytes_of(data["by_type"])),
        bar_chart("Size by architecture", _bytes_of(data["by_architecture"])),
        bar_chart("Potential savings", [(k, v) for k, v in savings if v]),
        "<h2>Top suggestions</h2><table><tr><th>priority</th><th>model</th><th>action</th>"
        f"<th>saves</th><th>detail</th></tr>{top_rows}</table>",
    ]
    return ("<!DOCTYPE html><html lang=en><head><meta charset=utf-8>"
            f"<title>modelshelf report</title><style>{_STYLE}</style></head><body>"
            + "\n".join(body) + "</body></html>\n")


def write_html(data: Mapping[str, Any], path: Path) -> Path:
    """Write the page: a temp file beside ``path``, renamed when complete."""
    path = Path(path)
    write_atomic(path, render_html(data).encode())
    return path
