"""Creators, who follows whom, when they post, and how trending styles spread between them.

Everything here is pure and cheap (no pixels): :func:`plan_world` turns a config into a
:class:`WorldPlan`, the full truth of the season that rendering then draws and the answer
key records.

The dynamics: every creator has a posting calendar (a regular cadence with jitter). Each
trending style has one originator who posts it first on the style's start day. A post
shows the style to the creator's followers; when a follower next posts, each sighting gives
a chance to adopt (higher for trendsetters, gated for mega creators until enough creators
wore the style, so megas amplify late). Adopters re-wear the styles of their wardrobe,
recent ones more (weights fading with ``adoption_memory_days``). A style's appeal sets its curve: constant for *rising*,
decaying after a peak for *peaking*; *fading* styles started before the season and only
decay. Posts that adopt or re-wear nothing show one of the creator's background styles,
whose share stays flat: a fixed share of all posts (``background_share``) wears them.
"""

from __future__ import annotations

import dataclasses
import math
from collections import defaultdict

import numpy as np

from world.config import WorldConfig
from world.styles import Style, make_styles

TIER_RANGES = {"micro": (10_000, 50_000), "mid": (50_000, 1_000_000), "mega": (1_000_000, 12_000_000)}
SHAPES = ("rising", "peaking", "fading")
_SYLLABLES = (
    "ma", "li", "zo", "ra", "ki", "no", "ve", "sa", "lu", "mi", "ta", "re", "jo", "ne", "bi",
    "ka", "ro", "si", "da", "le", "fi", "mo", "ya", "ze", "ni", "po", "va", "el", "an", "is",
)
_SUFFIXES = ("fits", "style", "wears", "closet", "ootd", "looks", "thrifts", "daily", "edit", "")


@dataclasses.dataclass
class Creator:
    """A creator of the world."""

    index: int  # position in the plan's creator list
    handle: str  # unique handle, without '@'
    followers: int  # follower count (platform-wide, not only inside the world)
    tier: str  # micro, mid or mega
    trendsetter: bool  # starts styles and adopts early
    late_days: int  # days between posting and the video reaching us (0 = on time)
    follows: list[int]  # indices of creators this one follows
    favourites: list[int]  # background style ids this creator wears
    look: int  # seed of their appearance (skin, hair) and their room


@dataclasses.dataclass
class Post:
    """One video of the season (or a held-out query video)."""

    index: int  # position in the plan's post list
    creator: int  # creator index
    day: int  # day of the season it was posted (0-based)
    style: int  # style id worn
    adoption: bool  # first time this creator wears this (trending) style
    held_out: bool = False  # a query video, not part of the catalog

    @property
    def file_stem(self) -> str:
        """The video's file name without suffix: ``v00012``, or ``q00012`` for a query video."""
        return f"q{self.index:05d}" if self.held_out else f"v{self.index:05d}"


@dataclasses.dataclass
class Trend:
    """The truth about one trending style."""

    style: int  # style id
    shape: str  # rising, peaking or fading
    originator: int  # creator index of the true originator
    start_day: int  # day the originator first wore it (negative: before the season)
    peak_day: int | None  # day appeal starts to decay (peaking, fading); None: rising
    decay_days: float  # e-folding of appeal after the peak


@dataclasses.dataclass
class WorldPlan:
    """The whole season, before rendering."""

    config: WorldConfig
    creators: list[Creator]
    styles: list[Style]
    trends: list[Trend]
    posts: list[Post]


def _rng(seed: int, purpose: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence([seed, purpose]))


def _handles(rng: np.random.Generator, count: int) -> list[str]:
    handles: list[str] = []
    seen: set[str] = set()
    while len(handles) < count:
        stem = "".join(_SYLLABLES[int(i)] for i in rng.integers(len(_SYLLABLES), size=int(rng.integers(2, 4))))
        suffix = _SUFFIXES[int(rng.integers(len(_SUFFIXES)))]
        handle = f"{stem}.{suffix}" if suffix else stem
        if handle in seen:
            handle = f"{handle}{len(handles)}"
        seen.add(handle)
        handles.append(handle)
    return handles


def _tiers(rng: np.random.Generator, config: WorldConfig) -> list[str]:
    names = [t for t in ("micro", "mid", "mega") if config.tier_mix.get(t, 0) > 0]
    shares = np.array([config.tier_mix[t] for t in names], dtype=np.float64)
    counts = np.floor(shares / shares.sum() * config.creators).astype(int)
    for i in np.argsort(-shares)[: config.creators - counts.sum()]:
        counts[i] += 1
    tiers = [name for name, n in zip(names, counts, strict=True) for _ in range(n)]
    rng.shuffle(tiers)
    return tiers


def _follower_count(rng: np.random.Generator, tier: str) -> int:
    low, high = TIER_RANGES[tier]
    return int(math.exp(rng.uniform(math.log(low), math.log(high))))


