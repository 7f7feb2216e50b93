"""``advise``: will each model fit a target (GPU memory, disk), and what would make it fit better.

Pure: :class:`ModelFacts` (what headers and the registry say about one model) and a
:class:`~modelshelf.inspection.targets.Target` in, :class:`Advice` out — nothing is read, nothing
changes. Every number comes with the rule that made it (``reasons``), because an estimate a user
cannot check is one they cannot trust.

The verdict: ``fits`` when the estimate uses at most :data:`TIGHT_SHARE` of the budget, ``tight``
up to all of it, ``does not fit`` beyond. The score (0-100) adds up the parts named in the
reasons — VRAM (60), disk (25), hygiene (15: an unsafe pickle or fp32 weights cost points) —
over the parts judged (a target without a disk judges no disk), and a model that does not fit
scores at most :data:`NO_FIT_CAP`: whatever else is right, it will not run.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from modelshelf.config import format_size
from modelshelf.formats.gguf_fmt import bits_per_weight
from modelshelf.inspection.gpu import FLOAT_ITEMSIZE, vram_need
from modelshelf.inspection.targets import Target

TIGHT_SHARE: Final = 0.90
VRAM_POINTS, DISK_POINTS, HYGIENE_POINTS = 60, 25, 15
NO_FIT_CAP: Final = 40
UNUSED_DAYS: Final = 90
FITS, TIGHT, NO_FIT = "fits", "tight", "does not fit"
_VERDICT_ORDER = {FITS: 0, TIGHT: 1, NO_FIT: 2}
PRIORITIES = ("high", "medium", "low")
# Formats ``convert`` rewrites (and so ``--apply`` may cast); the others are suggested only.
CASTABLE_FORMATS: Final = frozenset({"safetensors", "pickle"})
# GGUF's blocks are quantised, not cast: re-quantising is its own suggestion.
NOT_CAST: Final = frozenset({"gguf", "unknown"})
# GGUF quant choices: name -> (ggml block type, extra bits per weight). The _M mixes keep some
# tensors (attn_v, ffn_down of half the layers) at Q6_K: on llama.cpp's published sizes that
# is about +0.35 bits for Q4_K_M and +0.17 for Q5_K_M over their base block type.
GGUF_QUANTS: Final[tuple[tuple[str, str, float], ...]] = (
    ("Q8_0", "Q8_0", 0.0), ("Q6_K", "Q6_K", 0.0), ("Q5_K_M", "Q5_K", 0.17),
    ("Q4_K_M", "Q4_K", 0.35),
)


@dataclass(frozen=True)
class ModelFacts:
    """One model as far as advice needs it; sizes from headers and the registry."""

    name: str
    type: str
    architecture: str
    format: str
    size: int  # bytes on disk (all files)
    dtypes: Mapping[str, int]  # dtype -> element count
    safety: str  # safe | unsafe | unknown
    last_used: float | None = None  # None: not a registered model
    pinned: bool = False
    frees_bytes: int = 0  # what `rm` would free (blobs no other model shares)
    copies_outside: tuple[str, ...] = ()  # other paths holding the same bytes (not the store's)
    outside_bytes: int = 0  # what those copies take
    convertible: bool = False  # a single file convert can read (apply may convert it)
    # (sha256 or path, size) per file: what the models judged together take on disk, each blob
    # once (two names for the same bytes cost one copy)
    blobs: tuple[tuple[str, int], ...] = ()

    @property
    def parameters(self) -> int:
        return sum(self.dtypes.values())


@dataclass(frozen=True)
class Suggestion:
    action: str
    priority: str
    saves_bytes: int
    detail: str
    safe_to_apply: bool = False
    extra: Mapping[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"action": self.action, "priority": self.priority,
                "saves_bytes": self.saves_bytes, "detail": self.detail,
                "safe_to_apply": self.safe_to_apply, **self.extra}


@dataclass(frozen=True)
class ModelAdvice:
    name: str
    fit: str
    score: int
    needed_bytes: int | None  # the VRAM estimate
    reasons: tuple[str, ...]
    suggestions: tuple[Suggestion, ...]

    @property
    def saves_bytes(self) -> int:
        """The most this model's advice saves without counting alternatives twice: casting and
        re-quantising are alternatives (the larger counts), de-duplicating adds to them, and
        removing the model replaces them all."""
        return self._saves(outside=True)

    @property
    def store_saves_bytes(self) -> int:
        """The same, without the copies outside the store (they are not on the judged disk)."""
        return self._saves(outside=False)

    def _saves(self, *, outside: bool) -> int:
        by = {s.action: s.saves_bytes for s in self.suggestions}
        shrink = max(by.get("convert-fp16", 0), by.get("gguf-quant", 0))
        return max(by.get("remove", 0), shrink + (by.get("dedupe", 0) if outside else 0))

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "fit": self.fit, "score": self.score,
                "needed_bytes": self.needed_bytes, "reasons": list(self.reasons),
                "suggestions": [s.to_json() for s in self.suggestions],
                "saves_bytes": self.saves_bytes}


@dataclass(frozen=True)
class Advice:
    target: Target
    models: tuple[ModelAdvice, ...]
    disk_used_bytes: int = 0  # the models judged, each blob once

    @property
    def disk(self) -> dict[str, Any] | None:
        """All the models judged against the disk budget (None without one): does the whole
        set fit, and would it after the advice."""
        budget = self.target.disk_bytes
        if budget is None:
            return None
        after = max(self.disk_used_bytes - sum(m.store_saves_bytes for m in self.models), 0)
        return {"bytes": self.disk_used_bytes, "budget_bytes": budget,
                "fit": verdict(self.disk_used_bytes, budget), "after_advice_bytes": after,
                "fit_after_advice": verdict(after, budget)}

    @property
    def total_saves_bytes(self) -> int:
        return sum(m.saves_bytes for m in self.models)

    def to_json(self) -> dict[str, Any]:
        return {"target": self.target.to_json(), "models": [m.to_json() for m in self.models],
                "total_saves_bytes": self.total_saves_bytes, "disk": self.disk}

    def summary(self, top: int = 5) -> dict[str, Any]:
        """Savings by kind of suggestion and the ``top`` suggestions (priority, then bytes):
        ``report``'s optimization section."""
        by_kind: dict[str, int] = {}
        rows = []
        for m in self.models:
            for s in m.suggestions:
                by_kind[s.action] = by_kind.get(s.action, 0) + s.saves_bytes
                rows.append({"model": m.name, **s.to_json()})
        rows.sort(key=lambda r: (PRIORITIES.index(r["priority"]), -r["saves_bytes"], r["model"]))
        return {"savings_by_kind": dict(sorted(by_kind.items(), key=lambda kv: -kv[1])),
                "total_saves_bytes": self.total_saves_bytes,
                "top": [{k: r[k] for k in ("model", "action", "priority", "saves_bytes",
                                            "detail")} for r in rows[:top]]}

    def render(self) -> list[str]:
        """Plain text lines for humans."""
        t = self.target
        sides = [f"GPU {format_size(t.gpu_bytes)}" if t.gpu_bytes else "",
                 f"disk {format_size(t.disk_bytes)}" if t.disk_bytes else ""]
        lines = [f"target {t.name}: " + ", ".join(s for s in sides if s)
                 + (f" ({t.note})" if t.note else "")]
        for m in self.models:
            lines.append(f"{m.name}: {m.fit}, score {m.score}/100")
            lines += [f"  - {r}" for r in m.reasons]
            lines += [f"  [{s.priority}] {s.action}: saves {format_size(s.saves_bytes)} — "
                      f"{s.detail}" for s in m.suggestions]
        lines.append(f"{len(self.models)} model(s); the advice saves up to "
                     f"{format_size(self.total_saves_bytes)}")
        disk = self.disk
        if disk is not None:
            lines.append(f"together on disk: {format_size(disk['bytes'])} of "
                         f"{format_size(disk['budget_bytes'])}: {disk['fit']}; after the advice "
                         f"{format_size(disk['after_advice_bytes'])}: {disk['fit_after_advice']}")
        return lines


