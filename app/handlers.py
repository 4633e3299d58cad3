"""What each app event does, on :class:`~app.services.Services`, without any gradio.

Every function takes plain values, calls the stage modules' public functions, and raises
:class:`~core.errors.StylescopeError` (a message for the user) when the input cannot
be used. ``app/ui.py`` turns the results into components; tests and the benchmark may call
these directly.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from app import format as fmt
from app.services import SEASONS_DIR, UPLOADS_DIR, Services
from app.uploads import (
    PlannedVideo,
    ZipLimits,
    read_upload_manifest,
    remove_quietly,
    store_video,
    unpack_season,
)
from core.errors import BadInputError
from inference.ingest import BatchStopped, IngestConfig, Ingestor, VideoOutcome
from inference.manifest import parse_followers, parse_handle, parse_posted_at
from inference.types import VideoSubmission

if TYPE_CHECKING:
    from inference.catalog import StyleGarment
    from inference.search import SearchFilters, SearchResult
    from inference.trends import (
        AttributeTrendsReport,
        CreatorPage,
        CreatorsConfig,
        CreatorsReport,
        StyleAdopters,
        StylesUpdate,
        TrendsConfig,
        TrendsReport,
    )

logger = logging.getLogger(__name__)

StageCallback = Callable[[int, str], None]

# What the app says where the stage modules would name a CLI command or flag.
DATE_FIELDS = {"from": "Posted from", "to": "Posted to"}  # the search form's date fields
NO_GARMENTS = "there are no garments yet: add videos in the Upload videos tab first"
NO_STYLES = "there are no styles yet: press “Update styles” in the Trends tab to cluster the garments"
NOT_INDEXED = ("added to the catalog, but the search index could not take its garments; "
               "the server log has the details")
DUPLICATE = "already in the catalog (the same video was added before)"


# -- search ---------------------------------------------------------------------------------------
def search(
    services: Services,
    image: Any,
    text: str | None,
    filters: SearchFilters,
    k: int,
    by_creator: bool,
) -> SearchResult:
    """Search by image, text or both.

    ``k`` is capped at the index size, so a small catalog still answers.
    """
    text = (text or "").strip() or None
    if image is None and text is None:
        raise BadInputError("give an image, a text, or both to search with")
    if not 1 <= int(k) <= services.config.max_k:
        raise BadInputError(f"the number of results must be between 1 and {services.config.max_k}")
    if not services.index_exists():
        raise BadInputError("there is nothing to search yet: upload videos first (Upload videos tab)")
    searcher = services.searcher
    size = len(searcher.index.version())
    if size == 0:
        raise BadInputError("the index is empty: upload videos first (Upload videos tab)")
    _check_styles(services, filters.styles, "unknown style {}: the Style filter lists the styles there are")
    result = searcher.search(image, text, min(int(k), size), filters, by_creator)
    if image is not None:
        services.tidy_upload_cache()  # the query image has been read
    return result


def _check_styles(services: Services, style_ids: Sequence[int], message: str) -> None:
    """Refuse style ids the catalog does not have (``message`` formats the first of them)."""
    known = {style.id for style in services.catalog.style_names()}
    unknown = sorted(set(style_ids) - known)
    if unknown:
        raise BadInputError(message.format(unknown[0]))


def search_filters(
    date_from: str | None,
    date_to: str | None,
    tiers: Sequence[str] | None,
    kinds: Sequence[str] | None,
    styles: Sequence[str | int] | None,
    creators: Sequence[str] | None = None,
    set_aside: bool = False,
) -> SearchFilters:
    """Filters from form values; a style may be given as ``"12"`` or ``"12: red plaid ..."``."""
    from inference.search import SearchFilters

    style_ids = [str(s).partition(":")[0].strip() for s in styles or ()]
    return SearchFilters.build(
        (date_from or "").strip() or None,
        (date_to or "").strip() or None,
        [c for c in creators or () if c],
        list(tiers or ()),
        list(kinds or ()),
        [s for s in style_ids if s],
        date_labels=DATE_FIELDS,
        set_aside=set_aside,
    )


def style_choices(services: Services) -> list[str]:
    """``"id: name"`` of every style, for the style filter and the style picker."""
    return [f"{style.id}: {style.name}" for style in services.catalog.style_names()]


def creator_choices(services: Services) -> list[str]:
    """Every creator handle (with "@"), most followed first."""
    return [fmt.handle(handle) for handle, _ in sorted(services.catalog.creators(), key=lambda c: -c[1])]


# -- upload ---------------------------------------------------------------------------------------
@dataclasses.dataclass
class UploadPlan:
    """Uploaded files checked and stored, ready to ingest."""

    videos: list[PlannedVideo]
    warnings: list[str]

    def stored(self) -> list[Path]:
        return [v.submission.path for v in self.videos if v.submission is not None]


def _metadata(creator: str | None, followers: Any, posted_at: str | None) -> tuple[str, int, dt.date]:
    try:
        return parse_handle(creator), parse_followers(followers), parse_posted_at(posted_at)
    except ValueError as exc:
        raise BadInputError(str(exc)) from None


def plan_upload(
    services: Services,
    files: Sequence[str | Path] | None,
    creator: str | None = None,
    followers: Any = None,
    posted_at: str | None = None,
    manifest: str | Path | None = None,
) -> UploadPlan:
    """Check uploaded videos by content and copy them in under generated names.

    Without a manifest, every video gets the creator, followers and posted_at given; with
    one, each file is matched to its manifest row by file name.

    Raises:
        BadInputError: no files, too many, or (without a manifest) bad creator metadata.
    """
    paths = [Path(f) for f in files or ()]
    if not paths:
        raise BadInputError("choose one or more video files to upload")
    if len(paths) > services.config.max_videos_per_upload:
        raise BadInputError(
            f"{len(paths)} files in one upload; the limit is {services.config.max_videos_per_upload}"
        )
    metadata = None if manifest else _metadata(creator, followers, posted_at)
    planned: list[PlannedVideo] = []
    stored: dict[str, Path] = {}
    for path in paths:
        if path.name in stored:
            planned.append(PlannedVideo(path.name, None, "another uploaded file has the same name"))
            continue
        try:
            stored[path.name] = store_video(path, services.data_dir / UPLOADS_DIR, services.config.max_upload_mb)
        except BadInputError as exc:
            planned.append(PlannedVideo(path.name, None, str(exc)))
    services.tidy_upload_cache()  # the videos are copied in: gradio's cached copies may go
    if manifest:
        try:
            rows, warnings = read_upload_manifest(Path(manifest), stored)
        except BadInputError:
            remove_quietly(list(stored.values()))
            raise
        return UploadPlan(planned + rows, warnings)
    assert metadata is not None
    planned += [
        PlannedVideo(name, VideoSubmission(path, *metadata, source=f"upload:{name}"))
        for name, path in stored.items()
    ]
    return UploadPlan(planned, [])


class _StageSink:
    """Passes garments on to the index sink, telling the app when embedding starts."""

    def __init__(self, sink: Any, on_embed: Callable[[int], None]):
        self.sink = sink
        self.on_embed = on_embed

    def add_garments(self, garment_ids: list[int], crops: list[np.ndarray]) -> None:
        self.on_embed(len(garment_ids))
        self.sink.add_garments(garment_ids, crops)

    def catch_up(self, catalog: Any) -> Any:
        return self.sink.catch_up(catalog)


def ingest_plan(
    services: Services, plan: UploadPlan, on_stage: StageCallback | None = None
) -> Iterator[tuple[int, VideoOutcome]]:
    """Ingest the planned videos one by one (one batch at a time per app), yielding outcomes.

    ``on_stage(i, text)`` hears what video ``i`` is doing (sampling and cropping, embedding).
    Stored copies of videos that were not added (failed, duplicates) are deleted. Garments
    an interrupted run catalogued but never indexed are indexed first; storage that gives
    out (a full disk) ends the batch, the rest of the videos not attempted.
    """
    notify = on_stage or (lambda i, text: None)
    current = [0]
    with services.ingest_lock:
        sink = _StageSink(
            services.sink, lambda n: notify(current[0], f"embedding {n} garments")
        )
        ingestor = Ingestor(
            services.data_dir, IngestConfig.load(services.config_file), sink, services.catalog
        )
        stopped = ""
        try:
            ingestor.catch_up()
            for i, video in enumerate(plan.videos):
                current[0] = i
                if video.submission is None:
                    yield i, VideoOutcome(video.name, "", "failed", video.reason)
                    continue
                if stopped:
                    remove_quietly([video.submission.path])
                    yield i, VideoOutcome(video.name, "", "not attempted", f"the batch stopped before it ({stopped})")
                    continue
                notify(i, "sampling frames and cutting garments")
                try:
                    outcome = ingestor.ingest_one(video.submission)
                except BatchStopped as stop:
                    outcome, stopped = stop.outcome, str(stop)
                if outcome.status in ("failed", "duplicate", "not attempted"):
                    remove_quietly([video.submission.path])
                yield i, _in_app_words(outcome)
        finally:
            ingestor.release()


def _in_app_words(outcome: VideoOutcome) -> VideoOutcome:
    """The outcome with a reason that names no CLI command, stored path or internal id."""
    reason = {"unindexed": NOT_INDEXED, "duplicate": DUPLICATE}.get(outcome.status)
    return dataclasses.replace(outcome, reason=reason) if reason else outcome


# -- trends and creators ----------------------------------------------------------------------------
def _trends_config(services: Services) -> TrendsConfig:
    from inference import trends

    return trends.load_config(services.config_file)


def update_styles(services: Services, full: bool = False) -> StylesUpdate:
    """Cluster garments into styles (or assign the new ones); returns what changed."""
    from inference import trends
    from inference.index import IndexConfig

    if not services.catalog.has_garments() or not services.index_exists():
        raise BadInputError(NO_GARMENTS)
    with services.ingest_lock:
        return trends.update_styles(
            services.catalog, _trends_config(services), full=full, index_config=IndexConfig.load(services.config_file)
        )


def trends_overview(services: Services, kind: str | None = None, weeks: int | None = None) -> TrendsReport:
    """The trends report: every style with its series, verdict and forecast."""
    from inference import trends

    _check_has_styles(services)
    return trends.trends_report(
        services.catalog,
        _trends_config(services),
        trends.load_forecast_config(services.config_file),
        None,
        weeks or None,
        kind or None,
    )


def attribute_overview(services: Services, by: str, kind: str | None = None,
                       weeks: int | None = None) -> AttributeTrendsReport:
    """Colours, patterns, garment types or silhouettes as trends: each value with its series,
    verdict, forecast and originator. ``kind``: only garments of that kind (top, bottom, full)."""
    from inference import trends

    _check_has_styles(services)
    return trends.attribute_report(
        services.catalog,
        _trends_config(services),
        trends.load_forecast_config(services.config_file),
        trends.load_creators_config(services.config_file),
        by,
        None,
        weeks or None,
        kind if kind in ("top", "bottom", "full") else None,
    )


def _check_has_styles(services: Services) -> None:
    if not services.catalog.has_styles():
        raise BadInputError(NO_STYLES)


def next_steps(services: Services, after: str) -> list[str]:
    """What to do next, in the app's words, ``after`` an ``upload`` or a styles ``update``."""
    from inference.trends.coverage import style_coverage

    cluster = _trends_config(services).cluster
    coverage = style_coverage(services.catalog, cluster)
    steps = fmt.ingest_next_steps if after == "upload" else fmt.update_next_steps
    return steps(coverage, cluster, fmt.APP_STEPS)


