"""Reading pages and writing binary images.

Reading (:func:`read_pages`, :func:`read_image`) turns any file Pillow decodes (PNG, JPEG,
TIFF with every page, BMP, PNM, WebP, ...) into 2-D uint8 gray pages:

- colour is converted with ``floor(0.299 R + 0.587 G + 0.114 B)``
  (:func:`as_gray`); palette, CMYK and other colour modes go through RGB;
- an alpha channel (gray+alpha, RGBA, palette transparency) is flattened on white:
  ``v·a + 255·(1 − a)`` with ``a = alpha/255``;
- 16-bit samples are scaled, never clipped: ``round(v · 255 / 65535)``;
- the EXIF orientation is applied, so the page comes out upright;
- the resolution (DPI) is kept with the page.

Pillow's decompression-bomb refusal is replaced by an explicit ``max_megapixels`` guard,
checked from the header before any pixel is decoded: real scans of 10 000 × 14 000 px must
be read, and the user decides how large is too large.

Writing (:func:`write_binary`, :func:`encode_binary`) produces 1-bit PNG or TIFF with CCITT
Group 4 compression, with the DPI in PNG ``pHYs`` / TIFF resolution tags. Files are written
atomically: the bytes go to a temporary file in the destination folder, which is renamed
over the destination only once complete, so a failure never leaves a partial file.
"""

from __future__ import annotations

import contextlib
import io as _io
import math
import os
import secrets
import struct
import threading
import zlib
from collections.abc import Sequence
from dataclasses import asdict, dataclass, is_dataclass
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from docbin.errors import InputError, OutputError

#: Suffixes of the files a folder batch picks up (lower case).
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".jpe", ".tif", ".tiff", ".bmp", ".dib",
                  ".pnm", ".pbm", ".pgm", ".ppm", ".webp")
#: Output formats and the suffix docbin gives their files.
OUTPUT_SUFFIXES = {"png": ".png", "tiff": ".tif"}
_SUFFIX_FORMATS = {".png": "png", ".tif": "tiff", ".tiff": "tiff"}
_ORIENTATION_TAG = 0x0112
def as_gray(image: np.ndarray) -> np.ndarray:
    """A 2-D uint8 gray page from a gray or RGB(A) uint8 array.

    Colour is converted with ``floor(0.299 R + 0.587 G + 0.114 B)`` (METHOD.md);
    an alpha channel is flattened on white first.
    """
    image = np.asarray(image)
    if image.dtype != np.uint8:
        raise InputError(f"expected a uint8 image, got dtype {image.dtype}")
    if image.ndim == 2:
        gray = image
    elif image.ndim == 3 and image.shape[2] in (1, 3, 4):
        if image.shape[2] == 1:
            gray = image[:, :, 0]
        else:
            rgb = image[:, :, :3].astype(np.float64)
            if image.shape[2] == 4:
                alpha = image[:, :, 3:4].astype(np.float64) / 255.0
                rgb = rgb * alpha + 255.0 * (1.0 - alpha)
            gray = np.floor(rgb @ np.array([0.299, 0.587, 0.114]) + 1e-9)
            gray = np.clip(gray, 0, 255).astype(np.uint8)
    else:
        raise InputError(f"expected a gray (rows, cols) or colour (rows, cols, 3|4) image, "
                         f"got shape {image.shape}")
    if gray.size == 0:
        raise InputError("the image is empty")
    return np.ascontiguousarray(gray)


# Pixels converted per colour-to-gray call: bounds the float64 temporaries of as_gray
# (24 bytes per pixel for RGB) to about 24 MB whatever the page size.
_STRIPE_PIXELS = 1 << 20
# Pillow raises a zoo of exception types on corrupt data; each means "cannot decode".
_DECODE_ERRORS = (OSError, ValueError, SyntaxError, EOFError, struct.error, zlib.error,
                  IndexError, KeyError, TypeError)
_pillow_limit_lock = threading.Lock()

