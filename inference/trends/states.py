"""A style's trend state from its burst statistics on the as-of day (see :mod:`~inference.trends.glossary`).

The rising detector says, for every day, whether the style was flagged rising or fading;
the state adds its history: a style that took off is ``rising`` or ``peaked`` (or
``fading``), never ``steady``, and one gaining share without the evidence to rise yet is
``emerging``.
"""

from __future__ import annotations

from inference.trends.glossary import STATES
from inference.trends.settings import RisingConfig

STATE_ORDER = {state: n for n, state in enumerate(STATES)}


def trend_state(*, rising: bool, fading: bool, judged: bool, has_risen: bool, score: float, growth: float,
                config: RisingConfig) -> str:
    """The state of one style on one day.

    Args:
        rising: flagged rising that day.
        fading: flagged fading that day.
        judged: enough history before the recent window to judge at all.
        has_risen: flagged rising on that day or any day before (it has a take-off date).
        score: the day's burst z-score.
        growth: the day's recent share over the historical share.
        config: the rising settings (``emerging_z`` and ``min_growth`` decide "emerging").
    """
    if rising:
        return "rising"
    if fading:
        return "fading"
    if has_risen:
        return "peaked"
    if not judged:
        return "new"
    if score >= config.emerging_z and growth >= config.min_growth:
        return "emerging"
    return "steady"
