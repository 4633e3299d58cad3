"""Scoring a catalog against the creator world's answer key.

The scorer works on plain data so that hand-made cases have known answers:

- garment boxes: each catalog garment is matched to the true garment of the same video
  (by file name), the nearest true frame in time, and the same kind; its IoU with that
  true box (0 when there is no true garment of that kind there);
- style clustering: NMI, ARI and purity of the predicted styles against the true style of
  each matched garment;
- originators: top-1 / top-3 accuracy over the styles that truly rose, each predicted style
  standing for the true style most of its garments belong to (majority);
- rising styles: precision / recall of the flagged styles and how many days after the true
  take-off each true rising style was first flagged;
- search: recall@10 of image queries (frames of held-out videos) against the catalog
  garments of the query's true style.

:func:`load_answer_key` reads an answer key folder; :func:`evaluate` scores a catalog
against it with whatever later stages pass in (predicted styles, originator rankings,
flagged rising styles, a search function).
"""

from __future__ import annotations

import bisect
import dataclasses
import datetime as dt
import json
import logging
import math
import statistics
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from core.errors import BadInputError
from inference.types import Box

logger = logging.getLogger(__name__)

ANSWERS_DIR = "answers"
UNASSIGNED = -1  # predicted style of a garment a clusterer left out (noise)


class AnswerKeyError(BadInputError):
    """An answer key folder is missing, incomplete or malformed."""


# ----------------------------------------------------------------------------- plain data


@dataclasses.dataclass(frozen=True)
class TrueGarment:
    """One garment in one frame of the answer key."""

    video: str  # video file name, e.g. v00042.mp4
    frame: int  # frame index in the video
    t_s: float  # frame time in seconds
    kind: str  # top, bottom or full
    style: str  # true style id
    box: Box  # upright frame pixels


@dataclasses.dataclass(frozen=True)
class TrueStyle:
    """A style of the answer key, with what the trend stages should find about it."""

    id: str  # style id
    name: str = ""  # readable recipe, e.g. "navy striped t-shirt + blue denim jeans"
    originator: str | None = None  # handle of the creator who wore it first
    rose: bool = False  # whether it truly rose during the season
    takeoff: dt.date | None = None  # day it took off (rising styles)
    lookalike_of: str | None = None  # style it is a near-lookalike of


@dataclasses.dataclass(frozen=True)
class TrueVideo:
    """A video of the answer key."""

    file: str  # file name, e.g. v00042.mp4
    creator: str  # creator handle
    posted_at: dt.date  # post date
    styles: tuple[str, ...]  # styles worn
    held_out: bool = False  # a search query video, not in the manifest
    path: str = ""  # path relative to the world folder, e.g. queries/q00007.mp4


@dataclasses.dataclass(frozen=True)
class TrueCreator:
    """A creator of the answer key."""

    handle: str
    followers: int
    tier: str
    is_trendsetter: bool


@dataclasses.dataclass
class AnswerKey:
    """Everything the world knows to be true."""

    videos: list[TrueVideo]
    styles: list[TrueStyle]
    creators: list[TrueCreator]
    garments: list[TrueGarment]
    folder: Path | None = None
    # video file -> times of frames that show no garment at all (title cards, empty rooms)
    blank_frames: dict[str, list[float]] = dataclasses.field(default_factory=dict)

    def matcher(self) -> GarmentMatcher:
        """A :class:`GarmentMatcher` over this key's garments and blank frames."""
        return GarmentMatcher(self.garments, self.blank_frames)

    def style(self, style_id: str) -> TrueStyle:
        for style in self.styles:
            if style.id == style_id:
                return style
        raise KeyError(style_id)

    def rising_styles(self) -> list[TrueStyle]:
        return [s for s in self.styles if s.rose]


@dataclasses.dataclass(frozen=True)
class FoundGarment:
    """A catalog garment as the scorer needs it (a subset of the catalog's GarmentRecord)."""

    id: int  # catalog garment id
    video: str  # file name of the video it came from
    t_s: float  # moment in the video, seconds
    kind: str  # top, bottom or full
    box: Box  # upright frame pixels


