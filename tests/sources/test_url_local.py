"""Direct URLs and local imports."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from modelshelf.config import load_settings
from modelshelf.errors import NotFoundError
from modelshelf.naming import file_name
from modelshelf.sources import resolve
from modelshelf.sources.base import ResolveOptions
from modelshelf.sources.url import url_file_name
from modelshelf.testing.server import LocalServer


def test_direct_url_is_one_file_named_after_the_url(server: LocalServer) -> None:
    server.add_file("/files/my%20model.safetensors", b"bytes")
    url = server.url + "/files/my%20model.safetensors?X-Sig=abc"
    res = resolve(url, load_settings())
    (file,) = res.files
    assert (res.source, res.name, res.source_url) == ("url", "my model", url)
    assert (file.path, file.url, file.size, file.sha256) == ("my model.safetensors", url,
                                                             None, None)
    assert file.credentials.headers == {} and file.credentials.origin is None
    assert server.log == []  # nothing asked of the server: the engine probes it


def test_direct_url_token_is_scoped_to_its_origin() -> None:
    res = resolve("https://files.example.com/a.bin", load_settings(), ResolveOptions(token="t0k"))
    (file,) = res.files
    assert file.credentials.headers == {"Authorization": "Bearer t0k"}
    assert file.credentials.origin == "https://files.example.com:443"


@pytest.mark.parametrize(("url", "name"), [
    ("https://h/x/model.safetensors", "model.safetensors"),
    ("https://h/x/model.safetensors?download=1#frag", "model.safetensors"),
    ("https://h/x/a%2F..%2F..%2Fetc%2Fpasswd", "passwd"),
    ("https://h/x/..%2F.bashrc", "bashrc"),
    ("https://h/x/we%3Aird%3Cname%3E.bin", "we_ird_name_.bin"),
    ("https://h/x/", "x"),
    ("https://host.example/", "host.example"),
])
def test_names_from_urls_are_safe(url: str, name: str) -> None:
    assert url_file_name(url) == name


def test_file_name_bounds_length_and_keeps_suffix() -> None:
    name = file_name("a" * 500 + ".safetensors")
    assert name is not None and len(name) <= 200 and name.endswith(".safetensors")
    assert file_name("...") is None and file_name("\x00\x01") is None


def test_local_file(tmp_path: Path) -> None:
    model = tmp_path / "model.gguf"
    model.write_bytes(b"GGUF" + b"\0" * 60)
    for text in (str(model), f"file:{model}", model.as_uri()):
        res = resolve(text, load_settings())
        (file,) = res.files
        assert (res.source, res.name, res.is_repo) == ("local", "model", False)
        assert (file.path, file.local_path, file.size, file.url) == ("model.gguf", model, 64, None)


def test_local_folder_skips_dotfiles_and_vcs(tmp_path: Path) -> None:
    root = tmp_path / "my-model"
    for rel in ("config.json", "unet/model.safetensors", "unet/config.json", ".gitattributes",
                ".git/HEAD", ".cache/huggingface/x.lock", "unet/.DS_Store",
                "__pycache__/x.pyc"):
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(b"data")
    os.symlink(tmp_path, root / "loop")  # a symlinked folder is not followed
    res = resolve(str(root), load_settings())
    assert res.is_repo and res.name == "my-model"
    assert [f.path for f in res.files] == ["config.json", "unet/config.json",
                                           "unet/model.safetensors"]
    assert all(f.local_path == root / f.path and f.size == 4 for f in res.files)


def test_missing_local_path_names_it(tmp_path: Path) -> None:
    missing = tmp_path / "nope.safetensors"
    with pytest.raises(NotFoundError, match=str(missing)) as caught:
        resolve(f"file:{missing}", load_settings())
    assert isinstance(caught.value, FileNotFoundError)


def test_empty_folder_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "empty" / ".git").mkdir(parents=True)
    with pytest.raises(NotFoundError, match="no files"):
        resolve(str(tmp_path / "empty"), load_settings())
