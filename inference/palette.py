"""A garment's main colour, measured from its pixels and named from a fashion palette.

The palette (``configs/palette.yaml``) lists named colours with CIE Lab values and a basic
colour family ("butter yellow" -> yellow). :func:`measure_colour` finds the garment's main
colour in a crop: it keeps the region where the garment sits, clusters the pixels in Lab,
sets aside clusters that look like the crop's background (they fill the crop's border more
than its middle) and, when something else is there, skin; the biggest remaining cluster,
weighted towards the middle, is the garment. :meth:`Palette.nearest` names a Lab colour by
the smallest CIEDE2000 difference.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from configs import ConfigError, packaged, read_yaml, setting
from core.errors import BadInputError

# sRGB (D65) -> XYZ, and the D65 white point
_RGB_TO_XYZ = np.array(
    [[0.4124564, 0.3575761, 0.1804375], [0.2126729, 0.7151522, 0.0721750], [0.0193339, 0.1191920, 0.9503041]]
)
_WHITE = np.array([0.95047, 1.0, 1.08883])


def srgb_to_lab(rgb: np.ndarray) -> np.ndarray:
    """sRGB values (..., 3), uint8 or 0-255 floats -> CIE Lab (..., 3), D65."""
    c = np.asarray(rgb, np.float64) / 255.0
    linear = np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)
    xyz = linear @ _RGB_TO_XYZ.T / _WHITE
    f = np.where(xyz > 216 / 24389, np.cbrt(xyz), (24389 / 27 * xyz + 16) / 116)
    return np.stack([116 * f[..., 1] - 16, 500 * (f[..., 0] - f[..., 1]), 200 * (f[..., 1] - f[..., 2])], axis=-1)


def ciede2000(lab1: np.ndarray, lab2: np.ndarray) -> np.ndarray:
    """CIEDE2000 colour difference between Lab colours (broadcasting over leading axes)."""
    lab1, lab2 = np.asarray(lab1, np.float64), np.asarray(lab2, np.float64)
    l1, a1, b1 = np.moveaxis(lab1, -1, 0)
    l2, a2, b2 = np.moveaxis(lab2, -1, 0)
    c_mean = (np.hypot(a1, b1) + np.hypot(a2, b2)) / 2
    g = 0.5 * (1 - np.sqrt(c_mean**7 / (c_mean**7 + 25.0**7)))
    a1p, a2p = a1 * (1 + g), a2 * (1 + g)
    c1p, c2p = np.hypot(a1p, b1), np.hypot(a2p, b2)
    h1p = np.degrees(np.arctan2(b1, a1p)) % 360
    h2p = np.degrees(np.arctan2(b2, a2p)) % 360
    dl, dc = l2 - l1, c2p - c1p
    dh = h2p - h1p
    dh = np.where(dh > 180, dh - 360, np.where(dh < -180, dh + 360, dh))
    dh = np.where(c1p * c2p == 0, 0.0, dh)
    dh_big = 2 * np.sqrt(c1p * c2p) * np.sin(np.radians(dh / 2))
    l_mean, cp_mean = (l1 + l2) / 2, (c1p + c2p) / 2
    h_sum = h1p + h2p
    h_mean = np.where(np.abs(h1p - h2p) > 180, np.where(h_sum < 360, h_sum + 360, h_sum - 360), h_sum) / 2
    h_mean = np.where(c1p * c2p == 0, h_sum, h_mean)
    t = (1 - 0.17 * np.cos(np.radians(h_mean - 30)) + 0.24 * np.cos(np.radians(2 * h_mean))
         + 0.32 * np.cos(np.radians(3 * h_mean + 6)) - 0.20 * np.cos(np.radians(4 * h_mean - 63)))
    s_l = 1 + 0.015 * (l_mean - 50) ** 2 / np.sqrt(20 + (l_mean - 50) ** 2)
    s_c = 1 + 0.045 * cp_mean
    s_h = 1 + 0.015 * cp_mean * t
    r_t = (-2 * np.sqrt(cp_mean**7 / (cp_mean**7 + 25.0**7))
           * np.sin(np.radians(60 * np.exp(-(((h_mean - 275) / 25) ** 2)))))
    terms = dl / s_l, dc / s_c, dh_big / s_h
    return np.sqrt(terms[0] ** 2 + terms[1] ** 2 + terms[2] ** 2 + r_t * terms[1] * terms[2])


# ----------------------------------------------------------------------------- palette


@dataclasses.dataclass(frozen=True)
class PaletteColour:
    """One named colour of the palette."""

    name: str  # e.g. "butter yellow"
    lab: tuple[float, float, float]  # CIE Lab, D65
    family: str  # the basic colour it belongs to, itself a palette name ("yellow")
    hex: str = ""  # sRGB swatch, e.g. "#f8e49a"


@dataclasses.dataclass(frozen=True)
class Palette:
    """Named colours; a measured colour takes the nearest one's name."""

    colours: tuple[PaletteColour, ...]

    def __post_init__(self) -> None:
        names = [c.name for c in self.colours]
        if not names or len(set(names)) != len(names):
            raise BadInputError("a palette needs at least one colour and no name twice")
        missing = sorted({c.family for c in self.colours} - set(names))
        if missing:
            raise BadInputError(f"palette families that are not palette colours: {', '.join(missing)}")

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.colours]

    def colour(self, name: str) -> PaletteColour:
        for colour in self.colours:
            if colour.name == name:
                return colour
        raise KeyError(name)

    def family(self, name: str) -> str:
        return self.colour(name).family

    def nearest(self, lab: np.ndarray) -> tuple[list[str], np.ndarray]:
        """Names of the entries nearest to each Lab colour (N, 3), and the CIEDE2000 distances."""
        lab = np.atleast_2d(np.asarray(lab, np.float64))
        table = np.asarray([c.lab for c in self.colours], np.float64)
        distances = ciede2000(lab[:, None, :], table[None, :, :])
        best = distances.argmin(axis=1)
        return [self.colours[i].name for i in best], distances[np.arange(len(lab)), best]


