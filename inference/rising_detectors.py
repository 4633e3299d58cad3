"""Rising-style detectors on per-day arrays (pure functions: no SQL, no I/O).

Every detector reads one style's evidence, one entry per day of the data, and says for
every day whether the style is rising *on that day*, judged with only the days up to it;
the first flagged day is the take-off call a live system would have made.

- :func:`spread` (recommended): creators wearing the style for the first time in the recent
  window against the style's own past rate, with the style's videos per day growing too.
  A trend spreads to new people; fans wearing a staple more often do not make one. Only the
  style's own days are weighed; all posts only set the scale of the prior and count when
  their volume moves by more than half, so a few unrelated videos do not flip a flag.
- :func:`cusum`: Poisson CUSUM (Page 1954) of the style's videos or first wearings per post
  against its past rate.
- :func:`kleinberg`: Kleinberg's (2002) two-state burst automaton over binomial batches
  (the style's videos, or first wearings, out of all posts per day), re-run every day.

``bench/bench_rising.py`` compares them (and the shipped window detector of
``inference.trends``) on creator worlds: precision, recall, days late and flag flips.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

import configs


@dataclasses.dataclass(frozen=True)
class StyleDays:
    """One style's evidence, one entry per day of the data (day 0: the first day with posts)."""

    videos: np.ndarray  # videos showing the style
    posts: np.ndarray  # all videos posted (the denominator of a share)
    new_creators: np.ndarray  # creators wearing the style for the first time in the data
    creators: np.ndarray  # distinct creators wearing the style


@dataclasses.dataclass(frozen=True)
class Verdict:
    """A detector's answer for every day of one style."""

    flags: np.ndarray  # bool: rising on that day (judged with the days up to it)
    scores: np.ndarray  # the statistic behind the flag (larger: stronger rise)
    judged: np.ndarray  # bool: enough history on that day to judge at all

    @property
    def first_flag(self) -> int | None:
        """The first day flagged (the take-off call), or None."""
        flagged = np.flatnonzero(self.flags)
        return int(flagged[0]) if len(flagged) else None

    def state(self, day: int = -1) -> str:
        """``rising`` (flagged that day), ``risen`` (flagged before: it has a take-off date),
        ``steady`` (judged, never flagged) or ``new`` (too little history to judge)."""
        day %= len(self.flags)
        if self.flags[day]:
            return "rising"
        if self.flags[: day + 1].any():
            return "risen"
        return "steady" if self.judged[day] else "new"


def style_days(sightings: Iterable[tuple[int, str, int]], posts: np.ndarray) -> dict[int, StyleDays]:
    """Per-style day arrays from sightings ``(style, creator, day index)``, one per video.

    ``posts`` counts all videos per day; its length sets the number of days.
    """
    n = len(posts)
    videos: dict[int, np.ndarray] = {}
    first_worn: dict[int, dict[str, int]] = {}
    present: dict[int, set[tuple[str, int]]] = {}
    for style, creator, day in sightings:
        videos.setdefault(style, np.zeros(n))[day] += 1
        worn = first_worn.setdefault(style, {})
        worn[creator] = min(day, worn.get(creator, day))
        present.setdefault(style, set()).add((creator, day))
    days = {}
    for style, counts in videos.items():
        new, creators = np.zeros(n), np.zeros(n)
        np.add.at(new, list(first_worn[style].values()), 1)
        np.add.at(creators, [day for _, day in present[style]], 1)
        days[style] = StyleDays(counts, np.asarray(posts, dtype=float), new, creators)
    return days


# --------------------------------------------------------------------------------------
# windows
# --------------------------------------------------------------------------------------
def window_sum(values: np.ndarray, length: int | np.ndarray) -> np.ndarray:
    """For every day t, the sum over days (t - length, t]; ``length`` may vary by day."""
    cumulative = np.concatenate([[0.0], np.cumsum(values)])
    t = np.arange(len(values)) + 1
    return cumulative[t] - cumulative[np.clip(t - length, 0, len(values))]


def sum_before(values: np.ndarray, length: int | np.ndarray) -> np.ndarray:
    """For every day t, the sum over all days before the window (t - length, t]."""
    cumulative = np.concatenate([[0.0], np.cumsum(values)])
    return cumulative[np.clip(np.arange(len(values)) + 1 - length, 0, len(values))]


