"""Rising-style detectors compared on ingested creator worlds (early, precise, stable).

Each world is a data directory made by ``stylescope demo`` / ``world generate`` + ``ingest``
(catalog.sqlite with styles, and the world's answer key in ``world/``). Its catalog is
copied to a scratch folder first (nothing is written to the world's data directory).

For every detector and every world, two groupings of the garments are judged:

- *predicted*: the catalog's styles (what the app shows);
- *oracle*: garments grouped by their true style (the scorer's garment matcher), which
  separates the detector's quality from the clustering's errors.

Every day is judged with only the days up to it; a style's first flagged day is its
take-off call, scored by ``world.scorer.rising_scores`` (precision, recall, share of
risen styles flagged within 7 days of their true take-off, mean days late).

Stability: ``--trials`` times, 1-10 unrelated videos (no style, or another style) are
added on random days of the season, and the flags of styles with at least 20 videos are
compared with the undisturbed run (``flips``: ever flagged or rising on the last day
changed; ``moved``: the first flagged day moved). ``+4next``: styles whose "rising now" on
the day after the last changes when 4 unrelated videos are posted that day (sums over worlds
in the mean rows).

    .venv/bin/python bench/bench_rising.py --world [NAME=]DIR ... [--held-out [NAME=]DIR ...]
        [--plans demo:1000-1099 ...] [--trials 30] [--json OUT]
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import json
import logging
import sqlite3
import statistics
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from inference import rising_detectors as rd
from inference import trends as trends_mod
from inference.catalog import Catalog
from world import scorer

logger = logging.getLogger("bench_rising")
STABLE_MIN_VIDEOS = 20  # styles this big must not flip when unrelated videos arrive


# --------------------------------------------------------------------------------------
# worlds
# --------------------------------------------------------------------------------------
@dataclasses.dataclass
class Grouping:
    """Sightings of one grouping of garments into styles, and how they map to true styles."""

    sightings: list[tuple[int, str, int]]  # (style, creator, day index), one per video and style
    mapping: dict[int, str]  # style -> the true style it stands for


@dataclasses.dataclass
class World:
    """One world: its posts, its groupings of garments into styles, and its answer key."""

    name: str
    answer: scorer.AnswerKey
    first_day: dt.date  # day index 0
    posts: list[tuple[str, int]]  # (creator, day index) of every video
    groupings: dict[str, Grouping]  # "predicted" (the catalog's styles) and/or "oracle" (true styles)

    @property
    def n_days(self) -> int:
        return max(day for _, day in self.posts) + 1


def _copy_catalog(data_dir: Path, scratch: Path) -> Catalog:
    source = sqlite3.connect(f"file:{data_dir / 'catalog.sqlite'}?mode=ro", uri=True)
    target = sqlite3.connect(scratch / "catalog.sqlite")
    source.backup(target)
    source.close()
    target.close()
    return Catalog(scratch)


def load_world(data_dir: Path, name: str | None = None) -> World:
    """A world's predicted and oracle sightings from a copy of its catalog."""
    answer = scorer.load_answer_key(data_dir / "world")
    config = trends_mod.load_config()
    with tempfile.TemporaryDirectory() as scratch:
        catalog = _copy_catalog(data_dir, Path(scratch))
        data = trends_mod.load_trend_data(catalog, as_of=dt.date.max, min_frames=config.series.min_frames_per_video)
        garments = catalog.garments()
        predicted = catalog.garment_style_ids()
        catalog.close()
    found = scorer.found_garments(garments)
    truth = scorer.true_styles_of(found, answer.matcher())
    first = data.first_day
    assert first is not None, f"no dated posts in {data_dir}"
    posts = [(p.creator, (p.day - first).days) for p in data.posts]
    predicted_grouping = Grouping(
        [(s.style_id, s.creator, (s.day - first).days) for s in data.sightings],
        scorer.majority_mapping(truth, predicted),
    )
    days = {p.video_id: (p.creator, (p.day - first).days) for p in data.posts}
    oracle = sorted({(truth[g.id], g.video_id) for g in garments if g.id in truth and g.video_id in days})
    numbers = {name: i for i, name in enumerate(sorted({style for style, _ in oracle}))}
    oracle_grouping = Grouping([(numbers[style], *days[video]) for style, video in oracle],
                               {i: name for name, i in numbers.items()})
    return World(name or data_dir.name, answer, first, posts,
                 {"predicted": predicted_grouping, "oracle": oracle_grouping})


