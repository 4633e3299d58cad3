"""Small drawn clips for tests and benchmarks, encoded with the ffmpeg binary inside imageio-ffmpeg: real codecs, real containers."""

from __future__ import annotations

import subprocess
from collections.abc import Sequence
from pathlib import Path

import cv2
import imageio_ffmpeg
import numpy as np

FFMPEG = imageio_ffmpeg.get_ffmpeg_exe()


def write_video(
    path: Path,
    frames: Sequence[np.ndarray],
    fps: float = 15,
    codec: str = "libx264",
    extra: Sequence[str] = (),
) -> Path:
    """Encode RGB frames to ``path`` with ffmpeg; the container follows the suffix."""
    h, w = frames[0].shape[:2]
    command = [
        FFMPEG, "-hide_banner", "-loglevel", "error", "-y",
        "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{w}x{h}", "-r", str(fps), "-i", "-",
        "-c:v", codec, "-pix_fmt", "yuv420p", *extra, str(path),
    ]
    payload = b"".join(np.ascontiguousarray(f, dtype=np.uint8).tobytes() for f in frames)
    subprocess.run(command, input=payload, check=True, capture_output=True)
    return path


def remux(source: Path, target: Path, before_input: Sequence[str] = (), after_input: Sequence[str] = ()) -> Path:
    """Copy streams into another file, e.g. with rotation metadata (``-display_rotation 90``)."""
    command = [FFMPEG, "-hide_banner", "-loglevel", "error", "-y", *before_input, "-i", str(source),
               "-c", "copy", *after_input, str(target)]
    subprocess.run(command, check=True, capture_output=True)
    return target


def background(w: int, h: int, seed: int = 0) -> np.ndarray:
    """A textured room-like background (gradient wall, floor, a few shapes)."""
    rng = np.random.default_rng(seed)
    image = np.zeros((h, w, 3), np.uint8)
    wall = rng.integers(120, 220, 3)
    for y in range(h):
        image[y] = (wall * (0.75 + 0.25 * y / h)).astype(np.uint8)
    image[int(h * 0.8):] = rng.integers(60, 140, 3)
    for _ in range(6):
        x, y = int(rng.integers(0, w - 20)), int(rng.integers(0, int(h * 0.7)))
        cv2.rectangle(image, (x, y), (x + int(rng.integers(10, w // 4)), y + int(rng.integers(10, h // 6))),
                      tuple(int(c) for c in rng.integers(0, 255, 3)), -1)
    return image


def draw_figure(image: np.ndarray, cx: int, top: int, height: int,
                top_colour=(200, 30, 30), bottom_colour=(30, 40, 160)) -> None:
    """A simple standing figure: head, torso (top garment), legs (bottom garment), arms."""
    skin = (224, 172, 140)
    unit = height / 8
    head_r = int(unit * 0.5)
    cv2.circle(image, (cx, int(top + head_r)), head_r, skin, -1)
    torso = (int(cx - unit), int(top + unit), int(cx + unit), int(top + 4 * unit))
    cv2.rectangle(image, torso[:2], torso[2:], top_colour, -1)
    cv2.rectangle(image, (int(cx - 1.4 * unit), int(top + 1.1 * unit)), (int(cx - unit), int(top + 3.8 * unit)), top_colour, -1)
    cv2.rectangle(image, (int(cx + unit), int(top + 1.1 * unit)), (int(cx + 1.4 * unit), int(top + 3.8 * unit)), top_colour, -1)
    cv2.rectangle(image, (int(cx - unit), int(top + 4 * unit)), (int(cx - 0.1 * unit), int(top + 7.6 * unit)), bottom_colour, -1)
    cv2.rectangle(image, (int(cx + 0.1 * unit), int(top + 4 * unit)), (int(cx + unit), int(top + 7.6 * unit)), bottom_colour, -1)
    cv2.rectangle(image, (int(cx - unit), int(top + 4 * unit)), (int(cx + unit), int(top + 4.6 * unit)), bottom_colour, -1)


def walking_clip(n: int = 45, w: int = 216, h: int = 384, seed: int = 0, **colours) -> list[np.ndarray]:
    """A figure walking across a still room: a fit-check video in miniature."""
    room = background(w, h, seed)
    frames = []
    for i in range(n):
        frame = room.copy()
        cx = int(w * (0.3 + 0.4 * i / max(1, n - 1)))
        draw_figure(frame, cx, int(h * 0.12), int(h * 0.78), **colours)
        frames.append(frame)
    return frames


def marker_frames(n: int = 10, w: int = 96, h: int = 160) -> list[np.ndarray]:
    """Upright frames with a red block in the top-left corner (to check orientation)."""
    frame = np.full((h, w, 3), 235, np.uint8)
    frame[: h // 4, : w // 3] = (220, 20, 20)
    cv2.putText(frame, "UP", (w // 3, h // 2), cv2.FONT_HERSHEY_SIMPLEX, 1.0, (0, 0, 0), 2)
    return [frame.copy() for _ in range(n)]


def drawn_person(seed: int, share: float = 0.62, width: int = 270, height: int = 480):
    """A creator-world room with one drawn person ``share`` of its height tall.

    Returns the frame (person drawn in), the person's true boxes, and its look and pose; the
    same seed's room without the person is ``world.render.draw_room(width, height,
    np.random.default_rng(seed))``.
    """
    from world.figure import draw_person, make_look
    from world.render import (
        draw_room,
        partner_garment,
        random_garment,
        random_pose,
        unit_for_height,
    )

    rng = np.random.default_rng(seed)
    frame = draw_room(width, height, rng)
    unit = unit_for_height(share * height)
    look = make_look(partner_garment(random_garment(rng), rng), unit, rng)
    pose = random_pose(rng, width / 2, height * (0.5 + share / 2), unit)
    return frame, draw_person(frame, pose, look), look, pose
