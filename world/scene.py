"""One video: a room, a person in an outfit who moves, a hand-held camera, and the truth.

:func:`render_video` yields each frame with its :class:`FrameTruth` (the box of the top,
the bottom and the whole person in that frame, or None where they are not visible). A
video's shots: an optional title card, the person walking in, posing, turning, an
optional cut to a close-up of the top, and walking out; over it camera shake, lighting
drift and flicker, motion blur, an optional foreground object, and sensor noise.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterator

import cv2
import numpy as np

from inference.types import Box
from world.config import RenderConfig
from world.figure import Look, Pose, canvas_size, draw_person, make_look
from world.fmnist import FashionMnist
from world.render import draw_room, unit_for_height
from world.styles import Style

TITLES = ("fit check", "OOTD", "what I wore", "outfit of the day", "GRWM", "today's look")
MIN_VISIBLE = 0.3  # a garment counts as visible when this share of its box is in frame


@dataclasses.dataclass(frozen=True)
class VideoSpec:
    """What one video shows; everything else is drawn from ``seed``."""

    name: str  # file stem, e.g. v00042
    style: Style  # the outfit
    look_seed: int  # the creator's appearance and room
    seed: int  # this video's randomness (timing, motion, camera, noise)
    texture_seed: int  # the style's fabric randomness (same in every video of the style)
    handle: str  # creator handle, shown on title cards
    day: int  # day of the season, shown on title cards


@dataclasses.dataclass(frozen=True)
class FrameTruth:
    """What is where in one frame."""

    index: int  # frame number
    t_s: float  # presentation time, seconds
    shot: str  # title, full or closeup
    boxes: dict[str, Box | None]  # top, bottom, full -> box in the frame, None if not visible
    visible: dict[str, float]  # share of each unclipped box inside the frame (0 on title cards)


@dataclasses.dataclass
class _Timeline:
    frames: int
    title: int  # frames of title card at the start
    walk_in: int  # frames walking in after the title
    walk_out: int  # frames walking out at the end
    enter_from: int  # -1 from the left, 1 from the right
    turn: tuple[int, int] | None  # frame range of a full turn
    closeup: tuple[int, int] | None  # frame range of the close-up cut
    arm_style: str  # rest, hips or wave


def _timeline(rng: np.random.Generator, cfg: RenderConfig) -> _Timeline:
    fps = cfg.fps
    frames = max(2, round(rng.uniform(cfg.min_seconds, cfg.max_seconds) * fps))
    title = min(frames // 4, round(rng.uniform(0.4, 0.8) * fps)) if rng.random() < cfg.title_card_rate else 0
    walking = rng.random() < cfg.walk_rate
    walk_in = min((frames - title) // 4, round(rng.uniform(0.5, 0.9) * fps)) if walking else 0
    walk_out = min((frames - title) // 4, round(rng.uniform(0.5, 0.9) * fps)) if walking and rng.random() < 0.6 else 0
    main = (title + walk_in, frames - walk_out)
    span = main[1] - main[0]
    turn = None
    if rng.random() < cfg.turn_rate and span > fps:
        length = min(span, round(rng.uniform(1.2, 2.0) * fps))
        start = main[0] + int(rng.integers(0, span - length + 1))
        turn = (start, start + length)
    closeup = None
    if rng.random() < cfg.closeup_rate and span > fps // 2 + 2:
        length = max(2, min(span // 2, round(rng.uniform(0.5, 0.9) * fps)))
        start = main[0] + int(rng.integers(0, span - length + 1))
        closeup = (start, start + length)
    arm_style = ("rest", "hips", "wave")[int(rng.integers(3))]
    return _Timeline(frames, title, walk_in, walk_out, 1 if rng.random() < 0.5 else -1, turn, closeup, arm_style)


def _room(look_seed: int, height: int, width: int) -> np.ndarray:
    """The creator's room: the same backdrop in all their videos."""
    return draw_room(width, height, np.random.default_rng([look_seed, 29]))


def _shake(rng: np.random.Generator, frames: int, amplitude: float) -> np.ndarray:
    """Smooth hand-held camera offsets (frames x 2), within about +-2 * amplitude."""
    if amplitude <= 0:
        return np.zeros((frames, 2))
    steps = rng.normal(0, amplitude * 0.5, (frames, 2))
    offsets = np.zeros((frames, 2))
    for i in range(1, frames):
        offsets[i] = 0.85 * offsets[i - 1] + steps[i]
    return np.clip(offsets, -2 * amplitude, 2 * amplitude)


def _ease(t: float) -> float:
    t = min(1.0, max(0.0, t))
    return 1 - (1 - t) ** 2


