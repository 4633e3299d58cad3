"""YAML configs shipped with stylescope, and the helpers that turn them into typed dataclasses.

Every stage has a dataclass config whose defaults carry a one-line comment. A YAML file in
this package sets the defaults a deployment starts from; a user file (``--config FILE``)
overrides any subset of keys. The final merged config is saved beside what it produced.
"""

from __future__ import annotations

import dataclasses
import typing
from importlib import resources
from pathlib import Path
from typing import Any, TypeVar

import yaml

T = TypeVar("T")


class ConfigError(ValueError):
    """A config file is missing, unreadable, or names keys that do not exist."""


def packaged(name: str) -> Path:
    """Path of a YAML file shipped in this package, e.g. ``packaged("pipeline")``."""
    path = Path(str(resources.files(__name__))) / f"{name}.yaml"
    if not path.is_file():
        raise ConfigError(f"no packaged config named {name!r}")
    return path


def read_yaml(path: str | Path) -> dict[str, Any]:
    """Read a YAML mapping; an empty file is an empty mapping."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"config file not found: {path}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read config file {path}: {exc}") from None
    try:
        loaded = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"config file {path} is not valid YAML: {exc}") from None
    if loaded is None:
        return {}
    if not isinstance(loaded, dict):
        raise ConfigError(f"config file {path} must hold a mapping at the top level")
    return loaded


def merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """Recursive dict merge: ``override`` wins, nested mappings are merged key by key."""
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def load(name: str, user_file: str | Path | None = None) -> dict[str, Any]:
    """The packaged config ``name`` with the user's file merged over it."""
    config = read_yaml(packaged(name))
    if user_file is not None:
        config = merge(config, read_yaml(user_file))
    return config


def from_dict(cls: type[T], values: dict[str, Any] | None) -> T:
    """Build dataclass ``cls`` from a mapping, recursing into nested dataclass fields.

    Unknown keys are an error (a typo in a config should not be silently ignored).
    """
    values = dict(values or {})
    if not dataclasses.is_dataclass(cls):
        raise TypeError(f"{cls} is not a dataclass")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - set(fields))
    if unknown:
        raise ConfigError(f"unknown {cls.__name__} settings: {', '.join(unknown)}")
    hints = typing.get_type_hints(cls)
    kwargs: dict[str, Any] = {}
    for name, value in values.items():
        hint = hints.get(name)
        if isinstance(hint, type) and dataclasses.is_dataclass(hint) and isinstance(value, dict):
            value = from_dict(hint, value)
        kwargs[name] = value
    return cls(**kwargs)


def to_dict(config: Any) -> dict[str, Any]:
    """A dataclass config as plain data, ready for YAML/JSON."""
    return dataclasses.asdict(config)


def dump(config: Any, path: str | Path) -> None:
    """Write a config (dataclass or mapping) as YAML next to what it produced."""
    data = to_dict(config) if dataclasses.is_dataclass(config) else config
    Path(path).write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
