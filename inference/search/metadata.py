"""Catalog metadata cached in numpy arrays: filters compile to a selection of garment ids, and
hits learn where they came from, without a query to the catalog per search."""

from __future__ import annotations

import datetime as dt
import difflib
import threading
import time
from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np

from core.errors import BadInputError
from inference.catalog import MetadataReader, StylesVersion, local_commits
from inference.index import Selection
from inference.search.settings import SearchFilters
from inference.trends.identity import STATE_KEY
from inference.types import GARMENT_KINDS, TIERS, follower_tier

KIND_CODE: dict[str, int] = {kind: code for code, kind in enumerate(GARMENT_KINDS)}
_NO_DATE = np.iinfo(np.int32).min
# One record per garment, so a search reads a hit's facts with one lookup (crop path i is
# the UTF-8 bytes crop_start:crop_end of the concatenated crop paths).
GARMENT_RECORD = np.dtype(
    [("video", np.int64), ("t", np.float64), ("style", np.int64), ("crop_start", np.int64),
     ("crop_end", np.int64), ("kind", np.int8)]
)
# Last in the cache's records, where position -1 (an id the catalog does not know) lands.
_UNKNOWN = np.array([(-1, 0.0, -1, 0, 0, -1)], GARMENT_RECORD)
_KIND_SPAN = 4  # a twin key is video id x this + kind code
assert len(GARMENT_KINDS) <= _KIND_SPAN


class GarmentFacts(NamedTuple):
    """What the catalog says about one garment, as search keeps it in memory."""

    kind: str  # top, bottom or full
    crop_path: str  # relative to the data directory
    creator: str  # creator handle ("" when the video has no creator)
    followers: int  # creator's follower count (0 without a creator)
    tier: str  # follower tier
    video_id: int
    source_path: str  # the video file it came from
    t_s: float  # moment in the video, seconds
    posted_at: str  # ISO date the video was posted ("" when unknown)
    style_id: int | None  # style it belongs to, when styles have been computed
    style: str | None  # that style's name


