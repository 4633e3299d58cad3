"""Browser-playable proxies: a small H.264 copy of each ingested video, in ``DATA_DIR/proxies/``.

The app links each garment to the moment it was worn (``#t=`` media fragment). It serves only
its own folders, so a video ingested from elsewhere could not be played, and phones' HEVC or
VP9 does not play in every browser. Ingest therefore keeps a proxy per video: H.264 yuv420p,
short side about ``short_side`` (never upscaled), at most 15 frames per second, no audio,
upright, its index at the front (``+faststart``) so a seek starts at once. The original is
never touched or copied.

Encoded by the ffmpeg binary that imageio-ffmpeg ships, as a subprocess: ffmpeg turns the
frames upright from the rotation metadata itself, its mp4 muxer does the faststart pass, and
a crash or hang of the encoder is a failed proxy (with a timeout), never a failed ingest.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from pathlib import Path

from core.errors import StylescopeError
from core.storage import TMP_SUFFIX, new_file_mode

PROXIES_DIR = "proxies"  # DATA_DIR/proxies/<video_id>.mp4
CRF = 28  # x264 quality: small files, garments still recognisable at 360 px
PRESET = "veryfast"  # x264 speed preset: the proxy should cost little next to decoding for crops
MAX_FPS = 15  # frames per second at most: enough to see a garment move, half the encode of a 30 fps phone clip
TIMEOUT_BASE_S = 120.0  # an encode taking longer than this plus ...
TIMEOUT_PER_VIDEO_S = 2.0  # ... this many seconds per second of video is given up


class ProxyError(StylescopeError):
    """A proxy could not be made (the video stays ingested; the app falls back to the original)."""


def proxy_path(data_dir: str | Path, video_id: int) -> Path:
    """Where the proxy of a catalogued video lives (whether or not it has one)."""
    return Path(data_dir) / PROXIES_DIR / f"{video_id}.mp4"


def scale_filter(short_side: int) -> str:
    """An ffmpeg filter that brings the short side down to ``short_side`` (never up), keeps the
    aspect ratio, and keeps both sides even (yuv420p needs it)."""
    side = f"trunc(min({short_side},{{}})/2)*2"
    width = f"if(lte(iw,ih),{side.format('iw')},-2)"
    height = f"if(lte(iw,ih),-2,{side.format('ih')})"
    return f"scale=w='{width}':h='{height}':flags=area,format=yuv420p"


def encode_command(source: Path, target: Path, short_side: int) -> list[str]:
    """The ffmpeg command line that writes ``source``'s proxy to ``target``."""
    import imageio_ffmpeg

    return [
        imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-nostdin", "-y",
        "-skip_loop_filter", "all",  # decode without deblocking, as the sampler does: the scale-down hides it
        "-i", str(source), "-map", "0:v:0", "-an", "-sn", "-dn", "-map_metadata", "-1",
        "-vf", scale_filter(short_side), "-fpsmax", str(MAX_FPS),
        "-c:v", "libx264", "-preset", PRESET, "-crf", str(CRF), "-pix_fmt", "yuv420p",
        "-movflags", "+faststart", "-f", "mp4", str(target),
    ]


class ProxyJob:
    """One proxy being encoded by an ffmpeg process beside whatever the caller does meanwhile
    (ingest starts it before decoding the video for crops, so the two overlap on spare cores).
    Never raises: :meth:`finish` says what went wrong."""

    def __init__(self, source: str | Path, target: str | Path, short_side: int):
        self.target = Path(target)
        self._tmp: Path | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self.problem = ""  # why the encode could not start
        try:
            self._tmp = tempfile_beside(self.target)
            self._process = subprocess.Popen(encode_command(Path(source), self._tmp, short_side),
                                             stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                             stderr=subprocess.PIPE)
        except OSError as exc:
            self.problem = f"ffmpeg could not run: {exc.strerror or exc}"
            self._remove_tmp()

    def finish(self, duration_s: float = 0.0, keep: bool = True) -> str:
        """Wait for the encode and rename the proxy into place (``keep=False``: stop it and
        remove what it wrote). Returns why there is no proxy, or '' when it is in place."""
        if self._process is None:
            return self.problem
        if not keep:
            self._process.kill()
        timeout = TIMEOUT_BASE_S + TIMEOUT_PER_VIDEO_S * max(0.0, duration_s)
        try:
            _, stderr = self._process.communicate(timeout=timeout)
            if not keep:
                problem = "not kept"
            elif self._process.returncode != 0:
                lines = stderr.decode(errors="replace").strip().splitlines()
                problem = f"ffmpeg failed: {lines[-1] if lines else f'exit {self._process.returncode}'}"
            else:
                assert self._tmp is not None
                os.replace(self._tmp, self.target)
                return ""
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.communicate()
            problem = f"ffmpeg took more than {timeout:.0f} s"
        except OSError as exc:
            problem = f"cannot store the proxy: {exc.strerror or exc}"
        self._remove_tmp()
        return problem

    def _remove_tmp(self) -> None:
        if self._tmp is not None:
            self._tmp.unlink(missing_ok=True)


def start_proxy(source: str | Path, target: str | Path, short_side: int) -> ProxyJob | None:
    """Start encoding ``source``'s proxy to ``target``; None when proxies are off (``short_side`` 0)."""
    return ProxyJob(source, target, short_side) if short_side else None


def tempfile_beside(target: Path) -> Path:
    """A fresh temporary file next to ``target``, named as every atomic write's temporary file
    (so a killed run's leftover is swept like theirs)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{target.name}.{os.getpid()}.", suffix=TMP_SUFFIX, dir=target.parent)
    os.close(fd)
    os.chmod(name, new_file_mode())
    return Path(name)


def write_proxy(source: str | Path, target: str | Path, short_side: int, duration_s: float = 0.0) -> Path:
    """Encode ``source``'s proxy to ``target`` atomically (a temporary file renamed into place).

    Raises:
        ProxyError: ffmpeg failed, timed out or could not be started; nothing is left at ``target``.
    """
    problem = ProxyJob(source, target, short_side).finish(duration_s)
    if problem:
        raise ProxyError(problem)
    return Path(target)