def _pose(i: int, line: _Timeline, base: dict[str, float], fps: int, width: int) -> Pose:
    cx, unit = base["cx"], base["unit"]
    walking = False
    phase = 2 * math.pi * i / (0.6 * fps)
    if line.walk_in and i < line.title + line.walk_in:
        progress = _ease((i - line.title + 1) / line.walk_in)
        start = -0.3 * width if line.enter_from < 0 else 1.3 * width
        cx = start + (cx - start) * progress
        walking = progress < 1
    elif line.walk_out and i >= line.frames - line.walk_out:
        progress = (i - (line.frames - line.walk_out) + 1) / line.walk_out
        end = 1.35 * width if line.enter_from < 0 else -0.35 * width
        cx = cx + (end - cx) * progress**1.5
        walking = True
    yaw = 1.0
    if line.turn and line.turn[0] <= i < line.turn[1]:
        angle = 2 * math.pi * (i - line.turn[0]) / (line.turn[1] - line.turn[0])
        yaw = 0.55 + 0.45 * abs(math.cos(angle))
    sway = 0.05 * unit * math.sin(2 * math.pi * i / (1.7 * fps))
    arms = _arms(i, line, walking, phase, fps)
    stride = 14.0 * math.sin(phase) if walking else 0.0
    return Pose(
        cx=cx + sway, feet_y=base["feet"], unit=unit, yaw=yaw,
        arm_l=arms[0], arm_r=arms[1], elbow_l=arms[2], elbow_r=arms[3],
        leg_l=3.0 + stride, leg_r=3.0 - stride,
        knee_l=max(0.0, 1.5 * stride), knee_r=max(0.0, -1.5 * stride),
    )


def _arms(i: int, line: _Timeline, walking: bool, phase: float, fps: int) -> tuple[float, float, float, float]:
    """(arm_l, arm_r, elbow_l, elbow_r) in degrees."""
    if walking:
        swing = 18.0 * math.sin(phase)
        return 10 + swing, 10 - swing, 10.0, 10.0
    if line.arm_style == "hips":
        return 42.0, 42.0, -85.0, -85.0
    if line.arm_style == "wave":
        lift = max(0.0, math.sin(2 * math.pi * i / (2.5 * fps)))
        return 10.0, 10 + 120 * lift, 8.0, 8 + 40 * lift
    breathe = 3.0 * math.sin(2 * math.pi * i / (2.0 * fps))
    return 10 + breathe, 10 - breathe, 8.0, 8.0


def _clip_box(box: tuple[float, float, float, float] | None, width: int, height: int) -> tuple[Box | None, float]:
    if box is None:
        return None, 0.0
    whole = Box(math.floor(box[0]), math.floor(box[1]), math.ceil(box[2]) + 1, math.ceil(box[3]) + 1)
    clipped = whole.clip(width, height)
    share = clipped.area / whole.area if whole.area else 0.0
    if share < MIN_VISIBLE or clipped.width < 4 or clipped.height < 4:
        return None, share
    return clipped, share


def _zoom_window(box: tuple[float, float, float, float] | None, width: int, height: int, zoom: float) -> tuple[float, float]:
    """Top-left corner of the close-up crop, centred on the top garment, inside the frame."""
    cw, ch = width / zoom, height / zoom
    centre_x = (box[0] + box[2]) / 2 if box else width / 2
    centre_y = (box[1] + box[3]) / 2 if box else height / 2
    return min(max(0.0, centre_x - cw / 2), width - cw), min(max(0.0, centre_y - ch / 2), height - ch)


def _zoomed(box: tuple[float, float, float, float] | None, corner: tuple[float, float], zoom: float) -> tuple[float, float, float, float] | None:
    if box is None:
        return None
    return ((box[0] - corner[0]) * zoom, (box[1] - corner[1]) * zoom, (box[2] - corner[0]) * zoom, (box[3] - corner[1]) * zoom)