def planned_world(preset: str, seed: int) -> World:
    """A world's truth straight from its plan (no pixels, no ingest): every video in its true style.

    Cheap enough to draw many seeds for development; it has only the oracle grouping.
    """
    from world.answers import _style_truth  # the answer key's own rule for "rose" and "take-off"
    from world.config import world_config
    from world.society import plan_world

    plan = plan_world(world_config(preset, seed=seed))
    season = [p for p in plan.posts if not p.held_out]
    start = plan.config.season_start
    styles = []
    for style in plan.styles:
        truth = _style_truth(plan, style.id, season)
        takeoff = truth["takeoff_day"]
        styles.append(scorer.TrueStyle(str(style.id), rose=truth["rose"],
                                       takeoff=None if takeoff is None else start + dt.timedelta(days=takeoff)))
    handles = {c.index: c.handle for c in plan.creators}
    videos = [scorer.TrueVideo(p.file_stem + ".mp4", handles[p.creator], start + dt.timedelta(days=p.day),
                               (str(p.style),)) for p in season]
    answer = scorer.AnswerKey(videos, styles, [], [])
    first = min(p.day for p in season)
    posts = [(handles[p.creator], p.day - first) for p in season]
    sightings = [(p.style, handles[p.creator], p.day - first) for p in season]
    grouping = Grouping(sightings, {s.id: str(s.id) for s in plan.styles})
    return World(f"plan:{preset}:{seed}", answer, start + dt.timedelta(days=first), posts, {"oracle": grouping})


# --------------------------------------------------------------------------------------
# detectors under comparison
# --------------------------------------------------------------------------------------
Judgement = dict[int, tuple[int | None, bool]]  # style -> (first day flagged, rising on the last day)
Judge = Callable[[list[tuple[str, int]], list[tuple[int, str, int]], int], Judgement]  # posts, sightings, days


def post_counts(posts: list[tuple[str, int]], n_days: int) -> np.ndarray:
    counts = np.zeros(n_days)
    for _, day in posts:
        counts[day] += 1
    return counts


def array_judge(detect: Callable[[rd.StyleDays, Any], rd.Verdict], config: Any) -> Judge:
    """A judge from a detector on per-day arrays."""

    def judge(posts: list[tuple[str, int]], sightings: list[tuple[int, str, int]], n_days: int) -> Judgement:
        verdicts = {style: detect(days, config)
                    for style, days in rd.style_days(sightings, post_counts(posts, n_days)).items()}
        return {style: (v.first_flag, bool(v.flags[-1])) for style, v in verdicts.items()}

    return judge


def current_judge(config: trends_mod.RisingConfig) -> Judge:
    """The shipped detector (``inference.trends.rising_styles``) on the same sightings."""
    day0 = dt.date(2026, 1, 1)

    def judge(posts: list[tuple[str, int]], sightings: list[tuple[int, str, int]], n_days: int) -> Judgement:
        on = [day0 + dt.timedelta(days=day) for _, day in posts]
        data = trends_mod.TrendData(
            [trends_mod.Sighting(style, i, creator, 0, day0 + dt.timedelta(days=day), 1, 1, 1, 0.0, i, 0.0, "")
             for i, (style, creator, day) in enumerate(sightings)],
            [trends_mod.Post(i, creator, 0, day) for i, ((creator, _), day) in enumerate(zip(posts, on, strict=True))],
            {},
        )
        return {t.style_id: (None if t.takeoff is None else (t.takeoff - day0).days, t.state == "rising")
                for t in trends_mod.rising_styles(data, config, as_of=day0 + dt.timedelta(days=n_days - 1))}

    return judge


# --------------------------------------------------------------------------------------
# scores
# --------------------------------------------------------------------------------------
def accuracy(world: World, grouping: Grouping, judgement: Judgement) -> scorer.RisingScore:
    flagged = {style: world.first_day + dt.timedelta(days=first)
               for style, (first, _) in judgement.items() if first is not None}
    return scorer.rising_scores(world.answer, flagged, grouping.mapping)


@dataclasses.dataclass
class Stability:
    trials: int
    styles_checked: int  # style-trials: styles with >= 20 videos untouched by the added videos
    flips: int  # of those, ever-flagged or rising-on-the-last-day changed
    moved: int  # of those, the first flagged day moved

    @property
    def flip_rate(self) -> float | None:
        return self.flips / self.styles_checked if self.styles_checked else None


def stability(world: World, grouping: Grouping, judge: Judge, base: Judgement, trials: int,
              seed: int = 0) -> Stability:
    """Add 1-10 unrelated videos on random days, ``trials`` times; count flag changes of big styles."""
    rng = np.random.default_rng(seed)
    size: dict[int, int] = {}
    for style, _, _ in grouping.sightings:
        size[style] = size.get(style, 0) + 1
    big = {style for style, n in size.items() if n >= STABLE_MIN_VIDEOS}
    creators = sorted({creator for creator, _ in world.posts})
    styles = sorted(size)
    checked = flips = moved = 0
    for _ in range(trials):
        posts, sightings, touched = list(world.posts), list(grouping.sightings), set()
        for _ in range(int(rng.integers(1, 11))):
            creator, day = creators[int(rng.integers(len(creators)))], int(rng.integers(world.n_days))
            posts.append((creator, day))
            if rng.random() < 0.5:  # a video of another style; else one where no style was found
                style = styles[int(rng.integers(len(styles)))]
                sightings.append((style, creator, day))
                touched.add(style)
        after = judge(posts, sightings, world.n_days)
        for style in big - touched:
            checked += 1
            (first0, last0), (first1, last1) = base.get(style, (None, False)), after.get(style, (None, False))
            flips += (first0 is None) != (first1 is None) or last0 != last1
            moved += first0 != first1
    return Stability(trials, checked, flips, moved)


