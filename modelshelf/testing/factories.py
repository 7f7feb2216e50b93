"""Model files for tests and the demo: real key names and decisive shapes, no real weights.

Three kinds of helpers:
- ``write_safetensors`` writes a valid safetensors file without materialising tensor data: the
  header is written, then the file is extended with ``truncate`` (a sparse hole reading as
  zeros) or filled with streamed random bytes. An SDXL-sized key set costs no RAM and, on any
  file system with sparse files, almost no disk.
- key-set builders (``sd15_checkpoint()``, ``flux_dev_transformer()``, ``kohya_lora("sdxl")``,
  ...) return ``{name: shape}`` with the names and shapes the identification rules decide on,
  plus a few realistic neighbours. ``tiny=True`` shrinks every dimension that does not decide
  anything to at most 4, so a demo file is a few MB at most.
- ``header_from_shapes`` builds a ModelHeader directly (fast tests), and ``load_corpus`` reads the
  shared corpus of real key layouts (``../shared/corpus/keylists``).
"""

from __future__ import annotations

import json
import os
import random
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from modelshelf.formats.base import ModelHeader, TensorInfo

Shape = tuple[int, ...]
TensorSpec = Mapping[str, Shape] | Mapping[str, tuple[Shape, str]]

ITEMSIZE: dict[str, int] = {
    "F64": 8, "F32": 4, "F16": 2, "BF16": 2, "F8_E4M3": 1, "F8_E5M2": 1,
    "I64": 8, "I32": 4, "I16": 2, "I8": 1, "U64": 8, "U32": 4, "U16": 2, "U8": 1, "BOOL": 1,
}
_CHUNK = 1 << 20


def _numel(shape: Iterable[int]) -> int:
    n = 1
    for d in shape:
        n *= d
    return n


def _normalise(tensors: TensorSpec, dtype: str) -> dict[str, tuple[Shape, str]]:
    """Accept ``{name: shape}`` or ``{name: (shape, dtype)}``."""
    out: dict[str, tuple[Shape, str]] = {}
    for name, spec in tensors.items():
        if len(spec) == 2 and isinstance(spec[1], str):
            shape, dt = spec  # type: ignore[misc]
        else:
            shape, dt = spec, dtype
        if dt not in ITEMSIZE:
            raise ValueError(f"unknown safetensors dtype {dt!r} for {name}")
        out[name] = (tuple(int(d) for d in shape), dt)  # type: ignore[union-attr]
    return out


