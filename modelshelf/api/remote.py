"""``info REF`` before downloading: read only a remote file's header through Range requests.

"Can I run it on my GPU?" should cost a few hundred KB, not 20 GB of disk: the source resolves
the reference, the transfer engine gives random access over HTTP Range, the format readers take
any random-access source, and inspection assembles the same :class:`Info` as for a local file.
"""

from __future__ import annotations

from modelshelf.api.network import network_policy
from modelshelf.config import Settings
from modelshelf.errors import BadReference, NotFoundError, OfflineError
from modelshelf.formats import read_header_from
from modelshelf.inspection import Info, inspect_header
from modelshelf.sources import parse, resolve
from modelshelf.sources.base import ResolveOptions
from modelshelf.transfer import Endpoint, open_remote

HEADER_BUDGET = 8 * 2**20  # the most a header read may fetch; safetensors headers are ~100 KB
_WEIGHT_SUFFIXES = (".safetensors", ".gguf", ".ckpt", ".pt", ".pth", ".bin", ".onnx")


def inspect_remote(target: str, settings: Settings) -> Info:
    try:
        ref = parse(target, settings)
    except BadReference:
        if "://" not in target and ":" not in target.split("/")[0]:
            raise NotFoundError(f"{target}: no such file, folder or registered model") from None
        raise
    if ref.source == "local":
        raise NotFoundError(f"{target}: no such file, folder or registered model")
    if settings.offline:
        raise OfflineError(f"{target}: reading a remote header needs the network (offline mode)")
    resolution = resolve(ref, settings, ResolveOptions())
    candidates = [f for f in resolution.files if f.url and f.path.endswith(_WEIGHT_SUFFIXES)]
    candidates = candidates or [f for f in resolution.files if f.url]
    if not candidates:
        raise NotFoundError(f"{target}: no model file to inspect")
    remote = max(candidates, key=lambda f: f.size or 0)
    assert remote.url is not None
    reader = open_remote(Endpoint(remote.url, remote.credentials),
                         network_policy(settings, resolution.source), max_bytes=HEADER_BUDGET)
    header = read_header_from(reader, name=remote.path)
    return inspect_header(header, path=target, size=reader.size)
