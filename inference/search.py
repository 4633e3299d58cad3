"""Search garments by image, by text, or by both, with metadata filters.

A query becomes one L2-normalised embedding (image: a garment is localised first when the
image shows a person; text; or image + text combined with a weight and renormalised), the
filters become a :class:`~inference.index.Selection` of allowed garment ids computed from
catalog metadata cached in numpy arrays, and the live index answers inside those ids. Hits
are joined with the catalog (crop, creator, video, moment, posted_at, style), near-identical
frames of one video are collapsed, and hits can be grouped by creator.
"""

from __future__ import annotations

import collections
import dataclasses
import datetime as dt
import difflib
import logging
import os
import sqlite3
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

import configs
from core.errors import BadInputError
from inference.catalog import CATALOG_FILE, Catalog
from inference.embed import embed_crops
from inference.encoders import resolve_encoder
from inference.images import load_image
from inference.index import GarmentIndex, IndexConfig, Selection, check_encoder
from inference.types import GARMENT_KINDS, TIER_ALIASES, TIERS, follower_tier, tier_bounds

if TYPE_CHECKING:
    from models.base import Encoder

logger = logging.getLogger(__name__)

_KIND_CODE: dict[str, int] = {kind: code for code, kind in enumerate(GARMENT_KINDS)}
_NO_DATE = np.iinfo(np.int32).min


@dataclasses.dataclass
class SearchConfig:
    """Settings of search (the ``search`` section of configs/index.yaml)."""

    k: int = 10  # results returned when the caller does not say
    text_weight: float = 0.5  # image + text queries: weight of the text embedding (0..1)
    dedup_threshold: float = 0.97  # hits of one video at least this similar count as one garment
    dedup_fetch_factor: int = 3  # hits fetched per result kept, so de-duplication can drop some
    localise: bool = True  # image queries: cut the garment out first when a person is found
    selection_cache: int = 32  # compiled filters kept in memory

    @classmethod
    def load(cls, user_file: str | Path | None = None) -> SearchConfig:
        """The packaged search config, with a user file merged over it."""
        return configs.from_dict(cls, configs.load("index", user_file).get("search", {}))


@dataclasses.dataclass(frozen=True)
class SearchFilters:
    """Which garments a search may return; empty fields do not filter."""

    date_from: dt.date | None = None  # posted on or after this day
    date_to: dt.date | None = None  # posted on or before this day
    creators: tuple[str, ...] = ()  # creator handles (without '@')
    tiers: tuple[str, ...] = ()  # follower tiers: nano, micro, mid (macro), mega
    kinds: tuple[str, ...] = ()  # garment kinds: top, bottom, full
    styles: tuple[int, ...] = ()  # style ids (from `stylescope trends`)

    @classmethod
    def build(
        cls,
        date_from: dt.date | str | None = None,
        date_to: dt.date | str | None = None,
        creators: Sequence[str] = (),
        tiers: Sequence[str] = (),
        kinds: Sequence[str] = (),
        styles: Sequence[int | str] = (),
    ) -> SearchFilters:
        """Filters from user input, checked: dates parsed, range order, tier and kind names."""
        start, end = _parse_date(date_from, "from"), _parse_date(date_to, "to")
        if start and end and start > end:
            raise BadInputError(f"the date range is reversed: from {start} is after to {end}")
        for tier in tiers:
            try:
                tier_bounds(tier)
            except ValueError as exc:
                raise BadInputError(str(exc)) from None
        unknown_kinds = sorted(set(kinds) - set(GARMENT_KINDS))
        if unknown_kinds:
            raise BadInputError(
                f"unknown garment kind {unknown_kinds[0]!r}; choose from {', '.join(GARMENT_KINDS)}"
            )
        try:
            style_ids = tuple(sorted({int(s) for s in styles}))
        except ValueError:
            raise BadInputError(f"style ids are numbers, got {list(styles)}") from None
        return cls(
            start,
            end,
            tuple(sorted({c.lstrip("@") for c in creators})),
            tuple(sorted({TIER_ALIASES.get(t.lower(), t.lower()) for t in tiers})),
            tuple(sorted(set(kinds))),
            style_ids,
        )

    def __bool__(self) -> bool:
        return bool(
            self.date_from
            or self.date_to
            or self.creators
            or self.tiers
            or self.kinds
            or self.styles
        )


def _parse_date(value: dt.date | str | None, what: str) -> dt.date | None:
    if value is None or isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise BadInputError(f"--{what} date must look like 2024-05-31, got {value!r}") from None


# -- catalog metadata cached for filters ------------------------------------------------------