def needed_vram(facts: ModelFacts, weights: int | None = None) -> tuple[int, str]:
    """Bytes to run the model (weights + activations + runtime) and the rule, for people."""
    need = vram_need(facts.size if weights is None else weights, facts.architecture, facts.type)
    return need.needed, need.rule


def verdict(needed: int, budget: int) -> str:
    if needed <= TIGHT_SHARE * budget:
        return FITS
    return TIGHT if needed <= budget else NO_FIT


def _float_bytes(dtypes: Mapping[str, int]) -> int:
    """Bytes casting every floating tensor wider than 16 bits to fp16/bf16 saves."""
    return sum(n * (FLOAT_ITEMSIZE[d] - 2) for d, n in dtypes.items()
               if FLOAT_ITEMSIZE.get(d, 0) > 2)


def _castable_bytes(facts: ModelFacts) -> int:
    """What casting to fp16 saves, where a cast is the thing to do (not a GGUF, not an unsafe
    pickle: convert refuses those)."""
    if facts.format in NOT_CAST or facts.safety == "unsafe":
        return 0
    return _float_bytes(facts.dtypes)


def _vram_part(facts: ModelFacts, gpu: int) -> tuple[str, int, int, str]:
    needed, rule = needed_vram(facts)
    fit = verdict(needed, gpu)
    points = {FITS: VRAM_POINTS, TIGHT: VRAM_POINTS * 2 // 3}.get(
        fit, int(VRAM_POINTS / 2 * gpu / needed))
    return fit, points, needed, (f"VRAM: needs {format_size(needed)} of {format_size(gpu)} "
                                 f"({rule}): {fit} (+{points})")


