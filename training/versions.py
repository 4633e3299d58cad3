"""Versioned model directories under ``DATA_DIR/models/`` and the "current model" pointer.

Layout::

    DATA_DIR/models/
      CURRENT                 name of the live version (one line)
      v0001/
        heads.safetensors     weights (offline default) or model.safetensors (open_clip)
        config.yaml           the training config used
        eval.json, eval.md    eval report (before/after, every eval set)
        version.json          version, parent, encoder spec, eval-set sources, train log
        eval_sets/<name>/     copies of season eval folders (images + captions.csv)

A version is written into a temporary folder and renamed into place, so a crash never
leaves a half-written version; ``CURRENT`` is replaced atomically.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import shutil
import tempfile
from pathlib import Path
from typing import Any

from core.errors import StylescopeError
from core.storage import atomic_write_text

MODELS_DIR = "models"
CURRENT_FILE = "CURRENT"
_VERSION = re.compile(r"^v(\d{4,})$")


class VersionError(StylescopeError):
    """A model version is missing or unreadable."""


def models_dir(data_dir: str | Path) -> Path:
    """``DATA_DIR/models`` (created)."""
    path = Path(data_dir) / MODELS_DIR
    path.mkdir(parents=True, exist_ok=True)
    return path


def list_versions(data_dir: str | Path) -> list[str]:
    """Version names, oldest first."""
    names = [p.name for p in models_dir(data_dir).iterdir() if p.is_dir() and _VERSION.match(p.name)]
    return sorted(names, key=lambda n: int(n[1:]))


def next_version(data_dir: str | Path) -> str:
    """The name the next version gets (v0001, v0002 ...)."""
    versions = list_versions(data_dir)
    return f"v{int(versions[-1][1:]) + 1 if versions else 1:04d}"


def current_version(data_dir: str | Path) -> str | None:
    """The live version's name, or None when the packaged default is live."""
    path = models_dir(data_dir) / CURRENT_FILE
    if not path.is_file():
        return None
    name = path.read_text(encoding="utf-8").strip()
    return name or None


def set_current(data_dir: str | Path, version: str | None) -> None:
    """Point ``CURRENT`` at ``version`` (None: back to the packaged default)."""
    if version is not None and not (models_dir(data_dir) / version / "version.json").is_file():
        raise VersionError(f"no model version {version!r} in {models_dir(data_dir)}")
    atomic_write_text(models_dir(data_dir) / CURRENT_FILE, (version or "") + "\n")


def read_version(data_dir: str | Path, version: str) -> dict[str, Any]:
    """A version's ``version.json``."""
    path = models_dir(data_dir) / version / "version.json"
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


def resolve_encoder_spec(data_dir: str | Path | None, spec: str | None = None) -> str:
    """The encoder to use: an explicit spec, else the data dir's current version, else the default."""
    from models.settings import load_settings

    if spec:
        return spec
    if data_dir is not None:
        current = current_encoder_spec(data_dir)
        if current:
            return current
    return load_settings().default


class VersionWriter:
    """Builds a version in a temporary folder; :meth:`commit` renames it into place."""

    def __init__(self, data_dir: str | Path):
        self.data_dir = Path(data_dir)
        self.root = models_dir(data_dir)
        self.tmp = Path(tempfile.mkdtemp(prefix=".new-version-", dir=self.root))

    def path(self, name: str) -> Path:
        """Where file ``name`` goes inside the version being written."""
        return self.tmp / name

    def commit(self, info: dict[str, Any], activate: bool = True) -> tuple[str, Path]:
        """Write ``version.json``, rename the folder to the next version name, maybe activate.

        Placeholders ``{version_dir}`` in string values of ``info["encoder"]`` are replaced by
        the final folder path.
        """
        for attempt in range(100):
            version = next_version(self.data_dir)
            final = self.root / version
            info = dict(info, version=version,
                        created_at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"))
            info["encoder"] = str(info.get("encoder", "")).replace("{version_dir}", str(final))
            (self.tmp / "version.json").write_text(json.dumps(info, indent=2, default=str), encoding="utf-8")
            try:
                os.rename(self.tmp, final)
            except OSError:
                if attempt == 99 or not final.exists():
                    raise
                continue  # another process took this name: try the next one
            break
        if activate:
            set_current(self.data_dir, version)
        return version, final

    def abort(self) -> None:
        """Remove the unfinished version."""
        shutil.rmtree(self.tmp, ignore_errors=True)
