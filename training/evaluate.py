"""Evaluate an encoder: Fashion-MNIST zero-shot, creator-world retrieval, phrasing robustness.

Metrics work on embeddings, so the same code scores any encoder; an :class:`EmbedView`
supplies them (straight from an encoder, or from cached tower features + heads while
training).

Retrieval is scored two ways, both at k = 10:
- ``hit@10``: share of queries with at least one relevant item in the top 10 (the
  "recall@K" of CLIP retrieval benchmarks);
- ``recall@10``: relevant items found in the top 10 over ``min(10, relevant)``, averaged
  over queries (stricter: needs the whole top 10 right when there are 10+ relevant items).

:func:`match_thresholds` derives the search's match strength cut-offs (strong / fair / weak,
:mod:`models.match`) from the eval sets' same-style and different-style pairs; training
records them in the model version.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from models.base import l2_normalise
from models.match import MODES, MatchThresholds, derive_cutoffs
from training import data as datasets

logger = logging.getLogger(__name__)

K = 10


class EmbedView:
    """What evaluation needs from an encoder: embeddings of a pair set's images and of texts."""

    def images(self, pairs: datasets.PairSet) -> np.ndarray:
        """L2-normalised embeddings (N, D) of every image in ``pairs``."""
        raise NotImplementedError

    def texts(self, texts: Sequence[str]) -> np.ndarray:
        """L2-normalised embeddings (N, D) of ``texts``."""
        raise NotImplementedError


class EncoderView(EmbedView):
    """Embeddings computed by an encoder through the embedding stage."""

    def __init__(self, encoder: Any, batch_size: int = 16):
        self.encoder, self.batch_size = encoder, batch_size

    def images(self, pairs: datasets.PairSet) -> np.ndarray:
        from inference.embed import embed_crops

        return embed_crops(self.encoder, pairs.images, batch_size=self.batch_size)

    def texts(self, texts: Sequence[str]) -> np.ndarray:
        chunks = [self.encoder.encode_text(list(texts[i : i + 256])) for i in range(0, len(texts), 256)]
        return np.concatenate(chunks) if chunks else np.zeros((0, self.encoder.dim), np.float32)


# --------------------------------------------------------------------------- metrics
def zero_shot_accuracy(image_embeddings: np.ndarray, labels: np.ndarray,
                       class_embeddings: np.ndarray) -> float:
    """Share of images whose nearest class prompt embedding is their class.

    Args:
        image_embeddings: (N, D) L2-normalised.
        labels: (N,) class index per image.
        class_embeddings: (C, D) one (prompt-ensembled) embedding per class.
    """
    predictions = (image_embeddings @ class_embeddings.T).argmax(axis=1)
    return float((predictions == labels).mean()) if len(labels) else 0.0


def ensemble(prompt_embeddings: np.ndarray) -> np.ndarray:
    """(C, T, D) embeddings of T prompts per class -> (C, D) normalised means."""
    means = prompt_embeddings.mean(axis=1)
    return means / np.maximum(np.linalg.norm(means, axis=1, keepdims=True), 1e-12)


def top_k(queries: np.ndarray, gallery: np.ndarray, k: int = K,
          exclude_self: bool = False) -> np.ndarray:
    """Indices (Q, k) of each query's k most similar gallery rows (exact search)."""
    scores = queries @ gallery.T
    if exclude_self:
        np.fill_diagonal(scores, -np.inf)
    k = min(k, gallery.shape[0])
    part = np.argpartition(-scores, k - 1, axis=1)[:, :k]
    order = np.take_along_axis(scores, part, axis=1).argsort(axis=1)[:, ::-1]
    return np.take_along_axis(part, order, axis=1)


