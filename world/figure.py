"""Drawing a person wearing an outfit: body, head, hair, arms, legs and the garments on them.

Proportions follow the usual figure-drawing canon (a person is about 7.5 heads tall,
shoulders two heads wide), so that OpenCV's HOG people detector and a motion localiser
see a plausible human outline. The person is drawn into a local canvas whose size
depends only on the head height (``unit``), so textures made once per person line up with
the body in every frame; :func:`draw_person` then pastes it into the frame and returns
each garment's box.
"""

from __future__ import annotations

import dataclasses
import math

import cv2
import numpy as np

from inference.types import Box
from world.patterns import fabric
from world.vocabulary import COLOURS, GarmentSpec

SKIN_TONES: tuple[tuple[int, int, int], ...] = (
    (255, 219, 190),
    (241, 194, 160),
    (224, 172, 128),
    (198, 134, 92),
    (160, 102, 66),
    (120, 76, 48),
    (88, 56, 38),
)
HAIR_COLOURS: tuple[tuple[int, int, int], ...] = (
    (20, 16, 14),
    (58, 38, 24),
    (96, 64, 36),
    (196, 160, 96),
    (150, 62, 30),
    (160, 160, 160),
)
SHOE_COLOURS: tuple[tuple[int, int, int], ...] = ((240, 240, 240), (25, 25, 25), (110, 70, 40), (200, 190, 170))
HAIR_STYLES = ("short", "long", "bun", "bob")

# Local canvas size in head units, and where the figure stands in it.
CANVAS_W_UNITS = 5.0
CANVAS_H_UNITS = 7.9
TOP_UNITS = 0.1  # gap above the head
MIN_VISIBLE = 0.3  # a garment less visible than this (share of its box) gets no box
RIM_SHADE = 0.45  # darkening where the body's surface turns away from the camera (its outline)
PRINT_CONTRAST = 0.8  # pattern accents drawn this far from the main colour (prints are not pure)
PRINT_SOFTNESS = 0.016  # blur of printed patterns, in head units (cloth, optics)


@dataclasses.dataclass
class Pose:
    """Where the person stands and how the limbs are held, in frame pixels and degrees."""

    cx: float  # x of the body's centre line in the frame
    feet_y: float  # y of the soles in the frame
    unit: float  # head height in pixels; the person is about 7.5 units tall
    yaw: float = 1.0  # horizontal width factor: 1 faces the camera, ~0.55 is side-on
    arm_l: float = 10.0  # left upper arm, degrees out from hanging straight down
    arm_r: float = 10.0  # right upper arm, degrees out from hanging straight down
    elbow_l: float = 8.0  # left forearm bend beyond the upper arm, degrees
    elbow_r: float = 8.0  # right forearm bend beyond the upper arm, degrees
    leg_l: float = 3.0  # left leg, degrees out from vertical
    leg_r: float = 3.0  # right leg, degrees out from vertical
    knee_l: float = 0.0  # left shin bend (walking), degrees
    knee_r: float = 0.0  # right shin bend (walking), degrees


@dataclasses.dataclass
class Look:
    """A person's appearance and outfit, with the textures drawn once for them."""

    outfit: tuple[GarmentSpec, ...]  # a top and a bottom, or one full garment
    skin: tuple[int, int, int]  # skin RGB
    hair: tuple[int, int, int]  # hair RGB
    hair_style: str  # one of HAIR_STYLES
    shoes: tuple[int, int, int]  # shoe RGB
    build: float  # shoulder/hip width factor, 0.85 (slim) .. 1.1 (broad)
    unit: int  # head height in pixels the textures were made for
    textures: dict[str, np.ndarray]  # 'skin', 'top', 'bottom', 'full' -> local-canvas RGB

    def garment(self, kind: str) -> GarmentSpec | None:
        for spec in self.outfit:
            if spec.kind == kind:
                return spec
        return None


def canvas_size(unit: float) -> tuple[int, int]:
    """(width, height) of the local canvas for a head height of ``unit`` pixels."""
    return math.ceil(CANVAS_W_UNITS * unit), math.ceil(CANVAS_H_UNITS * unit)


