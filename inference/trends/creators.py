"""Who started each style, who followed, who influences whom, and who sets trends.

- *Adoption*: a creator's first **confident** sighting of a style: a video whose garments
  of the style sit close to its centroid (median distance within ``distance_mads``
  robust deviations of the style's typical distance) and that shows it in ``min_frames``
  frames, or in at least ``min_frame_share`` of its frames, or is backed by the creator
  wearing it again in a later video. A video beyond the distance limit still counts when
  the same creator wears the style, close to its centroid, in another video
  (``far_worn_again``): a creator's first video of a look is often shot before it settled.
  A single stray frame that happens to fall in a style early on, while the rest of its
  video shows something else, is therefore not an adoption. The share matters because the
  sampler keeps one frame of a steady shot: a short video of one outfit often keeps one or
  two frames, and one frame that is the whole video is not a stray; but a video whose
  frames show another style as often is no evidence for either by that share (one frame in
  each of two styles).
- *Near garments*: the first video of a new look is often left out of its style: shot
  before the look settled, it lands just beyond the style's noise limit (or only some of
  its frames make it in). Garments a full clustering left without a style but near the
  style they lie nearest (``cluster.near_mads``) count for that style: they join the
  video's sighting of the style, or make one of their own. Such a near-only sighting
  is an adoption only when the look fills at least ``min_frame_share`` of the video's
  frames, or the creator wears the style again; a stray frame of some other video never
  is, nor a near frame in a video whose frames show another style as often (that video is
  the other style's, even from a creator who takes up this one later). Near garments count only here, for who wore a style first and who followed: never
  in a style's size, series or rising score.
- *Originator*: the earliest adopter (by ``posted_at``; ties broken by more frames, then
  nearer the centroid), with the evidence (video, moment, crop, date) and the runners-up.
- *Influence* A -> B: B adopted a style within ``influence_days`` after A more often than
  chance. Chance is, per style, the share of ordered adopter pairs that fall within the
  window (so it accounts for how bunched each style's adoptions are); the observed count
  is tested against that Poisson expectation, Benjamini-Hochberg corrected.
- *Trendsetter score*: over styles that later rose, the sum of the creator's reciprocal
  adoption ranks (1 for the first adopter, 1/2 for the second, 1/(r+1) for the r-th after
  the first; adopters on the same day share the mean of their ranks). Earliness is thus
  measured against each style's own adoption curve and concentrated on its first
  adopters, where a style's start is decided; later adopters, of whom a rising style has
  many, add little. It is a sum, not a mean, so it is shrunk towards 0 by construction:
  one lucky early adoption (at most 1) ranks below being early on several styles. It
  carries the number of styles it rests on.
"""

from __future__ import annotations

import bisect
import dataclasses
import datetime as dt
import logging
from collections import defaultdict
from collections.abc import Collection, Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from inference.trends.rising import StyleTrend
from inference.trends.series import Sighting, TrendData
from inference.trends.settings import CreatorsConfig
from inference.types import follower_tier, tier_bounds

logger = logging.getLogger(__name__)


# --------------------------------------------------------------------------------------
# adoptions and originators
# --------------------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class Adoption:
    """A creator's first confident sighting of a style, with its evidence."""

    style_id: int
    creator: str
    followers: int
    day: dt.date  # posted_at of the video
    video_id: int
    t_s: float  # moment in the video
    garment_id: int
    crop_path: str  # relative to the data directory
    frames: int  # frames of the video showing the style
    distance: float  # median distance to the style's centroid
    confident: bool  # False when the style had no confident sighting at all (fallback)
    near_frames: int = 0  # of ``frames``, those left without a style but near it (see the module docstring)

    @property
    def tier(self) -> str:
        return follower_tier(self.followers)

    def to_dict(self) -> dict[str, Any]:
        """Plain data for ``--json``: the fields, the day in ISO, and the follower tier."""
        record = dataclasses.asdict(self)
        record["day"] = self.day.isoformat()
        record["tier"] = self.tier
        return record


