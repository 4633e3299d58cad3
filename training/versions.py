"""Writing model versions under ``DATA_DIR/models/`` and pointing "current" at one.

The layout, and reading versions, is :mod:`models.versions`. A version is written into a
temporary folder and renamed into place, so a crash never leaves a half-written version;
``CURRENT`` is replaced atomically.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from core.storage import atomic_write_text, mark_staging, new_dir_mode, unmark_staging
from models.versions import CURRENT_FILE, VersionError, list_versions, models_dir


def next_version(data_dir: str | Path) -> str:
    """The name the next version gets (v0001, v0002 ...)."""
    versions = list_versions(data_dir)
    return f"v{int(versions[-1][1:]) + 1 if versions else 1:04d}"


def set_current(data_dir: str | Path, version: str | None) -> None:
    """Point ``CURRENT`` at ``version`` (None: back to the packaged default)."""
    if version is not None and not (models_dir(data_dir) / version / "version.json").is_file():
        raise VersionError(f"no model version {version!r} in {models_dir(data_dir)}")
    atomic_write_text(models_dir(data_dir) / CURRENT_FILE, (version or "") + "\n")


class VersionWriter:
    """Builds a version in a temporary folder; :meth:`commit` renames it into place."""

    def __init__(self, data_dir: str | Path):
        self.data_dir = Path(data_dir)
        self.root = models_dir(data_dir)
        self.tmp = Path(tempfile.mkdtemp(prefix=".new-version-", dir=self.root))
        os.chmod(self.tmp, new_dir_mode())  # mkdtemp makes it 0o700
        mark_staging(self.tmp)  # a killed training's folder is cleaned by the next run

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
            unmark_staging(self.tmp)
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
