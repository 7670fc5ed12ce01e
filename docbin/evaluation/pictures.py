"""The pictures of the HTML report (:mod:`docbin.evaluation.report`): thumbnails, error
overlays and the hybrid's steps, made once per page while the binary pages are in memory.

- :func:`page_pictures` is called once per page by
  :func:`docbin.evaluation.benchmark.benchmark_page` (in the worker that binarized it);
  it encodes the thumbnails and writes the full-resolution files beside the report, so
  only a few kilobytes per page are kept until the end.
- :func:`error_overlay` colours each pixel by what the output did with the ground truth.

Colours are from the Okabe–Ito palette, distinct for the common colour-vision
deficiencies: missed ink (ground truth ink the method left as paper) orange ``#E69F00``,
false ink (paper the method made ink) blue ``#0072B2``, correct ink black, paper white.
The hybrid's learned steps: pixels the refine step made text bluish green ``#009E73``,
made background reddish purple ``#CC79A7``, ink components the clean step dropped
vermillion ``#D55E00``, over the output in light gray.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from docbin.errors import OutputError

#: Overlay colours (RGB).
PAPER = (255, 255, 255)
CORRECT_INK = (0, 0, 0)
MISSED_INK = (0xE6, 0x9F, 0x00)  # Okabe–Ito orange
FALSE_INK = (0x00, 0x72, 0xB2)  # Okabe–Ito blue
MADE_TEXT = (0x00, 0x9E, 0x73)  # Okabe–Ito bluish green
MADE_BACKGROUND = (0xCC, 0x79, 0xA7)  # Okabe–Ito reddish purple
DROPPED_INK = (0xD5, 0x5E, 0x00)  # Okabe–Ito vermillion
OUTPUT_INK = (170, 170, 170)  # the hybrid's output under its steps
#: Thumbnail width in pixels, and WebP quality (0–100) of the thumbnails.
THUMBNAIL_WIDTH = 320
THUMBNAIL_QUALITY = 70
#: The view names of a method cell.
VIEWS = ("output", "errors")


@dataclass
class Picture:
    """One picture of a page panel: an inlined thumbnail and its full-resolution file."""

    thumbnail: str  # data: URI
    full: str | None  # path relative to the report, or None when not written


@dataclass
class PagePictures:
    """The pictures of one page: the input, and per method its views (``output``,
    ``errors`` and, for the hybrid with a refine record, ``steps``)."""

    input: Picture
    methods: dict[str, dict[str, Picture]] = field(default_factory=dict)
    size: tuple[int, int] = (0, 0)  # (rows, cols)


@dataclass(frozen=True)
class PictureSettings:
    """Where :func:`page_pictures` writes full-resolution files.

    Attributes
    ----------
    folder : Path or None
        The folder of full-resolution pictures (``<report stem>_files``); None writes none
        (the thumbnails only).
    link : str
        How the report names that folder (relative to the report).
    thumbnail_width : int
        Width of the thumbnails in pixels (never more than the page's).
    """

    folder: Path | None
    link: str = ""
    thumbnail_width: int = THUMBNAIL_WIDTH


def files_folder(report: Path) -> Path:
    """The folder of full-resolution pictures beside ``report``: ``<stem>_files``."""
    report = Path(report)
    return report.with_name(f"{report.stem}_files")


#: The palettes of the overlays, indexed by :func:`error_codes` and :func:`steps_codes`.
ERROR_PALETTE = np.array([PAPER, FALSE_INK, MISSED_INK, CORRECT_INK], np.uint8)
STEPS_PALETTE = np.array([PAPER, OUTPUT_INK, MADE_TEXT, MADE_BACKGROUND, DROPPED_INK],
                         np.uint8)


def error_codes(binary: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """Per pixel, what ``binary`` did with ``truth``: uint8 (rows, cols) codes.

    Both are uint8 pages with text 0 (text where < 128). code = output ink + 2 · true
    ink: 0 paper, 1 false ink, 2 missed ink, 3 correct ink (the rows of
    :data:`ERROR_PALETTE`).
    """
    code = (binary < 128).view(np.uint8).copy()
    code += 2 * (truth < 128).view(np.uint8)
    return code


def colour(codes: np.ndarray, palette: np.ndarray) -> np.ndarray:
    """``palette[codes]``: the (rows, cols, 3) RGB picture of uint8 ``codes`` (a table
    look-up in OpenCV, several times faster than NumPy's fancy indexing)."""
    import cv2

    table = np.zeros((1, 256, 3), np.uint8)
    table[0, :len(palette)] = palette
    return cv2.LUT(cv2.merge([codes, codes, codes]), table)


def error_overlay(binary: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """The (rows, cols, 3) RGB uint8 error overlay of ``binary`` against ``truth``:
    :data:`PAPER`, :data:`FALSE_INK`, :data:`MISSED_INK` or :data:`CORRECT_INK` per
    pixel, as :func:`error_codes` classes it."""
    return colour(error_codes(binary, truth), ERROR_PALETTE)


def steps_codes(binary: np.ndarray, refined: np.ndarray | None,
                dropped: np.ndarray | None = None) -> np.ndarray:
    """What the hybrid's learned steps decided, as uint8 (rows, cols) codes: 0 paper, 1 the
    output's ink, 2 made text by the refine step (``refined`` 2), 3 made background by it
    (``refined`` 3), 4 ink the clean step dropped (``dropped`` True) (the rows of
    :data:`STEPS_PALETTE`)."""
    code = (binary < 128).view(np.uint8).copy()
    if refined is not None:
        code[refined == 2] = 2
        code[refined == 3] = 3
    if dropped is not None:
        code[dropped] = 4
    return code


def steps_overlay(binary: np.ndarray, refined: np.ndarray | None,
                  dropped: np.ndarray | None = None) -> np.ndarray:
    """The (rows, cols, 3) RGB picture of :func:`steps_codes`: the output's ink
    :data:`OUTPUT_INK`, made text :data:`MADE_TEXT`, made background
    :data:`MADE_BACKGROUND`, dropped ink :data:`DROPPED_INK`."""
    return colour(steps_codes(binary, refined, dropped), STEPS_PALETTE)


def thumbnail(image: np.ndarray, width: int) -> np.ndarray:
    """``image`` scaled to ``width`` columns (area averaging; never enlarged)."""
    import cv2

    cols = image.shape[1]
    if cols <= width:
        return image
    rows = max(1, round(image.shape[0] * width / cols))
    return cv2.resize(image, (width, rows), interpolation=cv2.INTER_AREA)


def _encode(image: np.ndarray, suffix: str, params=()) -> bytes:
    import cv2

    if image.ndim == 3:
        image = image[:, :, ::-1]  # RGB → OpenCV's BGR
    ok, data = cv2.imencode(suffix, image, list(params))
    if not ok:
        raise OutputError(f"OpenCV could not encode a {suffix} picture")
    return data.tobytes()


def _data_uri(image: np.ndarray, width: int) -> str:
    import cv2

    data = _encode(thumbnail(image, width), ".webp", (cv2.IMWRITE_WEBP_QUALITY, THUMBNAIL_QUALITY))
    return "data:image/webp;base64," + base64.b64encode(data).decode("ascii")


def _palette_png(codes: np.ndarray, palette: np.ndarray) -> bytes:
    """A palette PNG of ``codes`` coloured by ``palette`` (2 bits per pixel for up to
    four colours, else 4)."""
    import io

    from PIL import Image

    picture = Image.frombytes("P", codes.shape[::-1], np.ascontiguousarray(codes).tobytes())
    picture.putpalette(palette.reshape(-1).tolist())
    buffer = io.BytesIO()
    picture.save(buffer, format="PNG", bits=2 if len(palette) <= 4 else 4, compress_level=1)
    return buffer.getvalue()


def _full(image: np.ndarray, settings: PictureSettings, name: str, kind: str,
          palette: np.ndarray | None = None) -> str | None:
    """Write the full-resolution ``image`` as ``<folder>/<name>.<kind>.<suffix>``; its link.

    The input as JPEG, a binary page as a 1-bit PNG, codes with a ``palette`` as a 2-bit
    palette PNG.
    """
    import cv2

    if settings.folder is None:
        return None
    if palette is not None:
        suffix, data = ".png", _palette_png(image, palette)
    elif kind == "input":
        suffix = ".jpg"
        data = _encode(image, suffix, (cv2.IMWRITE_JPEG_QUALITY, 90))
    else:  # a binary page: 1 bit per pixel
        suffix = ".png"
        data = _encode(image, suffix, (cv2.IMWRITE_PNG_BILEVEL, 1,
                                       cv2.IMWRITE_PNG_COMPRESSION, 1))
    file_name = f"{name}.{kind}{suffix}"
    try:
        (settings.folder / file_name).write_bytes(data)
    except OSError as error:
        raise OutputError(f"cannot write {settings.folder / file_name}: {error}") from error
    return f"{settings.link}/{file_name}" if settings.link else file_name


def page_pictures(collection: str, name: str, image: np.ndarray, truth: np.ndarray,
                  binaries: dict[str, np.ndarray], settings: PictureSettings,
                  refined: np.ndarray | None = None,
                  dropped: np.ndarray | None = None) -> PagePictures:
    """Thumbnails and full-resolution files of one page.

    Parameters
    ----------
    collection, name : str
        The page's collection and name (the files are ``<collection>-<name>.*``).
    image : ndarray
        The gray (rows, cols) uint8 input page.
    truth : ndarray
        Its ground truth, text 0.
    binaries : dict
        Method name → its binary page (text 0).
    settings : PictureSettings
        Thumbnail width and the folder of full-resolution files.
    refined, dropped : ndarray, optional
        The hybrid's ``BinarizationResult.refined`` (codes 2 made text, 3 made
        background) and ``.dropped`` (ink the clean step dropped), drawn as its ``steps``
        view when either is given.
    """
    width = settings.thumbnail_width
    stem = f"{collection}-{name}"
    pictures = PagePictures(Picture(_data_uri(image, width), _full(image, settings, stem,
                                                                   "input")),
                            size=image.shape[:2])
    for method, binary in binaries.items():
        codes = error_codes(binary, truth)
        views = {"output": Picture(_data_uri(binary, width),
                                   _full(binary, settings, stem, method)),
                 "errors": Picture(_data_uri(colour(codes, ERROR_PALETTE), width),
                                   _full(codes, settings, stem, f"{method}.errors",
                                         ERROR_PALETTE))}
        if method == "hybrid" and (refined is not None or dropped is not None):
            codes = steps_codes(binary, refined, dropped)
            views["steps"] = Picture(_data_uri(colour(codes, STEPS_PALETTE), width),
                                     _full(codes, settings, stem, f"{method}.steps",
                                           STEPS_PALETTE))
        pictures.methods[method] = views
    return pictures


# --- the report ---------------------------------------------------------------------------