def load_palette(path: str | Path | None = None) -> Palette:
    """Read a palette YAML (``colours: [{name, lab: [L, a, b], family, hex}, ...]``).

    Args:
        path: the YAML file; None reads the packaged ``configs/palette.yaml``.

    Raises:
        BadInputError: the file is missing, not YAML, or an entry is not shaped as above.
    """
    path = Path(path) if path else packaged("palette")
    try:
        raw = read_yaml(path)
    except ConfigError as exc:
        raise BadInputError(f"colour palette: {exc}") from None
    entries = raw.get("colours")
    if not isinstance(entries, list) or not entries:
        raise BadInputError(f"colour palette {path} has no 'colours' list")
    colours = []
    for n, entry in enumerate(entries):
        try:
            lab = tuple(float(v) for v in entry["lab"])
            name = str(entry["name"]).strip()
            if len(lab) != 3 or not name:
                raise ValueError("lab must hold 3 numbers and name must not be empty")
            colours.append(PaletteColour(name, lab, str(entry.get("family", name)), str(entry.get("hex", ""))))  # type: ignore[arg-type]
        except (KeyError, TypeError, ValueError) as exc:
            raise BadInputError(f"colour palette {path}: entry {n + 1} is not {{name, lab: [L, a, b], family}}: {exc}") from None
    return Palette(tuple(colours))


# ----------------------------------------------------------------------------- measuring


