"""Reading trained model versions: ``DATA_DIR/models/`` and its "current model" pointer.

Layout::

    DATA_DIR/models/
      CURRENT                 name of the live version (one line; empty: the packaged default)
      v0001/
        heads.safetensors     weights (offline default) or model.safetensors (open_clip)
        config.yaml           the training config used
        eval.json, eval.md    eval report (before/after, every eval set)
        version.json          version, parent, encoder spec, eval-set sources, train log
        eval_sets/<name>/     copies of season eval folders (images + captions.csv)

Training writes versions (:mod:`training.versions`); everything that only needs to know
which model is current, such as the encoder resolver of the commands, reads them here.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from core.errors import StylescopeError

MODELS_DIR = "models"
CURRENT_FILE = "CURRENT"
VERSION_NAME = re.compile(r"^v(\d{4,})$")


class VersionError(StylescopeError):
    """A model version is missing or unreadable."""


def models_dir(data_dir: str | Path) -> Path:
    """``DATA_DIR/models`` (created)."""
    path = Path(data_dir) / MODELS_DIR
    path.mkdir(parents=True, exist_ok=True)
    return path


def list_versions(data_dir: str | Path) -> list[str]:
    """Version names, oldest first."""
    names = [p.name for p in models_dir(data_dir).iterdir() if p.is_dir() and VERSION_NAME.match(p.name)]
    return sorted(names, key=lambda n: int(n[1:]))


def current_version(data_dir: str | Path) -> str | None:
    """The live version's name, or None when the packaged default is live."""
    path = Path(data_dir) / MODELS_DIR / CURRENT_FILE
    if not path.is_file():
        return None
    name = path.read_text(encoding="utf-8").strip()
    return name or None


def read_version(data_dir: str | Path, version: str) -> dict[str, Any]:
    """A version's ``version.json``."""
    path = Path(data_dir) / MODELS_DIR / version / "version.json"
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise VersionError(f"no model version {version!r} in {models_dir(data_dir)}") from None
    except (OSError, json.JSONDecodeError) as exc:
        raise VersionError(f"model version {version!r} is unreadable: {exc}") from None


def current_encoder_spec(data_dir: str | Path) -> str | None:
    """Registry spec of the live version's encoder, or None for the packaged default."""
    version = current_version(data_dir)
    return None if version is None else str(read_version(data_dir, version)["encoder"])
