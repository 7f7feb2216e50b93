"""Identification: architecture and model type from decisive key names and shapes.

``identify(header)`` takes any reader's :class:`~modelshelf.formats.base.ModelHeader` and answers
with SPEC.md's vocabularies, a confidence and the evidence. Rules are data, one table per family
under ``identify/rules``; ``engine`` tests them; ``lora`` normalises LoRA flavours first.
"""

from modelshelf.identify.core import Identification, identify

__all__ = ["Identification", "identify"]
