"""Training runs end to end: data -> features -> training -> eval -> a versioned model.

:func:`run_train` is ``stylescope train``; :func:`run_retrain` is the ML engineer's season
loop, ``stylescope retrain --season DIR``: start from the current model, train on the new
season's pairs (plus a replay of the old training data), report before/after on the new
season and on the previous model's eval sets, interpolate old and new weights (WiSE-FT)
with the ratio chosen on a held-out slice of the season, and optionally re-embed the
catalog into a new index version that is switched to atomically.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

import configs
from core.errors import BadInputError
from inference.encoders import encoder_spec
from models.offline import PACKAGED_HEADS, HeadsConfig, OfflineEncoder
from models.versions import current_version, read_version
from training import data as datasets
from training.evaluate import (
    EmbedView,
    EvalSet,
    SuiteResult,
    match_thresholds,
    report_json,
    report_markdown,
    run_eval,
)
from training.features import CachedHeadsView, FeatureCache
from training.train import (
    OpenClipTrainConfig,
    OptimConfig,
    TrainLog,
    WiseConfig,
    caption_features,
    choose_wise_ratio,
    scores,
    state_copy,
    train_heads,
)
from training.versions import VersionWriter

logger = logging.getLogger(__name__)


@dataclasses.dataclass
class DataConfig:
    """Which pairs to train on and which eval sets to score."""

    fashion_mnist_train: int = 10000  # Fashion-MNIST training images (class-balanced; 0 = none)
    fashion_mnist_eval: int = 10000  # Fashion-MNIST test images scored zero-shot (0 = skip)
    creator_world_train: int = 6000  # creator-world crops trained on (held-out combos excluded)
    creator_world_eval: int = 1200  # creator-world crops of held-out colour x pattern combos
    held_out_fraction: float = 0.15  # share of (colour, pattern) combos held out of training
    caption_variants: int = 8  # phrasings per creator-world crop
    folders: list[str] = dataclasses.field(default_factory=list)  # extra caption folders to train on
    exclude_patterns: list[str] = dataclasses.field(default_factory=list)  # patterns never trained on


@dataclasses.dataclass
class SeasonConfig:
    """How ``retrain`` splits and mixes a season's pairs."""

    select_fraction: float = 0.15  # season pairs held out to choose the WiSE-FT ratio
    test_fraction: float = 0.15  # season pairs held out for the before/after report
    replay: float = 0.5  # old training pairs mixed in, as a multiple of the season's pairs
    seed: int = 0  # split and replay sampling seed


@dataclasses.dataclass
class TrainRunConfig:
    """A full training run (``configs/train.yaml``)."""

    encoder: str = "stylescope-default"  # model to train: stylescope-default or open_clip:<...>
    init: str = ""  # start from this encoder spec ("" = fresh heads / the named model)
    heads: HeadsConfig = dataclasses.field(default_factory=HeadsConfig)  # offline head shapes
    data: DataConfig = dataclasses.field(default_factory=DataConfig)  # training and eval data
    optim: OptimConfig = dataclasses.field(default_factory=OptimConfig)  # optimiser
    open_clip: OpenClipTrainConfig = dataclasses.field(default_factory=OpenClipTrainConfig)  # open_clip options
    wise: WiseConfig = dataclasses.field(default_factory=WiseConfig)  # WiSE-FT interpolation
    season: SeasonConfig = dataclasses.field(default_factory=SeasonConfig)  # retrain split/replay
    retrain_optim: OptimConfig = dataclasses.field(
        default_factory=lambda: OptimConfig(epochs=20, lr=3e-4, warmup_steps=10)
    )  # optimiser for season retraining (gentler than from scratch)
    cache_dir: str = ""  # tower feature cache ("" = DATA_DIR/cache/features)
    seed: int = 0  # data subset seed


def load_config(user_file: str | Path | None = None, overrides: dict[str, Any] | None = None) -> TrainRunConfig:
    """``configs/train.yaml`` with the user's file and then ``overrides`` merged over it."""
    values = configs.load("train", user_file)
    if overrides:
        values = configs.merge(values, overrides)
    return configs.from_dict(TrainRunConfig, values)