def _shading(width: int, height: int, light_x: float) -> np.ndarray:
    """Cylinder-like shading across the body, brighter on the lit side.

    Returns:
        (H, W, 3) uint8 map where 200 means unchanged (for ``cv2.multiply(..., scale=1/200)``).
    """
    xs = (np.arange(width, dtype=np.float32) - width / 2) / (width * 0.3)
    across = 1.0 - 0.22 * np.clip(xs * xs, 0, 2.2) + 0.1 * light_x * np.clip(xs, -1.5, 1.5)
    down = 1.0 - 0.12 * np.linspace(0, 1, height, dtype=np.float32)
    shade = np.clip(down[:, None] * across[None, :], 0.45, 1.25) * 200
    return cv2.merge([shade.astype(np.uint8)] * 3)


def make_look(
    outfit: tuple[GarmentSpec, ...], unit: int, rng: np.random.Generator, grain: float = 6.0
) -> Look:
    """A random person (skin, hair, build, shoes) wearing ``outfit``, textures drawn for ``unit``.

    Args:
        outfit: a top and a bottom, or a single full-length garment.
        unit: head height in pixels.
        rng: random generator; the same state gives the same person.
        grain: fabric grain noise in grey levels.

    Returns:
        The Look, ready for :func:`draw_person` at this ``unit``.
    """
    width, height = canvas_size(unit)
    shade = _shading(width, height, float(rng.uniform(-1, 1)))
    skin = SKIN_TONES[int(rng.integers(len(SKIN_TONES)))]
    textures: dict[str, np.ndarray] = {}
    skin_tex = np.repeat(np.asarray(skin, np.uint8)[None, None, :], width, axis=1).repeat(height, axis=0)
    textures["skin"] = cv2.multiply(skin_tex, shade, scale=1 / 200)
    for spec in outfit:
        scale = unit * float(rng.uniform(0.28, 0.5))
        tex = _soften(fabric(height, width, spec.pattern, spec.colour, spec.accent, scale, rng, grain), spec, unit)
        textures[spec.kind] = cv2.multiply(tex, shade, scale=1 / 200)
    return Look(
        outfit=outfit,
        skin=skin,
        hair=HAIR_COLOURS[int(rng.integers(len(HAIR_COLOURS)))],
        hair_style=HAIR_STYLES[int(rng.integers(len(HAIR_STYLES)))],
        shoes=SHOE_COLOURS[int(rng.integers(len(SHOE_COLOURS)))],
        build=float(rng.uniform(0.86, 1.08)),
        unit=unit,
        textures=textures,
    )


def _soften(texture: np.ndarray, spec: GarmentSpec, unit: int) -> np.ndarray:
    """A printed pattern as a camera sees it: accents pulled towards the main colour, edges soft.

    Crisp full-contrast prints fill a garment with gradients as strong as the body's outline,
    which no real video shows and which hides the person from gradient-based detectors.
    """
    if spec.pattern == "solid":
        return texture
    base = np.empty_like(texture)
    base[:] = COLOURS[spec.colour]
    mixed = cv2.addWeighted(texture, PRINT_CONTRAST, base, 1 - PRINT_CONTRAST, 0)
    return cv2.GaussianBlur(mixed, (0, 0), max(0.5, PRINT_SOFTNESS * unit))


# ----------------------------------------------------------------------------- skeleton


@dataclasses.dataclass
class Skeleton:
    """Joint positions (local canvas pixels) and body widths for one pose."""

    u: float
    xc: float
    top: float
    head: tuple[float, float]
    shoulder_y: float
    shoulder_half: float
    chest_half: float
    waist_y: float
    waist_half: float
    hip_y: float
    hip_half: float
    crotch_y: float
    shoulders: tuple[tuple[float, float], tuple[float, float]]
    elbows: tuple[tuple[float, float], tuple[float, float]]
    wrists: tuple[tuple[float, float], tuple[float, float]]
    hips: tuple[tuple[float, float], tuple[float, float]]
    knees: tuple[tuple[float, float], tuple[float, float]]
    ankles: tuple[tuple[float, float], tuple[float, float]]
    yaw: float