def make_creators(rng: np.random.Generator, config: WorldConfig) -> list[Creator]:
    """Creators with follower counts drawn per tier (log-uniform) and trendsetters marked."""
    tiers = _tiers(rng, config)
    handles = _handles(rng, config.creators)
    creators = [
        Creator(i, handles[i], _follower_count(rng, tier), tier, False, 0, [], [], int(rng.integers(2**31)))
        for i, tier in enumerate(tiers)
    ]
    n_setters = max(1, round(config.trendsetter_fraction * config.creators))
    # Trendsetters are mostly micro creators: weight micro 4, mid 1.5, mega 0.2.
    weights = np.array([{"micro": 4.0, "mid": 1.5, "mega": 0.2}[c.tier] for c in creators])
    for i in rng.choice(len(creators), size=min(n_setters, len(creators)), replace=False, p=weights / weights.sum()):
        creators[int(i)].trendsetter = True
    n_late = round(config.late_creator_fraction * config.creators)
    low, high = config.late_delay_days
    for i in rng.choice(len(creators), size=n_late, replace=False):
        creators[int(i)].late_days = int(rng.integers(low, high + 1))
    return creators


def make_follow_graph(rng: np.random.Generator, creators: list[Creator], mean_follows: int) -> None:
    """Fill each creator's ``follows``: popular creators (by followers) are followed more."""
    n = len(creators)
    popularity = np.array([c.followers for c in creators], dtype=np.float64) ** 0.5
    popularity *= np.array([2.0 if c.trendsetter else 1.0 for c in creators])
    for creator in creators:
        k = min(n - 1, int(rng.poisson(mean_follows)))
        if k == 0:
            continue
        weights = popularity.copy()
        weights[creator.index] = 0.0
        chosen = rng.choice(n, size=k, replace=False, p=weights / weights.sum())
        creator.follows = sorted(int(i) for i in chosen)


def posting_days(
    rng: np.random.Generator, count: int, days: int, jitter: float, forced: int | None = None
) -> list[int]:
    """``count`` distinct days on a regular cadence with jitter (``forced`` always included)."""
    count = min(count, days)
    if count <= 0:
        return []
    period = days / count
    phase = rng.uniform(0, period)
    wanted = [phase + k * period + rng.normal(0.0, jitter) for k in range(count)]
    chosen: set[int] = set() if forced is None else {forced}
    for value in wanted:
        day = int(np.clip(round(value), 0, days - 1))
        while day in chosen:  # nearest free day
            day = (day + 1) % days
        chosen.add(day)
        if len(chosen) >= count:
            break
    return sorted(chosen)


def _shape_for(rng: np.random.Generator, config: WorldConfig, n: int) -> list[str]:
    names = [s for s in SHAPES if config.shape_mix.get(s, 0) > 0]
    shares = np.array([config.shape_mix[s] for s in names], dtype=np.float64)
    counts = np.floor(shares / shares.sum() * n).astype(int)
    for i in np.argsort(-shares)[: n - counts.sum()]:
        counts[i] += 1
    shapes = [name for name, c in zip(names, counts, strict=True) for _ in range(c)]
    rng.shuffle(shapes)
    return shapes