# --------------------------------------------------------------------------- data
def eval_sources(config: DataConfig, seed: int = 0) -> list[str]:
    """Source strings of the standard eval sets (recorded in each version)."""
    sources = []
    if config.fashion_mnist_eval:
        sources.append(f"fashion-mnist:test:{config.fashion_mnist_eval}")
    if config.creator_world_eval:
        sources.append(f"creator-world:heldout:{config.creator_world_eval}:{config.held_out_fraction}:{seed}")
    return sources


def load_eval_set(source: str, version_dir: Path | None = None) -> EvalSet:
    """Rebuild an eval set from its source string (see :func:`eval_sources`)."""
    kind, _, rest = source.partition(":")
    if kind == "fashion-mnist":
        split, count = rest.split(":")
        limit = int(count) if int(count) < 10000 else None
        return EvalSet("fashion-mnist", "fashion-mnist", datasets.fashion_mnist(split, limit, seed=0))
    if kind == "creator-world":
        _, count, fraction, seed = rest.split(":")
        held = datasets.held_out_pairs(int(seed), float(fraction))
        pairs = datasets.creator_world(int(count), seed=int(seed) + 1, only=held,
                                       name=f"creator-world-heldout-{count}-{fraction}-{seed}")
        return EvalSet("creator-world-heldout", "creator-world", pairs)
    if kind == "folder":
        path = Path(rest)
        if not path.is_absolute() and version_dir is not None:
            path = version_dir / path
        pairs, _ = datasets.read_caption_folder(path, name=f"eval-{path.name}")
        return EvalSet(path.name, "folder", pairs)
    raise BadInputError(f"unknown eval set source {source!r}")


def training_pairs(config: DataConfig, seed: int = 0) -> list[datasets.PairSet]:
    """The standard training pairs, one set per source (each has its own feature cache entry):
    Fashion-MNIST train subset, creator-world crops, caption folders."""
    parts = []
    if config.fashion_mnist_train:
        parts.append(datasets.fashion_mnist("train", config.fashion_mnist_train, seed=seed))
    if config.creator_world_train:
        held = datasets.held_out_pairs(seed, config.held_out_fraction)
        parts.append(datasets.creator_world(config.creator_world_train, seed=seed, exclude=held,
                                            variants=config.caption_variants,
                                            name=f"creator-world-train-{config.creator_world_train}-{seed}"))
    for folder in config.folders:
        parts.append(datasets.read_caption_folder(folder)[0])
    if not parts:
        raise BadInputError("no training data configured (data.fashion_mnist_train, "
                            "data.creator_world_train and data.folders are all empty)")
    return parts


# --------------------------------------------------------------------------- offline heads
def train_rows(part: datasets.PairSet, config: DataConfig) -> np.ndarray:
    """Indices of ``part``'s pairs to train on (all but excluded patterns)."""
    if not config.exclude_patterns or not part.attributes:
        return np.arange(len(part))
    banned = set(config.exclude_patterns)
    return np.array([n for n, a in enumerate(part.attributes) if a.get("pattern") not in banned], np.int64)


def _offline_encoder(spec: str, heads_config: HeadsConfig) -> OfflineEncoder:
    """The encoder to start from: a heads file, or fresh heads on the configured towers."""
    from models.offline import build_heads, build_image_tower, build_text_tower

    prefix, _, path = spec.partition(":")
    if prefix == "stylescope-default" and spec != "stylescope-default:fresh":
        return OfflineEncoder.from_file(Path(path) if path else PACKAGED_HEADS)
    image_tower = build_image_tower(heads_config.image_tower)
    text_tower = build_text_tower(heads_config.text_tower)
    heads = build_heads(heads_config, image_tower.dim, text_tower.dim)
    return OfflineEncoder(heads_config, heads, name="stylescope-default:fresh", version="fresh",
                          image_tower=image_tower, text_tower=text_tower)


def _fit_heads(encoder: OfflineEncoder, cache: FeatureCache, parts: list[datasets.PairSet],
               optim: OptimConfig, rows: Sequence[np.ndarray | None] | None = None) -> TrainLog:
    """Train ``encoder``'s heads on ``parts`` (``rows`` picks a subset of a part's pairs)."""
    rows = list(rows) if rows is not None else [None] * len(parts)
    images: list[np.ndarray] = []
    tables: list[np.ndarray] = []
    caption_ids: list[np.ndarray] = []
    groups: list[np.ndarray] = []
    group_offset = text_offset = 0
    for part, picked in zip(parts, rows, strict=True):
        picked = np.arange(len(part)) if picked is None else picked
        images.append(cache.image_features(part)[picked])
        table, ids = caption_features(part, cache.text_features)
        tables.append(table)
        caption_ids.extend(ids[i] + text_offset for i in picked)
        groups.append(part.groups[picked] + group_offset)
        group_offset += len(part.group_names)
        text_offset += len(table)
    return train_heads(encoder.heads, np.concatenate(images), np.concatenate(tables), caption_ids,
                       np.concatenate(groups), optim)


