"""The creator world: a seeded season of creators, trends and outfit videos with an answer key.

It is the demo's sample data and the benchmarks' answer key, kept in one place:

- :mod:`world.vocabulary` lists the attribute words (garment types, colours, patterns,
  silhouettes) that styles, captions and garment crops are built from;
- :mod:`world.figure`, :mod:`world.patterns` and :mod:`world.render` draw people, fabrics and
  rooms; :mod:`world.scene` renders one video from them;
- :mod:`world.config`, :mod:`world.styles`, :mod:`world.society` and :mod:`world.generate`
  plan a season and write its videos, manifest and answer key (:mod:`world.answers`);
- :mod:`world.scorer` and :mod:`world.trend_scorer` score what stylescope found against it;
- :mod:`world.clips` makes small drawn clips for tests and benchmarks.

Stands above ``inference`` (the scorers read a catalog) and below ``training`` (which
renders captioned crops from the same drawing code) and ``app``.
"""

from __future__ import annotations

from world.vocabulary import COLOURS, GARMENT_TYPES, PATTERNS, VOCABULARY, GarmentSpec

__all__ = ["COLOURS", "GARMENT_TYPES", "PATTERNS", "VOCABULARY", "GarmentSpec"]
