"""What `rm`, `verify` and `gc` do when the user's data is at stake: pinned models, view files
apps read, a registry that is gone."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from modelshelf.store import Store
from modelshelf.testing.models import put_blob, new_model


def _stocked(home: Path) -> Store:
    store = Store(home)
    store.add_model(new_model("one", put_blob(store, b"one" * 1000)))
    store.add_model(new_model("two", put_blob(store, b"two" * 1000, "w.safetensors"),
                              put_blob(store, b"{}", "config.json"), type="checkpoints"))
    return store


def test_rm_of_a_pinned_model_needs_force(isolated_env: Path, cli: Callable[..., object]) -> None:
    store = _stocked(isolated_env)
    store.pin("one")
    refused = cli("rm", "two", "one")
    assert refused.code == 1
    assert refused.err.count("\n") == 1 and "one: pinned" in refused.err and "--force" in refused.err
    assert [m.name for m in store.list()] == ["one", "two"]  # nothing was changed
    forced = cli("rm", "-f", "one", "--json")
    assert forced.code == 0 and forced.json["removed"] == ["one"]
    assert [m.name for m in store.list()] == ["two"]


def test_verify_reports_view_files_that_no_longer_show_the_blob(
        isolated_env: Path, cli: Callable[..., object]) -> None:
    store = _stocked(isolated_env)
    assert cli("verify", "--json").json["views_failed"] == []
    single = store.view_path(store.get("one"))
    single.unlink()
    single.write_bytes(b"something else")  # an app or a user put another file there
    (store.view_path(store.get("two")) / "config.json").unlink()
    result = cli("verify", "--json")
    assert result.code == 1
    assert result.json["failed"] == []  # the blobs themselves are fine
    problems = {(v["name"], Path(v["path"]).name, v["problem"])
                for v in result.json["views_failed"]}
    assert problems == {("one", single.name, "replaced by another file"),
                        ("two", "config.json", "missing")}
    human = cli("verify")
    assert human.code == 1 and "modelshelf repair" in human.out