def _confident(sightings: Sequence[Sighting], config: CreatorsConfig,
               contested: Collection[tuple[int, int]] = ()) -> list[bool]:
    """Which sightings of one style count as adoptions (see the module docstring)."""
    near_only = [s.near_frames >= s.frames for s in sightings]
    distances = np.asarray([s.distance for s, near in zip(sightings, near_only, strict=True) if not near])
    if len(distances):
        median = float(np.median(distances))
        limit = median + config.distance_mads * 1.4826 * float(np.median(np.abs(distances - median))) + 1e-6
    else:
        limit = np.inf
    # near-only sightings are already within the style's near limit (cluster.near_mads)
    close = [near or s.distance <= limit for s, near in zip(sightings, near_only, strict=True)]
    videos_by_creator: dict[str, set[int]] = defaultdict(set)
    for s, ok in zip(sightings, close, strict=True):
        if ok:
            videos_by_creator[s.creator].add(s.video_id)
    confident = []
    for s, ok, near in zip(sightings, close, near_only, strict=True):
        if near and (s.style_id, s.video_id) in contested:  # the video shows another style: no wearing of this one
            confident.append(False)
            continue
        worn_again = bool(videos_by_creator[s.creator] - {s.video_id})  # close by, in another video
        confident.append((ok and (
            (s.frames >= config.min_frame_share * s.video_frames and (s.style_id, s.video_id) not in contested)
            or (s.frames >= config.min_frames and not near)
            or worn_again
        )) or (config.far_worn_again and worn_again))
    return confident


def contested_videos(sightings: Iterable[Sighting],
                     rivals: Mapping[int, Collection[int]] | None = None) -> set[tuple[int, int]]:
    """(style, video) pairs where a rival style shows in as many of the video's frames: such a
    video is no evidence for either style by its share of frames alone (one frame in each of
    two styles is half the video for both). ``rivals``: style -> the styles it competes with
    (default: every other; attribute units of a top and of a bottom do not compete)."""
    frames: dict[int, dict[int, int]] = defaultdict(dict)
    for s in sightings:
        frames[s.video_id][s.style_id] = s.frames
    return {(style_id, video_id) for video_id, shown in frames.items() for style_id, n in shown.items()
            if any(other != style_id and m >= n and (rivals is None or other in rivals.get(style_id, ()))
                   for other, m in shown.items())}


def with_near(data: TrendData, config: CreatorsConfig) -> list[Sighting]:
    """The style sightings, each joined by its video's garments left near its style, and the
    near-only sightings, earliest first (see the module docstring)."""
    if not config.near_garments or not data.near_sightings:
        return list(data.sightings)
    near = {(s.style_id, s.video_id): s for s in data.near_sightings}
    joined = []
    for s in data.sightings:
        extra = near.pop((s.style_id, s.video_id), None)
        if extra is not None:
            s = dataclasses.replace(s, garments=s.garments + extra.garments,
                                    frames=min(s.frames + extra.frames, s.video_frames), near_frames=extra.frames)
        joined.append(s)
    joined += [dataclasses.replace(s, near_frames=s.frames) for s in near.values()]
    joined.sort(key=lambda s: (s.day, s.video_id, s.style_id))
    return joined


def style_adoptions(sightings: Sequence[Sighting], config: CreatorsConfig,
                    contested: Collection[tuple[int, int]] = ()) -> list[Adoption]:
    """Adopters of one style, earliest first (ties: more frames, nearer the centroid, handle).
    ``contested``: (style, video) pairs :func:`contested_videos` found."""
    if not sightings:
        return []
    confident = _confident(sightings, config, contested)
    fallback = not any(confident)
    if fallback:
        logger.debug("style %d has no confident sighting; using every sighting", sightings[0].style_id)
    first: dict[str, Adoption] = {}
    order = sorted(range(len(sightings)), key=lambda i: _rank_key(sightings[i]))
    for i in order:
        s = sightings[i]
        # without a confident sighting, every sighting in the style counts (garments near it do not)
        if (confident[i] or (fallback and s.near_frames < s.frames)) and s.creator not in first:
            first[s.creator] = Adoption(
                s.style_id, s.creator, s.followers, s.day, s.video_id, s.t_s, s.garment_id,
                s.crop_path, s.frames, s.distance, not fallback, s.near_frames,
            )
    return sorted(first.values(), key=_rank_key)


