"""config.toml typos are warned about, and a MODELSHELF_CONFIG that is not there is an error."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from modelshelf.config import TransferSettings, load_settings


def test_unknown_key_warns_once_naming_key_file_and_the_likely_key(
        tmp_path: Path, cli: Any) -> None:
    config = tmp_path / "config.toml"
    config.write_text("[transfer]\nconections = 4\n\n[sources.hf]\nverfy_ssl = false\n"
                      "[colour]\nx = 1\n")
    result = cli("config", "--json")
    assert result.code == 0
    # the typo changed nothing
    assert result.json["transfer"]["connections"] == TransferSettings.connections
    lines = result.err.strip().splitlines()
    assert len(lines) == 3, result.err
    assert str(config) in lines[0] and "'transfer.conections'" in lines[0]
    assert "did you mean 'transfer.connections'?" in lines[0]
    assert "did you mean 'sources.hf.verify_ssl'?" in lines[1]
    assert "'colour'" in lines[2] and "did you mean" not in lines[2]


def test_known_keys_give_no_warning(tmp_path: Path, cli: Any) -> None:
    (tmp_path / "config.toml").write_text(
        '[store]\nroot = "x"\n[transfer]\nconnections = 4\nretries = 2\n[gc]\nmax_size = "1GB"\n'
        '[sources.civitai]\nenabled = false\ntoken = "abcd"\n')
    result = cli("config")
    assert result.code == 0 and result.err == ""


def test_missing_explicit_config_is_an_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                             cli: Any) -> None:
    missing = tmp_path / "nowhere" / "modelshelf.toml"
    monkeypatch.setenv("MODELSHELF_CONFIG", str(missing))
    result = cli("ls")
    assert result.code == 2
    lines = result.err.strip().splitlines()
    assert len(lines) == 1 and str(missing) in lines[0] and "no such file" in lines[0]


def test_shelf_raises_config_typos_as_python_warnings(tmp_path: Path) -> None:
    from modelshelf import Shelf

    (tmp_path / "config.toml").write_text("[gc]\nmax_sise = '1GB'\n")
    with pytest.warns(UserWarning, match=r"unknown key 'gc.max_sise'.*did you mean 'gc.max_size'"):
        Shelf(home=tmp_path / "shelf")


def test_missing_default_config_is_no_configuration(tmp_path: Path) -> None:
    settings = load_settings({"XDG_CONFIG_HOME": str(tmp_path)}, home=tmp_path)
    assert settings.config_file is None and settings.warnings == ()


@pytest.mark.parametrize(("text", "key"), [
    ("transfer = 1000.0\n", "[transfer]"),
    ("sources = 5\n", "[sources]"),
    ('[sources]\nhf = "on"\n', "[sources.hf]"),
    ("load = []\n", "[load]"),
    ("mirror = 3\n", "[mirror]"),
    ("[store]\nroot = 5\n", "[store] root"),
    ("[gc]\nmax_size = [1]\n", "[gc] max_size"),
])
def test_a_section_or_setting_of_the_wrong_type_is_one_line_naming_file_and_key(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cli: Any, text: str, key: str) -> None:
    config = tmp_path / "config.toml"
    config.write_text(text)
    monkeypatch.delenv("MODELSHELF_HOME", raising=False)  # [store] root is read only without it
    result = cli("config", "--json")
    assert result.code == 2, result.err
    lines = result.err.strip().splitlines()
    assert len(lines) == 1 and key in lines[0] and "Traceback" not in result.err
    assert str(config) in lines[0] and "expected " in lines[0]