def write_safetensors(
    path: str | os.PathLike[str], tensors: TensorSpec, *, dtype: str = "F16",
    metadata: Mapping[str, str] | None = None, fill: Literal["zeros", "random"] = "zeros",
    seed: int = 0,
) -> Path:
    """Write a valid safetensors file with these tensors; data are zeros (sparse) or random."""
    path = Path(path)
    specs = _normalise(tensors, dtype)
    header: dict[str, Any] = {}
    if metadata:
        header["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    offset = 0
    for name, (shape, dt) in specs.items():
        size = _numel(shape) * ITEMSIZE[dt]
        header[name] = {"dtype": dt, "shape": list(shape), "data_offsets": [offset, offset + size]}
        offset += size
    raw = json.dumps(header, separators=(",", ":")).encode()
    raw += b" " * (-len(raw) % 8)  # the format recommends 8-byte alignment of the data
    with open(path, "wb") as f:
        f.write(len(raw).to_bytes(8, "little"))
        f.write(raw)
        if fill == "random":
            rng = random.Random(seed)
            left = offset
            while left:
                n = min(left, _CHUNK)
                f.write(rng.randbytes(n))
                left -= n
        else:
            f.truncate(8 + len(raw) + offset)
    return path


def header_from_shapes(
    tensors: TensorSpec, *, dtype: str = "F16", metadata: Mapping[str, Any] | None = None,
    format: str = "safetensors", config: Mapping[str, Any] | None = None,
    components: Mapping[str, ModelHeader] | None = None,
) -> ModelHeader:
    """A ModelHeader as a reader would return it, without any file."""
    infos = {
        name: TensorInfo(name, dt, shape, _numel(shape) * ITEMSIZE[dt])
        for name, (shape, dt) in _normalise(tensors, dtype).items()
    }
    return ModelHeader(format=format, tensors=infos, metadata=dict(metadata or {}),
                       config=dict(config or {}), components=dict(components or {}))


# --- the shared corpus of real key layouts -----------------------------------------------------

def corpus_dir() -> Path:
    """``$MODELSHELF_CORPUS`` or ``<repo>/../shared/corpus`` (may not exist: tests then skip)."""
    env = os.environ.get("MODELSHELF_CORPUS")
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[2].parent / "shared" / "corpus"


def corpus_names() -> list[str]:
    """Names (file stems) of the corpus key lists, sorted; empty when the corpus is absent."""
    folder = corpus_dir() / "keylists"
    return sorted(p.stem for p in folder.glob("*.json")) if folder.is_dir() else []


def load_corpus(name: str) -> tuple[dict[str, Shape], dict[str, Any]]:
    """``(tensors {name: shape}, expected {"model_type", "architecture"})`` of one key list."""
    data = json.loads((corpus_dir() / "keylists" / f"{name}.json").read_text())
    tensors = {k: tuple(int(d) for d in v) for k, v in data["tensors"].items()}
    return tensors, dict(data["expected"])


# --- shrinking for tiny files --------------------------------------------------------------------

TINY_DIM = 4


def _finish(tensors: Mapping[str, Shape], keep: Mapping[str, Iterable[int]], tiny: bool,
            ) -> dict[str, Shape]:
    """Apply ``tiny``: every axis not listed in ``keep`` (regex -> axes) shrinks to TINY_DIM."""
    if not tiny:
        return dict(tensors)
    rules = [(re.compile(rx), {a for a in axes}) for rx, axes in keep.items()]
    out: dict[str, Shape] = {}
    for name, shape in tensors.items():
        axes = set().union(*(a for rx, a in rules if rx.fullmatch(name)))
        n = len(shape)
        out[name] = tuple(
            d if (i in axes or i - n in axes) else min(d, TINY_DIM) for i, d in enumerate(shape)
        )
    return out


# --- key-set builders ----------------------------------------------------------------------------
# Each returns {name: shape}. ``keep`` lists, per key regex, the axes that decide identification
# (never shrunk by tiny=True). Shapes follow the released models (SD1.5 / SDXL / FLUX.1 ...).

def _prefixed(prefix: str, tensors: Mapping[str, Shape]) -> dict[str, Shape]:
    return {prefix + k: v for k, v in tensors.items()}


_CTX = {"sd15": 768, "sd2": 1024, "sdxl": 2048, "sdxl-refiner": 1280}
# arch -> (model channels, first input block with attention, its channels, label_emb shape)
_UNET_LAYOUT: dict[str, tuple[int, int, int, Shape | None]] = {
    "sd15": (320, 1, 320, None),
    "sd2": (320, 1, 320, None),
    "sdxl": (320, 4, 640, (1280, 2816)),
    "sdxl-refiner": (384, 4, 768, (1536, 2560)),
}
_ATTN2_KEEP = {r".*attn2\.to_[kv]\.weight": (1,), r".*input_blocks\.0\.0\.weight": (1,)}


def _ldm_unet(arch: str) -> dict[str, Shape]:
    ch, block, attn_ch, label = _UNET_LAYOUT[arch]
    ctx = _CTX[arch]
    linear = arch != "sd15"  # SD2+ use linear proj_in, SD1.x a 1x1 conv
    t = {
        "input_blocks.0.0.weight": (ch, 4, 3, 3),
        "input_blocks.0.0.bias": (ch,),
        "time_embed.0.weight": (4 * ch, ch),
        "time_embed.2.weight": (4 * ch, 4 * ch),
        f"input_blocks.{block}.0.in_layers.0.weight": (attn_ch,),
        f"input_blocks.{block}.0.out_layers.3.weight": (attn_ch, attn_ch, 3, 3),
        f"input_blocks.{block}.1.proj_in.weight": (attn_ch, attn_ch) if linear
        else (attn_ch, attn_ch, 1, 1),
        f"input_blocks.{block}.1.transformer_blocks.0.attn1.to_q.weight": (attn_ch, attn_ch),
        f"input_blocks.{block}.1.transformer_blocks.0.attn2.to_k.weight": (attn_ch, ctx),
        f"input_blocks.{block}.1.transformer_blocks.0.attn2.to_v.weight": (attn_ch, ctx),
        "middle_block.0.in_layers.0.weight": (4 * ch,),
        "out.0.weight": (ch,),
        "out.2.weight": (4, ch, 3, 3),
    }
    if label:
        t["label_emb.0.0.weight"] = label
    return t


def _sd_vae_keys(latent: int = 4, quant_conv: bool = True) -> dict[str, Shape]:
    t = {
        "encoder.conv_in.weight": (128, 3, 3, 3),
        "encoder.down.0.block.0.conv1.weight": (128, 128, 3, 3),
        "encoder.mid.attn_1.q.weight": (512, 512, 1, 1),
        "encoder.conv_out.weight": (2 * latent, 512, 3, 3),
        "decoder.conv_in.weight": (512, latent, 3, 3),
        "decoder.up.3.block.0.conv1.weight": (512, 512, 3, 3),
        "decoder.conv_out.weight": (3, 128, 3, 3),
    }
    if quant_conv:
        t["quant_conv.weight"] = (2 * latent, 2 * latent, 1, 1)
        t["post_quant_conv.weight"] = (latent, latent, 1, 1)
    return t


_VAE_KEEP = {r".*decoder\.conv_in\.weight": (1,), r".*encoder\.conv_out\.weight": (0,)}


def _hf_clip_text(width: int, prefix: str = "") -> dict[str, Shape]:
    return _prefixed(prefix, {
        "text_model.embeddings.token_embedding.weight": (49408, width),
        "text_model.embeddings.position_embedding.weight": (77, width),
        "text_model.encoder.layers.0.self_attn.q_proj.weight": (width, width),
        "text_model.encoder.layers.0.mlp.fc1.weight": (4 * width, width),
        "text_model.final_layer_norm.weight": (width,),
    })


def _open_clip_text(width: int, prefix: str) -> dict[str, Shape]:
    return _prefixed(prefix, {
        "token_embedding.weight": (49408, width),
        "positional_embedding": (77, width),
        "transformer.resblocks.0.attn.in_proj_weight": (3 * width, width),
        "ln_final.weight": (width,),
    })


_TEXT_KEEP = {r".*token_embedding\.weight": (1,), r".*in_proj_weight": (1,)}


def sd_unet(arch: str = "sd15", *, tiny: bool = False) -> dict[str, Shape]:
    """A bare SD UNet in LDM naming (what ComfyUI's diffusion_models folder holds)."""
    return _finish(_ldm_unet(arch), _ATTN2_KEEP, tiny)


def sd15_unet(*, tiny: bool = False) -> dict[str, Shape]:
    return sd_unet("sd15", tiny=tiny)


def sdxl_unet(*, tiny: bool = False) -> dict[str, Shape]:
    return sd_unet("sdxl", tiny=tiny)


def sd_unet_diffusers(arch: str = "sd15", *, tiny: bool = False) -> dict[str, Shape]:
    """A UNet in diffusers naming (``unet/diffusion_pytorch_model.safetensors``)."""
    ch, _block, attn_ch, label = _UNET_LAYOUT[arch]
    level = 0 if attn_ch == ch else 1
    t = {
        "conv_in.weight": (ch, 4, 3, 3),
        "time_embedding.linear_1.weight": (4 * ch, ch),
        f"down_blocks.{level}.attentions.0.transformer_blocks.0.attn2.to_k.weight":
            (attn_ch, _CTX[arch]),
        f"down_blocks.{level}.attentions.0.proj_in.weight": (attn_ch, attn_ch),
        "mid_block.resnets.0.conv1.weight": (4 * ch, 4 * ch, 3, 3),
        "conv_out.weight": (4, ch, 3, 3),
    }
    if label:
        t["add_embedding.linear_1.weight"] = label
    return _finish(t, _ATTN2_KEEP, tiny)


def sd_checkpoint(arch: str = "sd15", *, tiny: bool = False) -> dict[str, Shape]:
    """A full A1111/ComfyUI checkpoint: UNet + VAE + text encoder(s) in one file."""
    t = _prefixed("model.diffusion_model.", _ldm_unet(arch))
    t |= _prefixed("first_stage_model.", _sd_vae_keys())
    if arch == "sd15":
        t |= _hf_clip_text(768, "cond_stage_model.transformer.")
    elif arch == "sd2":
        t |= _open_clip_text(1024, "cond_stage_model.model.")
    elif arch == "sdxl":
        t |= _hf_clip_text(768, "conditioner.embedders.0.transformer.")
        t |= _open_clip_text(1280, "conditioner.embedders.1.model.")
    else:
        t |= _open_clip_text(1280, "conditioner.embedders.0.model.")
    return _finish(t, _ATTN2_KEEP | _VAE_KEEP | _TEXT_KEEP, tiny)


def sd15_checkpoint(*, tiny: bool = False) -> dict[str, Shape]:
    return sd_checkpoint("sd15", tiny=tiny)


def sd2_checkpoint(*, tiny: bool = False) -> dict[str, Shape]:
    return sd_checkpoint("sd2", tiny=tiny)


def sdxl_checkpoint(*, tiny: bool = False) -> dict[str, Shape]:
    return sd_checkpoint("sdxl", tiny=tiny)


def sdxl_refiner_checkpoint(*, tiny: bool = False) -> dict[str, Shape]:
    return sd_checkpoint("sdxl-refiner", tiny=tiny)


def sd_vae(*, tiny: bool = False) -> dict[str, Shape]:
    """An SD1.x/SD2/SDXL VAE (4 latent channels: the three cannot be told apart by shape)."""
    return _finish(_sd_vae_keys(4), _VAE_KEEP, tiny)


def flux_vae(*, tiny: bool = False) -> dict[str, Shape]:
    """FLUX.1 ``ae.safetensors``: 16 latent channels, no quant_conv (SD3's VAE looks the same)."""
    return _finish(_sd_vae_keys(16, quant_conv=False), _VAE_KEEP, tiny)


def _flux_bfl(h: int = 3072, *, guidance: bool, chroma: bool = False) -> dict[str, Shape]:
    t: dict[str, Shape] = {"img_in.weight": (h, 64), "txt_in.weight": (h, 4096),
                           "final_layer.linear.weight": (64, h)}
    for b in (0, 1):
        for stream in ("img", "txt"):
            p = f"double_blocks.{b}.{stream}_"
            t |= {
                p + "attn.norm.key_norm.scale": (128,), p + "attn.norm.query_norm.scale": (128,),
                p + "attn.qkv.weight": (3 * h, h), p + "attn.proj.weight": (h, h),
                p + "mlp.0.weight": (4 * h, h), p + "mlp.2.weight": (h, 4 * h),
            }
            if not chroma:
                t[p + "mod.lin.weight"] = (6 * h, h)
        t |= {f"single_blocks.{b}.linear1.weight": (7 * h, h),
              f"single_blocks.{b}.linear2.weight": (h, 5 * h),
              f"single_blocks.{b}.norm.key_norm.scale": (128,)}
        if not chroma:
            t[f"single_blocks.{b}.modulation.lin.weight"] = (3 * h, h)
    if chroma:
        t |= {"distilled_guidance_layer.in_proj.weight": (5120, 64),
              "distilled_guidance_layer.layers.0.in_layer.weight": (5120, 5120),
              "distilled_guidance_layer.norms.0.scale": (5120,),
              "distilled_guidance_layer.out_proj.weight": (h, 5120)}
        return t
    t |= {"time_in.in_layer.weight": (h, 256), "time_in.out_layer.weight": (h, h),
          "vector_in.in_layer.weight": (h, 768), "vector_in.out_layer.weight": (h, h),
          "final_layer.adaLN_modulation.1.weight": (2 * h, h)}
    if guidance:
        t |= {"guidance_in.in_layer.weight": (h, 256),
              "guidance_in.out_layer.weight": (h, h)}
    return t


_FLUX_KEEP = {r".*img_in\.weight": (1,), r".*controlnet_blocks\.0\.weight": (0,)}


def flux_dev_transformer(*, tiny: bool = False) -> dict[str, Shape]:
    """FLUX.1-dev in BFL naming (``flux1-dev.safetensors``): has ``guidance_in``."""
    return _finish(_flux_bfl(guidance=True), _FLUX_KEEP, tiny)


def flux_schnell_transformer(*, tiny: bool = False) -> dict[str, Shape]:
    """FLUX.1-schnell in BFL naming: the same minus ``guidance_in``."""
    return _finish(_flux_bfl(guidance=False), _FLUX_KEEP, tiny)


def chroma_transformer(*, tiny: bool = False) -> dict[str, Shape]:
    """Chroma: FLUX blocks without modulation, plus ``distilled_guidance_layer``."""
    return _finish(_flux_bfl(guidance=False, chroma=True), _FLUX_KEEP, tiny)


def flux_checkpoint(*, tiny: bool = False) -> dict[str, Shape]:
    """A ComfyUI all-in-one FLUX.1-dev checkpoint (model + CLIP-L + T5 + VAE)."""
    t = _prefixed("model.diffusion_model.", _flux_bfl(guidance=True))
    t |= _hf_clip_text(768, "text_encoders.clip_l.transformer.")
    t |= _prefixed("text_encoders.t5xxl.transformer.", _t5_keys(32128))
    t |= _prefixed("vae.", _sd_vae_keys(16, quant_conv=False))
    return _finish(t, _FLUX_KEEP | _VAE_KEEP | _TEXT_KEEP, tiny)


def flux_dev_diffusers_transformer(*, tiny: bool = False) -> dict[str, Shape]:
    """FLUX.1-dev in diffusers naming (``transformer/diffusion_pytorch_model.safetensors``)."""
    h = 3072
    t = {
        "x_embedder.weight": (h, 64), "context_embedder.weight": (h, 4096),
        "time_text_embed.timestep_embedder.linear_1.weight": (h, 256),
        "time_text_embed.text_embedder.linear_1.weight": (h, 768),
        "time_text_embed.guidance_embedder.linear_1.weight": (h, 256),
        "transformer_blocks.0.attn.norm_added_k.weight": (128,),
        "transformer_blocks.0.attn.to_q.weight": (h, h),
        "transformer_blocks.0.attn.add_q_proj.weight": (h, h),
        "transformer_blocks.0.ff.net.0.proj.weight": (4 * h, h),
        "single_transformer_blocks.0.attn.to_q.weight": (h, h),
        "single_transformer_blocks.0.proj_mlp.weight": (4 * h, h),
        "single_transformer_blocks.0.proj_out.weight": (h, 5 * h),
        "proj_out.weight": (64, h),
    }
    return _finish(t, {r".*text_embedder\.linear_1\.weight": (1,)}, tiny)


def flux2_transformer(*, tiny: bool = False) -> dict[str, Shape]:
    """FLUX.2 (Klein 9B shapes) in BFL naming: shared ``double_stream_modulation_*``."""
    h = 4096
    t = {
        "double_stream_modulation_img.lin.weight": (6 * h, h),
        "double_stream_modulation_txt.lin.weight": (6 * h, h),
        "single_stream_modulation.lin.weight": (3 * h, h),
        "double_blocks.0.img_attn.norm.key_norm.scale": (128,),
        "double_blocks.0.img_attn.qkv.weight": (3 * h, h),
        "single_blocks.0.linear1.weight": (9 * h, h),
        "img_in.weight": (h, 128), "txt_in.weight": (h, 12288),
        "time_in.in_layer.weight": (h, 256), "final_layer.linear.weight": (128, h),
    }
    return _finish(t, {}, tiny)


def sd3_transformer(*, tiny: bool = False) -> dict[str, Shape]:
    """SD3 medium (MMDiT) in the original naming: ``joint_blocks.*.context_block``."""
    h = 1536
    t = {
        "x_embedder.proj.weight": (h, 16, 2, 2), "pos_embed": (1, 36864, h),
        "context_embedder.weight": (h, 4096), "y_embedder.mlp.0.weight": (h, 2048),
        "t_embedder.mlp.0.weight": (h, 256),
        "joint_blocks.0.context_block.attn.qkv.weight": (3 * h, h),
        "joint_blocks.0.x_block.attn.qkv.weight": (3 * h, h),
        "joint_blocks.0.x_block.mlp.fc1.weight": (4 * h, h),
        "final_layer.linear.weight": (64, h),
    }
    return _finish(t, {}, tiny)


def auraflow_transformer(*, tiny: bool = False) -> dict[str, Shape]:
    """AuraFlow in the original naming: ``double_layers.*.attn.w1q``."""
    h = 3072
    t = {
        "double_layers.0.attn.w1q.weight": (h, h), "double_layers.0.attn.w2q.weight": (h, h),
        "single_layers.0.attn.w1q.weight": (h, h), "positional_encoding": (1, 9216, h),
        "cond_seq_linear.weight": (h, 2048), "register_tokens": (1, 8, h),
        "init_x_linear.weight": (h, 64), "final_linear.weight": (64, h),
    }
    return _finish(t, {}, tiny)


def qwen_image_transformer(*, tiny: bool = False) -> dict[str, Shape]:
    """Qwen-Image (diffusers naming, as ComfyUI ships it): ``txt_norm`` + ``img_mod``."""
    h = 3072
    t = {
        "img_in.weight": (h, 64), "txt_norm.weight": (3584,), "txt_in.weight": (h, 3584),
        "transformer_blocks.0.img_mod.1.weight": (6 * h, h),
        "transformer_blocks.0.txt_mod.1.weight": (6 * h, h),
        "transformer_blocks.0.attn.to_q.weight": (h, h),
        "transformer_blocks.0.attn.add_q_proj.weight": (h, h),
        "transformer_blocks.0.img_mlp.net.0.proj.weight": (4 * h, h),
        "proj_out.weight": (64, h),
    }
    return _finish(t, {}, tiny)


def z_image_transformer(*, tiny: bool = False) -> dict[str, Shape]:
    """Z-Image (Lumina-2 family, 3840 wide): ``cap_embedder`` + ``noise_refiner``."""
    h = 3840
    t = {
        "cap_embedder.0.weight": (2560,), "cap_embedder.1.weight": (h, 2560),
        "noise_refiner.0.attention.k_norm.weight": (128,),
        "noise_refiner.0.attention.qkv.weight": (3 * h, h),
        "context_refiner.0.attention.qkv.weight": (3 * h, h),
        "layers.0.attention.qkv.weight": (3 * h, h),
        "layers.0.feed_forward.w1.weight": (10240, h),
        "x_embedder.weight": (h, 64), "t_embedder.mlp.0.weight": (1024, 256),
    }
    return _finish(t, {r"cap_embedder\.1\.weight": (0,)}, tiny)


def wan_transformer(*, tiny: bool = False) -> dict[str, Shape]:
    """Wan 2.1 T2V 1.3B in the original naming: ``head.modulation`` + 3-D ``patch_embedding``."""
    h = 1536
    t = {
        "head.modulation": (1, 2, h), "head.head.weight": (64, h),
        "patch_embedding.weight": (h, 16, 1, 2, 2),
        "text_embedding.0.weight": (h, 4096), "time_embedding.0.weight": (h, 256),
        "blocks.0.self_attn.q.weight": (h, h), "blocks.0.cross_attn.k.weight": (h, h),
        "blocks.0.ffn.0.weight": (8960, h),
    }
    return _finish(t, {}, tiny)


def hunyuan_video_transformer(*, tiny: bool = False) -> dict[str, Shape]:
    """HunyuanVideo in the original naming: ``txt_in.individual_token_refiner``, 3-D patches."""
    h = 3072
    t = {
        "img_in.proj.weight": (h, 16, 1, 2, 2),
        "txt_in.individual_token_refiner.blocks.0.norm1.weight": (h,),
        "txt_in.input_embedder.weight": (h, 4096),
        "double_blocks.0.img_attn_qkv.weight": (3 * h, h),
        "double_blocks.0.img_attn_q_norm.weight": (128,),
        "double_blocks.0.img_mlp.fc1.weight": (4 * h, h),
        "double_blocks.0.img_mod.linear.weight": (6 * h, h),
        "single_blocks.0.linear1.weight": (7 * h, h),
        "time_in.mlp.0.weight": (h, 256), "vector_in.in_layer.weight": (h, 768),
    }
    return _finish(t, {}, tiny)


def ltxv_transformer(*, tiny: bool = False) -> dict[str, Shape]:
    """LTX-Video in the original naming: ``adaln_single`` + ``patchify_proj``."""
    h = 2048
    t = {
        "adaln_single.emb.timestep_embedder.linear_1.bias": (h,),
        "adaln_single.emb.timestep_embedder.linear_1.weight": (h, 256),
        "adaln_single.linear.weight": (6 * h, h),
        "patchify_proj.weight": (h, 128), "caption_projection.linear_1.weight": (h, 4096),
        "scale_shift_table": (2, h),
        "transformer_blocks.0.attn1.to_q.weight": (h, h),
        "transformer_blocks.0.attn1.q_norm.weight": (h,),
        "proj_out.weight": (128, h),
    }
    return _finish(t, {}, tiny)


def anima_transformer(*, tiny: bool = False) -> dict[str, Shape]:
    """Anima (Cosmos-Predict2 DiT + LLM adapter) as released, under ``net.``."""
    t = {
        "net.blocks.0.mlp.layer1.weight": (8192, 2048),
        "net.blocks.0.self_attn.q_proj.weight": (2048, 2048),
        "net.blocks.0.cross_attn.k_proj.weight": (2048, 1024),
        "net.llm_adapter.blocks.0.cross_attn.q_proj.weight": (1024, 1024),
        "net.llm_adapter.embed.weight": (32128, 1024),
        "net.x_embedder.proj.1.weight": (2048, 68),
        "net.final_layer.linear.weight": (64, 2048),
    }
    return _finish(t, {}, tiny)


def _t5_keys(vocab: int, width: int = 4096, *, per_block_bias: bool = False) -> dict[str, Shape]:
    t = {
        "shared.weight": (vocab, width),
        "encoder.block.0.layer.0.SelfAttention.q.weight": (width, width),
        "encoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight": (32, 64),
        "encoder.block.0.layer.1.DenseReluDense.wi_0.weight": (10240, width),
        "encoder.block.1.layer.0.SelfAttention.q.weight": (width, width),
        "encoder.final_layer_norm.weight": (width,),
    }
    if per_block_bias:  # UMT5: every block has its own relative attention bias
        t["encoder.block.1.layer.0.SelfAttention.relative_attention_bias.weight"] = (32, 64)
    return t


def clip_l_text_encoder(*, tiny: bool = False) -> dict[str, Shape]:
    return _finish(_hf_clip_text(768), _TEXT_KEEP, tiny)


def clip_g_text_encoder(*, tiny: bool = False) -> dict[str, Shape]:
    return _finish(_hf_clip_text(1280) | {"text_projection.weight": (1280, 1280)},
                   _TEXT_KEEP, tiny)


def t5_xxl_text_encoder(*, tiny: bool = False) -> dict[str, Shape]:
    return _finish(_t5_keys(32128), {r"shared\.weight": (0,)}, tiny)


def umt5_xxl_text_encoder(*, tiny: bool = False) -> dict[str, Shape]:
    return _finish(_t5_keys(256384, per_block_bias=True), {r"shared\.weight": (0,)}, tiny)


def clip_vision_h(*, tiny: bool = False) -> dict[str, Shape]:
    """CLIP ViT-H/14 vision tower (IP-Adapter's image encoder)."""
    t = {
        "vision_model.embeddings.patch_embedding.weight": (1280, 3, 14, 14),
        "vision_model.embeddings.class_embedding": (1280,),
        "vision_model.encoder.layers.0.self_attn.q_proj.weight": (1280, 1280),
        "vision_model.post_layernorm.weight": (1280,),
        "visual_projection.weight": (1024, 1280),
    }
    return _finish(t, {r".*patch_embedding\.weight": (0,)}, tiny)


def esrgan_upscaler(*, new_arch: bool = True, tiny: bool = False) -> dict[str, Shape]:
    """An ESRGAN x4 upscaler (RRDBNet), BasicSR naming or the original ``model.N`` naming."""
    if new_arch:
        t = {"conv_first.weight": (64, 3, 3, 3), "body.0.rdb1.conv1.weight": (32, 64, 3, 3),
             "body.0.rdb1.conv5.weight": (64, 192, 3, 3), "conv_body.weight": (64, 64, 3, 3),
             "conv_up1.weight": (64, 64, 3, 3), "conv_up2.weight": (64, 64, 3, 3),
             "conv_last.weight": (3, 64, 3, 3)}
    else:
        t = {"model.0.weight": (64, 3, 3, 3), "model.1.sub.0.RDB1.conv1.0.weight": (32, 64, 3, 3),
             "model.1.sub.23.weight": (64, 64, 3, 3), "model.3.weight": (64, 64, 3, 3),
             "model.10.weight": (3, 64, 3, 3)}
    return _finish(t, {}, tiny)


def sd_controlnet(base: str = "sd15", *, diffusers: bool = False,
                  tiny: bool = False) -> dict[str, Shape]:
    """An SD ControlNet: LDM naming (``control_model.*``) or diffusers naming."""
    if diffusers:
        t = {k: v for k, v in sd_unet_diffusers(base).items() if "attn2" in k or "conv_in" in k}
        t |= {"controlnet_cond_embedding.conv_in.weight": (16, 3, 3, 3),
              "controlnet_down_blocks.0.weight": (320, 320, 1, 1),
              "controlnet_mid_block.weight": (1280, 1280, 1, 1)}
    else:
        unet = _ldm_unet(base)
        t = _prefixed("control_model.", {k: v for k, v in unet.items() if "out." not in k})
        t |= {"control_model.input_hint_block.0.weight": (16, 3, 3, 3),
              "control_model.zero_convs.0.0.weight": (320, 320, 1, 1),
              "control_model.middle_block_out.0.weight": (1280, 1280, 1, 1)}
    return _finish(t, _ATTN2_KEEP, tiny)


def flux_controlnet_xlabs(*, tiny: bool = False) -> dict[str, Shape]:
    """An XLabs FLUX ControlNet: two FLUX double blocks plus ``controlnet_blocks``."""
    t = {k: v for k, v in _flux_bfl(guidance=True).items() if not k.startswith("single_")}
    t |= {"controlnet_blocks.0.weight": (3072, 3072), "controlnet_blocks.1.weight": (3072, 3072),
          "input_hint_block.0.weight": (16, 3, 3, 3), "pos_embed_input.weight": (3072, 64)}
    return _finish(t, _FLUX_KEEP, tiny)


def sd_ip_adapter(base: str = "sd15", *, tiny: bool = False) -> dict[str, Shape]:
    """An IP-Adapter for SD1.5/SDXL (``image_proj`` + ``ip_adapter.N.to_k_ip``)."""
    ctx, ch = _CTX[base], _UNET_LAYOUT[base][2]
    t = {"image_proj.proj.weight": (4 * ctx, 1024), "image_proj.norm.weight": (ctx,),
         "ip_adapter.1.to_k_ip.weight": (ch, ctx), "ip_adapter.1.to_v_ip.weight": (ch, ctx)}
    return _finish(t, {r"ip_adapter\..*": (1,)}, tiny)


def textual_inversion(base: str = "sd15", vectors: int = 2) -> dict[str, Shape]:
    """A textual-inversion embedding (already tiny): SD1/SD2 ``emb_params``, SDXL clip_l+clip_g."""
    if base == "sdxl":
        return {"clip_l": (vectors, 768), "clip_g": (vectors, 1280)}
    return {"emb_params": (vectors, _CTX[base])}


# --- LoRAs ---------------------------------------------------------------------------------------
# module -> (out, in) of the adapted layer, per base; a LoRA of rank r is built over them.

_LORA_MODULES: dict[str, dict[str, tuple[int, int]]] = {
    "sd15": {"down_blocks.0.attentions.0.transformer_blocks.0.attn2.to_k": (320, 768),
             "down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_q": (320, 320)},
    "sd2": {"down_blocks.0.attentions.0.transformer_blocks.0.attn2.to_k": (320, 1024),
            "down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_q": (320, 320)},
    "sdxl": {"input_blocks.4.1.transformer_blocks.0.attn2.to_k": (640, 2048),
             "input_blocks.4.1.transformer_blocks.0.attn1.to_q": (640, 640)},
    "sdxl-refiner": {"input_blocks.4.1.transformer_blocks.0.attn2.to_k": (768, 1280)},
    "flux": {"double_blocks.0.img_attn.proj": (3072, 3072),
             "double_blocks.0.img_mlp.0": (12288, 3072),
             "single_blocks.0.linear1": (21504, 3072)},
    "flux-attention": {"double_blocks.0.img_attn.qkv": (9216, 3072),
                       "single_blocks.0.linear2": (3072, 15360)},
    "flux2": {"double_blocks.0.img_attn.proj": (4096, 4096),
              "double_blocks.0.img_mlp.0": (24576, 4096)},
    "chroma": {"distilled_guidance_layer.layers.0.in_layer": (5120, 5120),
               "double_blocks.0.img_attn.proj": (3072, 3072)},
    "sd3": {"joint_blocks.0.x_block.attn.qkv": (4608, 1536),
            "joint_blocks.0.context_block.attn.qkv": (4608, 1536)},
    "auraflow": {"double_layers.0.attn.w1q": (3072, 3072)},
    "hunyuan-video": {"double_blocks.0.img_attn_qkv": (9216, 3072),
                      "double_blocks.0.img_mlp.fc1": (12288, 3072)},
    "wan": {"blocks.0.self_attn.q": (1536, 1536), "blocks.0.ffn.0": (8960, 1536)},
    "z-image": {"layers.0.attention.qkv": (11520, 3840),
                "layers.0.feed_forward.w1": (10240, 3840)},
    "qwen-image": {"transformer_blocks.0.img_mlp.net.0.proj": (12288, 3072),
                   "transformer_blocks.0.attn.to_q": (3072, 3072)},
}
_LORA_TE: dict[str, dict[str, tuple[int, int]]] = {
    "sd15": {"lora_te_text_model_encoder_layers_0_self_attn_q_proj": (768, 768)},
    "sd2": {"lora_te_text_model_encoder_layers_0_self_attn_q_proj": (1024, 1024)},
    "sdxl": {"lora_te1_text_model_encoder_layers_0_self_attn_q_proj": (768, 768),
             "lora_te2_text_model_encoder_layers_0_self_attn_q_proj": (1280, 1280)},
    "flux": {"lora_te1_text_model_encoder_layers_0_self_attn_q_proj": (768, 768)},
}
_PEFT_MODULES: dict[str, dict[str, tuple[int, int]]] = {
    "sd15": {"unet." + k: v for k, v in _LORA_MODULES["sd15"].items()},
    "sdxl": {"unet.down_blocks.1.attentions.0.transformer_blocks.0.attn2.to_k": (640, 2048)},
    "flux": {"transformer.single_transformer_blocks.0.attn.to_k": (3072, 3072),
             "transformer.transformer_blocks.0.attn.to_add_out": (3072, 3072),
             "transformer.transformer_blocks.0.ff_context.net.0.proj": (12288, 3072)},
    "sd3": {"transformer.transformer_blocks.0.attn.to_q": (1536, 1536),
            "transformer.transformer_blocks.0.attn.add_q_proj": (1536, 1536)},
}


def _lora_parts(module: str, out: int, inp: int, rank: int, kind: str) -> dict[str, Shape]:
    if kind == "loha":
        return {f"{module}.hada_w1_a": (out, rank), f"{module}.hada_w1_b": (rank, inp),
                f"{module}.hada_w2_a": (out, rank), f"{module}.hada_w2_b": (rank, inp),
                f"{module}.alpha": ()}
    if kind == "lokr":  # kron(w1 (a, b), w2 (c, d)) is (a*c, b*d)
        return {f"{module}.lokr_w1": (4, 8), f"{module}.lokr_w2": (out // 4, inp // 8),
                f"{module}.alpha": ()}
    if kind == "peft":
        return {f"{module}.lora_A.weight": (rank, inp), f"{module}.lora_B.weight": (out, rank)}
    parts = {f"{module}.lora_down.weight": (rank, inp), f"{module}.lora_up.weight": (out, rank),
             f"{module}.alpha": ()}
    if kind == "dora":
        parts[f"{module}.dora_scale"] = (1, inp)
    return parts


def kohya_lora(base: str = "sdxl", *, rank: int = 8, text_encoder: bool = True,
               unet: bool = True,
               kind: Literal["lora", "loha", "lokr", "dora"] = "lora") -> dict[str, Shape]:
    """A kohya sd-scripts LoRA (``lora_unet_*``/``lora_te*_``) — or LyCORIS LoHa/LoKr/DoRA
    factors over the same modules. Already small (rank x width), so no ``tiny``.
    ``base``: sd15, sd2, sdxl, sdxl-refiner, flux, flux-attention, flux2, chroma, sd3, auraflow,
    hunyuan-video, wan, z-image, qwen-image."""
    t: dict[str, Shape] = {}
    for module, (out, inp) in (_LORA_MODULES[base] if unet else {}).items():
        t |= _lora_parts("lora_unet_" + module.replace(".", "_"), out, inp, rank, kind)
    if text_encoder:
        for module, (out, inp) in _LORA_TE.get(base, {}).items():
            t |= _lora_parts(module, out, inp, rank, kind)
    return t


def peft_lora(base: str = "flux", *, rank: int = 8) -> dict[str, Shape]:
    """A diffusers/PEFT LoRA (``<module>.lora_A.weight`` / ``lora_B.weight``)."""
    t: dict[str, Shape] = {}
    for module, (out, inp) in _PEFT_MODULES[base].items():
        t |= _lora_parts(module, out, inp, rank, "peft")
    return t


def lycoris_lora(base: str = "sd15", *, kind: Literal["loha", "lokr"] = "loha",
                 rank: int = 8) -> dict[str, Shape]:
    """A LyCORIS LoHa or LoKr over the base's UNet modules (kohya prefixes)."""
    return kohya_lora(base, rank=rank, text_encoder=False, kind=kind)


# --- language models and declared configs --------------------------------------------------------

def llama_gguf_metadata(arch: str = "llama", *, context: int = 4096) -> dict[str, Any]:
    """The GGUF metadata a llama.cpp conversion writes (the part identification reads)."""
    return {"general.architecture": arch, "general.name": f"tiny-{arch}",
            "general.file_type": 15, f"{arch}.context_length": context,
            f"{arch}.block_count": 2, f"{arch}.embedding_length": 64}


def llama_gguf_tensors(*, tiny: bool = True) -> dict[str, Shape]:
    """GGUF tensor names of a llama-style model (``blk.N.*``), shapes in numpy order."""
    width = 64 if tiny else 4096
    return {"token_embd.weight": (width, 32000), "blk.0.attn_q.weight": (width, width),
            "blk.0.ffn_up.weight": (width, 4 * width), "output_norm.weight": (width,),
            "output.weight": (width, 32000)}


def write_gguf(path: str | os.PathLike[str], metadata: Mapping[str, Any],
               tensors: Mapping[str, Shape] | None = None) -> Path:
    """A small, valid GGUF file (gguf package's writer; F32 zero tensors, so keep them tiny).

    ``metadata`` must hold ``general.architecture``; ints are written as uint32 (int32 when
    negative), floats as float32, strings, bools and lists of strings as such.
    """
    import gguf  # a core dependency, imported here so importing factories stays cheap
    import numpy as np

    path = Path(path)
    writer = gguf.GGUFWriter(str(path), str(metadata["general.architecture"]))
    for key, value in metadata.items():
        if key in ("general.architecture", "GGUF.version"):
            continue
        if isinstance(value, bool):
            writer.add_bool(key, value)
        elif isinstance(value, int):
            (writer.add_uint32 if value >= 0 else writer.add_int32)(key, value)
        elif isinstance(value, float):
            writer.add_float32(key, value)
        elif isinstance(value, list):
            writer.add_array(key, value)
        else:
            writer.add_string(key, str(value))
    for name, shape in (tensors if tensors is not None else llama_gguf_tensors()).items():
        writer.add_tensor(name, np.zeros(shape, dtype=np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


def transformers_config(model_type: str = "qwen2",
                        architectures: Iterable[str] = ("Qwen2ForCausalLM",)) -> dict[str, Any]:
    """A transformers ``config.json`` (only the fields identification reads, plus a few)."""
    return {"model_type": model_type, "architectures": list(architectures),
            "hidden_size": 64, "num_hidden_layers": 2, "torch_dtype": "float16"}


def decoder_lm_tensors(*, qk_norm: bool = False, tiny: bool = True) -> dict[str, Shape]:
    """A decoder-only LM state dict in transformers naming (Qwen3 when ``qk_norm``)."""
    w = 64 if tiny else 2560
    t = {"model.embed_tokens.weight": (151936 if not tiny else 256, w),
         "model.layers.0.self_attn.q_proj.weight": (w, w),
         "model.layers.0.mlp.gate_proj.weight": (4 * w, w), "model.norm.weight": (w,)}
    if qk_norm:
        t["model.layers.0.self_attn.q_norm.weight"] = (128,)
    return t


def diffusers_model_index(class_name: str = "StableDiffusionXLPipeline") -> dict[str, Any]:
    """A diffusers ``model_index.json``."""
    return {"_class_name": class_name, "_diffusers_version": "0.31.0",
            "unet": ["diffusers", "UNet2DConditionModel"], "vae": ["diffusers", "AutoencoderKL"]}


# --- a catalogue: every builder with what it must be identified as -------------------------------

@dataclass(frozen=True)
class Example:
    """One generated model: ``build(tiny)`` -> {name: shape}, and its expected identification."""

    build: Callable[[bool], dict[str, Shape]]
    architecture: str
    model_type: str


def _t(fn: Callable[..., dict[str, Shape]], *args: Any, **kw: Any,
       ) -> Callable[[bool], dict[str, Shape]]:
    return lambda tiny: fn(*args, tiny=tiny, **kw)


def _small(fn: Callable[..., dict[str, Shape]], *args: Any, **kw: Any,
           ) -> Callable[[bool], dict[str, Shape]]:
    return lambda _tiny: fn(*args, **kw)


EXAMPLES: dict[str, Example] = {
    "sd15-checkpoint": Example(_t(sd_checkpoint, "sd15"), "sd15", "checkpoints"),
    "sd2-checkpoint": Example(_t(sd_checkpoint, "sd2"), "sd2", "checkpoints"),
    "sdxl-checkpoint": Example(_t(sd_checkpoint, "sdxl"), "sdxl", "checkpoints"),
    "sdxl-refiner-checkpoint": Example(_t(sd_checkpoint, "sdxl-refiner"), "sdxl-refiner",
                                       "checkpoints"),
    "sd15-unet": Example(_t(sd_unet, "sd15"), "sd15", "diffusion_models"),
    "sd2-unet": Example(_t(sd_unet, "sd2"), "sd2", "diffusion_models"),
    "sdxl-unet": Example(_t(sd_unet, "sdxl"), "sdxl", "diffusion_models"),
    "sdxl-refiner-unet": Example(_t(sd_unet, "sdxl-refiner"), "sdxl-refiner", "diffusion_models"),
    "sd15-unet-diffusers": Example(_t(sd_unet_diffusers, "sd15"), "sd15", "diffusion_models"),
    **{f"{arch}-unet-diffusers": Example(_t(sd_unet_diffusers, arch), arch, "diffusion_models")
       for arch in ("sd2", "sdxl", "sdxl-refiner")},
    "flux-dev": Example(_t(flux_dev_transformer), "flux-dev", "diffusion_models"),
    "flux-schnell": Example(_t(flux_schnell_transformer), "flux-schnell", "diffusion_models"),
    "flux-dev-diffusers": Example(_t(flux_dev_diffusers_transformer), "flux-dev",
                                  "diffusion_models"),
    "flux-dev-checkpoint": Example(_t(flux_checkpoint), "flux-dev", "checkpoints"),
    "chroma": Example(_t(chroma_transformer), "chroma", "diffusion_models"),
    "flux2": Example(_t(flux2_transformer), "flux2", "diffusion_models"),
    "sd3": Example(_t(sd3_transformer), "sd3", "diffusion_models"),
    "auraflow": Example(_t(auraflow_transformer), "auraflow", "diffusion_models"),
    "qwen-image": Example(_t(qwen_image_transformer), "qwen-image", "diffusion_models"),
    "z-image": Example(_t(z_image_transformer), "z-image", "diffusion_models"),
    "wan": Example(_t(wan_transformer), "wan", "diffusion_models"),
    "hunyuan-video": Example(_t(hunyuan_video_transformer), "hunyuan-video", "diffusion_models"),
    "ltxv": Example(_t(ltxv_transformer), "ltxv", "diffusion_models"),
    "anima": Example(_t(anima_transformer), "anima", "diffusion_models"),
    "sd-vae": Example(_t(sd_vae), "unknown", "vae"),
    "flux-vae": Example(_t(flux_vae), "unknown", "vae"),
    "clip-l": Example(_t(clip_l_text_encoder), "clip-l", "text_encoders"),
    "clip-g": Example(_t(clip_g_text_encoder), "clip-g", "text_encoders"),
    "t5-xxl": Example(_t(t5_xxl_text_encoder), "t5", "text_encoders"),
    "umt5-xxl": Example(_t(umt5_xxl_text_encoder), "umt5", "text_encoders"),
    "qwen3-text-encoder": Example(_t(decoder_lm_tensors, qk_norm=True), "qwen3", "text_encoders"),
    "clip-vision-h": Example(_t(clip_vision_h), "clip-vit-h", "clip_vision"),
    "esrgan": Example(_t(esrgan_upscaler), "esrgan", "upscale_models"),
    "esrgan-old": Example(_t(esrgan_upscaler, new_arch=False), "esrgan", "upscale_models"),
    **{f"{arch}-controlnet{'-diffusers' if diffusers else ''}": Example(
        _t(sd_controlnet, arch, diffusers=diffusers), arch, "controlnet")
       for arch in ("sd15", "sd2", "sdxl") for diffusers in (False, True)},
    "flux-controlnet-xlabs": Example(_t(flux_controlnet_xlabs), "flux", "controlnet"),
    "sd15-ip-adapter": Example(_t(sd_ip_adapter, "sd15"), "sd15", "ipadapter"),
    "sd2-ip-adapter": Example(_t(sd_ip_adapter, "sd2"), "sd2", "ipadapter"),
    "sdxl-ip-adapter": Example(_t(sd_ip_adapter, "sdxl"), "sdxl", "ipadapter"),
    "sd15-embedding": Example(_small(textual_inversion, "sd15"), "sd15", "embeddings"),
    "sd2-embedding": Example(_small(textual_inversion, "sd2"), "sd2", "embeddings"),
    "sdxl-embedding": Example(_small(textual_inversion, "sdxl"), "sdxl", "embeddings"),
    "sd15-lora": Example(_small(kohya_lora, "sd15"), "sd15", "loras"),
    "sd2-lora": Example(_small(kohya_lora, "sd2"), "sd2", "loras"),
    "sdxl-lora": Example(_small(kohya_lora, "sdxl"), "sdxl", "loras"),
    "flux-lora": Example(_small(kohya_lora, "flux"), "flux", "loras"),
    **{f"{base}-lora": Example(_small(kohya_lora, base), arch, "loras") for base, arch in (
        ("sdxl-refiner", "sdxl-refiner"), ("flux-attention", "flux"), ("flux2", "flux2"),
        ("chroma", "chroma"), ("sd3", "sd3"), ("auraflow", "auraflow"),
        ("hunyuan-video", "hunyuan-video"), ("wan", "wan"), ("z-image", "z-image"),
        ("qwen-image", "qwen-image"))},
    **{f"{base}-lora-te-only": Example(_small(kohya_lora, base, unet=False), base, "loras")
       for base in ("sd15", "sd2", "sdxl")},
    "sd3-peft-lora": Example(_small(peft_lora, "sd3"), "sd3", "loras"),
    "sdxl-dora": Example(_small(kohya_lora, "sdxl", kind="dora"), "sdxl", "loras"),
    "sd15-loha": Example(_small(lycoris_lora, "sd15", kind="loha"), "sd15", "loras"),
    "sdxl-lokr": Example(_small(lycoris_lora, "sdxl", kind="lokr"), "sdxl", "loras"),
    "sd15-peft-lora": Example(_small(peft_lora, "sd15"), "sd15", "loras"),
    "sdxl-peft-lora": Example(_small(peft_lora, "sdxl"), "sdxl", "loras"),
    "flux-peft-lora": Example(_small(peft_lora, "flux"), "flux", "loras"),
}