def _rank_key(s: Sighting | Adoption) -> tuple[Any, ...]:
    return (s.day, -s.frames, s.distance, s.creator, s.video_id)


def adoptions_by_style(data: TrendData, config: CreatorsConfig,
                       rivals: Mapping[int, Collection[int]] | None = None) -> dict[int, list[Adoption]]:
    """Adopters of every style, earliest first (garments left near a style included: :func:`with_near`);
    ``rivals`` as :func:`contested_videos`."""
    grouped: dict[int, list[Sighting]] = defaultdict(list)
    sightings = with_near(data, config)
    for s in sightings:
        grouped[s.style_id].append(s)
    contested = contested_videos(sightings, rivals)
    return {style_id: style_adoptions(group, config, contested) for style_id, group in sorted(grouped.items())}


@dataclasses.dataclass
class Origin:
    """Who started a style, with the evidence and the runners-up."""

    style_id: int
    originator: Adoption
    runners_up: list[Adoption]
    tied_with: list[str]  # other creators who adopted on the same first day
    adopters: int  # distinct creators who adopted the style
    lead_days: int  # days between the originator and the first runner-up (0 without one)
    strays_skipped: int  # earlier sightings not counted (one stray frame, far from the centroid)

    def to_dict(self) -> dict[str, Any]:
        """Plain data for ``--json``."""
        return {
            "style_id": self.style_id,
            "originator": self.originator.to_dict(),
            "runners_up": [a.to_dict() for a in self.runners_up],
            "tied_with": self.tied_with,
            "adopters": self.adopters,
            "lead_days": self.lead_days,
            "strays_skipped": self.strays_skipped,
        }


def originators(data: TrendData, config: CreatorsConfig,
                adoptions: Mapping[int, list[Adoption]] | None = None) -> dict[int, Origin]:
    """The originator of every style that has a sighting."""
    adoptions = adoptions if adoptions is not None else adoptions_by_style(data, config)
    days_by_style: dict[int, list[dt.date]] = defaultdict(list)
    for s in data.sightings:  # sorted by day
        days_by_style[s.style_id].append(s.day)
    origins = {}
    for style_id, adopters in adoptions.items():
        if not adopters:
            continue
        lead = adopters[0]
        runners = adopters[1 : 1 + config.runners_up]
        origins[style_id] = Origin(
            style_id, lead, runners, [a.creator for a in adopters[1:] if a.day == lead.day],
            len(adopters), (runners[0].day - lead.day).days if runners else 0,
            bisect.bisect_left(days_by_style[style_id], lead.day),
        )
    return origins


# --------------------------------------------------------------------------------------
# influence
# --------------------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class Influence:
    """A -> B: B adopted styles shortly after A more often than chance."""

    source: str
    target: str
    observed: int  # styles B adopted within the window after A
    expected: float  # what chance gives, from each style's own adoption timing
    lift: float  # observed / expected
    p_value: float  # Poisson upper tail, before the FDR correction
    styles: list[int]  # the styles it rests on


