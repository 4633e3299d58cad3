"""Bounds declared next to a setting, checked in one place (configs.setting / configs.check)."""

from __future__ import annotations

import dataclasses

import pytest

import configs
from configs import ConfigError, from_dict, setting


@dataclasses.dataclass
class Inner:
    rate: float = setting(0.5, low=0, high=1)  # a share
    kinds: list[str] = setting(factory=lambda: ["top"], each_in=("top", "bottom"))  # garment kinds


@dataclasses.dataclass
class Outer:
    k_min: int = setting(2, low=1)  # fewest
    k_max: int = setting(8, low=1)  # most
    method: str = setting("kmeans", choices=("kmeans", "density"))  # how
    step: float = setting(1.0, low=0, low_open=True)  # > 0
    inner: Inner = dataclasses.field(default_factory=Inner)  # nested section

    def problems(self) -> list[str]:
        return ["k_min must be <= k_max"] if self.k_min > self.k_max else []


def test_defaults_pass():
    assert from_dict(Outer, {}) == Outer()


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"k_min": 0}, "k_min must be >= 1, got 0"),
        ({"method": "magic"}, "method must be one of kmeans, density"),
        ({"step": 0}, "step must be > 0"),
        ({"step": "fast"}, "step must be a number"),
        ({"inner": {"rate": 1.5}}, r"inner.rate must be in \[0, 1\], got 1.5"),
        ({"inner": {"kinds": ["hat"]}}, "inner.kinds must be a list of top, bottom"),
        ({"inner": 3}, "inner must be a mapping"),
        ({"k_min": 9}, "k_min must be <= k_max"),
        ({"nope": 1}, "unknown Outer settings: nope"),
    ],
)
def test_each_bad_setting_is_named(values, message):
    with pytest.raises(ConfigError, match=message):
        from_dict(Outer, values)


def test_prefix_names_the_section():
    with pytest.raises(ConfigError, match=r"^search\.k_min must be >= 1"):
        from_dict(Outer, {"k_min": -1}, prefix="search.")


def test_check_walks_a_config_built_in_code():
    with pytest.raises(ConfigError, match=r"inner\.rate"):
        configs.check(Outer(inner=Inner(rate=-1)))


def _ingest(path):
    from inference.ingest import IngestConfig

    return IngestConfig.load(path)


def _search(path):
    from inference.search import SearchConfig

    return SearchConfig.load(path)


def _app(path):
    from app.services import AppConfig

    return AppConfig.load(path)


def _train(path):
    from training.runs import load_config

    return load_config(path)


@pytest.mark.parametrize(
    ("load", "text", "message"),
    [
        (_ingest, "ingest:\n  jpeg_quality: 101\n", r"^jpeg_quality must be in \[0, 100\], got 101"),
        (_ingest, "ingest:\n  max_file_mb: 0\n", r"^max_file_mb must be > 0"),
        (_ingest, "ingest:\n  sampler:\n    every_s: 0\n", r"^sampler\.every_s must be > 0, got 0"),
        (_ingest, "ingest:\n  sampler:\n    cut_hamming: 65\n", r"^sampler\.cut_hamming must be in \[0, 64\]"),
        (_ingest, "ingest:\n  sampler:\n    reader: vlc\n", r"^sampler\.reader must be one of pyav, opencv, got 'vlc'"),
        (_ingest, "ingest:\n  localiser:\n    chain: [hog, lidar]\n",
         r"^localiser\.chain names unknown localisers \['lidar'\]; available: hog, face, motion, fallback_center"),
        (_ingest, "ingest:\n  localiser:\n    fallback_width: 0\n", r"^localiser\.fallback_width must be in \(0, 1\]"),
        (_search, "search:\n  text_weight: 1.5\n", r"^text_weight must be in \[0, 1\], got 1\.5"),
        (_search, "search:\n  k: 0\n", r"^k must be >= 1"),
        (_app, "app:\n  max_k: 0\n", r"^max_k must be >= 1"),
        (_app, "app:\n  port: 70000\n", r"^port must be in \[0, 65535\]"),
        (_train, "heads:\n  dropout: 1.0\n", r"^heads\.dropout must be in \[0, 1\)"),
        (_train, "heads:\n  embed_dim: 0\n", r"^heads\.embed_dim must be >= 1"),
    ],
)
def test_shipped_configs_name_a_bad_setting(tmp_path, load, text, message):
    bad = tmp_path / "bad.yaml"
    bad.write_text(text)
    with pytest.raises(ConfigError, match=message):
        load(bad)


def test_shipped_defaults_pass_their_bounds():
    from app.services import AppConfig
    from inference.garments import LocaliserConfig
    from inference.ingest import IngestConfig
    from inference.search import SearchConfig
    from models.offline import HeadsConfig

    for config in (AppConfig.load(), IngestConfig.load(), SearchConfig.load(), LocaliserConfig(), HeadsConfig()):
        configs.check(config)


def test_configs_built_in_code_are_checked_where_they_are_used():
    from inference.garments import LocaliserChain, LocaliserConfig
    from inference.video import SamplerConfig

    with pytest.raises(ConfigError, match=r"^sampler\.max_candidates must be >= 1"):
        SamplerConfig(max_candidates=0)
    with pytest.raises(ValueError, match=r"^localiser\.chain names unknown localisers \['lidar'\]"):
        LocaliserChain(LocaliserConfig(chain=["lidar"]))