Source = str | os.PathLike | bytes | bytearray | memoryview


@dataclass
class Page:
    """One page read from an image file.

    Attributes
    ----------
    image : ndarray
        2-D uint8 gray page, upright (EXIF orientation applied).
    dpi : tuple of float or None
        (horizontal, vertical) resolution in dots per inch, None when the file has none.
    source : str
        The file the page came from (``<stdin>`` or ``<bytes>`` for data in memory).
    index : int
        0-based page number inside the file.
    count : int
        Number of pages in the file.
    """

    image: np.ndarray
    dpi: tuple[float, float] | None
    source: str
    index: int = 0
    count: int = 1

    @property
    def name(self) -> str:
        """The source, with the page number when the file has several pages."""
        if self.count == 1:
            return self.source
        return f"{self.source} (page {self.index + 1} of {self.count})"


# --- reading ------------------------------------------------------------------------------

def read_pages(source: Source, max_megapixels: float = 300.0, *,
               name: str | None = None) -> list[Page]:
    """Read every page of an image file as gray uint8 pages.

    Parameters
    ----------
    source : path or bytes
        A file path, or the encoded file itself (e.g. read from stdin).
    max_megapixels : float
        Refuse pages with more than ``max_megapixels · 10⁶`` pixels (checked from the
        header, before decoding). Replaces Pillow's decompression-bomb limit.
    name : str, optional
        How to call the input in messages; default: the path, or ``<bytes>``.

    Returns
    -------
    list of Page
        One page per frame of a TIFF; one page for every other format.

    Raises
    ------
    InputError
        The input is missing, empty, truncated, too large or not an image. The message is
        one line and names the input.
    """
    if max_megapixels <= 0:
        raise ValueError(f"max_megapixels must be > 0, got {max_megapixels!r}")
    if isinstance(source, (bytes, bytearray, memoryview)):
        label = name or "<bytes>"
        data = bytes(source)
        if not data:
            raise InputError(f"{label}: empty, no image data")
        with _open_image(_io.BytesIO(data), label) as image:
            return _decode_pages(image, label, max_megapixels, lambda: data)
    path = Path(source)
    label = name or str(path)
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        raise InputError(f"{label}: no such file") from None
    except OSError as error:
        raise InputError(f"{label}: cannot read: {_one_line(error)}") from error
    if path.is_dir():
        raise InputError(f"{label}: a folder, not an image file")
    if size == 0:
        raise InputError(f"{label}: empty file (0 bytes)")
    try:
        with open(path, "rb") as stream, _open_image(stream, label) as image:
            return _decode_pages(image, label, max_megapixels, path.read_bytes)
    except OSError as error:  # decode errors are InputError already: this is open()
        raise InputError(f"{label}: cannot read: {_one_line(error)}") from error


def count_pages(source) -> int:
    """How many pages (frames) an image file holds, from its header; 1 for a file that
    cannot be opened (reading it reports the error)."""
    try:
        with Image.open(source) as image:
            return int(getattr(image, "n_frames", 1))
    except (OSError, ValueError, UnidentifiedImageError, Image.DecompressionBombError):
        return 1


def read_image(source: Source, max_megapixels: float = 300.0, *,
               name: str | None = None) -> Page:
    """Read the first page of an image file; see :func:`read_pages`."""
    return read_pages(source, max_megapixels, name=name)[0]


@contextlib.contextmanager
def _open_image(stream, label: str):
    """``Image.open`` without Pillow's pixel limit, decode errors as InputError."""
    with _pillow_limit_lock:
        # Pillow checks its module-level limit inside open(); docbin checks its own
        # max_megapixels instead (in _decode_pages), so lift Pillow's only for this call.
        previous = Image.MAX_IMAGE_PIXELS
        Image.MAX_IMAGE_PIXELS = None
        try:
            image = Image.open(stream)
        except UnidentifiedImageError:
            raise InputError(f"{label}: not an image, or a format docbin cannot read") \
                from None
        except _DECODE_ERRORS as error:
            raise InputError(f"{label}: cannot decode: {_one_line(error)}") from error
        finally:
            Image.MAX_IMAGE_PIXELS = previous
    with image:
        yield image


