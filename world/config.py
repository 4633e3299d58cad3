"""Typed settings of the creator world, and the shipped presets (``configs/world.yaml``)."""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path
from typing import Any

import yaml

import configs
from core.errors import BadInputError


class WorldError(BadInputError):
    """The creator world cannot be generated or read as asked."""


@dataclasses.dataclass
class RenderConfig:
    """How each video is drawn and encoded."""

    width: int = 360  # frame width in pixels (portrait: width < height), even
    height: int = 640  # frame height in pixels, even, at most 1280
    fps: int = 15  # frames per second
    min_seconds: float = 3.0  # shortest clip
    max_seconds: float = 6.0  # longest clip
    crf: int = 23  # x264 constant rate factor (lower = larger, cleaner files)
    title_card_rate: float = 0.2  # share of videos opening with a text-only title card
    closeup_rate: float = 0.25  # share of videos with a cut to a close-up of the top
    walk_rate: float = 0.5  # share of videos where the person walks in and/or out of frame
    turn_rate: float = 0.5  # share of videos with a full turn
    blur_rate: float = 0.15  # share of frames with motion blur (more while walking)
    lighting: float = 0.25  # amplitude of lighting drift and flicker (0 = steady)
    occlusion_rate: float = 0.15  # share of videos with a foreground object over the person
    shake_px: float = 3.0  # hand-held camera shake, pixels (random walk amplitude)
    sensor_noise: float = 2.0  # std of per-pixel sensor noise, grey levels
    fashion_mnist: bool = False  # modulate garment pixels with real Fashion-MNIST garments
    fashion_mnist_dir: str = "/usr/share/datasets/fashion-mnist"  # Debian dataset-fashion-mnist


@dataclasses.dataclass
class WorldConfig:
    """What world to generate: population, styles, trend dynamics and rendering."""

    seed: int = 0  # one seed decides everything; same seed + config -> same world
    preset: str = "custom"  # name of the preset it came from (recorded, not used)
    start_date: str = "2026-03-02"  # first day of the season (ISO date)
    days: int = 90  # length of the season
    creators: int = 120  # number of creators
    trending_styles: int = 12  # styles with an originator and an adoption curve
    background_styles: int = 8  # styles whose share stays flat
    videos: int = 900  # videos posted in the season (the ones to ingest)
    query_videos: int = 12  # extra held-out videos for search queries (not to ingest)
    lookalike_rate: float = 0.25  # share of styles that are near-copies of another style
    tier_mix: dict[str, float] = dataclasses.field(
        default_factory=lambda: {"micro": 0.75, "mid": 0.2, "mega": 0.05}
    )  # share of creators per follower tier (micro 10k-50k, mid 50k-1M, mega >1M)
    trendsetter_fraction: float = 0.08  # share of creators who start styles and adopt early
    follows_per_creator: int = 12  # mean number of other creators each one follows
    shape_mix: dict[str, float] = dataclasses.field(
        default_factory=lambda: {"rising": 0.45, "peaking": 0.35, "fading": 0.2}
    )  # share of trending styles per curve shape
    adoption_rate: float = 0.1  # chance that one sighting of a style makes a creator adopt it
    discovery_rate: float = 0.002  # adoption by seeing a style outside the follow graph (feeds)
    background_share: float = 0.4  # share of posts that wear a background style whatever trends
    adoption_memory_days: float = 20.0  # how fast re-wearing an adopted style fades (e-folding)
    mega_gate_adopters: int = 6  # mega creators adopt only once this many creators wore it
    rise_min_creators: int = 4  # a style "truly rose" once this many creators wore it
    late_creator_fraction: float = 0.1  # share of creators whose videos arrive late (backdated)
    late_delay_days: list[int] = dataclasses.field(default_factory=lambda: [3, 21])  # arrival delay
    posting_jitter_days: float = 2.0  # std of days around each creator's regular cadence
    workers: int = 1  # processes rendering videos (0 = one per CPU core)
    render: RenderConfig = dataclasses.field(default_factory=RenderConfig)

    @property
    def season_start(self) -> dt.date:
        return dt.date.fromisoformat(self.start_date)

    def validate(self) -> WorldConfig:
        """Raise :class:`WorldError` for settings that cannot make a world; returns self."""
        problems = _count_problems(self) + _rate_problems(self) + _render_problems(self.render)
        try:
            dt.date.fromisoformat(self.start_date)
        except (TypeError, ValueError):
            problems.append(f"start_date must be an ISO date, got {self.start_date!r}")
        if problems:
            raise WorldError("bad creator-world settings: " + "; ".join(problems))
        return self


