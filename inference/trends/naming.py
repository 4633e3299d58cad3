"""Naming styles from a fashion vocabulary.

Words are embedded with the text tower of the encoder that embedded the garments and ranked
by similarity to each style's centroid; the name joins the best word of each naming
category.
"""

from __future__ import annotations

import dataclasses
import logging
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from configs import ConfigError, packaged, read_yaml
from core.errors import BadInputError
from inference.catalog import StyleWord
from inference.trends.clustering import Clustering
from inference.trends.kmeans import normalise
from inference.trends.settings import NamingConfig

if TYPE_CHECKING:
    from models import Encoder

logger = logging.getLogger(__name__)


class TextEncoder(Protocol):
    """What naming needs of an encoder: its text tower."""

    def encode_text(self, texts: Sequence[str]) -> np.ndarray: ...


@dataclasses.dataclass(frozen=True)
class Vocabulary:
    """Fashion words by category, how to phrase them, and which categories make a name."""

    words: dict[str, list[str]]  # category -> words
    prompt: str = "a photo of {word} clothing"  # phrasing for the text encoder
    name_from: tuple[str, ...] = ()  # categories whose best word goes into the name, in order

    def entries(self) -> list[tuple[str, str]]:
        """(category, word) pairs, in file order."""
        return [(category, word) for category, words in self.words.items() for word in words]


def load_vocabulary(path: str | Path | None = None) -> Vocabulary:
    """Read a vocabulary YAML (``words: {category: [word, ...]}``, optional ``prompt``, ``name_from``).

    Raises:
        BadInputError: the file is missing, empty, not YAML, or not shaped as above.
    """
    path = Path(path) if path else packaged("fashion_vocabulary")
    try:
        raw = read_yaml(path)
    except ConfigError as exc:
        raise BadInputError(f"style vocabulary: {exc}") from None
    words = raw.get("words")
    if not isinstance(words, dict) or not words:
        raise BadInputError(f"style vocabulary {path} has no 'words' mapping of category -> list of words")
    clean: dict[str, list[str]] = {}
    for category, entries in words.items():
        if not isinstance(entries, list) or not all(isinstance(w, str) and w.strip() for w in entries):
            raise BadInputError(f"style vocabulary {path}: category {category!r} must be a list of non-empty words")
        if entries:
            clean[str(category)] = [w.strip() for w in entries]
    if not clean:
        raise BadInputError(f"style vocabulary {path} holds no words")
    prompt = raw.get("prompt", "a photo of {word} clothing")
    if not isinstance(prompt, str) or "{word}" not in prompt:
        raise BadInputError(f"style vocabulary {path}: 'prompt' must be a string containing {{word}}")
    name_from = raw.get("name_from", list(clean))
    if not isinstance(name_from, list) or not set(name_from) <= set(clean):
        raise BadInputError(f"style vocabulary {path}: 'name_from' must list categories of 'words'")
    return Vocabulary(clean, prompt, tuple(name_from))


def embed_vocabulary(vocabulary: Vocabulary, encoder: TextEncoder) -> np.ndarray:
    """Text embeddings (W, D) of every vocabulary word, phrased with the vocabulary's prompt."""
    texts = [vocabulary.prompt.format(word=word) for _, word in vocabulary.entries()]
    return normalise(np.asarray(encoder.encode_text(texts), np.float32))


def name_styles(
    centroids: np.ndarray,
    vocabulary: Vocabulary,
    word_vectors: np.ndarray,
    config: NamingConfig,
    reference: np.ndarray | None = None,
) -> list[tuple[str, list[StyleWord]]]:
    """A name and the top words (with scores) for each centroid.

    A word's score is its cosine similarity to the centroid, minus (when ``config.center``)
    its similarity to ``reference`` (the mean garment), so that words close to every garment
    do not name every style. The name joins the best word of each ``name_from`` category
    that scores above zero (the garment word is always kept), leaving out a word a later part
    repeats ("mini" before "mini skirt"); duplicate names get a suffix.
    """
    entries = vocabulary.entries()
    scores = centroids @ word_vectors.T
    if config.center and reference is not None and len(centroids) > 1:
        scores = scores - (normalise(reference.reshape(1, -1)) @ word_vectors.T)
    categories = np.asarray([c for c, _ in entries], dtype=object)
    named: list[tuple[str, list[StyleWord]]] = []
    seen: dict[str, int] = defaultdict(int)
    for row in scores:
        order = np.argsort(-row)[: config.top_words]
        words = [StyleWord(entries[i][1], round(float(row[i]), 4), entries[i][0]) for i in order]
        parts = []
        for n, category in enumerate(vocabulary.name_from):
            members = np.flatnonzero(categories == category)
            best = members[np.argmax(row[members])]
            if row[best] > 0 or n == len(vocabulary.name_from) - 1:
                parts.append(entries[best][1])
        # a word that a later part repeats says nothing ("mini mini skirt", "denim denim jacket")
        parts = [p for i, p in enumerate(parts) if not any(set(p.split()) <= set(q.split()) for q in parts[i + 1 :])]
        name = " ".join(parts) or words[0].word
        seen[name] += 1
        named.append((name if seen[name] == 1 else f"{name} ({seen[name]})", words))
    return named


def name_clusters(
    clustering: Clustering,
    vectors: np.ndarray,
    config: NamingConfig,
    encoder: TextEncoder | None,
    vocabulary: Vocabulary | None,
    style_ids: list[int],
) -> list[tuple[str, list[StyleWord]]]:
    """A name and top words for each cluster of a run; "style <id>" without an encoder."""
    if encoder is None or not clustering.clusters:
        return [(f"style {sid}", []) for sid in style_ids]
    vocabulary = vocabulary or load_vocabulary(config.vocabulary)
    word_vectors = embed_vocabulary(vocabulary, encoder)
    if word_vectors.shape[1] != vectors.shape[1]:
        raise BadInputError(
            f"the naming encoder's text vectors have {word_vectors.shape[1]} dimensions but the "
            f"garment embeddings have {vectors.shape[1]}: name styles with the encoder of the index"
        )
    centroids = np.stack([c.centroid for c in clustering.clusters])
    return name_styles(centroids, vocabulary, word_vectors, config, reference=vectors.mean(axis=0))


def naming_encoder(encoder_info: dict[str, Any]) -> Encoder | None:
    """The encoder that made the index (its text tower names styles), or None if unavailable."""
    from models import EncoderError, create_encoder  # imported when needed: it may load weights

    try:
        return create_encoder(str(encoder_info.get("name") or "") or None)
    except EncoderError as exc:
        logger.warning("cannot load encoder %s to name styles (%s); styles are numbered instead",
                       encoder_info.get("name"), exc)
        return None
