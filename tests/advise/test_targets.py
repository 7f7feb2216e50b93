"""Targets for advise: built-in GPU profiles, sizes on the command line, [profiles.NAME] in config."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from modelshelf.config import load_settings
from modelshelf.errors import UsageError
from modelshelf.inspection.targets import GIB, resolve_target


def test_builtin_profiles_and_flags_that_override_them() -> None:
    assert resolve_target("a6000").gpu_bytes == 48 * GIB
    colab = resolve_target("Colab-Free")
    assert colab.gpu_bytes == 15 * GIB and colab.disk_bytes == 78 * 10**9
    smaller = resolve_target("colab-free", disk="30GB")
    assert smaller.name == "colab-free" and smaller.disk_bytes == 30 * 10**9
    custom = resolve_target(gpu="48GB", disk="50GB")
    assert (custom.name, custom.gpu_bytes, custom.disk_bytes) == ("custom", 48 * 10**9, 50 * 10**9)


@pytest.mark.parametrize(("kwargs", "text"), [
    ({"profile": "a6001"}, "did you mean 'a6000'"),
    ({"gpu": "lots"}, "--gpu"),
    ({"disk": "0"}, "--disk '0': expected a positive size"),
    ({}, "give --gpu SIZE, --disk SIZE or --profile NAME"),
])
def test_bad_targets_are_usage_errors_naming_the_flag(kwargs: dict[str, str], text: str) -> None:
    with pytest.raises(UsageError, match=text):
        resolve_target(**kwargs)


def test_profiles_in_config_add_and_replace(tmp_path: Path, cli: Any) -> None:
    (tmp_path / "config.toml").write_text(
        '[profiles.lab]\ngpu = "20GiB"\ndisk = "200GB"\n[profiles.t4]\ngpu = "15GiB"\n')
    settings = load_settings()
    assert settings.warnings == ()
    lab = resolve_target("lab", user=settings.profiles)
    assert (lab.gpu_bytes, lab.disk_bytes) == (20 * GIB, 200 * 10**9)
    assert resolve_target("t4", user=settings.profiles).gpu_bytes == 15 * GIB
    result = cli("config", "--json")
    assert result.json["profiles"]["lab"] == {"disk": 200 * 10**9, "gpu": 20 * GIB}


def test_profile_typos_and_bad_sizes_in_config(tmp_path: Path, cli: Any) -> None:
    (tmp_path / "config.toml").write_text('[profiles.lab]\ngpu = "20GB"\ndsk = "1TB"\n')
    result = cli("config")
    assert "unknown key 'profiles.lab.dsk'" in result.err
    assert "did you mean 'profiles.lab.disk'?" in result.err
    (tmp_path / "config.toml").write_text('[profiles.lab]\ngpu = "huge"\n')
    result = cli("config")
    assert result.code == 2  # a configuration error, as for every other config key
    assert "config [profiles.lab] gpu: size 'huge'" in result.err
    assert len(result.err.strip().splitlines()) == 1
