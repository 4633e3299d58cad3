"""Encoder settings from ``configs/encoders.yaml`` (default encoder, embedding batches, caches)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import configs


@dataclasses.dataclass
class EmbedSettings:
    """How the embedding stage batches crops."""

    batch_size: int = 16  # crops per forward pass (16 is fastest for EfficientNet-Lite0 on 2 cores)
    prefetch: int = 2  # batches loaded and preprocessed ahead of the forward pass


@dataclasses.dataclass
class OpenClipSettings:
    """Where open_clip weights are looked up."""

    cache_dir: str = ""  # Hugging Face cache to look in ("" = the Hugging Face default)


@dataclasses.dataclass
class EncoderSettings:
    """``configs/encoders.yaml``."""

    default: str = "stylescope-default"  # encoder when none is named and no trained version is live
    embed: EmbedSettings = dataclasses.field(default_factory=EmbedSettings)  # embedding stage
    open_clip: OpenClipSettings = dataclasses.field(default_factory=OpenClipSettings)  # open_clip


def load_settings(user_file: str | Path | None = None) -> EncoderSettings:
    """The packaged encoder settings with the user's file merged over them."""
    return configs.from_dict(EncoderSettings, configs.load("encoders", user_file))