def _creators_config(services: Services) -> CreatorsConfig:
    from inference import trends

    return trends.load_creators_config(services.config_file)


def style_detail(services: Services, style_id: int) -> tuple[StyleAdopters, list[StyleGarment]]:
    """One style: name, originator with evidence, adopters in order; and the garments nearest its centre."""
    from inference.trends import creators_report, medoids

    _check_has_styles(services)
    _check_styles(services, [style_id], "there is no style {}: the Trends tab lists the styles there are")
    report = creators_report(
        services.catalog, _trends_config(services), _creators_config(services), style_id=style_id
    )
    assert report.style is not None  # a report about one style has it
    return report.style, medoids(services.catalog, style_id, services.config.style_garments)


def leaderboard(services: Services, tier: str | None = None, top: int | None = None) -> CreatorsReport:
    """The trendsetter leaderboard (optionally one follower tier) with originators."""
    from inference.trends import creators_report

    _check_has_styles(services)
    return creators_report(
        services.catalog,
        _trends_config(services),
        _creators_config(services),
        tier=tier or None,
        top=top or services.config.leaderboard_top,
    )


def creator_page(services: Services, handle: str) -> CreatorPage:
    """A creator: followers, videos, styles they started and adopted, with the evidence."""
    from inference import trends

    handle = (handle or "").strip().lstrip("@")
    followers = dict(services.catalog.creators())
    if handle not in followers:
        raise BadInputError(f"unknown creator @{handle}" if handle else "choose a creator")
    config, creators_config = _trends_config(services), _creators_config(services)
    data = trends.load_trend_data(services.catalog, None, config.series.min_frames_per_video)
    if not data.styles:
        raise BadInputError(NO_STYLES)
    adoptions = trends.adoptions_by_style(data, creators_config)
    origins = trends.originators(data, creators_config, adoptions)
    board = trends.trendsetters(adoptions, trends.rising_styles(data, config.rising), creators_config)
    started, adopted = trends.creator_styles(data, adoptions, origins, handle)
    ranked = next((t for t in board if t.creator == handle), None)
    videos = services.catalog.done_video_count(handle)
    return trends.CreatorPage(handle, followers[handle], int(videos), ranked, started, adopted)


