"""Model references as users type them (SPEC.md "Model references") -> :class:`Ref`.

Parsing is pure and offline: it never asks a server whether something exists, so ``pull
--dry-run``, manifests and lock files can be checked without a network. Each form is one small
parser chosen from a table keyed by the scheme (``hf:``, ``civitai:``, ``https:`` ...); URLs are
then sorted by host (Hub, Civitai, anything else = a direct download).

The one ambiguity, ``ORG/REPO``, is settled by the disk: **an existing local path wins** (so
``models/foo`` typed in a folder holding ``models/foo`` imports that folder); otherwise a bare
``ORG/REPO[@REV]`` is the Hub repo ``hf:ORG/REPO[@REV]``. Text that *looks* like a path (it starts
with ``/``, ``./``, ``../`` or ``~``, or ends in a model file extension such as ``.safetensors``:
:data:`LOCAL_PATH_RULES`) is always local, so ``info checkpoints/typo.safetensors`` gives "no such
file" instead of a confusing "cannot reach huggingface.co". A bare ``A/B/C`` that is not on disk
is refused rather than guessed (write ``hf:A/B/C`` for a file in a Hub repo).
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

from modelshelf.errors import BadReference, DownloadError
from modelshelf.secrets import redact_url
from modelshelf.sources.aliases import lookup
from modelshelf.sources.base import Ref, SourceName

ACCEPTED_FORMS = """accepted reference forms:
  hf:ORG/REPO[@REV][/PATH]       a Hub repo, at a branch/tag/commit/refs/pr/N, or one file
  ORG/REPO[@REV]                 the same as hf:ORG/REPO (unless ORG/REPO is an existing local path)
  https://huggingface.co/ORG/REPO[/resolve|blob/REV/PATH]
  civitai:VERSION_ID             a Civitai model version's primary file
  civitai:model/MODEL_ID         a Civitai model's latest version
  https://civitai.com/models/ID[?modelVersionId=V], https://civitai.com/api/download/models/V
  torchvision:NAME[@WEIGHTS]     torchvision's default (or named) weights, e.g. torchvision:resnet18
  http(s)://...                  any other URL: a direct download
  file:PATH or an existing path  import a local file or folder
  NAME                           a short name: gpt2, bert-base-uncased, resnet18, [aliases] in config
  huggingface:..., url:URL       the same as hf:... and the URL itself (spellings of other tools)"""

HF_HOSTS = frozenset({"huggingface.co", "www.huggingface.co", "hf.co"})
CIVITAI_HOSTS = frozenset({"civitai.com", "www.civitai.com", "civitai.green", "www.civitai.green"})

# A Hub repo id part: letters, digits, '-', '_', '.'; no '--' or '..' (huggingface_hub's rule).
_REPO_PART = r"[A-Za-z0-9](?:[\w.-]{0,94}[A-Za-z0-9_])?"
_REVISION = r"refs/pr/\d+|[^/@\s]+"
_HF_BODY = re.compile(
    rf"(?P<repo>{_REPO_PART}/{_REPO_PART})(?:@(?P<rev>{_REVISION}))?(?:/(?P<path>.*))?")
_HF_LEGACY = re.compile(rf"(?P<repo>{_REPO_PART})(?:@(?P<rev>[^/@\s]+))?")  # hf:gpt2
_HF_BARE = re.compile(rf"(?P<repo>{_REPO_PART}/{_REPO_PART})(?:@(?P<rev>{_REVISION}))?")
_SCHEME = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+._-]*):(?P<body>.*)", re.DOTALL)
_WORD = re.compile(r"[A-Za-z0-9][\w.+-]*")  # a bare word: maybe a short name (see aliases.py)
_TORCHVISION = re.compile(r"(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:@(?P<weights>[A-Za-z0-9_]+))?")
# torch.hub's "owner/repo[:ref]" + entry point: "pytorch/vision:v0.10.0:resnet18" and the like.
_TORCH_HUB = re.compile(r"[\w.-]+/[\w.-]+(?::[\w.-]+)+")
_AIR = re.compile(r"air:[\w.-]+:[\w.-]+:civitai:(?P<model>\d+)(?:@(?P<version>\d+))?")
_LOOKS_LOCAL = ("/", "./", "../", "~", ".\\", "..\\")
# Extensions that name a model *file*: no Hub repo id ends in one in practice, while a file name
# typed on the command line (``checkpoints/x.safetensors``, ``x.gguf``) always does.
MODEL_FILE_EXTENSIONS = (".safetensors", ".sft", ".gguf", ".ckpt", ".pt", ".pth", ".bin",
                         ".onnx", ".pkl", ".pickle")
# Bare text matching any of these is a local path, even when nothing is there (then: "no such
# file"); everything else bare that fits ORG/REPO is a Hub repo.
LOCAL_PATH_RULES: tuple[Callable[[str], bool], ...] = (
    lambda text: text.startswith(_LOOKS_LOCAL) or text in (".", ".."),
    lambda text: text.lower().endswith(MODEL_FILE_EXTENSIONS),
)

Parser = Callable[[str, str, Path, Mapping[str, str]], Ref]


def parse_ref(text: str, *, cwd: Path | None = None,
              endpoints: Mapping[str, str | None] | None = None,
              aliases: Mapping[str, str] | None = None) -> Ref:
    """Parse one reference; raise :class:`BadReference` (exit 2) listing the forms if none fits.

    ``cwd`` anchors relative local paths (default: the process's working directory).
    ``endpoints`` maps ``"hf"``/``"civitai"`` to extra base URLs whose links count as that source
    (``HF_ENDPOINT``, ``MODELSHELF_CIVITAI_ENDPOINT``); :func:`modelshelf.sources.parse` fills it
    from the settings. ``aliases`` is the user's ``[aliases]`` table; a bare word is looked up
    there and in the built-in tables (:mod:`.aliases`) unless it is an existing local path.
    """
    raw = text.strip()
    if not raw:
        raise _bad(text, "the reference is empty")
    if "\0" in raw:  # no URL, repo id or file name holds one (and os.path calls would raise)
        raise _bad(raw, "it contains a NUL character")
    base = Path.cwd() if cwd is None else cwd
    hosts = _extra_hosts(endpoints or {})
    match = _SCHEME.fullmatch(raw)
    if match and len(match["scheme"]) > 1:  # "C:" is a drive letter, not a scheme
        parser = _SCHEMES.get(match["scheme"].lower())
        if parser is not None:
            return parser(raw, match["body"], base, hosts)
        if not _exists(raw, base):
            raise _bad(raw, f"unknown scheme {match['scheme']!r}")
    if _WORD.fullmatch(raw) and not _exists(raw, base):
        target = lookup(raw, aliases or {})
        if target is not None:  # a full reference: parsed without aliases, so no loop
            return parse_ref(target, cwd=cwd, endpoints=endpoints)
    return _parse_bare(raw, base)


def canonical(ref: Ref) -> str:
    """The shortest text :func:`parse_ref` turns back into the same reference (lock files, logs)."""
    if ref.source == "hf":
        text = f"hf:{ref.repo_id}" + (f"@{ref.revision}" if ref.revision else "")
        return text + (f"/{ref.path}" if ref.path else "")
    if ref.source == "civitai":
        return f"civitai:{ref.version_id}" if ref.version_id else f"civitai:model/{ref.model_id}"
    if ref.source == "torchvision":
        return f"torchvision:{ref.name}" + (f"@{ref.revision}" if ref.revision else "")
    if ref.source == "local":
        return f"file:{ref.local_path}"
    return str(ref.url)


# -- one parser per scheme ------------------------------------------------------------------------
def _parse_hf(raw: str, body: str, base: Path, hosts: Mapping[str, str]) -> Ref:
    match = _HF_BODY.fullmatch(body) or _HF_LEGACY.fullmatch(body)
    if not match:
        raise _bad(raw, "expected hf:ORG/REPO[@REV][/PATH]")
    return _hf_ref(raw, match["repo"], match["rev"], match.groupdict().get("path"))


def _parse_civitai(raw: str, body: str, base: Path, hosts: Mapping[str, str]) -> Ref:
    number = re.fullmatch(r"(?P<model>models?/)?(?P<id>\d+)", body.strip())
    if not number or int(number["id"]) == 0:
        raise _bad(raw, "expected civitai:VERSION_ID or civitai:model/MODEL_ID")
    if number["model"]:
        return Ref(source=SourceName.CIVITAI, raw=raw, model_id=int(number["id"]))
    return Ref(source=SourceName.CIVITAI, raw=raw, version_id=int(number["id"]))


def _parse_air(raw: str, body: str, base: Path, hosts: Mapping[str, str]) -> Ref:
    """Civitai's AIR, ``urn:air:sdxl:checkpoint:civitai:MODEL@VERSION`` (shown on model pages)."""
    match = _AIR.fullmatch(body)
    if not match:
        raise _bad(raw, "only Civitai AIRs (urn:air:ECO:TYPE:civitai:MODEL[@VERSION]) are known")
    version = int(match["version"]) if match["version"] else None
    return Ref(source=SourceName.CIVITAI, raw=raw, model_id=int(match["model"]), version_id=version)


def _parse_torchvision(raw: str, body: str, base: Path, hosts: Mapping[str, str]) -> Ref:
    match = _TORCHVISION.fullmatch(body.strip())
    if not match:
        raise _bad(raw, "expected torchvision:NAME, e.g. torchvision:resnet18")
    return Ref(source=SourceName.TORCHVISION, raw=raw, name=match["name"].lower(), revision=match["weights"])


def _refuse_torch_hub(raw: str, body: str, base: Path, hosts: Mapping[str, str]) -> Ref:
    repo, _, rest = body.partition(":")
    if not rest and "/" not in repo:  # pytorch_hub:resnet18
        repo, rest = "", repo
    entry = rest.rpartition(":")[2] or "NAME"
    instead = (f"torchvision:{entry.lower()} (torchvision's weights, no code)"
               if repo.lower() in ("pytorch/vision", "") else
               f"the weights alone: the Hub repo (hf:ORG/REPO) or torchvision:{entry.lower()} "
               "if torchvision has it, or the released weight files by URL")
    raise BadReference(
        f"{raw}: Torch Hub repositories are refused on purpose: loading one runs its hubconf.py, "
        f"code downloaded from the internet. Use {instead}")


def _parse_url_alias(raw: str, body: str, base: Path, hosts: Mapping[str, str]) -> Ref:
    """``url:https://...``: the URL itself (some download scripts spell it so)."""
    if not body.lower().startswith(("http://", "https://")):
        raise _bad(raw, "expected url:http(s)://...")
    return _parse_url(body, body, base, hosts)


def _parse_file(raw: str, body: str, base: Path, hosts: Mapping[str, str]) -> Ref:
    if body.startswith("//"):  # file:///abs/path or file://localhost/abs/path
        split = urlsplit(raw)
        if split.netloc not in ("", "localhost"):
            raise _bad(raw, f"file URLs on another host ({split.netloc}) are not supported")
        body = unquote(split.path)
    if not body:
        raise _bad(raw, "expected file:PATH")
    return _local(raw, body, base)


def _parse_url(raw: str, body: str, base: Path, hosts: Mapping[str, str]) -> Ref:
    try:
        split = urlsplit(raw)
        split.port  # noqa: B018  # a malformed port raises only when read
    except ValueError as exc:  # issue 8: a failed download (exit 1), not an internal error
        raise DownloadError(f"{redact_url(raw)}: malformed URL ({exc})") from None
    if not split.hostname:
        raise _bad(raw, "a URL needs a host name")
    host = split.hostname.lower()
    known = "hf" if host in HF_HOSTS else "civitai" if host in CIVITAI_HOSTS else None
    if known is not None:
        return _SITE_URLS[known](raw, split.path, split.query)
    configured = hosts.get(split.netloc.lower())
    if configured is not None:
        # A configured endpoint (a local Hub, a mirror) may serve other files too: a path that
        # is not one of the site's forms is a plain download there, not a mistake.
        try:
            return _SITE_URLS[configured](raw, split.path, split.query)
        except BadReference:
            pass
    return Ref(source=SourceName.URL, raw=raw, url=raw)


_SCHEMES: dict[str, Parser] = {
    "hf": _parse_hf,
    "civitai": _parse_civitai,
    "urn": _parse_air,
    "torchvision": _parse_torchvision,
    "torchhub": _refuse_torch_hub,
    "torch_hub": _refuse_torch_hub,
    "pytorch_hub": _refuse_torch_hub,
    "huggingface": _parse_hf,
    "url": _parse_url_alias,
    "file": _parse_file,
    "http": _parse_url,
    "https": _parse_url,
}


# -- URLs of known sites --------------------------------------------------------------------------
def _hf_url(raw: str, path: str, query: str) -> Ref:
    """``/ORG/REPO``, ``/ORG/REPO/(resolve|blob|raw)/REV/PATH``, ``/ORG/REPO/tree/REV``."""
    parts = [unquote(p) for p in path.split("/") if p]
    if parts and parts[0] in ("datasets", "spaces"):
        raise _bad(raw, f"Hub {parts[0]} are not models; only model repositories can be pulled")
    if len(parts) < 2:
        raise _bad(raw, "expected https://huggingface.co/ORG/REPO[/resolve/REV/PATH]")
    repo, rest = "/".join(parts[:2]), parts[2:]
    if not rest:
        return _hf_ref(raw, repo, None, None)
    action, rest = rest[0], rest[1:]
    if action not in ("resolve", "blob", "raw", "tree") or not rest:
        raise _bad(raw, f"Hub page {action!r} is not a model file; "
                        "use a /resolve/, /blob/ or /tree/ link or the repo's own page")
    # An unencoded "refs/pr/N" takes three segments; "refs%2Fpr%2FN" arrives as one.
    taken = 3 if rest[0] == "refs" and len(rest) >= 3 and rest[1] == "pr" else 1
    revision, file_path = "/".join(rest[:taken]), "/".join(rest[taken:])
    if action == "tree" and file_path:
        raise _bad(raw, f"a Hub folder link; pull hf:{repo}@{revision} "
                        f"with --include '{file_path}/*' instead")
    return _hf_ref(raw, repo, revision, file_path or None)


def _civitai_url(raw: str, path: str, query: str) -> Ref:
    """Model pages, the download endpoint and the v1 API's own URLs."""
    params = parse_qs(query)
    version_param = params.get("modelVersionId", [""])[0]
    version = int(version_param) if version_param.isdigit() and int(version_param) else None
    forms = (  # (path, names a model rather than a version)
        (r"/models/(\d+)(?:/[^/]*)?/?", True),
        (r"/api/download/models/(\d+)/?", False),
        (r"/api/v1/model-versions/(\d+)/?", False),
        (r"/api/v1/models/(\d+)/?", True),
    )
    for pattern, is_model in forms:
        match = re.fullmatch(pattern, path)
        if match and is_model:
            return Ref(source=SourceName.CIVITAI, raw=raw, model_id=int(match[1]), version_id=version)
        if match:
            return Ref(source=SourceName.CIVITAI, raw=raw, version_id=int(match[1]))
    raise _bad(raw, "not a Civitai model page or download link")


_SITE_URLS: dict[str, Callable[[str, str, str], Ref]] = {"hf": _hf_url, "civitai": _civitai_url}


# -- bare text: a local path or ORG/REPO ----------------------------------------------------------
def _parse_bare(raw: str, base: Path) -> Ref:
    if _exists(raw, base) or looks_local(raw):
        return _local(raw, raw, base)
    match = _HF_BARE.fullmatch(raw)
    if match:
        return _hf_ref(raw, match["repo"], match["rev"], None)
    if _TORCH_HUB.fullmatch(raw):
        return _refuse_torch_hub(raw, raw, base, {})
    if "/" in raw:
        raise _bad(raw, "not an existing local path; for a Hub file write hf:ORG/REPO/PATH")
    raise _bad(raw, "not an existing local path nor a known reference form")


def looks_local(text: str) -> bool:
    """Whether bare ``text`` is a path by its shape alone (:data:`LOCAL_PATH_RULES`)."""
    return any(rule(text) for rule in LOCAL_PATH_RULES)


def _local(raw: str, text: str, base: Path) -> Ref:
    path = Path(os.path.expanduser(text))
    absolute = Path(os.path.normpath(path if path.is_absolute() else base / path))
    return Ref(source=SourceName.LOCAL, raw=raw, local_path=absolute)


def _exists(text: str, base: Path) -> bool:
    path = Path(os.path.expanduser(text))
    try:
        return (path if path.is_absolute() else base / path).exists()
    except (OSError, ValueError):  # names too long, NUL bytes: certainly not a path here
        return False


# -- helpers --------------------------------------------------------------------------------------
def _hf_ref(raw: str, repo: str, revision: str | None, path: str | None) -> Ref:
    if "--" in repo or ".." in repo or repo.endswith(".git"):
        raise _bad(raw, f"{repo!r} is not a valid Hub repo id")
    revision = unquote(revision) if revision else None
    path = path.strip("/") if path else None
    if path and any(part in ("", ".", "..") for part in path.split("/")):
        raise _bad(raw, f"file path {path!r} must not contain empty, '.' or '..' parts")
    return Ref(source=SourceName.HF, raw=raw, repo_id=repo, revision=revision, path=path or None)


def _extra_hosts(endpoints: Mapping[str, str | None]) -> dict[str, str]:
    """netloc -> source for configured endpoints (a local test Hub, a Civitai mirror)."""
    hosts: dict[str, str] = {}
    for source, url in endpoints.items():
        netloc = urlsplit(url).netloc.lower() if url else ""
        if netloc:
            hosts[netloc] = source
    return hosts


def _bad(raw: str, why: str) -> BadReference:
    return BadReference(f"{raw!r}: {why}\n{ACCEPTED_FORMS}")
