"""Rendering for the creator world: rooms, random outfits and poses, light, garment crops.

The world's videos (world/scene.py) and :func:`render_garment_crops` share one
drawing code path (rooms here, people in world/figure.py), so the labelled crops that
encoders train and evaluate on look like the garments ingestion cuts from the videos:

- :func:`render_garment_crops` — crops of single garments with attribute captions ("a red
  plaid mini skirt") and attributes, with held-out or only-these colour/pattern combinations;
- :func:`draw_room`, :func:`random_garment`, :func:`random_pose`, :func:`apply_lighting` —
  the pieces scenes are made of.
"""

from __future__ import annotations

import dataclasses
import multiprocessing
from collections.abc import Collection

import cv2
import numpy as np

from world.figure import Pose, canvas_size, draw_person, make_look
from world.patterns import grain_noise
from world.vocabulary import (
    COLOURS,
    GARMENT_TYPES,
    PATTERNS,
    SILHOUETTES_BY_TYPE,
    GarmentSpec,
)

WALL_COLOURS: tuple[tuple[int, int, int], ...] = (
    (232, 226, 214),
    (214, 222, 226),
    (200, 206, 190),
    (236, 214, 200),
    (170, 176, 184),
    (120, 132, 150),
    (226, 200, 160),
    (90, 96, 100),
    (246, 244, 240),
)
FLOOR_COLOURS: tuple[tuple[int, int, int], ...] = (
    (150, 110, 70),
    (190, 160, 120),
    (110, 80, 56),
    (170, 170, 168),
    (120, 120, 130),
)
# Which garment types go with which kind when an outfit needs a partner garment.
TOP_TYPES = tuple(t for t, k in GARMENT_TYPES.items() if k == "top")
BOTTOM_TYPES = tuple(t for t, k in GARMENT_TYPES.items() if k == "bottom")
FULL_TYPES = tuple(t for t, k in GARMENT_TYPES.items() if k == "full")


# ----------------------------------------------------------------------------- rooms