# -- models ---------------------------------------------------------------------------------------
def model_overview(services: Services) -> dict[str, Any]:
    """Live index version (encoder, factory, size), model versions and the current one."""
    from inference.index import index_root, read_current, read_meta
    from models import versions

    live = read_current(services.data_dir)
    index: dict[str, Any] | None = None
    if live is not None:
        meta = read_meta(index_root(services.data_dir) / live)
        index = {key: meta.get(key) for key in ("version", "encoder", "factory", "count", "created_at", "build_s")}
    models = []
    for name in versions.list_versions(services.data_dir):
        info = versions.read_version(services.data_dir, name)
        models.append({key: info.get(key) for key in
                       ("version", "encoder", "parent", "kind", "created_at", "wise_ratio", "train_pairs")})
    return {"index": index, "models": models, "current_model": versions.current_version(services.data_dir)}


def eval_report(services: Services, version: str) -> str:
    """A model version's eval report (Markdown table)."""
    from models import versions

    _check_model_version(services, version)
    path = versions.models_dir(services.data_dir) / version / "eval.md"
    if not path.is_file():
        return f"model version {version} has no eval report"
    return path.read_text(encoding="utf-8")


def retrain(services: Services, season_zip: str | Path | None, reindex: bool) -> Any:
    """Season retraining from an uploaded zip of images + captions; a :class:`RunResult`.

    The new model version becomes current; with ``reindex`` every garment is re-embedded
    and the new index version switched in atomically (searches go on meanwhile).
    """
    if not season_zip:
        raise BadInputError("choose a zip of the season's images with captions.csv or captions.jsonl")
    config = services.config
    folder = unpack_season(
        Path(season_zip),
        services.data_dir / SEASONS_DIR,
        ZipLimits(config.max_season_zip_mb, config.max_season_unzipped_mb, config.max_season_files),
    )
    from training import runs

    with services.ingest_lock:
        result = runs.run_retrain(folder, services.data_dir, runs.load_config(services.config_file),
                                  reindex=reindex, activate=True)
    if result.reindexed:
        services.reload(None)
    return result


