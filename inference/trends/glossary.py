"""What the trend reports' words mean: one sentence per term, defined here and nowhere else.

The CLI (``stylescope trends --help``), the app's Trends tab and the README's "Reading the
trends" section all show :data:`GLOSSARY`; a test keeps the README in step with it. A
style's state is one of :data:`STATES`, decided by :func:`~inference.trends.states.trend_state`.
"""

from __future__ import annotations

STATES = ("rising", "emerging", "peaked", "new", "steady", "fading")  # the order reports list them in

STATE_DEFINITIONS = {
    "emerging": "gaining share faster than its own history predicts, but without enough evidence "
    "(score, creators, first-time wearers) to call it rising yet.",
    "rising": "flagged rising on the as-of day: in the last three weeks at least 3 creators wore it for the "
    "first time, at least twice as many as its own past predicts, and its videos at least doubled too.",
    "peaked": "has risen (it has a take-off date) and is no longer rising; a style that took off is "
    "never called steady.",
    "steady": "has never risen and its share is neither well above nor well below its own history.",
    "fading": "its recent share is well below its own history.",
    "new": "too little history before its recent weeks to judge it yet.",
}

TERM_DEFINITIONS = {
    "has risen": "the style was flagged rising on some day up to the as-of day; its take-off date says "
    "which (rising and peaked styles have risen, and so may fading ones).",
    "take-off": "the first day the style was flagged rising, judged with only the data known that day.",
    "score": "how far the style's videos in the last two weeks exceed what its own history predicts, "
    "in standard deviations (a Poisson z-score): 1.5 or more with 2.0x growth makes a style that has not "
    "risen emerging, -3 or less with a halved share makes it fading.",
    "new wearers": "creators who wore the style for the first time in the last three weeks, next to the "
    "number its own past rate predicts (expected): many more than expected is what makes a style rise.",
    "growth": "the style's share of recent posts divided by its share before them (2.0x: twice as common).",
    "share now": "the style's share of all posts in the last reported period.",
    "garments": "garment crops assigned to the style; in an outfit style every sampled frame adds all "
    "of its crops (top, bottom, full body).",
    "creators": "distinct creators seen wearing the style.",
    "forecast": "the style's expected share of posts next week, by the method that won the backtest.",
    "forecast interval": "the range around the forecast that held the actual share 90% of the time "
    "(forecast.interval) on the backtest's hidden weeks.",
    "backtest error": "how far, on average, the forecast was off on this style's hidden last weeks, in "
    "percentage points of share, next to the best naive baseline other than the method itself (last "
    "value or straight line) on the same weeks (marked \"all styles\" when the style is too young to "
    "backtest alone).",
    "too little history to forecast": "the style was first seen fewer than 3 weeks ago "
    "(forecast.min_forecast_weeks), or no style has enough weeks yet to backtest a forecast.",
    "days before take-off": "for a trendsetter, the median number of days between their first "
    "wearing a risen style and its take-off date.",
    "originator": "the creator whose confident sighting of the style is the earliest (by post date).",
    "adopters": "every creator who wore the style, in the order of their first confident sighting.",
    "style name": "the style's garments named slot by slot (a top and a bottom, or a dress): colour measured from the pixels (checked against the facet probes), garment type, pattern and cut read by the facet probes; a facet too few garments agree on is left out, never guessed, so \"top + jeans\" means the top's type was unsure and \"unnamed style (no facet agreed)\" that nothing was sure enough to name; two styles whose names would read "
    "the same are told apart in brackets by the colour that sets each apart in the facet probe's reading (\"floral "
    "maxi dress (more white)\" / \"(more beige)\"): a comparison between the two, not a colour named with evidence; "
    "\"(2)\" where even that cannot tell them apart.",
    "attribute trends": "`stylescope trends --by colour|pattern|garment|silhouette` (and the Trends tab's "
    "view below the styles) follows one value (\"butter yellow\", \"polka dot\", \"cargo pants\", \"baggy "
    "jeans\") across every style whose name carries it: the garments of those styles' tops, bottoms or dresses "
    "named that value make one trend, read with the words above; a facet left out of a name (too little "
    "agreement) makes no trend.",
}

GLOSSARY = {**STATE_DEFINITIONS, **TERM_DEFINITIONS}


def glossary_lines(markdown: bool = False) -> list[str]:
    """One line per term: ``term: definition`` (Markdown: a bulleted list with bold terms)."""
    if markdown:
        return [f"- **{term}**: {text}" for term, text in GLOSSARY.items()]
    return [f"{term}: {text}" for term, text in GLOSSARY.items()]


def glossary_markdown() -> str:
    """The glossary as a Markdown list: the app's Trends tab and the README show exactly this."""
    return "\n".join(glossary_lines(markdown=True))
