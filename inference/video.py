"""Frame sampling: decode cheaply, keep sharp, distinct frames, at least one per segment.

The readers decode every packet (the codec needs that) but convert to RGB only the frames
the sampler asks for, scaled down inside the decoder's converter: the costly part of video
reading, colour conversion of every frame, is skipped. ``keyframes_only`` goes further and
asks the codec to skip non-key frames altogether.

Frames are made upright from the container's rotation metadata (phone videos are often
stored sideways with a display matrix; some OpenCV builds ignore it).
"""

from __future__ import annotations

import abc
import dataclasses
import functools
import logging
import math
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np

import configs
from configs import setting
from core.errors import VideoError
from inference.types import SampledFrame, VideoInfo

logger = logging.getLogger(__name__)


@dataclasses.dataclass
class SamplerConfig:
    """How frames are picked from a video."""

    every_s: float = setting(0.5, low=0, low_open=True)  # seconds between candidate frames
    max_candidates: int = setting(240, low=1)  # longer videos space their candidates further apart
    max_side: int = setting(1280, low=1)  # kept frames are scaled so their longer side is at most this
    analysis_side: int = setting(256, low=1)  # longer side of the grey image used for sharpness and hashes
    min_sharpness: float = setting(20.0, low=0)  # variance of Laplacian below which a frame counts as blurry
    blur_ratio: float = setting(0.4, low=0, high=1)  # ...or below this fraction of its segment's sharpest frame
    dup_hamming: int = setting(5, low=0, high=64)  # a frame within this many hash bits of a kept one is a near-duplicate
    alternates: int = setting(2, low=0)  # near-duplicates held back per kept frame, for when no person is found in it
    cut_hamming: int = setting(22, low=0, high=64)  # hash bits between consecutive candidates that start a new segment
    cut_hist: float = setting(0.45, low=0)  # colour-histogram distance (Bhattacharyya) that starts a new segment
    max_frames: int = setting(24, low=1)  # most frames kept per video
    keyframes_only: bool = False  # decode key frames only (fastest; coarse for long GOPs)
    skip_loop_filter: bool = True  # skip the codec's deblocking filter (about 2x faster H.264 decode)
    reader: str = "pyav"  # video reader backend: pyav or opencv (see READERS)
    max_pixels: int = setting(7680 * 4320, low=1)  # larger frames are refused before decoding
    min_side: int = setting(32, low=1)  # smaller frames are refused before decoding

    def __post_init__(self) -> None:
        configs.check(self, "sampler.")  # also a sampler built in code

    def problems(self) -> list[str]:
        return [] if self.reader in READERS else [f"reader must be one of {', '.join(READERS)}, got {self.reader!r}"]


# -- readers ---------------------------------------------------------------------------------


class VideoReader(abc.ABC):
    """Decodes a video and hands out upright RGB frames at requested times."""

    name: str

    @abc.abstractmethod
    def open(self, path: Path, config: SamplerConfig) -> OpenedVideo:
        """Open ``path``; raises :class:`VideoError` when it has no decodable video."""


class OpenedVideo(abc.ABC):
    """An open video: its probe info, and frames converted only where asked."""

    info: VideoInfo

    @abc.abstractmethod
    def frames_every(self, every_s: float) -> Iterator[tuple[float, DecodedFrame]]:
        """Yield ``(t_s, frame)`` for the first frame at or after each multiple of ``every_s``."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release the decoder."""


