"""App hardening: gradio's upload cache is bounded, files can be shared with a group, and
what users typed is shown as text."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from app import views
from app.services import AppConfig, Services
from app.uploads import prune_upload_cache
from configs import ConfigError, from_dict
from inference.catalog import Catalog
from inference.ingest import VideoOutcome


def _cached(folder: Path, name: str, size: int, age_hours: float, now: float) -> Path:
    path = folder / name / "clip.mp4"
    path.parent.mkdir(parents=True)
    path.write_bytes(b"x" * size)
    stamp = now - age_hours * 3600
    os.utime(path, (stamp, stamp))
    return path


def test_the_upload_cache_loses_old_uploads_then_the_oldest_until_it_fits(tmp_path):
    now = time.time()
    old = _cached(tmp_path, "a", 1000, 30, now)
    older_fresh, newer_fresh = _cached(tmp_path, "b", 600_000, 3, now), _cached(tmp_path, "c", 600_000, 1, now)
    newest = _cached(tmp_path, "d", 100, 0.1, now)
    pruned = prune_upload_cache(tmp_path, max_mb=1.0, max_age_hours=24, now=now)
    assert (pruned.files, pruned.bytes) == (2, 601_000)  # the expired one, then the oldest while over 1 MB
    assert not old.exists() and not older_fresh.exists() and newer_fresh.exists() and newest.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c", "d"]  # emptied folders go too
    assert prune_upload_cache(tmp_path, max_mb=1.0, max_age_hours=24, now=now).files == 0
    assert prune_upload_cache(tmp_path / "never-made", 1.0, 24).files == 0


def test_cache_settings_are_checked_and_reach_gradio(data_dir):
    for bad in ({"upload_cache_mb": 0}, {"upload_cache_hours": -1}):
        with pytest.raises(ConfigError):
            from_dict(AppConfig, bad)
    pytest.importorskip("gradio")
    from app import ui

    services = Services(data_dir, Catalog(data_dir), AppConfig(upload_cache_hours=2))
    try:
        assert ui.build_app(services).delete_cache == (3600, 7200)
    finally:
        services.close()


def test_files_are_group_readable_when_asked(tmp_path):
    script = (
        "import os, sys; from pathlib import Path\n"
        "os.umask(0o077)\n"
        "import core.storage as s\n"
        "if sys.argv[2] == 'share': s.share_files_with_group()\n"
        "s.atomic_write_bytes(Path(sys.argv[1]) / 'f.bin', b'x')\n"
        "(Path(sys.argv[1]) / 'd').mkdir()\n"
    )
    modes = {}
    for how in ("private", "share"):
        folder = tmp_path / how
        folder.mkdir()
        subprocess.run([sys.executable, "-c", script, str(folder), how], check=True,
                       cwd=Path(__file__).resolve().parents[1])
        modes[how] = ((folder / "f.bin").stat().st_mode & 0o777, (folder / "d").stat().st_mode & 0o777)
    assert modes == {"private": (0o600, 0o700), "share": (0o640, 0o750)}


def test_what_users_typed_is_shown_as_typed():
    evil = '<img src=x onerror="alert(1)"> **bold** | [link](http://x)'
    shown = views.text(evil)
    assert "<img" not in shown and "**" not in shown and "[link]" not in shown
    assert shown.replace("\\", "") == evil.replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")
    summary = views.upload_summary([VideoOutcome(f"upload:{evil}.mp4", "x", "failed", f"{evil} is not a video")])
    assert "<img" not in summary and "**bold**" not in summary and "| [" not in summary
    assert views.handle("ana_b*") == "@ana\\_b\\*"


def test_the_upload_cache_is_walked_at_most_once_a_minute_unless_forced(data_dir, tmp_path, monkeypatch):
    pytest.importorskip("gradio")
    cache = tmp_path / "gradio-cache"
    monkeypatch.setenv("GRADIO_TEMP_DIR", str(cache))
    services = Services(data_dir, Catalog(data_dir), AppConfig(upload_cache_hours=1))
    try:
        first = _cached(cache, "a", 10, 5, time.time())
        services.tidy_upload_cache()
        assert not first.exists()
        second = _cached(cache, "b", 10, 5, time.time())
        services.tidy_upload_cache()  # within a minute of the last walk: the search goes on at once
        assert second.exists()
        services.tidy_upload_cache(force=True)
        assert not second.exists()
    finally:
        services.close()