def _along(start: tuple[float, float], angle_deg: float, length: float) -> tuple[float, float]:
    """Point ``length`` from ``start`` at ``angle_deg`` from straight down (positive: +x)."""
    a = math.radians(angle_deg)
    return (start[0] + length * math.sin(a), start[1] + length * math.cos(a))


def skeleton(pose: Pose, build: float) -> Skeleton:
    """Joint positions of ``pose`` in the local canvas of its unit."""
    u = pose.unit
    width, _ = canvas_size(u)
    xc = width / 2
    top = TOP_UNITS * u
    yaw = pose.yaw
    sh = 0.92 * u * build * yaw
    shoulder_y = top + 1.42 * u
    shoulders = ((xc - sh + 0.14 * u, shoulder_y + 0.12 * u), (xc + sh - 0.14 * u, shoulder_y + 0.12 * u))
    elbow_l = _along(shoulders[0], -pose.arm_l, 1.45 * u)
    elbow_r = _along(shoulders[1], pose.arm_r, 1.45 * u)
    wrist_l = _along(elbow_l, -(pose.arm_l + pose.elbow_l), 1.3 * u)
    wrist_r = _along(elbow_r, pose.arm_r + pose.elbow_r, 1.3 * u)
    hip_y = top + 3.65 * u
    hips = ((xc - 0.4 * u * yaw * build, hip_y + 0.1 * u), (xc + 0.4 * u * yaw * build, hip_y + 0.1 * u))
    knee_l = _along(hips[0], -pose.leg_l, 1.85 * u)
    knee_r = _along(hips[1], pose.leg_r, 1.85 * u)
    ankle_l = _along(knee_l, -pose.leg_l + pose.knee_l, 1.75 * u)
    ankle_r = _along(knee_r, pose.leg_r - pose.knee_r, 1.75 * u)
    return Skeleton(
        u=u,
        xc=xc,
        top=top,
        head=(xc, top + 0.5 * u),
        shoulder_y=shoulder_y,
        shoulder_half=sh,
        chest_half=0.8 * u * build * yaw,
        waist_y=top + 2.95 * u,
        waist_half=0.62 * u * build * yaw,
        hip_y=hip_y,
        hip_half=0.8 * u * build * yaw,
        crotch_y=top + 3.98 * u,
        shoulders=shoulders,
        elbows=(elbow_l, elbow_r),
        wrists=(wrist_l, wrist_r),
        hips=hips,
        knees=(knee_l, knee_r),
        ankles=(ankle_l, ankle_r),
        yaw=yaw,
    )


def _limb(p0: tuple[float, float], p1: tuple[float, float], w0: float, w1: float) -> np.ndarray:
    """Tapered quad from ``p0`` (width ``w0``) to ``p1`` (width ``w1``)."""
    dx, dy = p1[0] - p0[0], p1[1] - p0[1]
    length = math.hypot(dx, dy) or 1.0
    nx, ny = -dy / length, dx / length
    return np.array(
        [
            (p0[0] + nx * w0 / 2, p0[1] + ny * w0 / 2),
            (p1[0] + nx * w1 / 2, p1[1] + ny * w1 / 2),
            (p1[0] - nx * w1 / 2, p1[1] - ny * w1 / 2),
            (p0[0] - nx * w0 / 2, p0[1] - ny * w0 / 2),
        ]
    )


def _lerp(a: tuple[float, float], b: tuple[float, float], t: float) -> tuple[float, float]:
    return (a[0] + (b[0] - a[0]) * t, a[1] + (b[1] - a[1]) * t)


def _half_width_at(s: Skeleton, y: float) -> float:
    """Half width of the torso at height ``y`` (shoulders -> chest -> waist -> hips)."""
    knots_y = [s.shoulder_y, s.shoulder_y + 0.6 * s.u, s.waist_y, s.hip_y, s.crotch_y]
    knots_w = [s.shoulder_half, s.chest_half, s.waist_half, s.hip_half, s.hip_half * 0.98]
    return float(np.interp(y, knots_y, knots_w))