# ----------------------------------------------------------------------------- boxes


class GarmentMatcher:
    """Finds the true garment behind a found one: same video, nearest frame time, same kind.

    ``blank_frames`` (video file -> frame times) are frames that show no garment: a crop
    nearest to one of them matches nothing, rather than the garment of the nearest frame
    that shows one (a title card before the first shot of a person is not that person).
    """

    def __init__(self, truth: Iterable[TrueGarment], blank_frames: Mapping[str, Iterable[float]] | None = None):
        frames: dict[str, dict[float, dict[str, TrueGarment]]] = defaultdict(lambda: defaultdict(dict))
        for video, times in (blank_frames or {}).items():
            for t_s in times:
                frames[video][round(float(t_s), 4)] = {}
        for garment in truth:
            frames[garment.video][garment.t_s][garment.kind] = garment
        self._times = {video: sorted(by_time) for video, by_time in frames.items()}
        self._frames = frames

    def match(self, found: FoundGarment) -> TrueGarment | None:
        """The true garment ``found`` shows, or None (unknown video, or no such kind there)."""
        times = self._times.get(found.video)
        if not times:
            return None
        i = bisect.bisect_left(times, found.t_s)
        candidates = [times[j] for j in (i - 1, i) if 0 <= j < len(times)]
        nearest = min(candidates, key=lambda t: abs(t - found.t_s))
        return self._frames[found.video][nearest].get(found.kind)


@dataclasses.dataclass(frozen=True)
class BoxScore:
    """How well the localiser's boxes fit the true garments."""

    garments: int  # found garments scored
    matched: int  # found garments with a true garment of their kind in that frame
    mean_iou: float  # mean IoU over all found garments (unmatched count as 0)
    median_iou: float  # median of the same
    share_iou_50: float  # share of found garments with IoU >= 0.5
    by_kind: dict[str, float]  # mean IoU per kind


def box_scores(found: Sequence[FoundGarment], matcher: GarmentMatcher) -> BoxScore:
    """IoU of every found garment with its true garment (0 where there is none).

    Raises:
        ValueError: when ``found`` is empty (nothing to score).
    """
    if not found:
        raise ValueError("no catalog garments to score")
    ious: list[float] = []
    per_kind: dict[str, list[float]] = defaultdict(list)
    matched = 0
    for garment in found:
        truth = matcher.match(garment)
        iou = 0.0 if truth is None else garment.box.iou(truth.box)
        matched += truth is not None
        ious.append(iou)
        per_kind[garment.kind].append(iou)
    return BoxScore(
        garments=len(found),
        matched=matched,
        mean_iou=float(np.mean(ious)),
        median_iou=float(np.median(ious)),
        share_iou_50=float(np.mean([iou >= 0.5 for iou in ious])),
        by_kind={kind: float(np.mean(values)) for kind, values in sorted(per_kind.items())},
    )


def true_styles_of(found: Sequence[FoundGarment], matcher: GarmentMatcher) -> dict[int, str]:
    """Catalog garment id -> true style id, for the garments that match a true garment."""
    styles: dict[int, str] = {}
    for garment in found:
        truth = matcher.match(garment)
        if truth is not None:
            styles[garment.id] = truth.style
    return styles


# ----------------------------------------------------------------------------- non-garments

GARMENT_IOU = 0.1  # a crop shows a garment when it overlaps a true garment of its kind at least this much


@dataclasses.dataclass(frozen=True)
class JunkScore:
    """Crops that show no garment (walls, title cards, empty rooms) against the styles, and
    real garments the screen kept out of them."""

    crops: int  # catalog crops scored
    non_garments: int  # crops with no true garment of their kind in the frame (IoU < GARMENT_IOU)
    non_garments_styled: float | None  # share of them in a style (None: no non-garment crops)
    styled_non_garments: float | None  # share of the crops in a style that are non-garments (None: none styled)
    garments_set_aside: float | None  # share of real garment crops the screen kept out of styles
    set_aside_reasons: dict[str, int]  # real garments set aside, per reason
    medoids_no_garment: int | None = None  # styles whose medoid (nearest crop) shows no garment (None: not scored)


