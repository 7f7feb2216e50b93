"""Fuzzing the parsers of what users and servers send that is *not* a model file: references,
size strings, config.toml, manifests and lock files, Content-Disposition and Content-Range, and
the JSON answers of the Hub and Civitai APIs (over loopback HTTP, through the real clients).

The property for each: a result or a :class:`ModelshelfError` (the one documented error tree) —
never another exception, never a hang (hypothesis's deadline). The file formats (safetensors,
GGUF, pickle) are fuzzed in test_fuzz_formats.py.

Bounded per run by ``MODELSHELF_FUZZ_EXAMPLES`` (default 40 per parser). The corpus in
``corpus/<parser>/`` is replayed first, every run; it grows: with ``MODELSHELF_FUZZ_GROW=1`` an
input that breaks the property is saved there before the test fails, so it stays a regression
test once fixed.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import tempfile
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import tomli_w
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from modelshelf.config import load_settings, parse_size
from modelshelf.errors import ModelshelfError
from modelshelf.manifest import read_lock, read_manifest
from modelshelf.sources import civitai, hf
from modelshelf.sources.base import ResolveOptions
from modelshelf.sources.refs import parse_ref
from modelshelf.testing.server import LocalServer, Request, Response
from modelshelf.transfer.meta import parse_content_range
from modelshelf.transfer.names import filename_from_disposition

EXAMPLES = int(os.environ.get("MODELSHELF_FUZZ_EXAMPLES", "40"))
GROW = os.environ.get("MODELSHELF_FUZZ_GROW") == "1"
# A survey (for docs/reliability.md): crashes are appended to this file as "parser<TAB>type"
# and the run goes on, so a parser with a known crash is still fuzzed for the full count.
SURVEY = os.environ.get("MODELSHELF_FUZZ_SURVEY")
CORPUS = Path(__file__).parent / "corpus"
# Derandomized (the same inputs every run, so a strict xfail stays strict; raise
# MODELSHELF_FUZZ_EXAMPLES to explore further) and no shrinking (a known crash fails at once).
FUZZ = settings(max_examples=EXAMPLES, deadline=timedelta(seconds=10), database=None,
                derandomize=True, phases=[Phase.explicit, Phase.generate],
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                       HealthCheck.function_scoped_fixture])
# Crashes the fuzzing found and not yet fixed, by parser -> the bug's one-line description (a
# strict xfail for the parser's test and its crash-* corpus cases). None open: the config,
# Hub JSON and Civitai JSON crashes are fixed, their cases kept without the crash- prefix.
KNOWN: dict[str, str] = {}


def known(name: str) -> Any:
    """The strict-xfail mark for a known crash (by parser or by corpus case), else no mark."""
    reason = KNOWN.get(name.split("/")[0])
    return [pytest.mark.xfail(strict=True, reason=reason)] if reason else []
_SCRATCH = Path(tempfile.mkdtemp(prefix="modelshelf-fuzz-"))


def survives(parser: str, call: Callable[[bytes], object], data: bytes) -> object:
    """``call(data)``: a result or a ModelshelfError; anything else fails (and, growing, is kept)."""
    try:
        return call(data)
    except ModelshelfError:
        return None
    except Exception as exc:
        if GROW:
            folder = CORPUS / parser
            folder.mkdir(parents=True, exist_ok=True)
            (folder / f"crash-{hashlib.sha256(data).hexdigest()[:16]}").write_bytes(data)
        if not SURVEY:
            raise
        with open(SURVEY, "a", encoding="utf-8") as log:
            log.write(f"{parser}\t{type(exc).__name__}\n")
        return None


# -- the parsers, each as bytes -> result -------------------------------------------------------
def _text(data: bytes) -> str:
    return data.decode("utf-8", errors="surrogateescape")


def _ref(data: bytes) -> object:
    return parse_ref(_text(data), cwd=_SCRATCH,
                     endpoints={"hf": "http://127.0.0.1:9", "civitai": "http://localhost:9"})


def _file(name: str, data: bytes) -> Path:
    path = _SCRATCH / name
    path.write_bytes(data)
    return path


def _disposition(data: bytes) -> object:
    name = filename_from_disposition(data.decode("latin-1"))
    # A name from a server becomes a file name in the store: never a path, never a dot-name.
    assert name is None or ("/" not in name and "\0" not in name and name not in (".", "..")), name
    return name


def _config(data: bytes) -> object:
    return load_settings({"MODELSHELF_CONFIG": str(_file("config.toml", data)),
                          "MODELSHELF_HOME": str(_SCRATCH / "home")})


PARSERS: dict[str, Callable[[bytes], object]] = {
    "refs": _ref,
    "sizes": lambda data: parse_size(_text(data)),
    "content-disposition": _disposition,
    "content-range": lambda data: parse_content_range(data.decode("latin-1")),
    "manifest": lambda data: read_manifest(_file("models.toml", data)),
    "lock": lambda data: read_lock(_file("models.toml.lock", data)),
    "config": _config,
}


# -- the corpus, replayed every run ---------------------------------------------------------------
def _corpus_cases() -> Iterator[Any]:
    # The corpus folder is shared with test_fuzz_formats.py: replay only this file's parsers.
    ours = {*PARSERS, "hub-json", "civitai-json"}
    for folder in sorted(p for p in CORPUS.iterdir() if p.is_dir() and p.name in ours):
        for case in sorted(folder.iterdir()):
            name = f"{folder.name}/{case.name}"
            yield pytest.param(folder.name, case, id=name, marks=_corpus_mark(name))


def _corpus_mark(name: str) -> Any:
    """A case named ``crash-*`` still crashes (a known bug): a strict xfail, so the fix shows;
    then rename it without the prefix and it guards against the bug's return."""
    return known(name) if name.split("/")[-1].startswith("crash-") else []