def _torso(s: Skeleton, bottom_y: float, loose: float = 1.0, neck: float = 0.2) -> np.ndarray:
    """Torso outline from the shoulders down to ``bottom_y``."""
    u, xc = s.u, s.xc
    ys = [s.shoulder_y + 0.6 * u, s.waist_y, s.hip_y, bottom_y]
    right = [(xc + _half_width_at(s, y) * loose, y) for y in ys if y <= bottom_y]
    right.append((xc + _half_width_at(s, bottom_y) * loose, bottom_y))
    left = [(2 * xc - x, y) for x, y in reversed(right)]
    neck_y = s.shoulder_y - 0.14 * u
    # trapezius slope from the neck, then the rounded deltoid of each shoulder
    slope = [
        (neck * u + 0.5 * (s.shoulder_half * loose - neck * u), s.shoulder_y - 0.06 * u),
        (s.shoulder_half * loose * 0.94, s.shoulder_y + 0.04 * u),
        (s.shoulder_half * loose, s.shoulder_y + 0.22 * u),
    ]
    points = [
        (xc - neck * u, neck_y),
        (xc + neck * u, neck_y),
        *[(xc + dx, y) for dx, y in slope],
        *right,
        *left,
        *[(xc - dx, y) for dx, y in reversed(slope)],
    ]
    return np.array(points)


# ----------------------------------------------------------------------------- garments


def _top_polygons(spec: GarmentSpec, s: Skeleton) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """(torso polygons, sleeve polygons) of a top."""
    u = s.u
    loose = 1.16 if spec.silhouette == "oversized" else 1.02
    hem = {
        "crop top": s.top + 2.6 * u,
        "blazer": s.top + 3.95 * u,
        "hoodie": s.top + 3.75 * u,
    }.get(spec.type, s.top + 3.6 * u)
    if spec.silhouette == "oversized":
        hem += 0.25 * u
    neck = 0.34 if spec.type == "tank top" else 0.2
    torso = [_torso(s, hem, loose, neck)]
    if spec.type == "hoodie":
        torso.append(_hood(s))
    sleeves: list[np.ndarray] = []
    if spec.type == "tank top":
        return torso, sleeves
    long_sleeves = spec.type in ("shirt", "sweater", "hoodie", "blazer")
    arm_w = 0.36 * u * loose + 0.06 * u
    for i in (0, 1):
        shoulder, elbow, wrist = s.shoulders[i], s.elbows[i], s.wrists[i]
        if long_sleeves:
            sleeves.append(_limb(shoulder, elbow, arm_w * 1.1, arm_w * 0.95))
            sleeves.append(_limb(elbow, _lerp(elbow, wrist, 0.93), arm_w * 0.95, arm_w * 0.8))
        else:
            sleeves.append(_limb(shoulder, _lerp(shoulder, elbow, 0.45), arm_w * 1.15, arm_w))
    return torso, sleeves


def _hood(s: Skeleton) -> np.ndarray:
    u, xc = s.u, s.xc
    y = s.shoulder_y
    return np.array(
        [(xc - 0.62 * u, y + 0.05 * u), (xc - 0.42 * u, y - 0.3 * u), (xc + 0.42 * u, y - 0.3 * u), (xc + 0.62 * u, y + 0.05 * u)]
    )


_LEG_WIDTHS = {  # (thigh, knee, ankle) in units
    "skinny": (0.76, 0.5, 0.34),
    "straight": (0.78, 0.6, 0.54),
    "wide-leg": (0.82, 0.78, 1.0),
    "baggy": (0.9, 0.84, 0.76),
    "fitted": (0.78, 0.64, 0.54),
}


