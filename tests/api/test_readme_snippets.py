"""Every Python snippet in the README runs, unchanged, against local fake servers.

The snippets name references (``hf:org/repo/model.safetensors``, ``civitai:4242``) and a file
(``model.safetensors``); the fixture publishes exactly those on a FakeHub and a FakeCivitai and
puts the file in the working folder, so what a reader copies is what is tested.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from modelshelf.testing import FakeCivitai, FakeFile, FakeHub, FakeVersion, factories

README = Path(__file__).resolve().parents[2] / "README.md"
SNIPPETS = re.findall(r"```python\n(.*?)```", README.read_text(), re.DOTALL)


@pytest.fixture
def published(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    model = factories.write_safetensors(tmp_path / "model.safetensors",
                                        factories.sd15_checkpoint(tiny=True))
    lora = factories.write_safetensors(tmp_path / "lora.safetensors",
                                       factories.kohya_lora("sdxl", rank=4))
    with FakeHub() as hub, FakeCivitai() as civitai:
        hub.add_repo("org/repo", {"model.safetensors": model})
        civitai.add_model(4241, "A LoRA", type="LORA", versions=[FakeVersion(
            4242, [FakeFile("a_lora.safetensors", lora.read_bytes())], base_model="SDXL 1.0")])
        monkeypatch.setenv("HF_ENDPOINT", hub.url)
        monkeypatch.setenv("MODELSHELF_CIVITAI_ENDPOINT", civitai.url)
        monkeypatch.chdir(tmp_path)
        yield


def test_the_readme_has_python_snippets() -> None:
    assert len(SNIPPETS) >= 2


@pytest.mark.parametrize("snippet", SNIPPETS, ids=[f"snippet{i}" for i in range(len(SNIPPETS))])
def test_readme_snippet_runs(snippet: str, published: None) -> None:
    namespace: dict[str, object] = {"__name__": "__readme__"}
    exec(compile(snippet, str(README), "exec"), namespace)  # our own README, run as written
    if "info" in namespace:  # the API tour: what it printed is what the README promises
        assert namespace["info"].format == "safetensors"  # type: ignore[attr-defined]
