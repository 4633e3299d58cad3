"""The trend and creator reports behind ``stylescope trends`` / ``stylescope creators``, and plots.

Reports are plain dicts (JSON-ready): the CLI prints them as tables or as JSON, the app
shows them. Everything here orchestrates the other modules of :mod:`inference.trends`; no
logic of its own beyond selecting and formatting.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

from core.errors import BadInputError
from inference.catalog import Catalog
from inference.trends.creators import (
    adoptions_by_style,
    influence,
    leaderboard,
    originators,
    trendsetters,
)
from inference.trends.forecast import ShareForecast, forecast_shares
from inference.trends.identity import Style
from inference.trends.rising import StyleTrend, rising_styles
from inference.trends.series import (
    SeriesSet,
    TrendData,
    load_trend_data,
    period_start,
    style_series,
)
from inference.trends.settings import CreatorsConfig, ForecastConfig, TrendsConfig

logger = logging.getLogger(__name__)


def _load(catalog: Catalog, config: TrendsConfig, as_of: dt.date | None) -> TrendData:
    data = load_trend_data(catalog, as_of, config.series.min_frames_per_video)
    if not data.styles:
        raise BadInputError("there are no styles yet: run `stylescope trends` (it clusters the garments first)")
    if not data.posts:
        raise BadInputError("no dated posts to report on (every video is undated or posted after the as-of day)")
    return data


def medoids(catalog: Catalog, style_id: int, count: int = 4) -> list[dict[str, Any]]:
    """The garments nearest a style's centroid: its most typical crops."""
    return [{"garment_id": g.garment_id, "crop_path": g.crop_path, "distance": round(float(g.distance), 4)}
            for g in catalog.nearest_garments(style_id, count)]


def _weekly_shares(data: TrendData, config: TrendsConfig,
                   end: dt.date) -> SeriesSet:
    weekly = dataclasses.replace(config.series, period="week")
    return style_series(data, weekly, end=end)


def trends_report(
    catalog: Catalog,
    config: TrendsConfig,
    forecast_config: ForecastConfig,
    as_of: dt.date | None = None,
    weeks: int | None = None,
    kind: str | None = None,
) -> dict[str, Any]:
    """Styles with their names, series, rising / fading verdict and share forecast.

    Args:
        catalog: the deployment's catalog (styles must exist).
        config: trends settings.
        forecast_config: forecast settings.
        as_of: judge trends as of this day (default: the last day with posts); posts after
            it are left out.
        weeks: keep only the last ``weeks`` weeks of each series in the report.
        kind: only styles of this kind (top / bottom / full / outfit).
    """
    data = _load(catalog, config, as_of)
    end = min(as_of, data.last_day) if as_of and data.last_day else data.last_day
    assert end is not None
    trends = rising_styles(data, config.rising, as_of=end)
    shown = style_series(data, config.series, end=end)
    weekly = _weekly_shares(data, config, end)
    shares = {sid: s.share for sid, s in weekly.styles.items()}
    forecasts, backtest = forecast_shares(shares, forecast_config)
    creators_per_style: dict[int, set[str]] = defaultdict(set)
    for s in data.sightings:
        creators_per_style[s.style_id].add(s.creator)
    keep_periods = _tail(len(shown.periods), weeks, shown.period)
    styles = []
    for trend in trends:
        style = data.styles.get(trend.style_id)
        if style is None or (kind and style.kind != kind):
            continue
        styles.append(_style_entry(catalog, style, trend, shown, keep_periods, forecasts, creators_per_style))
    return {
        "as_of": end.isoformat(),
        "first_day": data.first_day.isoformat() if data.first_day else None,
        "posts": len(data.posts),
        "skipped": {"future_videos": data.future_videos, "undated_videos": data.undated_videos},
        "period": shown.period,
        "periods": [p.isoformat() for p in shown.periods[keep_periods]],
        "weight": config.series.weight,
        "backtest": backtest.as_dict(),
        "forecast_weeks": [
            (period_start(end, "week") + dt.timedelta(weeks=i + 1)).isoformat()
            for i in range(forecast_config.horizon_weeks)
        ],
        "styles": styles,
    }


def _tail(length: int, weeks: int | None, period: str) -> slice:
    if not weeks:
        return slice(0, length)
    keep = weeks if period == "week" else weeks * 7
    return slice(max(0, length - keep), length)


def _style_entry(catalog: Catalog, style: Style, trend: StyleTrend,
                 shown: SeriesSet, keep: slice, forecasts: dict[int, ShareForecast],
                 creators_per_style: dict[int, set[str]]) -> dict[str, Any]:
    series = shown.styles.get(style.id)
    zeros = np.zeros(len(shown.periods))
    entry: dict[str, Any] = {
        "id": style.id,
        "name": style.name,
        "kind": style.kind,
        "garments": style.size,
        "creators": len(creators_per_style.get(style.id, ())),
        "words": [dataclasses.asdict(word) for word in style.words],
        "medoids": medoids(catalog, style.id),
        "state": trend.state,
        "score": trend.score,
        "growth": trend.growth,
        "recent_videos": trend.recent_videos,
        "recent_creators": trend.recent_creators,
        "recent_new_creators": trend.recent_new_creators,
        "recent_share": round(trend.recent_share, 6),
        "history_share": round(trend.history_share, 6),
        "takeoff": trend.takeoff.isoformat() if trend.takeoff else None,
        "onset": trend.onset.isoformat() if trend.onset else None,
        "fading_since": trend.fading_since.isoformat() if trend.fading_since else None,
        "series": {
            name: (getattr(series, name) if series else zeros)[keep].round(6).tolist()
            for name in ("garments", "videos", "creators", "weighted", "share")
        },
    }
    fc = forecasts.get(style.id)
    entry["forecast"] = dataclasses.asdict(fc) if fc else None
    return entry