def _bottom_polygons(spec: GarmentSpec, s: Skeleton) -> list[np.ndarray]:
    """Polygons of a bottom garment (pants, shorts or skirt) or of a dress's skirt."""
    u, xc = s.u, s.xc
    waist_top = s.waist_y - 0.08 * u
    if spec.type in ("skirt", "dress"):
        hem = {"mini": 4.6, "midi": 5.9, "maxi": 7.15}[spec.silhouette] * u + s.top
        flare = {"mini": 1.12, "midi": 1.25, "maxi": 1.32}[spec.silhouette]
        spread = max(abs(s.knees[1][0] - s.knees[0][0]) / 2 + 0.35 * u, s.hip_half * flare)
        hem_half = spread if spec.silhouette == "mini" else spread * 1.05
        return [
            np.array(
                [
                    (xc - s.waist_half * 1.04, waist_top),
                    (xc + s.waist_half * 1.04, waist_top),
                    (xc + s.hip_half * 1.04, s.hip_y),
                    (xc + hem_half, hem),
                    (xc - hem_half, hem),
                    (xc - s.hip_half * 1.04, s.hip_y),
                ]
            )
        ]
    thigh, knee, ankle = (w * u * s.yaw ** 0.5 for w in _LEG_WIDTHS[spec.silhouette])
    pelvis = np.array(
        [
            (xc - s.waist_half * 1.04, waist_top),
            (xc + s.waist_half * 1.04, waist_top),
            (xc + s.hip_half * 1.04, s.hip_y),
            (xc + s.hip_half, s.crotch_y),
            (xc - s.hip_half, s.crotch_y),
            (xc - s.hip_half * 1.04, s.hip_y),
        ]
    )
    polygons = [pelvis]
    for i in (0, 1):
        hip, knee_pt, ankle_pt = s.hips[i], s.knees[i], s.ankles[i]
        if spec.type == "shorts":
            end = 0.55 if spec.silhouette == "fitted" else 0.8
            polygons.append(_limb(hip, _lerp(hip, knee_pt, end), thigh * 1.05, thigh * 0.98))
        else:
            polygons.append(_limb(hip, knee_pt, thigh, knee))
            polygons.append(_limb(knee_pt, _lerp(knee_pt, ankle_pt, 0.97), knee, ankle))
    return polygons


def _fill_mask(shape: tuple[int, int], polygons: list[np.ndarray]) -> np.ndarray:
    mask = np.zeros(shape, np.uint8)
    for polygon in polygons:
        cv2.fillPoly(mask, [np.round(polygon).astype(np.int32)], 255, cv2.LINE_8)
    return mask


def _paint(local: np.ndarray, alpha: np.ndarray, texture: np.ndarray, mask: np.ndarray) -> None:
    cv2.copyTo(texture, mask, local)
    cv2.bitwise_or(alpha, mask, dst=alpha)


def _darken(colour: tuple[int, int, int], factor: float) -> tuple[int, int, int]:
    return (int(colour[0] * factor), int(colour[1] * factor), int(colour[2] * factor))


def _details(local: np.ndarray, spec: GarmentSpec, s: Skeleton) -> None:
    """Seams, collars, pockets and buttons that make a garment read as what it is."""
    u, xc = s.u, s.xc
    line = _darken(COLOURS[spec.colour], 0.55)
    thick = max(1, round(u * 0.04))
    if spec.type == "blazer":
        inner = np.array([(xc - 0.2 * u, s.shoulder_y - 0.05 * u), (xc + 0.2 * u, s.shoulder_y - 0.05 * u), (xc, s.waist_y - 0.2 * u)])
        cv2.fillPoly(local, [np.round(inner).astype(np.int32)], (232, 232, 226))
        for dy in (0.0, 0.35):
            cv2.circle(local, (round(xc), round(s.waist_y + dy * u)), max(1, round(0.05 * u)), line, -1)
    elif spec.type == "shirt":
        collar = np.array([(xc - 0.3 * u, s.shoulder_y - 0.1 * u), (xc, s.shoulder_y + 0.25 * u), (xc + 0.3 * u, s.shoulder_y - 0.1 * u)])
        cv2.polylines(local, [np.round(collar).astype(np.int32)], False, line, thick)
        cv2.line(local, (round(xc), round(s.shoulder_y + 0.25 * u)), (round(xc), round(s.hip_y)), line, thick)
    elif spec.type == "hoodie":
        pocket = np.array([(xc - 0.5 * u, s.waist_y + 0.2 * u), (xc + 0.5 * u, s.waist_y + 0.2 * u), (xc + 0.6 * u, s.hip_y), (xc - 0.6 * u, s.hip_y)])
        cv2.polylines(local, [np.round(pocket).astype(np.int32)], True, line, thick)
        for dx in (-0.15, 0.15):
            cv2.line(local, (round(xc + dx * u), round(s.shoulder_y)), (round(xc + dx * u), round(s.shoulder_y + 0.7 * u)), (235, 235, 235), thick)
    elif spec.type in ("jeans", "trousers", "cargo pants"):
        cv2.line(local, (round(xc), round(s.waist_y)), (round(xc), round(s.crotch_y - 0.1 * u)), line, thick)
        cv2.line(local, (round(xc - s.waist_half), round(s.waist_y)), (round(xc + s.waist_half), round(s.waist_y)), line, thick)
        if spec.type == "cargo pants":
            for i in (0, 1):
                px, py = _lerp(s.hips[i], s.knees[i], 0.55)
                sign = -1 if i == 0 else 1
                box = np.array([(px + sign * 0.05 * u, py - 0.25 * u), (px + sign * 0.38 * u, py - 0.25 * u), (px + sign * 0.38 * u, py + 0.3 * u), (px + sign * 0.05 * u, py + 0.3 * u)])
                cv2.fillPoly(local, [np.round(box).astype(np.int32)], _darken(COLOURS[spec.colour], 0.8))
                cv2.polylines(local, [np.round(box).astype(np.int32)], True, line, thick)


