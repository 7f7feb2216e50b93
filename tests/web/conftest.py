"""A store seeded with real (tiny) model files, served by the web page on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from modelshelf.api import Shelf
from modelshelf.server.web import WebServer
from modelshelf.testing.factories.adapters import kohya_lora
from modelshelf.testing.factories.diffusion import sd_vae
from modelshelf.testing.factories.files import write_safetensors

# A hostile name: markup that must show as text, never become an element of the page.
HOSTILE = '<img src=x onerror="document.title=1">'


@pytest.fixture
def shelf(tmp_path: Path) -> Shelf:
    shelf = Shelf()
    vae = write_safetensors(tmp_path / "vae.safetensors", sd_vae(tiny=True), fill="random")
    lora = write_safetensors(tmp_path / "lora.safetensors", kohya_lora("sd15", rank=2),
                             fill="random", seed=1,
                             metadata={"ss_tag_frequency": '{"x": {"shiny": 3}}'})
    shelf.pull(str(vae), name="tiny-vae")
    shelf.pull(str(lora), name=HOSTILE)
    return shelf


@pytest.fixture
def web(shelf: Shelf) -> Iterator[WebServer]:
    with WebServer(shelf) as server:
        yield server
