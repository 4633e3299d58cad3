"""Hand-built catalogs for the trends, creators and forecast tests: the answer is known."""

from __future__ import annotations

import datetime as dt
import hashlib
from pathlib import Path

import numpy as np

from inference.catalog import Catalog, FrameRow, GarmentRow
from inference.trends.clustering import Cluster, Clustering, outfit_vectors
from inference.trends.kmeans import normalise
from inference.types import Box, VideoInfo, VideoSubmission

INFO = VideoInfo(100, 200, 15.0, 4.0, 60, 0, "h264")
DAY0 = dt.date(2026, 3, 2)  # a Monday


class WorldBuilder:
    """Posts videos whose garments sit near known style vectors, and keeps their embeddings."""

    def __init__(self, catalog: Catalog, dim: int = 16, seed: int = 0, noise: float = 0.03):
        self.catalog = catalog
        self.dim = dim
        self.noise = noise
        self.rng = np.random.default_rng(seed)
        self.centres: dict[object, np.ndarray] = {}
        self.ids: list[int] = []
        self.vectors: list[np.ndarray] = []
        self.truth: dict[int, object] = {}  # garment id -> style key
        self._videos = 0

    def centre(self, style: object) -> np.ndarray:
        """The fixed unit vector of a style key (orthogonal-ish random directions)."""
        if style not in self.centres:
            vector = self.rng.normal(size=self.dim)
            self.centres[style] = vector / np.linalg.norm(vector)
        return self.centres[style]

    def post(
        self,
        creator: str,
        day: int | dt.date,
        styles: dict[str, object] | object,
        frames: int = 2,
        followers: int = 20_000,
        noise: float | None = None,
        method: str = "test",
    ) -> int:
        """One video by ``creator`` on ``day`` (offset from DAY0 or a date) showing ``styles``.

        ``styles`` maps garment kind -> style key (a bare key means one ``top``). Every frame
        shows every garment; ``method`` is the localiser recorded for them. Returns the video id.
        """
        kinds = styles if isinstance(styles, dict) else {"top": styles}
        posted = day if isinstance(day, dt.date) else DAY0 + dt.timedelta(days=day)
        self._videos += 1
        name = f"v{self._videos:05d}.mp4"
        # a hex content hash, as a real video's, so the deployment exports to the Parquet tables
        content_hash = hashlib.sha256(name.encode()).hexdigest()
        video_id = self.catalog.begin_video(VideoSubmission(Path(name), creator, followers, posted, name), content_hash)
        frame_rows = [FrameRow(0.5 + i, i, 100.0, i, 100, 200) for i in range(frames)]
        garment_rows, keys = [], []
        for f in range(frames):
            for kind, key in kinds.items():
                garment_rows.append(GarmentRow(f, kind, Box(0, 0, 10, 10), method, 0.9, f"crops/{video_id}/{f}_{kind}.jpg"))
                keys.append(key)
        ids = self.catalog.finish_video(video_id, INFO, frame_rows, garment_rows)
        for garment_id, key in zip(ids, keys, strict=True):
            vector = self.centre(key) + (self.noise if noise is None else noise) * self.rng.normal(size=self.dim)
            self.ids.append(garment_id)
            self.vectors.append((vector / np.linalg.norm(vector)).astype(np.float32))
            self.truth[garment_id] = key
        return video_id

    def arrays(self) -> tuple[np.ndarray, np.ndarray]:
        """Garment ids and embeddings posted so far (what the index would hold)."""
        if not self.ids:
            return np.zeros(0, np.int64), np.zeros((0, self.dim), np.float32)
        return np.asarray(self.ids, np.int64), np.stack(self.vectors)


class WordEncoder:
    """A stand-in text encoder: known words map to given vectors, others to random ones."""

    def __init__(self, words: dict[str, np.ndarray], dim: int, seed: int = 1):
        self.words = words
        self.dim = dim
        self.rng = np.random.default_rng(seed)
        self.name = f"words:{dim}"

    def encode_text(self, texts: list[str]) -> np.ndarray:
        rows = []
        for text in texts:
            vector = self.words.get(text)
            if vector is None:
                vector = 0.2 * self.rng.normal(size=self.dim) / np.sqrt(self.dim)
            rows.append(vector / np.linalg.norm(vector))
        return np.asarray(rows, np.float32)


def make_data(events: list[tuple], styles: dict[int, object] | None = None):  # type: ignore[type-arg]
    """TrendData from events ``(style_id | None, creator, day, frames=2, distance=0.1, followers=20k, video_frames)``.

    Each event is one video; ``style_id`` None is a post showing no style. ``video_frames``
    (frames of the video showing any style) defaults to max(frames, 3), about what the
    sampler keeps of a short video.
    """
    from inference.trends import Post, Sighting, TrendData

    posts, sightings = [], []
    for video_id, event in enumerate(events, start=1):
        style_id, creator, day, *rest = event
        frames, distance, followers = (list(rest) + [2, 0.1, 20_000][len(rest):])[:3]
        video_frames = rest[3] if len(rest) > 3 else max(frames, 3)
        posted = day if isinstance(day, dt.date) else DAY0 + dt.timedelta(days=day)
        posts.append(Post(video_id, creator, followers, posted))
        if style_id is not None:
            sightings.append(Sighting(style_id, video_id, creator, followers, posted, frames, frames, video_frames, distance,
                                      video_id * 10, 1.5, f"crops/{video_id}/0_top.jpg"))
    sightings.sort(key=lambda s: (s.day, s.video_id))
    posts.sort(key=lambda p: (p.day, p.video_id))
    return TrendData(sightings, posts, dict(styles or {}))


def outfit_clustering(vectors: np.ndarray, kinds: list[str], frames: np.ndarray, labels: np.ndarray,
                      radius: float, cluster_kinds: list[str] | None = None) -> Clustering:
    """A k-means-like clustering of garment rows already labelled: each cluster's centroid is the
    mean of its frames' outfit vectors (tops and bottoms), distances to it, a fixed radius."""
    unit, unit_of = outfit_vectors(vectors, frames, kinds, ["top", "bottom"])
    clusters, distances = [], np.zeros(len(labels), np.float32)
    for c in range(int(labels.max()) + 1):
        members = labels == c
        centroid = normalise(unit[np.unique(unit_of[members])].mean(axis=0, keepdims=True))[0]
        distances[members] = 1.0 - unit[unit_of[members]] @ centroid
        clusters.append(Cluster(cluster_kinds[c] if cluster_kinds else "outfit", centroid, int(members.sum()), radius))
    return Clustering(labels, distances, clusters, {})
