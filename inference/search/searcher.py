"""The searcher: a query becomes one embedding, the filters a selection, and the live index
answers inside it; hits are de-duplicated and joined with the catalog."""

from __future__ import annotations

import collections
import logging
import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from core.errors import BadInputError, StylescopeError
from inference.catalog import Catalog
from inference.embed import CropEmbedder
from inference.encoders import resolve_encoder
from inference.index import (
    GarmentIndex,
    IndexConfig,
    Selection,
    catch_up,
    check_encoder,
    faiss_threads,
)
from inference.scale.shards import ShardedIndex
from inference.search.metadata import CatalogMetadata, GarmentRecords
from inference.search.queries import EmbeddedQuery, embed_query
from inference.search.ranking import dedupe_order, may_have_twins
from inference.search.results import SearchHit, SearchQuery, SearchResult, group_by_creator
from inference.search.settings import SearchConfig, SearchFilters
from inference.search.strength import no_match_notice, query_words, shared_words
from models.match import Cutoffs, MatchThresholds, recorded_thresholds

if TYPE_CHECKING:
    from models.base import Encoder

logger = logging.getLogger(__name__)
NO_FILTERS = SearchFilters()


class Searcher:
    """Answers searches over one data directory; keep one per process (thread-safe).

    Args:
        data_dir: the deployment directory.
        encoder: the encoder for queries, or its spec; default: the one
            :func:`inference.encoders.resolve_encoder` picks. It loads after the index is found.
        config: search settings; default the packaged ones.
        index_config: index settings; default the packaged ones.
        shards: a sharded index (``stylescope index build --backend ray --out DIR``) of this
            data directory's embeddings to answer the nearest-neighbour part instead of the
            live index: its shards fan out, their top-k merged; filters, de-duplication and
            the catalog join stay as they are.

    Opening a searcher first indexes any catalog garments an interrupted ingest left out of
    the index (with a line in the log saying so): what is catalogued is what is searched.
    """

    def __init__(
        self,
        data_dir: str | Path,
        encoder: Encoder | str | None = None,
        config: SearchConfig | None = None,
        index_config: IndexConfig | None = None,
        shards: str | Path | None = None,
    ):
        self.data_dir = Path(data_dir)
        self.config = config or SearchConfig.load()
        self.catalog = Catalog(self.data_dir)
        self.index = GarmentIndex(self.data_dir, index_config, None)
        live = self.index.version()  # no index: NoIndexError before any encoder loads
        self.shards = None if shards is None else _open_shards(Path(shards), live.dim)  # before the encoder, too
        self.encoder = resolve_encoder(encoder, self.data_dir)
        self.index.encoder_info = self.encoder.describe()
        check_encoder(live.meta, self.index.encoder_info)
        self.match: MatchThresholds | None = recorded_thresholds(self.encoder.name, self.encoder.version, self.data_dir)
        self._catch_up()
        if self.shards is not None and len(self.shards) != len(self.index.version()):
            logger.warning("the sharded index %s holds %d garments, the live index %d: rebuild it "
                           "(`stylescope index build --backend ray`) to search what is catalogued",
                           shards, len(self.shards), len(self.index.version()))
        self.metadata = CatalogMetadata(self.catalog.metadata_reader())
        self._selections: collections.OrderedDict[Any, Selection] = collections.OrderedDict()
        self._unfiltered: tuple[Any, Selection | None] = (None, None)  # (state, selection) of searches without filters
        self._index_state: Any = None  # the index version and generation the metadata was last refreshed for
        self._cache_lock = threading.Lock()

    def _catch_up(self) -> None:
        try:
            report = catch_up(self.index, CropEmbedder(self.encoder), self.catalog)
        except (StylescopeError, OSError) as exc:  # e.g. a read-only data dir: search what is there
            logger.warning("the index could not catch up with the catalog: %s", exc)
            return
        if report.added or report.removed or report.failed:
            logger.warning(
                "index caught up with the catalog: %d garments an interrupted run catalogued are "
                "searchable now, %d entries of deleted garments removed, %d garments without a "
                "readable crop left out (see `stylescope check`)",
                report.added, report.removed, len(report.failed),
            )

    def close(self) -> None:
        """Close the catalog connections."""
        self.catalog.close()
        self.metadata.close()

    # -- queries ---------------------------------------------------------------------------------
    def embed_query(
        self, image: Any = None, text: str | None = None, kinds: Sequence[str] = ()
    ) -> tuple[np.ndarray, EmbeddedQuery]:
        """The query embedding (float32 (dim,), unit length) and what it was made from."""
        return embed_query(self.encoder, self.config, image, text, kinds)

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
        filters = NO_FILTERS if filters is None else filters
        self._check_k(self.config.k if k is None else k, len(self.index.version()))  # before any model runs
        vector, embedded = self.embed_query(image, text, filters.kinds)
        return self.search_vector(vector, k, filters, by_creator, dedupe, embedded)

    def search_vector(
        self,
        vector: np.ndarray,
        k: int | None = None,
        filters: SearchFilters | None = None,
        by_creator: bool = False,
        dedupe: bool = True,
        embedded: EmbeddedQuery | None = None,
    ) -> SearchResult:
        """Search with a ready query embedding (float32 (dim,), unit length).

        ``embedded`` (what the embedding was made from) gives the hits their strength and
        reasons, and the result its "no close match" notice; without it they stay unrated.
        """
        k = self.config.k if k is None else k
        filters = NO_FILTERS if filters is None else filters
        version = self.index.version()
        size = len(version)
        self._check_k(k, size)
        selection = self._selection(filters, version)
        fetch = min(size, k * max(1, self.config.dedup_fetch_factor)) if dedupe else k
        with faiss_threads(self.config.query_threads):
            scores, ids = self._nearest(version, vector.reshape(1, -1), fetch, selection)
        # FAISS's "no result" (-1) and ids the catalog does not know get no facts: the join leaves them out
        records = self.metadata.records(ids[0])
        kept: int | list[int] = min(k, len(ids[0]))  # the first k, or these positions
        if dedupe and may_have_twins(records.twin_keys):
            kept = self._dedupe(records, ids[0], version.store, k)
        query = SearchQuery(k, filters, embedded)
        cutoffs = self.match.cutoffs(query.mode) if self.match is not None else None
        hits = self._join(records, kept, ids[0].tolist(), scores[0].tolist(), cutoffs, query.text)
        if filters.set_aside:
            reasons = self.metadata.set_aside_reasons
            for hit in hits:
                hit.set_aside = reasons.get(hit.garment_id)
        return SearchResult(
            hits=hits,
            query=query,
            index_version=version.name,
            matched=len(selection) if filters and selection is not None else None,
            groups=group_by_creator(hits) if by_creator else None,
            cutoffs=cutoffs,
            notice=no_match_notice(hits, cutoffs, query.mode),
        )

    def _dedupe(self, records: GarmentRecords, ids: np.ndarray, store: Any, k: int) -> list[int]:
        """Positions of the first ``k`` hits left when near-identical hits of one video and
        kind count as one (see :func:`dedupe_order`)."""
        video, kind = records.videos_and_kinds()
        keep = dedupe_order(
            video, kind, lambda positions: store.vectors[store.rows(ids[positions])].astype(np.float32),
            self.config.dedup_threshold, k,
        )
        return keep.tolist()  # type: ignore[no-any-return]

    def _nearest(self, version: Any, queries: np.ndarray, k: int,
                 selection: Selection | None) -> tuple[np.ndarray, np.ndarray]:
        """The live index's top-``k``, or the shards' merged top-``k`` when they are served."""
        if self.shards is None:
            return version.search(queries, k, selection)
        allowed = None if selection is None else selection.ids
        return self.shards.search(queries, k, self.index.config.nprobe, allowed)

    @staticmethod
    def _check_k(k: int, size: int) -> None:
        if size == 0:
            raise BadInputError(
                "the index is empty: ingest some videos first (`stylescope ingest`)"
            )
        if k <= 0:
            raise BadInputError(f"k must be at least 1, got {k}")
        if k > size:
            raise BadInputError(f"k={k} is larger than the index ({size} garments)")

    # -- filters and the join --------------------------------------------------------------------
    def _selection(self, filters: SearchFilters, version: Any) -> Selection | None:
        """Allowed garment ids: the filters', or every catalog garment when the index holds
        garments the catalog no longer has (until `stylescope index sync`); None: all."""
        index_state = (version.name, version.meta.get("generation"))
        if index_state != self._index_state:  # garments were indexed: their catalog rows came first
            self.metadata.refresh()
            self._index_state = index_state
        else:
            self.metadata.refresh(self.config.catalog_check_s)
        state = (self.metadata.generation, *index_state, filters.set_aside)
        if not filters and self._unfiltered[0] == state:
            return self._unfiltered[1]
        key = (filters, *state)
        with self._cache_lock:
            if key in self._selections:
                self._selections.move_to_end(key)
                return self._selections[key]
        if filters:
            selection: Selection | None = self.metadata.select(filters)
        else:
            live = self.metadata.live_ids()
            stale = len(live) != len(version) or not version.store.contains(live).all()
            if not filters.set_aside and self.metadata.has_set_aside:  # crops set aside are searched on request
                selection = Selection(self.metadata.live_ids(set_aside=False))
            else:
                selection = Selection(live) if stale else None
            if stale:
                # Normal for a moment while a video is being indexed; lasting only after a crash.
                logger.info("index and catalog differ (an ingest in flight, or run `stylescope index sync`)")
            self._unfiltered = (state, selection)
        with self._cache_lock:
            self._selections[key] = selection  # type: ignore[assignment]
            while len(self._selections) > self.config.selection_cache:
                self._selections.popitem(last=False)
        return selection

    def _join(self, records: GarmentRecords, kept: int | list[int], ids: list[int], scores: list[float],
              cutoffs: Cutoffs | None, text: str | None) -> list[SearchHit]:
        """The hits at positions ``kept`` (an int n: the first n) with their catalog facts
        (from the in-memory catalog, refreshed as the catalog changes, so as current as a
        query; hits the catalog does not know are left out), their strength by ``cutoffs``
        and the words of ``text`` their style's name shares."""
        words = query_words(text)
        hits = []
        positions = range(kept) if isinstance(kept, int) else kept
        for i, fields in zip(positions, records.fields(kept, str(self.data_dir) + os.sep), strict=True):
            if fields is not None:  # GarmentFacts' fields: kind ... style
                score = scores[i]
                hits.append(SearchHit(  # type: ignore[call-arg]
                    ids[i], score, *fields, None if cutoffs is None else cutoffs.strength(score),
                    shared_words(words, fields[-1]) if words else (),
                ))
        return hits


def _open_shards(folder: Path, dim: int) -> ShardedIndex:
    """The sharded index in ``folder``, checked against the live index's dimension."""
    shards = ShardedIndex.load(folder)
    if shards.shards[0].d != dim:
        raise BadInputError(f"the sharded index in {folder} holds {shards.shards[0].d}-d vectors, the live "
                            f"index {dim}-d: it was built from another encoder's embeddings")
    return shards