def plot_rising(report: dict[str, Any], plot_dir: str | Path, top: int = 6) -> list[Path]:
    """PNG curves (share per period, plus the forecast and its interval) of the top rising styles.

    Writes one ``style_<id>.png`` per style and ``rising.png`` with all of them; returns the paths.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plot_dir = Path(plot_dir)
    plot_dir.mkdir(parents=True, exist_ok=True)
    chosen = [s for s in report["styles"] if s["state"] == "rising"][:top] or report["styles"][:top]
    periods = [dt.date.fromisoformat(p) for p in report["periods"]]
    ahead = [dt.date.fromisoformat(p) for p in report["forecast_weeks"]]
    paths = []
    overview, axis = plt.subplots(figsize=(9, 5))
    for style in chosen:
        figure, own = plt.subplots(figsize=(7, 4))
        for ax in (own, axis):
            _draw_style(ax, style, periods, ahead, report["period"] == "week")
        own.set_title(f"style {style['id']}: {style['name']} ({style['state']}, score {style['score']:.1f})")
        own.set_ylabel("share of posts")
        own.legend(loc="upper left", fontsize=8)
        figure.autofmt_xdate()
        path = plot_dir / f"style_{style['id']}.png"
        figure.savefig(path, dpi=100, bbox_inches="tight")
        plt.close(figure)
        paths.append(path)
    axis.set_title(f"top rising styles as of {report['as_of']}")
    axis.set_ylabel("share of posts")
    axis.legend(loc="upper left", fontsize=7)
    overview.autofmt_xdate()
    overview_path = plot_dir / "rising.png"
    overview.savefig(overview_path, dpi=100, bbox_inches="tight")
    plt.close(overview)
    return [overview_path, *paths]


def _draw_style(ax: Any, style: dict[str, Any], periods: list[dt.date], ahead: list[dt.date], weekly: bool) -> None:
    (line,) = ax.plot(periods, style["series"]["share"], marker="o", markersize=3, label=f"{style['id']} {style['name']}")
    forecast = style.get("forecast")
    if forecast and weekly and periods:
        xs = [periods[-1], *ahead]
        ax.plot(xs, [style["series"]["share"][-1], *forecast["share"]], linestyle="--", color=line.get_color())
        ax.fill_between(ahead, forecast["low"], forecast["high"], color=line.get_color(), alpha=0.15)
    if style.get("takeoff"):
        ax.axvline(dt.date.fromisoformat(style["takeoff"]), color=line.get_color(), linestyle=":", linewidth=1)


# --------------------------------------------------------------------------------------
# creators
# --------------------------------------------------------------------------------------
def creators_report(
    catalog: Catalog,
    config: TrendsConfig,
    creators_config: CreatorsConfig,
    as_of: dt.date | None = None,
    tier: str | None = None,
    top: int | None = 20,
    style_id: int | None = None,
) -> dict[str, Any]:
    """Originators with evidence, influence between creators, and the trendsetter leaderboard.

    With ``style_id``, the report is about that style: its originator, runners-up and every
    adopter in order.
    """
    data = _load(catalog, config, as_of)
    if style_id is not None and style_id not in data.styles:
        raise BadInputError(f"there is no style {style_id}; `stylescope trends` lists the styles")
    trends = rising_styles(data, config.rising, as_of=as_of)
    adoptions = adoptions_by_style(data, creators_config)
    origins = originators(data, creators_config, adoptions)
    board = trendsetters(adoptions, trends, creators_config)
    try:
        rows = leaderboard(board, tier, top)
    except ValueError as exc:
        raise BadInputError(str(exc)) from None
    report: dict[str, Any] = {
        "as_of": (as_of or data.last_day or dt.date.today()).isoformat(),
        "tier": tier,
        "risen_styles": sorted(t.style_id for t in trends if t.takeoff),
        "leaderboard": [t.as_dict() for t in rows],
        "ranked_creators": len(board),
    }
    names = {sid: s.name for sid, s in data.styles.items()}
    if style_id is not None:
        origin = origins.get(style_id)
        first = origin.originator.day if origin else None
        report["style"] = {"id": style_id, "name": names[style_id], "origin": origin.as_dict() if origin else None,
                           "adopters": [dict(a.as_dict(), days_after=(a.day - first).days) for a in
                                        adoptions.get(style_id, [])] if first else []}
        return report
    edges = influence(adoptions, creators_config)
    report["originators"] = [dict(o.as_dict(), style_name=names.get(sid, "")) for sid, o in sorted(origins.items())]
    report["influence"] = [dataclasses.asdict(e) for e in edges[: top or None]]
    return report
