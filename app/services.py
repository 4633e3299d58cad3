"""What the app works with: one data directory's catalog, encoder, searcher and ingest sink.

:class:`Services` is built once per app by :meth:`Services.open` and handed to
``app.ui.build_app``; nothing heavy is loaded until an event first needs it (the encoder
on the first search or upload). Tests build it on a tiny catalog with the ``tiny:32``
encoder. Ingest writes go through :attr:`Services.ingest_lock`, so two uploads never
write at once; searches do not take that lock and keep working during an ingest.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import configs
from configs import setting
from core.storage import remove_leftovers, resolve_data_dir
from inference.catalog import Catalog
from inference.proxies import PROXIES_DIR

if TYPE_CHECKING:
    from app.views import MomentLinks
    from inference.embed import IndexSink
    from inference.search import Searcher
    from models.base import Encoder

logger = logging.getLogger(__name__)

TIDY_EVERY_S = 60.0  # the upload cache is walked at most this often
UPLOADS_DIR = "uploads"  # DATA_DIR/uploads: uploaded videos under generated names
SEASONS_DIR = "seasons"  # DATA_DIR/seasons: unpacked season zips for retraining
WORLD_DIR = "world"  # DATA_DIR/world: the demo's creator world
CROPS_DIR = "crops"  # DATA_DIR/crops: garment crop thumbnails (written by ingest)


@dataclasses.dataclass
class AppConfig:
    """Settings of the app (``configs/app.yaml``)."""

    host: str = "127.0.0.1"  # interface to bind; any other than loopback needs authentication
    port: int = setting(7860, low=0, high=65535)  # TCP port
    max_upload_mb: float = setting(500.0, low=0, low_open=True)  # largest single uploaded file (gradio refuses bigger ones)
    max_videos_per_upload: int = setting(50, low=1)  # videos accepted in one upload batch
    upload_cache_hours: float = setting(24.0, low=0, low_open=True)  # uploads gradio keeps in its cache are
    # deleted after this long (checked hourly, or sooner when this is shorter)
    upload_cache_mb: float = setting(2048.0, low=0, low_open=True)  # ...and the oldest first whenever the cache
    # holds more than this (checked before each upload and image search)
    group_readable: bool = False  # files and folders the app creates are readable by the owner's group
    # (umask 027); otherwise the process's umask decides
    max_season_zip_mb: float = setting(1024.0, low=0, low_open=True)  # largest season zip for retraining
    max_season_unzipped_mb: float = setting(4096.0, low=0, low_open=True)  # largest total size of a season zip's contents
    max_season_files: int = setting(50000, low=1)  # most files in a season zip
    results_k: int = setting(12, low=1)  # search results shown by default
    max_k: int = setting(200, low=1)  # most search results one query may ask for
    search_concurrency: int = setting(4, low=1)  # searches answered at the same time
    plotted_styles: int = setting(5, low=0)  # styles drawn in the trends plot
    style_cards: int = setting(12, low=0)  # styles shown with a medoid crop in the trends tab
    style_garments: int = setting(24, low=0)  # garments shown for a selected style
    leaderboard_top: int = setting(50, low=1)  # rows of the trendsetter leaderboard
    warm_up_wait_s: float = setting(120.0, low=0)  # at start, the page is served once the encoder is warm
    # or after this long, whichever comes first (0: serve at once, the first searches wait for it)

    @classmethod
    def load(cls, user_file: str | Path | None = None) -> AppConfig:
        """The packaged app config, with the ``app`` section of a user file merged over it."""
        values = configs.load("app")
        if user_file is not None:
            values = configs.merge(values, configs.read_yaml(user_file).get("app") or {})
        return configs.from_dict(cls, values)


class Services:
    """The data directory's catalog plus lazily built encoder, searcher and index sink.

    Args:
        data_dir: the deployment directory.
        catalog: its catalog (shared by every event; thread-safe).
        config: app settings.
        encoder_spec: encoder for queries and new garments; None: the current model
            version's, else the one that built the live index, else the default
            (:mod:`inference.encoders`).
        config_file: user config file passed on to the stage configs (``--config``).
        shards_dir: a sharded index (``stylescope index build --backend ray --out``) the
            searcher serves instead of the live index; None: the live index.
    """

    def __init__(
        self,
        data_dir: Path,
        catalog: Catalog,
        config: AppConfig,
        encoder_spec: str | None = None,
        config_file: str | Path | None = None,
        shards_dir: str | Path | None = None,
    ):
        self.data_dir = data_dir
        self.catalog = catalog
        self.config = config
        self.encoder_spec = encoder_spec
        self.config_file = config_file
        self.shards_dir = shards_dir
        self.ingest_lock = threading.Lock()  # one writer at a time: ingest, restyle, retrain
        self._lock = threading.RLock()
        self._tidied_at = -TIDY_EVERY_S  # when the upload cache was last walked (monotonic)
        self._encoder: Encoder | None = None
        self._searcher: Searcher | None = None
        self._sink: IndexSink | None = None

    @classmethod
    def open(
        cls,
        data_dir: str | Path | None,
        encoder_spec: str | None = None,
        config: AppConfig | None = None,
        config_file: str | Path | None = None,
        shards_dir: str | Path | None = None,
    ) -> Services:
        """Open (or create) a data directory's catalog; loads no model."""
        path = resolve_data_dir(data_dir)
        for folder in (UPLOADS_DIR, CROPS_DIR, PROXIES_DIR):
            (path / folder).mkdir(exist_ok=True)
        remove_leftovers(path)  # staging folders and temp files of killed runs
        return cls(path, Catalog(path), config or AppConfig.load(config_file), encoder_spec, config_file, shards_dir)

    # -- lazily built resources -----------------------------------------------------------
    @property
    def encoder(self) -> Encoder:
        """The encoder for queries and new garments (built on first use)."""
        with self._lock:
            if self._encoder is None:
                from inference.encoders import resolve_encoder

                self._encoder = resolve_encoder(self.encoder_spec, self.data_dir)
                logger.info("app encoder: %s", self._encoder.describe())
            return self._encoder

    @property
    def searcher(self) -> Searcher:
        """The searcher over the live index (built on first use; raises when there is none)."""
        with self._lock:
            if self._searcher is None:
                from inference.index import IndexConfig
                from inference.search import SearchConfig, Searcher

                self._searcher = Searcher(
                    self.data_dir,
                    self.encoder,
                    SearchConfig.load(self.config_file),
                    IndexConfig.load(self.config_file),
                    self.shards_dir,
                )
            return self._searcher

    @property
    def sink(self) -> IndexSink:
        """Embeds and indexes each ingested video's garments (built on first use)."""
        with self._lock:
            if self._sink is None:
                from inference.embed import IndexSink
                from inference.index import IndexConfig

                self._sink = IndexSink(self.data_dir, self.encoder, IndexConfig.load(self.config_file))
            return self._sink

    def warm_up(self) -> threading.Thread:
        """Load the encoder, its towers and the searcher on a background thread, so the first
        query after start-up does not wait for them. Failures are left for that query to report.

        The text side comes first: with the offline default it needs no torch (its text side
        runs in NumPy), so text queries are answered while the image tower loads on a second
        thread. Meanwhile the searcher answers one text search, so the index files and the
        catalog's in-memory facts are loaded before any user asks, and gradio's upload cache is
        tidied (otherwise the first image search would walk it: half a second on a cache of a
        few thousand files).
        """

        def warm_images(encoder: Encoder) -> None:
            import numpy as np

            try:
                encoder.encode_images([np.full((64, 64, 3), 127, np.uint8)])
            except Exception as exc:  # the first real request reports it properly
                logger.debug("warming up the image side failed: %s", exc)

        def warm_search(searcher: Searcher) -> None:
            try:  # the index files and the catalog's in-memory facts load now, not on the first query
                searcher.search(None, "warm-up", k=1)
            except Exception as exc:  # e.g. an empty index: the first real request reports it
                logger.debug("a warm-up search failed: %s", exc)

        def warm() -> None:
            started = time.perf_counter()
            try:
                encoder = self.encoder
                encoder.encode_text(["warm-up"])
                images = threading.Thread(target=warm_images, args=(encoder,), name="stylescope-warm-up-images",
                                          daemon=True)
                images.start()
                if self.index_exists():
                    warm_search(self.searcher)
                self.tidy_upload_cache(force=True)  # the first image search need not walk the cache
                images.join()
                logger.info("encoder and index warm after %.1f s", time.perf_counter() - started)
            except Exception as exc:  # the first real request reports it properly
                logger.debug("warming up the encoder failed: %s", exc)

        thread = threading.Thread(target=warm, name="stylescope-warm-up", daemon=True)
        thread.start()
        return thread

    def index_exists(self) -> bool:
        """Whether the data directory has a live index version."""
        from inference.index import read_current

        return read_current(self.data_dir) is not None

    def reload(self, encoder_spec: str | None = None) -> None:
        """Drop the encoder, searcher and sink so the next use follows a new model or index.

        Searches already running keep the objects they hold.
        """
        with self._lock:
            self.encoder_spec = encoder_spec
            self._encoder = self._searcher = self._sink = None

    def tidy_upload_cache(self, force: bool = False) -> None:
        """Keep gradio's upload cache within :attr:`AppConfig.upload_cache_mb` and
        :attr:`AppConfig.upload_cache_hours` (oldest uploads go first). The folder is walked
        at most once every :data:`TIDY_EVERY_S` seconds unless ``force``: it is called after
        every upload and image search."""
        from app.uploads import prune_upload_cache, upload_cache_dir

        now = time.monotonic()
        with self._lock:
            if not force and now - self._tidied_at < TIDY_EVERY_S:
                return
            self._tidied_at = now
        prune_upload_cache(upload_cache_dir(), self.config.upload_cache_mb, self.config.upload_cache_hours)

    def allowed_paths(self) -> list[str]:
        """Folders the app may serve files from (read only): crops, video proxies, uploaded
        videos, the demo world; all inside the data directory."""
        return [str(self.data_dir / name) for name in (CROPS_DIR, PROXIES_DIR, UPLOADS_DIR, WORLD_DIR)]

    def moment_links(self) -> MomentLinks:
        """What the app's moment links may point at: proxies, else originals it serves."""
        from app.views import MomentLinks

        return MomentLinks(tuple(self.allowed_paths()), self.data_dir)

    def describe(self) -> dict[str, Any]:
        """Catalog counts and what is loaded, for the page header."""
        counts = self.catalog.counts()
        return {"data_dir": str(self.data_dir), "styles": self.catalog.style_count(), **counts}

    def close(self) -> None:
        """Close catalog connections."""
        with self._lock:
            if self._searcher is not None:
                self._searcher.close()
            self.catalog.close()
