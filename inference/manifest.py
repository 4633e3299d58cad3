"""Creator metadata for videos: manifest files (CSV or JSONL) and command-line values.

A manifest has one row per video with ``path, creator, followers, posted_at``. Relative
paths resolve against the manifest's folder. A bad row never spoils the good ones: it
becomes a :class:`Rejected` entry with its line number and reason.
"""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import json
import re
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from core.errors import BadInputError
from inference.types import VideoSubmission

REQUIRED_COLUMNS = ("path", "creator", "followers", "posted_at")
VIDEO_SUFFIXES = frozenset({".mp4", ".mov", ".m4v", ".webm", ".mkv", ".avi"})
_HANDLE = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
_COUNT = re.compile(r"^\s*(-?\d+(?:\.\d+)?)\s*([kKmM]?)\s*$")


@dataclasses.dataclass(frozen=True)
class Rejected:
    """A submission that could not be made into a :class:`VideoSubmission`."""

    source: str  # manifest:line, or the path given
    reason: str
    path: str = ""  # the video file the row names, when it names one


@dataclasses.dataclass
class Submissions:
    """Videos ready to ingest, what was rejected, and warnings worth showing."""

    videos: list[VideoSubmission] = dataclasses.field(default_factory=list)
    rejected: list[Rejected] = dataclasses.field(default_factory=list)
    warnings: list[str] = dataclasses.field(default_factory=list)

    def extend(self, other: Submissions) -> None:
        self.videos += other.videos
        self.rejected += other.rejected
        self.warnings += other.warnings


def parse_handle(value: Any) -> str:
    """A creator handle without '@'; letters, digits, '.', '_' and '-' only."""
    handle = str(value or "").strip().lstrip("@")
    if not _HANDLE.match(handle):
        raise ValueError(f"bad creator handle {value!r} (1-64 letters, digits, '.', '_' or '-')")
    return handle


def parse_followers(value: Any) -> int:
    """A follower count: 12000, '12k', '1.2M'; never negative."""
    if isinstance(value, bool):
        raise ValueError(f"bad follower count {value!r}")
    if isinstance(value, int):
        count = value
    else:
        match = _COUNT.match(str(value))
        if not match:
            raise ValueError(f"bad follower count {value!r} (a whole number >= 0, or like 12k / 1.2M)")
        number, suffix = float(match.group(1)), match.group(2).lower()
        count = round(number * {"": 1, "k": 1_000, "m": 1_000_000}[suffix])
    if count < 0:
        raise ValueError(f"follower count must be >= 0, got {value!r}")
    return count


def parse_posted_at(value: Any, today: dt.date | None = None) -> dt.date:
    """An ISO date (``2026-05-01``; a full ISO timestamp is cut to its date); not in the future."""
    text = str(value or "").strip()
    try:
        day = dt.date.fromisoformat(text[:10]) if len(text) >= 10 else dt.date.fromisoformat(text)
        if len(text) > 10:
            dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"bad posted_at {value!r} (expected an ISO date like 2026-05-01)") from None
    today = today or dt.date.today()
    if day > today + dt.timedelta(days=1):
        raise ValueError(f"posted_at {day} is in the future")
    return day


def submission(path: Path, creator: Any, followers: Any, posted_at: Any, source: str) -> VideoSubmission:
    """Validate one video's metadata; raises ValueError with the reason."""
    return VideoSubmission(
        path=path,
        creator=parse_handle(creator),
        followers=parse_followers(followers),
        posted_at=parse_posted_at(posted_at),
        source=source,
    )


def _rows(path: Path) -> Iterator[tuple[int, dict[str, Any] | str]]:
    """(line number, row mapping or an error string) for a CSV or JSONL manifest."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise BadInputError(f"manifest not found: {path}") from None
    except UnicodeDecodeError:
        raise BadInputError(f"manifest {path} is not UTF-8 text") from None
    if path.suffix.lower() in (".jsonl", ".ndjson", ".json"):
        for number, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                yield number, f"not valid JSON ({exc.msg})"
                continue
            yield number, row if isinstance(row, dict) else "a JSON line must be an object"
        return
    reader = csv.DictReader(text.splitlines())
    header = [c.strip() for c in reader.fieldnames or []]
    missing = [c for c in REQUIRED_COLUMNS if c not in header]
    if missing:
        raise BadInputError(f"manifest {path} lacks column(s) {', '.join(missing)}; it needs {', '.join(REQUIRED_COLUMNS)}")
    for row in reader:
        if None in row:  # DictReader's restkey: fields beyond the header
            yield reader.line_num, "more fields than the header has"
            continue
        yield reader.line_num, {k.strip(): v for k, v in row.items() if k}


def read_manifest(path: str | Path) -> Submissions:
    """Parse a CSV or JSONL manifest into submissions and per-row rejections."""
    path = Path(path)
    result = Submissions()
    unknown: set[str] = set()
    for number, row in _rows(path):
        source = f"{path.name}:{number}"
        if isinstance(row, str):
            result.rejected.append(Rejected(source, row))
            continue
        unknown |= {k for k in row if k and k not in REQUIRED_COLUMNS}
        absent = [c for c in REQUIRED_COLUMNS if row.get(c) in (None, "")]
        video_path = None
        if row.get("path") not in (None, ""):
            video_path = Path(str(row["path"])).expanduser()
            if not video_path.is_absolute():
                video_path = path.parent / video_path
        if absent or video_path is None:
            result.rejected.append(Rejected(source, f"missing {', '.join(absent)}", str(video_path or "")))
            continue
        try:
            result.videos.append(submission(video_path, row["creator"], row["followers"], row["posted_at"], source))
        except ValueError as exc:
            result.rejected.append(Rejected(source, str(exc), str(video_path)))
    if unknown:
        result.warnings.append(f"{path.name}: ignored unknown column(s) {', '.join(sorted(unknown))}")
    return result


def expand_paths(paths: Iterable[str | Path]) -> tuple[list[Path], list[Rejected]]:
    """Video files named directly or found (recursively) in folders, sorted per folder."""
    found: list[Path] = []
    rejected: list[Rejected] = []
    for raw in paths:
        path = Path(raw).expanduser()
        if path.is_dir():
            videos = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in VIDEO_SUFFIXES)
            if not videos:
                rejected.append(Rejected(str(path), "folder holds no video files (" + ", ".join(sorted(VIDEO_SUFFIXES)) + ")",
                                         str(path)))
            found += videos
        else:
            found.append(path)
    return found, rejected


def from_arguments(
    paths: Iterable[str | Path], creator: Any, followers: Any, posted_at: Any
) -> Submissions:
    """Submissions for files/folders given on the command line with one creator's metadata."""
    files, rejected = expand_paths(paths)
    result = Submissions(rejected=rejected)
    if not files:
        return result
    try:
        handle, count, day = parse_handle(creator), parse_followers(followers), parse_posted_at(posted_at)
    except ValueError as exc:
        raise BadInputError(str(exc)) from None
    result.videos = [VideoSubmission(f, handle, count, day, str(f)) for f in files]
    return result