def _cache(config: TrainRunConfig, data_dir: Path, encoder: OfflineEncoder) -> FeatureCache:
    root = Path(config.cache_dir) if config.cache_dir else data_dir / "cache" / "features"
    return FeatureCache(encoder, root)


@dataclasses.dataclass
class RunResult:
    """What a train or retrain run produced."""

    version: str  # the new version's name
    path: Path  # its folder
    encoder: str  # registry spec of the new model
    report: dict[str, Any]  # eval report (JSON form)
    markdown: str  # eval report table
    train_log: TrainLog  # training statistics
    wise_ratio: float | None = None  # chosen WiSE-FT ratio (retrain)
    reindexed: str | None = None  # new index version, when --reindex


def run_train(config: TrainRunConfig, data_dir: str | Path, *, activate: bool = True,
              export: str | Path | None = None) -> RunResult:
    """``stylescope train``: train a model and write it as a new version.

    Args:
        config: the run's settings.
        data_dir: deployment folder (versions under ``models/``, feature cache under ``cache/``).
        activate: make the new version current.
        export: also copy the trained heads to this path (how the committed default is made).
    """
    data_dir = Path(data_dir)
    if config.encoder.startswith("open_clip"):
        return _run_train_open_clip(config, data_dir, activate=activate)
    if not config.encoder.startswith("stylescope-default"):
        raise BadInputError(f"cannot train encoder {config.encoder!r}: use stylescope-default or open_clip:...")
    encoder = _offline_encoder(config.init or "stylescope-default:fresh", config.heads)
    cache = _cache(config, data_dir, encoder)
    parts = training_pairs(config.data, config.seed)
    sources = eval_sources(config.data, config.seed)
    eval_sets = [load_eval_set(s) for s in sources]
    before = run_eval(CachedHeadsView(cache, encoder.heads), eval_sets) if config.init else None
    log = _fit_heads(encoder, cache, parts, config.optim, [train_rows(p, config.data) for p in parts])
    after = run_eval(CachedHeadsView(cache, encoder.heads), eval_sets)
    match = _match_strength(CachedHeadsView(cache, encoder.heads), eval_sets)
    results = {"before": before, "after": after} if before else {"model": after}
    writer = VersionWriter(data_dir)
    try:
        from models.offline import save_heads

        save_heads(encoder.heads, encoder.config, writer.path("heads.safetensors"),
                   extra={"eval": json.dumps(report_json({"model": after})["model"])})
        _write_common(writer, config, results)
        if export:
            shutil.copyfile(writer.path("heads.safetensors"), export)
        version, path = writer.commit({
            "encoder": "stylescope-default:{version_dir}/heads.safetensors",
            "parent": config.init or None, "kind": "offline-heads", "eval_sets": sources,
            "train_pairs": sum(len(train_rows(p, config.data)) for p in parts), "train_log": dataclasses.asdict(log),
            **match,
        }, activate=activate)
    except BaseException:
        writer.abort()
        raise
    logger.info("wrote model version %s", version)
    return RunResult(version, path, read_version(data_dir, version)["encoder"],
                     report_json(results), report_markdown(results), log)


def _match_strength(view: EmbedView, eval_sets: list[EvalSet]) -> dict[str, Any]:
    """``{"match_strength": ...}`` for ``version.json``: the search's strong / fair / weak
    cut-offs derived from the version's eval sets (empty without an eval set of styles)."""
    from inference.search import SearchConfig

    thresholds = match_thresholds(view, eval_sets, SearchConfig.load().text_weight)
    return {} if thresholds is None else {"match_strength": thresholds.to_dict()}


def _write_common(writer: VersionWriter, config: TrainRunConfig,
                  results: dict[str, dict[str, SuiteResult]]) -> None:
    configs.dump(config, writer.path("config.yaml"))
    writer.path("eval.json").write_text(json.dumps(report_json(results), indent=2), encoding="utf-8")
    writer.path("eval.md").write_text(report_markdown(results), encoding="utf-8")