def junk_scores(found: Sequence[FoundGarment], matcher: GarmentMatcher, predicted: Mapping[int, int],
                set_aside: Mapping[int, str], medoids: Mapping[int, int] | None = None) -> JunkScore:
    """How many non-garment crops reach a style, and how many garments the screen wrongly rejects.

    Args:
        predicted: catalog garment id -> its style (garments in a style).
        set_aside: catalog garment id -> why the screen kept it out of styles.
        medoids: style id -> its medoid's garment id (the crop shown as its typical garment);
            styles whose medoid is not one of ``found`` are not counted.
    """
    def shows_garment(garment: FoundGarment) -> bool:
        truth = matcher.match(garment)
        return truth is not None and garment.box.iou(truth.box) >= GARMENT_IOU

    real = {g.id for g in found if shows_garment(g)}
    junk = [g.id for g in found if g.id not in real]
    styled = [g.id for g in found if g.id in predicted]
    rejected = [set_aside[i] for i in sorted(real) if i in set_aside]
    return JunkScore(
        crops=len(found), non_garments=len(junk),
        non_garments_styled=float(np.mean([i in predicted for i in junk])) if junk else None,
        styled_non_garments=float(np.mean([i not in real for i in styled])) if styled else None,
        garments_set_aside=len(rejected) / len(real) if real else None,
        set_aside_reasons=dict(Counter(rejected)),
        medoids_no_garment=None if medoids is None else sum(
            1 for g in medoids.values() if g in {f.id for f in found} and g not in real),
    )


# ----------------------------------------------------------------------------- clustering


@dataclasses.dataclass(frozen=True)
class ClusterScore:
    """Predicted styles against true styles, over garments that have both."""

    garments: int  # garments scored (matched to a truth and assigned a predicted style)
    coverage: float  # share of matched garments the clusterer assigned (not noise)
    true_styles: int  # distinct true styles among them
    predicted_styles: int  # distinct predicted styles among them
    nmi: float  # normalised mutual information (arithmetic mean normalisation)
    ari: float  # adjusted Rand index
    purity: float  # share of garments in their cluster's majority true style


def cluster_scores(true_style: Mapping[int, str], predicted: Mapping[int, int]) -> ClusterScore:
    """Score predicted styles (garment id -> style id) against true ones (garment id -> style).

    Garments the clusterer left unassigned (:data:`UNASSIGNED`, or absent from
    ``predicted``) lower ``coverage`` and are otherwise left out.

    Raises:
        ValueError: when no garment has both a true and a predicted style.
    """
    from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score

    ids = [g for g in true_style if predicted.get(g, UNASSIGNED) != UNASSIGNED]
    if not ids:
        raise ValueError("no garment has both a true style and a predicted style")
    truth = [true_style[g] for g in ids]
    guess = [predicted[g] for g in ids]
    return ClusterScore(
        garments=len(ids),
        coverage=len(ids) / len(true_style),
        true_styles=len(set(truth)),
        predicted_styles=len(set(guess)),
        nmi=float(normalized_mutual_info_score(truth, guess)),
        ari=float(adjusted_rand_score(truth, guess)),
        purity=purity(truth, guess),
    )


def purity(truth: Sequence[Any], guess: Sequence[Any]) -> float:
    """Share of items whose predicted cluster's majority true label is their own."""
    if not truth:
        raise ValueError("purity of nothing")
    members: dict[Any, Counter[Any]] = defaultdict(Counter)
    for t, g in zip(truth, guess, strict=True):
        members[g][t] += 1
    return sum(c.most_common(1)[0][1] for c in members.values()) / len(truth)