def retrieval_scores(queries: np.ndarray, query_groups: np.ndarray, gallery: np.ndarray,
                     gallery_groups: np.ndarray, k: int = K,
                     exclude_self: bool = False) -> dict[str, float]:
    """hit@k and recall@k of queries against a gallery, relevance == same group."""
    if len(queries) == 0 or len(gallery) == 0:
        return {f"hit@{k}": 0.0, f"recall@{k}": 0.0, "queries": 0}
    found = top_k(queries, gallery, k, exclude_self)
    relevant_found = gallery_groups[found] == query_groups[:, None]
    counts = np.array([(gallery_groups == g).sum() for g in query_groups], np.float64)
    if exclude_self:
        counts -= 1
    usable = counts > 0
    hits = relevant_found.any(axis=1)[usable]
    recall = relevant_found.sum(axis=1)[usable] / np.minimum(counts[usable], k)
    return {f"hit@{k}": float(hits.mean()) if usable.any() else 0.0,
            f"recall@{k}": float(recall.mean()) if usable.any() else 0.0,
            "queries": int(usable.sum())}


def result_overlap(first: np.ndarray, second: np.ndarray, gallery: np.ndarray, k: int = K) -> float:
    """Mean share of the top-k results two query sets (row i vs row i) have in common."""
    a, b = top_k(first, gallery, k), top_k(second, gallery, k)
    return float(np.mean([len(set(x) & set(y)) / a.shape[1] for x, y in zip(a, b, strict=True)]))


# --------------------------------------------------------------------------- suites
@dataclasses.dataclass
class SuiteResult:
    """Metrics of one evaluation suite."""

    suite: str  # suite name
    metrics: dict[str, float]  # metric name -> value
    headline: str  # the metric that summarises the suite (WiSE-FT and reports use it)

    @property
    def score(self) -> float:
        return float(self.metrics[self.headline])


def fashion_mnist_suite(view: EmbedView, pairs: datasets.PairSet) -> SuiteResult:
    """Zero-shot class prediction on Fashion-MNIST test images through text prompts."""
    prompts = [t.format(n) for n in datasets.EVAL_CLASS_NAMES for t in datasets.EVAL_TEMPLATES]
    text = view.texts(prompts).reshape(len(datasets.EVAL_CLASS_NAMES), len(datasets.EVAL_TEMPLATES), -1)
    images = view.images(pairs)
    accuracy = zero_shot_accuracy(images, pairs.groups, ensemble(text))
    single = zero_shot_accuracy(images, pairs.groups, view.texts(
        [f"a photo of a {n}." for n in datasets.EVAL_CLASS_NAMES]))
    return SuiteResult("fashion-mnist", {"zero_shot_accuracy": accuracy,
                                         "zero_shot_accuracy_single_prompt": single,
                                         "images": len(pairs)}, "zero_shot_accuracy")


PHRASINGS: list[Callable[[dict[str, str], str], str]] = [
    lambda a, c: c.upper(),
    lambda a, c: f"photo of {c}",
    lambda a, c: datasets.phrase(a, "{silhouette} {type} in {colour} {pattern}"),
    lambda a, c: datasets.phrase(a, "{type}, {pattern}, {colour}, {silhouette}"),
    lambda a, c: datasets.phrase(a, "I am looking for a {colour} {pattern} {silhouette} {type} please"),
    lambda a, c: _plural(c),
    lambda a, c: _synonym(a),
]


def _plural(caption: str) -> str:
    words = caption.split()
    if words and words[0] in ("a", "an"):
        words = words[1:]
    if words and not words[-1].endswith("s"):
        words[-1] = words[-1] + ("es" if words[-1].endswith(("sh", "ch")) else "s")
    return " ".join(words)


def _synonym(attributes: dict[str, str]) -> str:
    words = {k: attributes[k] for k in datasets.STYLE_KEYS}
    for key in ("colour", "type", "silhouette"):
        options = datasets.SYNONYMS.get(words[key])
        if options:
            words[key] = options[0]
            break
    return datasets.phrase(words, "{colour} {pattern} {silhouette} {type}")


