"""Styles over time: sightings, posts, and per-period series.

A style is counted in *sightings* (one per video that shows it); with the posts (every
dated video, the denominator of every share) they give the per-day / per-week series:
garments, videos, distinct creators, optionally weighted by followers, and the share of all
posts.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import math
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence

import numpy as np

from inference.catalog import Catalog, PostRecord, StyledGarment
from inference.trends.identity import Style, load_styles, read_state
from inference.trends.settings import SeriesConfig

logger = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class Sighting:
    """One style seen in one video: what the series, the rising score and originators count."""

    style_id: int
    video_id: int
    creator: str
    followers: int
    day: dt.date  # the video's posted_at
    garments: int  # garments of the style in the video
    frames: int  # distinct frames showing the style
    video_frames: int  # distinct frames of the video where a person was found (styled or noise)
    distance: float  # median distance of those garments to the style's centroid
    garment_id: int  # the garment nearest the centroid (the evidence)
    t_s: float  # its moment in the video
    crop_path: str  # its crop, relative to the data directory
    near_frames: int = 0  # of ``frames``, those the clustering left without a style, near this one


@dataclasses.dataclass(frozen=True)
class Post:
    """One video: the denominator of every share."""

    video_id: int
    creator: str
    followers: int
    day: dt.date


@dataclasses.dataclass
class TrendData:
    """Everything the reports are computed from, loaded once from the catalog."""

    sightings: list[Sighting]
    posts: list[Post]
    styles: dict[int, Style]
    future_videos: int = 0  # videos skipped because posted_at is after ``as_of``
    undated_videos: int = 0  # videos skipped because they have no posted_at
    # garments the last full clustering left without a style, seen in the style they lie
    # nearest: not counted in any series, only where originators look for first wearers
    near_sightings: list[Sighting] = dataclasses.field(default_factory=list)

    @property
    def first_day(self) -> dt.date | None:
        return min((p.day for p in self.posts), default=None)

    @property
    def last_day(self) -> dt.date | None:
        return max((p.day for p in self.posts), default=None)


def parse_day(value: str | None) -> dt.date | None:
    """The date an ISO timestamp or date starts with; None when it has none."""
    if not value:
        return None
    try:
        return dt.date.fromisoformat(value[:10])
    except ValueError:
        return None


def load_trend_data(catalog: Catalog, as_of: dt.date | None = None, min_frames: int = 1) -> TrendData:
    """Posts and style sightings from the catalog, as of a day.

    Videos posted after ``as_of`` (default today) are left out and counted: a post from
    the future is a data error, not an early trend.
    """
    as_of = as_of or dt.date.today()
    posts, future, undated = dated_posts(catalog.posts(), as_of)
    frames = video_frames(catalog)
    sightings = _sightings(catalog.styled_garments(), posts, frames, min_frames)
    near = _sightings(catalog.near_garments(), posts, frames, min_frames)
    styles = {s.id: s for s in load_styles(catalog)}
    return TrendData(sightings, sorted(posts.values(), key=lambda p: (p.day, p.video_id)), styles, future, undated,
                     near)


def dated_posts(records: Iterable[PostRecord], as_of: dt.date) -> tuple[dict[int, Post], int, int]:
    """The posts of ``records`` dated on or before ``as_of`` by video id, and how many were
    posted after it and how many have no usable date (both logged: data errors, not trends)."""
    posts: dict[int, Post] = {}
    future = undated = 0
    for record in records:
        day = parse_day(record.posted_at)
        if day is None:
            undated += 1
        elif day > as_of:
            future += 1
        else:
            posts[record.video_id] = Post(record.video_id, record.creator, record.followers, day)
    if future:
        logger.warning("%d videos are posted after %s (in the future): left out of trends", future, as_of)
    if undated:
        logger.warning("%d videos have no usable posted_at date: left out of trends", undated)
    return posts, future, undated


def _sightings(garments: Iterable[StyledGarment], posts: dict[int, Post], frames_of_video: Mapping[int, int],
               min_frames: int) -> list[Sighting]:
    groups: dict[tuple[int, int], list[StyledGarment]] = defaultdict(list)
    for garment in garments:
        if garment.video_id in posts:
            groups[(garment.style_id, garment.video_id)].append(garment)
    return unit_sightings(groups, posts, frames_of_video, min_frames)


def video_frames(catalog: Catalog) -> dict[int, int]:
    """Video id -> frames where a person was found, styled or left out as noise (the localisers
    the last clustering skipped are not counted)."""
    return catalog.person_frames(read_state(catalog).get("skip_methods", []))


def unit_sightings(groups: Mapping[tuple[int, int], Sequence[StyledGarment]], posts: Mapping[int, Post],
                   frames_of_video: Mapping[int, int], min_frames: int) -> list[Sighting]:
    """One sighting per (unit, video) group of garments showing it in at least ``min_frames`` frames.

    A unit is a style, or any other set of garments followed as a trend (an attribute: a
    colour, a pattern); its id goes in ``Sighting.style_id``. The garments of a group are
    ordered by distance to their style's centroid, the nearest first (the evidence).
    """
    sightings = []
    for (unit_id, video_id), garments in groups.items():
        frames = len({g.frame_id for g in garments})
        if frames < min_frames:
            continue
        post, best = posts[video_id], garments[0]
        sightings.append(
            Sighting(unit_id, video_id, post.creator, post.followers, post.day, len(garments), frames,
                     max(frames, frames_of_video.get(video_id, 0)), float(np.median([g.distance for g in garments])),
                     best.garment_id, float(best.t_s), best.crop_path)
        )
    sightings.sort(key=lambda s: (s.day, s.video_id, s.style_id))
    return sightings


def post_weight(followers: int, weight: str) -> float:
    """How much one post counts: 1, its follower count, or log10(1 + followers)."""
    if weight == "followers":
        return float(followers)
    if weight == "log_followers":
        return math.log10(1.0 + followers)
    return 1.0


def period_start(day: dt.date, period: str) -> dt.date:
    """First day of the period (day, or Monday-started week) holding ``day``."""
    return day - dt.timedelta(days=day.weekday()) if period == "week" else day


@dataclasses.dataclass
class StyleSeries:
    """Counts per period for one style."""

    garments: np.ndarray  # garments of the style
    videos: np.ndarray  # videos showing it
    creators: np.ndarray  # distinct creators showing it
    weighted: np.ndarray  # videos weighted by the series weight
    share: np.ndarray  # weighted videos / weighted posts of the period (0 where no posts)


@dataclasses.dataclass
class SeriesSet:
    """Per-style series over common periods."""

    period: str
    periods: list[dt.date]  # first day of each period
    posts: np.ndarray  # all posts per period (weighted)
    styles: dict[int, StyleSeries]


def style_series(data: TrendData, config: SeriesConfig, start: dt.date | None = None,
                 end: dt.date | None = None) -> SeriesSet:
    """Per-period counts for every style over ``[start, end]`` (default: all data)."""
    start = start or data.first_day
    end = end or data.last_day
    if start is None or end is None:
        return SeriesSet(config.period, [], np.zeros(0), {})
    first, last = period_start(start, config.period), period_start(end, config.period)
    step = 7 if config.period == "week" else 1
    periods = [first + dt.timedelta(days=d) for d in range(0, (last - first).days + 1, step)]
    slot = {p: i for i, p in enumerate(periods)}
    posts = np.zeros(len(periods))
    for post in data.posts:
        if start <= post.day <= end:
            posts[slot[period_start(post.day, config.period)]] += post_weight(post.followers, config.weight)
    series: dict[int, StyleSeries] = {}
    creators: dict[tuple[int, int], set[str]] = defaultdict(set)
    for s in data.sightings:
        if not start <= s.day <= end:
            continue
        if s.style_id not in series:
            series[s.style_id] = StyleSeries(*(np.zeros(len(periods)) for _ in range(5)))
        i = slot[period_start(s.day, config.period)]
        entry = series[s.style_id]
        entry.garments[i] += s.garments
        entry.videos[i] += 1
        entry.weighted[i] += post_weight(s.followers, config.weight)
        creators[(s.style_id, i)].add(s.creator)
    for (style_id, i), names in creators.items():
        series[style_id].creators[i] = len(names)
    for entry in series.values():
        entry.share = np.divide(entry.weighted, posts, out=np.zeros_like(posts), where=posts > 0)
    return SeriesSet(config.period, periods, posts, series)
