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


@dataclasses.dataclass(frozen=True)
class Bounds:
    """What values a setting accepts; declared next to the field with :func:`setting`."""

    low: float | None = None  # smallest allowed value
    high: float | None = None  # largest allowed value
    low_open: bool = False  # True: ``low`` itself is not allowed
    high_open: bool = False  # True: ``high`` itself is not allowed
    choices: tuple[Any, ...] | None = None  # the value must be one of these
    each_in: tuple[Any, ...] | None = None  # a list setting: every item must be one of these

    def problem(self, value: Any) -> str | None:
        """Why ``value`` is not allowed ("must be ..."), or None when it is."""
        if self.choices is not None:
            return None if value in self.choices else f"must be one of {', '.join(map(str, self.choices))}"
        if self.each_in is not None:
            ok = isinstance(value, list) and all(item in self.each_in for item in value)
            return None if ok else f"must be a list of {', '.join(map(str, self.each_in))} (or [])"
        if isinstance(value, bool) or not isinstance(value, int | float):
            return "must be a number"
        below = self.low is not None and (value <= self.low if self.low_open else value < self.low)
        above = self.high is not None and (value >= self.high if self.high_open else value > self.high)
        return self._range() if below or above else None

    def _range(self) -> str:
        if self.low is not None and self.high is not None:
            left, right = "(" if self.low_open else "[", ")" if self.high_open else "]"
            return f"must be in {left}{_number(self.low)}, {_number(self.high)}{right}"
        if self.low is not None:
            return f"must be {'>' if self.low_open else '>='} {_number(self.low)}"
        assert self.high is not None
        return f"must be {'<' if self.high_open else '<='} {_number(self.high)}"


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


def setting(default: Any = dataclasses.MISSING, *, factory: Any = dataclasses.MISSING, **bounds: Any) -> Any:
    """A dataclass field whose allowed values sit next to it, e.g. ``setting(8, low=1)``.

    ``bounds`` are :class:`Bounds` fields; :func:`check` enforces them for every config
    built by :func:`from_dict`, with one message that names the setting.
    """
    metadata = {"bounds": Bounds(**bounds)}
    if factory is not dataclasses.MISSING:
        return dataclasses.field(default_factory=factory, metadata=metadata)
    return dataclasses.field(default=default, metadata=metadata)


def check(config: Any, prefix: str = "") -> None:
    """Raise :class:`ConfigError` for the first setting outside its declared bounds.

    Walks nested dataclass configs; a config class may add rules between its own fields
    with a ``problems()`` method returning ``"setting must be ..."`` messages.
    """
    for field in dataclasses.fields(config):
        value = getattr(config, field.name)
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            check(value, f"{prefix}{field.name}.")
            continue
        bounds = field.metadata.get("bounds")
        problem = bounds.problem(value) if bounds is not None else None
        if problem:
            raise ConfigError(f"{prefix}{field.name} {problem}, got {value!r}")
    for message in getattr(config, "problems", lambda: [])():
        raise ConfigError(f"{prefix}{message}")


def from_dict(cls: type[T], values: dict[str, Any] | None, prefix: str = "") -> T:
    """Build dataclass ``cls`` from a mapping, recursing into nested dataclass fields.

    Unknown keys are an error (a typo in a config should not be silently ignored), and so
    is a value outside the bounds its field declares (see :func:`setting`). ``prefix``
    names the config's section in messages, e.g. ``"cluster."``.
    """
    config = _build(cls, values, prefix)
    check(config, prefix)
    return config


def _build(cls: type[T], values: dict[str, Any] | None, prefix: str) -> T:
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
        if isinstance(hint, type) and dataclasses.is_dataclass(hint):
            if not isinstance(value, dict):
                raise ConfigError(f"{prefix}{name} must be a mapping of settings, got {value!r}")
            value = _build(hint, value, f"{prefix}{name}.")
        kwargs[name] = value
    return cls(**kwargs)  # type: ignore[return-value]


def to_dict(config: Any) -> dict[str, Any]:
    """A dataclass config as plain data, ready for YAML/JSON."""
    return dataclasses.asdict(config)


def dump(config: Any, path: str | Path) -> None:
    """Write a config (dataclass or mapping) as YAML next to what it produced."""
    data = to_dict(config) if dataclasses.is_dataclass(config) else config
    Path(path).write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