# ----------------------------------------------------------------------------- the figure


def _draw_head(local: np.ndarray, alpha: np.ndarray, look: Look, s: Skeleton) -> None:
    u, (hx, hy) = s.u, s.head
    rx, ry = round(0.37 * u * (0.88 + 0.12 * s.yaw)), round(0.5 * u)
    face = _darken(look.skin, 1.0)
    neck = np.array([(hx - 0.16 * u, hy + 0.3 * u), (hx + 0.16 * u, hy + 0.3 * u), (hx + 0.17 * u, s.shoulder_y - 0.1 * u), (hx - 0.17 * u, s.shoulder_y - 0.1 * u)])
    cv2.fillPoly(local, [np.round(neck).astype(np.int32)], _darken(look.skin, 0.85))
    cv2.fillPoly(alpha, [np.round(neck).astype(np.int32)], 255)
    center = (round(hx), round(hy))
    cv2.ellipse(local, center, (rx, ry), 0, 0, 360, face, -1, cv2.LINE_AA)
    cv2.ellipse(alpha, center, (rx, ry), 0, 0, 360, 255, -1)
    hair = look.hair
    cv2.ellipse(local, (center[0], center[1] - round(0.12 * u)), (rx + 1, round(0.42 * u)), 0, 180, 360, hair, -1, cv2.LINE_AA)
    cv2.ellipse(alpha, (center[0], center[1] - round(0.12 * u)), (rx + 1, round(0.42 * u)), 0, 180, 360, 255, -1)
    if look.hair_style == "bun":
        bun = (center[0], center[1] - round(0.58 * u))
        cv2.circle(local, bun, round(0.2 * u), hair, -1, cv2.LINE_AA)
        cv2.circle(alpha, bun, round(0.2 * u), 255, -1)
    shift = (1 - s.yaw) * 0.25 * u
    for dx in (-0.15, 0.15):
        eye = (round(hx + dx * u + shift), round(hy + 0.02 * u))
        cv2.circle(local, eye, max(1, round(0.045 * u)), (40, 30, 30), -1, cv2.LINE_AA)
    cv2.line(local, (round(hx - 0.1 * u + shift), round(hy + 0.27 * u)), (round(hx + 0.1 * u + shift), round(hy + 0.27 * u)), (150, 70, 70), max(1, round(0.04 * u)))


def _draw_long_hair(local: np.ndarray, alpha: np.ndarray, look: Look, s: Skeleton) -> None:
    if look.hair_style not in ("long", "bob"):
        return
    u, (hx, hy) = s.u, s.head
    length = 1.9 if look.hair_style == "long" else 0.85
    back = np.array([(hx - 0.45 * u, hy - 0.2 * u), (hx + 0.45 * u, hy - 0.2 * u), (hx + 0.5 * u, hy + length * u), (hx - 0.5 * u, hy + length * u)])
    cv2.fillPoly(local, [np.round(back).astype(np.int32)], look.hair)
    cv2.fillPoly(alpha, [np.round(back).astype(np.int32)], 255)


