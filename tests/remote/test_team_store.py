"""The team store end to end: two machines (two homes), one moto S3 server, one fake Hub.

Each behaviour is what a user sees: exit codes, the ``--json`` answer, files in the views, the
objects in the bucket, and the fake Hub's request log (the source was or was not asked).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from remote_kit import ACCESS_KEY, SECRET_KEY, Team

from modelshelf.config import RemoteSettings
from modelshelf.remote import RemoteStore
from modelshelf.testing.hub import FakeHub

Cli = Callable[..., Any]


def _ref(hub: FakeHub) -> str:
    """``org/tiny`` at its commit: fixed content, so the remote's manifest alone answers it."""
    return f"hf:org/tiny@{hub.repos['org/tiny'].refs['main']}"


def _source_down(monkeypatch: pytest.MonkeyPatch, port: int) -> None:
    """The second machine cannot reach the Hub. (Stopping the fake Hub is not enough here:
    huggingface_hub's keep-alive connection from the first pull, in this same process, would
    still be served.)"""
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{port}")


def _pulled(result: Any) -> dict[str, Any]:
    assert result.code == 0, result.err
    item: dict[str, Any] = result.json["results"][0]
    assert item["status"] == "ok", item
    return item


def test_a_second_machine_pulls_from_the_remote_without_asking_the_source(
        cli: Cli, team: Team, hub: FakeHub, tmp_path: Path, weights: bytes) -> None:
    ref = _ref(hub)
    _pulled(cli("--home", str(tmp_path / "a"), "pull", ref, "--json"))
    digest = hashlib.sha256(weights).hexdigest()
    assert team.blob_key(digest) in team.keys("blobs/")  # uploaded after the source download
    assert len(team.keys("refs/")) == 1
    hub.clear_log()

    item = _pulled(cli("--home", str(tmp_path / "b"), "pull", ref, "--json"))

    assert hub.log == []  # not one request reached the source
    assert any("from the remote store" in n for n in item["notes"])
    assert (Path(item["path"]) / "model.safetensors").read_bytes() == weights
    assert {f["path"] for f in item["files"]} == {"config.json", "model.safetensors"}


def test_a_branch_falls_back_to_the_remote_revision_when_the_source_is_down(
        cli: Cli, team: Team, hub: FakeHub, tmp_path: Path, weights: bytes,
        monkeypatch: pytest.MonkeyPatch, unused_port: int) -> None:
    _pulled(cli("--home", str(tmp_path / "a"), "pull", "hf:org/tiny", "--json"))
    commit = hub.repos["org/tiny"].refs["main"]
    _source_down(monkeypatch, unused_port)

    item = _pulled(cli("--home", str(tmp_path / "b"), "pull", "hf:org/tiny", "--json"))

    assert any(f"revision {commit} from the remote store" in n for n in item["notes"])
    assert (Path(item["path"]) / "model.safetensors").read_bytes() == weights


def test_a_branch_reads_known_digests_from_the_remote_when_the_source_is_up(
        cli: Cli, team: Team, hub: FakeHub, tmp_path: Path) -> None:
    _pulled(cli("--home", str(tmp_path / "a"), "pull", "hf:org/tiny", "--json"))
    hub.clear_log()

    item = _pulled(cli("--home", str(tmp_path / "b"), "pull", "hf:org/tiny", "--json"))

    # The branch was resolved at the source (it may have moved), the bytes came from the remote.
    assert "2 of 2 files from the remote store" in item["notes"]
    assert not [r for r in hub.log if "/resolve/" in r.path or r.path.startswith("/lfs/")]


def test_push_uploads_once_and_a_second_push_rewrites_nothing(
        cli: Cli, team: Team, hub: FakeHub, tmp_path: Path) -> None:
    team.configure(push_on_pull=False)
    _pulled(cli("pull", _ref(hub), "--json"))
    assert team.keys() == {}  # push_on_pull = false: nothing uploaded by the pull

    first = cli("push", "tiny", "--json")
    assert first.code == 0, first.err
    assert first.json["models"][0]["uploaded"] == 2
    before = {k: (o["ETag"], o["LastModified"]) for k, o in team.keys("blobs/").items()}

    second = cli("push", "--all")

    assert second.code == 0, second.err
    assert "tiny: 0 blobs uploaded (0 B), 2 already there" in second.out
    assert {k: (o["ETag"], o["LastModified"]) for k, o in team.keys("blobs/").items()} == before