def influence(adoptions: Mapping[int, Sequence[Adoption]], config: CreatorsConfig) -> list[Influence]:
    """Creator pairs where one follows the other more often than chance (strongest first)."""
    # pdtrc is the Poisson tail scipy.stats.poisson.sf computes, without scipy.stats' 2 s import
    from scipy.special import pdtrc

    adoptions = merge_co_worn(adoptions)
    counts: dict[str, int] = defaultdict(int)
    for adopters in adoptions.values():
        for a in adopters:
            counts[a.creator] += 1
    creators = sorted(c for c, n in counts.items() if n >= config.influence_min_styles)
    if len(creators) < 2:
        return []
    index = {c: i for i, c in enumerate(creators)}
    observed = np.zeros((len(creators), len(creators)), np.int32)
    expected = np.zeros((len(creators), len(creators)))
    for adopters in adoptions.values():
        _add_style(adopters, index, config.influence_days, observed, expected)
    sources, targets = np.nonzero(observed >= config.influence_min_styles)
    if len(sources) == 0:
        return []
    obs = observed[sources, targets]
    exp = np.maximum(expected[sources, targets], 1e-9)
    p = pdtrc(obs - 1, exp)  # P(X >= obs)
    keep = _benjamini_hochberg(p, config.influence_max_p) & (obs / exp >= config.influence_min_lift)
    edges = []
    for s, t, o, e, pv in zip(sources[keep], targets[keep], obs[keep], exp[keep], p[keep], strict=True):
        styles = _shared_styles(adoptions, creators[s], creators[t], config.influence_days)
        edges.append(Influence(creators[s], creators[t], int(o), round(float(e), 4), round(float(o / e), 3),
                               float(pv), styles))
    edges.sort(key=lambda edge: (edge.p_value, -edge.lift))
    return edges


def merge_co_worn(adoptions: Mapping[int, Sequence[Adoption]], min_overlap: float = 0.5) -> dict[int, list[Adoption]]:
    """Merge styles adopted in the same videos (the top and bottom of one outfit) into one.

    With styles per garment kind, one outfit is several styles adopted together; counting
    them separately would count one follow-up several times. Styles whose adoption videos
    overlap by ``min_overlap`` (Jaccard) or more are merged (union-find); the merged style
    keeps the lowest id and each creator's earliest adoption.
    """
    ids = sorted(adoptions)
    videos = {sid: {a.video_id for a in adoptions[sid]} for sid in ids}
    parent = {sid: sid for sid in ids}

    def root(sid: int) -> int:
        while parent[sid] != sid:
            parent[sid] = parent[parent[sid]]
            sid = parent[sid]
        return sid

    by_video: dict[int, set[int]] = defaultdict(set)
    for sid in ids:
        for video in videos[sid]:
            by_video[video].add(sid)
    pairs = {(a, b) for styles in by_video.values() for a in styles for b in styles if a < b}
    for first, second in sorted(pairs):
        if len(videos[first] & videos[second]) / len(videos[first] | videos[second]) >= min_overlap:
            parent[root(second)] = root(first)
    merged: dict[int, dict[str, Adoption]] = defaultdict(dict)
    for sid in ids:
        group = merged[root(sid)]
        for a in adoptions[sid]:
            if a.creator not in group or _rank_key(a) < _rank_key(group[a.creator]):
                group[a.creator] = a
    return {sid: sorted(group.values(), key=_rank_key) for sid, group in merged.items()}


def _add_style(adopters: Sequence[Adoption], index: Mapping[str, int], window: int,
               observed: np.ndarray, expected: np.ndarray) -> None:
    """Add one style's follow-ups within the window, and its chance rate, to the matrices."""
    days = np.asarray([a.day.toordinal() for a in adopters])
    if len(days) < 2:
        return
    gap = days[None, :] - days[:, None]
    follows = (gap > 0) & (gap <= window)
    chance = follows.sum() / (len(days) * (len(days) - 1))
    rows = [i for i, a in enumerate(adopters) if a.creator in index]
    if len(rows) < 2:
        return
    ids = np.asarray([index[adopters[i].creator] for i in rows])
    observed[np.ix_(ids, ids)] += follows[np.ix_(rows, rows)]
    block = np.full((len(ids), len(ids)), chance)
    np.fill_diagonal(block, 0.0)
    expected[np.ix_(ids, ids)] += block


