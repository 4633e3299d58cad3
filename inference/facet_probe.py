"""Facet probes: small linear classifiers that read a garment's facets from its embedding.

An encoder's text tower names facets zero-shot (:mod:`inference.facets`), but a tower trained
on isolated garment photos reads the crops a video gives (a person's upper or lower half, in
a room, in any light) poorly: "jeans" for every pair of trousers. A probe is trained on
labelled crops cut by the same pipeline (``stylescope train facets``, :mod:`training.facet_probe`)
and answers, per catalog kind ('top', 'bottom', 'full') and facet ('type', 'pattern',
'silhouette'), a probability per value. It belongs to one encoder version: embeddings from
any other encoder are not read with it.

A probe file is a NumPy ``.npz``: ``encoder_version``, and for every head ``KIND/FACET``
its ``/weight`` (C, D), ``/bias`` (C,) and ``/classes`` (C,) arrays (softmax over
``x @ weight.T + bias``, ``x`` the unit embedding), and optionally ``/precision`` (C,): how
often each class was right when predicted on a world the head was not fitted on. A value
the probe cannot tell from its neighbours (a tank top it calls a t-shirt) is then never named.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from core.errors import BadInputError
from models.settings import WEIGHTS_DIR

logger = logging.getLogger(__name__)

KINDS = ("top", "bottom", "full")
FACETS = ("type", "pattern", "silhouette", "colour")  # colour: a second opinion beside the pixels
NOT_A_DRESS = "outfit"  # the type a 'full' crop of a top and a bottom is labelled with
DRESS = "dress"  # the type of a dress, and of the top and bottom crops cut from one


@dataclasses.dataclass(frozen=True)
class LinearHead:
    """One softmax classifier over unit embeddings."""

    weight: np.ndarray  # (C, D)
    bias: np.ndarray  # (C,)
    classes: tuple[str, ...]
    precision: np.ndarray | None = None  # (C,) held-out precision per class (worlds left out in turn); None: unknown

    def trusted(self, floor: float) -> np.ndarray:
        """(C,) whether each class was right at least ``floor`` of the times it was predicted on
        worlds the head was not fitted on (every class, when that was not measured)."""
        if self.precision is None:
            return np.ones(len(self.classes), bool)
        return np.nan_to_num(self.precision, nan=0.0) >= floor

    def probabilities(self, embeddings: np.ndarray) -> np.ndarray:
        """(N, C) class probabilities for (N, D) embeddings (normalised here)."""
        x = np.asarray(embeddings, np.float32)
        x = x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), 1e-12)
        logits = x @ self.weight.T + self.bias
        logits -= logits.max(axis=1, keepdims=True)
        odds = np.exp(logits)
        return odds / odds.sum(axis=1, keepdims=True)


@dataclasses.dataclass(frozen=True)
class FacetProbe:
    """The heads of one encoder version, keyed by (kind, facet)."""

    encoder_version: str
    heads: Mapping[tuple[str, str], LinearHead]
    trained_on: str = ""  # what the labels came from, for the model card and --json

    def head(self, kind: str, facet: str) -> LinearHead | None:
        return self.heads.get((kind, facet))

    def dress_share(self, garments: Mapping[str, np.ndarray]) -> float:
        """Share of a style's crops (kind -> embeddings) read as a dress: 'full' crops read as
        a dress rather than a top and a bottom, tops and bottoms read as half of one."""
        votes = []
        for kind, embeddings in garments.items():
            head = self.head(kind, "type")
            if head is None or not len(embeddings) or (kind != "full" and DRESS not in head.classes):
                continue
            guesses = np.asarray(head.classes)[head.probabilities(embeddings).argmax(axis=1)]
            votes.append(guesses != NOT_A_DRESS if kind == "full" else guesses == DRESS)
        return float(np.concatenate(votes).mean()) if votes else 0.0

    def save(self, path: str | Path) -> Path:
        arrays: dict[str, np.ndarray] = {"encoder_version": np.asarray(self.encoder_version),
                                         "trained_on": np.asarray(self.trained_on)}
        for (kind, facet), head in self.heads.items():
            arrays[f"{kind}/{facet}/weight"] = head.weight.astype(np.float32)
            arrays[f"{kind}/{facet}/bias"] = head.bias.astype(np.float32)
            arrays[f"{kind}/{facet}/classes"] = np.asarray(head.classes)
            if head.precision is not None:
                arrays[f"{kind}/{facet}/precision"] = head.precision.astype(np.float32)
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(path.name + ".partial.npz")
        np.savez_compressed(partial, **arrays)  # type: ignore[arg-type]  # numpy stubs take allow_pickle as a kwarg
        partial.replace(path)
        return path


def load_facet_probe(path: str | Path) -> FacetProbe:
    """Read a probe file.

    Raises:
        BadInputError: missing, not an ``.npz``, or without the arrays a probe needs.
    """
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as data:
            version = str(data["encoder_version"])
            trained_on = str(data["trained_on"]) if "trained_on" in data.files else ""
            heads = {}
            for name in data.files:
                kind, _, rest = name.partition("/")
                facet, _, part = rest.partition("/")
                if part != "weight":
                    continue
                precision = data[f"{kind}/{facet}/precision"] if f"{kind}/{facet}/precision" in data.files else None
                head = LinearHead(data[name].astype(np.float32), data[f"{kind}/{facet}/bias"].astype(np.float32),
                                  tuple(str(c) for c in data[f"{kind}/{facet}/classes"]),
                                  None if precision is None else precision.astype(np.float32))
                if head.weight.ndim != 2 or not head.weight.shape[0] == len(head.classes) == head.bias.shape[0] \
                        or (head.precision is not None and head.precision.shape != head.bias.shape):
                    raise ValueError(f"head {kind}/{facet} has mismatched shapes")
                heads[(kind, facet)] = head
    except FileNotFoundError:
        raise BadInputError(f"facet probe {path} does not exist") from None
    except (OSError, KeyError, ValueError) as exc:
        raise BadInputError(f"facet probe {path} is not a probe file ({exc})") from None
    if not heads:
        raise BadInputError(f"facet probe {path} has no heads")
    return FacetProbe(version, heads, trained_on)


def probe_for(encoder_version: str | None, path: str | Path | None = None) -> FacetProbe | None:
    """The probe for ``encoder_version``: ``path`` when given, else the packaged one named
    after the version's model (``models/weights/<model>.facets.npz``); None when there is
    none or it belongs to another encoder version."""
    if not encoder_version:
        return None
    if path is None:
        model = encoder_version.rsplit("-", 1)[0]
        path = WEIGHTS_DIR / f"{model}.facets.npz"
        if not path.is_file():
            return None
    probe = load_facet_probe(path)
    if probe.encoder_version != encoder_version:
        logger.info("facet probe %s belongs to encoder %s, not %s: facets come from the text tower",
                    path, probe.encoder_version, encoder_version)
        return None
    return probe