class CatalogMetadata:
    """Garment, video, creator and style columns of the catalog as numpy arrays.

    Refreshed when the catalog changes (SQLite's ``data_version``): new garments are
    appended, anything else reloads. Filters compile to a :class:`Selection` here.
    """

    def __init__(self, data_dir: str | Path):
        path = Path(data_dir) / CATALOG_FILE
        self._conn = sqlite3.connect(
            f"file:{path}?mode=ro", uri=True, check_same_thread=False, isolation_level=None
        )
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
        self._signature: tuple[Any, ...] = ()

    def close(self) -> None:
        self._conn.close()

    def refresh(self) -> None:
        """Reload what changed since the last call (cheap when nothing did)."""
        with self._lock:
            version = self._conn.execute("PRAGMA data_version").fetchone()[0]
            if version == self._data_version:
                return
            self._data_version = version
            self._load()
            self.generation += 1

    def _load(self) -> None:
        conn = self._conn
        conn.execute("BEGIN")  # one consistent snapshot
        try:
            self._load_creators_and_videos(conn)
            self._load_garments(conn)
            self._load_styles(conn)
        finally:
            conn.execute("COMMIT")

    def _load_creators_and_videos(self, conn: sqlite3.Connection) -> None:
        creators = conn.execute("SELECT id, handle, followers FROM creators").fetchall()
        top = max((c[0] for c in creators), default=0)
        self.creator_ids = {c[1]: c[0] for c in creators}
        self._creator_followers = np.full(top + 1, -1, np.int64)
        self._creator_handle = [""] * (top + 1)
        for cid, handle, followers in creators:
            self._creator_followers[cid] = followers
            self._creator_handle[cid] = handle
        videos = conn.execute(
            "SELECT id, creator_id, posted_at, status, source_path FROM videos"
        ).fetchall()
        top = max((v[0] for v in videos), default=0)
        self._video_creator = np.full(top + 1, -1, np.int64)
        self._video_day = np.full(top + 1, _NO_DATE, np.int32)
        self._video_done = np.zeros(top + 1, bool)
        self._video_posted: list[str] = [""] * (top + 1)
        self._video_source: list[str] = [""] * (top + 1)
        for vid, cid, posted, status, source in videos:
            self._video_creator[vid] = -1 if cid is None else cid
            self._video_day[vid] = _day(posted)
            self._video_done[vid] = status == "done"
            self._video_posted[vid] = posted or ""
            self._video_source[vid] = source

    def _load_garments(self, conn: sqlite3.Connection) -> None:
        count = conn.execute("SELECT COUNT(*) FROM garments").fetchone()[0]
        last = int(self.garment_ids[-1]) if len(self.garment_ids) else -1
        fresh = conn.execute(
            "SELECT g.id, g.video_id, g.kind, f.t_s, g.crop_path FROM garments g "
            "JOIN frames f ON f.id = g.frame_id WHERE g.id > ? ORDER BY g.id",
            (last,),
        ).fetchall()
        ids = np.fromiter((g[0] for g in fresh), np.int64, len(fresh))
        videos = np.fromiter((g[1] for g in fresh), np.int64, len(fresh))
        kinds = np.fromiter((_KIND_CODE[g[2]] for g in fresh), np.int8, len(fresh))
        moments = np.fromiter((g[3] for g in fresh), np.float64, len(fresh))
        crops = [g[4].encode() for g in fresh]
        ends = np.cumsum(np.fromiter((len(c) for c in crops), np.int64, len(crops)))
        if len(self.garment_ids) + len(fresh) == count:  # only appends since the last load
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
        self._signature = ()
        self._load_garments(conn)

    def _load_styles(self, conn: sqlite3.Connection) -> None:
        signature = (
            *conn.execute("SELECT COUNT(*), MAX(updated_at) FROM styles").fetchone(),
            conn.execute("SELECT COUNT(*) FROM garment_styles").fetchone()[0],
        )
        if signature == self._signature:
            grown = len(self.garment_ids) - len(self._garment_style)
            if grown > 0:  # garments appended since: no style yet
                self._garment_style = np.concatenate(
                    [self._garment_style, np.full(grown, -1, np.int64)]
                )
            return
        self._signature = signature
        self.style_names = dict(conn.execute("SELECT id, name FROM styles").fetchall())
        self.style_ids = set(self.style_names)
        pairs = conn.execute("SELECT garment_id, style_id FROM garment_styles").fetchall()
        styles = np.full(len(self.garment_ids), -1, np.int64)
        if pairs and len(self.garment_ids):
            garments = np.fromiter((p[0] for p in pairs), np.int64, len(pairs))
            style = np.fromiter((p[1] for p in pairs), np.int64, len(pairs))
            pos = np.minimum(np.searchsorted(self.garment_ids, garments), len(self.garment_ids) - 1)
            found = self.garment_ids[pos] == garments
            styles[pos[found]] = style[found]
        self._garment_style = styles

    # -- lookups and filters ----------------------------------------------------------------------
    def videos_and_kinds(self, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Video id and kind code of each garment id (-1 where unknown)."""
        with self._lock:
            return self._videos_and_kinds(ids)

    def _videos_and_kinds(self, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        pos = self._positions(np.asarray(ids, np.int64))
        known = pos >= 0
        safe = np.where(known, pos, 0)
        if not len(self.garment_ids):
            return np.full(len(ids), -1, np.int64), np.full(len(ids), -1, np.int64)
        video = np.where(known, self._garment_video[safe], -1)
        kind = np.where(known, self._garment_kind[safe].astype(np.int64), -1)
        return video, kind

    def describe(self, ids: Sequence[int]) -> dict[int, tuple[Any, ...]]:
        """Catalog facts of garments, from memory: garment id -> (kind, video id, video
        source path, moment t_s, creator handle, followers, posted_at, style id, style name,
        crop path)."""
        with self._lock:
            pos = self._positions(np.asarray(ids, np.int64))
            known = pos >= 0
            pos, wanted = pos[known], np.asarray(ids, np.int64)[known]
            videos = self._garment_video[pos]
            creators = self._video_creator[videos]
            columns = zip(
                wanted.tolist(),
                self._garment_kind[pos].tolist(),
                videos.tolist(),
                self._garment_t[pos].tolist(),
                creators.tolist(),
                self._creator_followers[creators].tolist(),
                self._garment_style[pos].tolist(),
                self._crop_ends[pos].tolist(),
                self._crop_ends[pos + 1].tolist(),
                strict=True,
            )
            return {
                garment: (
                    GARMENT_KINDS[kind],
                    video,
                    self._video_source[video],
                    moment,
                    self._creator_handle[creator] if creator >= 0 else "",
                    followers if creator >= 0 else 0,
                    self._video_posted[video],
                    style if style >= 0 else None,
                    self.style_names.get(style) if style >= 0 else None,
                    self._crop_blob[start:end].decode(),
                )
                for garment, kind, video, moment, creator, followers, style, start, end in columns
            }

    def _positions(self, ids: np.ndarray) -> np.ndarray:
        """Index of each garment id in the arrays, -1 where unknown. Ids are nearly dense
        (AUTOINCREMENT), so ``id - first id`` is tried before a binary search."""
        n = len(self.garment_ids)
        if not n:
            return np.full(len(ids), -1, np.int64)
        guess = np.clip(ids - self.garment_ids[0], 0, n - 1)
        hit = self.garment_ids[guess] == ids
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
            keep &= np.isin(self._garment_kind, [_KIND_CODE[k] for k in filters.kinds])
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


# -- results ----------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True, slots=True)
class SearchHit:
    """One garment found, with where it came from."""

    garment_id: int
    score: float  # cosine similarity to the query
    kind: str  # top, bottom or full
    crop_path: str  # the garment crop, absolute path
    creator: str  # creator handle
    followers: int  # creator's follower count
    tier: str  # follower tier
    video_id: int
    source_path: str  # the video file it came from
    t_s: float  # moment in the video, seconds
    posted_at: str  # ISO date the video was posted
    style_id: int | None  # style it belongs to, when styles have been computed
    style: str | None  # that style's name


@dataclasses.dataclass
class CreatorGroup:
    """Hits of one creator ("who wears this?")."""

    creator: str
    followers: int
    tier: str
    best_score: float
    hits: list[SearchHit]


@dataclasses.dataclass
class SearchResult:
    """What a search returns."""

    hits: list[SearchHit]
    query: dict[str, Any]  # mode (image/text/image+text), localised garment, k, filters
    index_version: str
    matched: int | None = None  # garments passing the filters (None without filters)
    groups: list[CreatorGroup] | None = None  # with by_creator

    def to_dict(self) -> dict[str, Any]:
        """Plain data for JSON output."""
        return dataclasses.asdict(self)


def group_by_creator(hits: Sequence[SearchHit]) -> list[CreatorGroup]:
    """Hits grouped by creator, groups ordered by their best score."""
    groups: dict[str, CreatorGroup] = {}
    for hit in hits:
        group = groups.get(hit.creator)
        if group is None:
            groups[hit.creator] = CreatorGroup(
                hit.creator, hit.followers, hit.tier, hit.score, [hit]
            )
        else:
            group.hits.append(hit)
            group.best_score = max(group.best_score, hit.score)
    return sorted(groups.values(), key=lambda g: -g.best_score)


def dedupe_order(
    video: np.ndarray,
    kind: np.ndarray,
    vectors: np.ndarray,
    threshold: float,
    limit: int | None = None,
) -> np.ndarray:
    """Positions of the hits to keep, best first: a hit nearly identical (cosine >=
    ``threshold``) to a kept better hit of the same video and kind is dropped.

    Args:
        video: video id per hit (-1: unknown, never a duplicate).
        kind: garment kind code per hit.
        vectors: the hits' embeddings, float32 (n, dim).
        threshold: cosine from which two hits are one garment.
        limit: stop once this many are kept.
    """
    same = (
        (video[:, None] == video[None, :])
        & (kind[:, None] == kind[None, :])
        & (video[:, None] >= 0)
    )
    twin = np.triu(
        same & ((vectors @ vectors.T) >= threshold), 1
    )  # twin[i, j]: j duplicates earlier i
    kept: list[int] = []
    dropped = np.zeros(len(video), bool)
    for j in range(len(video)):
        if twin[:j, j].any() and not dropped[:j][twin[:j, j]].all():
            dropped[j] = True
            continue
        kept.append(j)
        if limit is not None and len(kept) >= limit:
            break
    return np.asarray(kept, np.int64)


def dedupe_hits(
    hits: Sequence[SearchHit], vectors: np.ndarray, threshold: float
) -> list[SearchHit]:
    """Drop hits nearly identical (cosine >= threshold) to a better hit of the same video and kind."""
    video = np.array([h.video_id for h in hits], np.int64)
    kind = np.array([_KIND_CODE.get(h.kind, -1) for h in hits], np.int64)
    return [hits[i] for i in dedupe_order(video, kind, np.asarray(vectors, np.float32), threshold)]


# -- the searcher ------------------------------------------------------------------------------


class Searcher:
    """Answers searches over one data directory; keep one per process (thread-safe).

    Args:
        data_dir: the deployment directory.
        encoder: the encoder for queries; default: the one :func:`inference.encoders.resolve_encoder`
            picks (the current model version's, else the one the live index was built with).
        config: search settings; default the packaged ones.
        index_config: index settings; default the packaged ones.
    """

    def __init__(
        self,
        data_dir: str | Path,
        encoder: Encoder | None = None,
        config: SearchConfig | None = None,
        index_config: IndexConfig | None = None,
    ):
        self.data_dir = Path(data_dir)
        self.config = config or SearchConfig.load()
        self.catalog = Catalog(self.data_dir)
        self.index = GarmentIndex(self.data_dir, index_config, None)
        live = self.index.version()  # no index: NoIndexError before any encoder loads
        self.encoder = resolve_encoder(encoder, self.data_dir)
        self.index.encoder_info = self.encoder.describe()
        check_encoder(live.meta, self.index.encoder_info)
        self.metadata = CatalogMetadata(self.data_dir)
        self._selections: collections.OrderedDict[Any, Selection] = collections.OrderedDict()
        self._cache_lock = threading.Lock()

    def close(self) -> None:
        """Close the catalog connections."""
        self.catalog.close()
        self.metadata.close()

    # -- queries ---------------------------------------------------------------------------------
    def embed_query(
        self, image: Any = None, text: str | None = None, kinds: Sequence[str] = ()
    ) -> tuple[np.ndarray, dict[str, Any]]:
        """The query embedding (float32 (dim,), unit length) and a description of the query."""
        if image is None and text is None:
            raise BadInputError("give an image, a text, or both to search with")
        parts: list[np.ndarray] = []
        query: dict[str, Any] = {}
        if image is not None:
            crop, query["garment"] = self._localise(load_image(image), kinds)
            parts.append(embed_crops(self.encoder, [crop], 1)[0])
        if text is not None:
            if not text.strip():
                raise BadInputError("the text query is empty")
            parts.append(self.encoder.encode_text([text])[0])
            query["text"] = text
        if len(parts) == 2:
            weight = self.config.text_weight
            vector = (1 - weight) * parts[0] + weight * parts[1]
            query["mode"] = "image+text"
        else:
            vector = parts[0]
            query["mode"] = "image" if image is not None else "text"
        norm = float(np.linalg.norm(vector))
        if not np.isfinite(norm) or norm < 1e-6:
            raise BadInputError("the image and text queries cancel out; change the text weight")
        return (vector / norm).astype(np.float32), query

    def _localise(
        self, image: np.ndarray, kinds: Sequence[str]
    ) -> tuple[np.ndarray, dict[str, Any] | None]:
        """The garment to search with: the wanted kind, else the whole outfit, else the image."""
        if not self.config.localise:
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
        return crop.image, {
            "kind": crop.kind,
            "box": list(crop.box.as_tuple()),
            "method": crop.method,
        }

    def search(
        self,
        image: Any = None,
        text: str | None = None,
        k: int | None = None,
        filters: SearchFilters | None = None,
        by_creator: bool = False,
        dedupe: bool = True,
    ) -> SearchResult:
        """Search by image (path, bytes or RGB array), text, or both.

        Raises:
            BadInputError: no query, an image that is not an image, k out of range, a filter
                naming an unknown creator or style, or an empty index.
        """
        filters = filters or SearchFilters()
        vector, query = self.embed_query(image, text, filters.kinds)
        result = self.search_vector(vector, k, filters, by_creator, dedupe)
        result.query.update(query)
        return result

    def search_vector(
        self,
        vector: np.ndarray,
        k: int | None = None,
        filters: SearchFilters | None = None,
        by_creator: bool = False,
        dedupe: bool = True,
    ) -> SearchResult:
        """Search with a ready query embedding (float32 (dim,), unit length)."""
        k = self.config.k if k is None else k
        filters = filters or SearchFilters()
        version = self.index.version()
        size = len(version)
        if size == 0:
            raise BadInputError(
                "the index is empty: ingest some videos first (`stylescope ingest`)"
            )
        if k <= 0:
            raise BadInputError(f"k must be at least 1, got {k}")
        if k > size:
            raise BadInputError(f"k={k} is larger than the index ({size} garments)")
        selection = self._selection(filters, version)
        fetch = min(size, k * max(1, self.config.dedup_fetch_factor)) if dedupe else k
        scores, ids = version.search(vector.reshape(1, -1), fetch, selection)
        found = ids[0] >= 0
        ids, scores = ids[0][found], scores[0][found]
        if dedupe and len(ids) > 1:
            video, kind = self.metadata.videos_and_kinds(ids)
            vectors = version.store.vectors[version.store.rows(ids)].astype(np.float32)
            keep = dedupe_order(video, kind, vectors, self.config.dedup_threshold, k)
            ids, scores = ids[keep], scores[keep]
        hits = self._join(ids[:k], scores[:k])
        return SearchResult(
            hits=hits,
            query={"k": k, "filters": filters},
            index_version=version.name,
            matched=len(selection) if filters and selection is not None else None,
            groups=group_by_creator(hits) if by_creator else None,
        )

    # -- filters and the join --------------------------------------------------------------------
    def _selection(self, filters: SearchFilters, version: Any) -> Selection | None:
        """Allowed garment ids: the filters', or every catalog garment when the index holds
        garments the catalog no longer has (until `stylescope index sync`); None: all."""
        self.metadata.refresh()
        key = (filters, self.metadata.generation, version.name, version.meta.get("generation"))
        with self._cache_lock:
            if key in self._selections:
                self._selections.move_to_end(key)
                return self._selections[key]
        if filters:
            selection: Selection | None = self.metadata.select(filters)
        else:
            live = self.metadata.live_ids()
            stale = len(live) != len(version) or not version.store.contains(live).all()
            selection = Selection(live) if stale else None
            if stale:
                # Normal for a moment while a video is being indexed; lasting only after a crash.
                logger.info("index and catalog differ (an ingest in flight, or run `stylescope index sync`)")
        with self._cache_lock:
            self._selections[key] = selection  # type: ignore[assignment]
            while len(self._selections) > self.config.selection_cache:
                self._selections.popitem(last=False)
        return selection

    def _join(self, ids: np.ndarray, scores: np.ndarray) -> list[SearchHit]:
        """The hits' catalog facts, from the in-memory catalog metadata (refreshed whenever
        the catalog changes, so as current as a query)."""
        if not len(ids):
            return []
        id_list = ids.tolist()
        facts = self.metadata.describe(id_list)
        root = str(self.data_dir) + os.sep
        return [
            SearchHit(
                garment_id=garment_id,
                score=score,
                kind=f[0],
                crop_path=root + f[9],
                creator=f[4],
                followers=f[5],
                tier=follower_tier(f[5]),
                video_id=f[1],
                source_path=f[2],
                t_s=f[3],
                posted_at=f[6],
                style_id=f[7],
                style=f[8],
            )
            for garment_id, score in zip(id_list, scores.tolist(), strict=True)
            if (f := facts.get(garment_id)) is not None
        ]
