"""The creator world: a seeded season of creators, trends and outfit videos with an answer key.

``VOCABULARY`` lists the attribute words (garment types, colours, patterns, silhouettes)
that styles, captions and garment crops are built from (see training/vocabulary.py).
Generation lives in :mod:`training.world.generate`, the answer key in
:mod:`training.world.answers`; the scorer is :mod:`training.world_eval`.
"""

from __future__ import annotations

from training.vocabulary import COLOURS, GARMENT_TYPES, PATTERNS, VOCABULARY, GarmentSpec

__all__ = ["COLOURS", "GARMENT_TYPES", "PATTERNS", "VOCABULARY", "GarmentSpec"]