def _title_card(spec: VideoSpec, rng: np.random.Generator, width: int, height: int) -> np.ndarray:
    colour = tuple(int(v) for v in rng.integers(40, 230, 3))
    image = np.empty((height, width, 3), np.uint8)
    image[:] = colour
    ink = (255, 255, 255) if sum(colour) < 380 else (20, 20, 20)
    lines = [TITLES[int(rng.integers(len(TITLES)))], f"day {spec.day + 1}", f"@{spec.handle}"]
    scale = width / 360
    for k, text in enumerate(lines):
        size = (1.1 if k == 0 else 0.7) * scale
        (tw, _th), _ = cv2.getTextSize(text, cv2.FONT_HERSHEY_DUPLEX, size, max(1, int(2 * scale)))
        y = int(height * (0.42 + 0.1 * k))
        cv2.putText(image, text, ((width - tw) // 2, y), cv2.FONT_HERSHEY_DUPLEX, size, ink, max(1, int(2 * scale)), cv2.LINE_AA)
    return image


def _occluder(rng: np.random.Generator, cfg: RenderConfig) -> str | None:
    if rng.random() >= cfg.occlusion_rate:
        return None
    return ("plant", "phone", "chair")[int(rng.integers(3))]


def _draw_occluder(frame: np.ndarray, kind: str, pose: Pose, offset: tuple[float, float], seed: int) -> None:
    height, width = frame.shape[:2]
    if kind == "phone":  # a mirror selfie: the phone hides the face
        x, y = int(pose.cx + 0.15 * pose.unit), int(pose.feet_y - pose.unit * 7.4)
        cv2.rectangle(frame, (x, y), (x + int(0.75 * pose.unit), y + int(1.35 * pose.unit)), (30, 30, 34), -1)
        return
    rng = np.random.default_rng(seed)
    dx, dy = offset
    if kind == "plant":
        base_x = int((0.05 if rng.random() < 0.5 else 0.8) * width - dx)
        for _ in range(14):
            cx = base_x + int(rng.normal(0, width / 10))
            cy = int(height - dy - abs(rng.normal(0, height / 6)))
            cv2.ellipse(frame, (cx, cy), (max(3, width // 12), max(2, width // 30)), float(rng.uniform(0, 180)), 0, 360, (30, int(rng.uniform(90, 150)), 40), -1)
    else:  # the back of a chair in the foreground
        x0 = int((0.0 if rng.random() < 0.5 else 0.62) * width - dx)
        cv2.rectangle(frame, (x0, int(0.78 * height - dy)), (x0 + int(0.38 * width), height), (90, 60, 40), -1)


def _lighting_lut(rng: np.random.Generator, amount: float, frames: int) -> list[np.ndarray]:
    """One colour lookup table per frame: drifting gain, a tint, and occasional flicker."""
    tint = 1.0 + rng.uniform(-0.08, 0.08, 3) * amount / 0.25 if amount else np.ones(3)
    base = rng.uniform(0.88, 1.08) if amount else 1.0
    period = rng.uniform(1.5, 4.0) * max(frames, 1)
    levels = np.arange(256, dtype=np.float32)
    luts = []
    for i in range(frames):
        gain = base * (1 + 0.3 * amount * math.sin(2 * math.pi * i / period))
        if amount and rng.random() < 0.04 * amount / 0.25:
            gain *= 1 - 0.6 * amount
        lut = np.stack([np.clip(levels * gain * t, 0, 255) for t in tint], -1).astype(np.uint8)
        luts.append(lut.reshape(1, 256, 3))
    return luts


def _look(spec: VideoSpec, unit: int, fmnist: FashionMnist | None) -> Look:
    """The creator (same skin, hair, build in all their videos) wearing the style."""
    outfit = tuple(g.spec() for g in (spec.style.top, spec.style.bottom) if g is not None)
    look = make_look(outfit, unit, np.random.default_rng([spec.look_seed, 5]))
    if fmnist is not None:
        width, height = canvas_size(unit)
        for k, garment in enumerate(g for g in (spec.style.top, spec.style.bottom) if g is not None):
            shading = fmnist.shading(garment.type, spec.texture_seed * 2 + k)
            if shading is not None:
                kind = garment.spec().kind
                factor = cv2.resize(shading, (width, height), interpolation=cv2.INTER_LINEAR)[..., None]
                look.textures[kind] = np.clip(look.textures[kind] * factor, 0, 255).astype(np.uint8)
    return look


def render_video(spec: VideoSpec, cfg: RenderConfig, fmnist: FashionMnist | None = None) -> Iterator[tuple[np.ndarray, FrameTruth]]:
    """Yield the frames (H x W x 3 uint8 RGB) of one video with the truth of each.

    Deterministic in ``spec``: the same spec and config give the same pixels.
    """
    rng = np.random.default_rng([spec.seed, 7])
    width, height, fps = cfg.width, cfg.height, cfg.fps
    line = _timeline(rng, cfg)
    margin = math.ceil(2 * cfg.shake_px) + 2
    room = _room(spec.look_seed, height + 2 * margin, width + 2 * margin)
    feet = height * rng.uniform(0.93, 0.975)
    # HOG finds people up to ~75% of the frame height; fit checks show the whole body
    unit = unit_for_height(min(feet - 0.02 * height, height * rng.uniform(0.52, 0.7)))
    base = {"cx": width * rng.uniform(0.42, 0.58), "feet": feet, "unit": unit}
    look = _look(spec, unit, fmnist)
    shake = _shake(rng, line.frames, cfg.shake_px)
    luts = _lighting_lut(rng, cfg.lighting, line.frames)
    occluder = _occluder(rng, cfg)
    noise = [rng.normal(0, cfg.sensor_noise, (height, width, 3)).astype(np.int16) for _ in range(3)] if cfg.sensor_noise > 0 else []
    title = _title_card(spec, rng, width, height) if line.title else None
    zoom = rng.uniform(1.6, 2.0)
    for i in range(line.frames):
        blur_draw = rng.random()
        if i < line.title and title is not None:
            frame, truth = title.copy(), FrameTruth(i, i / fps, "title", dict.fromkeys(("top", "bottom", "full")), dict.fromkeys(("top", "bottom", "full"), 0.0))
        else:
            frame, truth = _person_frame(i, spec, line, base, room, margin, shake[i], look, occluder, zoom, cfg)
        frame = cv2.LUT(frame, luts[i])
        walking = (line.walk_in and line.title <= i < line.title + line.walk_in) or (line.walk_out and i >= line.frames - line.walk_out)
        if truth.shot != "title" and blur_draw < cfg.blur_rate * (3.0 if walking else 1.0):
            frame = cv2.blur(frame, (int(5 + 6 * blur_draw / max(cfg.blur_rate, 1e-6) / 3), 1))
        if noise:
            frame = np.clip(frame.astype(np.int16) + noise[i % len(noise)], 0, 255).astype(np.uint8)
        yield frame, truth


def _person_frame(
    i: int,
    spec: VideoSpec,
    line: _Timeline,
    base: dict[str, float],
    room: np.ndarray,
    margin: int,
    offset: np.ndarray,
    look: Look,
    occluder: str | None,
    zoom: float,
    cfg: RenderConfig,
) -> tuple[np.ndarray, FrameTruth]:
    width, height = cfg.width, cfg.height
    dx, dy = round(float(offset[0])), round(float(offset[1]))
    frame = np.ascontiguousarray(room[margin + dy : margin + dy + height, margin + dx : margin + dx + width])
    pose = _pose(i, line, base, cfg.fps, width)
    pose = dataclasses.replace(pose, cx=pose.cx - dx, feet_y=pose.feet_y - dy)
    drawn = _unclipped_boxes(frame, pose, look)
    if occluder:
        _draw_occluder(frame, occluder, pose, (dx, dy), spec.seed)
    shot = "full"
    if line.closeup and line.closeup[0] <= i < line.closeup[1]:
        shot = "closeup"
        corner = _zoom_window(drawn["top"], width, height, zoom)
        matrix = np.array([[zoom, 0, -corner[0] * zoom], [0, zoom, -corner[1] * zoom]], np.float32)
        frame = cv2.warpAffine(frame, matrix, (width, height), flags=cv2.INTER_LINEAR)
        drawn = {kind: _zoomed(box, corner, zoom) for kind, box in drawn.items()}
    clipped = {kind: _clip_box(box, width, height) for kind, box in drawn.items()}
    truth = FrameTruth(i, i / cfg.fps, shot, {k: v[0] for k, v in clipped.items()}, {k: round(v[1], 3) for k, v in clipped.items()})
    return frame, truth


def _unclipped_boxes(frame: np.ndarray, pose: Pose, look: Look) -> dict[str, tuple[float, float, float, float] | None]:
    """Draw the person; return the whole (unclipped) box of top, bottom and person ('full').

    The figure clips its boxes to the frame, so it is drawn into a frame padded by a
    canvas on every side and the result copied back.
    """
    height, width = frame.shape[:2]
    pad_w, pad_h = canvas_size(look.unit)
    padded = cv2.copyMakeBorder(frame, pad_h, pad_h, pad_w, pad_w, cv2.BORDER_CONSTANT)
    moved = dataclasses.replace(pose, cx=pose.cx + pad_w, feet_y=pose.feet_y + pad_h)
    boxes = draw_person(padded, moved, look)
    frame[:] = padded[pad_h : pad_h + height, pad_w : pad_w + width]
    out: dict[str, tuple[float, float, float, float] | None] = {}
    for kind, source in (("top", "top"), ("bottom", "bottom"), ("full", "person")):
        box = boxes.get(source)
        out[kind] = None if box is None else (box.x0 - pad_w, box.y0 - pad_h, box.x1 - 1 - pad_w, box.y1 - 1 - pad_h)
    return out


def video_spec_seed(world_seed: int, index: int) -> int:
    """The render seed of video ``index`` of a world."""
    return int(np.random.SeedSequence([world_seed, 100, index]).generate_state(1)[0])
