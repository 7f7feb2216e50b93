"""The page in a real headless Chromium (Debian's package, driven by Playwright through its
executable path: no browser download). Skipped where either is missing; CI installs both."""

from __future__ import annotations

import struct
from collections.abc import Iterator
from pathlib import Path

import pytest

from modelshelf.api import Shelf
from modelshelf.server.web import WebServer
from modelshelf.testing.factories.adapters import kohya_lora
from modelshelf.testing.factories.files import write_safetensors
from modelshelf.testing.server import LocalServer
from tests.web.conftest import HOSTILE

CHROMIUM = Path("/usr/bin/chromium")
sync_api = pytest.importorskip("playwright.sync_api")
pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="no /usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@pytest.fixture
def page(tmp_path: Path, web: WebServer) -> Iterator[object]:
    with sync_api.sync_playwright() as pw:
        context = pw.chromium.launch_persistent_context(
            str(tmp_path / "chromium-profile"), executable_path=str(CHROMIUM), args=ARGS,
            headless=True, viewport={"width": 1280, "height": 800})
        try:
            page = context.new_page()
            page.set_default_timeout(15_000)
            page.goto(web.url + "/")
            yield page
        finally:
            context.close()


def _names(page: object) -> list[str]:
    return page.locator("#models tbody td.name").all_text_contents()  # type: ignore[attr-defined]


def test_the_table_shows_the_store_and_hostile_names_stay_text(page: object) -> None:
    p = page
    p.wait_for_selector("#models tbody tr")  # type: ignore[attr-defined]
    assert sorted(_names(p)) == sorted(["tiny-vae", HOSTILE])
    assert p.locator("#models img").count() == 0  # type: ignore[attr-defined]
    assert p.title() == "modelshelf"  # the name's onerror never ran  # type: ignore[attr-defined]
    p.fill("#search", "vae")  # type: ignore[attr-defined]
    assert _names(p) == ["tiny-vae"]
    p.fill("#search", "")  # type: ignore[attr-defined]
    p.select_option("#filter-type", "loras")  # type: ignore[attr-defined]
    assert _names(p) == [HOSTILE]
    p.select_option("#filter-type", "")  # type: ignore[attr-defined]
    p.locator("#du-svg rect").first.wait_for()  # type: ignore[attr-defined]
    assert p.locator("#du-svg rect").count() == 2  # a bar per type  # type: ignore[attr-defined]
    p.click("#models tbody tr[data-name='tiny-vae']")  # type: ignore[attr-defined]
    p.wait_for_selector("#detail code")  # type: ignore[attr-defined]
    assert "AutoV2" in p.inner_text("#detail")  # type: ignore[attr-defined]


def test_sort_pin_and_the_gc_plan(page: object, shelf: Shelf) -> None:
    p = page
    p.wait_for_selector("#models tbody tr")  # type: ignore[attr-defined]
    p.click("#models th[data-key=size]")  # type: ignore[attr-defined]
    assert _names(p) == ["tiny-vae", HOSTILE]  # smallest first
    p.click("#models th[data-key=size]")  # type: ignore[attr-defined]
    assert _names(p) == [HOSTILE, "tiny-vae"]
    p.click("#models tbody tr[data-name='tiny-vae'] button.pin")  # type: ignore[attr-defined]
    p.wait_for_selector("#models tbody tr[data-name='tiny-vae'] .pill:text('pinned')")  # type: ignore[attr-defined]
    assert shelf.get("tiny-vae").pinned
    p.click("#gc-button")  # type: ignore[attr-defined]
    p.wait_for_selector("#gc dl")  # type: ignore[attr-defined]
    assert "Nothing to collect" in p.inner_text("#gc")  # type: ignore[attr-defined]


def test_pull_shows_progress_and_lands_in_the_table_then_delete_asks(
        page: object, server: LocalServer, shelf: Shelf, tmp_path: Path) -> None:
    p = page
    # 4 MB at 1 MB/s a connection: the engine reports progress a MiB at a time, while it runs
    tensors = {**kohya_lora("sdxl", rank=4), "pad.weight": (2048, 1024)}
    data = write_safetensors(tmp_path / "new.safetensors", tensors, fill="random",
                             seed=5).read_bytes()
    server.faults.rate_per_connection = 1_000_000
    server.add_file("/new-lora.safetensors", data)
    p.wait_for_selector("#models tbody tr")  # type: ignore[attr-defined]
    p.fill("#pull-ref", server.url + "/new-lora.safetensors")  # type: ignore[attr-defined]
    p.click("#pull-button")  # type: ignore[attr-defined]
    p.wait_for_selector("#pull-status.active[data-state=running]")  # type: ignore[attr-defined]
    # the bar moves before the pull ends
    p.wait_for_function("() => parseFloat(document.getElementById('pull-bar').style.width) > 0 "  # type: ignore[attr-defined]
                        "&& document.getElementById('pull-status').dataset.state === 'running'")
    p.wait_for_selector("#pull-status[data-state=done]")  # type: ignore[attr-defined]
    name = next(m.name for m in shelf.list() if m.name not in ("tiny-vae", HOSTILE))
    p.wait_for_selector(f"#models tbody tr[data-name='{name}']")  # type: ignore[attr-defined]

    asked: list[str] = []

    def accept(dialog: object) -> None:
        asked.append(dialog.message)  # type: ignore[attr-defined]
        dialog.accept()  # type: ignore[attr-defined]

    p.on("dialog", accept)  # type: ignore[attr-defined]
    p.click(f"#models tbody tr[data-name='{name}'] button.remove")  # type: ignore[attr-defined]
    p.wait_for_selector(f"#models tbody tr[data-name='{name}']", state="detached")  # type: ignore[attr-defined]
    assert len(asked) == 1 and name in asked[0]
    assert shelf.find(name) is None


def test_a_screenshot_shows_a_rendered_page(page: object, tmp_path: Path) -> None:
    p = page
    p.wait_for_selector("#du-svg rect")  # type: ignore[attr-defined]
    p.click("#models tbody tr[data-name='tiny-vae']")  # type: ignore[attr-defined]
    p.wait_for_selector("#detail code")  # type: ignore[attr-defined]
    shot = tmp_path / "page.png"
    png = p.screenshot(path=str(shot), full_page=True)  # type: ignore[attr-defined]
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", png[16:24])
    assert width == 1280 and 600 <= height <= 4000
    assert len(png) > 20_000  # a blank page compresses to a few KB
