"""The fake Hub is faithful enough that the real huggingface_hub client works against it.

If these pass, the fake answers what huggingface_hub 2.x asks (info, tree, resolve with its
headers, LFS redirects to another host, error codes) the way the real Hub does.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import httpx
import pytest
from hub_constants import HUB_TOKEN
from huggingface_hub import HfApi, hf_hub_download, snapshot_download
from huggingface_hub.errors import (
    GatedRepoError,
    RemoteEntryNotFoundError,
    RepositoryNotFoundError,
    RevisionNotFoundError,
)

from modelshelf.testing.hub import FakeHub, git_blob_id


def lower(headers: Mapping[str, str]) -> dict[str, str]:
    return {k.lower(): v for k, v in headers.items()}


def test_hf_hub_download_follows_the_lfs_redirect_to_another_host(hub_server: FakeHub,
                                                                    tmp_path: Path):
    path = hf_hub_download("org/private", "model.safetensors", endpoint=hub_server.url,
                           cache_dir=tmp_path / "c", token=HUB_TOKEN)
    expected = hub_server.file("org/private", "model.safetensors")
    assert Path(path).read_bytes() == expected.data
    assert Path(path).resolve().name == expected.sha256  # the Hub cache names LFS blobs by sha256
    (cdn,) = [r for r in hub_server.log if r.path.startswith("/lfs/")]
    assert cdn.host.startswith("localhost:")
    assert "authorization" not in lower(cdn.headers)  # the client drops it off the Hub's host
    head = [r for r in hub_server.log if r.method == "HEAD"]
    assert head and lower(head[0].headers).get("authorization") == f"Bearer {HUB_TOKEN}"


def test_snapshot_download_at_a_pr_ref(hub_server: FakeHub, tmp_path: Path):
    folder = Path(snapshot_download("org/tiny", revision="refs/pr/1", endpoint=hub_server.url,
                                    cache_dir=tmp_path / "c", token=False))
    commit = hub_server.repos["org/tiny"].refs["refs/pr/1"]
    assert folder.name == commit
    assert (folder / "pr.json").read_bytes() == b'{"pr": 1}'
    assert (folder / "unet" / "config.json").read_bytes() == b'{"sample_size": 64}'
    small = hub_server.file("org/tiny", "README.md")
    assert (folder / "README.md").resolve().name == git_blob_id(small.data)  # type: ignore[arg-type]
    ref_file = tmp_path / "c" / "models--org--tiny" / "refs" / "refs" / "pr" / "1"
    assert ref_file.read_text() == commit


def test_client_raises_its_own_error_types(hub_server: FakeHub, tmp_path: Path):
    kwargs = {"endpoint": hub_server.url, "cache_dir": tmp_path / "c", "token": False}
    with pytest.raises(RepositoryNotFoundError):
        hf_hub_download("org/nope", "x.json", **kwargs)
    with pytest.raises(RevisionNotFoundError):
        hf_hub_download("org/tiny", "config.json", revision="nope", **kwargs)
    with pytest.raises(RemoteEntryNotFoundError):
        hf_hub_download("org/tiny", "nope.json", **kwargs)
    with pytest.raises(GatedRepoError):
        hf_hub_download("org/gated", "config.json", **kwargs)
    info = HfApi(endpoint=hub_server.url, token=False).model_info("org/gated")
    assert info.gated == "manual"  # the gate only shows when fetching bytes, as on the Hub


def test_lfs_bytes_serve_ranges_and_no_xet(hub_server: FakeHub):
    head = httpx.head(f"{hub_server.url}/org/tiny/resolve/main/model.safetensors")
    assert head.status_code == 302
    assert head.headers["X-Linked-Size"] == "200000"
    assert not [k for k in head.headers if k.lower().startswith("x-xet")]
    part = httpx.get(head.headers["Location"], headers={"Range": "bytes=10-19"})
    assert part.status_code == 206
    data = hub_server.file("org/tiny", "model.safetensors").data
    assert part.content == data[10:20]  # type: ignore[index]


def test_files_on_disk_are_served_too(tmp_path: Path):
    shard = tmp_path / "shard.safetensors"
    shard.write_bytes(os.urandom(100_000))
    with FakeHub() as hub:
        hub.add_repo("org/disk", {"shard.safetensors": shard})
        path = hf_hub_download("org/disk", "shard.safetensors", endpoint=hub.url,
                               cache_dir=tmp_path / "c", token=False)
        assert Path(path).read_bytes() == shard.read_bytes()
