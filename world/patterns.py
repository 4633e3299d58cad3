"""Fabric textures for the creator world's garments: solid, stripes, plaid, dots, floral ...

Each texture is an RGB uint8 image the size of the area a garment can cover, drawn once per
garment and then cut out by the garment's shape every frame. Textures include a little
fabric grain so that flat colours still look like cloth after lighting and compression.
"""

from __future__ import annotations

from collections.abc import Callable

import cv2
import numpy as np

from world.vocabulary import COLOURS

Rgb = tuple[int, int, int]
Pattern = Callable[[int, int, Rgb, Rgb, float, np.random.Generator], np.ndarray]


def _fill(height: int, width: int, colour: Rgb) -> np.ndarray:
    row = np.empty((1, width, 3), np.uint8)
    row[:] = colour
    return np.repeat(row, height, axis=0)


def _mix(a: Rgb, b: Rgb, t: float) -> Rgb:
    return (
        int(a[0] * (1 - t) + b[0] * t),
        int(a[1] * (1 - t) + b[1] * t),
        int(a[2] * (1 - t) + b[2] * t),
    )


def _darker(colour: Rgb, factor: float) -> Rgb:
    return (int(colour[0] * factor), int(colour[1] * factor), int(colour[2] * factor))


def solid(h: int, w: int, c1: Rgb, c2: Rgb, scale: float, rng: np.random.Generator) -> np.ndarray:
    return _fill(h, w, c1)


def stripes(h: int, w: int, c1: Rgb, c2: Rgb, scale: float, rng: np.random.Generator) -> np.ndarray:
    period = max(4, int(scale * rng.uniform(0.5, 1.1)))
    band = max(2, int(period * rng.uniform(0.3, 0.55)))
    image = _fill(h, w, c1)
    rows = (np.arange(h) % period) < band
    if rng.random() < 0.25:  # vertical stripes
        cols = (np.arange(w) % period) < band
        image[:, cols] = c2
    else:
        image[rows] = c2
    return image


