"""Reading pages of every supported kind and writing 1-bit PNG / Group 4 TIFF."""

from __future__ import annotations

import io
import math
import os
import zlib
from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image, ImageOps

from docbin import io as dio
from docbin.errors import InputError, OutputError


def reference_gray(rgb: np.ndarray) -> np.ndarray:
    """floor(0.299 R + 0.587 G + 0.114 B) in exact integer arithmetic."""
    rgb = rgb.astype(np.int64)
    return ((299 * rgb[..., 0] + 587 * rgb[..., 1] + 114 * rgb[..., 2]) // 1000).astype(np.uint8)


def reference_flatten(values: np.ndarray) -> np.ndarray:
    """RGBA -> gray on white, pixel by pixel with exact fractions (slow, obvious)."""
    rows, cols = values.shape[:2]
    out = np.empty((rows, cols), dtype=np.uint8)
    weights = (Fraction(299, 1000), Fraction(587, 1000), Fraction(114, 1000))
    for r in range(rows):
        for c in range(cols):
            *rgb, a = (int(v) for v in values[r, c])
            alpha = Fraction(a, 255)
            flat = [v * alpha + 255 * (1 - alpha) for v in rgb]
            out[r, c] = math.floor(sum(w * v for w, v in zip(weights, flat)))
    return out


def encode(image: Image.Image, format: str, **params) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=format, **params)
    return buffer.getvalue()


