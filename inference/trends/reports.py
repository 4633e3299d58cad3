"""The trend and creator reports behind ``stylescope trends`` / ``stylescope creators``, and plots.

Reports are dataclasses: the CLI prints them as tables, or as JSON through ``to_dict()``;
the app shows them. Everything here orchestrates the other modules of
:mod:`inference.trends`; no logic of its own beyond selecting and formatting.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from core.errors import BadInputError
from inference.catalog import Catalog, StyleGarment, StyleWord
from inference.trends.creators import (
    Adoption,
    Influence,
    Origin,
    Trendsetter,
    adoptions_by_style,
    influence,
    leaderboard,
    originators,
    trendsetters,
)
from inference.trends.forecast import Backtest, ShareForecast, forecast_shares
from inference.trends.glossary import STATES
from inference.trends.rising import StyleTrend, rising_styles
from inference.trends.series import (
    SeriesSet,
    TrendData,
    load_trend_data,
    period_start,
    style_series,
)
from inference.trends.settings import CreatorsConfig, ForecastConfig, TrendsConfig

SERIES = ("garments", "videos", "creators", "weighted", "share")  # the counts a style's series reports


def _plain(value: Any) -> Any:
    """JSON-ready data: a dataclass as its ``to_dict()`` or its fields in order, a date in ISO."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        own = getattr(value, "to_dict", None)
        return own() if own is not None else plain_fields(value)
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


def plain_fields(record: Any) -> dict[str, Any]:
    return {field.name: _plain(getattr(record, field.name)) for field in dataclasses.fields(record)}


# --------------------------------------------------------------------------------------
# trends
# --------------------------------------------------------------------------------------
@dataclasses.dataclass
class SeriesCounts:
    """One style's counts per reported period (see :class:`~inference.trends.series.StyleSeries`)."""

    garments: list[float]
    videos: list[float]
    creators: list[float]
    weighted: list[float]
    share: list[float]


@dataclasses.dataclass
class StyleReport:
    """One style in the trends report: what it is, how it is doing, where it is going."""

    id: int
    name: str
    kind: str | None
    garments: int  # garments in the style
    creators: int  # distinct creators ever seen wearing it
    words: list[StyleWord]  # vocabulary words that describe it, best first
    medoids: list[StyleGarment]  # its most typical garments
    state: str  # rising, emerging, peaked, new, steady or fading (inference.trends.glossary)
    has_risen: bool  # flagged rising on the as-of day or before (``takeoff`` says when)
    score: float
    growth: float
    recent_videos: int
    recent_creators: int
    recent_new_creators: int
    new_wearers: int  # first-time wearers in the last three weeks (glossary: new wearers)
    expected_new_wearers: float  # what the style's own past rate predicts there
    recent_share: float
    history_share: float
    takeoff: dt.date | None
    onset: dt.date | None
    fading_since: dt.date | None
    series: SeriesCounts
    forecast: ShareForecast | None  # next weeks' share (None: see ``forecast_note``)
    forecast_note: str | None = None  # why there is no forecast
    # slot -> facet -> value and evidence (share of garments agreeing, margin), or {"absent": true}
    # for a facet left out of the name; None: the style was named from vocabulary words
    facets: dict[str, Any] | None = None


TOO_LITTLE_HISTORY = "too little history to forecast"


@dataclasses.dataclass
class SkippedVideos:
    """Videos the report leaves out."""

    future_videos: int  # posted after the as-of day
    undated_videos: int  # without a usable posted_at


@dataclasses.dataclass
class TrendsReport:
    """Every style with its series, verdict and forecast (``stylescope trends``)."""

    as_of: dt.date
    first_day: dt.date | None
    posts: int  # dated posts up to the as-of day
    skipped: SkippedVideos
    period: str  # day or week
    periods: list[dt.date]  # first day of each reported period
    weight: str  # how a post counts in the series
    backtest: Backtest  # the forecasters' errors on hidden weeks, and the one chosen
    forecast_weeks: list[dt.date]  # the weeks forecast
    styles: list[StyleReport]  # rising first

    def state_counts(self) -> dict[str, int]:
        """Styles in each state, every state named (in the glossary's order)."""
        return {state: sum(s.state == state for s in self.styles) for state in STATES}

    def risen(self) -> int:
        """Styles that have risen (a take-off date), whatever their state now."""
        return sum(s.has_risen for s in self.styles)

    def to_dict(self) -> dict[str, Any]:
        """Plain data for ``--json``: the fields, then the state counts and the risen count."""
        return {**plain_fields(self), "states": self.state_counts(), "risen": self.risen()}