class GarmentRecords(NamedTuple):
    """The in-memory catalog's records of several garments, in the order asked, with the
    tables that complete them: one consistent state even when the cache refreshes after."""

    positions: np.ndarray  # per garment asked, its row in ``garments`` (-1: the catalog does not know it)
    twin_keys: list[int]  # per garment: equal for garments of one video and kind; -1 when unknown
    garments: np.ndarray  # the cache's GARMENT_RECORD rows, the unknown garment's row last
    crop_blob: bytes
    video_facts: list[tuple[str, str, int, str, str]]  # per video id: source, creator, followers, tier, posted
    style_names: dict[int, str]

    def videos_and_kinds(self) -> tuple[np.ndarray, np.ndarray]:
        """Video id and kind code per garment (-1 where unknown)."""
        keys = np.asarray(self.twin_keys, np.int64)
        known = keys >= 0
        return np.where(known, keys // _KIND_SPAN, -1), np.where(known, keys % _KIND_SPAN, -1)

    def facts(self, picked: int | list[int], root: str = "") -> list[GarmentFacts | None]:
        """What the catalog says about the garments at ``picked`` (indices into those asked;
        an int n: the first n), None for those it does not know; crop paths with ``root`` in front."""
        return [None if fields is None else GarmentFacts._make(fields) for fields in self.fields(picked, root)]

    def fields(self, picked: int | list[int], root: str = "") -> list[tuple[Any, ...] | None]:
        """:meth:`facts` as plain tuples (GarmentFacts' fields in order): what search builds
        its hits from, a tuple being the cheapest record to make."""
        positions = self.positions[:picked] if isinstance(picked, int) else self.positions[picked]
        blob, video_facts, style_names = self.crop_blob, self.video_facts, self.style_names
        fields: list[tuple[Any, ...] | None] = []
        for video, t, style, crop_start, crop_end, kind in self.garments[positions].tolist():
            if video < 0:
                fields.append(None)
                continue
            source, creator, followers, tier, posted = video_facts[video]
            fields.append((
                GARMENT_KINDS[kind], root + blob[crop_start:crop_end].decode(), creator, followers, tier, video,
                source, t, posted, None if style < 0 else style, None if style < 0 else style_names.get(style),
            ))
        return fields


class CatalogMetadata:
    """Garment, video, creator and style columns of the catalog as numpy arrays.

    Refreshed when the catalog changes (SQLite's ``data_version``): new garments are
    appended, anything else reloads. Filters compile to a :class:`Selection` here.
    SQLite is asked at once after this process wrote to a catalog, else at most every
    ``max_age_s`` given to :meth:`refresh` (other processes' writes).

    Args:
        reader: a read-only connection of its own (``Catalog.metadata_reader()``); closed
            by :meth:`close`.
    """

    def __init__(self, reader: MetadataReader):
        self._reader = reader
        self._lock = threading.Lock()
        self._data_version: int | None = None
        self._asked: tuple[int, float] = (-1, -float("inf"))  # (local commits, monotonic time) when SQLite was last asked
        self.generation = 0  # bumps whenever the arrays change
        self.garment_ids = np.zeros(0, np.int64)  # sorted
        self._garments = _UNKNOWN.copy()  # per garment id, same order, then the unknown garment's row
        self._twin_keys = np.full(1, -1, np.int64)  # per garment: video id x _KIND_SPAN + kind; -1 last
        self._position_of: np.ndarray | None = None  # garment id -> position (-1: none); see _index_positions
        self._crop_blob = b""  # every garment's crop path, UTF-8, concatenated
        self._video_facts: list[tuple[str, str, int, str, str]] = []  # per video id: source, creator, followers, tier, posted
        self._styles_version: StylesVersion | None = None
        self.style_names: dict[int, str] = {}
        self._set_aside = np.zeros(0, bool)  # per garment: kept out of styles as no garment
        self.set_aside_reasons: dict[int, str] = {}  # garment id -> why

    def close(self) -> None:
        self._reader.close()

    def refresh(self, max_age_s: float = 0.0) -> None:
        """Reload what changed since the last call (cheap when nothing did). SQLite is asked
        when this process has written to a catalog since, or ``max_age_s`` seconds have passed."""
        commits = local_commits()
        asked_commits, asked_at = self._asked
        if commits == asked_commits and time.monotonic() - asked_at < max_age_s:
            return
        with self._lock:
            self._asked = (commits, time.monotonic())
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
            self.set_aside_reasons = self._reader.set_aside(STATE_KEY)
            self._set_aside = np.isin(self.garment_ids, np.fromiter(self.set_aside_reasons, np.int64))

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
        self._video_facts = [("", "", 0, follower_tier(0), "")] * (top + 1)
        for video_id, creator, posted, status, source in zip(
            videos.ids, videos.creator_ids, videos.posted_at, videos.statuses, videos.source_paths,
            strict=True,
        ):
            self._video_creator[video_id] = -1 if creator is None else creator
            self._video_day[video_id] = _day(posted)
            self._video_done[video_id] = status == "done"
            handle, followers = ("", 0) if creator is None else (self._creator_handle[creator], self._creator_followers[creator])
            self._video_facts[video_id] = (source, handle, int(followers), follower_tier(int(followers)), posted or "")

    def _load_garments(self) -> None:
        count = self._reader.garment_count()
        last = int(self.garment_ids[-1]) if len(self.garment_ids) else -1
        fresh = self._reader.garments_after(last)
        if len(self.garment_ids) + len(fresh.ids) != count:  # not only appends: reload all
            self.garment_ids = np.zeros(0, np.int64)
            self._garments = _UNKNOWN.copy()
            self._twin_keys = np.full(1, -1, np.int64)
            self._crop_blob = b""
            self._styles_version = None
            self._load_garments()
            return
        crops = [crop.encode() for crop in fresh.crop_paths]
        added = np.zeros(len(crops), GARMENT_RECORD)
        added["video"] = fresh.video_ids
        added["kind"] = np.fromiter((KIND_CODE[kind] for kind in fresh.kinds), np.int8, len(fresh.kinds))
        added["t"] = fresh.t_s
        added["style"] = -1  # until styles are read
        added["crop_end"] = len(self._crop_blob) + np.cumsum(np.fromiter(map(len, crops), np.int64, len(crops)))
        added["crop_start"][1:] = added["crop_end"][:-1]
        if len(added):
            added["crop_start"][0] = len(self._crop_blob)
        self._crop_blob += b"".join(crops)
        self.garment_ids = np.concatenate([self.garment_ids, np.asarray(fresh.ids, np.int64)])
        self._garments = np.concatenate([self._garments[:-1], added, _UNKNOWN])
        keys = added["video"] * _KIND_SPAN + added["kind"]
        self._twin_keys = np.concatenate([self._twin_keys[:-1], keys, [-1]])
        self._index_positions()

    @property
    def _columns(self) -> np.ndarray:
        """The GARMENT_RECORD of each garment, in ``garment_ids`` order."""
        return self._garments[:-1]

    def _index_positions(self) -> None:
        """Garment ids are nearly dense (AUTOINCREMENT): a table id -> position answers a
        lookup with one memory access; its one slot past the largest id is -1, where the
        index's "no result" id -1 lands."""
        ids = self.garment_ids
        self._position_of = None
        if len(ids) and ids[0] >= 0 and ids[-1] < 4 * len(ids) + (1 << 20):
            table = np.full(int(ids[-1]) + 2, -1, np.int64)
            table[ids] = np.arange(len(ids))
            self._position_of = table

    def _load_styles(self) -> None:
        version = self._reader.styles_version()
        if version == self._styles_version:  # garments appended since have no style yet (-1)
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
        self._columns["style"] = styles

    # -- lookups and filters ----------------------------------------------------------------------
    def videos_and_kinds(self, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Video id and kind code of each garment id (-1 where unknown)."""
        return self.records(np.asarray(ids, np.int64).clip(-1)).videos_and_kinds()

    def describe(self, ids: np.ndarray) -> list[GarmentFacts | None]:
        """Catalog facts of each garment id, from memory (None: the catalog does not know it)."""
        return self.records(np.asarray(ids, np.int64).clip(-1)).facts(len(ids))

    def records(self, ids: np.ndarray) -> GarmentRecords:
        """The catalog's records of garment ids as a search returns them (int64, each a
        garment id or -1 for none), read together: one state of the catalog."""
        with self._lock:
            pos = self._found_positions(ids)
            return GarmentRecords(
                pos, self._twin_keys[pos].tolist(), self._garments, self._crop_blob, self._video_facts,
                self.style_names,
            )

    def _found_positions(self, ids: np.ndarray) -> np.ndarray:
        """Index of each garment id (>= -1) in the arrays, -1 where unknown."""
        table = self._position_of
        if table is not None:
            try:
                return table[ids]  # -1 lands on the table's last slot, which is -1
            except IndexError:  # an id past the table: not in the catalog (yet)
                inside = ids < len(table)
                return np.where(inside, table[np.where(inside, ids, -1)], -1)
        n = len(self.garment_ids)
        if not n:
            return np.full(len(ids), -1, np.int64)
        found = np.minimum(np.searchsorted(self.garment_ids, ids), n - 1)
        return np.where(self.garment_ids[found] == ids, found, -1)

    def live_ids(self, set_aside: bool = True) -> np.ndarray:
        """Ids of every garment of a done video (``set_aside`` False: but those set aside as no garment)."""
        with self._lock:
            live = self._video_done[self._columns["video"]]
            return self.garment_ids[live if set_aside else live & ~self._set_aside]

    @property
    def has_set_aside(self) -> bool:
        """Whether any garment is set aside as no garment."""
        return bool(self.set_aside_reasons)

    def select(self, filters: SearchFilters) -> Selection:
        """The garments passing ``filters`` (unknown creators or styles are bad input)."""
        with self._lock:
            return self._select(filters)

    def _select(self, filters: SearchFilters) -> Selection:
        columns = self._columns
        video = columns["video"]
        keep = self._video_done[video].copy()
        if not filters.set_aside:
            keep &= ~self._set_aside
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
            keep &= np.isin(columns["kind"], [KIND_CODE[k] for k in filters.kinds])
        if filters.styles:
            unknown = sorted(set(filters.styles) - self.style_ids)
            if unknown:
                raise BadInputError(
                    f"unknown style {unknown[0]}; the catalog has {len(self.style_ids)} styles "
                    "(list them with `stylescope trends`)"
                )
            keep &= np.isin(columns["style"], list(filters.styles))
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

