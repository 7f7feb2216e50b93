"""The web page's JSON API over plain HTTP on 127.0.0.1: what it answers, and what it refuses
(other origins, DNS-rebinding hosts, requests without the page's token)."""

from __future__ import annotations

import re
import time
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest

from modelshelf.api import Shelf
from modelshelf.server.web import WebServer
from modelshelf.testing.civitai import FakeCivitai, FakeFile, FakeVersion, tiny_png
from modelshelf.testing.factories.adapters import kohya_lora
from modelshelf.testing.factories.diffusion import sd_vae
from modelshelf.testing.factories.files import write_safetensors
from modelshelf.testing.server import LocalServer
from tests.web.conftest import HOSTILE


def _client(web: WebServer, *, token: bool = True) -> httpx.Client:
    headers = {"X-CSRF-Token": web.token} if token else {}
    return httpx.Client(base_url=web.url, headers=headers, timeout=30)


def test_the_page_embeds_the_token_and_allows_only_its_own_script(web: WebServer) -> None:
    page = httpx.get(web.url + "/")
    assert page.status_code == 200
    assert f'<meta name="csrf-token" content="{web.token}">' in page.text
    csp = page.headers["Content-Security-Policy"]
    nonce = re.search(r"'nonce-([^']+)'", csp)
    assert nonce and f'<script nonce="{nonce[1]}">' in page.text
    assert "default-src 'none'" in csp and "connect-src 'self'" in csp
    assert "http://" not in page.text.replace("http://www.w3.org/2000/svg", "")  # no outside asset


def test_models_lists_the_collection_with_what_the_table_shows(web: WebServer) -> None:
    models = {m["name"]: m for m in httpx.get(web.url + "/api/models").json()["models"]}
    assert set(models) == {"tiny-vae", HOSTILE}
    vae = models["tiny-vae"]
    assert (vae["type"], vae["format"], vae["safety"], vae["pinned"]) == \
        ("vae", "safetensors", "safe", False)
    assert vae["size"] > 0 and vae["last_used"] > 0 and vae["source_kind"] == "local"


def test_detail_has_evidence_safety_and_fingerprints(web: WebServer, shelf: Shelf) -> None:
    detail = httpx.get(web.url + "/api/models/tiny-vae").json()
    sha = shelf.get("tiny-vae").sha256
    assert detail["fingerprints"] == [{"path": "vae.safetensors", "size": shelf.get("tiny-vae").size,
                                       "sha256": sha, "autov2": sha[:10].upper()}]
    assert detail["info"]["safety"] == {"status": "safe", "findings": []}
    assert any("vae" in line for line in detail["info"]["evidence"])


def test_a_hostile_name_round_trips_through_the_url(web: WebServer) -> None:
    detail = httpx.get(web.url + "/api/models/" + quote(HOSTILE, safe=""))
    assert detail.json()["name"] == HOSTILE


def test_an_unknown_model_is_a_404_naming_it(web: WebServer) -> None:
    answer = httpx.get(web.url + "/api/models/nope")
    assert answer.status_code == 404 and "nope" in answer.json()["error"]


def test_du_and_the_gc_plan_are_read_only_answers(web: WebServer, shelf: Shelf) -> None:
    du = httpx.get(web.url + "/api/du").json()
    assert set(du["by_type"]) == {"vae", "loras"}
    plan = httpx.get(web.url + "/api/gc").json()
    assert plan["dry_run"] is True and plan["evict"] == []
    assert len(shelf.list()) == 2


def test_pin_unpin_and_remove(web: WebServer, shelf: Shelf) -> None:
    with _client(web) as client:
        assert client.post("/api/models/tiny-vae/pin").json()["pinned"] is True
        refused = client.delete("/api/models/tiny-vae")  # pinned: the store says so
        assert refused.status_code == 409 and "pinned" in refused.json()["error"]
        assert client.post("/api/models/tiny-vae/unpin").json()["pinned"] is False
        removed = client.delete("/api/models/tiny-vae")
    assert removed.status_code == 200 and removed.json()["freed_bytes"] > 0
    assert shelf.find("tiny-vae") is None


def test_a_pull_runs_in_the_background_and_reports_progress(web: WebServer, shelf: Shelf,
                                                             server: LocalServer,
                                                             tmp_path: Path) -> None:
    data = write_safetensors(tmp_path / "other.safetensors", sd_vae(tiny=True), fill="random",
                             seed=7).read_bytes()
    server.add_file("/other-vae.safetensors", data)
    with _client(web) as client:
        job = client.post("/api/pull", json={"ref": server.url + "/other-vae.safetensors"})
        assert job.status_code == 202 and job.json()["state"] == "running"
        deadline = time.monotonic() + 30
        while (state := client.get(f"/api/jobs/{job.json()['id']}").json())["state"] == "running":
            assert time.monotonic() < deadline
            time.sleep(0.05)
    assert state["state"] == "done", state
    assert state["done_bytes"] == state["total_bytes"] == len(data)
    assert shelf.get(state["model"]).size == len(data)


