"""Style names from facets with evidence (:mod:`inference.facets`) for a clustering run.

Each style is named slot by slot from its own garments: per catalog kind, at most
``NamingConfig.facet_garments`` garments nearest the style's centroid, their embeddings,
their crops (read only for those garments, to measure colour) and their frames, scored
against the mean garment of that kind. Used by :func:`inference.trends.identity.recluster`
when the naming encoder has a text tower; otherwise styles keep the vocabulary names of
:mod:`inference.trends.naming`.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

import numpy as np

from core.errors import BadInputError
from inference.catalog import Catalog
from inference.facet_probe import probe_for
from inference.facets import (
    ENCODER_FACETS,
    FacetConfig,
    SlotGarments,
    StyleName,
    embed_facet_prompts,
    load_facet_vocabulary,
    name_style_facets,
)
from inference.images import load_image
from inference.palette import load_palette
from inference.trends.clustering import Clustering
from inference.trends.settings import NamingConfig

logger = logging.getLogger(__name__)

KINDS = ("top", "bottom", "full")
SLOT_FACETS = ("colour", *ENCODER_FACETS, "material")  # what a slot may be named by


def facet_style_names(
    catalog: Catalog,
    clustering: Clustering,
    ids: np.ndarray,
    vectors: np.ndarray,
    kinds: Sequence[str],
    frames: np.ndarray,
    encoder: Any,
    config: NamingConfig,
) -> list[StyleName] | None:
    """A facet name per cluster of ``clustering``, or None when the encoder cannot name facets.

    ``ids``, ``vectors``, ``kinds`` and ``frames`` are the clustered garments, row for row
    with ``clustering.labels``.
    """
    if not config.facets or encoder is None or not hasattr(encoder, "encode_text"):
        return None
    prompts = embed_facet_prompts(load_facet_vocabulary(config.facet_vocabulary), encoder)
    if prompts.vectors["top"].shape[1] != vectors.shape[1]:
        logger.warning("the naming encoder's text vectors do not match the garment embeddings; "
                       "styles keep their vocabulary names")
        return None
    palette = load_palette()
    facet_config = FacetConfig(two_colours=config.two_colours)
    probe = probe_for(getattr(encoder, "version", None), config.facet_probe)
    kind_array = np.asarray(kinds, dtype=object)
    references = {k: vectors[kind_array == k].mean(axis=0) for k in KINDS if (kind_array == k).any()}
    chosen: list[dict[str, np.ndarray]] = []
    for cluster in range(len(clustering.clusters)):
        rows = {}
        for kind in KINDS:
            members = np.flatnonzero((clustering.labels == cluster) & (kind_array == kind))
            if len(members):
                nearest = np.argsort(clustering.distances[members], kind="stable")[: config.facet_garments]
                rows[kind] = members[nearest]
        chosen.append(rows)
    sampled = [int(ids[r]) for rows in chosen for picked in rows.values() for r in picked]
    crops = catalog.garment_crops(sampled)
    names = []
    for rows in chosen:
        garments = {kind: _slot_garments(catalog, crops, ids[picked], vectors[picked], frames[picked], references[kind])
                    for kind, picked in rows.items()}
        names.append(name_style_facets(garments, prompts, palette, facet_config, probe=probe))
    return names


def _slot_garments(catalog: Catalog, crops: dict[int, str], ids: np.ndarray, vectors: np.ndarray,
                   frames: np.ndarray, reference: np.ndarray) -> SlotGarments:
    """The sampled garments of one kind; those whose crop cannot be read are left out (all of
    them unreadable: named without colour)."""
    images, readable = [], []
    for row, garment in enumerate(ids.tolist()):
        path = crops.get(int(garment))
        if path is None:
            continue
        try:
            images.append(load_image(catalog.data_dir / path))
        except (BadInputError, OSError):
            continue
        readable.append(row)
    if not readable:
        return SlotGarments(vectors, colours=[None] * len(vectors), reference=reference, frames=frames.tolist())
    keep = np.asarray(readable)
    return SlotGarments(vectors[keep], images, reference=reference, frames=frames[keep].tolist())


def unique_names(names: Sequence[StyleName]) -> list[str]:
    """Each style's name text, told apart where two or more read the same: by the colour that
    sets each apart in the facet probe's reading, where the name left colour out ("floral maxi
    dress (more white)", "... (more beige)"), in the first slot where that tells them all apart;
    else by a number ("red skirt", "red skirt (2)")."""
    groups: dict[str, list[int]] = defaultdict(list)
    for n, name in enumerate(names):
        groups[name.text].append(n)
    out = [name.text for name in names]
    for text, members in groups.items():
        if len(members) < 2:
            continue
        hints = _colour_hints([names[n] for n in members])
        for k, (n, hint) in enumerate(zip(members, hints, strict=True)):
            out[n] = f"{text} ({hint})" if hint else text if k == 0 else f"{text} ({k + 1})"
    return _numbered(out)


def _colour_hints(names: Sequence[StyleName]) -> list[str | None]:
    """Per name, "more <colour>" ("shirt more white" in a name of two slots): the colour whose
    probability is highest above the others' mean, in the first slot where every name has a
    probe reading and these colours all differ; all None when no slot tells them apart."""
    for slot in ("top", "bottom", "dress"):
        scores = [getattr(name.slot(slot), "colour_scores", {}) for name in names]
        if not all(scores):
            continue
        picks = []
        for n, own in enumerate(scores):
            others = [s for m, s in enumerate(scores) if m != n]
            lift = {c: p - float(np.mean([o.get(c, 0.0) for o in others])) for c, p in own.items()}
            picks.append(max(lift, key=lambda c: lift[c]))
        if len(set(picks)) == len(picks):
            two = len(names[0].slots) > 1
            return [f"{_slot_word(name, slot)} more {pick}" if two else f"more {pick}"
                    for name, pick in zip(names, picks, strict=True)]
    return [None] * len(names)


def _slot_word(name: StyleName, slot: str) -> str:
    """A slot as its name calls it: its garment type ("shirt"), else the slot ("top")."""
    named = name.slot(slot)
    kind = named.facets.get("type") if named else None
    return kind.value if kind else slot


def _numbered(texts: list[str]) -> list[str]:
    """Texts with a number on any that still repeat."""
    seen: dict[str, int] = defaultdict(int)
    out = []
    for text in texts:
        seen[text] += 1
        out.append(text if seen[text] == 1 else f"{text} ({seen[text]})")
    return out


def facet_evidence(name: StyleName) -> dict[str, Any]:
    """``name.to_dict()`` with every facet a slot was not named by marked absent
    (``{"absent": true}``): below its evidence threshold, so left out of the name."""
    evidence = name.to_dict()
    for slot in evidence["slots"].values():
        for facet in SLOT_FACETS:
            slot["facets"].setdefault(facet, {"absent": True})
    return evidence