def _count_problems(config: WorldConfig) -> list[str]:
    problems = []
    minimums = {
        "days": 2,
        "creators": 2,
        "trending_styles": 0,
        "background_styles": 1,
        "videos": 1,
        "query_videos": 0,
        "follows_per_creator": 0,
        "mega_gate_adopters": 0,
        "rise_min_creators": 1,
        "workers": 0,
    }
    for name, low in minimums.items():
        value = getattr(config, name)
        if isinstance(value, bool) or not isinstance(value, int):
            problems.append(f"{name} must be a whole number, got {value!r}")
        elif value < low:
            problems.append(f"{name} must be >= {low}, got {value}")
    if not problems and config.trending_styles > config.videos:
        problems.append(
            f"trending_styles ({config.trending_styles}) cannot exceed videos ({config.videos})"
        )
    delay = config.late_delay_days
    if not (isinstance(delay, list | tuple) and len(delay) == 2 and 0 <= delay[0] <= delay[1]):
        problems.append(f"late_delay_days must be [low, high] with 0 <= low <= high, got {delay!r}")
    return problems


def _rate_problems(config: WorldConfig) -> list[str]:
    problems = []
    for name in (
        "lookalike_rate",
        "trendsetter_fraction",
        "adoption_rate",
        "discovery_rate",
        "background_share",
        "late_creator_fraction",
    ):
        value = getattr(config, name)
        if not isinstance(value, int | float) or not 0.0 <= float(value) <= 1.0:
            problems.append(f"{name} must be between 0 and 1, got {value!r}")
    if config.posting_jitter_days < 0 or config.adoption_memory_days <= 0:
        problems.append("posting_jitter_days must be >= 0 and adoption_memory_days > 0")
    problems += _mix_problems("tier_mix", config.tier_mix, ("micro", "mid", "mega"))
    problems += _mix_problems("shape_mix", config.shape_mix, ("rising", "peaking", "fading"))
    return problems


def _mix_problems(name: str, mix: dict[str, float], keys: tuple[str, ...]) -> list[str]:
    if not isinstance(mix, dict) or set(mix) - set(keys):
        return [f"{name} must map some of {', '.join(keys)} to shares, got {mix!r}"]
    if any(not isinstance(v, int | float) or v < 0 for v in mix.values()) or sum(mix.values()) <= 0:
        return [f"{name} shares must be >= 0 and not all zero, got {mix!r}"]
    return []


def _render_problems(render: RenderConfig) -> list[str]:
    problems = []
    for name in ("width", "height"):
        value = getattr(render, name)
        if not isinstance(value, int) or value < 64 or value > 1280 or value % 2:
            problems.append(f"render.{name} must be an even number of pixels in 64..1280, got {value!r}")
    if not isinstance(render.fps, int) or not 1 <= render.fps <= 60:
        problems.append(f"render.fps must be a whole number in 1..60, got {render.fps!r}")
    if not 0.2 <= render.min_seconds <= render.max_seconds <= 60:
        problems.append(
            "render.min_seconds and render.max_seconds must satisfy 0.2 <= min <= max <= 60"
        )
    for name in ("title_card_rate", "closeup_rate", "walk_rate", "turn_rate", "blur_rate",
                 "occlusion_rate", "lighting"):
        if not 0.0 <= getattr(render, name) <= 1.0:
            problems.append(f"render.{name} must be between 0 and 1")
    if render.shake_px < 0 or render.sensor_noise < 0 or not 0 <= render.crf <= 51:
        problems.append("render.shake_px and render.sensor_noise must be >= 0, render.crf in 0..51")
    return problems


def preset_names() -> list[str]:
    """Names of the shipped presets."""
    return list(configs.load("world").get("presets", {}))


def world_config(
    preset: str = "demo",
    seed: int = 0,
    user_file: str | Path | None = None,
    overrides: dict[str, Any] | None = None,
) -> WorldConfig:
    """The config of a shipped preset, with a user's file and ``key=value`` overrides merged in.

    Args:
        preset: a name from :func:`preset_names`.
        seed: the world's seed.
        user_file: optional YAML file overriding any keys (nested ``render`` keys merge).
        overrides: optional mapping merged last (e.g. parsed ``--set`` options).

    Raises:
        WorldError: unknown preset, unknown keys, or values that cannot make a world.
    """
    shipped = configs.load("world")
    presets = shipped.get("presets", {})
    if preset not in presets:
        raise WorldError(f"unknown preset {preset!r}; choose from {', '.join(presets)}")
    values = configs.merge(shipped["defaults"], presets[preset] or {})
    if user_file is not None:
        values = configs.merge(values, configs.read_yaml(user_file))
    values = configs.merge(values, overrides or {})
    values.update(seed=seed, preset=preset)
    try:
        config = configs.from_dict(WorldConfig, values)
    except (configs.ConfigError, TypeError) as exc:
        raise WorldError(f"bad creator-world settings: {exc}") from None
    return config.validate()


def parse_overrides(pairs: list[str]) -> dict[str, Any]:
    """``["videos=40", "render.fps=10"]`` -> nested mapping with YAML-typed values."""
    overrides: dict[str, Any] = {}
    for pair in pairs:
        key, sep, text = pair.partition("=")
        if not sep or not key.strip():
            raise WorldError(f"--set expects key=value, got {pair!r}")
        try:
            value = yaml.safe_load(text)
        except yaml.YAMLError:
            raise WorldError(f"--set {key}: cannot read value {text!r}") from None
        node = overrides
        *parents, leaf = key.strip().split(".")
        for parent in parents:
            node = node.setdefault(parent, {})
        node[leaf] = value
    return overrides