def _decode_pages(image: Image.Image, label: str, max_megapixels: float,
                  read_bytes) -> list[Page]:
    try:
        count = int(getattr(image, "n_frames", 1)) if image.format == "TIFF" else 1
        pages = []
        for index in range(count):
            if index:
                image.seek(index)
            where = label if count == 1 else f"{label} (page {index + 1} of {count})"
            gray, dpi = _decode_frame(image, where, max_megapixels, read_bytes, index)
            pages.append(Page(gray, dpi, label, index, count))
        return pages
    except InputError:
        raise
    except MemoryError:
        raise InputError(f"{label}: not enough memory to decode it; lower --max-megapixels "
                         "or free memory") from None
    except _DECODE_ERRORS as error:
        message = _one_line(error)
        if "truncated" in message.lower():
            raise InputError(f"{label}: truncated image file ({message})") from error
        raise InputError(f"{label}: cannot decode: {message}") from error


def _decode_frame(image: Image.Image, label: str, max_megapixels: float, read_bytes,
                  index: int) -> tuple[np.ndarray, tuple[float, float] | None]:
    cols, rows = image.size
    megapixels = rows * cols / 1e6
    if megapixels > max_megapixels:
        raise InputError(f"{label}: {cols}x{rows} px ({megapixels:.4g} megapixels) is above "
                         f"the limit of {max_megapixels:g}; raise it with --max-megapixels")
    if rows == 0 or cols == 0:
        raise InputError(f"{label}: the image has no pixels ({cols}x{rows})")
    dpi = _dpi_from_info(image.info)
    deep_colour = _is_16bit_colour(image)  # needs the tile list, which load() empties
    stored_orientation = image.getexif().get(_ORIENTATION_TAG, 1)
    image.load()
    if deep_colour:
        gray = _decode_16bit_colour(read_bytes, index, {(rows, cols), (cols, rows)})
        if gray is not None:  # OpenCV's pixels are in stored order
            return _apply_orientation(gray, stored_orientation), dpi
    # Recent Pillow applies a TIFF's orientation while loading and then drops the tag, so
    # the orientation still to apply is read after load().
    orientation = image.getexif().get(_ORIENTATION_TAG, 1)
    try:
        gray = _to_gray(image)
    except InputError as error:  # name the file: a batch lists many
        raise InputError(f"{label}: {error}") from None
    return _apply_orientation(gray, orientation), dpi


def _to_gray(image: Image.Image) -> np.ndarray:
    """Gray uint8 array of the current frame, by Pillow mode."""
    mode = image.mode
    if mode == "L":
        return np.array(image, dtype=np.uint8)
    if mode == "1":
        return np.array(image.convert("L"), dtype=np.uint8)
    if mode.startswith("I;16"):
        return scale_16bit(np.asarray(image))
    if mode == "I":
        values = np.asarray(image)
        low, high = int(values.min()), int(values.max())
        if low < 0 or high > 65535:
            raise InputError(f"32-bit integer samples outside 0..65535 ({low}..{high}) "
                             "are not supported; convert the image to 8 or 16 bit")
        return scale_16bit(values.astype(np.uint16))
    if mode == "F":
        values = np.asarray(image, dtype=np.float64)
        if not np.isfinite(values).all() or values.min() < 0.0 or values.max() > 1.0:
            raise InputError("floating-point samples must lie in [0, 1]; convert the image "
                             "to 8 or 16 bit")
        return np.floor(values * 255.0 + 0.5).astype(np.uint8)
    if mode == "LA":
        return colour_to_gray(np.asarray(image))
    if mode in ("RGB", "RGBA"):
        return colour_to_gray(np.asarray(image))
    if mode == "PA" or mode in ("La", "RGBa") or (mode == "P" and "transparency" in image.info):
        return colour_to_gray(np.asarray(image.convert("RGBA")))
    # P, CMYK, YCbCr, LAB, HSV, RGBX, ...: Pillow's own conversion to RGB.
    return colour_to_gray(np.asarray(image.convert("RGB")))