@dataclasses.dataclass
class ColourConfig:
    """How a garment's main colour is measured from its crop."""

    top_rows: tuple[float, float] = (0.2, 0.85)  # rows of a top crop the garment fills (fractions)
    bottom_rows: tuple[float, float] = (0.3, 0.95)  # rows of a bottom crop (its upper part may show the top)
    full_rows: tuple[float, float] = (0.2, 0.9)  # rows of a full-outfit crop
    columns: tuple[float, float] = (0.2, 0.8)  # columns the garment fills (arms and room at the sides)
    bottom_centre: float = setting(0.25, low=0, high=1)  # where in a bottom region pixels weigh most (the hips; legs may show below)
    pixels: int = setting(48, low=8)  # the region is resized to at most this many pixels a side
    clusters: int = setting(4, low=1)  # Lab clusters the region's pixels are grouped into
    merge_match: float = setting(6.0, low=0)  # CIEDE2000 within which two clusters are one colour's shades and joined
    border: float = setting(0.08, low=0, high=0.5, high_open=True)  # width of the crop's border strip (fraction)
    background_ratio: float = setting(1.5, low=1)  # a cluster filling the border this many times more than the region is background
    border_match: float = setting(12.0, low=0)  # CIEDE2000 within which a border pixel counts as a cluster's colour
    skin_weight: float = setting(0.1, low=0, high=1)  # weight of a skin-toned cluster when another colour is there
    min_share: float = setting(0.1, low=0, high=1)  # smallest weighted share of the region a garment colour fills
    above_match: float = setting(10.0, low=0)  # CIEDE2000 within which a colour is the neighbour garment's (above or below; see read_colour)
    above_weight: float = setting(0.2, low=0, high=1)  # weight of the neighbour's colour in the region's half nearest it
    above_low: float = setting(0.25, low=0, high=1)  # ...when less than this share of its pixels lies in the other half
    plain_match: float = setting(15.0, low=0)  # CIEDE2000 within which a garment pixel counts as its main colour
    blend_distance: float = setting(6.0, low=0)  # Lab distance from the line between two clusters within which a cluster is their edges' blend
    second_ratio: float = setting(0.7, low=0, high=1)  # a second garment colour filling this share of the main one's pixels makes the main colour uncertain


def _rows(slot: str, config: ColourConfig) -> tuple[float, float]:
    return {"top": config.top_rows, "bottom": config.bottom_rows}.get(slot, config.full_rows)


def _resize(image: np.ndarray, size: int) -> np.ndarray:
    import cv2

    h, w = image.shape[:2]
    scale = min(1.0, size / max(h, w))
    if scale >= 1.0:
        return image
    return cv2.resize(image, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_AREA)


def _kmeans(pixels: np.ndarray, k: int, steps: int = 12) -> tuple[np.ndarray, np.ndarray]:
    """Deterministic Lab k-means: centres start at lightness quantiles."""
    k = min(k, len(pixels))
    order = np.argsort(pixels[:, 0], kind="stable")
    centres = pixels[order[np.linspace(0, len(pixels) - 1, k).round().astype(int)]].copy()
    labels = np.zeros(len(pixels), dtype=int)
    for _ in range(steps):
        labels = np.argmin(((pixels[:, None, :] - centres[None]) ** 2).sum(-1), axis=1)
        for c in range(k):
            members = pixels[labels == c]
            if len(members):
                centres[c] = members.mean(axis=0)
    return centres, labels


def _merge_close(pixels: np.ndarray, centres: np.ndarray, labels: np.ndarray, match: float) -> tuple[np.ndarray, np.ndarray]:
    """Clusters whose centres lie within ``match`` (CIEDE2000) joined, nearest pair first:
    k-means splits one cloth's shades (light and shadow) as readily as two colours."""
    centres, labels = centres.copy(), labels.copy()
    while len(centres) > 1:
        gaps = ciede2000(centres[:, None, :], centres[None, :, :])
        gaps[np.eye(len(centres), dtype=bool)] = np.inf
        i, j = np.unravel_index(int(np.argmin(gaps)), gaps.shape)
        if gaps[i, j] > match:
            break
        i, j = min(i, j), max(i, j)
        labels[labels == j] = i
        labels[labels > j] -= 1
        centres = np.delete(centres, j, axis=0)
        centres[i] = pixels[labels == i].mean(axis=0)
    return centres, labels


def is_skin(lab: np.ndarray) -> np.ndarray:
    """Whether Lab colours lie in the range of human skin tones (warm hue, moderate chroma)."""
    lab = np.atleast_2d(lab)
    chroma = np.hypot(lab[:, 1], lab[:, 2])
    hue = np.degrees(np.arctan2(lab[:, 2], lab[:, 1]))
    return (lab[:, 0] > 20) & (lab[:, 0] < 90) & (lab[:, 1] > 4) & (chroma > 8) & (chroma < 40) & (hue > 35) & (hue < 75)


@dataclasses.dataclass(frozen=True)
class ColourReading:
    """What a crop's pixels say about its garment's colour."""

    lab: np.ndarray  # main colour, CIE Lab
    main_share: float  # share of the garment's pixels near the main colour (plain garments: near 1)
    second: np.ndarray | None = None  # a print's other colour when it fills nearly as much (checks): the main one is a toss-up