@pytest.mark.parametrize(("parser", "case"), list(_corpus_cases()))
def test_corpus(parser: str, case: Path, api: FakeApis) -> None:
    data = case.read_bytes()
    if parser in ("hub-json", "civitai-json"):
        survives(parser, lambda d: api.resolve(parser, d), data)
    else:
        survives(parser, PARSERS[parser], data)


# -- strategies -----------------------------------------------------------------------------------
# Strings with no "://" or "/": a fuzzed URL in an API answer must never send the client to a
# real host (loopback only); everything else a string can hold is fair.
_STRINGS = st.text(st.characters(blacklist_characters="/:", blacklist_categories=("Cs",)),
                   max_size=40)
JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-2**63, 2**64) | st.floats(allow_nan=False) | _STRINGS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_STRINGS, inner, max_size=4),
    max_leaves=12)
TOML_VALUES = st.recursive(
    st.booleans() | st.integers(-2**63, 2**63 - 1) | st.text(max_size=30)
    | st.floats(allow_nan=False),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner,
                                                                max_size=3),
    max_leaves=10)


def mutated(base: Any, draw: Any) -> Any:
    """``base`` with one value somewhere inside replaced, removed, or the whole thing replaced."""
    if not isinstance(base, dict | list) or not base or draw(st.integers(0, 5)) == 0:
        return draw(JSON)
    copy = dict(base) if isinstance(base, dict) else list(base)
    key = draw(st.sampled_from(list(copy) if isinstance(copy, dict) else range(len(copy))))
    action = draw(st.sampled_from(("replace", "remove", "recurse")))
    if action == "remove" and isinstance(copy, dict):
        del copy[key]
    elif action == "recurse":
        copy[key] = mutated(copy[key], draw)
    else:
        copy[key] = draw(JSON)
    return copy


def _toml(draw: Any, base: dict[str, Any]) -> bytes:
    """Valid TOML a step away from ``base``, or raw bytes (half the time)."""
    if draw(st.booleans()):
        return draw(st.binary(max_size=300))
    doc = mutated(base, lambda s: draw(TOML_VALUES if s is JSON else s))
    try:
        return tomli_w.dumps(doc if isinstance(doc, dict) else {"model": doc}).encode()
    except (TypeError, ValueError):
        return draw(st.binary(max_size=300))


# -- text parsers -------------------------------------------------------------------------------
_REF_WORDS = ["hf:", "civitai:", "civitai:model/", "file:", "torchvision:", "torch.hub:",
              "urn:air:sdxl:lora:civitai:", "https://huggingface.co/", "https://civitai.com/models/",
              "http://127.0.0.1:9/", "@", "/", "?modelVersionId=", "resolve/", "blob/", "..", "%2F",
              "refs/pr/", "org/repo", "1", "0x10", " ", "\\", "C:", "~"]


