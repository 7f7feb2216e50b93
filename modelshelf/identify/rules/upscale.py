"""Super-resolution models (ComfyUI's ``upscale_models``): ESRGAN in both the original and the
BasicSR ("new architecture") naming, and SwinIR — the residual-in-residual dense blocks
(``RDB1``/``rdb1``) and the SwinIR residual groups are what spandrel keys on as well."""

from __future__ import annotations

from modelshelf.identify.engine import K, R, Rule, rule

# BasicSR saves {"params_ema": state_dict}; a flattened pickle shows that as a key prefix.
_PREFIXES = ("", "params_ema.", "params.", "module.")

RULES: tuple[Rule, ...] = (
    rule("esrgan (basicsr)", "esrgan", "upscale_models", 0.9, prefixes=_PREFIXES,
         all_of=(K("conv_first.weight"), R(r"body\.\d+\.rdb1\.conv1\.weight"))),
    rule("esrgan (original)", "esrgan", "upscale_models", 0.9, prefixes=_PREFIXES,
         all_of=(K("model.0.weight"), R(r"model\.1\.sub\.\d+\.RDB1\.conv1\.0\.weight"))),
    rule("swinir", "swinir", "upscale_models", 0.8, prefixes=_PREFIXES,
         all_of=(K("conv_first.weight"),
                 R(r"layers\.\d+\.residual_group\.blocks\.\d+\.attn\.relative_position_bias_table"))),
)