def next_day_flips(world: World, grouping: Grouping, judge: Judge, videos: int = 4) -> int:
    """Styles whose "rising now" on the day after the last changes when ``videos`` unrelated
    videos are posted that day (the issue's "4 unrelated videos turned the report into 0 rising")."""
    quiet = judge(world.posts, grouping.sightings, world.n_days + 1)
    after = judge(world.posts + [("unrelated", world.n_days)] * videos, grouping.sightings, world.n_days + 1)
    return sum(quiet.get(style, (None, False))[1] != after.get(style, (None, False))[1] for style in quiet)


def detectors() -> dict[str, Judge]:
    """Every detector under comparison, by name (the alternatives at their best dev-plan settings)."""
    return {
        "current": current_judge(trends_mod.load_config().rising),
        "cusum-videos": array_judge(rd.cusum, rd.CusumConfig(signal="videos", threshold=4.0)),
        "cusum-new": array_judge(rd.cusum, rd.CusumConfig(signal="new_creators")),
        "kleinberg": array_judge(rd.kleinberg, rd.BurstConfig(signal="videos")),
        "kleinberg-new": array_judge(rd.kleinberg, rd.BurstConfig(signal="new_creators")),
        "spread": array_judge(rd.spread, rd.SpreadConfig()),
    }


# --------------------------------------------------------------------------------------
# evidence: what a risen style shows by its take-off + 7 days
# --------------------------------------------------------------------------------------
@dataclasses.dataclass
class Evidence:
    world: str
    style: str
    takeoff_day: int  # days since the season's first post
    videos: int  # videos of the style posted by take-off + 7 days
    creators: int  # distinct creators among them
    total_videos: int  # videos of the style in the season


def evidence(world: World, days_after: int = 7) -> list[Evidence]:
    """Per truly risen style, its videos and creators up to ``days_after`` its true take-off."""
    found = []
    for style in world.answer.rising_styles():
        assert style.takeoff is not None
        worn = [v for v in world.answer.videos if style.id in v.styles and not v.held_out]
        by = [v for v in worn if (v.posted_at - style.takeoff).days <= days_after]
        found.append(Evidence(world.name, style.id, (style.takeoff - world.first_day).days, len(by),
                              len({v.creator for v in by}), len(worn)))
    return found


def evidence_summary(label: str, found: list[Evidence]) -> str:
    if not found:
        return f"{label}: no risen styles"
    videos, creators = [e.videos for e in found], [e.creators for e in found]
    return (f"{label}: {len(found)} risen styles; by take-off + 7 days: videos median {statistics.median(videos):g} "
            f"(min {min(videos)}), creators median {statistics.median(creators):g} (min {min(creators)}); "
            f"{sum(c <= 3 for c in creators) / len(found):.0%} have <= 3 creators; take-off day median "
            f"{statistics.median(e.takeoff_day for e in found):g}, {sum(e.takeoff_day < 14 for e in found) / len(found):.0%}"
            f" before day 14")


# --------------------------------------------------------------------------------------
# running and reporting
# --------------------------------------------------------------------------------------
@dataclasses.dataclass
class Row:
    world: str
    grouping: str
    detector: str
    precision: float | None
    recall: float | None
    within_7_days: float | None
    mean_days_late: float | None
    flagged: int
    truly_rising: int
    flip_rate: float | None  # share of (big style, trial) checks whose flag flipped
    moved_rate: float | None  # share whose first flagged day moved
    next_day_flips: int  # styles whose "rising now" changed with 4 unrelated videos the day after the last
    checks: int = 0  # (style with >= 20 videos, trial) pairs behind flip_rate and moved_rate


def evaluate(world: World, judges: dict[str, Judge], trials: int) -> list[Row]:
    rows = []
    for grouping_name, grouping in world.groupings.items():
        for name, judge in judges.items():
            base = judge(world.posts, grouping.sightings, world.n_days)
            score = accuracy(world, grouping, base)
            stable = stability(world, grouping, judge, base, trials) if trials else None
            checked = stable.styles_checked if stable else 0
            rows.append(Row(world.name, grouping_name, name, score.precision, score.recall, score.within_7_days,
                            score.mean_days_late, score.flagged, score.truly_rising,
                            stable.flips / checked if stable and checked else None,
                            stable.moved / checked if stable and checked else None,
                            next_day_flips(world, grouping, judge), checked))
    return rows