def majority_mapping(true_style: Mapping[int, str], predicted: Mapping[int, int]) -> dict[int, str]:
    """Predicted style -> the true style most of its matched garments belong to.

    Ties go to the true style id that sorts first, so the mapping is deterministic.
    """
    votes: dict[int, Counter[str]] = defaultdict(Counter)
    for garment, style in predicted.items():
        if style != UNASSIGNED and garment in true_style:
            votes[style][true_style[garment]] += 1
    mapping = {}
    for style, counter in votes.items():
        best = max(counter.values())
        mapping[style] = min(t for t, n in counter.items() if n == best)
    return mapping


def representatives(
    true_style: Mapping[int, str], predicted: Mapping[int, int], mapping: Mapping[int, str]
) -> dict[str, int]:
    """True style -> the predicted style that holds most of its garments among those mapped to it."""
    counts: Counter[tuple[str, int]] = Counter()
    for garment, style in predicted.items():
        if style in mapping and true_style.get(garment) == mapping[style]:
            counts[(mapping[style], style)] += 1
    best: dict[str, tuple[int, int]] = {}
    for (truth, style), n in counts.items():
        if truth not in best or (n, -style) > (best[truth][0], -best[truth][1]):
            best[truth] = (n, style)
    return {truth: style for truth, (_, style) in best.items()}


# ----------------------------------------------------------------------------- originators


@dataclasses.dataclass(frozen=True)
class OriginatorScore:
    """Whether the true originator of each truly rising style was named."""

    styles: int  # truly rising styles scored
    top1: float | None  # share whose first-ranked creator is the true originator (None: no styles)
    top3: float | None  # share with the true originator in the top three
    per_style: dict[str, int | None]  # true style -> rank of the true originator (1-based), None if absent


def originator_scores(
    answer: AnswerKey,
    rankings: Mapping[int, Sequence[str]],
    representative: Mapping[str, int],
) -> OriginatorScore:
    """Top-1 / top-3 originator accuracy over the styles that truly rose.

    Args:
        answer: the answer key.
        rankings: predicted style -> creator handles, most likely originator first.
        representative: true style -> the predicted style standing for it
            (:func:`representatives`); a rising style without one counts as missed.
    """
    ranks: dict[str, int | None] = {}
    for style in answer.rising_styles():
        predicted = representative.get(style.id)
        ranking = list(rankings.get(predicted, [])) if predicted is not None else []
        ranks[style.id] = ranking.index(style.originator) + 1 if style.originator in ranking else None
    if not ranks:
        return OriginatorScore(0, None, None, {})
    top1 = sum(r == 1 for r in ranks.values()) / len(ranks)
    top3 = sum(r is not None and r <= 3 for r in ranks.values()) / len(ranks)
    return OriginatorScore(len(ranks), top1, top3, ranks)


# ----------------------------------------------------------------------------- rising styles


@dataclasses.dataclass(frozen=True)
class RisingScore:
    """Flagged rising styles against the styles that truly rose."""

    flagged: int  # predicted styles flagged as rising
    truly_rising: int  # true styles that rose
    precision: float | None  # flagged styles standing for a truly rising style (None: none flagged)
    recall: float | None  # truly rising styles flagged at least once (None: none rose)
    days_late: dict[str, int]  # true rising style -> days from true take-off to first flag
    mean_days_late: float | None  # mean of days_late (None: nothing found)
    within_7_days: float | None  # share of truly rising styles flagged no later than 7 days after take-off


def rising_scores(
    answer: AnswerKey, flagged: Mapping[int, dt.date], mapping: Mapping[int, str]
) -> RisingScore:
    """Precision, recall and lateness of rising-style detection.

    Args:
        answer: the answer key.
        flagged: predicted style -> the day it was first flagged as rising.
        mapping: predicted style -> true style (:func:`majority_mapping`); flagged styles
            that stand for no true style are false positives.
    """
    rising = {s.id: s for s in answer.rising_styles()}
    hits = [style for style in flagged if mapping.get(style) in rising]
    first_flag: dict[str, dt.date] = {}
    for style in hits:
        truth = mapping[style]
        if truth not in first_flag or flagged[style] < first_flag[truth]:
            first_flag[truth] = flagged[style]
    late: dict[str, int] = {}
    for truth, day in first_flag.items():
        takeoff = rising[truth].takeoff
        if takeoff is not None:
            late[truth] = (day - takeoff).days
    within = [d <= 7 for d in late.values()] + [False] * (len(rising) - len(first_flag))
    return RisingScore(
        flagged=len(flagged),
        truly_rising=len(rising),
        precision=len(hits) / len(flagged) if flagged else None,
        recall=len(first_flag) / len(rising) if rising else None,
        days_late=dict(sorted(late.items())),
        mean_days_late=float(statistics.fmean(late.values())) if late else None,
        within_7_days=float(np.mean(within)) if rising else None,
    )


