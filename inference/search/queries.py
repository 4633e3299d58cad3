"""A query becomes one embedding: an image (the garment cut out first when the image shows a
person), a text, or both (weighted, then renormalised)."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from core.errors import BadInputError
from inference.embed import embed_crops
from inference.images import load_image
from inference.search.settings import SearchConfig

if TYPE_CHECKING:
    from models.base import Encoder


@dataclasses.dataclass(frozen=True)
class LocalisedGarment:
    """The garment cut out of a query image and searched with."""

    kind: str  # top, bottom or full
    box: tuple[int, int, int, int]  # x0, y0, x1, y1 in the image
    method: str  # localiser that found the person

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "box": list(self.box), "method": self.method}


@dataclasses.dataclass(frozen=True)
class EmbeddedQuery:
    """What a query embedding was made from."""

    mode: str  # image, text or image+text
    text: str | None = None  # the text query
    garment: LocalisedGarment | None = None  # image queries: the garment cut out (None: the whole image)

    @property
    def has_image(self) -> bool:
        return self.mode != "text"


def embed_query(
    encoder: Encoder,
    config: SearchConfig,
    image: Any = None,
    text: str | None = None,
    kinds: Sequence[str] = (),
) -> tuple[np.ndarray, EmbeddedQuery]:
    """The query embedding (float32 (dim,), unit length) and what it was made from.

    Args:
        encoder: the encoder the index was built with.
        config: search settings (``text_weight``, ``localise``).
        image: path, bytes or RGB array.
        text: the text query.
        kinds: garment kinds the search is filtered to: the kind cut out of the image first.
    """
    if image is None and text is None:
        raise BadInputError("give an image, a text, or both to search with")
    parts: list[np.ndarray] = []
    garment = None
    if image is not None:
        crop, garment = localise_query(load_image(image), kinds, config.localise)
        parts.append(embed_crops(encoder, [crop], 1)[0])
    if text is not None:
        if not text.strip():
            raise BadInputError("the text query is empty")
        parts.append(encoder.encode_text([text])[0])
    if len(parts) == 2:
        weight = config.text_weight
        vector = (1 - weight) * parts[0] + weight * parts[1]
        mode = "image+text"
    else:
        vector = parts[0]
        mode = "image" if image is not None else "text"
    norm = float(np.linalg.norm(vector))
    if not np.isfinite(norm) or norm < 1e-6:
        raise BadInputError("the image and text queries cancel out; change the text weight")
    return (vector / norm).astype(np.float32), EmbeddedQuery(mode, text, garment)


def localise_query(
    image: np.ndarray, kinds: Sequence[str], localise: bool = True
) -> tuple[np.ndarray, LocalisedGarment | None]:
    """The garment to search with: the wanted kind, else the whole outfit, else the image."""
    if not localise:
        return image, None
    from inference.garments import localise_image

    crops = localise_image(image)
    if not crops:
        return image, None
    wanted = (
        [c for c in crops if c.kind in kinds]
        or [c for c in crops if c.kind == "full"]
        or list(crops)
    )
    crop = max(wanted, key=lambda c: c.score * c.box.area)
    return crop.image, LocalisedGarment(crop.kind, crop.box.as_tuple(), crop.method)
