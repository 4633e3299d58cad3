"""Catalog metadata cached in numpy arrays: filters compile to a selection of garment ids, and
hits learn where they came from, without a query to the catalog per search."""

from __future__ import annotations

import dataclasses
import datetime as dt
import difflib
import threading
from collections.abc import Sequence

import numpy as np

from core.errors import BadInputError
from inference.catalog import MetadataReader, StylesVersion
from inference.index import Selection
from inference.search.settings import SearchFilters
from inference.types import GARMENT_KINDS, TIERS

KIND_CODE: dict[str, int] = {kind: code for code, kind in enumerate(GARMENT_KINDS)}
_NO_DATE = np.iinfo(np.int32).min



@dataclasses.dataclass(frozen=True, slots=True)
class GarmentColumns:
    """What the catalog says about several garments, as search keeps it in memory: one list
    per fact, in the order asked, garments the catalog does not know left out."""

    known: np.ndarray  # bool, per garment asked: does the catalog know it
    garment_ids: list[int]
    kinds: list[str]  # top, bottom or full
    video_ids: list[int]
    source_paths: list[str]  # the video file each came from
    t_s: list[float]  # moment in the video, seconds
    creators: list[str]  # creator handle ("" when the video has no creator)
    followers: list[int]  # creator's follower count
    posted_at: list[str]  # ISO date the video was posted ("" when unknown)
    style_ids: list[int | None]  # style it belongs to, when styles have been computed
    styles: list[str | None]  # that style's name
    crop_paths: list[str]  # relative to the data directory