@FUZZ
@given(st.lists(st.sampled_from(_REF_WORDS) | st.text(max_size=8), max_size=8).map("".join))
def test_refs(text: str) -> None:
    survives("refs", PARSERS["refs"], text.encode("utf-8", errors="surrogatepass"))


@FUZZ
@given(st.from_regex(r"\s*-?[0-9.eE+_inf]{0,8}\s*[KMGTkmgt]?[iI]?[bB]?\s*", fullmatch=True)
       | st.text(max_size=12))
def test_sizes(text: str) -> None:
    survives("sizes", PARSERS["sizes"], text.encode("utf-8", errors="surrogatepass"))


_DISPOSITION = st.lists(st.sampled_from(
    ["attachment", "inline", ";", " filename=", " filename*=", "UTF-8''", "utf-8'en'",
     "iso-8859-1''", "x-bad''", '"', "\\", "..", "/", "%2F", "%00", "%FF", "%", "=?utf-8?q?",
     "../../etc/passwd", "model.safetensors", "\r\n", "\x00", "é"]) | st.text(max_size=6),
    max_size=10).map("".join)


@FUZZ
@given(_DISPOSITION)
def test_content_disposition(header: str) -> None:
    survives("content-disposition", PARSERS["content-disposition"],
             header.encode("latin-1", errors="replace"))


@FUZZ
@given(st.from_regex(r"bytes [0-9*]{0,25}-?[0-9]{0,25}/?[0-9*]{0,25}", fullmatch=True)
       | st.text(max_size=30))
def test_content_range(value: str) -> None:
    survives("content-range", PARSERS["content-range"], value.encode("latin-1", errors="replace"))


_MANIFEST = {"model": [{"ref": "hf:org/repo", "name": "m", "type": "checkpoints",
                        "include": ["*.safetensors"], "exclude": "*.bin", "revision": "main",
                        "sha256": "a" * 64}]}
_LOCK = {"version": 1, "model": [{"ref": "hf:org/repo", "name": "m", "type": "checkpoints",
                                  "revision": "0" * 40, "include": [], "exclude": [],
                                  "source_url": "https://huggingface.co/org/repo",
                                  "file": [{"path": "m.safetensors", "sha256": "b" * 64,
                                            "size": 10}]}]}
_CONFIG = {"store": {"root": "x"}, "transfer": {"connections": 4, "retries": 2,
                                                "stall_seconds": 5.0},
           "gc": {"max_size": "50GB"},
           "sources": {"hf": {"enabled": True, "timeout_seconds": 3, "verify_ssl": True,
                              "endpoint": "http://127.0.0.1:9", "token": "x"}}}


@FUZZ
@given(st.data())
def test_manifest(data: st.DataObject) -> None:
    survives("manifest", PARSERS["manifest"], _toml(data.draw, _MANIFEST))


@FUZZ
@given(st.data())
def test_lock(data: st.DataObject) -> None:
    survives("lock", PARSERS["lock"], _toml(data.draw, _LOCK))


@FUZZ
@given(st.data())
def test_config(data: st.DataObject) -> None:
    survives("config", PARSERS["config"], _toml(data.draw, _CONFIG))


