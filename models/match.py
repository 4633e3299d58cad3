"""How close a search hit is, in words: strong, fair or weak, by cut-offs recorded with the encoder.

A cosine score means different things for different encoders and query modes (the offline
default's real text hits score 0.5-0.8 while an image query's near twins score 0.9), so
each encoder carries its own cut-offs, one pair per query mode (image, text, image+text),
derived from its evaluation by :func:`derive_cutoffs`:

- a hit scoring at least ``strong`` almost always shows what was asked for;
- a hit below ``fair`` is weak; when even the best hit is weak the catalog has no close
  match for the query.

Where they are recorded (:func:`recorded_thresholds` reads them):

- a trained model version: ``match_strength`` in its ``version.json`` (training derives them
  from the version's own evaluation sets);
- a packaged encoder: ``match_strength`` in ``configs/encoders.yaml``, keyed by the
  encoder's version (its weights' digest), written by ``bench/calibrate_match.py``.

An encoder with none recorded gives no strength (``None``) rather than a guess.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from models.settings import load_settings
from models.versions import MODELS_DIR, list_versions

logger = logging.getLogger(__name__)

STRENGTHS = ("strong", "fair", "weak")
MODES = ("image", "text", "image+text")
STRENGTH_MEANING = {
    "strong": "almost always shows what was asked for",
    "fair": "related: some of what was asked for",
    "weak": "not what was asked for; the closest the catalog has",
}
PRECISION = 0.95  # share of hits at or above ``strong`` that show what was asked for
MIN_HITS = 10  # hits needed above a candidate ``strong`` before its precision counts


@dataclasses.dataclass(frozen=True)
class Cutoffs:
    """The two scores that split one query mode's hits into strong, fair and weak."""

    fair: float  # hits scoring below this are weak
    strong: float  # hits scoring at least this are strong

    def strength(self, score: float) -> str:
        """strong, fair or weak."""
        return "strong" if score >= self.strong else "fair" if score >= self.fair else "weak"


@dataclasses.dataclass(frozen=True)
class MatchThresholds:
    """An encoder's cut-offs per query mode and how they were derived."""

    modes: Mapping[str, Cutoffs]  # query mode -> cut-offs
    derived_by: str = ""  # what computed them, on which data

    def cutoffs(self, mode: str | None) -> Cutoffs | None:
        """The cut-offs of a query mode (None: that mode has none recorded)."""
        return self.modes.get(mode or "")

    def to_dict(self) -> dict[str, Any]:
        plain: dict[str, Any] = {"derived_by": self.derived_by}
        plain.update({mode: dataclasses.asdict(c) for mode, c in self.modes.items()})
        return plain

    @classmethod
    def from_dict(cls, plain: Mapping[str, Any]) -> MatchThresholds:
        """From :meth:`to_dict`'s form; a mode whose cut-offs are unreadable is an error."""
        modes = {}
        for mode in MODES:
            if mode in plain:
                values = plain[mode]
                try:
                    fair, strong = float(values["fair"]), float(values["strong"])
                except (KeyError, TypeError, ValueError):
                    raise ValueError(f"match_strength.{mode} needs numbers fair and strong, got {values!r}") from None
                if not -1 <= fair <= strong <= 1:
                    raise ValueError(f"match_strength.{mode} needs -1 <= fair <= strong <= 1, got {values!r}")
                modes[mode] = Cutoffs(fair, strong)
        return cls(modes, str(plain.get("derived_by", "")))


# --------------------------------------------------------------------------- deriving
def derive_cutoffs(same_best: Sequence[float], other_best: Sequence[float],
                   hit_scores: Sequence[float], hit_same: Sequence[bool],
                   precision: float = PRECISION) -> Cutoffs:
    """Cut-offs of one query mode from same-style and different-style pairs.

    Args:
        same_best: per query whose outfit the gallery holds, its best score among the
            gallery items that show it (the best same-style pair).
        other_best: per query, its best score among items that do not show it (the best
            different-style pair: what the top hit would score were the outfit missing).
        hit_scores: scores of the queries' top hits, all queries together.
        hit_same: whether each of those hits shows what its query asked for.
        precision: share of hits at or above ``strong`` that must show what was asked for.

    ``fair`` is the score that best tells the two kinds of best pair apart (the least
    balanced error: share of same-style bests below it plus share of different-style bests
    at or above it; the middle of the best gap). ``strong`` is the lowest score from which
    at least ``precision`` of the hits show what was asked for, and never below ``fair``.
    """
    fair = _separating_score(np.asarray(same_best, float), np.asarray(other_best, float))
    strong = _precise_from(np.asarray(hit_scores, float), np.asarray(hit_same, bool), precision)
    fair = round(fair, 3)
    return Cutoffs(fair, round(max(strong, fair), 3))


def _separating_score(same: np.ndarray, other: np.ndarray) -> float:
    if not len(same) or not len(other):
        raise ValueError("deriving a fair cut-off needs same-style and different-style pairs")
    values = np.unique(np.concatenate([same, other]))
    edges = np.concatenate([[values[0] - 1e-3], (values[:-1] + values[1:]) / 2, [values[-1] + 1e-3]])
    missed = (same[None, :] < edges[:, None]).mean(axis=1)
    passed = (other[None, :] >= edges[:, None]).mean(axis=1)
    error = missed + passed
    first = last = int(np.argmin(error))
    while last + 1 < len(edges) and np.isclose(error[last + 1], error[first]):
        last += 1  # equal error all along the gap: take its middle
    return float((edges[first] + edges[last]) / 2)


def _precise_from(scores: np.ndarray, same: np.ndarray, precision: float) -> float:
    order = np.argsort(-scores, kind="stable")
    scores, same = scores[order], same[order]
    share = np.cumsum(same) / np.arange(1, len(same) + 1)
    good = np.flatnonzero((share >= precision) & (np.arange(1, len(same) + 1) >= MIN_HITS))
    if not len(good):
        return float(scores[0]) + 1e-3 if len(scores) else 1.0
    return float(scores[good[-1]])


# --------------------------------------------------------------------------- reading the record
def recorded_thresholds(encoder_name: str, encoder_version: str,
                        data_dir: str | Path | None = None) -> MatchThresholds | None:
    """The cut-offs recorded for an encoder: those of the data directory's model version
    built with it (newest first), else the packaged ones for its weights; None: none.

    Args:
        encoder_name: the encoder's registry spec (what a version's ``encoder`` names).
        encoder_version: the encoder's version (its weights' digest).
        data_dir: the deployment whose model versions to look in.
    """
    if data_dir is not None and (Path(data_dir) / MODELS_DIR).is_dir():
        for version in reversed(list_versions(data_dir)):
            info = _version_info(Path(data_dir) / MODELS_DIR / version / "version.json")
            if info.get("encoder") == encoder_name and info.get("match_strength"):
                return _parse(info["match_strength"], f"model version {version}")
    packaged = load_settings().match_strength.get(encoder_version)
    return _parse(packaged, "configs/encoders.yaml") if packaged else None


def _version_info(path: Path) -> dict[str, Any]:
    try:
        info = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return {}  # an unreadable version is reported where it is used
    return info if isinstance(info, dict) else {}


def _parse(plain: Any, where: str) -> MatchThresholds | None:
    try:
        return MatchThresholds.from_dict(plain)
    except (ValueError, AttributeError, TypeError) as exc:
        logger.warning("ignoring the match strength cut-offs in %s: %s", where, exc)
        return None