class CatalogMetadata:
    """Garment, video, creator and style columns of the catalog as numpy arrays.

    Refreshed when the catalog changes (SQLite's ``data_version``): new garments are
    appended, anything else reloads. Filters compile to a :class:`Selection` here.

    Args:
        reader: a read-only connection of its own (``Catalog.metadata_reader()``); closed
            by :meth:`close`.
    """

    def __init__(self, reader: MetadataReader):
        self._reader = reader
        self._lock = threading.Lock()
        self._data_version: int | None = None
        self.generation = 0  # bumps whenever the arrays change
        self.garment_ids = np.zeros(0, np.int64)
        self._garment_video = np.zeros(0, np.int64)
        self._garment_kind = np.zeros(0, np.int8)
        self._garment_t = np.zeros(0, np.float64)
        self._crop_blob = b""  # every garment's crop path, UTF-8, concatenated
        self._crop_ends = np.zeros(1, np.int64)  # crop i is blob[ends[i]:ends[i + 1]]
        self._garment_style = np.zeros(0, np.int64)
        self._styles_version: StylesVersion | None = None

    def close(self) -> None:
        self._reader.close()

    def refresh(self) -> None:
        """Reload what changed since the last call (cheap when nothing did)."""
        with self._lock:
            version = self._reader.data_version()
            if version == self._data_version:
                return
            self._data_version = version
            self._load()
            self.generation += 1

    def _load(self) -> None:
        with self._reader.snapshot():  # one consistent snapshot
            self._load_creators_and_videos()
            self._load_garments()
            self._load_styles()

    def _load_creators_and_videos(self) -> None:
        creators = self._reader.creators()
        top = max(creators.ids, default=0)
        self.creator_ids = dict(zip(creators.handles, creators.ids, strict=True))
        self._creator_followers = np.full(top + 1, -1, np.int64)
        self._creator_handle = [""] * (top + 1)
        for creator_id, handle, followers in zip(
            creators.ids, creators.handles, creators.followers, strict=True
        ):
            self._creator_followers[creator_id] = followers
            self._creator_handle[creator_id] = handle
        videos = self._reader.videos()
        top = max(videos.ids, default=0)
        self._video_creator = np.full(top + 1, -1, np.int64)
        self._video_day = np.full(top + 1, _NO_DATE, np.int32)
        self._video_done = np.zeros(top + 1, bool)
        self._video_posted: list[str] = [""] * (top + 1)
        self._video_source: list[str] = [""] * (top + 1)
        for video_id, creator, posted, status, source in zip(
            videos.ids, videos.creator_ids, videos.posted_at, videos.statuses, videos.source_paths,
            strict=True,
        ):
            self._video_creator[video_id] = -1 if creator is None else creator
            self._video_day[video_id] = _day(posted)
            self._video_done[video_id] = status == "done"
            self._video_posted[video_id] = posted or ""
            self._video_source[video_id] = source

    def _load_garments(self) -> None:
        count = self._reader.garment_count()
        last = int(self.garment_ids[-1]) if len(self.garment_ids) else -1
        fresh = self._reader.garments_after(last)
        ids = np.asarray(fresh.ids, np.int64)
        videos = np.asarray(fresh.video_ids, np.int64)
        kinds = np.fromiter((KIND_CODE[kind] for kind in fresh.kinds), np.int8, len(fresh.kinds))
        moments = np.asarray(fresh.t_s, np.float64)
        crops = [crop.encode() for crop in fresh.crop_paths]
        ends = np.cumsum(np.fromiter((len(c) for c in crops), np.int64, len(crops)))
        if len(self.garment_ids) + len(ids) == count:  # only appends since the last load
            base = int(self._crop_ends[-1])
            self._crop_blob += b"".join(crops)
            self._crop_ends = np.concatenate([self._crop_ends, base + ends])
            self.garment_ids = np.concatenate([self.garment_ids, ids])
            self._garment_video = np.concatenate([self._garment_video, videos])
            self._garment_kind = np.concatenate([self._garment_kind, kinds])
            self._garment_t = np.concatenate([self._garment_t, moments])
            return
        self.garment_ids = np.zeros(0, np.int64)
        self._garment_video = np.zeros(0, np.int64)
        self._garment_kind = np.zeros(0, np.int8)
        self._garment_t = np.zeros(0, np.float64)
        self._crop_blob = b""
        self._crop_ends = np.zeros(1, np.int64)
        self._styles_version = None
        self._load_garments()

    def _load_styles(self) -> None:
        version = self._reader.styles_version()
        if version == self._styles_version:
            grown = len(self.garment_ids) - len(self._garment_style)
            if grown > 0:  # garments appended since: no style yet
                self._garment_style = np.concatenate(
                    [self._garment_style, np.full(grown, -1, np.int64)]
                )
            return
        self._styles_version = version
        self.style_names = self._reader.style_name_by_id()
        self.style_ids = set(self.style_names)
        pairs = self._reader.garment_styles()
        styles = np.full(len(self.garment_ids), -1, np.int64)
        if pairs.garment_ids and len(self.garment_ids):
            garments = np.asarray(pairs.garment_ids, np.int64)
            style = np.asarray(pairs.style_ids, np.int64)
            pos = np.minimum(np.searchsorted(self.garment_ids, garments), len(self.garment_ids) - 1)
            found = self.garment_ids[pos] == garments
            styles[pos[found]] = style[found]
        self._garment_style = styles

    # -- lookups and filters ----------------------------------------------------------------------
    def videos_and_kinds(self, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Video id and kind code of each garment id (-1 where unknown)."""
        with self._lock:
            pos = self._positions(np.asarray(ids, np.int64))
            if not len(self.garment_ids):
                return np.full(len(ids), -1, np.int64), np.full(len(ids), -1, np.int64)
            known = pos >= 0
            video = np.where(known, self._garment_video[pos], -1)
            kind = np.where(known, self._garment_kind[pos], -1).astype(np.int64)
            return video, kind

    def describe(self, ids: np.ndarray) -> GarmentColumns:
        """Catalog facts of garments, from memory, one list per fact (unknown ids left out)."""
        with self._lock:
            pos = self._positions(np.asarray(ids, np.int64))
            known = pos >= 0
            if not known.all():
                pos = pos[known]
            videos = self._garment_video[pos]
            creators = self._video_creator[videos]
            video_list, creator_list = videos.tolist(), creators.tolist()
            style_list = self._garment_style[pos].tolist()
            blob = self._crop_blob
            return GarmentColumns(
                known=known,
                garment_ids=self.garment_ids[pos].tolist(),
                kinds=[GARMENT_KINDS[kind] for kind in self._garment_kind[pos].tolist()],
                video_ids=video_list,
                source_paths=[self._video_source[video] for video in video_list],
                t_s=self._garment_t[pos].tolist(),
                creators=[self._creator_handle[c] if c >= 0 else "" for c in creator_list],
                followers=np.where(creators >= 0, self._creator_followers[creators], 0).tolist(),
                posted_at=[self._video_posted[video] for video in video_list],
                style_ids=[style if style >= 0 else None for style in style_list],
                styles=[self.style_names.get(style) if style >= 0 else None for style in style_list],
                crop_paths=[
                    blob[start:end].decode()
                    for start, end in zip(self._crop_ends[pos].tolist(), self._crop_ends[pos + 1].tolist(), strict=True)
                ],
            )

    def _positions(self, ids: np.ndarray) -> np.ndarray:
        """Index of each garment id in the arrays, -1 where unknown. Ids are nearly dense
        (AUTOINCREMENT), so ``id - first id`` is tried before a binary search."""
        n = len(self.garment_ids)
        if not n:
            return np.full(len(ids), -1, np.int64)
        guess = ids - self.garment_ids[0]
        inside = (guess >= 0) & (guess < n)
        hit = inside & (self.garment_ids[np.where(inside, guess, 0)] == ids)
        if not hit.all():
            found = np.minimum(np.searchsorted(self.garment_ids, ids[~hit]), n - 1)
            guess[~hit] = np.where(self.garment_ids[found] == ids[~hit], found, -1)
        return guess

    def live_ids(self) -> np.ndarray:
        """Ids of every garment of a done video."""
        with self._lock:
            return self.garment_ids[self._video_done[self._garment_video]]

    def select(self, filters: SearchFilters) -> Selection:
        """The garments passing ``filters`` (unknown creators or styles are bad input)."""
        with self._lock:
            return self._select(filters)

    def _select(self, filters: SearchFilters) -> Selection:
        video = self._garment_video
        keep = self._video_done[video].copy()
        if filters.date_from or filters.date_to:
            day = self._video_day[video]
            keep &= day != _NO_DATE
            if filters.date_from:
                keep &= day >= filters.date_from.toordinal()
            if filters.date_to:
                keep &= day <= filters.date_to.toordinal()
        if filters.creators:
            keep &= np.isin(self._video_creator, self._creator_ids(filters.creators))[video]
        if filters.tiers:
            keep &= self._tier_mask(filters.tiers)[video]
        if filters.kinds:
            keep &= np.isin(self._garment_kind, [KIND_CODE[k] for k in filters.kinds])
        if filters.styles:
            unknown = sorted(set(filters.styles) - self.style_ids)
            if unknown:
                raise BadInputError(
                    f"unknown style {unknown[0]}; the catalog has {len(self.style_ids)} styles "
                    "(list them with `stylescope trends`)"
                )
            keep &= np.isin(self._garment_style, list(filters.styles))
        return Selection(self.garment_ids[keep])

    def _creator_ids(self, handles: Sequence[str]) -> list[int]:
        ids = []
        for handle in handles:
            if handle not in self.creator_ids:
                close = difflib.get_close_matches(handle, list(self.creator_ids), n=3)
                hint = f"; did you mean {', '.join('@' + c for c in close)}?" if close else ""
                raise BadInputError(
                    f"unknown creator @{handle}: no videos from them in the catalog{hint}"
                )
            ids.append(self.creator_ids[handle])
        return ids

    def _tier_mask(self, tiers: Sequence[str]) -> np.ndarray:
        """Per video: does its creator's follower count fall in one of ``tiers``."""
        creator = self._video_creator
        followers = np.where(creator >= 0, self._creator_followers[np.maximum(creator, 0)], -1)
        mask = np.zeros(len(creator), bool)
        for tier in tiers:
            low, high = TIERS[tier]
            mask |= (followers >= low) & (
                followers < (high if high is not None else np.iinfo(np.int64).max)
            )
        return mask


def _day(iso: str | None) -> int:
    if not iso:
        return int(_NO_DATE)
    try:
        return dt.date.fromisoformat(iso[:10]).toordinal()
    except ValueError:
        return int(_NO_DATE)