def creator_world_suite(view: EmbedView, pairs: datasets.PairSet, name: str = "creator-world") -> SuiteResult:
    """Retrieval on creator-world crops: text->image, image->image same style, phrasing."""
    images = view.images(pairs)
    groups = pairs.groups
    present = np.unique(groups)
    first_of = {int(g): int(np.flatnonzero(groups == g)[0]) for g in present}
    canonical = [pairs.group_names[int(g)] for g in present]
    queries = view.texts(canonical)
    metrics: dict[str, float] = {}
    for key, value in retrieval_scores(queries, present, images, groups).items():
        metrics[f"text_to_image_{key}"] = value
    for key, value in retrieval_scores(images, groups, images, groups, exclude_self=True).items():
        metrics[f"image_to_image_{key}"] = value
    if pairs.attributes:
        overlaps = []
        for phrasing in PHRASINGS:
            variants = [phrasing(pairs.attributes[first_of[int(g)]], c) for g, c in zip(present, canonical, strict=True)]
            overlaps.append(result_overlap(queries, view.texts(variants), images))
        metrics["phrasing_overlap@10"] = float(np.mean(overlaps))
        reworded = [datasets.phrase(pairs.attributes[first_of[int(g)]], "{type}, {pattern}, {colour}, {silhouette}")
                    for g in present]
        for key, value in retrieval_scores(view.texts(reworded), present, images, groups).items():
            metrics[f"reworded_text_to_image_{key}"] = value
    metrics["images"] = len(pairs)
    return SuiteResult(name, metrics, "text_to_image_recall@10")


def folder_suite(view: EmbedView, pairs: datasets.PairSet, name: str,
                 distractors: Sequence[datasets.PairSet] = ()) -> SuiteResult:
    """Retrieval on a caption folder: each caption finds its images, images find same-caption images.

    ``distractors`` (e.g. the old eval sets' images) join the gallery as never-relevant
    items, so the search is as hard as in a real catalog, not among a few hundred images.
    """
    images = view.images(pairs)
    present = np.unique(pairs.groups)
    queries = view.texts([pairs.group_names[int(g)] for g in present])
    gallery, gallery_groups = images, pairs.groups
    if distractors:
        gallery = np.concatenate([images, *[view.images(d) for d in distractors]])
        gallery_groups = np.concatenate([pairs.groups, np.full(len(gallery) - len(images), -1)])
    metrics = {f"text_to_image_{k}": v for k, v in
               retrieval_scores(queries, present, gallery, gallery_groups).items()}
    found = top_k(images, gallery, K + 1)
    own = np.arange(len(images))[:, None]
    relevant = (gallery_groups[found] == pairs.groups[:, None]) & (found != own)
    counts = np.array([(pairs.groups == g).sum() - 1 for g in pairs.groups])
    usable = counts > 0
    if usable.any():
        hits = relevant[:, :].any(axis=1)[usable]
        recall = np.minimum(relevant.sum(axis=1), K)[usable] / np.minimum(counts[usable], K)
        metrics.update({f"image_to_image_hit@{K}": float(hits.mean()),
                        f"image_to_image_recall@{K}": float(recall.mean())})
    metrics["images"] = len(pairs)
    metrics["gallery"] = len(gallery)
    return SuiteResult(name, metrics, "text_to_image_recall@10")


SUITES: dict[str, Callable[..., SuiteResult]] = {
    "fashion-mnist": fashion_mnist_suite,
    "creator-world": creator_world_suite,
    "folder": folder_suite,
}


@dataclasses.dataclass
class EvalSet:
    """A named evaluation set: pairs plus the suite that scores them."""

    name: str  # name in reports, e.g. "fashion-mnist", "creator-world-heldout", "season:fw25"
    kind: str  # key of SUITES
    pairs: datasets.PairSet  # the images and captions
    distractors: list[datasets.PairSet] = dataclasses.field(default_factory=list)  # never-relevant gallery images


def run_eval(view: EmbedView, eval_sets: Sequence[EvalSet]) -> dict[str, SuiteResult]:
    """Score ``view`` on every eval set."""
    results = {}
    for eval_set in eval_sets:
        suite = SUITES[eval_set.kind]
        if eval_set.kind == "fashion-mnist":
            result = suite(view, eval_set.pairs)
        elif eval_set.kind == "folder":
            result = suite(view, eval_set.pairs, eval_set.name, eval_set.distractors)
        else:
            result = suite(view, eval_set.pairs, eval_set.name)
        result.suite = eval_set.name
        results[eval_set.name] = result
        logger.info("eval %s: %s", eval_set.name, _short(result.metrics))
    return results


def _short(metrics: dict[str, float]) -> str:
    return ", ".join(f"{k}={v:.3f}" if isinstance(v, float) else f"{k}={v}" for k, v in metrics.items())