# -- API answers over HTTP ------------------------------------------------------------------------
class FakeApis:
    """One loopback server answering every Hub and Civitai API call with ``body`` (the fuzzed
    answer) where the test puts it, and a well-formed answer elsewhere."""

    def __init__(self, server: LocalServer) -> None:
        self.server = server
        self.answers: dict[str, bytes] = {}
        for pattern, key in ((r"/api/models/[^/]+/[^/]+(?:/revision/[^/]+)?", "hub-info"),
                             (r"/api/models/[^/]+/[^/]+/tree/.+", "hub-tree"),
                             (r"/api/v1/model-versions/\d+", "civitai-version"),
                             (r"/api/v1/models/\d+", "civitai-model")):
            server.add_route("GET", pattern, self._answer(key))
        server.add_route("GET", r"/api/download/models/\d+", lambda r: Response(
            302, b"", {"Location": f"{server.url}/storage/m.safetensors"}))
        server.add_file("/storage/m.safetensors", b"x" * 64)

    def _answer(self, key: str) -> Callable[[Request], Response]:
        def handler(request: Request) -> Response:
            return Response(200, self.answers[key], {"Content-Type": "application/json"})
        return handler

    def resolve(self, parser: str, body: bytes) -> object:
        """``hub-json``/``civitai-json`` corpus files hold ``{"<answer key>": <JSON>, ...}``;
        the answers not named stay well-formed. ``{server}`` in them stands for this server's
        URL (so a saved case replays against any port)."""
        body = body.replace(b"{server}", self.server.url.encode())
        self.answers = {**good_answers(self.server.url), **{
            k: json.dumps(v).encode() for k, v in _json_or(body).items()}}
        return self.resolve_now("hf" if parser == "hub-json" else "civitai")

    def resolve_now(self, source: str) -> object:
        env = {"HF_ENDPOINT": self.server.url, "MODELSHELF_CIVITAI_ENDPOINT": self.server.url,
               "MODELSHELF_HOME": str(_SCRATCH / "home"),
               "MODELSHELF_CONFIG": str(_file("empty.toml", b"")),
               "NO_PROXY": "*"}
        settings_ = load_settings(env)
        if source == "hf":
            ref = parse_ref("hf:org/repo")
            return hf.resolve(ref, settings_, ResolveOptions())
        return civitai.resolve(parse_ref("civitai:7"), settings_, ResolveOptions())


def _json_or(body: bytes) -> dict[str, Any]:
    try:
        value = json.loads(body)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def good_answers(url: str) -> dict[str, bytes]:
    sha = "c" * 40
    info = {"_id": "x", "id": "org/repo", "modelId": "org/repo", "sha": sha, "private": False,
            "gated": False, "disabled": False, "siblings": [{"rfilename": "m.safetensors"}],
            "lastModified": "2024-01-01T00:00:00.000Z", "tags": [], "downloads": 0}
    tree = [{"type": "file", "oid": "d" * 40, "size": 64, "path": "m.safetensors",
             "lfs": {"oid": "e" * 64, "size": 64, "pointerSize": 130}}]
    version = {"id": 7, "modelId": 3, "name": "v1", "baseModel": "SDXL 1.0",
               "model": {"name": "m", "type": "LORA"}, "images": [],
               "downloadUrl": f"{url}/api/download/models/7",
               "files": [{"id": 70, "name": "m.safetensors", "type": "Model", "primary": True,
                          "sizeKB": 0.0625, "hashes": {"SHA256": "E" * 64},
                          "downloadUrl": f"{url}/api/download/models/7"}]}
    model = {"id": 3, "name": "m", "type": "LORA", "modelVersions": [version]}
    return {k: json.dumps(v).encode() for k, v in (("hub-info", info), ("hub-tree", tree),
                                                   ("civitai-version", version),
                                                   ("civitai-model", model))}


@pytest.fixture(scope="module")
def api() -> Iterator[FakeApis]:
    with LocalServer() as server:
        yield FakeApis(server)


def _api_case(draw: Any, keys: tuple[str, ...]) -> bytes:
    """A corpus-shaped case: one or two of ``keys`` answered with a mutation of the good JSON."""
    good = {k: json.loads(v) for k, v in good_answers("{server}").items()}
    chosen = draw(st.lists(st.sampled_from(keys), min_size=1, max_size=2, unique=True))
    return json.dumps({k: mutated(good[k], draw) for k in chosen}).encode()


@FUZZ
@given(st.data())
def test_hub_json(api: FakeApis, data: st.DataObject) -> None:
    case = _api_case(data.draw, ("hub-info", "hub-tree"))
    survives("hub-json", lambda d: api.resolve("hub-json", d), case)


@FUZZ
@given(st.data())
def test_civitai_json(api: FakeApis, data: st.DataObject) -> None:
    case = _api_case(data.draw, ("civitai-version",))
    survives("civitai-json", lambda d: api.resolve("civitai-json", d), case)


def test_hub_and_civitai_answers_are_accepted_when_well_formed(api: FakeApis) -> None:
    """The fuzzing's baseline: with nothing mutated both resolve (so a mutation that fails is
    the mutation's doing, not a broken fake)."""
    assert re.fullmatch(r"[0-9a-f]{40}", str(api.resolve("hub-json", b"{}").revision))  # type: ignore[attr-defined]
    assert api.resolve("civitai-json", b"{}").revision == "7"  # type: ignore[attr-defined]