def make_trends(rng: np.random.Generator, config: WorldConfig, creators: list[Creator]) -> list[Trend]:
    """A trend per trending style: shape, originator (mostly trendsetters) and timing."""
    days = config.days
    trends = []
    setters = [c.index for c in creators if c.trendsetter]
    others = [c.index for c in creators if not c.trendsetter and c.tier != "mega"] or [c.index for c in creators]
    taken: set[tuple[int, int]] = set()
    for sid, shape in enumerate(_shape_for(rng, config, config.trending_styles)):
        pool = setters if setters and rng.random() < 0.8 else others
        originator = int(pool[int(rng.integers(len(pool)))])
        if shape == "fading":
            start = -int(rng.integers(10, 40))
            peak: int | None = int(rng.integers(-5, max(1, days // 6)))
            decay = float(rng.uniform(0.1, 0.25) * days)
        elif shape == "peaking":
            start = int(rng.uniform(0.08, 0.35) * days)
            peak = start + int(rng.uniform(0.2, 0.35) * days)
            decay = float(rng.uniform(0.06, 0.12) * days)
        else:
            start = int(rng.uniform(0.15, 0.55) * days)
            peak, decay = None, float(days)
        while (originator, start) in taken:  # one post can start only one style
            start += 1
        taken.add((originator, start))
        trends.append(Trend(sid, shape, originator, start, peak, decay))
    return trends


def appeal(trend: Trend, day: int) -> float:
    """How adoptable a trending style is on ``day`` (0 before its start)."""
    if day < trend.start_day:
        return 0.0
    if trend.peak_day is None or day <= trend.peak_day:
        return 1.0
    return math.exp(-(day - trend.peak_day) / trend.decay_days)


def _post_counts(rng: np.random.Generator, config: WorldConfig, creators: list[Creator]) -> np.ndarray:
    activity = rng.lognormal(0.0, 0.6, len(creators))
    activity *= np.array([1.3 if c.trendsetter else 1.0 for c in creators])
    counts = rng.multinomial(config.videos, activity / activity.sum())
    # A creator posts at most once a day; spill the excess onto others, round robin.
    excess = int(np.clip(counts - config.days, 0, None).sum())
    counts = np.minimum(counts, config.days)
    order = np.argsort(-activity)
    i = 0
    while excess > 0:
        j = order[i % len(order)]
        if counts[j] < config.days:
            counts[j] += 1
            excess -= 1
        i += 1
    return counts


def make_calendar(
    rng: np.random.Generator, config: WorldConfig, creators: list[Creator], trends: list[Trend]
) -> dict[int, list[int]]:
    """Posting days per creator; each in-season originator posts on their style's start day."""
    counts = _post_counts(rng, config, creators)
    forced: dict[int, list[int]] = defaultdict(list)
    for trend in trends:
        if trend.start_day >= 0:
            forced[trend.originator].append(trend.start_day)
    calendar = {}
    for creator in creators:
        must = sorted(set(forced[creator.index]))
        count = max(int(counts[creator.index]), len(must))
        days = set(must)
        free = posting_days(rng, count, config.days, config.posting_jitter_days)
        for day in free:
            if len(days) >= count:
                break
            days.add(day)
        calendar[creator.index] = sorted(days)
    _trim_to_budget(rng, calendar, forced, config.videos)
    return calendar


def _trim_to_budget(
    rng: np.random.Generator, calendar: dict[int, list[int]], forced: dict[int, list[int]], budget: int
) -> None:
    """Drop unforced posts at random until the season holds exactly ``budget`` posts."""
    total = sum(len(days) for days in calendar.values())
    droppable = [(c, d) for c, days in calendar.items() for d in days if d not in forced[c]]
    if total <= budget or not droppable:
        return
    for k in rng.choice(len(droppable), size=min(total - budget, len(droppable)), replace=False):
        creator, day = droppable[int(k)]
        calendar[creator].remove(day)


class _Spread:
    """Mutable state of the adoption simulation."""

    def __init__(self, config: WorldConfig, creators: list[Creator], trends: list[Trend]):
        self.config = config
        self.creators = creators
        self.trends = {t.style: t for t in trends}
        self.followers_of: dict[int, list[int]] = defaultdict(list)
        for creator in creators:
            for followed in creator.follows:
                self.followers_of[followed].append(creator.index)
        # sightings[creator][style] = list of days the creator saw it in their feed
        self.sightings: dict[int, dict[int, list[int]]] = defaultdict(lambda: defaultdict(list))
        self.adopted: dict[int, dict[int, int]] = defaultdict(dict)  # creator -> style -> day
        self.adopters: dict[int, set[int]] = defaultdict(set)  # style -> creators who wore it
        self.recent: dict[int, list[int]] = defaultdict(list)  # style -> days it was posted

    def show(self, creator: int, style: int, day: int) -> None:
        for follower in self.followers_of[creator]:
            self.sightings[follower][style].append(day)
        if style in self.trends:
            self.adopters[style].add(creator)
            self.recent[style].append(day)

    def susceptibility(self, creator: Creator, style: int) -> float:
        boost = 2.5 if creator.trendsetter else 1.0
        if creator.tier == "mega":
            gate = self.config.mega_gate_adopters
            boost *= min(1.0, len(self.adopters[style]) / gate) if gate else 1.0
        return boost

    def adoption_chance(self, creator: Creator, style: int, day: int) -> float:
        trend = self.trends[style]
        strength = self.config.adoption_rate * appeal(trend, day) * self.susceptibility(creator, style)
        seen = sum(1 for d in self.sightings[creator.index].get(style, ()) if d < day)
        feed = sum(1 for d in self.recent[style] if day - 7 <= d < day)
        discovery = self.config.discovery_rate * appeal(trend, day) * min(feed, 10)
        chance = 1.0 - (1.0 - min(strength, 0.95)) ** seen
        return min(1.0, chance + discovery * self.susceptibility(creator, style))


def _pick_adoption(rng: np.random.Generator, spread: _Spread, creator: Creator, day: int) -> int | None:
    candidates = [s for s in spread.trends if s not in spread.adopted[creator.index] and spread.trends[s].start_day < day]
    for style in sorted(candidates, key=lambda s: rng.random()):
        if rng.random() < spread.adoption_chance(creator, style, day):
            return style
    return None


def _pick_rewear(rng: np.random.Generator, spread: _Spread, creator: Creator, day: int) -> int | None:
    """A style from the creator's wardrobe, recent and still-appealing ones first."""
    memory = spread.config.adoption_memory_days
    wardrobe = spread.adopted[creator.index]
    if not wardrobe:
        return None
    styles = sorted(wardrobe)
    weights = np.array(
        [math.exp(-(day - wardrobe[s]) / memory) * max(appeal(spread.trends[s], day), 0.05) for s in styles]
    )
    weights = np.maximum(weights, 1e-9)
    return styles[int(rng.choice(len(styles), p=weights / weights.sum()))]


def _seed_fading(rng: np.random.Generator, spread: _Spread, trends: list[Trend]) -> None:
    """Fading styles were adopted before the season: give them early adopters."""
    n = len(spread.creators)
    for trend in trends:
        if trend.start_day >= 0:
            continue
        spread.adopted[trend.originator][trend.style] = trend.start_day
        spread.adopters[trend.style].add(trend.originator)
        share = rng.uniform(0.15, 0.3)
        for i in rng.choice(n, size=max(1, int(share * n)), replace=False):
            day = int(rng.integers(trend.start_day, 0))
            spread.adopted[int(i)].setdefault(trend.style, day)
            spread.adopters[trend.style].add(int(i))


def simulate(
    rng: np.random.Generator,
    config: WorldConfig,
    creators: list[Creator],
    trends: list[Trend],
    calendar: dict[int, list[int]],
) -> list[Post]:
    """Walk the season day by day and decide the style of every post."""
    spread = _Spread(config, creators, trends)
    _seed_fading(rng, spread, trends)
    seeds = {(t.originator, t.start_day): t.style for t in trends if t.start_day >= 0}
    by_day: dict[int, list[int]] = defaultdict(list)
    for creator_index, days in calendar.items():
        for day in days:
            by_day[day].append(creator_index)
    posts: list[Post] = []
    for day in range(config.days):
        today: list[Post] = []
        for creator_index in sorted(by_day[day], key=lambda c: rng.random()):
            style, adoption = _choose_style(rng, spread, creators[creator_index], day, seeds)
            today.append(Post(len(posts) + len(today), creator_index, day, style, adoption))
        for post in today:  # followers see today's posts from tomorrow on
            spread.show(post.creator, post.style, day)
        posts += today
    return posts


def _choose_style(
    rng: np.random.Generator, spread: _Spread, creator: Creator, day: int, seeds: dict[tuple[int, int], int]
) -> tuple[int, bool]:
    seeded = seeds.get((creator.index, day))
    if seeded is not None and seeded not in spread.adopted[creator.index]:
        spread.adopted[creator.index][seeded] = day
        return seeded, True
    if rng.random() < spread.config.background_share:
        return creator.favourites[int(rng.integers(len(creator.favourites)))], False
    adopted = _pick_adoption(rng, spread, creator, day)
    if adopted is not None:
        spread.adopted[creator.index][adopted] = day
        return adopted, True
    rewear = _pick_rewear(rng, spread, creator, day)
    if rewear is not None:
        return rewear, False
    return creator.favourites[int(rng.integers(len(creator.favourites)))], False


def _assign_favourites(rng: np.random.Generator, creators: list[Creator], background: list[int]) -> None:
    popularity = rng.dirichlet(np.full(len(background), 2.0))
    for creator in creators:
        k = min(len(background), int(rng.integers(2, 4)))
        chosen = rng.choice(len(background), size=k, replace=False, p=popularity)
        creator.favourites = sorted(background[int(i)] for i in chosen)


def _query_posts(rng: np.random.Generator, config: WorldConfig, styles: list[Style], start: int) -> list[Post]:
    """Held-out videos: one per style round robin, by random creators, on random days."""
    posts = []
    for k in range(config.query_videos):
        style = styles[k % len(styles)].id
        creator = int(rng.integers(config.creators))
        day = int(rng.integers(config.days))
        posts.append(Post(start + k, creator, day, style, False, held_out=True))
    return posts


def plan_world(config: WorldConfig) -> WorldPlan:
    """The season's full truth for ``config`` (deterministic in ``config.seed``)."""
    config.validate()
    styles = make_styles(
        _rng(config.seed, 1), config.trending_styles, config.background_styles, config.lookalike_rate
    )
    rng = _rng(config.seed, 2)
    creators = make_creators(rng, config)
    make_follow_graph(rng, creators, config.follows_per_creator)
    _assign_favourites(rng, creators, [s.id for s in styles if not s.trending])
    trends = make_trends(rng, config, creators)
    calendar = make_calendar(rng, config, creators, trends)
    posts = simulate(rng, config, creators, trends, calendar)
    posts += _query_posts(_rng(config.seed, 3), config, styles, len(posts))
    return WorldPlan(config, creators, styles, trends, posts)
