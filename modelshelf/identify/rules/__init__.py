"""All key-and-shape rules, in the order they are tried.

Adding a family = adding rows to one of the tables (or a new module listed here). Rules are
sorted by model type (``common.TYPE_ORDER``: LoRAs and adapters before checkpoints before bare
models before components), then answers that name an architecture before those that cannot;
within that, the tables' own order holds (the sort is stable).
"""

from __future__ import annotations

from modelshelf.identify.engine import RuleTable
from modelshelf.identify.rules import components, dit, flux, kandinsky, sd, upscale
from modelshelf.identify.rules.common import TYPE_ORDER

RULES = RuleTable(sorted(
    (*flux.RULES, *dit.RULES, *sd.RULES, *kandinsky.RULES, *components.RULES,
     *upscale.RULES),
    key=lambda r: (TYPE_ORDER[r.model_type], r.architecture == "unknown"),
))