def measure_colour(
    image: np.ndarray, slot: str, config: ColourConfig | None = None, above: np.ndarray | None = None
) -> np.ndarray | None:
    """The Lab colour of the garment a crop shows, or None (see :func:`read_colour`)."""
    reading = read_colour(image, slot, config, above)
    return None if reading is None else reading.lab


def read_colour(
    image: np.ndarray, slot: str, config: ColourConfig | None = None, above: np.ndarray | None = None,
    below: np.ndarray | None = None,
) -> ColourReading | None:
    """The main colour of the garment a crop shows, or None when no colour fills enough of it.

    Args:
        image: RGB uint8 crop (H, W, 3) as the localiser cut it.
        slot: 'top', 'bottom' or 'full' (which rows of the crop the garment fills).
        config: measuring settings; default :class:`ColourConfig`.
        above: Lab colour of the garment worn above (the top, when measuring a bottom of
            the same frame): a cluster of that colour sitting in the region's upper half is
            the top showing through the waist, and counts for little.
        below: Lab colour of the garment worn below (the bottom, when measuring a top of the
            same frame): a cluster of that colour sitting in the region's lower half is the
            bottom showing under a short top (a crop top's box reaches the jeans), and counts
            for little.
    """
    config = config or ColourConfig()
    if image.ndim != 3 or image.shape[0] < 4 or image.shape[1] < 4:
        return None
    small = srgb_to_lab(_resize(image[..., :3], config.pixels * 2))
    h, w = small.shape[:2]
    (y0, y1), (x0, x1) = _rows(slot, config), config.columns
    region = small[int(y0 * h) : max(int(y0 * h) + 1, int(y1 * h)), int(x0 * w) : max(int(x0 * w) + 1, int(x1 * w))]
    pixels = region.reshape(-1, 3)
    centre_row = config.bottom_centre if slot == "bottom" else 0.5
    weights = _centre_weights(region.shape[:2], centre_row).reshape(-1)
    centres, labels = _kmeans(pixels, config.clusters)
    share = np.bincount(labels, weights=weights, minlength=len(centres))
    centres, labels, core = _dissolve_blends(pixels, centres, labels, share, config.blend_distance)
    centres, labels = _merge_close(pixels, centres, labels, config.merge_match)
    share = np.bincount(labels, weights=weights, minlength=len(centres)) / weights.sum()
    score = share * (1.0 - _background(small, centres, share, config))
    rows = np.repeat(np.linspace(0, 1, region.shape[0]), region.shape[1])
    # a neighbour garment showing in the region (the top through a bottom's waist, the bottom
    # below a short top) sits in one half; a garment of the neighbour's colour fills both halves
    for neighbour, half in ((above, rows >= 0.5), (below, rows < 0.5)):
        if neighbour is not None:
            inside = np.bincount(labels, weights=half, minlength=len(centres)) / np.maximum(np.bincount(labels, minlength=len(centres)), 1)
            same = ciede2000(centres, np.asarray(neighbour, np.float64)[None, :]) <= config.above_match
            score = np.where((inside < config.above_low) & same, score * config.above_weight, score)
    skin = is_skin(centres) & ~_fills_middle(labels, share, rows, region.shape[1], centre_row)
    if (score[~skin] >= config.min_share).any():
        score = np.where(skin, score * config.skin_weight, score)
    garment = np.isin(labels, np.flatnonzero(score >= 0.5 * share))  # clusters not set aside
    order = np.argsort(score)[::-1]
    best = int(order[0])
    if share[best] < config.min_share:
        return None
    lab = _median(pixels, (labels == best) & core, labels == best)
    near = ciede2000(pixels[garment], lab[None, :]) <= config.plain_match
    main_share = float(np.average(near, weights=weights[garment])) if garment.any() else 1.0
    second = None
    if len(order) > 1 and score[order[1]] >= config.second_ratio * score[best]:
        other = _median(pixels, (labels == order[1]) & core, labels == order[1])
        second = other if ciede2000(other, lab) > config.plain_match else None
    return ColourReading(lab, main_share, second)


