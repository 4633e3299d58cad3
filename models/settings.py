"""Encoder settings from ``configs/encoders.yaml`` (the default encoder, open_clip's cache, the
packaged encoders' search match cut-offs)."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import configs
from configs import setting

WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"  # packaged heads, facet probes and their model card


@dataclasses.dataclass
class OpenClipSettings:
    """Where open_clip weights are looked up."""

    cache_dir: str = ""  # Hugging Face cache to look in ("" = the Hugging Face default)


@dataclasses.dataclass
class EncoderSettings:
    """``configs/encoders.yaml``."""

    default: str = "stylescope-default"  # encoder when none is named and no trained version is live
    batch_size: int = setting(64, low=1)  # inputs per forward pass in encode_images / encode_text: memory stays flat in the input count
    open_clip: OpenClipSettings = dataclasses.field(default_factory=OpenClipSettings)  # open_clip
    match_strength: dict[str, Any] = dataclasses.field(default_factory=dict)  # encoder version -> search match cut-offs (models.match)


def load_settings(user_file: str | Path | None = None) -> EncoderSettings:
    """The packaged encoder settings with the user's file merged over them."""
    return configs.from_dict(EncoderSettings, configs.load("encoders", user_file))