class DecodedFrame(abc.ABC):
    """A decoded frame not yet converted to RGB: analysed small, converted in full if kept."""

    @abc.abstractmethod
    def rgb(self, max_side: int) -> np.ndarray:
        """Upright RGB uint8 with the longer side at most ``max_side``."""

    def yuv_small(self, side: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Upright Y at ``side`` px (longer side) and U, V at 32x32, for analysis."""
        small = self.rgb(side)
        y, u, v = cv2.split(cv2.cvtColor(small, cv2.COLOR_RGB2YUV))
        return y, _tiny(u), _tiny(v)


def _tiny(plane: np.ndarray) -> np.ndarray:
    return cv2.resize(plane, (32, 32), interpolation=cv2.INTER_AREA)


def _plane(plane) -> np.ndarray:  # type: ignore[no-untyped-def]
    """A PyAV video plane as a (height, width) uint8 view, without copying."""
    rows = np.frombuffer(plane, np.uint8).reshape(plane.height, plane.line_size)
    return rows[:, : plane.width]


# 8-bit planar YUV: analysis reads the planes straight from the decoder, no conversion.
_PLANAR_YUV = frozenset({"yuv420p", "yuvj420p", "yuv422p", "yuvj422p", "yuv444p", "yuvj444p"})


class _AVFrame(DecodedFrame):
    def __init__(self, frame, rotation: int):  # type: ignore[no-untyped-def]
        self.frame, self.rotation = frame, rotation

    def rgb(self, max_side: int) -> np.ndarray:
        # swscale converts and scales in one pass: far cheaper than converting at full size.
        width, height = _scaled_size(self.frame.width, self.frame.height, max_side)
        rgb = self.frame.to_ndarray(format="rgb24", width=width, height=height, interpolation="AREA")
        return _upright(rgb, self.rotation)

    def yuv_small(self, side: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        if self.frame.format.name not in _PLANAR_YUV:
            return super().yuv_small(side)
        luma, u, v = (_plane(p) for p in self.frame.planes[:3])
        size = _scaled_size(luma.shape[1], luma.shape[0], side)
        y = cv2.resize(luma, size, interpolation=cv2.INTER_AREA)
        return _upright(y, self.rotation), _upright(_tiny(u), self.rotation), _upright(_tiny(v), self.rotation)


class _ArrayFrame(DecodedFrame):
    def __init__(self, bgr: np.ndarray, rotation: int):
        self.bgr, self.rotation = bgr, rotation

    def rgb(self, max_side: int) -> np.ndarray:
        h, w = self.bgr.shape[:2]
        size = _scaled_size(w, h, max_side)
        bgr = self.bgr if size == (w, h) else cv2.resize(self.bgr, size, interpolation=cv2.INTER_AREA)
        return _upright(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), self.rotation)


def _scaled_size(width: int, height: int, max_side: int) -> tuple[int, int]:
    scale = min(1.0, max_side / max(width, height))
    return max(2, round(width * scale / 2) * 2), max(2, round(height * scale / 2) * 2)


def _upright(rgb: np.ndarray, rotation: int) -> np.ndarray:
    """Apply a display rotation (degrees counter-clockwise, ffmpeg's convention)."""
    turns = (rotation // 90) % 4
    return np.ascontiguousarray(np.rot90(rgb, turns)) if turns else rgb


def _check_dimensions(width: int, height: int, config: SamplerConfig) -> None:
    if width <= 0 or height <= 0:
        raise VideoError("the video stream reports no frame size (no decodable frames)")
    if min(width, height) < config.min_side:
        raise VideoError(f"frames are {width}x{height}, smaller than {config.min_side} px on a side")
    if width * height > config.max_pixels:
        raise VideoError(
            f"frames are {width}x{height} ({width * height / 1e6:.0f} Mpx), above the "
            f"{config.max_pixels / 1e6:.0f} Mpx limit (sampler.max_pixels)"
        )


class PyAVReader(VideoReader):
    """FFmpeg through PyAV: threaded decoding, conversion and scaling only for sampled frames."""

    name = "pyav"

    def open(self, path: Path, config: SamplerConfig) -> OpenedVideo:
        import av

        try:
            container = av.open(str(path))
        except (av.error.FFmpegError, UnicodeDecodeError, OSError) as exc:
            raise VideoError(
                f"not a readable video: truncated, corrupt or not a video ({_ffmpeg_reason(exc)})"
            ) from None
        if not container.streams.video:
            kinds: list[str] = sorted({str(s.type) for s in container.streams}) or ["no streams"]
            container.close()
            raise VideoError(f"no video stream (the file holds {', '.join(kinds)} only)")
        try:
            return _PyAVVideo(container, config)
        except BaseException:
            container.close()
            raise


def _ffmpeg_reason(exc: BaseException) -> str:
    text = getattr(exc, "strerror", None) or str(exc)
    return text.split(": '", 1)[0].strip() or type(exc).__name__


class _PyAVVideo(OpenedVideo):
    def __init__(self, container, config: SamplerConfig):  # type: ignore[no-untyped-def]
        import av

        self._av = av
        self.container = container
        self.stream = container.streams.video[0]
        self.stream.thread_type = "AUTO"
        if config.keyframes_only:
            self.stream.codec_context.skip_frame = "NONKEY"
        if config.skip_loop_filter:
            self.stream.codec_context.options = {"skip_loop_filter": "all"}
        ctx = self.stream.codec_context
        _check_dimensions(ctx.width, ctx.height, config)
        self._decoded = self._decode()
        try:
            self._first = next(self._decoded)
        except StopIteration:
            raise VideoError("no decodable frames") from None
        self.info = self._probe(self._first)

    def _decode(self) -> Iterator:  # type: ignore[type-arg]
        av = self._av
        try:
            yield from self.container.decode(self.stream)
        except (av.error.FFmpegError, ValueError) as exc:
            # Truncated or corrupt tail: keep what decoded before it.
            logger.warning("decoding stopped early: %s", _ffmpeg_reason(exc))

    def _probe(self, first) -> VideoInfo:  # type: ignore[no-untyped-def]
        stream, container = self.stream, self.container
        fps = float(stream.average_rate or stream.guessed_rate or 0) or 25.0
        if stream.duration and stream.time_base:
            duration = float(stream.duration * stream.time_base)
        elif container.duration:
            duration = container.duration / 1_000_000
        else:
            duration = 0.0
        rotation = int(getattr(first, "rotation", 0) or 0) % 360
        width, height = first.width, first.height
        if rotation in (90, 270):
            width, height = height, width
        frames = int(stream.frames) or round(duration * fps)
        return VideoInfo(width, height, fps, duration, frames, rotation, stream.codec_context.name)

    def frames_every(self, every_s: float) -> Iterator[tuple[float, DecodedFrame]]:
        next_t = 0.0
        for frame in self._chain_first():
            t = float(frame.time) if frame.time is not None else next_t
            if t + 1e-6 < next_t:
                continue
            yield t, _AVFrame(frame, self.info.rotation)
            next_t = (math.floor(t / every_s + 1e-6) + 1) * every_s

    def _chain_first(self) -> Iterator:  # type: ignore[type-arg]
        yield self._first
        yield from self._decoded

    def close(self) -> None:
        self.container.close()


class OpenCVReader(VideoReader):
    """OpenCV's VideoCapture: grab() every frame, retrieve() (decode + convert) only sampled ones."""

    name = "opencv"

    def open(self, path: Path, config: SamplerConfig) -> OpenedVideo:
        capture = cv2.VideoCapture(str(path))
        if not capture.isOpened():
            raise VideoError("OpenCV cannot open the file as a video")
        # Rotate ourselves: builds differ in whether they honour the display matrix.
        capture.set(cv2.CAP_PROP_ORIENTATION_AUTO, 0)
        return _OpenCVVideo(capture, config)


class _OpenCVVideo(OpenedVideo):
    def __init__(self, capture: cv2.VideoCapture, config: SamplerConfig):
        self.capture = capture
        width = int(capture.get(cv2.CAP_PROP_FRAME_WIDTH))
        height = int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT))
        _check_dimensions(width, height, config)
        fps = capture.get(cv2.CAP_PROP_FPS) or 25.0
        count = int(capture.get(cv2.CAP_PROP_FRAME_COUNT))
        rotation = (-int(capture.get(cv2.CAP_PROP_ORIENTATION_META))) % 360
        if rotation in (90, 270):
            width, height = height, width
        codec = int(capture.get(cv2.CAP_PROP_FOURCC)).to_bytes(4, "little").decode("ascii", "replace")
        self.info = VideoInfo(width, height, fps, count / fps if fps else 0.0, count, rotation, codec)

    def frames_every(self, every_s: float) -> Iterator[tuple[float, DecodedFrame]]:
        next_t, index = 0.0, -1
        while self.capture.grab():
            index += 1
            t = self.capture.get(cv2.CAP_PROP_POS_MSEC) / 1000.0 or index / self.info.fps
            if t + 1e-6 < next_t:
                continue
            ok, bgr = self.capture.retrieve()
            if not ok:
                break
            yield t, _ArrayFrame(bgr, self.info.rotation)
            next_t = (math.floor(t / every_s + 1e-6) + 1) * every_s

    def close(self) -> None:
        self.capture.release()


READERS: dict[str, type[VideoReader]] = {"pyav": PyAVReader, "opencv": OpenCVReader}


def create_reader(name: str) -> VideoReader:
    """A reader backend by name (see :data:`READERS`)."""
    if name not in READERS:
        raise ValueError(f"unknown video reader {name!r}; choose from {', '.join(READERS)}")
    return READERS[name]()


# -- frame analysis --------------------------------------------------------------------------


@dataclasses.dataclass
class _Candidate:
    t_s: float
    frame: DecodedFrame  # converted at full size only if kept
    sharpness: float
    phash: int
    hist: np.ndarray
    alternates: list[_Candidate] = dataclasses.field(default_factory=list)  # its near-duplicates


def sharpness(grey: np.ndarray) -> float:
    """Variance of the Laplacian: low for blurry frames."""
    return float(cv2.Laplacian(grey, cv2.CV_64F).var())


def dhash(grey: np.ndarray) -> int:
    """64-bit difference hash: one bit per horizontal gradient sign on a 9x8 thumbnail."""
    thumb = cv2.resize(grey, (9, 8), interpolation=cv2.INTER_AREA).astype(np.int16)
    bits = (thumb[:, 1:] > thumb[:, :-1]).flatten()
    return int("".join("1" if b else "0" for b in bits), 2)


def hamming(a: int, b: int) -> int:
    """Number of differing bits between two hashes."""
    return (a ^ b).bit_count()


def colour_hist(y: np.ndarray, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Normalised 4x8x8 YUV histogram from 32x32 luma and chroma thumbnails."""
    stacked = np.dstack([_tiny(y), u, v])
    hist = cv2.calcHist([stacked], [0, 1, 2], None, [4, 8, 8], [0, 256, 0, 256, 0, 256])
    return cv2.normalize(hist, hist).flatten()


def _analyse(t_s: float, frame: DecodedFrame, config: SamplerConfig) -> _Candidate:
    grey, u, v = frame.yuv_small(config.analysis_side)
    return _Candidate(t_s, frame, sharpness(grey), dhash(grey), colour_hist(grey, u, v))


def _is_cut(previous: _Candidate, current: _Candidate, config: SamplerConfig) -> bool:
    hist_distance = cv2.compareHist(previous.hist, current.hist, cv2.HISTCMP_BHATTACHARYYA)
    return hamming(previous.phash, current.phash) > config.cut_hamming or hist_distance > config.cut_hist


def select_segment(candidates: list[_Candidate], config: SamplerConfig) -> list[_Candidate]:
    """Sharp, mutually distinct frames of one segment; never empty for a non-empty segment.

    A sharp frame too close to a kept one is not kept, but up to ``config.alternates`` of them
    stay with the kept frame they repeat, as its :attr:`_Candidate.alternates`: only with the
    latest kept frame, and only when no earlier kept frame is as close, so that an alternate
    taking its frame's place keeps the frames in time order and distinct.
    """
    sharpest = max(c.sharpness for c in candidates)
    floor = max(config.min_sharpness, config.blur_ratio * sharpest)
    kept: list[_Candidate] = []
    for candidate in candidates:
        if candidate.sharpness < floor:
            continue
        twin = next((k for k in kept if hamming(candidate.phash, k.phash) <= config.dup_hamming), None)
        if twin is None:
            kept.append(candidate)
        elif twin is kept[-1] and len(twin.alternates) < config.alternates:
            twin.alternates.append(candidate)
    if not kept:  # every frame of the segment is blurry: keep its best
        kept = [max(candidates, key=lambda c: c.sharpness)]
    return kept


def _cap_frames(segments: list[list[_Candidate]], max_frames: int) -> list[tuple[int, _Candidate]]:
    """At most ``max_frames``: each segment's sharpest first, then the sharpest of the rest."""
    firsts = [(s, max(seg, key=lambda c: c.sharpness)) for s, seg in enumerate(segments)]
    firsts = sorted(firsts, key=lambda p: -p[1].sharpness)[:max_frames]
    chosen = {id(c) for _, c in firsts}
    rest = [(s, c) for s, seg in enumerate(segments) for c in seg if id(c) not in chosen]
    rest.sort(key=lambda p: -p[1].sharpness)
    picked = firsts + rest[: max(0, max_frames - len(firsts))]
    return sorted(picked, key=lambda p: p[1].t_s)


def _sampled(candidate: _Candidate, segment: int, max_side: int) -> SampledFrame:
    alternates = tuple(functools.partial(_sampled, a, segment, max_side) for a in candidate.alternates)
    return SampledFrame(candidate.t_s, candidate.frame.rgb(max_side), candidate.sharpness, candidate.phash,
                        segment, alternates)


@dataclasses.dataclass
class SampleResult:
    """What the sampler kept from one video."""

    info: VideoInfo
    frames: list[SampledFrame]
    candidates: int  # frames converted and analysed
    segments: int  # visually distinct segments seen


def sample_video(path: str | Path, config: SamplerConfig | None = None) -> SampleResult:
    """Decode ``path`` and keep sharp, distinct frames, at least one per segment.

    Raises:
        VideoError: the file is not a decodable video or has no usable frames.
    """
    config = config or SamplerConfig()
    video = create_reader(config.reader).open(Path(path), config)
    try:
        every_s = config.every_s
        if video.info.duration_s > every_s * config.max_candidates:
            every_s = video.info.duration_s / config.max_candidates
        segments: list[list[_Candidate]] = []
        kept: list[list[_Candidate]] = []
        previous: _Candidate | None = None
        count = 0
        for t_s, decoded in video.frames_every(every_s):
            candidate = _analyse(t_s, decoded, config)
            count += 1
            if previous is None or _is_cut(previous, candidate, config):
                if segments:
                    kept.append(select_segment(segments[-1], config))
                    segments[-1] = []  # free the frames we did not keep
                segments.append([])
            segments[-1].append(candidate)
            previous = candidate
        if not segments:
            raise VideoError("no decodable frames")
        kept.append(select_segment(segments[-1], config))
        picked = _cap_frames(kept, config.max_frames)
        frames = [_sampled(c, s, config.max_side) for s, c in picked]
    finally:
        video.close()
    return SampleResult(video.info, frames, count, len(segments))
