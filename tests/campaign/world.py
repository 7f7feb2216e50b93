"""The campaign's world: three loopback servers (plain URLs, a fake Hub, a fake Civitai), a seeded
catalogue of models on them, and the environment a `modelshelf` client needs to reach them.

Every file's *allowed* contents are tracked: the published bytes, plus each re-upload the
``change_midway`` fault made while a client was reading. A registered file must be one of them,
whole; for a file whose digest is published (Hub LFS, Civitai, ``--sha256``) only the original.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

from modelshelf.testing.civitai import FakeCivitai, FakeFile, FakeVersion
from modelshelf.testing.hub import FakeHub
from modelshelf.testing.server import Faults, LocalServer

# Small enough that a step is quick, big enough for several ranged pieces per file.
MIN_SIZE, MAX_SIZE = 96 * 1024, 1200 * 1024

# The client's knobs in the campaign: notice a stalled connection after 1 s (not 20), and
# time out a request after 5 s, so a stall or a hang costs seconds, not minutes.
CONFIG_TOML = """\
[transfer]
stall_seconds = 1.0
connections = 4

[sources.url]
timeout_seconds = 5.0

[sources.hf]
timeout_seconds = 5.0

[sources.civitai]
timeout_seconds = 5.0
"""


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def safetensors_bytes(rng: random.Random, size: int) -> bytes:
    """A valid one-tensor safetensors file of about ``size`` bytes with random (seeded) data, so
    the client identifies it as a safe model file and links it into views."""
    n = max(8, size - 128)
    header = json.dumps({"weight": {"dtype": "U8", "shape": [n], "data_offsets": [0, n]}})
    raw = header.encode().ljust(len(header) + (-len(header)) % 8)
    return len(raw).to_bytes(8, "little") + raw + rng.randbytes(n)


@dataclass
class Item:
    """One reference a client may pull, and what the store may hold for it afterwards."""

    ref: str
    server: LocalServer
    files: dict[str, set[str]]  # path inside the model -> allowed sha256s
    served: dict[str, str] = field(default_factory=dict)  # model path -> server path (for changes)
    digest_published: bool = False  # the client knows the sha256 before fetching
    args: tuple[str, ...] = ()  # extra `pull` arguments (e.g. --sha256)

    @property
    def paths(self) -> set[str]:
        return set(self.files)


class World:
    """``with World(seed, root) as world:`` — servers up, catalogue published, env ready."""

    def __init__(self, seed: int, root: Path, *, url_items: int = 6) -> None:
        self.seed = seed
        self.root = root
        self.rng = random.Random(seed)
        self.home = root / "shelf"
        self.config = root / "config.toml"
        self.items: list[Item] = []
        self._originals: dict[tuple[int, str], bytes] = {}  # (server id, path) -> bytes
        self._stack = ExitStack()
        self._url_items = url_items
        self.cdn = LocalServer()
        self.hub = FakeHub()
        self.civitai = FakeCivitai()

    # -- lifecycle ------------------------------------------------------------------------------
    def __enter__(self) -> World:
        for server in (self.cdn, self.hub, self.civitai):
            self._stack.enter_context(server)
        self.config.write_text(CONFIG_TOML)
        self._publish()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stack.close()

    @property
    def servers(self) -> tuple[LocalServer, ...]:
        return (self.cdn, self.hub, self.civitai)

    @property
    def env(self) -> dict[str, str]:
        """What a client process needs (and nothing of the caller's: no token, no proxy)."""
        keep = {k: v for k, v in os.environ.items()
                if k in ("PATH", "LANG", "LC_ALL", "PYTHONPATH", "SYSTEMROOT", "TMPDIR")}
        return {**keep, "MODELSHELF_HOME": str(self.home), "MODELSHELF_CONFIG": str(self.config),
                "HF_ENDPOINT": self.hub.url, "HF_HOME": str(self.root / "hf"),
                "XDG_CACHE_HOME": str(self.root / "cache"),
                "MODELSHELF_CIVITAI_ENDPOINT": self.civitai.url,
                "NO_PROXY": "127.0.0.1,localhost", "no_proxy": "127.0.0.1,localhost"}

    # -- the catalogue --------------------------------------------------------------------------
    def _data(self) -> bytes:
        return safetensors_bytes(self.rng, self.rng.randint(MIN_SIZE, MAX_SIZE))

    def _publish(self) -> None:
        shared = self._data()  # the same bytes behind two URLs: the store keeps one blob
        for i in range(self._url_items):
            data = shared if i < 2 else self._data()
            path = f"/files/u{i}/chaos-url-{i}.safetensors"
            self.cdn.add_file(path, data)
            self._originals[(id(self.cdn), path)] = data
            name = f"chaos-url-{i}.safetensors"
            pinned = i == self._url_items - 1  # one URL pulled with --sha256
            self.items.append(Item(self.cdn.url + path, self.cdn, {name: {sha256(data)}},
                                   {name: path}, digest_published=pinned,
                                   args=("--sha256", sha256(data)) if pinned else ()))
        repo_a = {"model.safetensors": self._data(), "config.json": b'{"model_type": "chaos"}'}
        repo_b = {"weights.safetensors": self._data(), "README.md": b"# chaos\n"}
        self.hub.add_repo("chaos/repo-a", repo_a)
        self.hub.add_repo("chaos/repo-b", repo_b)
        for repo, files in (("chaos/repo-a", repo_a), ("chaos/repo-b", repo_b)):
            for path, data in files.items():
                hub_file = self.hub.file(repo, path)
                if hub_file.lfs:
                    self._originals[(id(self.hub), f"/lfs/{hub_file.sha256}")] = data
        self.items.append(Item("hf:chaos/repo-a", self.hub,
                               {p: {sha256(d)} for p, d in repo_a.items()},
                               digest_published=True))
        weights = repo_b["weights.safetensors"]
        self.items.append(Item("hf:chaos/repo-b/weights.safetensors", self.hub,
                               {"weights.safetensors": {sha256(weights)}},
                               digest_published=True))
        for n in (1, 2):
            data = self._data()
            version = FakeVersion(100 + n, [FakeFile(f"chaos-civitai-{n}.safetensors", data)])
            self.civitai.add_model(n, f"chaos {n}", versions=[version])
            path = FakeCivitai.storage_path(version, version.files[0])
            self._originals[(id(self.civitai), path)] = data
            self.items.append(Item(f"civitai:{100 + n}", self.civitai,
                                   {version.files[0].name: {sha256(data)}},
                                   digest_published=True))

    # -- between steps --------------------------------------------------------------------------
    def calm(self) -> None:
        """No faults anywhere, and every file back to its published bytes."""
        for server in self.servers:
            server.faults = Faults()
            server._stalled = False
        for (server_id, path), data in self._originals.items():
            server = next(s for s in self.servers if id(s) == server_id)
            if server._files[path].data != data:
                server.add_file(path, data)

    def note_changes(self) -> None:
        """Allow, for files without a published digest, each content a change fault served."""
        for item in self.items:
            if item.digest_published:
                continue
            for name, path in item.served.items():
                current = item.server._files[path].data
                assert isinstance(current, bytes)
                original = self._originals[(id(item.server), path)]
                if current != original:
                    item.files[name].add(sha256(current))
