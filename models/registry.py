"""Encoder registry: look encoders up by a spec string, as open_clip and timm do.

A spec is ``prefix`` or ``prefix:args``; the prefix picks a builder registered with
:func:`register_encoder`, which receives the text after the first colon.
"""

from __future__ import annotations

from collections.abc import Callable

from models.base import Encoder, EncoderError

Builder = Callable[[str], Encoder]
_BUILDERS: dict[str, Builder] = {}
_DESCRIPTIONS: dict[str, str] = {}
DEFAULT_ENCODER = "stylescope-default"


def register_encoder(prefix: str, description: str = "") -> Callable[[Builder], Builder]:
    """Decorator registering a builder for specs that start with ``prefix``."""

    def decorate(builder: Builder) -> Builder:
        _BUILDERS[prefix] = builder
        _DESCRIPTIONS[prefix] = description
        return builder

    return decorate


def _load_builtin_builders() -> None:
    # Imported here so `import models` stays light; each module registers itself.
    import importlib

    for module in ("models.tiny", "models.offline", "models.openclip"):
        importlib.import_module(module)


def list_encoders() -> dict[str, str]:
    """Registered spec prefixes with a one-line description each."""
    _load_builtin_builders()
    return dict(_DESCRIPTIONS)


def create_encoder(spec: str | None = None) -> Encoder:
    """Build the encoder named by ``spec`` (default: the offline default)."""
    _load_builtin_builders()
    spec = spec or DEFAULT_ENCODER
    prefix, _, args = spec.partition(":")
    if prefix not in _BUILDERS:
        known = ", ".join(sorted(_BUILDERS))
        raise EncoderError(f"unknown encoder {spec!r}; registered: {known}")
    from models.settings import load_settings

    encoder = _BUILDERS[prefix](args)
    encoder.batch_size = load_settings().batch_size
    return encoder