def _median(pixels: np.ndarray, chosen: np.ndarray, fallback: np.ndarray) -> np.ndarray:
    return np.median(pixels[chosen if chosen.any() else fallback], axis=0)


def _fills_middle(labels: np.ndarray, share: np.ndarray, rows: np.ndarray, width: int, centre_row: float) -> np.ndarray:
    """Clusters that fill the middle of the region (the middle columns, around the row where
    the garment sits) at least as much as the whole region: the garment itself, even in a
    skin tone (brown, camel), where arms and a neck sit at the sides and the top."""
    columns = np.tile(np.linspace(0, 1, width), len(labels) // width)
    middle = (np.abs(columns - 0.5) <= 0.2) & (np.abs(rows - centre_row) <= 0.25)
    if not middle.any():
        return np.zeros(len(share), bool)
    middle_share = np.bincount(labels[middle], minlength=len(share)) / middle.sum()
    return middle_share >= np.asarray(share)


def _dissolve_blends(pixels: np.ndarray, centres: np.ndarray, labels: np.ndarray, share: np.ndarray,
                     distance: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Clusters that are the blend where two colours meet (a print's edges, blurred and
    compressed: their centre lies on the Lab line between two clusters, away from both ends,
    and is smaller than the bigger end) handed back to the two, each pixel to the end it is
    nearer along the line. Left alone, a blend splits or tips a print's balance. Also returns
    which pixels were not blends: a colour is measured on those."""
    labels, core = labels.copy(), np.ones(len(labels), bool)
    for k, centre in enumerate(centres):
        ends = None
        pairs = [(a, b) for a in range(len(centres)) for b in range(a + 1, len(centres)) if k not in (a, b)]
        for i, j in pairs:
            line = centres[j] - centres[i]
            t = float(np.dot(centre - centres[i], line) / max(np.dot(line, line), 1e-9))
            gap = float(np.linalg.norm(centres[i] + t * line - centre))
            if 0.15 <= t <= 0.85 and gap <= distance and share[k] < max(share[i], share[j]) and (ends is None or gap < ends[2]):
                ends = (i, j, gap)
        if ends is not None:
            i, j, _ = ends
            members = np.flatnonzero(labels == k)
            line = centres[j] - centres[i]
            along = (pixels[members] - centres[i]) @ line / max(float(np.dot(line, line)), 1e-9)
            labels[members] = np.where(along < 0.5, i, j)
            core[members] = False
    kept = np.unique(labels)
    return np.asarray([pixels[labels == c].mean(axis=0) for c in kept]), np.searchsorted(kept, labels), core


def _centre_weights(shape: tuple[int, ...], centre_row: float = 0.5) -> np.ndarray:
    ys = np.linspace(-2 * centre_row, 2 * (1 - centre_row), shape[0])[:, None]
    xs = np.linspace(-1, 1, shape[1])[None, :]
    return np.exp(-(ys**2 + xs**2))


def _background(lab: np.ndarray, centres: np.ndarray, share: np.ndarray, config: ColourConfig) -> np.ndarray:
    """1 for clusters that fill the crop's border much more than the garment region, else 0."""
    h, w = lab.shape[:2]
    b = max(1, round(config.border * min(h, w)))
    strip = np.concatenate([lab[:b].reshape(-1, 3), lab[-b:].reshape(-1, 3),
                            lab[:, :b].reshape(-1, 3), lab[:, -b:].reshape(-1, 3)])
    distances = ciede2000(strip[:, None, :], centres[None, :, :])
    nearest = distances.argmin(axis=1)
    close = distances[np.arange(len(strip)), nearest] <= config.border_match
    border_share = np.bincount(nearest[close], minlength=len(centres)) / len(strip)
    return (border_share > config.background_ratio * share).astype(np.float64)


def name_colours(labs: Sequence[np.ndarray | None], palette: Palette) -> list[str | None]:
    """Palette names of measured colours (None stays None)."""
    found = [i for i, lab in enumerate(labs) if lab is not None]
    names: list[str | None] = [None] * len(labs)
    if found:
        nearest, _ = palette.nearest(np.stack([labs[i] for i in found]))  # type: ignore[misc]
        for i, name in zip(found, nearest, strict=True):
            names[i] = name
    return names
