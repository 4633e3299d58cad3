"""A tiny real catalog for the app tests, and the app launched on it.

Real short videos (world/clips.py) from a few creators over several weeks are ingested
with the lead's ``ingest`` and the index engineer's ``IndexSink`` using the ``tiny:32``
encoder, then clustered into styles with the trends engineer's ``update_styles``.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import socket
from pathlib import Path

from inference.ingest import ingest
from inference.types import VideoSubmission
from world.clips import walking_clip, write_video

ENCODER = "tiny:32"
START = dt.date(2026, 3, 2)

# (creator, followers, top colour, bottom colour) — two looks that spread between creators.
RED_LOOK = ((200, 30, 30), (30, 40, 160))
GREEN_LOOK = ((20, 160, 40), (230, 230, 230))
YELLOW_LOOK = ((240, 200, 20), (20, 20, 20))  # the look that takes off in the last two weeks
CREATORS = {"mia.fits": 24_000, "noa.style": 120_000, "kai.wears": 8_000, "lu.looks": 2_400_000}
POSTS = [  # (creator, day offset, look)
    ("mia.fits", 0, RED_LOOK), ("noa.style", 3, GREEN_LOOK), ("kai.wears", 8, RED_LOOK),
    ("lu.looks", 12, GREEN_LOOK), ("noa.style", 17, RED_LOOK), ("kai.wears", 21, RED_LOOK),
    ("mia.fits", 26, GREEN_LOOK), ("lu.looks", 30, RED_LOOK), ("kai.wears", 33, YELLOW_LOOK),
    ("mia.fits", 35, YELLOW_LOOK), ("noa.style", 37, YELLOW_LOOK), ("lu.looks", 38, YELLOW_LOOK),
    ("kai.wears", 40, YELLOW_LOOK),
]


# The clips' figures are flat blocks of colour, which the ImageNet garment check does not take
# for garments: the style check (walls and title cards make no style) is off for this catalog.
CONFIG_TEXT = "cluster:\n  style_check: false\n"


@dataclasses.dataclass
class TinyCatalog:
    """Where the tiny catalog lives and what went into it."""

    data_dir: Path
    videos: list[Path]
    spare_video: Path  # a clip not in the catalog, for upload tests
    garments: int
    config_file: Path  # the settings it was clustered with (the app gets them too)


def make_clip(path: Path, seed: int, look: tuple[tuple[int, int, int], tuple[int, int, int]], n: int = 24) -> Path:
    """A short walking-figure video (H.264) wearing ``look`` (top, bottom colours)."""
    return write_video(path, walking_clip(n=n, seed=seed, top_colour=look[0], bottom_colour=look[1]),
                       extra=["-preset", "ultrafast"])


def build_tiny_catalog(root: Path) -> TinyCatalog:
    """Videos -> ingest (tiny:32 into the index) -> styles, under ``root``."""
    from inference import trends
    from inference.catalog import Catalog
    from inference.embed import IndexSink
    from models.registry import create_encoder

    data_dir = root / "data"
    clips = data_dir / "uploads"  # where the app keeps uploaded videos: their moments get links
    clips.mkdir(parents=True)
    submissions = []
    for n, (creator, offset, look) in enumerate(POSTS):
        path = make_clip(clips / f"post{n}.mp4", seed=n, look=look)
        submissions.append(VideoSubmission(path, creator, CREATORS[creator], START + dt.timedelta(days=offset)))
    spare = make_clip(root / "spare.mp4", seed=99, look=((120, 60, 200), (200, 120, 40)), n=30)
    sink = IndexSink(data_dir, create_encoder(ENCODER))
    report = ingest(submissions, data_dir, sink=sink, progress=False)
    assert report.exit_code == 0, [(o.source, o.status, o.reason) for o in report.outcomes]
    config_file = root / "stylescope.yaml"
    config_file.write_text(CONFIG_TEXT)
    with Catalog(data_dir) as catalog:
        trends.update_styles(catalog, trends.load_config(config_file), full=True)
        garments = catalog.counts()["garments"]
    return TinyCatalog(data_dir, [s.path for s in submissions], spare, garments, config_file)


def free_port() -> int:
    """A TCP port nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def launch_app(data_dir: Path, config_file: Path | None = None) -> tuple[object, object, str]:
    """Build and launch the app on ``data_dir`` with ``config_file``; returns (blocks, services, url)."""
    from app.services import Services
    from app.ui import build_app, launch

    services = Services.open(data_dir, ENCODER, config_file=config_file)
    blocks = build_app(services)
    url = launch(blocks, services, "127.0.0.1", free_port(), block=False, quiet=True)
    return blocks, services, url
