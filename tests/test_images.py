"""inference.images.load_image: every image mode in, RGB uint8 out; bad input refused clearly."""

from __future__ import annotations

import io
import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from core.errors import BadInputError
from inference.images import ImageLimits, array_to_rgb, load_image


def _encode(image: Image.Image, fmt: str = "PNG", **kwargs) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **kwargs)
    return buffer.getvalue()


def _rgb_ok(array: np.ndarray, height: int, width: int) -> None:
    assert array.dtype == np.uint8
    assert array.shape == (height, width, 3)
    assert array.flags["C_CONTIGUOUS"]


def test_rgb_png_roundtrip(tmp_path):
    pixels = np.random.default_rng(0).integers(0, 255, (20, 30, 3), dtype=np.uint8)
    path = tmp_path / "a.png"
    Image.fromarray(pixels).save(path)
    out = load_image(path)
    _rgb_ok(out, 20, 30)
    np.testing.assert_array_equal(out, pixels)
    np.testing.assert_array_equal(load_image(str(path)), pixels)
    np.testing.assert_array_equal(load_image(path.read_bytes()), pixels)


def test_grayscale_becomes_three_equal_channels():
    gray = np.arange(400, dtype=np.uint8).reshape(20, 20)
    out = load_image(_encode(Image.fromarray(gray, "L")))
    _rgb_ok(out, 20, 20)
    assert (out[..., 0] == gray).all() and (out[..., 1] == gray).all() and (out[..., 2] == gray).all()


def test_alpha_is_composited_on_white():
    rgba = np.zeros((16, 16, 4), np.uint8)
    rgba[..., 0] = 255  # red ...
    rgba[:8, :, 3] = 255  # ... opaque at the top, fully transparent at the bottom
    out = load_image(_encode(Image.fromarray(rgba, "RGBA")))
    _rgb_ok(out, 16, 16)
    assert tuple(out[0, 0]) == (255, 0, 0)
    assert tuple(out[15, 0]) == (255, 255, 255)


def test_gray_alpha_and_palette_with_transparency():
    la = Image.new("LA", (12, 12), (0, 0))  # black, fully transparent -> white
    _rgb_ok(out := load_image(_encode(la)), 12, 12)
    assert (out == 255).all()
    palette = Image.new("P", (12, 12), 1)
    palette.putpalette([0, 0, 0, 10, 200, 30] + [0] * 762)
    out = load_image(_encode(palette))
    assert tuple(out[0, 0]) == (10, 200, 30)
    palette.info["transparency"] = 1
    out = load_image(_encode(palette, transparency=1))
    assert tuple(out[0, 0]) == (255, 255, 255)


def test_16_bit_grayscale_png_is_scaled_to_8_bits():
    values = np.linspace(0, 65535, 16 * 16).astype(np.uint16).reshape(16, 16)
    image = Image.fromarray(values)  # mode I;16
    out = load_image(_encode(image))
    _rgb_ok(out, 16, 16)
    assert out[0, 0, 0] == 0 and out[-1, -1, 0] == 255
    assert np.all(np.diff(out[..., 0].ravel().astype(int)) >= 0)  # order kept


def test_cmyk_jpeg_becomes_rgb():
    cmyk = Image.new("CMYK", (24, 24), (0, 255, 255, 0))  # pure red in CMYK
    out = load_image(_encode(cmyk, "JPEG", quality=95))
    _rgb_ok(out, 24, 24)
    red, green, blue = out[12, 12].astype(int)
    assert red > 200 and green < 60 and blue < 60


def test_exif_orientation_is_applied():
    pixels = np.zeros((10, 30, 3), np.uint8)
    image = Image.fromarray(pixels)
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees
    out = load_image(_encode(image, "JPEG", exif=exif.tobytes()))
    _rgb_ok(out, 30, 10)


def test_arrays_of_any_layout():
    _rgb_ok(array_to_rgb(np.zeros((9, 9), np.uint8)), 9, 9)
    _rgb_ok(array_to_rgb(np.zeros((9, 9, 1), np.uint8)), 9, 9)
    floats = array_to_rgb(np.full((9, 9, 3), 0.5, np.float32))
    assert floats[0, 0, 0] == 128
    sixteen = array_to_rgb(np.full((9, 9, 3), 65535, np.uint16))
    assert sixteen[0, 0, 0] == 255
    rgba = np.zeros((9, 9, 4), np.uint8)
    assert (array_to_rgb(rgba) == 255).all()
    with pytest.raises(BadInputError, match="shape"):
        array_to_rgb(np.zeros((9, 9, 5), np.uint8))
    with pytest.raises(BadInputError):
        array_to_rgb(np.zeros((2, 9, 9, 3), np.uint8))


def test_pil_image_input():
    out = load_image(Image.new("L", (10, 12), 7))
    _rgb_ok(out, 12, 10)
    assert (out == 7).all()


@pytest.mark.parametrize("size", [(1, 1), (1, 500), (3, 3)])
def test_tiny_images_are_refused(size):
    with pytest.raises(BadInputError, match="smaller than"):
        load_image(_encode(Image.new("RGB", size)))
    with pytest.raises(BadInputError, match="smaller than"):
        load_image(np.zeros((size[1], size[0], 3), np.uint8))


def _png_header_only(width: int, height: int) -> bytes:
    """A PNG whose header claims width x height but carries (almost) no pixel data."""
    def chunk(kind: bytes, payload: bytes) -> bytes:
        return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")


def test_huge_image_refused_from_header_before_decoding(tmp_path):
    import tracemalloc

    payload = _png_header_only(20000, 20000)  # would be 1.2 GB decoded
    path = tmp_path / "huge.png"
    path.write_bytes(payload)
    tracemalloc.start()
    with pytest.raises(BadInputError, match="too large"):
        load_image(path)
    with pytest.raises(BadInputError, match="12000x12000"):  # under PIL's own bomb limit
        load_image(_png_header_only(12000, 12000))
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert peak < 50 * 1024 * 1024  # refused without allocating the pixel buffer


def test_limits_are_configurable():
    image = _encode(Image.new("RGB", (100, 100)))
    with pytest.raises(BadInputError, match="too large"):
        load_image(image, ImageLimits(max_side=50))
    assert load_image(image, ImageLimits(max_side=100)).shape == (100, 100, 3)


@pytest.mark.parametrize("payload", [b"", b"not an image at all", b"%PDF-1.4 fake", bytes(range(256)) * 4])
def test_non_images_give_a_clear_error(payload):
    with pytest.raises(BadInputError, match="not an image"):
        load_image(payload)


def test_truncated_image_is_refused():
    payload = _encode(Image.fromarray(np.random.default_rng(0).integers(0, 255, (64, 64, 3), dtype=np.uint8)),
                      "JPEG")
    with pytest.raises(BadInputError):
        load_image(payload[: len(payload) // 3])


def test_missing_path_and_folder(tmp_path):
    with pytest.raises(BadInputError, match="not found"):
        load_image(tmp_path / "missing.jpg")
    with pytest.raises(BadInputError, match="folder"):
        load_image(tmp_path)
    with pytest.raises(BadInputError):
        load_image(12345)
