"""A small catalog with real JPEG crops, for the index and search tests.

Crops are little striped/checked patches in a handful of colours, so the tiny encoder
gives related crops related embeddings; each video also gets two near-identical frames of
the same garment (for de-duplication).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path

import numpy as np
from PIL import Image

from inference.catalog import Catalog, FrameRow, GarmentRow
from inference.index import IndexConfig
from inference.types import Box, VideoInfo, VideoSubmission

INFO = VideoInfo(96, 160, 15.0, 4.0, 60, 0, "h264")
CREATORS = {"ana": 4_000, "ben": 20_000, "cleo": 45_000, "dev": 300_000, "eve": 2_500_000}
KINDS = ("top", "bottom", "full")
COLOURS = np.array(
    [[200, 30, 30], [30, 60, 200], [240, 240, 240], [20, 20, 20], [60, 160, 60], [230, 200, 40]],
    np.uint8,
)


@dataclasses.dataclass(frozen=True)
class WorldGarment:
    """What the test wrote for one garment."""

    id: int
    video_id: int
    creator: str
    followers: int
    posted_at: dt.date
    kind: str
    crop_path: str


def crop_image(rng: np.random.Generator, size: int = 32) -> np.ndarray:
    """A patterned crop: stripes or checks in two colours, with a little noise."""
    a, b = COLOURS[rng.choice(len(COLOURS), 2, replace=False)]
    period = int(rng.integers(3, 9))
    y, x = np.mgrid[0:size, 0:size]
    pattern = (y // period) % 2 if rng.random() < 0.5 else ((y // period + x // period) % 2)
    image = np.where(pattern[..., None] == 1, a, b).astype(np.int16)
    image += rng.integers(-12, 13, image.shape, dtype=np.int16)
    return np.clip(image, 0, 255).astype(np.uint8)


def write_crop(data_dir: Path, relative: str, image: np.ndarray) -> None:
    path = data_dir / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(image).save(path, quality=95)


def add_video(
    catalog: Catalog,
    data_dir: Path,
    name: str,
    creator: str,
    posted_at: dt.date,
    crops: list[tuple[str, np.ndarray]],
) -> list[int]:
    """One done video whose garments are ``crops`` ((kind, image) pairs), one frame each."""
    submission = VideoSubmission(Path(name), creator, CREATORS.get(creator, 1_000), posted_at, name)
    video_id = catalog.begin_video(submission, content_hash=name)
    frames, rows = [], []
    for n, (kind, image) in enumerate(crops):
        relative = f"crops/{video_id}/{n:03d}_{kind}.jpg"
        write_crop(data_dir, relative, image)
        frames.append(FrameRow(0.5 * n, n, 100.0, n, INFO.width, INFO.height))
        rows.append(GarmentRow(n, kind, Box(0, 0, 32, 32), "test", 0.9, relative))
    return catalog.finish_video(video_id, INFO, frames, rows)


def make_world(
    data_dir: Path, videos: int = 20, per_video: int = 5, seed: int = 0
) -> list[WorldGarment]:
    """``videos`` videos over the creators and ~2 months, ``per_video`` + 1 garments each
    (the last garment is a near-identical second frame of the first)."""
    rng = np.random.default_rng(seed)
    garments: list[WorldGarment] = []
    handles = list(CREATORS)
    with Catalog(data_dir) as catalog:
        for v in range(videos):
            creator = handles[v % len(handles)]
            posted = dt.date(2026, 3, 1) + dt.timedelta(days=int(rng.integers(0, 60)))
            crops = [(KINDS[int(rng.integers(0, 3))], crop_image(rng)) for _ in range(per_video)]
            twin = np.clip(
                crops[0][1].astype(np.int16) + rng.integers(-2, 3, crops[0][1].shape), 0, 255
            )
            crops.append((crops[0][0], twin.astype(np.uint8)))
            ids = add_video(catalog, data_dir, f"video{v:03d}.mp4", creator, posted, crops)
            records = catalog.garments(ids=ids)
            garments += [
                WorldGarment(
                    g.id, g.video_id, creator, CREATORS[creator], posted, g.kind, g.crop_path
                )
                for g in records
            ]
    return garments


def index_config(**overrides: object) -> IndexConfig:
    """Index settings for tests: reload checks on every call, no progress noise."""
    config = IndexConfig.load()
    config.reload_check_s = 0.0
    return dataclasses.replace(config, **overrides)  # type: ignore[arg-type]


def unit_rows(
    rng: np.random.Generator, n: int, dim: int, clusters: int = 40, spread: float = 0.35
) -> np.ndarray:
    """Clustered unit vectors (like embeddings of related garments), float32 (n, dim)."""
    centres = rng.standard_normal((clusters, dim))
    points = centres[rng.integers(0, clusters, n)] + spread * rng.standard_normal((n, dim))
    points /= np.linalg.norm(points, axis=1, keepdims=True)
    return points.astype(np.float32)
