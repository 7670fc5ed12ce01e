"""``binarize()``: the classical or the hybrid method, with an info record."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from docbin.method import stats as _stats
from docbin.method import decision as _threshold
from docbin.options import Options
from docbin.method.surface import logistic_surface


@dataclass
class BinarizationResult:
    """A binarized page.

    Attributes
    ----------
    image : ndarray
        uint8, text 0 and background 255, the shape of the input.
    info : dict
        What was decided: ``method``, ``ink_intensity`` (T_I), ``contour_intensity``
        (B_I), ``window_radius`` (K), ``f`` and ``timings`` (seconds per step); the
        hybrid adds ``hybrid`` (its network, band and how many pixels it re-decided);
        scope ``region`` adds ``regional`` (the tile fields b, t, f of
        :func:`docbin.method.regional.explain`; ``f`` stays the page's factor).
    refined : ndarray or None
        With ``record_refined`` and the hybrid: uint8 page, 0 where the classical
        decision stands, 1 where the network re-decided it and the classical decision
        stayed (text it added out of its reach included), 2 where it turned the pixel
        to text, 3 where it turned it to background.
    """

    image: np.ndarray
    info: dict = field(default_factory=dict)
    refined: np.ndarray | None = None

    @property
    def ink(self) -> np.ndarray:
        """Boolean mask, True on text."""
        return self.image == 0


def as_gray(image: np.ndarray) -> np.ndarray:
    """A 2-D uint8 gray page from a gray or RGB(A) uint8 array.

    Colour is converted with ``floor(0.299 R + 0.587 G + 0.114 B)`` (METHOD.md);
    an alpha channel is flattened on white first.
    """
    image = np.asarray(image)
    if image.dtype != np.uint8:
        raise ValueError(f"expected a uint8 image, got dtype {image.dtype}")
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
        raise ValueError(f"expected a gray (rows, cols) or colour (rows, cols, 3|4) image, "
                         f"got shape {image.shape}")
    if gray.size == 0:
        raise ValueError("the image is empty")
    return np.ascontiguousarray(gray)


def binarize(image: np.ndarray, method: str | None = None, *, options: Options | None = None,
             record_refined: bool = False, **kwargs) -> BinarizationResult:
    """Binarize a document page.

    Parameters
    ----------
    image : ndarray
        2-D uint8 gray page, or an RGB/RGBA uint8 array (converted to gray).
    method : {"classical", "hybrid"}, optional
        ``classical``: the parameter-free method of METHOD.md §1 with the logistic
        decision surface. ``hybrid``: the same decision, with the pixels near its
        threshold re-decided by the shipped refinement network (METHOD.md §3,
        :mod:`docbin.method.refine`). Default: ``options.method``, or the default of
        :class:`~docbin.options.Options` without ``options``.
    options : Options, optional
        Every other setting; keyword arguments override its fields.
    record_refined : bool
        Hybrid: also return the map of re-decided pixels (``result.refined``, one byte
        per pixel), for ``--explain``.

    Returns
    -------
    BinarizationResult
        ``.image`` (uint8, text 0 / background 255) and ``.info``.
    """
    if method is not None:
        kwargs["method"] = method
    if options is None:
        options = Options(**kwargs)
    elif kwargs:
        from dataclasses import replace
        options = replace(options, **kwargs)
    gray = as_gray(image)
    network = None
    if options.method == "hybrid":  # load (and check) before the costly statistics
        from docbin.method import refine as _refine  # onnxruntime is imported only here

        network = _refine.load_refiner(options.model)
    timings: dict[str, float] = {}
    start = time.perf_counter()
    regional = None
    scope = options.resolved_scope
    if scope == "region":
        from docbin.method import regional as _regional
        regional = _regional.regional_stats(gray)  # the page's statistics and the tiles'
        page = regional.page
    else:
        page = _stats.measure_page(gray, threads=options.threads or None)[0]
    timings["statistics"] = time.perf_counter() - start

    factor = float(logistic_surface(page.b, page.t))
    refiner = None
    if network is not None:
        refiner = _refine.RowRefiner(
            network, _refine.PageConstants(page.ink_intensity, page.contour_intensity,
                                           page.window_radius, factor),
            gray, balance=options.balance, record=record_refined)
    decision_factor, regional_info = factor, None
    if regional is not None:  # f(row, col) = S(b(row, col), t(row, col)), regional.py
        start = time.perf_counter()
        f_tiles = _regional.factor_field(regional, logistic_surface)
        decision_factor = _regional.TileFieldRows(f_tiles, gray.shape, regional.tile_size)
        regional_info = _regional.explain(regional, f_tiles)
        timings["regional"] = time.perf_counter() - start
    start = time.perf_counter()
    # L_m, L_a and the rule band by band (bounded memory); f is one value or, per region,
    # the rows of its map computed where they are read; the hybrid re-decides the pixels
    # near the threshold in the same pass
    out = _threshold.binary_page(gray, page.window_radius, decision_factor, refine=refiner,
                                 threads=options.threads or None)
    if refiner is not None:
        refiner.finish(out)  # added text must touch classical text (the network's reach)
    timings["decision"] = time.perf_counter() - start
    info = {"method": options.method, "scope": scope, **page.as_dict(), "f": factor,
            "timings": timings}
    if refiner is not None:
        info["hybrid"] = refiner.explain()
    if regional_info is not None:
        info["regional"] = regional_info
    return BinarizationResult(out, info, None if refiner is None else refiner.recorded)