def checks(h: int, w: int, c1: Rgb, c2: Rgb, scale: float, rng: np.random.Generator) -> np.ndarray:
    period = max(4, int(scale * rng.uniform(0.6, 1.0)))
    yy = (np.arange(h) // period)[:, None]
    xx = (np.arange(w) // period)[None, :]
    image = _fill(h, w, c1)
    image[((yy + xx) % 2) == 1] = c2
    return image


def plaid(h: int, w: int, c1: Rgb, c2: Rgb, scale: float, rng: np.random.Generator) -> np.ndarray:
    period = max(8, int(scale * rng.uniform(1.2, 1.8)))
    band = max(3, period // 3)
    line_colour = _darker(c1, 0.45) if sum(c1) > 200 else _mix(c1, (240, 240, 230), 0.6)
    rows = ((np.arange(h) % period) < band)[:, None]
    cols = ((np.arange(w) % period) < band)[None, :]
    image = _fill(h, w, c1)
    image[rows & ~cols] = _mix(c1, c2, 0.45)
    image[cols & ~rows] = _mix(c1, c2, 0.45)
    image[rows & cols] = _mix(c1, c2, 0.8)
    thin_r = ((np.arange(h) % period) == period - 2)[:, None]
    thin_c = ((np.arange(w) % period) == period - 2)[None, :]
    image[np.broadcast_to(thin_r | thin_c, (h, w))] = line_colour
    return image


def polka_dots(h: int, w: int, c1: Rgb, c2: Rgb, scale: float, rng: np.random.Generator) -> np.ndarray:
    period = max(6, int(scale * rng.uniform(0.8, 1.3)))
    radius = max(1.5, period * rng.uniform(0.18, 0.3))
    yy = (np.arange(h) % period)[:, None] - period / 2
    offset = np.arange(w)[None, :] + (np.arange(h) // period % 2)[:, None] * (period // 2)
    xx = offset % period - period / 2
    image = _fill(h, w, c1)
    image[(yy * yy + xx * xx) <= radius * radius] = c2
    return image


def floral(h: int, w: int, c1: Rgb, c2: Rgb, scale: float, rng: np.random.Generator) -> np.ndarray:
    image = _fill(h, w, c1)
    count = int(h * w / max(scale * scale * 2.0, 16))
    leaf = (60, 120, 50) if c1 != COLOURS["green"] else (200, 220, 120)
    centre = (240, 200, 60) if c2 != COLOURS["yellow"] else (150, 60, 30)
    petal_r = max(2, int(scale * 0.22))
    for _ in range(count):
        x, y = int(rng.integers(0, w)), int(rng.integers(0, h))
        angle = rng.uniform(0, 2 * np.pi)
        lx, ly = int(x + 2 * petal_r * np.cos(angle)), int(y + 2 * petal_r * np.sin(angle))
        cv2.ellipse(image, (lx, ly), (petal_r, max(1, petal_r // 2)), np.degrees(angle), 0, 360, leaf, -1)
        for k in range(5):
            a = angle + k * 2 * np.pi / 5
            px, py = int(x + petal_r * np.cos(a)), int(y + petal_r * np.sin(a))
            cv2.circle(image, (px, py), petal_r, c2, -1, cv2.LINE_AA)
        cv2.circle(image, (x, y), max(1, petal_r // 2), centre, -1, cv2.LINE_AA)
    return image


def camo(h: int, w: int, c1: Rgb, c2: Rgb, scale: float, rng: np.random.Generator) -> np.ndarray:
    cells = (max(2, int(h / (scale * 1.5))), max(2, int(w / (scale * 1.5))))
    noise = rng.random(cells).astype(np.float32)
    smooth = cv2.resize(noise, (w, h), interpolation=cv2.INTER_CUBIC)
    other = cv2.resize(rng.random(cells).astype(np.float32), (w, h), interpolation=cv2.INTER_CUBIC)
    image = _fill(h, w, c1)
    image[smooth > 0.55] = _mix(c1, c2, 0.6)
    image[(other > 0.62) & (smooth <= 0.55)] = _darker(c1, 0.55)
    image[(smooth < 0.25)] = _mix(c1, (60, 50, 35), 0.5)
    return image


def denim(h: int, w: int, c1: Rgb, c2: Rgb, scale: float, rng: np.random.Generator) -> np.ndarray:
    twill = ((np.add.outer(np.arange(h), np.arange(w)) % 4) < 2).astype(np.int16) * 14 - 7
    fade = np.exp(-(((np.arange(w) - w / 2) / (w * 0.3)) ** 2)) * 28
    shift = twill + fade.astype(np.int16)[None, :]
    return cv2.add(_fill(h, w, c1), cv2.merge([shift] * 3), dtype=cv2.CV_8U)


PATTERN_DRAWERS: dict[str, Pattern] = {
    "solid": solid,
    "stripes": stripes,
    "plaid": plaid,
    "polka dots": polka_dots,
    "floral": floral,
    "camo": camo,
    "denim": denim,
    "checks": checks,
}


def fabric(
    height: int,
    width: int,
    pattern: str,
    colour: str,
    accent: str,
    scale: float,
    rng: np.random.Generator,
    grain: float = 6.0,
) -> np.ndarray:
    """An RGB texture of ``pattern`` in ``colour`` with ``accent`` as its second colour.

    Args:
        height: texture height in pixels.
        width: texture width in pixels.
        pattern: a key of PATTERN_DRAWERS.
        colour: main colour name.
        accent: second colour name (stripes, dots, flowers, checks).
        scale: pattern period in pixels (stripes width, dot spacing ...).
        rng: random generator (flower positions, stripe widths).
        grain: standard deviation of the fabric grain noise, in grey levels.

    Returns:
        ``height`` x ``width`` x 3 uint8 RGB texture.
    """
    c1, c2 = COLOURS[colour], COLOURS[accent]
    if c1 == c2:
        c2 = _mix(c1, (255, 255, 255), 0.5) if sum(c1) < 380 else _darker(c1, 0.5)
    image = PATTERN_DRAWERS[pattern](height, width, c1, c2, scale, rng)
    if grain > 0:
        image = cv2.add(image, grain_noise(height, width, grain, rng), dtype=cv2.CV_8U)
    return image


_GRAIN_TILE = np.random.default_rng(12345).normal(0, 1, size=(640, 640)).astype(np.float32)


def grain_noise(height: int, width: int, sigma: float, rng: np.random.Generator) -> np.ndarray:
    """Gaussian-looking grain, ``height`` x ``width`` x 3 int16, cut at a random offset
    from a fixed noise tile (much cheaper than drawing fresh noise every time)."""
    reps = (height // 640 + 2, width // 640 + 2)
    tile = _GRAIN_TILE if reps == (2, 2) else np.tile(_GRAIN_TILE, reps)
    y = int(rng.integers(tile.shape[0] - height + 1))
    x = int(rng.integers(tile.shape[1] - width + 1))
    window = (tile[y : y + height, x : x + width] * sigma).astype(np.int16)
    return cv2.merge([window] * 3)