def _run_train_open_clip(config: TrainRunConfig, data_dir: Path, *, activate: bool) -> RunResult:
    """Fine-tune an open_clip model (full or locked image tower), WiSE-FT against its start."""
    from models.registry import create_encoder
    from training.evaluate import EncoderView
    from training.train import train_open_clip

    encoder: Any = create_encoder(config.init or config.encoder)
    pairs = datasets.concat(training_pairs(config.data, config.seed), "train")
    train, select, test = split_season(pairs, config.season)
    sources = eval_sources(config.data, config.seed)
    old_sets = [load_eval_set(s) for s in sources]
    new_sets = [EvalSet("train-holdout", "folder", test)]
    view = EncoderView(encoder)
    before = run_eval(view, [*new_sets, *old_sets])
    old_state = state_copy(encoder.model)
    log = train_open_clip(encoder, train, config.optim, config.open_clip)
    wise_ratio = 1.0
    if config.wise.enabled:
        choice = choose_wise_ratio(encoder.model, old_state, state_copy(encoder.model), lambda _: view,
                                   [EvalSet("train-select", "folder", select)], old_sets,
                                   scores({s.name: before[s.name] for s in old_sets}), config.wise)
        wise_ratio = choice.ratio
    after = run_eval(view, [*new_sets, *old_sets])
    match = _match_strength(view, [*new_sets, *old_sets])
    results = {"before": before, "after": after}
    writer = VersionWriter(data_dir)
    try:
        encoder.save(writer.path("model.safetensors"))
        _write_common(writer, config, results)
        version, path = writer.commit({
            "encoder": f"open_clip:{encoder.arch}:{{version_dir}}/model.safetensors",
            "parent": config.init or config.encoder, "kind": "open_clip", "eval_sets": sources,
            "wise_ratio": wise_ratio, "train_pairs": len(train), "train_log": dataclasses.asdict(log),
            **match,
        }, activate=activate)
    except BaseException:
        writer.abort()
        raise
    return RunResult(version, path, read_version(data_dir, version)["encoder"],
                     report_json(results), report_markdown(results), log, wise_ratio)


# --------------------------------------------------------------------------- season retraining
def split_season(pairs: datasets.PairSet, config: SeasonConfig) -> tuple[datasets.PairSet, ...]:
    """(train, select, test) split of a season; each caption group is spread over the parts."""
    rng = np.random.default_rng(config.seed)
    parts: list[list[int]] = [[], [], []]
    for group in np.unique(pairs.groups):
        members = rng.permutation(np.flatnonzero(pairs.groups == group)).tolist()
        if len(members) < 3:  # too few to split: the group is both learnt and tested
            parts[0].extend(members)
            continue
        n_test = max(1, round(len(members) * config.test_fraction))
        n_select = max(1, round(len(members) * config.select_fraction))
        parts[2].extend(members[:n_test])
        parts[1].extend(members[n_test : n_test + n_select])
        parts[0].extend(members[n_test + n_select :])
    if not parts[2]:
        raise BadInputError("the season folder needs at least 3 images per caption for some captions "
                            "to hold out a test slice")
    names = ("train", "select", "test")
    return tuple(pairs.subset(sorted(p), f"{pairs.name}-{n}") for p, n in zip(parts, names, strict=True))


def _parent(data_dir: Path) -> tuple[str | None, str, list[str]]:
    """(parent version, its encoder spec, its eval-set sources)."""
    version = current_version(data_dir)
    if version is None:
        return None, encoder_spec(None, None), eval_sources(DataConfig())
    info = read_version(data_dir, version)
    return version, info["encoder"], list(info.get("eval_sets", []))


