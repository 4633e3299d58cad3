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
