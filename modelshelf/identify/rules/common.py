"""Pieces every family table shares: where a diffusion model's keys may start, what turns a bare
model into a full checkpoint, and the model-type precedence that orders all tables."""

from __future__ import annotations

from dataclasses import replace

from modelshelf.identify.engine import A, Rule

# A diffusion model's own keys, bare or inside a bundle: ComfyUI/A1111 checkpoints
# ("model.diffusion_model."), LoRA-style saves ("diffusion_model."), NVIDIA Cosmos/Anima ("net."),
# and the doubly wrapped "model.model." some trainers write.
DIFFUSION_PREFIXES: tuple[str, ...] = (
    "", "model.diffusion_model.", "diffusion_model.", "net.", "model.model.",
)

# A checkpoint is a diffusion model *plus* its VAE or text encoders in the same file
# (SD: first_stage_model / cond_stage_model / conditioner; ComfyUI bundles: vae / text_encoders).
CHECKPOINT_PARTS = (
    A("first_stage_model."), A("cond_stage_model."), A("conditioner."), A("text_encoders."),
    A("vae."),
)

# Which rules are tried first: an adapter or LoRA often carries some of its base model's keys
# (a Control LoRA keeps FLUX norms, an XLabs ControlNet whole FLUX blocks), and a checkpoint
# contains a bare model, so the more specific types go first. Within one type the tables' own
# order holds, and answers that cannot name an architecture come last.
TYPE_ORDER: dict[str, int] = {
    "loras": 0, "ipadapter": 1, "controlnet": 1, "embeddings": 2, "checkpoints": 3,
    "diffusion_models": 4, "vae": 5, "text_encoders": 5, "clip_vision": 5, "upscale_models": 5,
    "llm": 6, "other": 7,
}


def as_checkpoint(rule: Rule, confidence_delta: float = 0.0) -> Rule:
    """The full-checkpoint twin of a bare diffusion-model rule."""
    return replace(
        rule,
        name=rule.name.replace("model", "checkpoint"),
        model_type="checkpoints",
        prefixes=("model.diffusion_model.",),
        any_of=(*rule.any_of, CHECKPOINT_PARTS),
        confidence=min(1.0, rule.confidence + confidence_delta),
    )


def with_checkpoints(rules: tuple[Rule, ...]) -> tuple[Rule, ...]:
    """Each bare-model rule followed by its checkpoint twin."""
    return rules + tuple(as_checkpoint(r) for r in rules if r.model_type == "diffusion_models")
