"""What the CLI prints: with ``--json`` one JSON document and nothing else on stdout — also when
the command fails, is refused by the argument parser, or reports per-item errors of its own;
human lines that stay one line per entry; and the warnings a user must not miss."""

from __future__ import annotations

import json
from pathlib import Path

import pytest


def test_a_failed_registry_command_answers_with_an_error_document(cli, home) -> None:
    result = cli("rm", "no-such-model", "--json")
    assert result.code == 1
    assert "no-such-model" in result.json["error"] and result.err.count("\n") == 1


@pytest.mark.parametrize("args", [
    ("convert", "a", "b", "--dtype", "fp8", "--json"),
    ("ls", "--json", "--no-such-flag"),
])
def test_a_command_line_argparse_refuses_still_answers_in_json(cli, args: tuple[str, ...]) -> None:
    result = cli(*args)
    assert result.code == 2
    assert result.json["error"] in result.err and result.err.count("\n") == 1


def test_a_command_with_its_own_error_report_prints_one_document(cli, home, tmp_path: Path) -> None:
    result = cli("pull", str(tmp_path / "missing.safetensors"), "--json")
    assert result.code != 0
    document = json.loads(result.out)  # exactly one document: no error object appended
    assert [r["status"] for r in document["results"]] == ["error"]


def test_ls_keeps_each_model_on_one_line_whatever_its_source_path(cli, home, tmp_path: Path) -> None:
    odd = tmp_path / "two\nlines.safetensors"
    odd.write_bytes(b"\x08\x00\x00\x00\x00\x00\x00\x00{}      ")
    assert cli("pull", str(odd)).code == 0
    listing = cli("ls")
    assert listing.code == 0 and len(listing.out.splitlines()) == 1
    assert "two\\nlines" in listing.out


def test_pulling_a_pickle_that_would_run_code_says_so(cli, home, tmp_path: Path) -> None:
    """The file is stored (it is the user's), but the pull warns before an app loads it."""
    import zipfile

    evil = tmp_path / "evil.ckpt"
    with zipfile.ZipFile(evil, "w") as zf:  # written, never loaded
        zf.writestr("archive/data.pkl", b"cos\nsystem\n(S'echo pwned'\ntR.")
    result = cli("pull", str(evil), "--json")
    assert result.code == 0, result.err
    notes = " ".join(result.json["results"][0].get("notes", []))
    assert "UNSAFE pickle" in notes and "os.system" in notes
    human = cli("pull", str(evil), "--force")
    assert "UNSAFE pickle" in human.out + human.err