def _draw_shoes(local: np.ndarray, alpha: np.ndarray, look: Look, s: Skeleton) -> None:
    u = s.u
    for i, (ax, ay) in enumerate(s.ankles):
        toe = -1 if i == 0 else 1
        center = (round(ax + toe * 0.1 * u * s.yaw), round(ay + 0.12 * u))
        axes = (round(0.24 * u), round(0.13 * u))
        cv2.ellipse(local, center, axes, 0, 0, 360, look.shoes, -1, cv2.LINE_AA)
        cv2.ellipse(alpha, center, axes, 0, 0, 360, 255, -1)


def draw_person(frame: np.ndarray, pose: Pose, look: Look) -> dict[str, Box]:
    """Draw ``look`` in ``pose`` into ``frame`` (RGB, modified in place).

    Args:
        frame: H x W x 3 uint8 RGB image.
        pose: where and how the person stands; ``pose.unit`` must equal ``look.unit``.
        look: appearance, outfit and textures from :func:`make_look`.

    Returns:
        Boxes in frame pixels, clipped to the frame, for each kind the outfit covers
        ('top', 'bottom', 'full'; a dress gives all three, split at the waist) plus 'person'.
        Kinds with less than MIN_VISIBLE of their area inside the frame are left out.
    """
    if round(pose.unit) != look.unit:
        raise ValueError(f"pose unit {pose.unit} does not match the look's unit {look.unit}")
    s = skeleton(pose, look.build)
    width, height = canvas_size(look.unit)
    local = np.zeros((height, width, 3), np.uint8)
    alpha = np.zeros((height, width), np.uint8)
    masks = _draw_figure(local, alpha, look, s)
    _rim_shade(local, alpha, look.unit)
    ox = round(pose.cx - width / 2)
    oy = round(pose.feet_y - height)
    _paste(frame, local, alpha, ox, oy)
    return _boxes(masks, alpha, s, ox, oy, frame.shape[1], frame.shape[0])


def _draw_figure(local: np.ndarray, alpha: np.ndarray, look: Look, s: Skeleton) -> dict[str, np.ndarray]:
    """Paint the body and garments into the local canvas; returns each garment's mask."""
    u = s.u
    shape = alpha.shape
    skin = look.textures["skin"]
    _draw_long_hair(local, alpha, look, s)
    legs = [_limb(s.hips[i], s.knees[i], 0.72 * u, 0.46 * u) for i in (0, 1)]
    calves = [_lerp(s.knees[i], s.ankles[i], 0.3) for i in (0, 1)]
    legs += [_limb(s.knees[i], calves[i], 0.46 * u, 0.5 * u) for i in (0, 1)]
    legs += [_limb(calves[i], s.ankles[i], 0.5 * u, 0.28 * u) for i in (0, 1)]
    _paint(local, alpha, skin, _fill_mask(shape, legs))
    _draw_shoes(local, alpha, look, s)
    masks: dict[str, np.ndarray] = {}
    full = look.garment("full")
    bottom = look.garment("bottom")
    lower_spec = full or bottom
    _paint(local, alpha, skin, _fill_mask(shape, [_torso(s, s.hip_y)]))
    if lower_spec is not None:
        lower = _fill_mask(shape, _bottom_polygons(lower_spec, s))
        _paint(local, alpha, look.textures[lower_spec.kind], lower)
        _details(local, lower_spec, s)
        masks[lower_spec.kind] = lower
    top = look.garment("top")
    if full is not None:
        bodice = _fill_mask(shape, [_torso(s, s.waist_y + 0.1 * u, 1.02, 0.3)])
        _paint(local, alpha, look.textures["full"], bodice)
        masks["full"] = np.maximum(masks["full"], bodice)
    sleeves: list[np.ndarray] = []
    if top is not None:
        torso, sleeves = _top_polygons(top, s)
        top_mask = _fill_mask(shape, torso)
        _paint(local, alpha, look.textures["top"], top_mask)
        masks["top"] = top_mask
    arms = [_limb(s.shoulders[i], s.elbows[i], 0.4 * u, 0.3 * u) for i in (0, 1)]
    arms += [_limb(s.elbows[i], s.wrists[i], 0.3 * u, 0.22 * u) for i in (0, 1)]
    _paint(local, alpha, skin, _fill_mask(shape, arms))
    for i in (0, 1):
        hand = (round(s.wrists[i][0]), round(s.wrists[i][1] + 0.12 * u))
        cv2.circle(local, hand, round(0.15 * u), _darken(look.skin, 0.95), -1, cv2.LINE_AA)
        cv2.circle(alpha, hand, round(0.15 * u), 255, -1)
    if top is not None and sleeves:
        sleeve_mask = _fill_mask(shape, sleeves)
        _paint(local, alpha, look.textures["top"], sleeve_mask)
        masks["top"] = np.maximum(masks["top"], sleeve_mask)
    if top is not None:
        _details(local, top, s)
    _draw_head(local, alpha, look, s)
    return masks


