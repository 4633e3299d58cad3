"""Train facet probes (:mod:`inference.facet_probe`) on labelled crops of ingested worlds.

The labels come from a creator world's answer key: every catalog garment of a data
directory is matched to the true garment box it was cut from (``world.scorer.GarmentMatcher``),
and the true style's recipe says its type, pattern and silhouette. A 'top' or 'bottom' crop
takes the facets of the outfit's top or bottom (the upper and lower halves of a dress are labelled "dress" and
teach only the type heads: they vote on whether a style is a dress); a 'full' crop takes the
dress's facets, or the type ``outfit`` when the look is a top and a bottom. The crops are the pipeline's own (sampled frames, the localiser's boxes), so the
probe learns what the index holds, not isolated product shots.

    stylescope train facets --from DATA_DIR [--from DATA_DIR ...] --out FILE
"""

from __future__ import annotations

import dataclasses
import json
import logging
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from core.errors import BadInputError
from inference.catalog import Catalog
from inference.facet_probe import FACETS, KINDS, NOT_A_DRESS, FacetProbe, LinearHead
from inference.facets import load_facet_vocabulary
from inference.index import load_embeddings
from world import scorer
from world.styles import style_from_json
from world.vocabulary import PATTERNS

logger = logging.getLogger(__name__)


@dataclasses.dataclass
class LabelledGarments:
    """Embeddings of one kind with their facet labels (None: the facet does not apply)."""

    embeddings: list[np.ndarray] = dataclasses.field(default_factory=list)
    labels: dict[str, list[str | None]] = dataclasses.field(default_factory=lambda: {f: [] for f in FACETS})

    def add(self, vector: np.ndarray, labels: dict[str, str | None]) -> None:
        self.embeddings.append(vector)
        for facet in FACETS:
            self.labels[facet].append(labels.get(facet))


def _pattern_words() -> dict[str, str]:
    """World pattern name -> facet vocabulary pattern (matched by the adjective both use)."""
    vocabulary = load_facet_vocabulary()
    by_adjective = {adjective: name for name, adjective in vocabulary.patterns.items()}
    return {world: by_adjective[adjective] for world, adjective in PATTERNS.items() if adjective in by_adjective}


def labelled_garments(data_dir: str | Path, world_dir: str | Path | None = None) -> tuple[dict[str, LabelledGarments], str]:
    """The labelled garments of one ingested world, per kind, and the encoder version of its
    embeddings.

    Raises:
        BadInputError: no catalog, no embeddings, or no answer key in ``world_dir``
            (default ``DATA_DIR/world``).
    """
    data_dir = Path(data_dir)
    world_dir = Path(world_dir) if world_dir else data_dir / "world"
    key = scorer.load_answer_key(world_dir)
    try:
        payload = json.loads((world_dir / "answers" / "world.json").read_text(encoding="utf-8"))
        recipes = {str(s["id"]): style_from_json(s) for s in payload["styles"]}
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise BadInputError(f"{world_dir}: the answer key's styles cannot be read ({exc!r})") from None
    ids, vectors, info = load_embeddings(data_dir)
    vector_of = dict(zip(ids.tolist(), vectors, strict=True))
    records = Catalog(data_dir).garments()
    kind_of = {r.id: r.kind for r in records}
    garments, _ = scorer.own_garments(key, records)
    matcher = key.matcher()
    patterns = _pattern_words()
    out = {kind: LabelledGarments() for kind in KINDS}
    for found in scorer.found_garments(garments):
        true = matcher.match(found)
        if true is None or found.id not in vector_of:
            continue
        recipe = recipes[true.style]
        kind = kind_of[found.id]
        dress = recipe.bottom is None
        if kind == "full":
            spec = recipe.top if dress else None
        else:
            spec = recipe.top if kind == "top" or dress else recipe.bottom
        labels: dict[str, str | None] = {"type": NOT_A_DRESS, "pattern": None, "silhouette": None}
        if spec is not None and kind != "full" and dress:  # half a dress: it says "dress" (and its colour), not its cut
            labels = {"type": spec.type, "pattern": None, "silhouette": None, "colour": spec.colour}
        elif spec is not None:
            labels = {"type": spec.type, "pattern": patterns.get(spec.pattern), "silhouette": spec.silhouette,
                      "colour": spec.colour}
        out[kind].add(vector_of[found.id], labels)
    return out, str(info.get("version") or "")