def draw_room(width: int, height: int, rng: np.random.Generator, floor_at: float | None = None) -> np.ndarray:
    """A bedroom/hallway-like backdrop: wall, floor, door, window, frames, plant, mirror.

    Args:
        width: image width in pixels.
        height: image height in pixels.
        rng: random generator; the same state gives the same room.
        floor_at: where the floor starts, as a fraction of the height (random if None).

    Returns:
        ``height`` x ``width`` x 3 uint8 RGB image.
    """
    wall = np.asarray(WALL_COLOURS[int(rng.integers(len(WALL_COLOURS)))], np.float32)
    floor = np.asarray(FLOOR_COLOURS[int(rng.integers(len(FLOOR_COLOURS)))], np.float32)
    floor_y = int(height * (floor_at if floor_at is not None else rng.uniform(0.74, 0.86)))
    image = np.empty((height, width, 3), np.uint8)
    image[:floor_y] = wall.astype(np.uint8)
    image[floor_y:] = floor.astype(np.uint8)
    if rng.random() < 0.5:  # floor boards
        for x in range(int(rng.integers(0, 40)), width, max(12, width // 8)):
            cv2.line(image, (x, floor_y), (int(x + (x - width / 2) * 0.6), height), (floor * 0.8).tolist(), 1)
    cv2.rectangle(image, (0, floor_y - max(2, height // 90)), (width, floor_y), (wall * 0.85).tolist(), -1)
    for _ in range(int(rng.integers(1, 4))):
        _furniture(image, wall, floor_y, rng)
    light_x = rng.uniform(0.1, 0.9)
    xs = np.linspace(0, 1, width, dtype=np.float32)
    ys = np.linspace(0, 1, height, dtype=np.float32)
    vignette = (1.0 - 0.28 * np.abs(xs[None, :] - light_x) - 0.15 * ys[:, None]) * 200
    return cv2.multiply(image, cv2.merge([vignette.astype(np.uint8)] * 3), scale=1 / 200)


def _furniture(image: np.ndarray, wall: np.ndarray, floor_y: int, rng: np.random.Generator) -> None:
    height, width = image.shape[:2]
    choice = rng.integers(5)
    x = int(rng.uniform(-0.1, 0.85) * width)
    if choice == 0:  # door
        w, top = int(width * rng.uniform(0.25, 0.35)), int(floor_y * rng.uniform(0.12, 0.25))
        colour = (wall * rng.uniform(0.75, 1.1)).tolist()
        cv2.rectangle(image, (x, top), (x + w, floor_y), colour, -1)
        cv2.rectangle(image, (x, top), (x + w, floor_y), (wall * 0.6).tolist(), 2)
        cv2.circle(image, (x + int(w * 0.85), int((top + floor_y) * 0.55)), max(2, width // 90), (200, 180, 90), -1)
    elif choice == 1:  # window with daylight
        w, h = int(width * rng.uniform(0.25, 0.4)), int(floor_y * rng.uniform(0.22, 0.35))
        top = int(floor_y * rng.uniform(0.08, 0.25))
        cv2.rectangle(image, (x, top), (x + w, top + h), (225, 236, 246), -1)
        cv2.rectangle(image, (x, top), (x + w, top + h), (250, 250, 250), max(2, width // 120))
        cv2.line(image, (x + w // 2, top), (x + w // 2, top + h), (250, 250, 250), max(2, width // 150))
    elif choice == 2:  # picture frames
        for k in range(int(rng.integers(1, 4))):
            w = int(width * rng.uniform(0.08, 0.16))
            fx, top = x + k * int(w * 1.3), int(floor_y * rng.uniform(0.15, 0.4))
            colour = tuple(int(c) for c in rng.integers(30, 230, 3))
            cv2.rectangle(image, (fx, top), (fx + w, top + int(w * 1.3)), colour, -1)
            cv2.rectangle(image, (fx, top), (fx + w, top + int(w * 1.3)), (40, 34, 30), 2)
    elif choice == 3:  # plant in a pot
        base = (x + width // 12, floor_y + height // 40)
        cv2.rectangle(image, (base[0] - width // 20, base[1] - height // 16), (base[0] + width // 20, base[1]), (170, 100, 70), -1)
        for _ in range(14):
            leaf = (int(base[0] + rng.normal(0, width / 22)), int(base[1] - height / 16 - abs(rng.normal(0, height / 12))))
            cv2.ellipse(image, leaf, (max(2, width // 30), max(2, width // 60)), float(rng.uniform(0, 180)), 0, 360, (40, float(rng.uniform(100, 150)), 50), -1)
    else:  # shelf or dresser
        w, h = int(width * rng.uniform(0.25, 0.4)), int(floor_y * rng.uniform(0.15, 0.3))
        colour = (float(rng.uniform(90, 200)), float(rng.uniform(70, 160)), float(rng.uniform(50, 120)))
        cv2.rectangle(image, (x, floor_y - h), (x + w, floor_y), colour, -1)
        for k in range(1, 3):
            y = floor_y - h + k * h // 3
            cv2.line(image, (x, y), (x + w, y), (colour[0] * 0.6, colour[1] * 0.6, colour[2] * 0.6), 2)


# ----------------------------------------------------------------------------- outfits


def random_garment(
    rng: np.random.Generator,
    kind: str | None = None,
    exclude: Collection[tuple[str, str]] = (),
    only: Collection[tuple[str, str]] | None = None,
    max_tries: int = 10_000,
) -> GarmentSpec:
    """A random garment, optionally of one kind, honouring (colour, pattern) hold-outs.

    Args:
        rng: random generator.
        kind: 'top', 'bottom' or 'full'; None draws the kind (40% / 40% / 20%).
        exclude: (colour, pattern) pairs never to produce.
        only: if given, produce only these (colour, pattern) pairs.
        max_tries: rejection-sampling budget.

    Raises:
        ValueError: when the constraints leave nothing to draw.
    """
    allowed = _allowed_pairs(exclude, only)
    if not allowed:
        raise ValueError("the exclude/only constraints leave no (colour, pattern) pair to draw")
    if kind is None:
        kind = str(rng.choice(["top", "bottom", "full"], p=[0.4, 0.4, 0.2]))
    types = {"top": TOP_TYPES, "bottom": BOTTOM_TYPES, "full": FULL_TYPES}.get(kind)
    if types is None:
        raise ValueError(f"unknown garment kind {kind!r}")
    type_ = str(types[int(rng.integers(len(types)))])
    colour, pattern = allowed[int(rng.integers(len(allowed)))]
    if type_ == "jeans" and rng.random() < 0.6 and (colour, "denim") in set(allowed):
        pattern = "denim"
    accent = _accent(colour, rng)
    silhouettes = SILHOUETTES_BY_TYPE[type_]
    silhouette = str(silhouettes[int(rng.integers(len(silhouettes)))])
    return GarmentSpec(type_, colour, pattern, silhouette, accent)


def _allowed_pairs(
    exclude: Collection[tuple[str, str]], only: Collection[tuple[str, str]] | None
) -> list[tuple[str, str]]:
    for colour, pattern in [*exclude, *(only or ())]:
        if colour not in COLOURS or pattern not in PATTERNS:
            raise ValueError(f"unknown (colour, pattern) pair {(colour, pattern)!r}")
    pairs = [(c, p) for c in COLOURS for p in PATTERNS] if only is None else sorted(set(only))
    banned = set(exclude)
    return [pair for pair in pairs if pair not in banned]


def _accent(colour: str, rng: np.random.Generator) -> str:
    names = [c for c in COLOURS if c != colour]
    return str(names[int(rng.integers(len(names)))])


def partner_garment(spec: GarmentSpec, rng: np.random.Generator) -> tuple[GarmentSpec, ...]:
    """An outfit around ``spec``: a random bottom for a top, a random top for a bottom."""
    if spec.kind == "full":
        return (spec,)
    other = random_garment(rng, kind="bottom" if spec.kind == "top" else "top")
    return (spec, other) if spec.kind == "top" else (other, spec)


# ----------------------------------------------------------------------------- camera effects


@dataclasses.dataclass(frozen=True)
class Lighting:
    """A frame's light: overall gain, colour cast and sensor noise."""

    gain: float = 1.0  # brightness multiplier
    tint: tuple[float, float, float] = (1.0, 1.0, 1.0)  # per-channel RGB multipliers
    noise: float = 0.0  # sensor noise standard deviation, grey levels


def apply_lighting(image: np.ndarray, light: Lighting, rng: np.random.Generator) -> np.ndarray:
    """``image`` under ``light`` (new uint8 array), via one lookup table per channel."""
    levels = np.arange(256, dtype=np.float32)
    tables = [np.clip(levels * light.gain * t, 0, 255).astype(np.uint8) for t in light.tint]
    lut = np.stack(tables, axis=1)[:, None, :]
    out = cv2.LUT(image, lut)
    if light.noise > 0:
        noise = grain_noise(out.shape[0], out.shape[1], light.noise, rng)
        out = cv2.add(out, noise, dtype=cv2.CV_8U)
    return out


def motion_blur(image: np.ndarray, length: int, horizontal: bool = True) -> np.ndarray:
    """Box motion blur ``length`` pixels long (1 = no blur)."""
    if length <= 1:
        return image
    kernel = (length, 1) if horizontal else (1, length)
    return cv2.blur(image, kernel)


def random_lighting(rng: np.random.Generator, noise: float) -> Lighting:
    """A plausible indoor light; ``noise`` (0..2) scales how far from neutral it strays."""
    spread = 0.18 * noise
    warm = rng.uniform(-0.08, 0.08) * noise
    return Lighting(
        gain=float(np.clip(rng.normal(1.0, spread), 0.55, 1.35)),
        tint=(1.0 + warm, 1.0, 1.0 - warm),
        noise=float(rng.uniform(1.0, 5.0) * noise),
    )


# ----------------------------------------------------------------------------- garment crops


@dataclasses.dataclass
class GarmentSample:
    """One garment crop with its caption and attributes."""

    image: np.ndarray  # size x size x 3 uint8 RGB crop of the garment (with a little context)
    caption: str  # attribute caption, e.g. "a red plaid mini skirt"
    attributes: dict[str, str]  # type, colour, pattern, silhouette, kind
    box: tuple[int, int, int, int]  # garment box in the rendered scene (before cropping)


def render_garment_crops(
    n: int,
    seed: int = 0,
    size: int = 224,
    exclude: Collection[tuple[str, str]] = (),
    only: Collection[tuple[str, str]] | None = None,
    kinds: Collection[str] | None = None,
    noise: float = 1.0,
    workers: int = 1,
) -> list[GarmentSample]:
    """Crops of single garments drawn the way the world's videos draw them.

    Each sample is a person in a room wearing an outfit; the crop is a square around one
    garment (with a little of the body and room around it, as a localiser would cut it),
    under random lighting, noise and blur.

    Args:
        n: number of crops.
        seed: random seed; the same (seed, index) always gives the same crop.
        size: side of the square output crops in pixels.
        exclude: (colour, pattern) pairs the cropped garment never has (held out).
        only: if given, the cropped garment has only these (colour, pattern) pairs.
        kinds: garment kinds to crop ('top', 'bottom', 'full'); default all.
        noise: 0 renders clean crops; 1 the default variation; up to 2 harsher.
        workers: processes to render with (about 6 ms of CPU per crop); the result does
            not depend on it.

    Returns:
        ``n`` GarmentSamples, in index order.

    Raises:
        ValueError: on a negative ``n``, a bad size, an unknown kind, or hold-out
            constraints that leave nothing to draw.
    """
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    if size < 16:
        raise ValueError(f"size must be at least 16 pixels, got {size}")
    kind_list = sorted(set(kinds)) if kinds is not None else ["top", "bottom", "full"]
    bad = [k for k in kind_list if k not in ("top", "bottom", "full")]
    if bad or not kind_list:
        raise ValueError(f"kinds must be among top, bottom, full; got {sorted(kinds or [])}")
    _allowed_pairs(exclude, only)  # validate early
    job = _CropJob(seed, size, tuple(exclude), None if only is None else tuple(only), tuple(kind_list), noise)
    if workers <= 1 or n < 64:
        return job(range(n))
    chunks = [range(start, min(n, start + 256)) for start in range(0, n, 256)]
    with multiprocessing.get_context("fork").Pool(workers) as pool:
        parts = pool.map(job, chunks)
    return [sample for part in parts for sample in part]


@dataclasses.dataclass(frozen=True)
class _CropJob:
    """Renders garment crops by index (picklable, for worker processes)."""

    seed: int
    size: int
    exclude: tuple[tuple[str, str], ...]
    only: tuple[tuple[str, str], ...] | None
    kinds: tuple[str, ...]
    noise: float

    def __call__(self, indices: range) -> list[GarmentSample]:
        weights = np.array([{"top": 0.4, "bottom": 0.4, "full": 0.2}[k] for k in self.kinds])
        weights /= weights.sum()
        samples = []
        for index in indices:
            rng = np.random.default_rng([self.seed, index, 31])
            kind = str(rng.choice(list(self.kinds), p=weights))
            spec = random_garment(rng, kind, self.exclude, self.only)
            samples.append(_garment_sample(spec, rng, self.size, self.noise))
        return samples


def _garment_sample(spec: GarmentSpec, rng: np.random.Generator, size: int, noise: float) -> GarmentSample:
    unit = max(12, round(size / rng.uniform(4.2, 5.4)))
    canvas_w, canvas_h = canvas_size(unit)
    width, height = round(canvas_w * 1.25), round(canvas_h * 1.1)
    scene = draw_room(width, height, rng, floor_at=rng.uniform(0.8, 0.92))
    look = make_look(partner_garment(spec, rng), unit, rng, grain=4.0 * noise + 1.0)
    pose = random_pose(rng, width / 2 + rng.uniform(-0.1, 0.1) * width, height - 0.03 * height, unit)
    boxes = draw_person(scene, pose, look)
    box = boxes[spec.kind]
    image = _square_crop(scene, box.as_tuple(), rng.uniform(1.05, 1.3), size)
    image = apply_lighting(image, random_lighting(rng, noise), rng)
    if noise > 0 and rng.random() < 0.25 * noise:
        image = cv2.GaussianBlur(image, (0, 0), float(rng.uniform(0.5, 1.4)))
    return GarmentSample(image=image, caption=spec.caption(), attributes=spec.attributes(), box=box.as_tuple())


def _square_crop(image: np.ndarray, box: tuple[int, int, int, int], margin: float, size: int) -> np.ndarray:
    x0, y0, x1, y1 = box
    side = int(max(x1 - x0, y1 - y0) * margin)
    cx, cy = (x0 + x1) // 2, (y0 + y1) // 2
    left, top = cx - side // 2, cy - side // 2
    pad = max(0, -left, -top, left + side - image.shape[1], top + side - image.shape[0])
    if pad:
        image = cv2.copyMakeBorder(image, pad, pad, pad, pad, cv2.BORDER_REPLICATE)
        left, top = left + pad, top + pad
    crop = image[top : top + side, left : left + side]
    interpolation = cv2.INTER_AREA if side > size else cv2.INTER_LINEAR
    return cv2.resize(crop, (size, size), interpolation=interpolation)


def random_pose(rng: np.random.Generator, cx: float, feet_y: float, unit: float) -> Pose:
    """A standing pose with random arm, leg and body-turn angles."""
    hands_on_hips = rng.random() < 0.2
    arm = (lambda: rng.uniform(35, 50)) if hands_on_hips else (lambda: rng.uniform(4, 22))
    elbow = (lambda: -rng.uniform(70, 95)) if hands_on_hips else (lambda: rng.uniform(0, 25))
    return Pose(
        cx=cx,
        feet_y=feet_y,
        unit=unit,
        yaw=float(rng.uniform(0.72, 1.0)),
        arm_l=float(arm()),
        arm_r=float(arm()),
        elbow_l=float(elbow()),
        elbow_r=float(elbow()),
        leg_l=float(rng.uniform(1, 7)),
        leg_r=float(rng.uniform(1, 7)),
    )


def unit_for_height(person_height: float) -> int:
    """Head height in pixels for a person ``person_height`` pixels tall (7.6 heads)."""
    return max(8, round(person_height / 7.6))
