"""``modelshelf demo``: an offline end-to-end tour on generated example models.

Everything is real except the internet: small but valid model files are generated, served from
127.0.0.1 by the project's test servers (a plain file server, a fake Hugging Face Hub, a fake
Civitai), pulled through the multi-connection engine into a throwaway store, then listed,
measured and verified with the same commands a user runs.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

from modelshelf.cli.context import Context
from modelshelf.config import format_size


def _generate(folder: Path) -> dict[str, Path]:
    from modelshelf.testing import factories as f

    folder.mkdir(parents=True, exist_ok=True)
    made = {
        "sd15-tiny.safetensors": (f.sd15_checkpoint(tiny=True), {"modelspec.title": "demo"}),
        "sdxl-style-lora.safetensors": (f.kohya_lora("sdxl", rank=4), {"ss_network_dim": "4"}),
        "flux-vae.safetensors": (f.flux_vae(tiny=True), None),
    }
    paths = {name: f.write_safetensors(folder / name, tensors, metadata=meta, fill="random")
             for name, (tensors, meta) in made.items()}
    bert = {"embeddings.word_embeddings.weight": (1000, 32),
            "embeddings.position_embeddings.weight": (64, 32),
            "encoder.layer.0.attention.self.query.weight": (32, 32),
            "encoder.layer.0.output.dense.weight": (32, 64),
            "pooler.dense.weight": (32, 32)}
    paths["bert/model.safetensors"] = f.write_safetensors(
        folder / "bert-model.safetensors", bert, dtype="F32", fill="random")
    return paths


def _section(ctx: Context, title: str) -> None:
    ctx.say(f"\n== {title} " + "=" * max(0, 60 - len(title)))


def run(ctx: Context) -> int:
    from modelshelf.api import Shelf
    from modelshelf.config import load_settings
    from modelshelf.testing.civitai import FakeCivitai, FakeFile, FakeVersion
    from modelshelf.testing.hub import FakeHub
    from modelshelf.testing.server import LocalServer

    began = time.monotonic()
    workdir = Path(tempfile.mkdtemp(prefix="modelshelf-demo-"))
    home = workdir / "shelf"
    with ExitStack() as stack:
        files = stack.enter_context(LocalServer())
        hub = stack.enter_context(FakeHub())
        civitai = stack.enter_context(FakeCivitai())
        settings = load_settings({"MODELSHELF_HOME": str(home), "HF_ENDPOINT": hub.url,
                                  "HF_HUB_CACHE": str(workdir / "hf-cache"),
                                  "MODELSHELF_CIVITAI_ENDPOINT": civitai.url,
                                  "MODELSHELF_CONFIG": os.devnull})
        shelf = Shelf(settings=settings)

        _section(ctx, "1. generate example models (real safetensors layouts)")
        generated = _generate(workdir / "generated")
        bert_weights = generated.pop("bert/model.safetensors")
        for name, path in generated.items():
            files.add_file(f"/files/{name}", path)
            ctx.say(f"  {name:<32} {format_size(path.stat().st_size):>10}")
        # The same bytes under a second URL: the store keeps one blob for both names.
        files.add_file("/mirror/sd15-copy.safetensors", generated["sd15-tiny.safetensors"])
        config = json.dumps({"model_type": "bert", "architectures": ["BertModel"]}).encode()
        hub.add_repo("demo-org/tiny-bert", {
            "config.json": config,
            "model.safetensors": bert_weights.read_bytes()})
        civitai.add_model(4242, "Demo LoRA", type="LORA", versions=[FakeVersion(
            4243, [FakeFile("demo_lora.safetensors",
                            generated["sdxl-style-lora.safetensors"].read_bytes())],
            base_model="SDXL 1.0", trained_words=["demo style"])])

        _section(ctx, "2. pull them through the multi-connection engine")
        refs = [f"{files.url}/files/{name}" for name in generated]
        refs += [f"{files.url}/mirror/sd15-copy.safetensors", "hf:demo-org/tiny-bert",
                 "civitai:4243"]
        for result in shelf.pull_many(refs, jobs=3):
            if result.status != "ok" or result.model is None:
                ctx.say(f"  FAILED {result.ref}: {result.error}")
                return 1
            m = result.model
            ctx.say(f"  {m.name:<24} {m.type:<14} {m.architecture:<10} "
                    f"{format_size(result.bytes_downloaded):>10} downloaded  <- {result.ref}")
        ranges = sum(1 for r in files.log if r.range)
        ctx.say(f"  (the file server answered {ranges} Range requests)")

        _section(ctx, "3. already present: a second pull transfers nothing")
        again = shelf.pull_many(refs[:1])[0]
        ctx.say(f"  {again.ref}: {again.bytes_downloaded} bytes downloaded")

        def step(title: str, argv: list[str]) -> None:
            _section(ctx, title)
            assert ctx.dispatch is not None, "the demo runs inside the modelshelf command"
            ctx.dispatch([*argv, "--home", str(home)])

        step("4. modelshelf ls", ["ls"])
        step("5. modelshelf du (one blob for two names)", ["du"])
        step("6. modelshelf verify (re-hash every blob)", ["verify"])
        step("7. modelshelf info sd15-tiny", ["info", "sd15-tiny"])

        _section(ctx, "8. transformers/diffusers see the Hub download offline, no second copy")
        from huggingface_hub import hf_hub_download

        cached = hf_hub_download("demo-org/tiny-bert", "model.safetensors",
                                 cache_dir=settings.hf_cache, local_files_only=True)
        blob = shelf.get("tiny-bert").path / "model.safetensors"
        same = Path(cached).stat().st_ino == blob.stat().st_ino
        ctx.say(f"  hf_hub_download(local_files_only=True) -> same inode as the store: {same}")
    ctx.say(f"\ndemo finished in {time.monotonic() - began:.1f} s")
    if getattr(ctx.args, "keep", False):
        ctx.say(f"the demo store is kept at {home}")
    else:
        shutil.rmtree(workdir, ignore_errors=True)
    return 0
