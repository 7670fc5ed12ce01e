"""docbin as an OCRmyPDF plugin: binarize each page image before Tesseract reads it.

Usage::

    pip install "docbin[ocrmypdf]"
    ocrmypdf --plugin docbin.ocrmypdf scan.pdf out.pdf
    ocrmypdf --plugin docbin.ocrmypdf --docbin-method hybrid --docbin-balance 0.7 scan.pdf out.pdf

Hooks:

- ``add_options`` adds ``--docbin-method``, ``--docbin-balance``, ``--docbin-model`` and
  ``--docbin-final`` (named as OCRmyPDF names plugin options, e.g. ``--tesseract-timeout``);
  ``check_options`` validates them once, in the main process, through
  :class:`docbin.options.Options` (and loads the hybrid's network, so a bad one fails
  before any page is processed).
- ``filter_ocr_image`` binarizes the image OCR reads. The page shown in the output PDF is
  unchanged. It is a wrapper around the other plugins' filters (Tesseract's own
  downsampling of huge pages among them): it binarizes the image they produce, so adding
  docbin takes none of them away.
- ``filter_page_image`` binarizes the visible page too, with ``--docbin-final`` (as
  OCRmyPDF's ``--clean-final`` does for unpaper). OCRmyPDF only makes a new visible page
  when it rasterizes the page, so ``--docbin-final`` needs ``--force-ocr`` (or
  ``--deskew``, ``--clean-final``, ``--remove-background``).

A page docbin cannot binarize is logged as a warning and left as OCRmyPDF made it: the
document never fails because of docbin.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
from PIL import Image

from docbin import pipeline
from docbin.errors import MissingDependencyError, ModelError
from docbin.method.refine import load_refiner
from docbin.options import METHODS, Options

try:
    from ocrmypdf import hookimpl
    from ocrmypdf.exceptions import BadArgsError
except ImportError:
    raise MissingDependencyError("docbin.ocrmypdf is a plugin of OCRmyPDF, which is not "
                                 "installed: pip install 'docbin[ocrmypdf]'") from None

log = logging.getLogger(__name__)

_DEFAULTS = Options()


@hookimpl
def add_options(parser) -> None:
    group = parser.add_argument_group(
        "docbin", "Binarize page images with docbin (degraded documents) before OCR")
    group.add_argument(
        "--docbin-method", choices=METHODS, default=_DEFAULTS.method,
        help="classical: the parameter-free method; hybrid (experimental): its decision "
             "with the pixels near the threshold re-decided by the shipped network "
             "(default: %(default)s).")
    group.add_argument(
        "--docbin-balance", type=float, metavar="B", default=_DEFAULTS.balance,
        help="hybrid: toward 1 more re-decided pixels become text (faint strokes), toward "
             "0 fewer (cleaner background), in [0, 1] (default: %(default)s).")
    group.add_argument(
        "--docbin-model", metavar="FILE", default=None,
        help="hybrid: an ONNX network (docbin train) to use instead of the shipped one.")
    group.add_argument(
        "--docbin-final", action="store_true",
        help="Also show the binarized page in the output PDF, replacing the page image "
             "(needs --force-ocr, or another option that rasterizes the page).")


def settings(options) -> Options:
    """The docbin :class:`~docbin.options.Options` of OCRmyPDF's ``options``.

    Options not given (as when ``ocrmypdf.ocr()`` is called without them) take docbin's
    defaults. One onnxruntime thread: OCRmyPDF already runs pages in parallel.

    Raises
    ------
    ValueError
        A value out of range (e.g. a balance outside [0, 1]).
    """
    model = getattr(options, "docbin_model", None)
    return Options(method=getattr(options, "docbin_method", None) or _DEFAULTS.method,
                   balance=float(getattr(options, "docbin_balance", _DEFAULTS.balance)),
                   model=str(model) if model is not None else None, threads=1)


@hookimpl
def check_options(options) -> None:

    try:
        chosen = settings(options)
    except ValueError as error:
        raise BadArgsError(f"docbin: {error}") from None
    if chosen.method == "hybrid":

        try:
            load_refiner(chosen.model)
        except ModelError as error:
            raise BadArgsError(f"docbin: {error}") from None
    if getattr(options, "docbin_final", False) and \
            getattr(options, "lossless_reconstruction", False):
        raise BadArgsError("docbin: --docbin-final replaces the visible page, but OCRmyPDF "
                           "keeps the original page unless it rasterizes it: add "
                           "--force-ocr (or drop --docbin-final)")


def binarize_image(image, options):
    """A PIL image binarized by docbin: mode ``L``, text 0, background 255, same size and
    DPI. A bilevel (mode ``1``) image is returned as it is.

    Raises whatever :func:`docbin.binarize` raises.
    """
    if image.mode == "1":
        return image
    pixels = np.asarray(image if image.mode in ("L", "RGB", "RGBA") else image.convert("RGB"))
    chosen = settings(options)
    result = Image.fromarray(pipeline.binarize(pixels, chosen.method, options=chosen).image)
    if "dpi" in image.info:  # OCRmyPDF places the text layer by it
        result.info["dpi"] = image.info["dpi"]
    return result


def _page_label(page) -> str:
    return f"page {getattr(page, 'pageno', -1) + 1}"


@hookimpl(wrapper=True)
def filter_ocr_image(page, image):
    filtered = yield  # the other plugins' result (Tesseract's downsampling, ...), or None
    source = image if filtered is None else filtered
    try:
        binarized = binarize_image(source, page.options)
    except Exception as error:  # noqa: BLE001 -- a page must never fail the document
        log.warning("docbin: %s: could not binarize the page (%s: %s); OCR reads "
                    "OCRmyPDF's own image", _page_label(page), type(error).__name__, error)
        return filtered
    log.info("docbin: %s: binarized for OCR (%s method, %d x %d px)", _page_label(page),
             settings(page.options).method, source.width, source.height)
    return binarized


@hookimpl
def filter_page_image(page, image_filename: Path) -> Path:
    if not getattr(page.options, "docbin_final", False):
        return image_filename
    from PIL import Image

    image_filename = Path(image_filename)
    try:
        with Image.open(image_filename) as image:
            image.load()
            binary = binarize_image(image, page.options)
        target = image_filename.with_name(f"{image_filename.stem}_docbin.png")
        # 1 bit per pixel: the page goes into the PDF as a bilevel image
        binary.convert("1").save(target, **({"dpi": binary.info["dpi"]}
                                            if "dpi" in binary.info else {}))
    except Exception as error:  # noqa: BLE001 -- a page must never fail the document
        log.warning("docbin: %s: could not binarize the visible page (%s: %s); it is kept "
                    "as it was", _page_label(page), type(error).__name__, error)
        return image_filename
    return target
