"""How every view writes a value: handles, dates, counts, growth, shares, days, forecasts.

The CLI's tables, the demo's report and the app's views all format through these functions
(and build the shared tables with the row builders here), so one number reads the same
wherever it appears. JSON output keeps the raw values (handles without "@", dates in ISO).
The words used (states, take-off, growth ...) are defined in :mod:`inference.trends.glossary`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from inference.trends import (
        AttributeReport,
        Backtest,
        ClusterConfig,
        CreatorsReport,
        Origin,
        StyleReport,
        Trendsetter,
        TrendsReport,
    )
    from inference.trends.coverage import StyleCoverage

NONE = "-"  # a value that does not exist (no take-off yet, no originator ...)

STYLE_HEADERS = ["id", "style", "kind", "state", "score", "growth", "new wearers (expected)", "take-off", "garments", "creators",
                 "share now", "next week [interval]", "backtest error (naive)"]
UNIT_COLUMNS = ["worn as", "state", "score", "growth", "new wearers (expected)", "take-off", "garments", "creators",
                "share now", "next week [interval]", "originator", "styles"]  # after "id" and the attribute
UNIT_WORDS = {"colour": "colour", "pattern": "pattern", "garment": "garment type", "silhouette": "silhouette"}  # --by
LEADERBOARD_HEADERS = ["#", "creator", "followers", "tier", "score", "styles", "originated",
                       "days before take-off"]
BASELINE_NAMES = {"last_value": "last value", "linear_trend": "straight line"}


# -- single values ---------------------------------------------------------------------------
def handle(creator: str | None) -> str:
    """A creator handle, always with "@"."""
    return f"@{creator.lstrip('@')}" if creator else NONE


def day(value: dt.date | str | None) -> str:
    """A date in ISO form (YYYY-MM-DD)."""
    if not value:
        return NONE
    return value.isoformat() if isinstance(value, dt.date) else str(value)[:10]


def count(value: int | float) -> str:
    """A count with thousands separators."""
    return f"{int(value):,}"


def growth(value: float) -> str:
    """Recent share over historical share: ``2.0x``."""
    return f"{value:.1f}x"


def score(value: float) -> str:
    """A rising score (z-score), one decimal."""
    return f"{value:.1f}"


def share(value: float) -> str:
    """A share of posts as a percentage, one decimal."""
    return f"{value:.1%}"


def points(value: float) -> str:
    """A difference of shares in percentage points, one decimal."""
    return f"{value * 100:.1f} pts"


def days(value: float) -> str:
    """Days (a median may fall on a half day), one decimal."""
    return f"{value:.1f}"


def trendsetter_score(value: float) -> str:
    """A trendsetter score (sum of reciprocal ranks), three decimals."""
    return f"{value:.3f}"


# -- trends ---------------------------------------------------------------------------------
def share_now(style: StyleReport) -> str:
    """The style's share of posts in the last reported period."""
    return share(style.series.share[-1]) if style.series.share else NONE


def forecast(style: StyleReport) -> str:
    """Next week's share with its interval, or why there is none."""
    fc = style.forecast
    if fc is None:
        return style.forecast_note or NONE
    return f"{share(fc.share[0])} [{share(fc.low[0])}, {share(fc.high[0])}]"


def forecast_error(style: StyleReport) -> str:
    """The forecast's backtest error next to the best naive baseline's on the same weeks."""
    fc = style.forecast
    if fc is None or fc.error is None:
        return NONE
    error = fc.error
    scope = "" if error.scope == "style" else ", all styles"
    return (f"{points(error.mae)} ({BASELINE_NAMES.get(error.baseline, error.baseline)} "
            f"{points(error.baseline_mae)}{scope})")


def backtest(result: Backtest, unit: str = "style") -> str:
    """Which forecaster is used and how it did against the naive baselines, backtested on every ``unit`` with enough weeks."""
    if result.series == 0:
        return f"too little history to forecast (no {unit} has enough weeks to backtest)"
    verdict = ("beats both naive baselines" if result.beats_baselines
               else "a naive baseline: no model beat it" if result.chosen in BASELINE_NAMES
               else "does not beat the naive baselines")
    return f"{result.chosen} ({verdict}; backtested on {count(result.series)} {unit}s)"


def new_wearers(style: StyleReport) -> str:
    """``5 (1.2)``: first-time wearers in the last three weeks and what the style's past predicts."""
    return f"{style.new_wearers} ({style.expected_new_wearers:.1f})"


NAME_WIDTH = 48  # a style name's room in a text table


def name(text: str, width: int = NAME_WIDTH) -> str:
    """A style name wrapped onto lines of at most ``width`` characters for a text table, whole:
    broken after a slot's " +" where it can be ("beige polka dot shirt +" / "burgundy cargo pants"),
    else at a word, never mid-word unless one word is wider than the column."""
    lines: list[str] = []
    for part in _slots(text):
        if lines and len(lines[-1]) + 1 + len(part) <= width:
            lines[-1] = f"{lines[-1]} {part}"
            continue
        for word in part.split(" "):
            if lines and lines[-1] and not lines[-1].endswith("+") and len(lines[-1]) + 1 + len(word) <= width:
                lines[-1] = f"{lines[-1]} {word}"
            else:
                lines.append(word)
    return "\n".join(lines)