def _rim_shade(local: np.ndarray, alpha: np.ndarray, unit: int) -> None:
    """Darken a soft band along the figure's outline, where its surfaces turn away."""
    k = max(3, round(unit * 0.12) | 1)
    inner = cv2.erode(alpha, np.ones((k, k), np.uint8))
    band = cv2.blur(cv2.subtract(alpha, inner), (k, k))
    keep = cv2.subtract(np.full_like(band, 255), cv2.multiply(band, np.full_like(band, 255), scale=RIM_SHADE / 255))
    cv2.multiply(local, cv2.merge([keep] * 3), dst=local, scale=1 / 255)


def _paste(frame: np.ndarray, local: np.ndarray, alpha: np.ndarray, ox: int, oy: int) -> None:
    fh, fw = frame.shape[:2]
    lh, lw = alpha.shape
    x0, y0 = max(0, ox), max(0, oy)
    x1, y1 = min(fw, ox + lw), min(fh, oy + lh)
    if x1 <= x0 or y1 <= y0:
        return
    sub = (slice(y0 - oy, y1 - oy), slice(x0 - ox, x1 - ox))
    cv2.copyTo(local[sub], alpha[sub], frame[y0:y1, x0:x1])


def _mask_box(mask: np.ndarray) -> tuple[int, int, int, int] | None:
    x, y, w, h = cv2.boundingRect(mask)
    if w == 0 or h == 0:
        return None
    return x, y, x + w, y + h


def _boxes(
    masks: dict[str, np.ndarray], alpha: np.ndarray, s: Skeleton, ox: int, oy: int, fw: int, fh: int
) -> dict[str, Box]:
    local_boxes: dict[str, tuple[int, int, int, int] | None] = {}
    if "full" in masks:
        waist = round(s.waist_y)
        dress = masks["full"]
        upper = _mask_box(dress[:waist])
        lower = _mask_box(dress[waist:])
        local_boxes["top"] = upper
        local_boxes["bottom"] = None if lower is None else (lower[0], lower[1] + waist, lower[2], lower[3] + waist)
        local_boxes["full"] = _mask_box(dress)
    else:
        local_boxes["top"] = _mask_box(masks["top"]) if "top" in masks else None
        local_boxes["bottom"] = _mask_box(masks["bottom"]) if "bottom" in masks else None
        present = [b for b in (local_boxes["top"], local_boxes["bottom"]) if b is not None]
        local_boxes["full"] = (
            min(b[0] for b in present), min(b[1] for b in present), max(b[2] for b in present), max(b[3] for b in present)
        ) if present else None
    local_boxes["person"] = _mask_box(alpha)
    boxes: dict[str, Box] = {}
    for kind, box in local_boxes.items():
        if box is None:
            continue
        whole = Box(box[0] + ox, box[1] + oy, box[2] + ox, box[3] + oy)
        clipped = whole.clip(fw, fh)
        if clipped.area >= MIN_VISIBLE * whole.area and clipped.area > 0:
            boxes[kind] = clipped
    return boxes
