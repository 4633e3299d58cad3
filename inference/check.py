"""Checking a data directory, and repairing what can be repaired (``stylescope check``).

Each area is checked on its own, with counts, so one damaged part does not hide the rest:

- ``catalog``: SQLite's integrity and foreign-key checks. Repair: a copy of the catalog
  into ``backups/``, then REINDEX (what a damaged index b-tree needs); when a table itself
  is damaged, every readable row is salvaged into a fresh catalog
  (:mod:`inference.catalog.salvage`) and the videos that lost rows are left half-done, so
  ``stylescope ingest --resume`` cuts them again from their source files.
- ``videos``: videos an interrupted ingest left half-done (redone by
  ``stylescope ingest --resume``), and claims of killed processes on done videos (cleared).
- ``index``: the live version's files against their checksums, and its garments against
  the catalog's. Repair: garments missing from the index are embedded from their crops and
  added, entries of deleted garments removed; a damaged or missing index is rebuilt from
  the catalog (the damaged version stays on disk).
- ``crops``: every garment's crop file, and crop files or folders no garment names.
  Repair: the orphans are moved into ``backups/``; missing crops cannot be recut here.
- ``proxies``: done videos without their browser proxy (ingested before proxies were kept,
  or their encode failed). Repair: made from the source file when it is still there with the
  same bytes; a video whose source is gone is only counted (its moments play only if the app
  serves the original).
- ``leftovers``: staging folders and temp files of killed runs. Repair: removed.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import os
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np

from core.errors import StylescopeError
from core.storage import (
    STORAGE_ERRORS,
    TMP_SUFFIX,
    find_leftovers,
    remove_leftovers,
    sha256_file,
    storage_fault,
)
from inference.catalog import CATALOG_FILE, Catalog, VideoRecord, claim_is_live
from inference.catalog.salvage import salvage
from inference.index import (
    GarmentEmbedder,
    GarmentIndex,
    GarmentIndexError,
    IndexConfig,
    IndexVersion,
    catch_up,
    index_root,
    read_current,
    rebuild_index,
)
from inference.proxies import ProxyError, proxy_path, write_proxy

logger = logging.getLogger(__name__)

BACKUPS_DIR = "backups"


@dataclasses.dataclass
class Finding:
    """One problem found, and what was done about it."""

    area: str  # catalog, videos, index, crops, proxies, leftovers
    problem: str
    repaired: str = ""  # what --repair did ('' when nothing was done)
    hint: str = ""  # what the user can do about it, when it is still there

    @property
    def open(self) -> bool:
        """Still a problem after the check."""
        return not self.repaired


@dataclasses.dataclass
class CheckReport:
    """Counts and findings of one check."""

    data_dir: str
    counts: dict[str, int] = dataclasses.field(default_factory=dict)
    findings: list[Finding] = dataclasses.field(default_factory=list)

    @property
    def clean(self) -> bool:
        return not any(f.open for f in self.findings)

    @property
    def exit_code(self) -> int:
        """0 clean (or all repaired), 1 problems remain."""
        return 0 if self.clean else 1


def _examples(items: list[str], shown: int = 5) -> str:
    more = f" and {len(items) - shown} more" if len(items) > shown else ""
    return ", ".join(items[:shown]) + more


class Checker:
    """Checks one data directory; with ``repair``, fixes what it safely can.

    Args:
        data_dir: the deployment directory.
        repair: fix what can be fixed (keeping a copy of what is replaced).
        embedder: what missing garments are embedded with, built only when a repair needs it.
        config: index settings.
    """

    def __init__(
        self,
        data_dir: str | Path,
        repair: bool = False,
        embedder: Callable[[], GarmentEmbedder] | None = None,
        config: IndexConfig | None = None,
        proxy_short_side: int = 360,
    ):
        self.data_dir = Path(data_dir)
        self.repair = repair
        self.proxy_short_side = proxy_short_side  # the ingest setting (0: no proxies are kept, none checked)
        self._make_embedder = embedder
        self._embedder: GarmentEmbedder | None = None
        self.config = config or IndexConfig.load()
        self.report = CheckReport(str(self.data_dir))
        self._backup: Path | None = None

    def run(self) -> CheckReport:
        """Check every area in turn; see the module docstring."""
        self._leftovers()  # first: a repair below must not trip over a dead run's staging folder
        if not (self.data_dir / CATALOG_FILE).is_file():
            self._find("catalog", f"there is no catalog in {self.data_dir}", hint="ingest videos first")
            return self.report
        try:
            catalog = Catalog(self.data_dir)
        except StylescopeError as exc:
            self._find("catalog", str(exc), hint=self._restore_hint())
            return self.report
        try:
            catalog = self._catalog(catalog)
            for area in (self._videos, self._index, self._crops, self._proxies):
                try:
                    area(catalog)
                except STORAGE_ERRORS as exc:
                    self._find(area.__name__.strip("_"), f"could not be checked: {storage_fault(exc)}",
                               hint=self._restore_hint())
        finally:
            catalog.close()
        return self.report

    # -- areas ---------------------------------------------------------------------------
    def _catalog(self, catalog: Catalog) -> Catalog:
        """Check (and repair) the catalog; returns the catalog to go on with (a salvaged one
        replaces a damaged one)."""
        try:
            problems = catalog.integrity_check()
        except STORAGE_ERRORS as exc:
            problems = [storage_fault(exc) or str(exc)]
        if not problems:
            self.report.counts.update(catalog.counts())
            self.report.counts.update(catalog.garment_check_counts())
            return catalog
        finding = self._find(
            "catalog", f"SQLite integrity check: {_examples(problems, 3)}",
            hint="run `stylescope check --repair` (a copy of the catalog is kept)",
        )
        if not self.repair:
            return catalog
        copy = self._backup_dir() / CATALOG_FILE
        catalog.copy_to(copy)
        try:
            catalog.reindex()
        except STORAGE_ERRORS as exc:
            logger.debug("REINDEX failed: %s", exc)
        left = catalog.integrity_check()
        if not left:
            finding.repaired = f"rebuilt the catalog's SQL indexes (REINDEX); the damaged catalog is copied to {copy}"
            self.report.counts.update(catalog.counts())
            return catalog
        catalog.close()
        salvaged = self._salvage(copy, finding)
        if salvaged is None:
            return Catalog(self.data_dir)
        self.report.counts.update(salvaged.counts())
        return salvaged

    def _salvage(self, copy: Path, finding: Finding) -> Catalog | None:
        """Replace the damaged catalog by every row that can still be read (its copy stays in
        backups/); the videos that lost rows are left for ``ingest --resume``."""
        fresh = self.data_dir / f".{CATALOG_FILE}.salvage{TMP_SUFFIX}"
        fresh.unlink(missing_ok=True)
        try:
            saved = salvage(copy, fresh)
        except STORAGE_ERRORS as exc:
            fresh.unlink(missing_ok=True)
            finding.hint = f"a table is damaged and could not be salvaged ({exc}); the catalog as it was is " \
                           f"copied to {copy}. " + self._restore_hint()
            return None
        for suffix in ("-wal", "-shm"):  # the old file's journal: its pages are in the copy already
            (self.data_dir / f"{CATALOG_FILE}{suffix}").unlink(missing_ok=True)
        os.replace(fresh, self.data_dir / CATALOG_FILE)
        catalog = Catalog(self.data_dir)
        named = set(catalog.crop_paths())
        done = {v.id for v in catalog.videos(status="done")}
        crops = self.data_dir / "crops"
        cut = {int(f.parent.name) for f in crops.glob("*/*") if f.parent.name.isdigit()} if crops.is_dir() else set()
        lost_rows = {video for video in cut & done
                     if any(f"crops/{video}/{f.name}" not in named for f in (crops / str(video)).iterdir())}
        catalog.reset_videos(sorted(lost_rows))
        lost = ", ".join(f"{n} {table}" for table, n in {**saved.lost, **saved.orphans}.items())
        finding.repaired = (
            f"a table was damaged: salvaged every readable row into a new catalog ({lost or 'no'} rows lost); "
            f"{len(lost_rows)} videos that lost rows are left for `stylescope ingest --resume`; the damaged "
            f"catalog is copied to {copy}"
        )
        return catalog

    def _videos(self, catalog: Catalog) -> None:
        abandoned = catalog.abandoned_videos()
        if abandoned:
            self._find(
                "videos",
                f"{len(abandoned)} videos were left half-done by an interrupted ingest "
                f"({_examples([v.source_path for v in abandoned], 3)})",
                hint="run `stylescope ingest --resume` to redo them",
            )
        dead = [v for v in catalog.claimed_videos() if v.status == "done" and not claim_is_live(v)]
        if dead:
            finding = self._find(
                "videos", f"{len(dead)} done videos still carry the claim of a killed ingest",
                hint="run `stylescope check --repair` to clear them (they block nothing)",
            )
            if self.repair:
                finding.repaired = f"cleared {catalog.release_dead_claims()} claims"

    def _index(self, catalog: Catalog) -> None:
        catalog_ids = catalog.done_garment_ids()
        name = read_current(self.data_dir)
        if name is None:
            if len(catalog_ids):
                self._rebuild(catalog, f"there is no index: {len(catalog_ids)} catalogued garments are not searchable")
            return
        try:
            version = IndexVersion.load(index_root(self.data_dir) / name, self.config, verify=True)
        except GarmentIndexError as exc:
            self._rebuild(catalog, f"live index version {name}: {exc}", damaged=name)
            return
        self.report.counts["index_garments"] = len(version)
        in_flight = catalog.in_flight_video_ids()
        missing = np.setdiff1d(catalog_ids, version.store.ids)
        if len(missing) and in_flight:
            missing = np.asarray([g.id for g in catalog.garments(ids=missing.tolist()) if g.video_id not in in_flight])
        stale = np.setdiff1d(version.store.ids, catalog_ids)
        if not (len(missing) or len(stale)):
            return
        parts = [f"{len(missing)} catalogued garments are not in the index (not searchable)"] if len(missing) else []
        parts += [f"{len(stale)} index entries have no garment in the catalog"] if len(stale) else []
        finding = self._find("index", "; ".join(parts), hint="run `stylescope check --repair` (or `stylescope index sync`)")
        if not self.repair:
            return
        embedder = self._get_embedder()
        index = GarmentIndex(self.data_dir, self.config, embedder.encoder.describe())
        sync = catch_up(index, embedder, catalog)
        finding.repaired = f"added {sync.added} garments to the index, removed {sync.removed} entries"
        if sync.failed:
            self._find(
                "index",
                f"{len(sync.failed)} garments have no readable crop and are not in the index: they stay "
                "catalogued but are not searchable",
                hint="re-ingest their videos to cut the crops again",
            )

    def _rebuild(self, catalog: Catalog, problem: str, damaged: str | None = None) -> None:
        finding = self._find("index", problem, hint="run `stylescope check --repair` (or `stylescope index rebuild`)")
        if not self.repair:
            return
        name = rebuild_index(self.data_dir, self._get_embedder(), catalog, True, self.config, progress=False)
        finding.repaired = f"rebuilt the index from the catalog as version {name}" + (
            f"; the damaged version {damaged} is kept on disk" if damaged else ""
        )

    def _crops(self, catalog: Catalog) -> None:
        named = catalog.crop_paths()
        done_ids = set(catalog.done_garment_ids().tolist())
        missing = sorted(p for p, garment_id in named.items() if garment_id in done_ids and not (self.data_dir / p).is_file())
        self.report.counts["crops_missing"] = len(missing)
        if missing:
            self._find(
                "crops",
                f"{len(missing)} garments have no crop file ({_examples(missing, 3)})",
                hint="they stay searchable from their stored embeddings; re-ingest their videos to cut the crops again",
            )
        orphans = self._orphan_crops(catalog, set(named))
        if orphans:
            finding = self._find(
                "crops", f"{len(orphans)} crop files or folders belong to no garment ({_examples([str(p) for p in orphans], 3)})",
                hint="run `stylescope check --repair` to move them into backups/",
            )
            if self.repair:
                target = self._backup_dir()
                for path in orphans:
                    destination = target / path
                    destination.parent.mkdir(parents=True, exist_ok=True)
                    shutil.move(str(self.data_dir / path), destination)
                finding.repaired = f"moved into {target}"

    def _proxies(self, catalog: Catalog) -> None:
        if not self.proxy_short_side:
            return
        missing = [v for v in catalog.videos("done") if not proxy_path(self.data_dir, v.id).is_file()]
        self.report.counts["proxies_missing"] = len(missing)
        makeable = [v for v in missing if Path(v.source_path).is_file()]
        if len(makeable) < len(missing):
            self.report.counts["proxies_without_source"] = len(missing) - len(makeable)
        if not makeable:
            return
        finding = self._find(
            "proxies", f"{len(makeable)} videos have no browser proxy ({_examples([v.source_path for v in makeable], 3)})",
            hint="run `stylescope check --repair` (or ingest the same files again) to make them from their source files",
        )
        if self.repair:
            failed = [f"video {v.id}: {problem}" for v in makeable if (problem := self._make_proxy(v))]
            finding.repaired = f"made {len(makeable) - len(failed)} proxies"
            if failed:
                self._find("proxies", f"{len(failed)} proxies could not be made ({_examples(failed, 3)})",
                           hint="the app shows these moments as text")

    def _make_proxy(self, video: VideoRecord) -> str:
        """Make one video's proxy from its source file; returns what went wrong, or ''."""
        try:
            if sha256_file(video.source_path) != video.content_hash:
                return f"{video.source_path} is no longer the file that was ingested"
            write_proxy(video.source_path, proxy_path(self.data_dir, video.id), self.proxy_short_side,
                        video.duration_s or 0.0)
        except (ProxyError, OSError) as exc:
            return str(exc)
        return ""

    def _orphan_crops(self, catalog: Catalog, named: set[str]) -> list[Path]:
        """Crop folders of no video (or of a failed or abandoned one) and files no garment names,
        relative to the data directory; the folders of videos in flight are left alone."""
        root = self.data_dir / "crops"
        if not root.is_dir():
            return []
        videos = {str(v.id): v for v in catalog.videos()}
        in_flight = {str(i) for i in catalog.in_flight_video_ids()}
        orphans: list[Path] = []
        for folder in sorted(root.iterdir()):
            video = videos.get(folder.name)
            if folder.name in in_flight:
                continue
            if video is None or video.status != "done" or not folder.is_dir():
                orphans.append(folder.relative_to(self.data_dir))
                continue
            orphans += [
                f.relative_to(self.data_dir) for f in sorted(folder.iterdir())
                if f.relative_to(self.data_dir).as_posix() not in named
            ]
        return orphans

    def _leftovers(self) -> None:
        leftovers = find_leftovers(self.data_dir, deep=True)
        if not leftovers:
            return
        finding = self._find(
            "leftovers",
            f"{len(leftovers)} staging folders or temp files of killed runs "
            f"({_examples([str(p.relative_to(self.data_dir)) for p in leftovers], 3)})",
            hint="run `stylescope check --repair` (every ingest also removes them when it starts)",
        )
        if self.repair:
            finding.repaired = f"removed {len(remove_leftovers(self.data_dir, deep=True))}"

    # -- helpers -------------------------------------------------------------------------
    def _find(self, area: str, problem: str, hint: str = "") -> Finding:
        finding = Finding(area, problem, hint=hint)
        self.report.findings.append(finding)
        logger.debug("%s: %s", area, problem)
        return finding

    def _get_embedder(self) -> GarmentEmbedder:
        if self._embedder is None:
            if self._make_embedder is None:
                raise StylescopeError("repairing the index needs an encoder")
            self._embedder = self._make_embedder()
        return self._embedder

    def _backup_dir(self) -> Path:
        if self._backup is None:
            stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%d-%H%M%S")
            self._backup = self.data_dir / BACKUPS_DIR / f"check-{stamp}-{os.getpid()}"
            self._backup.mkdir(parents=True, exist_ok=True)
        return self._backup

    def _restore_hint(self) -> str:
        backups = self.data_dir / BACKUPS_DIR
        where = f" (copies made by earlier repairs are in {backups})" if backups.is_dir() else ""
        return f"restore the catalog from a backup{where}, or move it aside and ingest the videos again"


def check(
    data_dir: str | Path,
    repair: bool = False,
    embedder: Callable[[], GarmentEmbedder] | None = None,
    config: IndexConfig | None = None,
    proxy_short_side: int = 360,
) -> CheckReport:
    """Check ``data_dir`` (and with ``repair``, fix what can be fixed); see the module docstring."""
    return Checker(data_dir, repair, embedder, config, proxy_short_side).run()
