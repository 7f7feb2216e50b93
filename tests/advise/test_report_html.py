"""report --html FILE: one self-contained page that parses and shows the report's numbers."""

from __future__ import annotations

from html.parser import HTMLParser
from pathlib import Path
from typing import Any

from modelshelf.config import format_size


class _Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.text: list[str] = []
        self.links: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.links += [v or "" for k, v in attrs if k in ("src", "href")]

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def test_html_report_is_self_contained_and_has_the_numbers(
        tmp_path: Path, cli: Any, shelf_models: dict[str, int]) -> None:
    page_file = tmp_path / "report.html"
    result = cli("report", "--html", str(page_file), "--json")
    assert result.code == 0, result.err
    data = result.json
    assert data["html"] == str(page_file)
    page = _Page()
    page.feed(page_file.read_text())
    text = " ".join(page.text)
    assert page.tags.count("svg") == 3 and "rect" in page.tags
    assert page.links == [] and "script" not in page.tags  # nothing to fetch, nothing to run
    assert f"{data['models']} models, {format_size(data['total_bytes'])}" in text
    assert f"{format_size(data['by_type']['other']['bytes'])}" in text
    assert f"{data['fp16_savings_bytes']} bytes" in text  # the bar's tooltip: the exact number
    assert "replace-unsafe-pickle" in text and "big32" in text
    assert list(tmp_path.glob(".report.html.*")) == []  # no temp file left behind


def test_html_into_a_missing_folder_is_a_usage_error(tmp_path: Path, cli: Any) -> None:
    result = cli("report", "--html", str(tmp_path / "no" / "r.html"))
    assert result.code == 2 and "no folder" in result.err


def test_names_from_files_are_escaped() -> None:
    from modelshelf.inspection.report_html import render_html

    evil = "<script>alert(1)</script>"
    data = {"models": 1, "total_bytes": 10, "reclaimable_bytes": 0, "unsafe": [], "unknown": [],
            "by_type": {"other": {"count": 1, "bytes": 10}},
            "by_architecture": {evil: {"count": 1, "bytes": 10}},
            "optimization": {"savings_by_kind": {}, "total_saves_bytes": 0, "top": [
                {"model": evil, "action": "remove", "priority": "low", "saves_bytes": 10,
                 "detail": evil}]}}
    page = _Page()
    page.feed(render_html(data))
    assert "script" not in page.tags and evil in " ".join(page.text)