def _cell(value: float | None, digits: int = 2) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def table(rows: list[Row]) -> str:
    lines = [f"{'world':<22} {'styles':<9} {'detector':<14} {'P':>5} {'R':>5} {'<=7d':>5} {'late':>5} "
             f"{'flag/true':>9} {'flips':>6} {'moved':>6} {'checks':>6} {'+4next':>6}"]
    for r in rows:
        lines.append(f"{r.world:<22} {r.grouping:<9} {r.detector:<14} {_cell(r.precision):>5} {_cell(r.recall):>5} "
                     f"{_cell(r.within_7_days):>5} {_cell(r.mean_days_late, 1):>5} "
                     f"{f'{r.flagged}/{r.truly_rising}':>9} {_cell(r.flip_rate, 3):>6} {_cell(r.moved_rate, 3):>6} "
                     f"{r.checks:>6} {r.next_day_flips:>6}")
    return "\n".join(lines)


def _known(values: list[float | None]) -> list[float]:
    return [v for v in values if v is not None]


def summary(rows: list[Row], label: str) -> list[Row]:
    """Mean and worst over worlds per grouping and detector (a world flagging nothing has precision 1,
    a world where nothing rose is left out of recall)."""
    out = []
    for grouping, detector in dict.fromkeys((r.grouping, r.detector) for r in rows):
        group = [r for r in rows if (r.grouping, r.detector) == (grouping, detector)]
        precision = [1.0 if r.precision is None else r.precision for r in group]
        recall = _known([r.recall for r in group]) or [0.0]
        within = _known([r.within_7_days for r in group]) or [0.0]
        late, flips, moved = (_known([getattr(r, f) for r in group]) for f in ("mean_days_late", "flip_rate",
                                                                                 "moved_rate"))
        flagged, true = sum(r.flagged for r in group), sum(r.truly_rising for r in group)
        next_day, checks = sum(r.next_day_flips for r in group), sum(r.checks for r in group)
        out.append(Row(f"{label} mean", grouping, detector, statistics.fmean(precision), statistics.fmean(recall),
                       statistics.fmean(within), statistics.fmean(late) if late else None, flagged, true,
                       statistics.fmean(flips) if flips else None, statistics.fmean(moved) if moved else None,
                       next_day, checks))
        out.append(Row(f"{label} worst", grouping, detector, min(precision), min(recall), min(within),
                       max(late, default=None), flagged, true, max(flips, default=None), max(moved, default=None),
                       max(r.next_day_flips for r in group), checks))
    return out


def _world(spec: str) -> World:
    """``DIR`` or ``NAME=DIR``."""
    name, _, path = spec.rpartition("=")
    return load_world(Path(path), name or None)


def _plans(spec: str) -> list[World]:
    """``demo:1000-1019`` (a range) or ``bench:101,202`` (a list) -> planned worlds of a preset."""
    preset, _, seeds = spec.partition(":")
    if "-" in seeds:
        low, _, high = seeds.partition("-")
        numbers = list(range(int(low), int(high) + 1))
    else:
        numbers = [int(seed) for seed in seeds.split(",")]
    return [planned_world(preset, seed) for seed in numbers]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--world", action="append", default=[],
                        help="development data directory, as DIR or NAME=DIR (repeatable)")
    parser.add_argument("--held-out", action="append", default=[],
                        help="held-out data directory, as DIR or NAME=DIR (repeatable)")
    parser.add_argument("--plans", action="append", default=[],
                        help="planned worlds, e.g. demo:1000-1019 or bench:101,202 (oracle styles only)")
    parser.add_argument("--detector", action="append", default=[], help="only these detectors")
    parser.add_argument("--trials", type=int, default=30, help="stability trials per world and grouping (0: skip)")
    parser.add_argument("--json", help="write every row and the evidence here")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    judges = {k: v for k, v in detectors().items() if not args.detector or k in args.detector}
    sections = [("dev", [_world(spec) for spec in args.world], True),
                ("held-out", [_world(spec) for spec in args.held_out], True)]
    sections += [(f"plans {spec}", _plans(spec), False) for spec in args.plans]
    report: dict[str, Any] = {}
    for label, worlds, per_world in sections:
        if not worlds:
            continue
        rows = [row for world in worlds for row in evaluate(world, judges, args.trials)]
        found = [e for world in worlds for e in evidence(world)]
        print(f"\n## {label}")
        if per_world:
            print(table(rows))
        print(table(summary(rows, label)))
        print(evidence_summary(f"evidence ({label})", found))
        report[label] = {"rows": [dataclasses.asdict(r) for r in rows],
                         "evidence": [dataclasses.asdict(e) for e in found]}
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