def load_report_data(catalog: Catalog, config: TrendsConfig, as_of: dt.date | None) -> TrendData:
    """Posts and style sightings as of a day; a clear error when there is nothing to report on."""
    return checked(load_trend_data(catalog, as_of, config.series.min_frames_per_video))


def checked(data: TrendData) -> TrendData:
    """``data``, or a clear error when there is nothing to report on."""
    if not data.styles:
        raise BadInputError("there are no styles yet: run `stylescope trends` (it clusters the garments first)")
    if not data.posts:
        raise BadInputError("no dated posts to report on (every video is undated or posted after the as-of day)")
    return data


def medoids(catalog: Catalog, style_id: int, count: int = 4) -> list[StyleGarment]:
    """The garments nearest a style's centroid (its most typical crops), distances rounded."""
    return [dataclasses.replace(g, distance=round(float(g.distance), 4))
            for g in catalog.nearest_garments(style_id, count)]


@dataclasses.dataclass
class Judgement:
    """Every unit of one :class:`TrendData` judged as of a day: verdicts, series, forecasts.

    A unit is a style, or an attribute followed as a trend (:mod:`inference.trends.attributes`);
    its id is the ``style_id`` of its sightings.
    """

    end: dt.date  # the as-of day
    trends: list[StyleTrend]  # rising first
    shown: SeriesSet  # the reported series
    keep: slice  # the reported periods
    forecasts: dict[int, ShareForecast]
    backtest: Backtest
    creators: dict[int, set[str]]  # unit id -> creators ever seen wearing it

    def report_fields(self, data: TrendData, config: TrendsConfig, forecast_config: ForecastConfig) -> dict[str, Any]:
        """The fields of a :class:`TrendsReport` other than its units."""
        return dict(as_of=self.end, first_day=data.first_day, posts=len(data.posts),
                    skipped=SkippedVideos(data.future_videos, data.undated_videos), period=self.shown.period,
                    periods=self.shown.periods[self.keep], weight=config.series.weight, backtest=self.backtest,
                    forecast_weeks=[period_start(self.end, "week") + dt.timedelta(weeks=i + 1)
                                    for i in range(forecast_config.horizon_weeks)])

    def unit_fields(self, trend: StyleTrend) -> dict[str, Any]:
        """The fields a :class:`StyleReport` takes from one unit's verdict, series and forecast."""
        unit = trend.style_id
        series = self.shown.styles.get(unit)
        zeros = np.zeros(len(self.shown.periods))
        counts = {name: (getattr(series, name) if series else zeros)[self.keep].round(6).tolist() for name in SERIES}
        return dict(
            creators=len(self.creators.get(unit, ())),
            state=trend.state,
            has_risen=trend.has_risen,
            score=trend.score,
            growth=trend.growth,
            recent_videos=trend.recent_videos,
            recent_creators=trend.recent_creators,
            recent_new_creators=trend.recent_new_creators,
            new_wearers=trend.new_wearers,
            expected_new_wearers=trend.expected_new_wearers,
            recent_share=round(trend.recent_share, 6),
            history_share=round(trend.history_share, 6),
            takeoff=trend.takeoff,
            onset=trend.onset,
            fading_since=trend.fading_since,
            series=SeriesCounts(**counts),
            forecast=self.forecasts.get(unit),
            forecast_note=None if unit in self.forecasts else TOO_LITTLE_HISTORY,
        )


def judge(data: TrendData, config: TrendsConfig, forecast_config: ForecastConfig, as_of: dt.date | None,
          weeks: int | None) -> Judgement:
    """Rising / fading verdicts, the series of the last ``weeks`` weeks, and next weeks' share forecasts."""
    end = min(as_of, data.last_day) if as_of and data.last_day else data.last_day
    assert end is not None
    shown = style_series(data, config.series, end=end)
    weekly = style_series(data, dataclasses.replace(config.series, period="week"), end=end)
    forecasts, backtest = forecast_shares({unit: s.share for unit, s in weekly.styles.items()}, forecast_config)
    creators: dict[int, set[str]] = defaultdict(set)
    for s in data.sightings:
        creators[s.style_id].add(s.creator)
    return Judgement(end, rising_styles(data, config.rising, as_of=end), shown,
                     _tail(len(shown.periods), weeks, shown.period), forecasts, backtest, creators)


def trends_report(
    catalog: Catalog,
    config: TrendsConfig,
    forecast_config: ForecastConfig,
    as_of: dt.date | None = None,
    weeks: int | None = None,
    kind: str | None = None,
) -> TrendsReport:
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
    data = load_report_data(catalog, config, as_of)
    return styles_report(data, config, forecast_config, as_of, weeks, kind, lambda style_id: medoids(catalog, style_id))


