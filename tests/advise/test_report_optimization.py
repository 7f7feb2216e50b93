"""report's optimization section: potential savings by kind and the top suggestions."""

from __future__ import annotations

from typing import Any


def test_report_json_keeps_its_keys_and_adds_optimization(
        cli: Any, shelf_models: dict[str, int]) -> None:
    result = cli("report", "--json")
    assert result.code == 0, result.err
    data = result.json
    for key in ("models", "total_bytes", "by_type", "duplicates", "fp32", "fp16_savings_bytes",
                "unsafe", "unknown"):
        assert key in data
    opt = data["optimization"]
    assert opt["savings_by_kind"]["convert-fp16"] == data["fp16_savings_bytes"]
    assert opt["savings_by_kind"]["remove"] == shelf_models["small16"]  # unused for 400 days
    assert opt["total_saves_bytes"] == 50_000_000 * 2 + shelf_models["small16"]
    top = opt["top"]
    assert top[0] == {"model": "evil", "action": "replace-unsafe-pickle", "priority": "high",
                      "saves_bytes": 0, "detail": top[0]["detail"]}
    assert {t["action"] for t in top} >= {"convert-fp16", "remove"}


def test_report_text_has_the_optimization_section(cli: Any, shelf_models: dict[str, int]) -> None:
    out = cli("report").out
    assert "Optimization: up to 100.02 MB to save" in out
    assert "  [medium] big32: convert-fp16, saves 100.00 MB" in out