def test_a_failed_pull_is_a_failed_job_with_the_error(web: WebServer, server: LocalServer) -> None:
    with _client(web) as client:
        job = client.post("/api/pull", json={"ref": server.url + "/missing.safetensors"}).json()
        while (state := client.get(f"/api/jobs/{job['id']}").json())["state"] == "running":
            time.sleep(0.05)
    assert state["state"] == "failed" and "missing.safetensors" in state["error"]


def test_a_pull_needs_a_reference(web: WebServer) -> None:
    with _client(web) as client:
        answer = client.post("/api/pull", json={"name": "x"})
    assert answer.status_code == 400 and "ref" in answer.json()["error"]


@pytest.mark.parametrize("method, path", [("DELETE", "/api/models/tiny-vae"),
                                          ("POST", "/api/models/tiny-vae/pin"),
                                          ("POST", "/api/pull")])
def test_a_mutation_without_the_token_is_refused(web: WebServer, shelf: Shelf, method: str,
                                                 path: str) -> None:
    answer = httpx.request(method, web.url + path, json={"ref": "hf:a/b"})
    assert answer.status_code == 403 and "X-CSRF-Token" in answer.json()["error"]
    wrong = httpx.request(method, web.url + path, headers={"X-CSRF-Token": "guess"})
    assert wrong.status_code == 403
    assert shelf.get("tiny-vae").pinned is False and len(shelf.list()) == 2


def test_another_origin_is_refused_even_with_the_token(web: WebServer, shelf: Shelf) -> None:
    with _client(web) as client:
        answer = client.delete("/api/models/tiny-vae", headers={"Origin": "http://evil.example"})
        assert answer.status_code == 403 and "cross-origin" in answer.json()["error"]
        same = client.post("/api/models/tiny-vae/pin", headers={"Origin": web.url})
    assert same.status_code == 200 and shelf.find("tiny-vae") is not None


def test_a_rebound_host_name_is_refused(web: WebServer) -> None:
    """A page on evil.example whose name now resolves to 127.0.0.1 sends Host: evil.example."""
    answer = httpx.get(web.url + "/api/models", headers={"Host": f"evil.example:{web.port}"})
    assert answer.status_code == 421
    assert httpx.get(web.url + "/", headers={"Host": f"localhost:{web.port}"}).status_code == 200


def test_a_civitai_model_shows_its_preview_and_trigger_words(web: WebServer, shelf: Shelf,
                                                             tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    data = write_safetensors(tmp_path / "civ.safetensors", kohya_lora("sd15", rank=2),
                             fill="random", seed=9).read_bytes()
    with FakeCivitai() as civ:
        civ.add_model(300, "Tiny LoRA", type="LORA", versions=[FakeVersion(
            3001, [FakeFile("tinyLora.safetensors", data)], trained_words=["tnystyl", "<b>x</b>"])])
        monkeypatch.setenv("MODELSHELF_CIVITAI_ENDPOINT", civ.url)
        name = Shelf().pull("civitai:3001").name
    detail = httpx.get(web.url + "/api/models/" + quote(name, safe="")).json()
    assert detail["trigger_words"] == ["tnystyl", "<b>x</b>"] and detail["preview"] is True
    image = httpx.get(web.url + "/api/models/" + quote(name, safe="") + "/preview")
    assert image.headers["Content-Type"] == "image/png" and image.content == tiny_png()
    assert httpx.get(web.url + "/api/models/tiny-vae/preview").status_code == 404


def test_an_unsafe_model_shows_its_findings_and_that_it_is_not_linked(web: WebServer,
                                                                      shelf: Shelf,
                                                                      tmp_path: Path) -> None:
    evil = tmp_path / "evil.ckpt"  # GLOBAL os.system, REDUCE: written as bytes, never loaded
    evil.write_bytes(b"\x80\x02cos\nsystem\nX\x04\x00\x00\x00echo\x85R.")
    name = shelf.pull(str(evil)).name
    row = next(m for m in httpx.get(web.url + "/api/models").json()["models"] if m["name"] == name)
    assert (row["safety"], row["linked"]) == ("unsafe", False)
    findings = httpx.get(web.url + "/api/models/" + name).json()["info"]["safety"]["findings"]
    assert any("os" in f and "system" in f for f in findings)


def test_detail_is_the_registered_model_not_a_file_of_that_name_here(
        web: WebServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "tiny-vae").write_text("a file in the server's working folder")
    info = httpx.get(web.url + "/api/models/tiny-vae").json()["info"]
    assert (info["model_type"], info["format"]) == ("vae", "safetensors")