def _disk_part(facts: ModelFacts, disk: int) -> tuple[str, int, str]:
    fit = verdict(facts.size, disk)
    points = {FITS: DISK_POINTS, TIGHT: DISK_POINTS * 3 // 5}.get(fit, 0)
    return fit, points, (f"disk: {format_size(facts.size)} of {format_size(disk)}: {fit} "
                         f"(+{points})")


def _gguf_choices(facts: ModelFacts, gpu: int | None) -> list[dict[str, Any]]:
    choices = []
    for quant, block_type, extra in GGUF_QUANTS:
        size = int(facts.parameters * (bits_per_weight(block_type) + extra) / 8)
        if size >= facts.size:
            continue
        fit = verdict(needed_vram(facts, size)[0], gpu) if gpu else None
        choices.append({"quant": quant, "bytes": size, "fit": fit})
    return choices


def _suggest(facts: ModelFacts, target: Target, fit: str, now: float,
             unused_days: int) -> list[Suggestion]:
    out: list[Suggestion] = []
    gpu = target.gpu_bytes
    cast_saves = _castable_bytes(facts)
    if cast_saves:
        after = facts.size - cast_saves
        rescued = gpu is not None and fit != FITS and verdict(needed_vram(facts, after)[0],
                                                              gpu) == FITS
        floats = sum(n for d, n in facts.dtypes.items() if FLOAT_ITEMSIZE.get(d, 0) > 2)
        share = floats * 4 / max(facts.size, 1)
        out.append(Suggestion(
            "convert-fp16", "high" if rescued else "medium" if share >= 0.5 else "low",
            cast_saves, f"cast {floats:,} fp32 weights to fp16 (bf16 keeps fp32's range; "
            f"fp16 may overflow): {format_size(facts.size)} -> {format_size(after)}"
            + ("; then it fits" if rescued else "")
            + ("" if facts.convertible else "; `modelshelf convert` its weights file, or save "
               "it with torch_dtype=float16"), facts.convertible))
    if facts.format == "pickle":
        if facts.safety == "unsafe":
            out.append(Suggestion("replace-unsafe-pickle", "high", 0,
                                  "this pickle imports code outside the allow-list: convert "
                                  "refuses it; find a safetensors release or remove it"))
        elif not cast_saves:
            out.append(Suggestion("to-safetensors", "medium", 0,
                                  "rewrite as safetensors: loads without unpickling, memory-mapped",
                                  facts.convertible and facts.safety == "safe"))
    if facts.copies_outside:
        out.append(Suggestion("dedupe", "medium", facts.outside_bytes,
                              f"the same bytes also at {', '.join(facts.copies_outside)}: "
                              "`modelshelf scan DIR --adopt` links them to the store"))
    if facts.type == "llm" or facts.format == "gguf":
        choices = _gguf_choices(facts, gpu)
        if choices:
            fitting = [c for c in choices if c["fit"] in (FITS, None)]
            best = fitting[0] if fitting else choices[-1]
            listed = ", ".join(f"{c['quant']} {format_size(c['bytes'])}"
                               + (f" ({c['fit']})" if c["fit"] else "") for c in choices)
            out.append(Suggestion(
                "gguf-quant", "high" if fit == NO_FIT and best["fit"] == FITS else "low",
                facts.size - best["bytes"], f"a GGUF at {best['quant']} (llama.cpp's quantize): "
                f"{listed}", extra={"quant": best["quant"], "choices": choices}))
    if facts.last_used is not None and not facts.pinned:
        days = (now - facts.last_used) / 86400
        if days >= unused_days:
            tight_disk = target.disk_bytes is not None and fit != FITS
            out.append(Suggestion("remove", "medium" if tight_disk else "low", facts.frees_bytes,
                                  f"not used for {int(days)} days: `modelshelf rm {facts.name}` "
                                  "(or `gc --max-size` evicts the least recently used)"))
    return sorted(out, key=lambda s: (PRIORITIES.index(s.priority), -s.saves_bytes))


def advise_model(facts: ModelFacts, target: Target, *, now: float | None = None,
                 unused_days: int = UNUSED_DAYS) -> ModelAdvice:
    now = time.time() if now is None else now
    reasons: list[str] = []
    fits: list[str] = []
    score, possible, needed = 0, HYGIENE_POINTS, None
    if target.gpu_bytes is not None:
        fit, points, needed, line = _vram_part(facts, target.gpu_bytes)
        fits.append(fit)
        score, possible = score + points, possible + VRAM_POINTS
        reasons.append(line)
    if target.disk_bytes is not None:
        fit, points, line = _disk_part(facts, target.disk_bytes)
        fits.append(fit)
        score, possible = score + points, possible + DISK_POINTS
        reasons.append(line)
    hygiene = HYGIENE_POINTS
    if facts.safety == "unsafe":
        hygiene -= 10
        reasons.append("an unsafe pickle (-10)")
    if _castable_bytes(facts):
        hygiene -= 5
        reasons.append("fp32 weights where fp16/bf16 would do (-5)")
    score = round(100 * (score + max(hygiene, 0)) / possible)
    overall = max(fits, key=_VERDICT_ORDER.__getitem__, default=FITS)
    if overall == NO_FIT and score > NO_FIT_CAP:
        score = NO_FIT_CAP
        reasons.append(f"does not fit: score capped at {NO_FIT_CAP}")
    return ModelAdvice(facts.name, overall, score, needed, tuple(reasons),
                       tuple(_suggest(facts, target, overall, now, unused_days)))


def advise(models: Sequence[ModelFacts], target: Target, *, now: float | None = None,
           unused_days: int = UNUSED_DAYS) -> Advice:
    """Advice for every model, worst score first (what needs attention leads)."""
    rows = [advise_model(m, target, now=now, unused_days=unused_days) for m in models]
    used = sum(dict(blob for m in models for blob in m.blobs).values())
    return Advice(target, tuple(sorted(rows, key=lambda m: (m.score, m.name))), used)
