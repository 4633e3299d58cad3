"""Rising and fading: each style's recent days against its own history.

Every day is judged with the data known on that day. A style is rising when, in the last
three weeks, enough creators wore it for the first time, clearly more than its own past rate
predicts, and its videos grew with them (the ``spread`` detector of
:mod:`inference.rising_detectors`: a trend spreads to new people; fans wearing a staple more
often do not make one). The window statistics (Poisson z-score and growth of the recent
videos against the historical share) give the score, "emerging" and fading, the mirror image
of a burst; ``rising.detector: window`` makes them decide rising too. The first day a style
is flagged is its take-off.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections import defaultdict

import numpy as np

from inference.rising_detectors import StyleDays, spread_evidence, spread_verdict, window_lengths
from inference.trends.series import TrendData
from inference.trends.settings import RisingConfig
from inference.trends.states import STATE_ORDER, trend_state


@dataclasses.dataclass
class StyleTrend:
    """Rising / fading verdict for one style as of a day, and when it took off."""

    style_id: int
    state: str  # rising, emerging, peaked, new, steady or fading (inference.trends.glossary)
    score: float  # Poisson z-score of recent videos against the historical share
    growth: float  # recent share / historical share
    recent_videos: int
    recent_creators: int
    recent_new_creators: int  # of those, first-time wearers of the style
    new_wearers: int  # creators wearing the style for the first time in the spread window (3 weeks)
    expected_new_wearers: float  # how many of them its own past rate predicts
    recent_share: float
    history_share: float
    takeoff: dt.date | None  # first day the style was flagged rising (detection day)
    onset: dt.date | None  # first sighting of the burst that was flagged (its start)
    fading_since: dt.date | None  # first day of the current fading run

    @property
    def has_risen(self) -> bool:
        """Flagged rising on the as-of day or before (it has a take-off date)."""
        return self.takeoff is not None


@dataclasses.dataclass
class _Daily:
    days: list[dt.date]
    posts: np.ndarray  # (T,) posts per day
    videos: dict[int, np.ndarray]  # style -> (T,) videos per day
    creator_days: dict[int, list[tuple[str, int]]]  # style -> (creator, day index)


def _daily(data: TrendData, end: dt.date) -> _Daily:
    first = data.first_day or end
    days = [first + dt.timedelta(days=d) for d in range((end - first).days + 1)]
    posts = np.zeros(len(days))
    for post in data.posts:
        if post.day <= end:
            posts[(post.day - first).days] += 1
    videos: dict[int, np.ndarray] = {}
    creator_days: dict[int, list[tuple[str, int]]] = defaultdict(list)
    for s in data.sightings:
        if s.day > end:
            continue
        at = (s.day - first).days
        videos.setdefault(s.style_id, np.zeros(len(days)))[at] += 1
        creator_days[s.style_id].append((s.creator, at))
    return _Daily(days, posts, videos, creator_days)


def _window_sum(values: np.ndarray, length: int | np.ndarray, lag: int | np.ndarray = 0) -> np.ndarray:
    """Sum over days (t - lag - length, t - lag] for every t (zero-padded at the start);
    ``length`` and ``lag`` may vary by day."""
    cumulative = np.concatenate([[0.0], np.cumsum(values)])
    t = np.arange(len(values)) + 1
    hi = np.clip(t - lag, 0, len(values))
    lo = np.clip(t - lag - length, 0, len(values))
    return cumulative[hi] - cumulative[lo]


def _window_creators(creator_days: list[tuple[str, int]], n_days: int, length: int | np.ndarray,
                     lag: int | np.ndarray = 0) -> np.ndarray:
    """Distinct creators with a sighting in (t - lag - length, t - lag] for every day t."""
    creators = sorted({c for c, _ in creator_days})
    index = {c: i for i, c in enumerate(creators)}
    seen = np.zeros((len(creators), n_days))
    for creator, day in creator_days:
        seen[index[creator], day] = 1.0
    cumulative = np.concatenate([np.zeros((len(creators), 1)), np.cumsum(seen, axis=1)], axis=1)
    t = np.arange(n_days) + 1
    hi, lo = np.clip(t - lag, 0, n_days), np.clip(t - lag - length, 0, n_days)
    present = cumulative[:, hi] - cumulative[:, lo] > 0
    return present.sum(axis=0)


def _first_days(creator_days: list[tuple[str, int]]) -> dict[str, int]:
    """Each creator's first day (index) showing the style."""
    first: dict[str, int] = {}
    for creator, day in creator_days:
        first[creator] = min(day, first.get(creator, day))
    return first


