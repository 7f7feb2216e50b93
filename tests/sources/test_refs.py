"""Every reference form of SPEC.md parses to the right Ref; everything else is a BadReference."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from modelshelf.errors import BadReference, UsageError
from modelshelf.sources.base import Ref
from modelshelf.sources.refs import ACCEPTED_FORMS, canonical, parse_ref

SHA = "0123456789abcdef0123456789abcdef01234567"

HF_CASES: list[tuple[str, dict[str, Any]]] = [
    ("hf:org/repo", {"repo_id": "org/repo"}),
    ("hf:org/repo@main", {"repo_id": "org/repo", "revision": "main"}),
    ("hf:org/repo@v1.0", {"repo_id": "org/repo", "revision": "v1.0"}),
    (f"hf:org/repo@{SHA}", {"repo_id": "org/repo", "revision": SHA}),
    ("hf:org/repo@refs/pr/12", {"repo_id": "org/repo", "revision": "refs/pr/12"}),
    ("hf:org/repo/model.safetensors", {"repo_id": "org/repo", "path": "model.safetensors"}),
    ("hf:org/repo@dev/unet/diffusion_pytorch_model.safetensors",
     {"repo_id": "org/repo", "revision": "dev",
      "path": "unet/diffusion_pytorch_model.safetensors"}),
    ("hf:org/repo@refs/pr/3/a/b.bin", {"repo_id": "org/repo", "revision": "refs/pr/3",
                                       "path": "a/b.bin"}),
    ("hf:Org-1/my_repo.v2", {"repo_id": "Org-1/my_repo.v2"}),
    ("hf:gpt2", {"repo_id": "gpt2"}),
    ("hf:org/repo/", {"repo_id": "org/repo"}),
    ("org/repo", {"repo_id": "org/repo"}),
    ("org/repo@v2", {"repo_id": "org/repo", "revision": "v2"}),
    ("https://huggingface.co/org/repo", {"repo_id": "org/repo"}),
    ("https://huggingface.co/org/repo/", {"repo_id": "org/repo"}),
    ("https://huggingface.co/org/repo/resolve/main/model.safetensors",
     {"repo_id": "org/repo", "revision": "main", "path": "model.safetensors"}),
    ("https://huggingface.co/org/repo/resolve/main/model.safetensors?download=true",
     {"repo_id": "org/repo", "revision": "main", "path": "model.safetensors"}),
    ("https://huggingface.co/org/repo/blob/v1.0/unet/config.json",
     {"repo_id": "org/repo", "revision": "v1.0", "path": "unet/config.json"}),
    (f"https://huggingface.co/org/repo/resolve/{SHA}/x.gguf",
     {"repo_id": "org/repo", "revision": SHA, "path": "x.gguf"}),
    ("https://huggingface.co/org/repo/resolve/refs%2Fpr%2F4/x.bin",
     {"repo_id": "org/repo", "revision": "refs/pr/4", "path": "x.bin"}),
    ("https://huggingface.co/org/repo/blob/refs/pr/4/x.bin",
     {"repo_id": "org/repo", "revision": "refs/pr/4", "path": "x.bin"}),
    ("https://huggingface.co/org/repo/tree/dev", {"repo_id": "org/repo", "revision": "dev"}),
    ("https://hf.co/org/repo", {"repo_id": "org/repo"}),
    ("  hf:org/repo  ", {"repo_id": "org/repo"}),
]

CIVITAI_CASES: list[tuple[str, dict[str, Any]]] = [
    ("civitai:4242", {"version_id": 4242}),
    ("civitai:model/77", {"model_id": 77}),
    ("civitai:models/77", {"model_id": 77}),
    ("https://civitai.com/models/4201", {"model_id": 4201}),
    ("https://civitai.com/models/4201/realistic-vision", {"model_id": 4201}),
    ("https://civitai.com/models/4201/realistic-vision?modelVersionId=130072",
     {"model_id": 4201, "version_id": 130072}),
    ("https://civitai.com/models/4201?modelVersionId=130072",
     {"model_id": 4201, "version_id": 130072}),
    ("https://civitai.com/api/download/models/130072", {"version_id": 130072}),
    ("https://civitai.com/api/download/models/130072?type=Model&format=SafeTensor",
     {"version_id": 130072}),
    ("https://www.civitai.com/api/v1/model-versions/5", {"version_id": 5}),
    ("https://civitai.com/api/v1/models/6", {"model_id": 6}),
    ("urn:air:sdxl:checkpoint:civitai:827184@2514310", {"model_id": 827184, "version_id": 2514310}),
    ("urn:air:sd1:lora:civitai:827184", {"model_id": 827184}),
]

OTHER_CASES: list[tuple[str, str, dict[str, Any]]] = [
    ("torchvision:resnet18", "torchvision", {"name": "resnet18"}),
    ("torchvision:ResNet50@IMAGENET1K_V2", "torchvision",
     {"name": "resnet50", "revision": "IMAGENET1K_V2"}),
    ("https://example.com/files/model.safetensors?sig=1", "url",
     {"url": "https://example.com/files/model.safetensors?sig=1"}),
    ("http://10.0.0.2:8080/x.bin", "url", {"url": "http://10.0.0.2:8080/x.bin"}),
    ("https://civitai.example.org/models/1", "url", {"url": "https://civitai.example.org/models/1"}),
]


@pytest.mark.parametrize(("text", "fields"), HF_CASES)
def test_hub_forms(text: str, fields: dict[str, Any], tmp_path: Path) -> None:
    ref = parse_ref(text, cwd=tmp_path)
    assert ref == Ref(source="hf", raw=text.strip(), **fields)


@pytest.mark.parametrize(("text", "fields"), CIVITAI_CASES)
def test_civitai_forms(text: str, fields: dict[str, Any], tmp_path: Path) -> None:
    assert parse_ref(text, cwd=tmp_path) == Ref(source="civitai", raw=text, **fields)


@pytest.mark.parametrize(("text", "source", "fields"), OTHER_CASES)
def test_torchvision_and_direct_urls(text: str, source: str, fields: dict[str, Any],
                                     tmp_path: Path) -> None:
    assert parse_ref(text, cwd=tmp_path) == Ref(source=source, raw=text, **fields)


def test_local_forms(tmp_path: Path) -> None:
    model = tmp_path / "m.safetensors"
    model.write_bytes(b"x")
    (tmp_path / "my models").mkdir()
    cases = {
        f"file:{model}": model,
        f"file://{model}": model,
        "file://localhost" + str(tmp_path / "my%20models"): tmp_path / "my models",
        "file:m.safetensors": model,  # relative to cwd
        str(model): model,
        "m.safetensors": model,
        "./m.safetensors": model,
        "my models": tmp_path / "my models",
        "./missing.bin": tmp_path / "missing.bin",  # looks like a path: local, fails at resolve
        "/nowhere/at/all.bin": Path("/nowhere/at/all.bin"),
        # A model file name is a path, there or not (a typo is "no such file", not a Hub call).
        "checkpoints/typo.safetensors": tmp_path / "checkpoints" / "typo.safetensors",
        "a/b/c/model.safetensors": tmp_path / "a" / "b" / "c" / "model.safetensors",
        "x.GGUF": tmp_path / "x.GGUF",
    }
    for text, path in cases.items():
        assert parse_ref(text, cwd=tmp_path) == Ref(source="local", raw=text, local_path=path), text


def test_home_relative_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    assert parse_ref("~/x.bin").local_path == tmp_path / "x.bin"


def test_existing_local_path_beats_bare_org_repo(tmp_path: Path) -> None:
    """The documented rule for the one ambiguous form."""
    assert parse_ref("org/repo", cwd=tmp_path).source == "hf"
    (tmp_path / "org" / "repo").mkdir(parents=True)
    ref = parse_ref("org/repo", cwd=tmp_path)
    assert ref.source == "local" and ref.local_path == tmp_path / "org" / "repo"
    assert parse_ref("hf:org/repo", cwd=tmp_path).source == "hf"  # the prefix always wins


def test_configured_endpoints_count_as_their_source(tmp_path: Path) -> None:
    endpoints = {"hf": "http://127.0.0.1:9000", "civitai": "http://localhost:9001"}
    hub = parse_ref("http://127.0.0.1:9000/org/repo/resolve/main/a.bin", endpoints=endpoints)
    assert (hub.source, hub.repo_id, hub.path) == ("hf", "org/repo", "a.bin")
    civ = parse_ref("http://localhost:9001/models/5?modelVersionId=6", endpoints=endpoints)
    assert (civ.source, civ.model_id, civ.version_id) == ("civitai", 5, 6)
    assert parse_ref("http://localhost:9000/org/repo", endpoints=endpoints).source == "url"
    # Other paths on a configured endpoint are plain downloads (on huggingface.co: a mistake).
    assert parse_ref("http://127.0.0.1:9000/a.bin", endpoints=endpoints).source == "url"


BAD = [
    "", "   ", "hf:", "hf:org/repo@", "hf:org//repo", "hf:a--b/repo", "hf:org/repo/../x",
    "hf:org/re po", "civitai:", "civitai:abc", "civitai:0", "civitai:model/", "civitai:-4",
    "torchvision:", "torchvision:res-net", "s3://bucket/key", "ftp://host/x", "xyz:thing",
    "https://huggingface.co/datasets/org/data", "https://huggingface.co/spaces/org/app",
    "https://huggingface.co/org", "https://huggingface.co/org/repo/discussions/3",
    "https://huggingface.co/org/repo/tree/main/unet", "https://civitai.com/images/123",
    "https://civitai.com/user/someone", "http:///nohost", "urn:isbn:12345",
    "not-a-ref", "a/b/c/model", "file:", "file://otherhost/x",
]


@pytest.mark.parametrize("text", BAD)
def test_bad_references_list_the_accepted_forms(text: str, tmp_path: Path) -> None:
    with pytest.raises(BadReference) as caught:
        parse_ref(text, cwd=tmp_path)
    assert isinstance(caught.value, UsageError) and caught.value.exit_code == 2
    assert ACCEPTED_FORMS in str(caught.value)


@pytest.mark.parametrize("text", ["torchhub:pytorch/vision", "pytorch/vision:v0.10.0:resnet18",
                                  "facebookresearch/dinov2:dinov2_vits14"])
def test_torch_hub_is_refused_with_the_reason(text: str, tmp_path: Path) -> None:
    with pytest.raises(BadReference, match=r"runs its hubconf\.py, code downloaded from the"):
        parse_ref(text, cwd=tmp_path)


# -- round trips ---------------------------------------------------------------------------------
# Hub names may not contain "--" (the Hub cache uses it as its separator).
_part = st.from_regex(r"[A-Za-z0-9]([A-Za-z0-9_-]{0,10}[A-Za-z0-9])?", fullmatch=True).filter(
    lambda s: "--" not in s)
_revision = st.one_of(
    st.none(), st.from_regex(r"[A-Za-z0-9][A-Za-z0-9._-]{0,15}", fullmatch=True),
    st.integers(1, 9999).map(lambda n: f"refs/pr/{n}"),
    st.from_regex(r"[0-9a-f]{40}", fullmatch=True))
_path = st.one_of(st.none(), st.lists(_part, min_size=1, max_size=3).map("/".join))


@st.composite
def _refs(draw: st.DrawFn) -> Ref:
    kind = draw(st.sampled_from(["hf", "civitai-version", "civitai-model", "torchvision"]))
    if kind == "hf":
        return Ref(source="hf", raw="", repo_id=f"{draw(_part)}/{draw(_part)}",
                   revision=draw(_revision), path=draw(_path))
    if kind == "civitai-version":
        return Ref(source="civitai", raw="", version_id=draw(st.integers(1, 10**9)))
    if kind == "civitai-model":
        return Ref(source="civitai", raw="", model_id=draw(st.integers(1, 10**9)))
    name = draw(st.from_regex(r"[a-z][a-z0-9_]{0,15}", fullmatch=True))
    weights = draw(st.one_of(st.none(), st.from_regex(r"[A-Z0-9_]{1,12}", fullmatch=True)))
    return Ref(source="torchvision", raw="", name=name, revision=weights)


@settings(max_examples=200, deadline=None)
@given(_refs())
def test_canonical_text_parses_back_to_the_same_ref(ref: Ref) -> None:
    text = canonical(ref)
    assert parse_ref(text, cwd=Path("/nonexistent-cwd")) == Ref(**{**ref.__dict__, "raw": text})


@settings(max_examples=100, deadline=None)
@given(_part, _part, _revision, _path)
def test_hub_url_and_hf_prefix_agree(org: str, repo: str, revision: str | None,
                                     path: str | None) -> None:
    rev = revision or "main"
    url = f"https://huggingface.co/{org}/{repo}/resolve/{rev}/{path or 'f.bin'}"
    by_url = parse_ref(url, cwd=Path("/nonexistent-cwd"))
    by_prefix = parse_ref(f"hf:{org}/{repo}@{rev}/{path or 'f.bin'}", cwd=Path("/nonexistent-cwd"))
    assert (by_url.repo_id, by_url.revision, by_url.path) == \
        (by_prefix.repo_id, by_prefix.revision, by_prefix.path)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=40))
@example("~\x00")  # once an uncaught ValueError from os.path.expanduser
@example("file:/tmp/a\x00b")
def test_any_text_parses_or_raises_bad_reference(text: str) -> None:
    try:
        ref = parse_ref(text, cwd=Path("/nonexistent-cwd"))
    except BadReference:
        return
    assert ref.source in {"hf", "civitai", "url", "torchvision", "local"}


def test_canonical_of_local_and_url(tmp_path: Path) -> None:
    for text in (f"file:{tmp_path}", "https://example.com/a.bin"):
        ref = parse_ref(text, cwd=tmp_path)
        assert canonical(ref) == text


@pytest.mark.parametrize("text", ["~\x00", "./a\x00.safetensors", "org/re\x00po"])
def test_a_nul_character_is_a_bad_reference_not_a_crash(text: str) -> None:
    with pytest.raises(BadReference, match="NUL character"):
        parse_ref(text, cwd=Path("/nonexistent-cwd"))