def save(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


@pytest.fixture
def gray(make_page):
    return make_page(40, 56, seed=3)


@pytest.fixture
def rgb():
    rng = np.random.default_rng(7)
    return rng.integers(0, 256, (24, 32, 3), dtype=np.uint8)


# --- formats --------------------------------------------------------------------------------

@pytest.mark.parametrize("format, suffix", [("PNG", ".png"), ("BMP", ".bmp"), ("PPM", ".pgm"),
                                            ("TIFF", ".tif")])
def test_lossless_gray_round_trip(tmp_path, gray, format, suffix):
    path = save(tmp_path / f"page{suffix}", encode(Image.fromarray(gray), format))
    page = dio.read_image(path)
    assert page.image.dtype == np.uint8
    np.testing.assert_array_equal(page.image, gray)
    assert (page.source, page.index, page.count) == (str(path), 0, 1)


@pytest.mark.parametrize("format, params", [("PNG", {}), ("PPM", {}), ("BMP", {}),
                                            ("TIFF", {}), ("WEBP", {"lossless": True})])
def test_lossless_colour_uses_the_gray_formula(tmp_path, rgb, format, params):
    path = save(tmp_path / "page.img", encode(Image.fromarray(rgb), format, **params))
    np.testing.assert_array_equal(dio.read_image(path).image, reference_gray(rgb))


def test_webp_gray_round_trip(tmp_path, gray):
    data = encode(Image.fromarray(gray), "WEBP", lossless=True)
    np.testing.assert_array_equal(dio.read_image(data).image, gray)


@pytest.mark.parametrize("mode", ["L", "RGB"])
def test_jpeg_matches_pillow_decoding(tmp_path, gray, mode):
    image = Image.fromarray(gray).convert(mode)
    path = save(tmp_path / "page.jpg", encode(image, "JPEG", quality=90))
    decoded = np.asarray(Image.open(path))
    expected = decoded if mode == "L" else reference_gray(decoded)
    np.testing.assert_array_equal(dio.read_image(path).image, expected)


def test_every_page_of_a_multi_page_tiff(tmp_path, make_page):
    sources = [make_page(30, 40, seed=0), make_page(44, 36, seed=1), make_page(20, 20, seed=2)]
    frames = [Image.fromarray(page) for page in sources]
    frames[1] = frames[1].convert("RGB")
    path = tmp_path / "book.tif"
    frames[0].save(path, save_all=True, append_images=frames[1:], dpi=(200, 200))
    pages = dio.read_pages(path)
    assert [(page.index, page.count) for page in pages] == [(0, 3), (1, 3), (2, 3)]
    for page, source in zip(pages, sources):
        np.testing.assert_array_equal(page.image, source)
    assert pages[0].dpi == (200.0, 200.0)
    assert pages[2].name == f"{path} (page 3 of 3)"
    assert dio.read_image(path).image.shape == (30, 40)


def test_bytes_and_path_give_the_same_page(tmp_path, gray):
    data = encode(Image.fromarray(gray), "PNG")
    from_bytes = dio.read_image(data, name="<stdin>")
    np.testing.assert_array_equal(from_bytes.image, dio.read_image(save(tmp_path / "a.png",
                                                                         data)).image)
    assert from_bytes.source == "<stdin>"


# --- sample depths and colour modes ---------------------------------------------------------

def test_scale_16bit_exhaustive():
    values = np.arange(65536, dtype=np.uint16)
    expected = np.round(values.astype(np.float64) * 255.0 / 65535.0).astype(np.uint8)
    np.testing.assert_array_equal(dio.scale_16bit(values), expected)


@pytest.mark.parametrize("suffix", [".png", ".tif"])
def test_16bit_gray_is_scaled_not_clipped(tmp_path, suffix):
    rng = np.random.default_rng(1)
    values = rng.integers(0, 65536, (20, 30)).astype(np.uint16)
    values[0, :4] = [0, 257, 40000, 65535]
    path = tmp_path / f"deep{suffix}"
    assert cv2.imwrite(str(path), values)
    page = dio.read_image(path).image
    np.testing.assert_array_equal(page, np.round(values / 65535.0 * 255.0).astype(np.uint8))
    assert list(page[0, :4]) == [0, 1, 156, 255]


@pytest.mark.parametrize("suffix", [".png", ".tif"])
@pytest.mark.parametrize("channels", [3, 4])
def test_16bit_colour_is_scaled_with_rounding(tmp_path, suffix, channels):
    rng = np.random.default_rng(channels)
    values = rng.integers(0, 65536, (12, 16, channels)).astype(np.uint16)
    path = tmp_path / f"deep{suffix}"
    assert cv2.imwrite(str(path), values)  # OpenCV writes BGR(A)
    order = [2, 1, 0, 3][:channels]
    scaled = np.round(values[..., order] / 65535.0 * 255.0).astype(np.uint8)
    expected = reference_gray(scaled) if channels == 3 else reference_flatten(scaled)
    np.testing.assert_array_equal(dio.read_image(path).image, expected)


def test_palette(tmp_path, rgb):
    image = Image.fromarray(rgb).convert("P", palette=Image.Palette.ADAPTIVE, colors=16)
    path = save(tmp_path / "palette.png", encode(image, "PNG"))
    expected = reference_gray(np.asarray(image.convert("RGB")))
    np.testing.assert_array_equal(dio.read_image(path).image, expected)


def test_palette_transparency_is_flattened_on_white(tmp_path):
    indices = np.array([[0, 1], [2, 1]], dtype=np.uint8)
    image = Image.fromarray(indices, mode="L").convert("P")
    image.putpalette([0, 0, 0, 100, 100, 100, 30, 60, 90] + [0] * (256 * 3 - 9))
    data = encode(image, "PNG", transparency=1)
    np.testing.assert_array_equal(dio.read_image(data).image,
                                  [[0, 255], [reference_gray(np.array([30, 60, 90])), 255]])


def test_cmyk(tmp_path, rgb):
    # K alone: R = G = B = 255 - K, so gray is 255 - K exactly.
    black = np.zeros((4, 6, 4), dtype=np.uint8)
    black[..., 3] = np.arange(24).reshape(4, 6) * 10
    page = dio.read_image(encode(Image.fromarray(black, mode="CMYK"), "TIFF")).image
    np.testing.assert_array_equal(page, 255 - black[..., 3])
    cmyk = Image.fromarray(rgb).convert("CMYK")
    page = dio.read_image(save(tmp_path / "cmyk.jpg", encode(cmyk, "JPEG", quality=95))).image
    expected = reference_gray(np.asarray(Image.open(tmp_path / "cmyk.jpg").convert("RGB")))
    np.testing.assert_array_equal(page, expected)


def test_gray_alpha_is_flattened_on_white():
    rng = np.random.default_rng(2)
    values = rng.integers(0, 256, (10, 12, 2), dtype=np.uint8)
    values[0, 0] = [0, 0]  # transparent black -> white
    values[0, 1] = [0, 255]  # opaque black stays black
    page = dio.read_image(encode(Image.fromarray(values, mode="LA"), "PNG")).image
    g, a = values[..., 0].astype(np.int64), values[..., 1].astype(np.int64)
    np.testing.assert_array_equal(page, (g * a + 255 * (255 - a)) // 255)
    assert page[0, 0] == 255 and page[0, 1] == 0


def test_rgba_is_flattened_on_white():
    rng = np.random.default_rng(3)
    values = rng.integers(0, 256, (8, 9, 4), dtype=np.uint8)
    page = dio.read_image(encode(Image.fromarray(values, mode="RGBA"), "PNG")).image
    np.testing.assert_array_equal(page, reference_flatten(values))


def test_bilevel_input():
    ink = np.zeros((6, 8), dtype=bool)
    ink[2:4, 1:7] = True
    data = encode(Image.fromarray(~ink), "PNG")
    np.testing.assert_array_equal(dio.read_image(data).image, np.where(ink, 0, 255))


def test_colour_conversion_in_stripes_equals_one_pass(monkeypatch):
    from docbin.io import as_gray

    values = np.random.default_rng(4).integers(0, 256, (37, 11, 4), dtype=np.uint8)
    monkeypatch.setattr(dio, "_STRIPE_PIXELS", 50)  # 4 rows a stripe, last one partial
    np.testing.assert_array_equal(dio.colour_to_gray(values), as_gray(values))


# --- orientation and resolution -------------------------------------------------------------

@pytest.mark.parametrize("orientation", range(1, 9))
def test_exif_orientation_matches_pillow(orientation):
    values = np.arange(6 * 10, dtype=np.uint8).reshape(6, 10) * 4
    exif = Image.Exif()
    exif[0x0112] = orientation
    data = encode(Image.fromarray(values), "PNG", exif=exif)
    expected = np.asarray(ImageOps.exif_transpose(Image.open(io.BytesIO(data))))
    np.testing.assert_array_equal(dio.read_image(data).image, expected)


def test_exif_rotation_by_hand(tmp_path):
    values = np.array([[1, 2, 3], [4, 5, 6]], dtype=np.uint8) * 40
    exif = Image.Exif()
    exif[0x0112] = 6  # the camera was turned: rotate 90 degrees clockwise to view
    path = save(tmp_path / "photo.tif", encode(Image.fromarray(values), "TIFF", exif=exif))
    np.testing.assert_array_equal(dio.read_image(path).image,
                                  np.array([[4, 1], [5, 2], [6, 3]], dtype=np.uint8) * 40)


@pytest.mark.parametrize("format", ["PNG", "TIFF", "JPEG", "BMP"])
def test_dpi_is_read(gray, format):
    page = dio.read_image(encode(Image.fromarray(gray), format, dpi=(300, 150)))
    assert page.dpi == (300.0, 150.0)


def test_no_dpi_is_none(gray):
    assert dio.read_image(encode(Image.fromarray(gray), "PNG")).dpi is None


# --- size guard and bad inputs --------------------------------------------------------------

def test_max_megapixels_guard(tmp_path, gray):
    path = save(tmp_path / "big.png", encode(Image.fromarray(gray), "PNG"))
    with pytest.raises(InputError) as caught:
        dio.read_pages(path, max_megapixels=0.002)
    message = str(caught.value)
    assert str(path) in message and "56x40" in message and "--max-megapixels" in message
    assert dio.read_image(path, max_megapixels=0.00224).image.shape == (40, 56)


def test_max_megapixels_is_checked_per_page(tmp_path, make_page):
    path = tmp_path / "book.tif"
    small, large = Image.fromarray(make_page(10, 10)), Image.fromarray(make_page(60, 60))
    small.save(path, save_all=True, append_images=[large])
    with pytest.raises(InputError, match=r"page 2 of 2.*60x60"):
        dio.read_pages(path, max_megapixels=0.001)


def test_pillow_bomb_limit_is_replaced_and_restored(monkeypatch, gray):
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 100)
    data = encode(Image.fromarray(gray), "PNG")
    with pytest.raises(Image.DecompressionBombError):
        Image.open(io.BytesIO(data))
    assert dio.read_image(data).image.shape == (40, 56)
    assert Image.MAX_IMAGE_PIXELS == 100


def check_one_line(error: InputError, name: str) -> None:
    message = str(error)
    assert "\n" not in message
    assert name in message


def test_missing_file(tmp_path):
    with pytest.raises(InputError, match="no such file") as caught:
        dio.read_pages(tmp_path / "nothing.png")
    check_one_line(caught.value, "nothing.png")


def test_empty_file(tmp_path):
    path = save(tmp_path / "empty.png", b"")
    with pytest.raises(InputError, match="empty") as caught:
        dio.read_pages(path)
    check_one_line(caught.value, "empty.png")
    with pytest.raises(InputError, match="empty"):
        dio.read_pages(b"")


def test_folder_is_not_an_image(tmp_path):
    with pytest.raises(InputError, match="folder"):
        dio.read_pages(tmp_path)


@pytest.mark.parametrize("data", [b"plain text, not an image\n", bytes(range(256)) * 4])
def test_not_an_image(tmp_path, data):
    path = save(tmp_path / "notes.png", data)
    with pytest.raises(InputError, match="not an image") as caught:
        dio.read_pages(path)
    check_one_line(caught.value, "notes.png")


@pytest.mark.parametrize("format, keep", [("PNG", 0.5), ("JPEG", 0.5), ("TIFF", 0.5),
                                          ("PNG", 0.05)])
def test_truncated_file(tmp_path, make_page, format, keep):
    data = encode(Image.fromarray(make_page(120, 160)), format)
    path = save(tmp_path / f"cut.{format.lower()}", data[: int(len(data) * keep)])
    with pytest.raises(InputError) as caught:
        dio.read_pages(path)
    check_one_line(caught.value, f"cut.{format.lower()}")


# --- writing --------------------------------------------------------------------------------

@pytest.fixture
def binary():
    image = np.full((30, 41), 255, dtype=np.uint8)
    image[5:20, 3:30] = 0
    image[25, :] = 0
    return image


@pytest.mark.parametrize("name, compression", [("out.png", None), ("out.tif", "group4"),
                                               ("out.TIFF", "group4")])
def test_write_binary_round_trip(tmp_path, binary, name, compression):
    path = dio.write_binary(tmp_path / name, binary, dpi=(300, 300))
    with Image.open(path) as image:
        assert image.mode == "1"
        assert image.format == ("PNG" if compression is None else "TIFF")
        assert image.info.get("compression") == compression
        assert tuple(round(v) for v in image.info["dpi"]) == (300, 300)
    page = dio.read_image(path)
    np.testing.assert_array_equal(page.image, binary)
    assert page.dpi == (300.0, 300.0)


def test_write_threshold_is_128(tmp_path):
    image = np.array([[0, 127, 128, 255]], dtype=np.uint8)
    path = dio.write_binary(tmp_path / "t.png", image)
    np.testing.assert_array_equal(dio.read_image(path).image, [[0, 0, 255, 255]])


def test_format_argument_and_suffix(tmp_path, binary):
    path = dio.write_binary(tmp_path / "page.bin", binary, format="tiff")
    assert Image.open(path).format == "TIFF"
    with pytest.raises(OutputError, match="format"):
        dio.write_binary(tmp_path / "page.bin2", binary)
    with pytest.raises(OutputError, match=r"\.png.*tiff"):
        dio.write_binary(tmp_path / "page.png", binary, format="tiff")
    assert not (tmp_path / "page.png").exists()
    with pytest.raises(ValueError, match="png or tiff"):
        dio.write_binary(tmp_path / "page.jpg", binary, format="jpeg")


def test_existing_output_is_kept_unless_overwrite(tmp_path, binary):
    path = tmp_path / "out.png"
    path.write_bytes(b"precious")
    with pytest.raises(OutputError, match="--overwrite"):
        dio.write_binary(path, binary)
    assert path.read_bytes() == b"precious"
    dio.write_binary(path, binary, overwrite=True)
    np.testing.assert_array_equal(dio.read_image(path).image, binary)


def test_missing_output_folder(tmp_path, binary):
    with pytest.raises(OutputError, match="does not exist"):
        dio.write_binary(tmp_path / "nowhere" / "out.png", binary)


@pytest.mark.parametrize("failing", ["replace", "fsync"])
def test_failed_write_leaves_no_file(tmp_path, binary, monkeypatch, failing):
    def broken(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(dio.os, failing, broken)
    with pytest.raises(OutputError, match="No space left"):
        dio.write_binary(tmp_path / "out.png", binary)
    assert list(tmp_path.iterdir()) == []


def test_failed_overwrite_keeps_the_old_file(tmp_path, binary, monkeypatch):
    path = tmp_path / "out.png"
    path.write_bytes(b"old")
    monkeypatch.setattr(dio.os, "replace", lambda *a: (_ for _ in ()).throw(OSError(5, "EIO")))
    with pytest.raises(OutputError):
        dio.write_binary(path, binary, overwrite=True)
    assert path.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.png"]


def test_written_file_follows_umask(tmp_path, binary):
    previous = os.umask(0o022)
    try:
        path = dio.write_binary(tmp_path / "out.png", binary)
    finally:
        os.umask(previous)
    assert path.stat().st_mode & 0o777 == 0o644


@pytest.mark.parametrize("bad", [np.zeros((4, 4), dtype=bool), np.zeros((4, 4)),
                                 np.zeros((4, 4, 3), dtype=np.uint8),
                                 np.zeros((0, 4), dtype=np.uint8)])
def test_encode_rejects_non_binary_page_arrays(bad):
    with pytest.raises(ValueError):
        dio.encode_binary(bad)


def test_encode_multi_page_tiff(binary):
    data = dio.encode_binary_pages([binary, 255 - binary], "tiff", [(300, 300)] * 2)
    pages = dio.read_pages(data)
    assert len(pages) == 2
    np.testing.assert_array_equal(pages[1].image, 255 - binary)
    assert pages[1].dpi == (300.0, 300.0)
    with pytest.raises(ValueError, match="PNG holds one page"):
        dio.encode_binary_pages([binary, binary], "png")


def test_encode_binary_png_is_one_bit(binary):
    image = Image.open(io.BytesIO(dio.encode_binary(binary, "png", dpi=72)))
    assert (image.format, image.mode) == ("PNG", "1")
    assert tuple(round(v) for v in image.info["dpi"]) == (72, 72)


def test_json_safe():
    import json

    value = {"a": np.float32(0.5), "b": np.int64(3), "c": (1, 2), "d": np.arange(3),
             "e": float("nan"), "f": Path("x/y"), 4: np.bool_(True), "g": {"h": np.inf}}
    safe = dio.json_safe(value)
    assert safe == {"a": 0.5, "b": 3, "c": [1, 2], "d": [0, 1, 2], "e": None, "f": "x/y",
                    "4": True, "g": {"h": None}}
    json.dumps(safe, allow_nan=False)


def png_with_exif(data: bytes, exif: Image.Exif) -> bytes:
    """Insert an eXIf chunk right after IHDR (OpenCV cannot write one)."""
    payload = exif.tobytes()[6:]  # without the "Exif\0\0" header
    chunk = (len(payload).to_bytes(4, "big") + b"eXIf" + payload
             + zlib.crc32(b"eXIf" + payload).to_bytes(4, "big"))
    return data[:33] + chunk + data[33:]


def test_16bit_colour_orientation():
    values = np.random.default_rng(5).integers(0, 65536, (6, 10, 3)).astype(np.uint16)
    ok, encoded = cv2.imencode(".png", values)
    assert ok
    exif = Image.Exif()
    exif[0x0112] = 8
    page = dio.read_image(png_with_exif(encoded.tobytes(), exif)).image
    scaled = np.round(values[..., ::-1] / 65535.0 * 255.0).astype(np.uint8)
    np.testing.assert_array_equal(page, np.rot90(reference_gray(scaled), 1))