def report_json(results: dict[str, dict[str, SuiteResult]]) -> dict[str, Any]:
    """``{model label: {suite: metrics}}`` as plain JSON."""
    return {label: {name: dict(r.metrics, headline=r.headline) for name, r in suites.items()}
            for label, suites in results.items()}


def report_markdown(results: dict[str, dict[str, SuiteResult]]) -> str:
    """A short Markdown table: one row per suite and metric, one column per model label."""
    labels = list(results)
    rows: dict[tuple[str, str], dict[str, float]] = {}
    for label, suites in results.items():
        for name, result in suites.items():
            for metric, value in result.metrics.items():
                if metric in ("images", "queries", "gallery") or metric.endswith("_queries"):
                    continue
                rows.setdefault((name, metric), {})[label] = value
    lines = ["| eval set | metric | " + " | ".join(labels) + " |",
             "|---|---|" + "---|" * len(labels)]
    for (name, metric), values in rows.items():
        cells = [f"{values[label]:.3f}" if label in values else "-" for label in labels]
        lines.append(f"| {name} | {metric} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------- match strength
@dataclasses.dataclass
class PairSamples:
    """Same-style and different-style pair scores of one query mode, pooled over eval sets."""

    same_best: list[float] = dataclasses.field(default_factory=list)  # per query: best same-style score
    other_best: list[float] = dataclasses.field(default_factory=list)  # per query: best different-style score
    hit_scores: list[float] = dataclasses.field(default_factory=list)  # top-k hits' scores
    hit_same: list[bool] = dataclasses.field(default_factory=list)  # whether each hit is the query's style

    def add(self, scores: np.ndarray, same: np.ndarray, k: int = K) -> None:
        """Queries' scores (Q, N) against a gallery and which pairs share a style; gallery items
        a query must not find (itself) score -inf."""
        valid = np.isfinite(scores)
        has_same, has_other = (same & valid).any(axis=1), (~same & valid).any(axis=1)
        self.same_best += np.where(same & valid, scores, -np.inf).max(axis=1)[has_same].tolist()
        self.other_best += np.where(~same & valid, scores, -np.inf).max(axis=1)[has_other].tolist()
        top = np.argsort(-scores, axis=1, kind="stable")[:, :k]
        top_scores = np.take_along_axis(scores, top, axis=1)
        kept = np.isfinite(top_scores)
        self.hit_scores += top_scores[kept].tolist()
        self.hit_same += np.take_along_axis(same, top, axis=1)[kept].tolist()


def match_thresholds(view: EmbedView, eval_sets: Sequence[EvalSet], text_weight: float = 0.5) -> MatchThresholds | None:
    """Search match cut-offs per query mode from the eval sets' same-style vs different-style
    pairs (a style is a caption group), or None without an eval set of two styles or more.
    A mode without pairs of both kinds (image queries need a style with two images) is left out.

    Queries per set: each image against the others (image), each style's caption against
    the images (text), and each image with its caption, weighted as search does (image+text).
    """
    samples = {mode: PairSamples() for mode in MODES}
    used = []
    for eval_set in eval_sets:
        pairs = eval_set.pairs
        present = np.unique(pairs.groups)
        if eval_set.kind == "fashion-mnist" or len(present) < 2:
            continue
        used.append(eval_set.name)
        images = view.images(pairs)
        captions = view.texts([pairs.group_names[int(g)] for g in present])
        own_caption = captions[np.searchsorted(present, pairs.groups)]
        combined = l2_normalise((1 - text_weight) * images + text_weight * own_caption)
        same = pairs.groups[:, None] == pairs.groups[None, :]
        for mode, queries in (("image", images), ("image+text", combined)):
            scores = queries @ images.T
            np.fill_diagonal(scores, -np.inf)  # a query never finds its own image
            samples[mode].add(scores, same)
        samples["text"].add(captions @ images.T, present[:, None] == pairs.groups[None, :])
    cutoffs = {mode: derive_cutoffs(s.same_best, s.other_best, s.hit_scores, s.hit_same)
               for mode, s in samples.items() if s.same_best and s.other_best}  # image: a style seen twice
    if not cutoffs:
        return None
    return MatchThresholds(cutoffs, f"training.evaluate.match_thresholds on {', '.join(used)}")