def window_lengths(n_days: int, window_days: int, min_history_days: int) -> np.ndarray:
    """The recent window's length on each day: ``window_days``, shrunk (to half at least) in
    the data's first weeks so that ``min_history_days`` of history lie before it sooner."""
    shortest = max(1, (window_days + 1) // 2)
    return np.clip(np.arange(n_days) + 1 - min_history_days, shortest, window_days)


def poisson_llr(observed: np.ndarray, expected: np.ndarray) -> np.ndarray:
    """log P(observed | its own rate) - log P(observed | expected rate); 0 where observed <= expected."""
    expected = np.maximum(expected, 1e-12)
    llr = observed * np.log(np.maximum(observed, 1e-12) / expected) - (observed - expected)
    return np.where(observed > expected, llr, 0.0)


# --------------------------------------------------------------------------------------
# spread: first wearings in the recent window against the style's own past (recommended)
# --------------------------------------------------------------------------------------
@dataclasses.dataclass
class SpreadConfig:
    """New creators wearing the style in the recent window, against the style's own past.

    Defaults chosen on planned development worlds (demo seeds 1000-1059, bench 1000-1005;
    ``bench/bench_rising.py --plans``), never on the held-out ones.
    """

    window_days: int = configs.setting(21, low=2)  # recent window (down to half of it in the data's first weeks)
    min_history_days: int = configs.setting(10, low=1)  # days of data before the window, at least
    min_new_creators: int = configs.setting(3, low=1)  # creators wearing it for the first time in the window
    min_growth: float = configs.setting(2.0, low=1)  # their number over the number the past rate expects
    min_video_growth: float = configs.setting(2.0, low=0)  # videos per day in the window over the past rate
    threshold: float = configs.setting(0.5, low=0)  # Poisson log-likelihood ratio of the window's new creators
    # against the past rate, at least (3 at twice the expected number give 0.58)
    prior_posts: float = configs.setting(10.0, low=0, low_open=True)  # the past starts with one new creator and
    # one video among this many posts (a style never seen is not infinitely rare)
    volume_slack: float = configs.setting(1.5, low=1)  # posts per day may move by this factor unnoticed


@dataclasses.dataclass(frozen=True)
class SpreadEvidence:
    """What :func:`spread` weighs, for every day."""

    judged: np.ndarray  # bool: enough history before the window to judge
    new_creators: np.ndarray  # first wearings in the recent window
    expected: np.ndarray  # first wearings the past rate expects there
    llr: np.ndarray  # Poisson log-likelihood ratio of the two
    video_growth: np.ndarray  # videos per day in the window over the past rate


def volume_factor(posts: np.ndarray, window: np.ndarray, slack: float) -> np.ndarray:
    """Posts per day in the window over posts per day before it; 1 while within ``slack``."""
    past_days = np.maximum(np.arange(len(posts)) + 1 - window, 1)
    past = np.maximum(sum_before(posts, window), 1.0) / past_days
    recent = window_sum(posts, window) / window
    ratio = np.where(recent > 0, recent / past, 1.0)
    return np.where(ratio > slack, ratio / slack, np.where(ratio < 1 / slack, ratio * slack, 1.0))


def spread_evidence(days: StyleDays, config: SpreadConfig) -> SpreadEvidence:
    """The window's first wearings and videos against the style's past rates, for every day.

    The past is every day before the window, plus a prior of one first wearing and one video
    over ``prior_posts`` posts' worth of days; its rate per day, times the window's length
    (and the volume factor), is what the window is expected to hold.
    """
    n = len(days.posts)
    window = window_lengths(n, config.window_days, config.min_history_days)
    past_days = np.maximum(np.arange(n) + 1 - window, 0)
    posts_per_day = np.maximum(np.cumsum(days.posts) / (np.arange(n) + 1), 1e-9)
    prior_days = config.prior_posts / posts_per_day
    scale = window * volume_factor(days.posts, window, config.volume_slack) / (past_days + prior_days)
    new_creators = window_sum(days.new_creators, window)
    expected = (sum_before(days.new_creators, window) + 1.0) * scale
    video_growth = window_sum(days.videos, window) / ((sum_before(days.videos, window) + 1.0) * scale)
    return SpreadEvidence(past_days >= config.min_history_days, new_creators, expected,
                          poisson_llr(new_creators, expected), video_growth)


def spread_verdict(e: SpreadEvidence, config: SpreadConfig) -> Verdict:
    """:func:`spread`'s verdict from evidence already computed."""
    flags = (e.judged & (e.new_creators >= config.min_new_creators)
             & (e.new_creators >= config.min_growth * e.expected) & (e.llr >= config.threshold)
             & (e.video_growth >= config.min_video_growth))
    return Verdict(flags, e.llr, e.judged)


def spread(days: StyleDays, config: SpreadConfig) -> Verdict:
    """Rising on a day when, in the recent window, enough creators wore the style for the
    first time, clearly more than its past rate expects, and its videos grew with them."""
    return spread_verdict(spread_evidence(days, config), config)


# --------------------------------------------------------------------------------------
# CUSUM: a run of days whose rate beats the style's past by ``growth``
# --------------------------------------------------------------------------------------
SIGNALS = ("videos", "new_creators")


@dataclasses.dataclass
class CusumConfig:
    """Poisson CUSUM of the style's videos (or first wearings) per post against its own past."""

    signal: str = configs.setting("new_creators", choices=SIGNALS)  # what is counted
    growth: float = configs.setting(3.0, low=1, low_open=True)  # rate ratio the CUSUM is tuned to detect
    threshold: float = configs.setting(3.0, low=0, low_open=True)  # log-likelihood ratio that raises the flag
    lag_days: int = configs.setting(14, low=1)  # recent days left out of the reference rate (the rise itself)
    prior_posts: float = configs.setting(20.0, low=0, low_open=True)  # the reference starts with one event
    # among this many posts
    min_history_days: int = configs.setting(14, low=0)  # days of data before any flag
    min_count: int = configs.setting(3, low=1)  # events counted in the current run, at least


def cusum(days: StyleDays, config: CusumConfig) -> Verdict:
    counts = getattr(days, config.signal)
    reference = (sum_before(counts, config.lag_days) + 1.0) / (sum_before(days.posts, config.lag_days)
                                                              + config.prior_posts)
    gain = np.log(config.growth)
    statistic, run = np.zeros(len(counts)), np.zeros(len(counts))
    level = in_run = 0.0
    for t, (count, posts, rate) in enumerate(zip(counts, days.posts, reference, strict=True)):
        level += count * gain - posts * rate * (config.growth - 1.0)
        level, in_run = (0.0, 0.0) if level <= 0 else (level, in_run + count)
        statistic[t], run[t] = level, in_run
    judged = np.arange(len(counts)) >= config.min_history_days
    return Verdict(judged & (statistic >= config.threshold) & (run >= config.min_count), statistic, judged)


# --------------------------------------------------------------------------------------
# Kleinberg's two-state burst automaton
# --------------------------------------------------------------------------------------
@dataclasses.dataclass
class BurstConfig:
    """Kleinberg's two-state burst detection over binomial batches, re-run on every day's data."""

    signal: str = configs.setting("videos", choices=SIGNALS)  # what is counted out of the day's posts
    scale: float = configs.setting(3.0, low=1, low_open=True)  # burst rate over the base rate
    gamma: float = configs.setting(0.5, low=0)  # cost of entering the burst state, times ln(days)
    min_history_days: int = configs.setting(14, low=0)  # days of data before any flag
    min_count: int = configs.setting(3, low=1)  # events counted in the current burst, at least


def burst_states(counts: np.ndarray, posts: np.ndarray, scale: float, gamma: float) -> np.ndarray:
    """Viterbi state per day (0 base, 1 burst) of the two-state binomial automaton."""
    total, n = float(counts.sum()), float(posts.sum())
    if total <= 0 or n <= 0:
        return np.zeros(len(counts), dtype=int)
    rates = (min(total / n, 0.9999), min(scale * total / n, 0.9999))
    misses = np.maximum(posts - counts, 0)
    cost = np.stack([-(counts * np.log(p) + misses * np.log1p(-p)) for p in rates])
    enter = gamma * np.log(max(len(counts), 2))
    best = cost[:, 0] + np.array([0.0, enter])
    back = np.zeros((2, len(counts)), dtype=int)
    for t in range(1, len(counts)):
        back[0, t] = int(best[1] < best[0])
        back[1, t] = int(best[1] <= best[0] + enter)
        best = np.array([min(best[0], best[1]), min(best[1], best[0] + enter)]) + cost[:, t]
    states = np.zeros(len(counts), dtype=int)
    states[-1] = int(np.argmin(best))
    for t in range(len(counts) - 1, 0, -1):
        states[t - 1] = back[states[t], t]
    return states


def kleinberg(days: StyleDays, config: BurstConfig) -> Verdict:
    counts = getattr(days, config.signal)
    flags, in_burst = np.zeros(len(counts), dtype=bool), np.zeros(len(counts))
    for t in range(config.min_history_days, len(counts)):
        states = burst_states(counts[: t + 1], days.posts[: t + 1], config.scale, config.gamma)
        if states[t]:
            start = int(np.flatnonzero(states == 0)[-1]) + 1 if (states == 0).any() else 0
            in_burst[t] = counts[start : t + 1].sum()
            flags[t] = in_burst[t] >= config.min_count
    return Verdict(flags, in_burst, np.arange(len(counts)) >= config.min_history_days)


# --------------------------------------------------------------------------------------
# registry
# --------------------------------------------------------------------------------------
DETECTORS: dict[str, tuple[Callable[[StyleDays, Any], Verdict], type]] = {
    "spread": (spread, SpreadConfig),
    "cusum": (cusum, CusumConfig),
    "kleinberg": (kleinberg, BurstConfig),
}  # name -> (detector, its config class)


def detect(name: str, days: StyleDays, config: Any | None = None) -> Verdict:
    """Run detector ``name`` (a key of :data:`DETECTORS`) with ``config`` (default: its defaults)."""
    function, config_class = DETECTORS[name]
    return function(days, config if config is not None else config_class())