def colour_to_gray(values: np.ndarray) -> np.ndarray:
    """Gray uint8 page from a uint8 (rows, cols, 2|3|4) gray+alpha, RGB or RGBA array.

    Gray+alpha is treated as RGBA with R = G = B, so every case is
    :func:`as_gray`: alpha flattened on white, then
    ``floor(0.299 R + 0.587 G + 0.114 B)``. Converted in stripes of rows to bound the
    temporary memory.
    """
    values = np.asarray(values)
    rows, cols = values.shape[:2]
    out = np.empty((rows, cols), dtype=np.uint8)
    step = max(1, _STRIPE_PIXELS // max(cols, 1))
    for top in range(0, rows, step):
        stripe = values[top:top + step]
        if stripe.shape[2] == 2:
            stripe = stripe[:, :, [0, 0, 0, 1]]
        out[top:top + step] = as_gray(stripe)
    return out


def scale_16bit(values: np.ndarray) -> np.ndarray:
    """Scale 16-bit samples to 8 bit: ``round(v · 255 / 65535)``, no clipping.

    Exact integer arithmetic: ``(510 v + 65535) // 131070``. No sample lies half-way
    (that would need ``2v = (2k + 1)·257``, odd), so the rounding direction never matters.
    """
    values = np.asarray(values).astype(np.uint32)
    return ((values * 510 + 65535) // 131070).astype(np.uint8)


def _is_16bit_colour(image: Image.Image) -> bool:
    # Pillow has no 16-bit colour modes: it keeps the high byte of each sample, i.e.
    # floor(v / 256) rather than round(v · 255 / 65535). Such frames are decoded by OpenCV.
    if image.format not in ("PNG", "TIFF") or image.mode not in ("RGB", "RGBA", "LA"):
        return False
    if not image.tile:
        return False
    args = image.tile[0].args
    rawmode = args if isinstance(args, str) else (args[0] if args else "")
    return isinstance(rawmode, str) and ";16" in rawmode


def _decode_16bit_colour(read_bytes, index: int, shapes: set) -> np.ndarray | None:
    """Gray page from a 16-bit colour frame decoded by OpenCV, in stored pixel order
    (no orientation applied); None if OpenCV cannot decode it to one of ``shapes``."""
    import cv2

    buffer = np.frombuffer(read_bytes(), dtype=np.uint8)
    ok, frames = cv2.imdecodemulti(buffer, cv2.IMREAD_UNCHANGED)
    if not ok or index >= len(frames):
        return None
    frame = frames[index]
    if frame.dtype != np.uint16 or frame.shape[:2] not in shapes:
        return None
    if frame.ndim == 2:
        return scale_16bit(frame)
    if frame.shape[2] == 3:
        rgb = cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
    elif frame.shape[2] == 4:
        rgb = cv2.cvtColor(frame, cv2.COLOR_BGRA2RGBA)
    else:
        return None
    return colour_to_gray(scale_16bit(rgb))


def _apply_orientation(gray: np.ndarray, orientation: int) -> np.ndarray:
    """Apply an EXIF orientation (1..8) as ``ImageOps.exif_transpose`` does."""
    views = {
        2: lambda a: a[:, ::-1],  # mirrored left-right
        3: lambda a: a[::-1, ::-1],  # rotated 180°
        4: lambda a: a[::-1, :],  # mirrored top-bottom
        5: lambda a: a.T,  # transposed
        6: lambda a: np.rot90(a, -1),  # rotated 90° clockwise
        7: lambda a: a[::-1, ::-1].T,  # transversed
        8: lambda a: np.rot90(a, 1),  # rotated 90° counter-clockwise
    }
    view = views.get(orientation)
    return gray if view is None else np.ascontiguousarray(view(gray))


def _dpi_from_info(info: dict) -> tuple[float, float] | None:
    """DPI from Pillow's ``info``, rounded to 0.1 (PNG and BMP store pixels per metre,
    so 300 dpi reads back as 299.9994); None when absent or not positive."""
    dpi = info.get("dpi")
    try:
        horizontal, vertical = (float(value) for value in dpi)
    except (TypeError, ValueError):
        return None
    if not (math.isfinite(horizontal) and math.isfinite(vertical)):
        return None
    if horizontal <= 0 or vertical <= 0:
        return None
    return round(horizontal, 1), round(vertical, 1)


def _one_line(error: BaseException) -> str:
    text = str(error) or error.__class__.__name__
    return " ".join(text.split())


# --- writing ------------------------------------------------------------------------------

def output_format(path: str | os.PathLike | None, format: str | None = None) -> str:
    """The output format, ``"png"`` or ``"tiff"``, from ``format`` or the path's suffix.

    Raises
    ------
    OutputError
        The suffix is unknown and no format is given, or the two disagree.
    """
    chosen = _normalise_format(format) if format else None
    suffix = Path(path).suffix.lower() if path is not None else ""
    from_suffix = _SUFFIX_FORMATS.get(suffix)
    if chosen is None:
        if from_suffix is None:
            raise OutputError(f"cannot tell the output format of {path}: give it a .png or "
                              ".tif suffix, or pass --format png|tiff")
        return from_suffix
    if from_suffix is not None and from_suffix != chosen:
        raise OutputError(f"{path} ends in {suffix} but the format is {chosen}; change the "
                          "suffix or --format")
    return chosen


def _normalise_format(format: str) -> str:
    name = format.lower().lstrip(".")
    name = {"tif": "tiff"}.get(name, name)
    if name not in OUTPUT_SUFFIXES:
        raise ValueError(f"format must be png or tiff, got {format!r}")
    return name


def _check_dpi(dpi) -> tuple[float, float] | None:
    if dpi is None:
        return None
    if np.isscalar(dpi):
        dpi = (dpi, dpi)
    horizontal, vertical = (float(value) for value in dpi)
    if not (horizontal > 0 and vertical > 0 and math.isfinite(horizontal)
            and math.isfinite(vertical)):
        raise ValueError(f"dpi must be positive, got {dpi!r}")
    return horizontal, vertical


def _to_bilevel(image: np.ndarray) -> Image.Image:
    image = np.asarray(image)
    if image.ndim != 2 or image.dtype != np.uint8:
        raise ValueError(f"expected a 2-D uint8 binary page (text 0, background 255), got "
                         f"shape {image.shape} and dtype {image.dtype}")
    if image.size == 0:
        raise ValueError("the image is empty")
    # Mode "1": True (>= 128) is white background, False is black text.
    return Image.fromarray(image >= 128)


def encode_binary(image: np.ndarray, format: str = "png", dpi=None) -> bytes:
    """Encode a binary page as a 1-bit PNG or a CCITT Group 4 TIFF.

    Parameters
    ----------
    image : ndarray
        2-D uint8 page, text 0 and background 255 (pixels ≥ 128 are background).
    format : {"png", "tiff"}
    dpi : float or (float, float), optional
        Resolution written to PNG ``pHYs`` or the TIFF resolution tags.

    Returns
    -------
    bytes
    """
    return encode_binary_pages([image], format, [dpi])


def encode_binary_pages(images: Sequence[np.ndarray], format: str = "tiff",
                        dpis: Sequence | None = None) -> bytes:
    """Encode several binary pages in one file: a multi-page Group 4 TIFF.

    A single page may also be encoded as PNG. ``dpis`` gives one resolution (or None)
    per page.
    """
    format = _normalise_format(format)
    frames = [_to_bilevel(image) for image in images]
    if not frames:
        raise ValueError("no page to encode")
    if format == "png" and len(frames) > 1:
        raise ValueError(f"a PNG holds one page, got {len(frames)}; use TIFF")
    dpis = list(dpis) if dpis is not None else [None] * len(frames)
    if len(dpis) != len(frames):
        raise ValueError(f"got {len(dpis)} dpi values for {len(frames)} pages")
    for frame, dpi in zip(frames, dpis):
        dpi = _check_dpi(dpi)
        if dpi is not None:
            frame.encoderinfo = {"dpi": dpi}
    buffer = _io.BytesIO()
    first_dpi = _check_dpi(dpis[0])
    extra = {"dpi": first_dpi} if first_dpi is not None else {}
    if format == "png":
        frames[0].save(buffer, format="PNG", compress_level=6, **extra)
    else:
        frames[0].save(buffer, format="TIFF", compression="group4", save_all=len(frames) > 1,
                       append_images=frames[1:], **extra)
    return buffer.getvalue()


def write_binary(path: str | os.PathLike, image: np.ndarray, format: str | None = None,
                 dpi=None, overwrite: bool = False) -> Path:
    """Write a binary page atomically as 1-bit PNG or Group 4 TIFF.

    Parameters
    ----------
    path : path
        Destination; its folder must exist.
    image : ndarray
        2-D uint8 page, text 0 and background 255.
    format : {None, "png", "tiff"}
        None: from the suffix (``.png``, ``.tif``, ``.tiff``).
    dpi : float or (float, float), optional
        Resolution stored in the file.
    overwrite : bool
        Replace an existing file; otherwise an existing file is an error.

    Returns
    -------
    Path
        The written file.

    Raises
    ------
    OutputError
        The file exists (without ``overwrite``), the folder is missing, the format is
        unknown or the write failed; no partial file is left behind.
    """
    path = Path(path)
    data = encode_binary(image, output_format(path, format), dpi)
    return write_bytes(path, data, overwrite=overwrite)


def write_bytes(path: str | os.PathLike, data: bytes, overwrite: bool = False) -> Path:
    """Write ``data`` to ``path`` atomically: a temporary file in the same folder, then
    ``os.replace``. On failure the temporary file is removed and nothing else changes.

    Raises
    ------
    OutputError
        ``path`` exists and ``overwrite`` is false, its folder does not exist, or the
        write failed.
    """
    path = Path(path)
    folder = path.parent
    if not folder.is_dir():
        raise OutputError(f"cannot write {path}: the folder {folder} does not exist")
    if path.is_dir():
        raise OutputError(f"cannot write {path}: it is a folder")
    if not overwrite and (path.exists() or path.is_symlink()):
        raise OutputError(f"{path} exists; pass --overwrite to replace it")
    temporary = folder / f".{path.name}.{secrets.token_hex(4)}.tmp"
    try:
        # os.open with 0o666 gives the final file the user's umask, unlike mkstemp's 0o600.
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        with os.fdopen(descriptor, "wb") as stream:
            stream.write(data)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, path)
    except OSError as error:
        raise OutputError(f"cannot write {path}: {error.strerror or _one_line(error)}") \
            from error
    finally:
        with contextlib.suppress(OSError):
            temporary.unlink(missing_ok=True)
    return path


def json_safe(value):
    """``value`` with NumPy scalars/arrays, tuples, paths and dataclasses turned into
    plain JSON types; non-finite floats become None (JSON has no NaN)."""
    if isinstance(value, dict):
        return {str(key): json_safe(item) for key, item in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [json_safe(item) for item in value]
    if isinstance(value, np.ndarray):
        return json_safe(value.tolist())
    if isinstance(value, np.generic):
        return json_safe(value.item())
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, (bool, int, str)) or value is None:
        return value
    if is_dataclass(value) and not isinstance(value, type):
        return json_safe(asdict(value))
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    return str(value)
