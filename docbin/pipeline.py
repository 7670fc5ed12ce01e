"""``binarize()``: the classical or the hybrid method, with an info record."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from . import stats as _stats
from . import threshold as _threshold
from .options import Options
from .surface import logistic_surface


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
        hybrid adds its adjustment; scope ``region`` adds ``regional`` (the tile fields
        b, t, f of :func:`docbin.regional.explain`; ``f`` stays the page's factor).
    """

    image: np.ndarray
    info: dict = field(default_factory=dict)

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
             **kwargs) -> BinarizationResult:
    """Binarize a document page.

    Parameters
    ----------
    image : ndarray
        2-D uint8 gray page, or an RGB/RGBA uint8 array (converted to gray).
    method : {"classical", "hybrid"}, optional
        ``classical``: the parameter-free method of METHOD.md §1 with the logistic
        decision surface. ``hybrid``: the same rule with the surface adjusted per page
        by the shipped CNN (METHOD.md §3). Default: ``options.method``, or the default
        of :class:`~docbin.options.Options` without ``options``.
    options : Options, optional
        Every other setting; keyword arguments override its fields.

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
    timings: dict[str, float] = {}
    start = time.perf_counter()
    regional = edges = None
    scope = options.resolved_scope
    if scope == "region" and options.method == "classical":
        from . import regional as _regional
        regional = _regional.regional_stats(gray)  # the page's statistics and the tiles'
        page = regional.page
    else:
        page, edges = _stats.measure_page(gray)
    timings["statistics"] = time.perf_counter() - start

    model = None
    if options.method == "hybrid":  # load (and check) before the costly local statistics
        from . import model as _model  # onnxruntime is imported only here
        model = _model.load_model(options.model, threads=options.threads)

    start = time.perf_counter()
    if model is not None:  # the model reads L_m, L_a on its patches; the rule reuses L_m
        local = _threshold.windowed_local_stats(gray, page.window_radius)
        timings["local_stats"] = time.perf_counter() - start
    else:  # L_m, L_a and the rule band by band in binary_page
        local = None
    hybrid = None
    if model is None:
        factor = float(logistic_surface(page.b, page.t))
    else:
        start = time.perf_counter()
        factor, hybrid = _hybrid_factor(model, gray, page, local, options.balance, edges)
        timings["model"] = time.perf_counter() - start
    edges = None  # 1 byte per pixel that the decision does not need
    decision_factor, regional_info = factor, None
    if scope == "region" and hybrid is not None:
        # the hybrid per region: the patches' Δz blended across the page (regional.py)
        from . import regional as _regional
        from .surface import BSplineSurface

        start = time.perf_counter()
        meta = model.metadata
        f_tiles = _regional.hybrid_factor_field(
            meta.base_surface(),
            lambda dz: BSplineSurface(dz, meta.knots, meta.degree, base="none"),
            np.asarray(hybrid["patch_delta_z"]), np.asarray(hybrid["patches"]),
            page.b, page.t, gray.shape)
        decision_factor = _regional.TileFieldRows(f_tiles, gray.shape)
        regional_info = {"tile_size": _regional.TILE_SIZE,
                         "f": np.round(f_tiles, 4).tolist()}
        timings["regional"] = time.perf_counter() - start
    if regional is not None:  # f(row, col) = S(b(row, col), t(row, col)), regional.py
        start = time.perf_counter()
        f_tiles = _regional.factor_field(regional, logistic_surface)
        decision_factor = _regional.TileFieldRows(f_tiles, gray.shape, regional.tile_size)
        regional_info = _regional.explain(regional, f_tiles)
        timings["regional"] = time.perf_counter() - start
    start = time.perf_counter()
    # L_m, L_a and the rule band by band (bounded memory); f is one value or, per region,
    # the rows of its map computed where they are read
    median = None if local is None else local.local_median
    out = _threshold.binary_page(gray, page.window_radius, decision_factor,
                                 median=median if isinstance(median, np.ndarray) else None)
    timings["decision"] = time.perf_counter() - start
    info = {"method": options.method, "scope": scope, **page.as_dict(), "f": factor,
            "timings": timings}
    if hybrid is not None:
        info["hybrid"] = hybrid
    if regional_info is not None:
        info["regional"] = regional_info
    return BinarizationResult(out, info)


def _hybrid_factor(model, gray: np.ndarray, page, local, balance: float,
                   edges: np.ndarray | None = None) -> tuple[float, dict]:
    """The hybrid's f for a page, and what ``--explain`` shows about it.

    Strong edges (``edges``, computed when not given) → patches → the model's Δz (mean
    over patches) → ``f = S'(b, t)`` with S' the model's base surface plus Δz, clipped
    to [0.05, 1] (METHOD.md §2–3).
    """
    if edges is None:
        edges, _ = _stats.strong_edges(gray)
    prediction = model.predict(gray, page.b, page.t, balance=balance, edges=edges,
                               local_median=local.local_median, local_mean=local.local_mean)
    factor = model.factor(page.b, page.t, prediction.delta_z)
    meta = model.metadata
    explain = {
        "model": model.name,
        "base": meta.base,
        "balance": balance,
        "alpha": prediction.alpha,
        "beta": prediction.beta,
        "f_base": model.base_factor(page.b, page.t),
        "f": factor,
        "delta_z": prediction.delta_z.tolist(),
        "patches": prediction.boxes.tolist(),  # (row0, col0, rows, cols)
        "patch_delta_z": prediction.per_patch.tolist(),
    }
    return factor, explain
