"""Files users upload: checked by content, size-limited, stored under generated names.

An uploaded file's name is only ever shown and matched against a manifest; it never
becomes a path. Videos are copied into ``DATA_DIR/uploads/<random>.<ext>`` where the
extension comes from the container found in the bytes; season zips are unpacked member by
member with every path checked (no absolute paths, no ``..``, no links) and the real
bytes counted against the limits (a zip's own size claims are not trusted).
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import logging
import os
import secrets
import shutil
import stat
import tempfile
import time
import zipfile
import zlib
from collections.abc import Sequence
from pathlib import Path, PurePosixPath

from core.errors import BadInputError
from core.storage import new_file_mode
from inference.manifest import read_manifest
from inference.types import VideoSubmission

logger = logging.getLogger(__name__)

# ISO-BMFF boxes an MP4/MOV file may start with.
_ISO_BOXES = {b"ftyp", b"moov", b"mdat", b"free", b"skip", b"wide", b"pnot"}
_CAPTION_FILES = ("captions.jsonl", "pairs.jsonl", "captions.csv", "pairs.csv")
_COPY_CHUNK = 1 << 20


def sniff_video(head: bytes) -> str | None:
    """The container of a video file from its first bytes, as a file extension.

    Returns ``.mp4``, ``.mov``, ``.webm``, ``.mkv``, ``.avi`` or ``.ts``; None when the
    bytes are not a video container stylescope reads.
    """
    if len(head) >= 12 and head[4:8] in _ISO_BOXES:
        return ".mov" if head[8:12] == b"qt  " else ".mp4"
    if head[:4] == b"\x1a\x45\xdf\xa3":
        return ".webm" if b"webm" in head[:64] else ".mkv"
    if head[:4] == b"RIFF" and head[8:12] == b"AVI ":
        return ".avi"
    if len(head) > 376 and head[0] == head[188] == head[376] == 0x47:
        return ".ts"
    return None


def _size_checked(path: Path, max_mb: float, what: str) -> int:
    try:
        size = path.stat().st_size
    except OSError:
        raise BadInputError(f"{what} could not be read (the upload did not arrive)") from None
    if size == 0:
        raise BadInputError(f"{what} is empty (0 bytes)")
    if size > max_mb * 1e6:
        raise BadInputError(f"{what} is {size / 1e6:.0f} MB, above the {max_mb:.0f} MB upload limit")
    return size


def store_video(upload: Path, dest_dir: Path, max_mb: float) -> Path:
    """Copy an uploaded video into ``dest_dir`` under a generated name.

    Raises:
        BadInputError: empty, too large, or not a video container (judged by content).
    """
    name = upload.name
    _size_checked(upload, max_mb, name)
    with open(upload, "rb") as handle:
        head = handle.read(512)
    suffix = sniff_video(head)
    if suffix is None:
        raise BadInputError(
            f"{name} is not a video: its content is not MP4/MOV, WebM/MKV, AVI or MPEG-TS"
        )
    dest_dir.mkdir(parents=True, exist_ok=True)
    target = dest_dir / f"{secrets.token_hex(12)}{suffix}"
    fd, tmp = tempfile.mkstemp(prefix=".upload-", suffix=".tmp", dir=dest_dir)
    try:
        os.chmod(tmp, new_file_mode())
        with os.fdopen(fd, "wb") as out, open(upload, "rb") as source:
            shutil.copyfileobj(source, out, _COPY_CHUNK)
        os.replace(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return target


@dataclasses.dataclass
class PlannedVideo:
    """One uploaded file and what will happen to it."""

    name: str  # the name it was uploaded under (display only)
    submission: VideoSubmission | None  # None: refused before ingest
    reason: str = ""  # why it was refused


def read_upload_manifest(
    manifest: Path, uploads: dict[str, Path]
) -> tuple[list[PlannedVideo], list[str]]:
    """Match a manifest's rows to the uploaded files by file name.

    Args:
        manifest: the uploaded manifest (CSV with path,creator,followers,posted_at, or JSONL).
        uploads: uploaded file name -> where its checked copy is stored.

    Returns:
        The planned videos (rows without an uploaded file and uploads without a row are
        refused with the reason) and the manifest's warnings.
    """
    _size_checked(manifest, 20, manifest.name)
    raw = manifest.read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise BadInputError(f"the manifest {manifest.name} is not UTF-8 text") from None
    if "\x00" in text:
        raise BadInputError(f"the manifest {manifest.name} is not a text file")
    suffix = ".jsonl" if text.lstrip().startswith("{") else ".csv"
    with tempfile.TemporaryDirectory(prefix="stylescope-manifest-") as tmp:
        copy = Path(tmp) / f"manifest{suffix}"
        copy.write_text(text, encoding="utf-8")
        try:
            parsed = read_manifest(copy)
        except BadInputError as exc:  # name the user's file, not the temporary copy
            raise BadInputError(str(exc).replace(str(copy), manifest.name)) from None
    parsed.warnings = [w.replace(str(copy), manifest.name).replace(copy.name, manifest.name) for w in parsed.warnings]
    planned = [
        PlannedVideo(f"{manifest.name} line {r.source.rpartition(':')[2]}", None, r.reason)
        for r in parsed.rejected
    ]
    named: set[str] = set()
    for video in parsed.videos:
        name = video.path.name
        named.add(name)
        if name not in uploads:
            planned.append(PlannedVideo(name, None, "named in the manifest but not uploaded"))
            continue
        planned.append(
            PlannedVideo(name, dataclasses.replace(video, path=uploads[name], source=f"upload:{name}"))
        )
    planned += [
        PlannedVideo(name, None, "uploaded but not named in the manifest")
        for name in uploads
        if name not in named
    ]
    return planned, parsed.warnings


def remove_quietly(paths: Sequence[Path]) -> None:
    """Delete stored copies that were not ingested."""
    for path in paths:
        path.unlink(missing_ok=True)


# -- season zips ---------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class ZipLimits:
    """What a season zip may hold."""

    max_zip_mb: float = 1024.0  # the zip file itself
    max_unzipped_mb: float = 4096.0  # the bytes of all members together
    max_files: int = 50000  # members


def _member_parts(info: zipfile.ZipInfo) -> tuple[str, ...]:
    name = info.filename.replace("\\", "/")
    parts = PurePosixPath(name).parts
    mode = info.external_attr >> 16
    if name.startswith("/") or ".." in parts or any(":" in p for p in parts):
        raise BadInputError(f"the zip holds an unsafe path ({info.filename!r}); refusing to unpack it")
    if stat.S_ISLNK(mode):
        raise BadInputError(f"the zip holds a symbolic link ({info.filename!r}); refusing to unpack it")
    return parts


def _extract(archive: zipfile.ZipFile, dest: Path, limits: ZipLimits) -> None:
    budget = int(limits.max_unzipped_mb * 1e6)
    members = archive.infolist()
    if len(members) > limits.max_files:
        raise BadInputError(f"the zip holds {len(members)} files, above the limit of {limits.max_files}")
    for info in members:
        parts = _member_parts(info)
        if info.is_dir() or not parts or parts[0] == "__MACOSX":
            continue
        target = dest.joinpath(*parts)
        target.parent.mkdir(parents=True, exist_ok=True)
        with archive.open(info) as source, open(target, "wb") as out:
            while block := source.read(_COPY_CHUNK):
                budget -= len(block)
                if budget < 0:
                    raise BadInputError(
                        f"the zip unpacks to more than {limits.max_unzipped_mb:.0f} MB; refusing it"
                    )
                out.write(block)


def caption_folder(root: Path) -> Path:
    """The folder inside an unpacked zip that holds the captions file (up to 2 levels deep)."""
    candidates = [root, *sorted(p for p in root.iterdir() if p.is_dir())]
    candidates += [q for p in candidates[1:] for q in sorted(p.iterdir()) if q.is_dir()]
    for folder in candidates:
        if any((folder / name).is_file() for name in _CAPTION_FILES):
            return folder
    raise BadInputError(
        "the zip has no captions file: put captions.csv (columns image,caption) or "
        "captions.jsonl next to the images"
    )


def unpack_season(upload: Path, dest_root: Path, limits: ZipLimits) -> Path:
    """Unpack an uploaded season zip into a fresh folder under ``dest_root``.

    Returns:
        The folder holding the images and the captions file.

    Raises:
        BadInputError: not a zip (by content), damaged, too large, unsafe member paths,
            or no captions file.
    """
    _size_checked(upload, limits.max_zip_mb, upload.name)
    with open(upload, "rb") as handle:
        head = handle.read(4)
    if head not in (b"PK\x03\x04", b"PK\x05\x06"):
        raise BadInputError(f"{upload.name} is not a zip file")
    dest = dest_root / secrets.token_hex(8)
    dest.mkdir(parents=True)
    try:
        with zipfile.ZipFile(upload) as archive:
            _extract(archive, dest, limits)
        return caption_folder(dest)
    except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError, io.UnsupportedOperation) as exc:
        shutil.rmtree(dest, ignore_errors=True)
        raise BadInputError(f"{upload.name} is a damaged or unsupported zip ({exc})") from None
    except BaseException:
        shutil.rmtree(dest, ignore_errors=True)
        raise


# -- gradio's upload cache ----------------------------------------------------------------------------
def upload_cache_dir() -> Path:
    """Where gradio keeps uploaded files before a handler sees them ($GRADIO_TEMP_DIR or
    <tmp>/gradio, as gradio itself decides)."""
    from gradio.utils import get_upload_folder

    return Path(get_upload_folder())


@dataclasses.dataclass
class CachePruned:
    """What :func:`prune_upload_cache` deleted."""

    files: int = 0
    bytes: int = 0


def prune_upload_cache(folder: Path, max_mb: float, max_age_hours: float, now: float | None = None) -> CachePruned:
    """Delete cached uploads older than ``max_age_hours``, then the oldest ones until the
    folder holds at most ``max_mb``; folders left empty go too. Files that vanish or cannot
    be deleted meanwhile (another request using them) are skipped, never an error."""
    now = time.time() if now is None else now
    entries = []
    for path in folder.rglob("*") if folder.is_dir() else ():
        with contextlib.suppress(OSError):
            if path.is_file() and not path.is_symlink():
                info = path.stat()
                entries.append((info.st_mtime, info.st_size, path))
    entries.sort()
    total, limit, oldest_kept = sum(e[1] for e in entries), max_mb * 1e6, now - max_age_hours * 3600
    pruned = CachePruned()
    for mtime, size, path in entries:
        if mtime >= oldest_kept and total <= limit:
            break
        with contextlib.suppress(OSError):
            path.unlink()
            pruned.files, pruned.bytes = pruned.files + 1, pruned.bytes + size
            total -= size
    for directory in sorted((p for p in folder.rglob("*") if p.is_dir()), key=lambda p: -len(p.parts)):
        with contextlib.suppress(OSError):
            directory.rmdir()  # only empty ones
    if pruned.files:
        logger.info("upload cache %s: deleted %d old uploads (%.1f MB)", folder, pruned.files, pruned.bytes / 1e6)
    return pruned
