"""Every test runs against a throwaway store and Hub cache, with no token and no real endpoint."""

from __future__ import annotations

import json
import socket
import ssl
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from modelshelf.cli.main import main
from modelshelf.testing.server import LocalServer, self_signed_context

_LEAKY_VARS = (
    "MODELSHELF_HOME", "MODELSHELF_CONFIG", "MODELSHELF_OFFLINE", "MODELSHELF_CIVITAI_ENDPOINT",
    "HF_ENDPOINT", "HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "HF_HOME", "HF_HUB_CACHE",
    "HF_HUB_OFFLINE", "CIVITAI_API_TOKEN", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY",
    "http_proxy", "https_proxy", "all_proxy", "no_proxy",  # lowercase wins: NO_PROXY is set below
)


@pytest.fixture(autouse=True)
def isolated_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for var in _LEAKY_VARS:
        monkeypatch.delenv(var, raising=False)
    home = tmp_path / "shelf"
    monkeypatch.setenv("MODELSHELF_HOME", str(home))
    # Named explicitly, so it must exist (a missing MODELSHELF_CONFIG is an error): empty.
    (tmp_path / "config.toml").touch()
    monkeypatch.setenv("MODELSHELF_CONFIG", str(tmp_path / "config.toml"))
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    return home


@pytest.fixture
def server() -> Iterator[LocalServer]:
    with LocalServer() as srv:
        yield srv


@dataclass
class CliResult:
    code: int
    out: str
    err: str

    @property
    def json(self) -> Any:
        return json.loads(self.out)


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str]) -> Callable[..., CliResult]:
    def run(*args: str) -> CliResult:
        code = main(list(args))
        captured = capsys.readouterr()
        return CliResult(code, captured.out, captured.err)

    return run


@pytest.fixture(scope="session")
def tls_context(tmp_path_factory: pytest.TempPathFactory) -> ssl.SSLContext:
    """A server context with a throwaway self-signed certificate for 127.0.0.1 (openssl CLI)."""
    try:
        return self_signed_context(tmp_path_factory.mktemp("tls"))
    except subprocess.CalledProcessError as exc:
        pytest.skip(f"openssl cannot make a certificate: {exc.stderr.decode()[:200]}")
    except OSError as exc:
        pytest.skip(f"openssl cannot make a certificate: {exc}")


@pytest.fixture
def unused_port() -> int:
    """A loopback port nothing listens on (bound, then closed): a server or proxy that is down."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def serve_cli() -> Iterator[Callable[..., dict[str, Any]]]:
    """``serve_cli("--mirror")``: ``modelshelf serve ... --port 0 --json`` in a child process,
    returning the JSON it prints before serving; the process is stopped after the test."""
    import os
    import sys

    processes: list[subprocess.Popen[str]] = []

    def start(*args: str) -> dict[str, Any]:
        process = subprocess.Popen([sys.executable, "-m", "modelshelf", "serve", *args, "--port",
                                    "0", "--json"], stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE, env=os.environ.copy(), text=True)
        processes.append(process)
        assert process.stdout is not None
        text = ""
        while not text.endswith("}\n"):  # the one JSON document, printed before serving
            line = process.stdout.readline()
            assert line, "serve exited before saying where it listens"
            text += line
        return dict(json.loads(text))

    yield start
    for process in processes:
        process.terminate()
        process.wait(timeout=30)