def test_a_blob_written_by_another_machine_meanwhile_is_not_overwritten(
        team: Team, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The race HEAD cannot close: the other machine wrote the object after our HEAD. The
    create-only write (If-None-Match) refuses, and the upload counts as already there."""
    remote = RemoteStore(RemoteSettings(team.url, team.endpoint, "us-east-1"))
    digest = "ab" * 32
    team.client.put_object(Bucket=team.bucket, Key=team.blob_key(digest), Body=b"theirs")
    monkeypatch.setattr(remote, "_exists", lambda key: False)  # our HEAD saw nothing
    mine = tmp_path / "mine"
    mine.write_bytes(b"mine!!")

    assert remote.upload_blob(mine, digest) is False
    body = team.client.get_object(Bucket=team.bucket, Key=team.blob_key(digest))["Body"].read()
    assert body == b"theirs"
    assert remote.create_only  # moto honours If-None-Match: no fallback to HEAD-then-put


def test_remote_ls_lists_what_the_remote_holds(cli: Cli, team: Team, hub: FakeHub,
                                                weights: bytes) -> None:
    ref = _ref(hub)
    _pulled(cli("pull", ref, "--json"))

    listed = cli("remote", "ls", "--json")

    assert listed.code == 0, listed.err
    [row] = listed.json["models"]
    assert (row["name"], row["ref"], row["files"]) == ("tiny", ref, 2)
    assert row["size"] == len(weights) + len(b'{"model_type": "bert"}')
    human = cli("remote", "ls")
    assert "tiny" in human.out and f"1 references in {team.url}" in human.out


def _corrupt_remote_weights(team: Team, weights: bytes) -> None:
    key = team.blob_key(hashlib.sha256(weights).hexdigest())
    team.client.put_object(Bucket=team.bucket, Key=key, Body=b"X" * len(weights))


def test_a_corrupted_remote_object_is_rejected_and_the_source_serves_it(
        cli: Cli, team: Team, hub: FakeHub, tmp_path: Path, weights: bytes) -> None:
    ref = _ref(hub)
    _pulled(cli("--home", str(tmp_path / "a"), "pull", ref, "--json"))
    _corrupt_remote_weights(team, weights)

    item = _pulled(cli("--home", str(tmp_path / "b"), "pull", ref, "--json"))

    assert any("remote store's copy failed" in n and "sha256 mismatch" in n for n in item["notes"])
    assert (Path(item["path"]) / "model.safetensors").read_bytes() == weights


def test_a_corrupted_remote_object_with_the_source_down_fails_clearly(
        cli: Cli, team: Team, hub: FakeHub, tmp_path: Path, weights: bytes,
        monkeypatch: pytest.MonkeyPatch, unused_port: int) -> None:
    ref = _ref(hub)
    _pulled(cli("--home", str(tmp_path / "a"), "pull", ref, "--json"))
    _corrupt_remote_weights(team, weights)
    _source_down(monkeypatch, unused_port)

    failed = cli("--home", str(tmp_path / "b"), "pull", ref)

    assert failed.code == 1
    [line] = failed.err.strip().splitlines()
    assert line.startswith(f"modelshelf: error: {ref}: the remote store's copy failed")
    assert "sha256 mismatch" in line and "the source failed too" in line
    assert "Traceback" not in failed.err
    assert cli("--home", str(tmp_path / "b"), "ls", "--json").json["models"] == []


def test_credentials_never_appear_in_output(
        cli: Cli, team: Team, hub: FakeHub, tmp_path: Path, weights: bytes,
        monkeypatch: pytest.MonkeyPatch, unused_port: int) -> None:
    ref = _ref(hub)
    outputs = [cli("--home", str(tmp_path / "a"), "pull", ref, *flag) for flag in ((), ("--json",))]
    outputs += [cli("--home", str(tmp_path / "a"), "push", "--all", *f) for f in ((), ("--json",))]
    outputs += [cli("remote", "ls", *f) for f in ((), ("--json",))]
    outputs += [cli("config", "--json")]
    _corrupt_remote_weights(team, weights)
    _source_down(monkeypatch, unused_port)
    outputs.append(cli("--home", str(tmp_path / "b"), "pull", ref))  # a failure naming the remote

    assert outputs[-1].code == 1
    for result in outputs:
        text = result.out + result.err
        assert SECRET_KEY not in text and ACCESS_KEY not in text
    config = cli("config", "--json")
    assert config.json["remote"]["url"] == team.url


def test_push_without_a_remote_configured_says_how_to_set_one(cli: Cli, team: Team) -> None:
    team.config.write_text("")

    result = cli("push", "--all")

    assert result.code != 0
    assert "no remote store configured" in result.err and "[remote] url" in result.err
    assert len(result.err.strip().splitlines()) == 1


def test_a_selective_pull_uploads_blobs_but_no_manifest_that_would_answer_for_all(
        cli: Cli, team: Team, hub: FakeHub, tmp_path: Path) -> None:
    ref = _ref(hub)
    _pulled(cli("--home", str(tmp_path / "a"), "pull", ref, "--include", "config.json", "--json"))
    assert len(team.keys("blobs/")) == 1 and team.keys("refs/") == {}

    item = _pulled(cli("--home", str(tmp_path / "b"), "pull", ref, "--json"))

    assert {f["path"] for f in item["files"]} == {"config.json", "model.safetensors"}
    # config.json has no published sha256 (only a git blob id) and no manifest gives one: it
    # came from the source again; the full pull then wrote the manifest.
    assert len(team.keys("refs/")) == 1 and len(team.keys("blobs/")) == 2


def test_a_server_without_conditional_writes_gets_head_then_put(
        team: Team, tmp_path: Path) -> None:
    """Older MinIO/Ceph answer If-None-Match on PUT with NotImplemented: the upload is made
    again without it (HEAD-then-put), and the store remembers not to ask again."""
    from botocore.awsrequest import AWSResponse

    remote = RemoteStore(RemoteSettings(team.url, team.endpoint, "us-east-1"))
    refused: list[str] = []

    def no_conditional_puts(params: dict[str, Any], **_: Any) -> Any:
        if "If-None-Match" in params["headers"]:
            refused.append(params["url_path"])
            answer = AWSResponse(params["url_path"], 501, {}, None)
            return (answer, {"Error": {"Code": "NotImplemented", "Message": "no"},
                             "ResponseMetadata": {"HTTPStatusCode": 501}})
        return None

    remote.client.meta.events.register("before-call.s3.PutObject", no_conditional_puts)
    blob = tmp_path / "blob"
    blob.write_bytes(b"weights")
    digest = hashlib.sha256(b"weights").hexdigest()

    assert remote.upload_blob(blob, digest) is True

    assert len(refused) == 1 and remote.create_only is False
    body = team.client.get_object(Bucket=team.bucket, Key=team.blob_key(digest))["Body"].read()
    assert body == b"weights"