def _slots(text: str) -> list[str]:
    """A name's slots, each but the last ending in "+": ["beige shirt +", "cargo pants"]."""
    parts = text.split(" + ")
    return [f"{part} +" for part in parts[:-1]] + parts[-1:]


def style_row(style: StyleReport, name_width: int | None = None) -> list[Any]:
    """One style in the styles table (:data:`STYLE_HEADERS`)."""
    return [style.id, name(style.name, name_width) if name_width else style.name, style.kind or NONE, style.state,
            score(style.score), growth(style.growth), new_wearers(style), day(style.takeoff), count(style.garments),
            count(style.creators), share_now(style), forecast(style), forecast_error(style)]


def unit_headers(by: str) -> list[str]:
    """The attribute table's headers: id, the attribute (colour, pattern ...), then :data:`UNIT_COLUMNS`."""
    return ["id", by, *UNIT_COLUMNS]


def originator(unit: AttributeReport) -> str:
    """``@mia.fits (2026-03-16)``: who wore an attribute first, and when."""
    origin = unit.originator
    return f"{handle(origin.originator.creator)} ({day(origin.originator.day)})" if origin else NONE


def unit_row(unit: AttributeReport) -> list[Any]:
    """One attribute unit in the attribute table (:func:`unit_headers`)."""
    return [unit.id, unit.name, unit.kind or NONE, unit.state, score(unit.score), growth(unit.growth),
            new_wearers(unit), day(unit.takeoff), count(unit.garments), count(unit.creators), share_now(unit),
            forecast(unit), originator(unit), ", ".join(str(s) for s in unit.styles)]


def state_counts(counts: Mapping[str, int]) -> str:
    """``1 rising, 2 emerging, ...``: every state named, in the glossary's order."""
    return ", ".join(f"{n} {state}" for state, n in counts.items())


def trends_summary(report: TrendsReport, unit: str = "style") -> str:
    """How many styles (or other units: colours, patterns ...) are in each state, and how many have risen."""
    return (f"{count(len(report.styles))} {unit}s: {state_counts(report.state_counts())}; "
            f"{count(report.risen())} have risen (a take-off date)")


def risen_summary(report: CreatorsReport) -> str:
    """What the trendsetter board rests on, in the trends tab's words."""
    return (f"{count(report.ranked_creators)} creators wore one of the {count(len(report.risen_styles))} styles "
            "that have risen (with a take-off date)")


# -- creators -------------------------------------------------------------------------------
def leaderboard_row(rank: int, setter: Trendsetter) -> list[Any]:
    """One trendsetter (:data:`LEADERBOARD_HEADERS`)."""
    return [rank, handle(setter.creator), count(setter.followers), setter.tier, trendsetter_score(setter.score),
            setter.styles, setter.originated, days(setter.days_before_takeoff)]


def runners_up(origin: Origin) -> str:
    """The creators who wore a style right after its originator, with their dates."""
    return ", ".join(f"{handle(r.creator)} ({day(r.day)})" for r in origin.runners_up) or NONE


# -- what to do next --------------------------------------------------------------------------
CLI_STEPS = {"update": "run `stylescope trends`", "recluster": "run `stylescope trends --recluster`"}
APP_STEPS = {"update": "press “Update styles” in the Trends tab",
             "recluster": "tick “Full re-clustering” and press “Update styles” in the Trends tab"}


def ingest_next_steps(coverage: StyleCoverage, config: ClusterConfig, steps: Mapping[str, str]) -> list[str]:
    """After an ingest or an upload: new garments get a style only when styles are brought up to date."""
    if coverage.unstyled == 0:
        return []
    if coverage.styles == 0:
        return [f"Next: {steps['update']} to cluster the {count(coverage.garments)} garments into styles; "
                "trends and creators are reported on styles."]
    lines = [f"Next: {count(coverage.unstyled)} garments have no style yet: {steps['update']} to put them into "
             "the styles there are (the trends count them from then on)."]
    if coverage.recluster_advised(config):
        lines.append(f"If many of them fit no style, {steps['recluster']}: a full re-clustering looks for new "
                     "styles among them.")
    return lines


def update_next_steps(coverage: StyleCoverage, config: ClusterConfig, steps: Mapping[str, str]) -> list[str]:
    """After styles were brought up to date: whether a full re-clustering would find new styles."""
    if not coverage.recluster_advised(config):
        return []
    return [f"{count(coverage.unfitted)} garments ({share(coverage.unfitted / max(coverage.garments, 1))} of all) "
            f"fit no style, beyond those the last full clustering left out: {steps['recluster']} to look for "
            "new styles among them."]
