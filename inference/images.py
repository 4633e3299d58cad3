"""Load any image a user hands us as RGB uint8, refusing unusable ones before decoding.

Every stage that takes images from outside (search queries, training folders, the app)
goes through :func:`load_image`. It accepts a path, raw bytes, a PIL image or a numpy
array and always returns a C-contiguous ``(H, W, 3)`` uint8 array:

- grayscale, palette, 1-bit, CMYK, YCbCr and LAB images are converted to RGB;
- alpha (RGBA, LA, palette transparency) is composited onto white;
- 16-bit and 32-bit integer or float images are scaled down to 8 bits;
- EXIF orientation is applied;
- images that are too small (1x1-ish) or too large (e.g. 20000x20000) are refused from
  the header, before any pixel buffer is allocated.

Non-images, truncated files and unreadable paths raise :class:`BadInputError` with a
message meant for the user.
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import os
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from core.errors import BadInputError

ImageSource = str | os.PathLike[str] | bytes | bytearray | memoryview | np.ndarray | Any


@dataclasses.dataclass(frozen=True)
class ImageLimits:
    """Which images are accepted at all."""

    min_side: int = 8  # smaller images (1x1 tracking pixels, icons) carry no garment
    max_side: int = 16384  # longest side accepted, in pixels
    max_pixels: int = 64_000_000  # width * height accepted (a 20000x20000 image is 400 M)
    max_bytes: int = 200 * 1024 * 1024  # largest encoded file read into memory


DEFAULT_LIMITS = ImageLimits()


def load_image(source: ImageSource, limits: ImageLimits = DEFAULT_LIMITS) -> np.ndarray:
    """Load ``source`` as an RGB uint8 array of shape (H, W, 3).

    Args:
        source: a file path, encoded image bytes, a ``PIL.Image.Image`` or a numpy array
            (H, W), (H, W, 1), (H, W, 3) or (H, W, 4) of any integer or float dtype.
        limits: size limits; images outside them are refused before decoding.

    Returns:
        A C-contiguous uint8 array (H, W, 3).

    Raises:
        BadInputError: the source is not an image, cannot be read, or is too small or
            too large.
    """
    if isinstance(source, np.ndarray):
        return array_to_rgb(source, limits)
    from PIL import Image

    if isinstance(source, Image.Image):
        _check_size(source.width, source.height, limits, "image")
        return _pil_to_rgb(source)
    if isinstance(source, bytes | bytearray | memoryview):
        return _decode(io.BytesIO(bytes(source)), "image bytes", limits)
    if isinstance(source, str | os.PathLike):
        path = Path(source)
        try:
            size = path.stat().st_size
        except FileNotFoundError:
            raise BadInputError(f"image file not found: {path}") from None
        except OSError as exc:
            raise BadInputError(f"cannot read image file {path}: {exc.strerror or exc}") from None
        if path.is_dir():
            raise BadInputError(f"{path} is a folder, not an image file")
        if size > limits.max_bytes:
            raise BadInputError(f"{path} is {size / 1e6:.0f} MB; images over "
                                f"{limits.max_bytes / 1e6:.0f} MB are refused")
        try:
            payload = path.read_bytes()
        except OSError as exc:
            raise BadInputError(f"cannot read image file {path}: {exc.strerror or exc}") from None
        return _decode(io.BytesIO(payload), str(path), limits)
    raise BadInputError(f"cannot load an image from a {type(source).__name__}")


def _check_size(width: int, height: int, limits: ImageLimits, what: str) -> None:
    if min(width, height) < limits.min_side:
        raise BadInputError(
            f"{what} is {width}x{height} pixels; images smaller than "
            f"{limits.min_side}x{limits.min_side} are refused"
        )
    if max(width, height) > limits.max_side or width * height > limits.max_pixels:
        raise BadInputError(
            f"{what} is {width}x{height} pixels, too large (at most {limits.max_side} pixels a "
            f"side and {limits.max_pixels / 1e6:.0f} megapixels); downscale it first"
        )


def _decode(stream: io.BytesIO, what: str, limits: ImageLimits) -> np.ndarray:
    from PIL import Image, UnidentifiedImageError

    with warnings.catch_warnings():
        # Our own limits replace PIL's decompression-bomb heuristics (checked below).
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        try:
            image = Image.open(stream)  # reads the header only
        except UnidentifiedImageError:
            raise BadInputError(f"{what} is not an image in a format we can read") from None
        except Image.DecompressionBombError as exc:  # PIL refuses > ~179 MP from the header
            raise BadInputError(f"{what} is too large to decode ({exc}); downscale it first") from None
        except (OSError, ValueError, SyntaxError) as exc:
            raise BadInputError(f"{what} cannot be read as an image: {exc}") from None
        _check_size(image.width, image.height, limits, what)
        try:
            image.load()
        except (OSError, ValueError, SyntaxError) as exc:
            raise BadInputError(f"{what} is damaged or truncated: {exc}") from None
    from PIL import ImageOps

    with contextlib.suppress(Exception):  # a broken EXIF block must not lose the image
        image = ImageOps.exif_transpose(image) or image  # type: ignore[assignment]
    return _pil_to_rgb(image)


def _pil_to_rgb(image: Any) -> np.ndarray:
    """Any PIL mode -> RGB uint8 (alpha over white, high bit depths scaled)."""
    mode = image.mode
    if mode == "RGB":
        return np.ascontiguousarray(np.asarray(image, dtype=np.uint8))
    if mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        return array_to_rgb(np.asarray(image), DEFAULT_LIMITS, check_size=False)
    if mode == "P" and "transparency" in image.info:
        image = image.convert("RGBA")
    elif mode == "P":
        image = image.convert("RGB")
    if image.mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = np.asarray(image.convert("RGBA"), dtype=np.uint8)
        return _composite_on_white(rgba)
    return np.ascontiguousarray(np.asarray(image.convert("RGB"), dtype=np.uint8))


def _composite_on_white(rgba: np.ndarray) -> np.ndarray:
    alpha = rgba[..., 3:4].astype(np.float32) / 255.0
    rgb = rgba[..., :3].astype(np.float32) * alpha + 255.0 * (1.0 - alpha)
    return np.ascontiguousarray(np.clip(rgb + 0.5, 0, 255).astype(np.uint8))


def _to_uint8(values: np.ndarray) -> np.ndarray:
    if values.dtype == np.uint8:
        return values
    if values.dtype == np.bool_:
        return values.astype(np.uint8) * 255
    if np.issubdtype(values.dtype, np.floating):
        finite = np.nan_to_num(values.astype(np.float32), nan=0.0, posinf=1.0, neginf=0.0)
        scale = 255.0 if finite.size == 0 or float(finite.max()) <= 1.0 else 1.0
        return np.clip(finite * scale + 0.5, 0, 255).astype(np.uint8)
    if np.issubdtype(values.dtype, np.integer):
        top = int(values.max()) if values.size else 0
        if values.dtype.itemsize >= 2 and (values.dtype == np.uint16 or top > 255):
            full_scale = 65535.0 if top <= 65535 else float(top)  # 16-bit, else its own range
            scaled = values.astype(np.float64) * (255.0 / full_scale) + 0.5
            return np.clip(scaled, 0, 255).astype(np.uint8)
        return np.clip(values, 0, 255).astype(np.uint8)
    raise BadInputError(f"image arrays of dtype {values.dtype} are not supported")


def array_to_rgb(
    array: np.ndarray, limits: ImageLimits = DEFAULT_LIMITS, *, check_size: bool = True
) -> np.ndarray:
    """A numpy image of any common layout and dtype as RGB uint8 (H, W, 3).

    Args:
        array: (H, W), (H, W, 1), (H, W, 2) gray+alpha, (H, W, 3) or (H, W, 4) RGBA.
        limits: size limits.
        check_size: refuse images outside ``limits``.

    Returns:
        A C-contiguous uint8 array (H, W, 3).

    Raises:
        BadInputError: wrong number of dimensions or channels, or a refused size.
    """
    if array.ndim == 3 and array.shape[-1] == 1:
        array = array[..., 0]
    if array.ndim not in (2, 3) or (array.ndim == 3 and array.shape[-1] not in (2, 3, 4)):
        raise BadInputError(
            f"an image array must be (H, W), (H, W, 3) or (H, W, 4); got shape {array.shape}"
        )
    if check_size:
        _check_size(array.shape[1], array.shape[0], limits, "image")
    pixels = _to_uint8(array)
    if pixels.ndim == 2:
        pixels = np.repeat(pixels[..., None], 3, axis=2)
    elif pixels.shape[-1] == 2:
        gray, alpha = pixels[..., :1], pixels[..., 1:]
        pixels = _composite_on_white(np.concatenate([gray, gray, gray, alpha], axis=-1))
    elif pixels.shape[-1] == 4:
        pixels = _composite_on_white(pixels)
    return np.ascontiguousarray(pixels)