def run_retrain(season_dir: str | Path, data_dir: str | Path, config: TrainRunConfig, *,
                reindex: bool = False, activate: bool = True) -> RunResult:
    """``stylescope retrain --season DIR``: the season loop (offline-default heads).

    Raises:
        BadInputError: unusable season folder (see :func:`training.data.read_caption_folder`).
    """
    data_dir = Path(data_dir)
    season, folder_report = datasets.read_caption_folder(season_dir, name=f"season-{Path(season_dir).name}")
    parent_version, parent_spec, parent_sources = _parent(data_dir)
    if not parent_spec.startswith("stylescope-default"):
        raise BadInputError(f"retrain works on the offline default's heads; the current model is {parent_spec}")
    encoder = _offline_encoder(parent_spec, config.heads)
    cache = _cache(config, data_dir, encoder)
    train, select, test = split_season(season, config.season)
    version_dir = data_dir / "models" / parent_version if parent_version else None
    old_sets = [load_eval_set(s, version_dir) for s in parent_sources]
    season_name = f"season-{Path(season_dir).name}"
    distractors = [s.pairs for s in old_sets]  # the season is searched inside the old images
    new_sets = [EvalSet(season_name, "folder", test, distractors)]
    select_sets = [EvalSet(f"{season_name}-select", "folder", select, distractors)]
    old_state = state_copy(encoder.heads)
    before = run_eval(CachedHeadsView(cache, encoder.heads), [*new_sets, *old_sets])
    parts, rows = _with_replay(train, config)
    log = _fit_heads(encoder, cache, parts, config.retrain_optim, rows)
    new_state = state_copy(encoder.heads)
    wise_ratio = 1.0
    wise_candidates: list[dict[str, Any]] = []
    if config.wise.enabled:
        choice = choose_wise_ratio(encoder.heads, old_state, new_state,
                                   lambda heads: CachedHeadsView(cache, heads), select_sets,
                                   old_sets, scores({k: before[k] for k in (s.name for s in old_sets)}),
                                   config.wise)
        wise_ratio, wise_candidates = choice.ratio, choice.candidates
    after = run_eval(CachedHeadsView(cache, encoder.heads), [*new_sets, *old_sets])
    match = _match_strength(CachedHeadsView(cache, encoder.heads), [*new_sets, *old_sets])
    results = {"before": before, "after": after}
    writer = VersionWriter(data_dir)
    try:
        from models.offline import save_heads

        save_heads(encoder.heads, encoder.config, writer.path("heads.safetensors"))
        _write_common(writer, config, results)
        datasets.write_caption_folder(writer.path(f"eval_sets/{season_name}"),
                                      [test.load(i) for i in range(len(test))],
                                      [c[0] for c in test.captions])
        version, path = writer.commit({
            "encoder": "stylescope-default:{version_dir}/heads.safetensors",
            "parent": parent_version or parent_spec, "kind": "offline-heads",
            "season": str(Path(season_dir).resolve()),
            "season_pairs": {"train": len(train), "select": len(select), "test": len(test),
                             "missing_images": folder_report.missing_images,
                             "bad_rows": folder_report.bad_rows},
            "eval_sets": [*parent_sources, f"folder:eval_sets/{season_name}"],
            "wise_ratio": wise_ratio, "wise_candidates": wise_candidates,
            "train_pairs": int(sum(len(r) for r in rows)), "train_log": dataclasses.asdict(log),
            **match,
        }, activate=activate)
    except BaseException:
        writer.abort()
        raise
    spec = read_version(data_dir, version)["encoder"]
    result = RunResult(version, path, spec, report_json(results), report_markdown(results), log, wise_ratio)
    if reindex:
        result.reindexed = _reindex(data_dir, spec)
    return result


def _with_replay(train: datasets.PairSet, config: TrainRunConfig
                 ) -> tuple[list[datasets.PairSet], list[np.ndarray]]:
    """Season pairs plus a sample of the standard training pairs (replay against forgetting)."""
    parts, rows = [train], [np.arange(len(train))]
    count = round(len(train) * config.season.replay)
    if count > 0:
        old_parts = training_pairs(config.data, config.seed)
        allowed = [train_rows(p, config.data) for p in old_parts]
        total = sum(len(a) for a in allowed)
        rng = np.random.default_rng(config.season.seed)
        picked = np.sort(rng.choice(total, min(count, total), replace=False))
        start = 0
        for part, part_rows in zip(old_parts, allowed, strict=True):
            inside = picked[(picked >= start) & (picked < start + len(part_rows))] - start
            if len(inside):
                parts.append(part)
                rows.append(part_rows[inside])
            start += len(part_rows)
    return parts, rows


def _reindex(data_dir: Path, spec: str) -> str:
    """Re-embed every catalog garment with the new model and switch the index atomically."""
    from inference.embed import CropEmbedder
    from inference.index import rebuild_index
    from models.registry import create_encoder

    return rebuild_index(data_dir, CropEmbedder(create_encoder(spec)), activate=True)
