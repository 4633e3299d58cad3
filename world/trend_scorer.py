"""Scoring the trends stage on a creator world: its predictions, through ``world.scorer``.

The trends stage predicts, from the catalog alone: each garment's style, each style's
originator ranking (originator then runners-up), the day each style was first flagged as
rising, and the trendsetter leaderboard. :func:`score_world` hands the first three to the
world scorer (NMI/ARI/purity, originator top-1/top-3, rising precision/recall/days late)
and scores the leaderboard itself: the share of true trendsetters in its top 10%.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

from inference import trends as trends_mod
from inference.catalog import Catalog
from world import scorer


@dataclasses.dataclass
class TrendPredictions:
    """What the trends stage claims about a catalog."""

    styles: dict[int, int]  # garment id -> style id
    rankings: dict[int, list[str]]  # style id -> originator, then runners-up
    flagged: dict[int, dt.date]  # style id -> day first flagged as rising
    leaderboard: list[trends_mod.Trendsetter]


def predict(catalog: Catalog, config: trends_mod.TrendsConfig,
            creators_config: trends_mod.CreatorsConfig) -> TrendPredictions:
    """The trends stage's predictions from the catalog's current styles."""
    styles = catalog.garment_style_ids()
    data = trends_mod.load_trend_data(catalog, min_frames=config.series.min_frames_per_video)
    trends = trends_mod.rising_styles(data, config.rising)
    adoptions = trends_mod.adoptions_by_style(data, creators_config)
    origins = trends_mod.originators(data, creators_config, adoptions)
    rankings = {sid: [o.originator.creator] + [a.creator for a in o.runners_up] for sid, o in origins.items()}
    flagged = {t.style_id: t.takeoff for t in trends if t.takeoff is not None}
    board = trends_mod.trendsetters(adoptions, trends, creators_config)
    return TrendPredictions(styles, rankings, flagged, board)


def trendsetter_scores(answer: scorer.AnswerKey, board: list[trends_mod.Trendsetter],
                       top_share: float = 0.1) -> dict[str, Any]:
    """Share of true trendsetters in the top ``top_share`` of the leaderboard (and its precision)."""
    setters = {c.handle for c in answer.creators if c.is_trendsetter}
    top = {t.creator for t in board[: max(1, round(top_share * len(board)))]} if board else set()
    return {
        "true": len(setters),
        "ranked": len(board),
        "in_top_10pct": len(setters & top) / len(setters) if setters else None,
        "top_10pct_precision": len(setters & top) / len(top) if top else None,
    }


def score_world(catalog: Catalog, answer: scorer.AnswerKey, config: trends_mod.TrendsConfig,
                creators_config: trends_mod.CreatorsConfig) -> dict[str, Any]:
    """Every trends-stage score of the catalog against the world's answer key (plain data)."""
    predictions = predict(catalog, config, creators_config)
    found = scorer.found_garments(catalog.garments())
    report = scorer.evaluate(answer, found, predictions.styles, predictions.rankings, predictions.flagged).to_dict()
    report.pop("boxes", None)
    report["trendsetters"] = trendsetter_scores(answer, predictions.leaderboard)
    return report