def _benjamini_hochberg(p_values: np.ndarray, rate: float) -> np.ndarray:
    order = np.argsort(p_values)
    thresholds = rate * np.arange(1, len(p_values) + 1) / len(p_values)
    passed = p_values[order] <= thresholds
    keep = np.zeros(len(p_values), bool)
    if passed.any():
        keep[order[: int(np.max(np.flatnonzero(passed))) + 1]] = True
    return keep


def _shared_styles(adoptions: Mapping[int, Sequence[Adoption]], source: str, target: str, window: int) -> list[int]:
    styles = []
    for style_id, adopters in adoptions.items():
        days = {a.creator: a.day for a in adopters}
        if source in days and target in days and 0 < (days[target] - days[source]).days <= window:
            styles.append(style_id)
    return styles


# --------------------------------------------------------------------------------------
# trendsetters
# --------------------------------------------------------------------------------------
@dataclasses.dataclass
class Trendsetter:
    """One creator on the leaderboard."""

    creator: str
    followers: int
    tier: str
    score: float  # sum of reciprocal adoption ranks over risen styles (1 per style at most)
    styles: int  # risen styles the score rests on
    originated: int  # of those, styles the creator was first to wear (alone or tied)
    days_before_takeoff: float  # median days between their adoption and the style's take-off
    examples: list[int]  # risen styles they adopted earliest in, best first


def reciprocal_ranks(adopters: Sequence[Adoption]) -> list[float]:
    """1 / (1 + rank) of each adopter (earliest first); adopters on one day share their mean."""
    credits = [0.0] * len(adopters)
    start = 0
    while start < len(adopters):
        end = start
        while end < len(adopters) and adopters[end].day == adopters[start].day:
            end += 1
        shared = float(np.mean([1.0 / (1 + rank) for rank in range(start, end)]))
        credits[start:end] = [shared] * (end - start)
        start = end
    return credits


def trendsetters(adoptions: Mapping[int, Sequence[Adoption]], trends: Sequence[StyleTrend],
                 config: CreatorsConfig) -> list[Trendsetter]:
    """Trendsetter score of every creator who adopted a style that later rose, best first.

    The score is the sum, over risen styles, of the creator's reciprocal adoption rank
    (see the module docstring).
    """
    takeoffs = {t.style_id: t.takeoff for t in trends if t.takeoff is not None}
    entries_of: dict[str, list[tuple[float, int, int, bool]]] = defaultdict(list)
    followers: dict[str, int] = {}
    for style_id, takeoff in takeoffs.items():
        adopters = adoptions.get(style_id, [])
        for a, credit in zip(adopters, reciprocal_ranks(adopters), strict=True):
            entries_of[a.creator].append((credit, style_id, (takeoff - a.day).days, a.day == adopters[0].day))
            followers[a.creator] = a.followers
    board = []
    for creator, entries in entries_of.items():
        best = sorted(entries, key=lambda e: -e[0])
        board.append(Trendsetter(
            creator, followers[creator], follower_tier(followers[creator]), round(sum(e for e, *_ in entries), 4),
            len(entries), sum(1 for *_, first in entries if first),
            float(np.median([d for _, _, d, _ in entries])), [style_id for _, style_id, _, _ in best[:5]],
        ))
    board.sort(key=lambda t: (-t.score, -t.styles, t.creator))
    return board


def leaderboard(board: Sequence[Trendsetter], tier: str | None = None, top: int | None = None) -> list[Trendsetter]:
    """The board filtered to a follower tier (``micro``, ``macro`` ...) and cut to ``top`` rows."""
    rows = list(board)
    if tier:
        low, high = tier_bounds(tier)
        rows = [t for t in rows if t.followers >= low and (high is None or t.followers < high)]
    return rows[:top] if top else rows