# ----------------------------------------------------------------------------- trendsetters


@dataclasses.dataclass(frozen=True)
class TrendsetterScore:
    """Whether the true trendsetters lead the predicted trendsetter leaderboard."""

    true_trendsetters: int  # creators the world made trendsetters
    ranked: int  # creators on the leaderboard
    top: int  # leaderboard places counted as "top" (top_share of it, at least 1)
    recall_in_top: float | None  # share of true trendsetters in the top places (None: none exist)
    precision_in_top: float | None  # share of the top places held by true trendsetters (None: empty board)


def trendsetter_scores(answer: AnswerKey, leaderboard: Sequence[str], top_share: float = 0.1) -> TrendsetterScore:
    """How many true trendsetters are in the top ``top_share`` of ``leaderboard``.

    Args:
        answer: the answer key.
        leaderboard: creator handles, best trendsetter first (duplicates count once).
        top_share: share of the leaderboard counted as its top (0.1: the top 10%).
    """
    if not 0 < top_share <= 1:
        raise ValueError(f"top_share must be in (0, 1], got {top_share}")
    board = list(dict.fromkeys(leaderboard))
    setters = {c.handle for c in answer.creators if c.is_trendsetter}
    top = set(board[: max(1, round(top_share * len(board)))]) if board else set()
    hits = len(setters & top)
    return TrendsetterScore(
        true_trendsetters=len(setters),
        ranked=len(board),
        top=len(top),
        recall_in_top=hits / len(setters) if setters else None,
        precision_in_top=hits / len(top) if top else None,
    )


# ----------------------------------------------------------------------------- search


@dataclasses.dataclass(frozen=True)
class SearchQuery:
    """An image query with the true style it shows."""

    image: np.ndarray  # RGB uint8
    style: str  # true style id
    video: str  # the held-out video it was cut from


@dataclasses.dataclass(frozen=True)
class SearchScore:
    """Image search against garments of the query's true style."""

    queries: int  # queries scored (those whose style has garments in the catalog)
    k: int  # cut-off
    recall_at_k: float | None  # relevant garments in the top k over min(k, relevant), averaged
    hit_at_k: float | None  # share of queries with a relevant garment in the top k
    skipped: int  # queries whose style has no garment in the catalog


def search_scores(
    queries: Sequence[SearchQuery],
    search: Callable[[np.ndarray], Sequence[int]],
    true_style: Mapping[int, str],
    k: int = 10,
) -> SearchScore:
    """recall@k of ``search(image) -> garment ids`` against same-style catalog garments.

    Args:
        queries: image queries with their true styles.
        search: returns catalog garment ids, best first (only the first ``k`` are read).
        true_style: catalog garment id -> true style (:func:`true_styles_of`).
        k: cut-off.
    """
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    relevant: dict[str, set[int]] = defaultdict(set)
    for garment, style in true_style.items():
        relevant[style].add(garment)
    recalls: list[float] = []
    hits: list[bool] = []
    skipped = 0
    for query in queries:
        wanted = relevant.get(query.style, set())
        if not wanted:
            skipped += 1
            continue
        top = list(search(query.image))[:k]
        found = sum(1 for g in dict.fromkeys(top) if g in wanted)
        recalls.append(found / min(k, len(wanted)))
        hits.append(found > 0)
    return SearchScore(
        queries=len(recalls),
        k=k,
        recall_at_k=float(np.mean(recalls)) if recalls else None,
        hit_at_k=float(np.mean(hits)) if hits else None,
        skipped=skipped,
    )