def recent_lengths(n_days: int, config: RisingConfig) -> np.ndarray:
    """Length of the recent window on each day since the data began.

    ``recent_days`` once the data is long enough; before that, the window shrinks (to half
    of ``recent_days`` at least) so that a style bursting in the first weeks of the data is
    judged as soon as ``min_history_days`` of history lie before its window, instead of
    only after ``recent_days + min_history_days`` days.
    """
    shortest = max(1, min(config.recent_days, (config.recent_days + 1) // 2))
    return np.clip(np.arange(n_days) + 1 - config.min_history_days, shortest, config.recent_days)


@dataclasses.dataclass
class _Scores:
    z: np.ndarray
    growth: np.ndarray
    recent: np.ndarray
    creators: np.ndarray
    new_creators: np.ndarray
    recent_share: np.ndarray
    history_share: np.ndarray
    rising: np.ndarray
    fading: np.ndarray
    judged: np.ndarray


def _burst_scores(videos: np.ndarray, posts: np.ndarray, creators: np.ndarray, history_creators: np.ndarray,
                  first_wearings: np.ndarray, config: RisingConfig) -> _Scores:
    """Burst statistics of one style for every day (only data up to that day is used).

    ``first_wearings`` counts, per day, the creators who wore the style that day for the
    first time in the data.
    """
    w, h = recent_lengths(len(posts), config), config.history_days
    new_creators = _window_sum(first_wearings, w)
    recent, recent_posts = _window_sum(videos, w), _window_sum(posts, w)
    past, past_posts = _window_sum(videos, h, lag=w), _window_sum(posts, h, lag=w)
    history_days = np.clip(np.arange(len(posts)) + 1 - w, 0, h)
    p0 = (past + config.prior_videos) / np.maximum(past_posts + 1.0, 1.0)
    expected = recent_posts * p0
    z = (recent - expected) / np.sqrt(np.maximum(expected, 1e-9))
    recent_share = np.divide(recent, recent_posts, out=np.zeros_like(recent), where=recent_posts > 0)
    history_share = np.divide(past, past_posts, out=np.zeros_like(past), where=past_posts > 0)
    growth = np.divide(recent_share, p0, out=np.zeros_like(recent), where=p0 > 0)
    judged = history_days >= config.min_history_days
    rising = (judged & (z >= config.z_threshold) & (growth >= config.min_growth)
              & (creators >= config.min_creators) & (recent >= config.min_videos)
              & (new_creators >= config.min_new_creators)
              & (new_creators >= config.min_new_share * creators))
    fading = (judged & (z <= -config.z_threshold) & (growth <= 1.0 / config.min_growth)
              & (past >= config.min_videos) & (history_creators >= config.min_creators))
    return _Scores(z, growth, recent, creators, new_creators, recent_share, history_share, rising, fading, judged)


def rising_styles(data: TrendData, config: RisingConfig, as_of: dt.date | None = None) -> list[StyleTrend]:
    """Rising / fading verdict of every style as of a day, best rising score first.

    Every day up to ``as_of`` is judged with the data known on that day, so ``takeoff``
    is the day a live system would have flagged the style; ``onset`` is the first sighting
    in the recent window of that day (when the burst started).
    """
    end = as_of or data.last_day
    if end is None:
        return []
    daily = _daily(data, end)
    trends = []
    for style_id, videos in sorted(daily.videos.items()):
        creator_days = daily.creator_days[style_id]
        lengths = recent_lengths(len(daily.days), config)
        creators = _window_creators(creator_days, len(daily.days), lengths)
        history_creators = _window_creators(creator_days, len(daily.days), config.history_days, lag=lengths)
        first_wearings = np.zeros(len(daily.days))
        for day in _first_days(creator_days).values():
            first_wearings[day] += 1
        scores = _burst_scores(videos, daily.posts, creators, history_creators, first_wearings, config)
        days = StyleDays(videos, daily.posts, first_wearings, _creators_per_day(creator_days, len(daily.days)))
        evidence = spread_evidence(days, config.spread)
        onset_window = lengths
        if config.detector == "spread":
            scores.rising = spread_verdict(evidence, config.spread).flags
            onset_window = window_lengths(len(daily.days), config.spread.window_days, config.spread.min_history_days)
        trends.append(_trend(style_id, scores, videos, daily.days, onset_window, config,
                             (int(evidence.new_creators[-1]), round(float(evidence.expected[-1]), 3))))
    trends.sort(key=lambda t: (STATE_ORDER[t.state], -t.score))
    return trends


def _creators_per_day(creator_days: list[tuple[str, int]], n_days: int) -> np.ndarray:
    """Distinct creators wearing the style on each day."""
    present = np.zeros(n_days)
    for _, day in set(creator_days):
        present[day] += 1
    return present


def _trend(style_id: int, s: _Scores, videos: np.ndarray, days: list[dt.date], onset_window: np.ndarray,
           config: RisingConfig, new_wearers: tuple[int, float]) -> StyleTrend:
    """The verdict on the last day; ``onset_window`` is the rising detector's window length per day
    (the burst's onset is its first sighting in the window of the take-off day)."""
    last = len(days) - 1
    flagged = np.flatnonzero(s.rising)
    takeoff = onset = None
    if len(flagged):
        at = int(flagged[0])
        takeoff = days[at]
        first = max(0, at - int(onset_window[at]) + 1)
        onset = days[first + int(np.flatnonzero(videos[first : at + 1])[0])]
    fading_since = None
    if s.fading[last]:
        run = last
        while run > 0 and s.fading[run - 1]:
            run -= 1
        fading_since = days[run]
    state = trend_state(rising=bool(s.rising[last]), fading=bool(s.fading[last]), judged=bool(s.judged[last]),
                        has_risen=takeoff is not None, score=float(s.z[last]), growth=float(s.growth[last]),
                        config=config)
    return StyleTrend(
        style_id, state, round(float(s.z[last]), 3), round(float(s.growth[last]), 3), int(s.recent[last]),
        int(s.creators[last]), int(s.new_creators[last]), *new_wearers, float(s.recent_share[last]),
        float(s.history_share[last]), takeoff, onset, fading_since,
    )