def styles_report(data: TrendData, config: TrendsConfig, forecast_config: ForecastConfig, as_of: dt.date | None,
                  weeks: int | None, kind: str | None,
                  medoids_of: Callable[[int], list[StyleGarment]]) -> TrendsReport:
    """:func:`trends_report` of loaded data (from the catalog, or from Parquet tables on Ray);
    ``medoids_of`` gives a style's most typical garments."""
    judged = judge(data, config, forecast_config, as_of, weeks)
    styles = []
    for trend in judged.trends:
        style = data.styles.get(trend.style_id)
        if style is None or (kind and style.kind != kind):
            continue
        styles.append(StyleReport(id=style.id, name=style.name, kind=style.kind, garments=style.size, words=style.words,
                                  facets=style.facets, medoids=medoids_of(style.id), **judged.unit_fields(trend)))
    return TrendsReport(**judged.report_fields(data, config, forecast_config), styles=styles)


def _tail(length: int, weeks: int | None, period: str) -> slice:
    if not weeks:
        return slice(0, length)
    keep = weeks if period == "week" else weeks * 7
    return slice(max(0, length - keep), length)


def plot_rising(report: TrendsReport, plot_dir: str | Path, top: int = 6, unit: str = "style") -> list[Path]:
    """PNG curves (share per period, plus the forecast and its interval) of the top rising styles
    (or other units: ``unit`` is "colour", "pattern" ...).

    Writes one ``<unit>_<id>.png`` per style and ``rising.png`` with all of them; returns the paths.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plot_dir = Path(plot_dir)
    plot_dir.mkdir(parents=True, exist_ok=True)
    chosen = [s for s in report.styles if s.state == "rising"][:top] or report.styles[:top]
    paths = []
    overview, axis = plt.subplots(figsize=(9, 5))
    for style in chosen:
        figure, own = plt.subplots(figsize=(7, 4))
        for ax in (own, axis):
            _draw_style(ax, style, report.periods, report.forecast_weeks, report.period == "week")
        own.set_title(f"{unit} {style.id}: {style.name} ({style.state}, score {style.score:.1f})")
        own.set_ylabel("share of posts")
        own.legend(loc="upper left", fontsize=8)
        figure.autofmt_xdate()
        path = plot_dir / f"{unit.replace(' ', '_')}_{style.id}.png"
        figure.savefig(path, dpi=100, bbox_inches="tight")
        plt.close(figure)
        paths.append(path)
    axis.set_title(f"top rising {unit}s as of {report.as_of}")
    axis.set_ylabel("share of posts")
    axis.legend(loc="upper left", fontsize=7)
    overview.autofmt_xdate()
    overview_path = plot_dir / "rising.png"
    overview.savefig(overview_path, dpi=100, bbox_inches="tight")
    plt.close(overview)
    return [overview_path, *paths]


def _draw_style(ax: Any, style: StyleReport, periods: list[dt.date], ahead: list[dt.date], weekly: bool) -> None:
    (line,) = ax.plot(periods, style.series.share, marker="o", markersize=3, label=f"{style.id} {style.name}")
    forecast = style.forecast
    if forecast and weekly and periods:
        xs = [periods[-1], *ahead]
        ax.plot(xs, [style.series.share[-1], *forecast.share], linestyle="--", color=line.get_color())
        ax.fill_between(ahead, forecast.low, forecast.high, color=line.get_color(), alpha=0.15)
    if style.takeoff:
        ax.axvline(style.takeoff, color=line.get_color(), linestyle=":", linewidth=1)


# --------------------------------------------------------------------------------------
# creators
# --------------------------------------------------------------------------------------
@dataclasses.dataclass
class Adopter:
    """An adopter of one style, and how many days after its originator."""

    adoption: Adoption
    days_after: int

    def to_dict(self) -> dict[str, Any]:
        """Plain data for ``--json``: the adoption's fields, then ``days_after``."""
        return {**self.adoption.to_dict(), "days_after": self.days_after}


@dataclasses.dataclass
class NamedOrigin:
    """Who started a style, with the style's name."""

    origin: Origin
    style_name: str

    def to_dict(self) -> dict[str, Any]:
        """Plain data for ``--json``: the origin's fields, then ``style_name``."""
        return {**self.origin.to_dict(), "style_name": self.style_name}