def search_queries(answer: AnswerKey, kind: str = "full", per_video: int = 1) -> list[SearchQuery]:
    """Image queries cut from the held-out videos: the true ``kind`` box in evenly spread frames.

    Args:
        answer: an answer key loaded from a world folder (its videos are read from there).
        kind: which true box to cut (top, bottom or full).
        per_video: frames per held-out video (taken evenly from the frames showing ``kind``).

    Raises:
        AnswerKeyError: a held-out video file is missing or cannot be decoded.
    """
    if answer.folder is None:
        raise AnswerKeyError("the answer key was not loaded from a world folder; no videos to read")
    by_video: dict[str, list[TrueGarment]] = defaultdict(list)
    for garment in answer.garments:
        if garment.kind == kind:
            by_video[garment.video].append(garment)
    queries = []
    for video in answer.videos:
        shown = sorted(by_video.get(video.file, []), key=lambda g: g.frame)
        if not video.held_out or not shown:
            continue
        picks = [shown[(2 * i + 1) * len(shown) // (2 * per_video)] for i in range(min(per_video, len(shown)))]
        frames = read_frames(answer.folder / video.path, {g.frame for g in picks})
        for garment in picks:
            box = garment.box
            image = frames[garment.frame][box.y0 : box.y1, box.x0 : box.x1]
            queries.append(SearchQuery(np.ascontiguousarray(image), garment.style, video.file))
    return queries


def read_frames(path: Path, wanted: set[int]) -> dict[int, np.ndarray]:
    """Decode the frames numbered in ``wanted`` (RGB), reading the clip from the start."""
    import cv2

    capture = cv2.VideoCapture(str(path))
    frames: dict[int, np.ndarray] = {}
    try:
        index = 0
        while len(frames) < len(wanted) and capture.grab():
            if index in wanted:
                ok, frame = capture.retrieve()
                if ok:
                    frames[index] = cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
            index += 1
    finally:
        capture.release()
    missing = wanted - set(frames)
    if missing:
        raise AnswerKeyError(f"cannot decode frames {sorted(missing)[:5]} of query video {path}")
    return frames


# ----------------------------------------------------------------------------- whole report


@dataclasses.dataclass
class WorldReport:
    """Every score the catalog could be given (None where the stage was not supplied)."""

    boxes: BoxScore
    clusters: ClusterScore | None = None
    originators: OriginatorScore | None = None
    rising: RisingScore | None = None
    search: SearchScore | None = None
    trendsetters: TrendsetterScore | None = None
    junk: JunkScore | None = None

    def to_dict(self) -> dict[str, Any]:
        return _plain(dataclasses.asdict(self))


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


def evaluate(
    answer: AnswerKey,
    found: Sequence[FoundGarment],
    predicted: Mapping[int, int] | None = None,
    rankings: Mapping[int, Sequence[str]] | None = None,
    flagged: Mapping[int, dt.date] | None = None,
    search: Callable[[np.ndarray], Sequence[int]] | None = None,
    queries: Sequence[SearchQuery] = (),
    leaderboard: Sequence[str] | None = None,
    set_aside: Mapping[int, str] | None = None,
    medoids: Mapping[int, int] | None = None,
) -> WorldReport:
    """Score what the pipeline found against the answer key.

    Args:
        answer: the answer key.
        found: catalog garments.
        predicted: catalog garment id -> predicted style id (clustering); None skips the
            clustering, originator and rising scores.
        rankings: predicted style -> creator handles ranked as its originator.
        flagged: predicted style -> day first flagged as rising.
        search: image search returning catalog garment ids; scored on ``queries``.
        queries: image queries (from held-out videos) with their true styles.
        leaderboard: creator handles ranked as trendsetters, best first.
        set_aside: catalog garment id -> why the screen kept it out of styles; with
            ``predicted``, scores the non-garment crops (:func:`junk_scores`).
        medoids: style id -> its medoid's garment id (scored with the non-garment crops).
    """
    matcher = answer.matcher()
    report = WorldReport(boxes=box_scores(found, matcher))
    truth = true_styles_of(found, matcher)
    if predicted:
        report.clusters = cluster_scores(truth, predicted)
        mapping = majority_mapping(truth, predicted)
        if rankings is not None:
            report.originators = originator_scores(answer, rankings, representatives(truth, predicted, mapping))
        if flagged is not None:
            report.rising = rising_scores(answer, flagged, mapping)
    if predicted and set_aside is not None:
        report.junk = junk_scores(found, matcher, predicted, set_aside, medoids)
    if search is not None and queries:
        report.search = search_scores(queries, search, truth)
    if leaderboard is not None:
        report.trendsetters = trendsetter_scores(answer, leaderboard)
    return report


# ----------------------------------------------------------------------------- reading


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise AnswerKeyError(
            f"no answer key at {path}; pass the folder `stylescope world generate` wrote"
        ) from None
    except (OSError, ValueError) as exc:
        raise AnswerKeyError(f"cannot read answer key file {path}: {exc}") from None


def world_folder(path: str | Path) -> Path:
    """The world folder holding ``answers/`` (accepts the ``answers/`` folder itself)."""
    path = Path(path).expanduser()
    if path.name == ANSWERS_DIR and not (path / ANSWERS_DIR).is_dir():
        path = path.parent
    if not path.is_dir():
        raise AnswerKeyError(f"no creator world folder at {path}")
    if (path / "INCOMPLETE").exists():
        raise AnswerKeyError(f"the creator world in {path} is incomplete (generation did not finish); regenerate it")
    return path


def load_answer_key(path: str | Path) -> AnswerKey:
    """Read the answer key a creator world was written with.

    The key is ``answers/world.json`` (season, creators, styles, videos) and
    ``answers/boxes.parquet`` (per video frame and kind: the true box, empty where the
    garment is not visible). Each video wears one style; its garments carry that style.

    Args:
        path: the world folder (or its ``answers/`` folder).

    Raises:
        AnswerKeyError: missing files, bad JSON/Parquet, missing fields, or a world whose
            generation did not finish.
    """
    root = world_folder(path)
    answers = root / ANSWERS_DIR
    payload = _read_json(answers / TRUTH_FILE)
    try:
        start = dt.date.fromisoformat(str(payload["season"]["start"]))
        videos = [_video(v) for v in payload["videos"]]
        styles = [_style(s, start) for s in payload["styles"]]
        creators = [_creator(c) for c in payload["creators"]]
        garments, blank = _garments(answers / BOXES_FILE, payload["videos"])
    except (KeyError, TypeError, ValueError) as exc:
        raise AnswerKeyError(f"malformed answer key in {answers}: {exc!r}") from None
    return AnswerKey(videos=videos, styles=styles, creators=creators, garments=garments, folder=root,
                     blank_frames=blank)


TRUTH_FILE = "world.json"
BOXES_FILE = "boxes.parquet"
BOX_COLUMNS = ("video", "frame", "t_s", "kind", "x0", "y0", "x1", "y1")


def _video(v: dict[str, Any]) -> TrueVideo:
    return TrueVideo(
        file=Path(str(v["file"])).name,
        creator=str(v["creator"]),
        posted_at=dt.date.fromisoformat(str(v["posted_at"])[:10]),
        styles=(str(v["style"]),),
        held_out=bool(v.get("held_out", False)),
        path=str(v["file"]),
    )


def _style(s: dict[str, Any], season_start: dt.date) -> TrueStyle:
    lookalike = s.get("lookalike_of")
    takeoff = s.get("takeoff_day")
    return TrueStyle(
        id=str(s["id"]),
        name=str(s.get("description", "")),
        originator=s.get("originator"),
        rose=bool(s.get("rose", False)),
        takeoff=None if takeoff is None else season_start + dt.timedelta(days=int(takeoff)),
        lookalike_of=None if lookalike is None else str(lookalike),
    )


def _creator(c: dict[str, Any]) -> TrueCreator:
    return TrueCreator(
        handle=str(c["handle"]),
        followers=int(c["followers"]),
        tier=str(c["tier"]),
        is_trendsetter=bool(c["trendsetter"]),
    )


def _garments(path: Path, videos: list[dict[str, Any]]) -> tuple[list[TrueGarment], dict[str, list[float]]]:
    """The key's visible garments, and per video file the times of frames where none is visible."""
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(path, columns=list(BOX_COLUMNS)).to_pydict()
    except FileNotFoundError:
        raise AnswerKeyError(f"answer key has no true boxes: {path} is missing") from None
    except Exception as exc:  # pyarrow raises several types for a bad file
        raise AnswerKeyError(f"cannot read true boxes {path}: {exc}") from None
    by_name = {str(v["name"]): v for v in videos}
    garments = []
    listed: dict[str, set[float]] = defaultdict(set)  # every frame time the key lists, per video file
    for name, frame, t_s, kind, x0, y0, x1, y1 in zip(*(table[c] for c in BOX_COLUMNS), strict=True):
        video = by_name[str(name)]
        listed[Path(str(video["file"])).name].add(round(float(t_s), 4))
        if x0 is None:  # not visible in this frame
            continue
        garments.append(
            TrueGarment(
                video=Path(str(video["file"])).name,
                frame=int(frame),
                t_s=round(float(t_s), 4),
                kind=str(kind),
                style=str(video["style"]),
                box=Box(int(x0), int(y0), int(x1), int(y1)),
            )
        )
    shown: dict[str, set[float]] = defaultdict(set)
    for garment in garments:
        shown[garment.video].add(garment.t_s)
    blank = {video: sorted(times - shown[video]) for video, times in listed.items() if times - shown[video]}
    return garments, blank


@dataclasses.dataclass(frozen=True)
class KeyMatch:
    """Which catalog videos the answer key describes (:func:`own_garments`)."""

    own_videos: int  # named in the key with its creator and post date
    other_videos: int  # not in the key: uploaded beside the world, left out of the scores
    mismatched: list[str]  # named in the key, but with another creator or post date


def own_garments(answer: AnswerKey, records: Iterable[Any]) -> tuple[list[Any], KeyMatch]:
    """The catalog garments of the world's own videos, and how the catalog matches the key.

    A video is the world's own when the key names its file with the same creator and post
    date. Garments of other videos (uploaded beside the world) are left out of the scores.

    Raises:
        AnswerKeyError: the key does not belong to this catalog: most of the videos it names
            carry another creator or post date (a world generated with another seed).
    """
    truth = {v.file: v for v in answer.videos if not v.held_out}
    records = list(records)
    own, other, mismatched = [], set(), set()
    for record in records:
        name = Path(record.source_path).name
        video = truth.get(name)
        if video is None:
            other.add(name)
        elif (str(record.creator or "").lstrip("@").lower() != video.creator.lstrip("@").lower()
              or str(record.posted_at or "")[:10] != video.posted_at.isoformat()):
            mismatched.add(name)
        else:
            own.append(record)
    matched = {Path(r.source_path).name for r in own}
    where = f" in {answer.folder}" if answer.folder else ""
    if mismatched and len(mismatched) >= len(matched):
        raise AnswerKeyError(
            f"the answer key{where} does not belong to this catalog: {len(mismatched)} of the "
            f"{len(mismatched) + len(matched)} videos it names have another creator or post date here "
            f"(e.g. {sorted(mismatched)[0]}); was the catalog ingested from a world of another seed?"
        )
    if not matched:
        raise AnswerKeyError(f"the answer key{where} names none of this catalog's videos: "
                             "ingest the world's manifest.csv first")
    return own, KeyMatch(len(matched), len(other), sorted(mismatched))


def found_garments(records: Iterable[Any]) -> list[FoundGarment]:
    """Catalog GarmentRecords as FoundGarments (video = file name of the source path)."""
    return [
        FoundGarment(id=r.id, video=Path(r.source_path).name, t_s=float(r.t_s), kind=r.kind, box=r.box)
        for r in records
    ]