def train_facet_probe(
    data_dirs: Sequence[str | Path], regularisation: float = 1.0, min_per_class: int = 5,
) -> tuple[FacetProbe, dict[str, Any]]:
    """Fit one multinomial logistic regression per (kind, facet) on the labelled garments
    of every data directory (all embedded by the same encoder version).

    A value seen on fewer than ``min_per_class`` garments is left out of its head (it could
    not be learnt, only guessed). With two or more worlds, each head's per-class precision is
    measured on every world in turn by a head fitted on the others, and stored: naming trusts
    only the values that held up on worlds they were not fitted on. Returns the probe and what
    each head was trained on.

    Raises:
        BadInputError: no data directory, directories embedded by different encoder versions,
            or no facet with two values to tell apart.
    """
    if not data_dirs:
        raise BadInputError("train facets needs at least one ingested world (--from DATA_DIR)")
    worlds, versions = [], set()
    for data_dir in data_dirs:
        per_kind, version = labelled_garments(data_dir)
        worlds.append(per_kind)
        versions.add(version)
    if len(versions) != 1 or not next(iter(versions)):
        raise BadInputError(f"the worlds were embedded by different (or unrecorded) encoders: {sorted(versions)}")
    heads: dict[tuple[str, str], LinearHead] = {}
    report: dict[str, Any] = {}
    for kind in KINDS:
        for facet in FACETS:
            x, y, world = _examples(worlds, kind, facet)
            counts = Counter(y.tolist())
            keep = np.asarray([counts[v] >= min_per_class for v in y.tolist()], bool)
            x, y, world = x[keep], y[keep], world[keep]
            classes = sorted(set(y.tolist()))
            if len(classes) < 2:
                continue
            head = _fit(x, y, regularisation)
            precision = _held_out_precision(x, y, world, classes, regularisation) if len(worlds) > 1 else None
            heads[(kind, facet)] = dataclasses.replace(head, precision=precision)
            report[f"{kind}/{facet}"] = {
                "garments": len(y), "classes": {c: counts[c] for c in classes},
                "train_accuracy": round(float(np.mean(_predict(head, x) == y)), 3),
                "held_out_precision": None if precision is None else
                {c: None if np.isnan(p) else round(float(p), 3) for c, p in zip(classes, precision, strict=True)},
            }
    if not heads:
        raise BadInputError(f"no facet has two values with {min_per_class} labelled garments each: are these "
                            "ingested creator worlds with their answer keys, and big enough?")
    trained_on = ", ".join(str(Path(d).name) for d in data_dirs)
    return FacetProbe(next(iter(versions)), heads, f"pipeline crops of {trained_on}"), report


def _examples(worlds: list[dict[str, LabelledGarments]], kind: str, facet: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Unit embeddings, labels and world number of every garment of ``kind`` labelled for ``facet``."""
    rows, labels, origin = [], [], []
    for number, per_kind in enumerate(worlds):
        garments = per_kind[kind]
        for vector, label in zip(garments.embeddings, garments.labels[facet], strict=True):
            if label is not None:
                rows.append(vector)
                labels.append(label)
                origin.append(number)
    if not rows:
        return np.zeros((0, 1), np.float32), np.asarray([], dtype=object), np.asarray([], int)
    x = np.stack(rows).astype(np.float32)
    x /= np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)
    return x, np.asarray(labels, dtype=object), np.asarray(origin)


def _fit(x: np.ndarray, y: np.ndarray, regularisation: float) -> LinearHead:
    from sklearn.linear_model import LogisticRegression

    model = LogisticRegression(C=regularisation, max_iter=3000, class_weight="balanced")
    model.fit(x, y.astype(str))
    weight, bias = model.coef_, model.intercept_
    if len(model.classes_) == 2:  # one logit for the second class: as a softmax, the first's is 0
        weight, bias = np.vstack([np.zeros_like(weight), weight]), np.concatenate([[0.0], bias])
    return LinearHead(weight.astype(np.float32), bias.astype(np.float32), tuple(str(c) for c in model.classes_))


def _predict(head: LinearHead, x: np.ndarray) -> np.ndarray:
    return np.asarray(head.classes, dtype=object)[head.probabilities(x).argmax(axis=1)]


def _held_out_precision(x: np.ndarray, y: np.ndarray, world: np.ndarray, classes: list[str],
                        regularisation: float) -> np.ndarray:
    """Per class: the share of predictions that were right, on each world by a head fitted on
    the others (NaN: never predicted)."""
    predicted: Counter[str] = Counter()
    right: Counter[str] = Counter()
    for number in np.unique(world):
        train, test = world != number, world == number
        if len(set(y[train].tolist())) < 2 or not test.any():
            continue
        guesses = _predict(_fit(x[train], y[train], regularisation), x[test])
        predicted.update(guesses.tolist())
        right.update(g for g, truth in zip(guesses.tolist(), y[test].tolist(), strict=True) if g == truth)
    return np.asarray([right[c] / predicted[c] if predicted[c] else np.nan for c in classes], np.float32)
