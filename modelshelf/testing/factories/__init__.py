"""Model files for tests and the demo: real key names and decisive shapes, no real weights.

One module per job, all re-exported here (``from modelshelf.testing import factories as f``):
- ``files``: ``write_safetensors`` / ``write_gguf`` write valid files without materialising
  tensor data; ``header_from_shapes`` builds a ModelHeader directly (fast tests);
  ``load_corpus`` reads the corpus of real key layouts (``tests/identify/corpus/keylists``).
- ``diffusion`` and ``adapters``: key-set builders (``sd15_checkpoint()``,
  ``flux_dev_transformer()``, ``kohya_lora("sdxl")``, ...) returning ``{name: shape}`` with the
  names and shapes the identification rules decide on, plus a few realistic neighbours.
  ``tiny=True`` shrinks every dimension that does not decide anything to at most 4 (``keys``),
  so a demo file is a few MB at most.
- ``llm``: GGUF metadata/tensors, transformers and diffusers configs.
- ``catalogue``: ``EXAMPLES``, every builder with what it must be identified as.
"""

from modelshelf.testing.factories.adapters import (
    flux_controlnet_xlabs,
    kohya_lora,
    lycoris_lora,
    peft_lora,
    sd_controlnet,
    sd_ip_adapter,
    textual_inversion,
)
from modelshelf.testing.factories.catalogue import (
    EXAMPLES,
    Example,
)
from modelshelf.testing.factories.diffusion import (
    anima_transformer,
    auraflow_transformer,
    chroma_transformer,
    clip_g_text_encoder,
    clip_l_text_encoder,
    clip_vision_h,
    esrgan_upscaler,
    flux2_transformer,
    flux_checkpoint,
    flux_dev_diffusers_transformer,
    flux_dev_transformer,
    flux_schnell_transformer,
    flux_vae,
    hunyuan_video_transformer,
    ltxv_transformer,
    qwen_image_transformer,
    sd2_checkpoint,
    sd3_transformer,
    sd15_checkpoint,
    sd15_unet,
    sd_checkpoint,
    sd_unet,
    sd_unet_diffusers,
    sd_vae,
    sdxl_checkpoint,
    sdxl_refiner_checkpoint,
    sdxl_unet,
    t5_xxl_text_encoder,
    umt5_xxl_text_encoder,
    wan_transformer,
    z_image_transformer,
)
from modelshelf.testing.factories.files import (
    ITEMSIZE,
    TensorSpec,
    corpus_dir,
    corpus_names,
    header_from_shapes,
    load_corpus,
    write_gguf,
    write_safetensors,
)
from modelshelf.testing.factories.keys import (
    TINY_DIM,
    Shape,
)
from modelshelf.testing.factories.llm import (
    decoder_lm_tensors,
    diffusers_model_index,
    llama_gguf_metadata,
    llama_gguf_tensors,
    transformers_config,
)

__all__ = [
    "EXAMPLES",
    "ITEMSIZE",
    "TINY_DIM",
    "Example",
    "Shape",
    "TensorSpec",
    "anima_transformer",
    "auraflow_transformer",
    "chroma_transformer",
    "clip_g_text_encoder",
    "clip_l_text_encoder",
    "clip_vision_h",
    "corpus_dir",
    "corpus_names",
    "decoder_lm_tensors",
    "diffusers_model_index",
    "esrgan_upscaler",
    "flux2_transformer",
    "flux_checkpoint",
    "flux_controlnet_xlabs",
    "flux_dev_diffusers_transformer",
    "flux_dev_transformer",
    "flux_schnell_transformer",
    "flux_vae",
    "header_from_shapes",
    "hunyuan_video_transformer",
    "kohya_lora",
    "llama_gguf_metadata",
    "llama_gguf_tensors",
    "load_corpus",
    "ltxv_transformer",
    "lycoris_lora",
    "peft_lora",
    "qwen_image_transformer",
    "sd2_checkpoint",
    "sd3_transformer",
    "sd15_checkpoint",
    "sd15_unet",
    "sd_checkpoint",
    "sd_controlnet",
    "sd_ip_adapter",
    "sd_unet",
    "sd_unet_diffusers",
    "sd_vae",
    "sdxl_checkpoint",
    "sdxl_refiner_checkpoint",
    "sdxl_unet",
    "t5_xxl_text_encoder",
    "textual_inversion",
    "transformers_config",
    "umt5_xxl_text_encoder",
    "wan_transformer",
    "write_gguf",
    "write_safetensors",
    "z_image_transformer",
]
