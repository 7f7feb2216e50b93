"""``modelshelf serve`` from the command line: it prints where the page is, and serves it."""

from __future__ import annotations

import socket

import httpx

from modelshelf.api import Shelf


def test_serve_prints_its_url_and_serves_the_page(shelf: Shelf,
                                                  serve_cli) -> None:  # type: ignore[no-untyped-def]
    url = serve_cli()["url"]
    assert url.startswith("http://127.0.0.1:")
    assert "<title>modelshelf</title>" in httpx.get(url + "/").text
    names = [m["name"] for m in httpx.get(url + "/api/models").json()["models"]]
    assert "tiny-vae" in names


def test_a_busy_port_is_one_line_naming_it(cli) -> None:  # type: ignore[no-untyped-def]
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        out = cli("serve", "--port", str(port))
    assert out.code == 1 and f"port {port}" in out.err and "Traceback" not in out.err
    assert len(out.err.strip().splitlines()) == 1


def test_the_page_is_not_served_to_the_lan(cli) -> None:  # type: ignore[no-untyped-def]
    out = cli("serve", "--host", "0.0.0.0")
    assert out.code == 2 and "127.0.0.1" in out.err and "--mirror" in out.err