@dataclasses.dataclass
class StyleAdopters:
    """One style's originator with the evidence, and every adopter in order."""

    id: int
    name: str
    origin: Origin | None  # None: no sighting yet
    adopters: list[Adopter]
    facets: dict[str, Any] | None = None  # the style's facet evidence (see StyleReport.facets)


@dataclasses.dataclass
class CreatorsReport:
    """The trendsetter leaderboard, with the originators and influence, or one style's adopters."""

    as_of: dt.date
    tier: str | None  # the leaderboard's follower tier (None: all)
    risen_styles: list[int]  # styles that rose: the leaderboard is scored on them
    leaderboard: list[Trendsetter]
    ranked_creators: int  # creators on the whole board (before the tier and ``top``)
    style: StyleAdopters | None = None  # with a style id: that style only, and no originators / influence
    originators: list[NamedOrigin] = dataclasses.field(default_factory=list)  # by style id
    influence: list[Influence] = dataclasses.field(default_factory=list)  # strongest first

    def to_dict(self) -> dict[str, Any]:
        """Plain data for ``--json``."""
        out = {key: _plain(getattr(self, key)) for key in ("as_of", "tier", "risen_styles", "leaderboard",
                                                            "ranked_creators")}
        if self.style is not None:
            out["style"] = _plain(self.style)
        else:
            out["originators"] = _plain(self.originators)
            out["influence"] = _plain(self.influence)
        return out


def creators_report(
    catalog: Catalog,
    config: TrendsConfig,
    creators_config: CreatorsConfig,
    as_of: dt.date | None = None,
    tier: str | None = None,
    top: int | None = 20,
    style_id: int | None = None,
) -> CreatorsReport:
    """Originators with evidence, influence between creators, and the trendsetter leaderboard.

    With ``style_id``, the report is about that style: its originator, runners-up and every
    adopter in order.
    """
    data = load_report_data(catalog, config, as_of)
    return creators_of(data, config, creators_config, as_of, tier, top, style_id)


def creators_of(data: TrendData, config: TrendsConfig, creators_config: CreatorsConfig, as_of: dt.date | None = None,
                tier: str | None = None, top: int | None = 20, style_id: int | None = None) -> CreatorsReport:
    """:func:`creators_report` of loaded data (from the catalog, or from Parquet tables on Ray)."""
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
    report = CreatorsReport(
        as_of=as_of or data.last_day or dt.date.today(),
        tier=tier,
        risen_styles=sorted(t.style_id for t in trends if t.takeoff),
        leaderboard=rows,
        ranked_creators=len(board),
    )
    names = {sid: s.name for sid, s in data.styles.items()}
    if style_id is not None:
        report.style = _style_adopters(style_id, names[style_id], origins.get(style_id), adoptions.get(style_id, []))
        report.style.facets = data.styles[style_id].facets
        return report
    report.originators = [NamedOrigin(o, names.get(sid, "")) for sid, o in sorted(origins.items())]
    report.influence = influence(adoptions, creators_config)[: top or None]
    return report


def _style_adopters(style_id: int, name: str, origin: Origin | None, adopters: Sequence[Adoption]) -> StyleAdopters:
    if origin is None:
        return StyleAdopters(style_id, name, None, [])
    first = origin.originator.day
    return StyleAdopters(style_id, name, origin, [Adopter(a, (a.day - first).days) for a in adopters])


@dataclasses.dataclass
class CreatorStyle:
    """A style one creator wore: their adoption, and their rank among its adopters."""

    style_name: str
    adoption: Adoption
    rank: int  # 1: the first adopter
    adopters: int  # adopters of the style


@dataclasses.dataclass
class CreatorPage:
    """One creator: standing on the trendsetter board, and the styles they started and adopted."""

    creator: str
    followers: int
    videos: int  # done videos in the catalog
    trendsetter: Trendsetter | None  # None: adopted no style that rose
    started: list[CreatorStyle]
    adopted: list[CreatorStyle]


def creator_styles(data: TrendData, adoptions: Mapping[int, Sequence[Adoption]], origins: Mapping[int, Origin],
                   handle: str) -> tuple[list[CreatorStyle], list[CreatorStyle]]:
    """The styles ``handle`` started, and those they adopted after someone else, by style id."""
    names = {sid: s.name for sid, s in data.styles.items()}
    started, adopted = [], []
    for style_id, chain in sorted(adoptions.items()):
        for rank, adoption in enumerate(chain):
            if adoption.creator != handle:
                continue
            entry = CreatorStyle(names.get(style_id, ""), adoption, rank + 1, len(chain))
            origin = origins.get(style_id)
            if origin is not None and origin.originator.creator == handle:
                started.append(entry)
            else:
                adopted.append(entry)
    return started, adopted