def switch_model(services: Services, version: str | None) -> dict[str, Any]:
    """Make a model version current and search with it.

    Uses an index version that encoder already built, or re-embeds the catalog into a new
    one, switched in atomically; the old model stays live if anything fails.
    """
    from inference import index as garment_index
    from inference.embed import CropEmbedder
    from inference.encoders import resolve_encoder
    from models.versions import read_version
    from training.versions import set_current

    name = None if not version or version == "default" else version
    if name:
        _check_model_version(services, name)
    spec = read_version(services.data_dir, name)["encoder"] if name else None
    encoder = resolve_encoder(spec, None)  # the version's encoder, or the default
    info = encoder.describe()
    with services.ingest_lock:
        built = [
            v for v in garment_index.list_versions(services.data_dir)
            if _built_by(services.data_dir, v, info)
        ]
        if built:
            garment_index.activate_version(services.data_dir, built[-1])
            index_version, rebuilt = built[-1], False
        elif services.index_exists() or services.catalog.counts()["garments"]:
            index_version = garment_index.rebuild_index(
                services.data_dir, CropEmbedder(encoder), services.catalog, activate=True, progress=False
            )
            rebuilt = True
        else:
            index_version, rebuilt = None, False
        set_current(services.data_dir, name)
        services.reload(None if index_version else str(info["name"]))
    return {"model": name or "packaged default", "encoder": info, "index_version": index_version,
            "rebuilt": rebuilt}


def _check_model_version(services: Services, version: str) -> None:
    from models import versions

    if version not in versions.list_versions(services.data_dir):
        raise BadInputError(f"there is no model version {version!r}: the Model version list shows the ones there are")


def _built_by(data_dir: Path, version: str, info: dict[str, Any]) -> bool:
    from inference.index import GarmentIndexError, index_root, read_meta

    try:
        built = read_meta(index_root(data_dir) / version)["encoder"]
    except GarmentIndexError:
        return False
    return all(str(built.get(key)) == str(info.get(key)) for key in ("name", "version", "dim"))
