"""``binarize()``: the method's steps in order over one page, with an info record.

A page goes through small stage functions over a :class:`PageContext`:

1. :func:`measure` — the classical statistics T_I, B_I, K and the factor f
   (:func:`docbin.method.page.classical_page`; per tile with ``scope="region"``);
2. :func:`adjust_surface` — the hybrid's ``surface`` step: f per 512 px patch from the
   network's adjustment of the B-spline surface, blended across the page
   (:mod:`docbin.method.adjust`);
3. :func:`decide` — ``I < f·L_m and I < L_a`` band by band (:mod:`docbin.method.decision`);
   the hybrid's ``refine`` step re-decides the pixels near the threshold in the same pass;
4. :func:`clean` — the hybrid's ``clean`` step drops whole ink components that are not
   text (:mod:`docbin.method.clean`).

``method="classical"`` is exactly METHOD.md §1. The hybrid's learned steps
(:data:`docbin.options.STEPS`, chosen with ``steps``) each load their model before the
costly statistics, so a missing or mismatched model fails at once. A new step is a stage
function here and a module in :mod:`docbin.method`.
"""

from __future__ import annotations

import time
from contextlib import contextmanager
from dataclasses import dataclass, field, replace

import numpy as np

from docbin.io import as_gray
from docbin.method import adjust as _adjust
from docbin.method import clean as _clean
from docbin.method import decision as _decision
from docbin.method import refine as _refine
from docbin.method import regional as _regional
from docbin.method.page import classical_page
from docbin.method.stats import PageStats, measure_page_blocks
from docbin.method.surface import PATCH_SIZE, logistic_surface, patch_grid_shape
from docbin.options import Options

__all__ = ["BinarizationResult", "PageContext", "binarize", "binarize_with"]


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
        hybrid adds a record per learned step (``refine``: its network, band and how many
        pixels it re-decided); scope ``region`` adds ``regional`` (the tile fields b, t,
        f of :func:`docbin.method.regional.explain`; ``f`` stays the page's factor).
    refined : ndarray or None
        With ``record_refined`` and the refine step: uint8 page, 0 where the classical
        decision stands, 1 where the network re-decided it and the classical decision
        stayed (text it added out of its reach included), 2 where it turned the pixel
        to text, 3 where it turned it to background.
    dropped : ndarray or None
        With ``record_refined`` and the clean step: bool page, True on the ink of the
        components it dropped.
    factor_field : ndarray or None
        With ``record_refined`` and the surface step: f over the page, 16 px per patch
        (float32), for ``--explain``.
    """

    image: np.ndarray
    info: dict = field(default_factory=dict)
    refined: np.ndarray | None = None
    dropped: np.ndarray | None = None
    factor_field: np.ndarray | None = None

    @property
    def ink(self) -> np.ndarray:
        """Boolean mask, True on text."""
        return self.image == 0


@dataclass
class PageContext:
    """One page on its way through the steps: what each step read and decided."""

    gray: np.ndarray
    options: Options
    record: bool = False
    stats: PageStats | None = None
    factor: float = float("nan")  # the page's f
    decision_factor: object = None  # f for the rule: the page's, or rows of f(row, col)
    blocks: object = None  # per-patch sample histograms, for the surface step
    refiner: _refine.RowRefiner | None = None
    image: np.ndarray | None = None
    dropped: np.ndarray | None = None
    factor_field: np.ndarray | None = None
    timings: dict = field(default_factory=dict)
    info: dict = field(default_factory=dict)

    @contextmanager
    def timed(self, step: str):
        start = time.perf_counter()
        yield
        self.timings[step] = self.timings.get(step, 0.0) + time.perf_counter() - start


def measure(context: PageContext, *, patch_blocks: bool = False) -> None:
    """T_I, B_I, K and the page's f; with scope ``region``, f per tile as well; with
    ``patch_blocks``, the samples' histograms per 512 px patch (the surface step's)."""
    options = context.options
    with context.timed("statistics"):
        if patch_blocks:
            fields = None
            stats, _, context.blocks = measure_page_blocks(
                context.gray, PATCH_SIZE, patch_grid_shape(context.gray.shape),
                threads=options.threads or None)
            context.stats = stats
            context.factor = float(logistic_surface(stats.b, stats.t))
        elif options.resolved_scope == "region":
            fields = _regional.regional_stats(context.gray)
            context.stats = fields.page
            context.factor = float(logistic_surface(fields.page.b, fields.page.t))
        else:
            fields = None
            page = classical_page(context.gray, threads=options.threads or None)
            context.stats, context.factor = page.stats, page.factor
    context.decision_factor = context.factor
    if fields is not None:  # f(row, col) = S(b(row, col), t(row, col))
        with context.timed("regional"):
            f_tiles = _regional.factor_field(fields)
            context.decision_factor = _regional.TileFieldRows(f_tiles, context.gray.shape,
                                                              fields.tile_size)
            context.info["regional"] = _regional.explain(fields, f_tiles)


def adjust_surface(context: PageContext, model) -> None:
    """The surface step: f per patch from the network's adjustment of the surface,
    blended across the page; the page's f when the network leaves the surface as it is."""
    with context.timed("surface"):
        factor, info = _adjust.surface_factor(
            context.gray, context.stats, context.factor, model=model,
            balance=context.options.balance, record=context.record, blocks=context.blocks)
    context.factor_field = info.pop("f_field", None)
    context.decision_factor = factor
    context.info["surface"] = info


def prepare_refine(context: PageContext, network: _refine.Refiner) -> None:
    """The refine step's row refiner, run by :func:`decide` inside the decision pass."""
    stats = context.stats
    context.refiner = _refine.RowRefiner(
        network, _refine.PageConstants(stats.ink_intensity, stats.contour_intensity,
                                       stats.window_radius, context.factor),
        context.gray, balance=context.options.balance, record=context.record)


def decide(context: PageContext) -> None:
    """L_m, L_a and the rule band by band (bounded memory), the refine step in the same
    pass; its added text must then touch classical text (the network's reach) and keep the
    classical strokes' shape (fill notches and holes, join broken strokes; never widen)."""
    with context.timed("decision"):
        context.image = _decision.binary_page(
            context.gray, context.stats.window_radius, context.decision_factor,
            refine=context.refiner, threads=context.options.threads or None)
        if context.refiner is not None:
            context.refiner.finish(context.image)
    if context.refiner is not None:
        context.info["hybrid"] = context.refiner.explain()


def clean(context: PageContext, cleaner) -> None:
    """The clean step: whole ink components the model finds unlikely to be text dropped
    (never reshaped)."""
    with context.timed("clean"):
        _, info, context.dropped = _clean.clean_components(
            context.gray, context.image, context.stats, cleaner=cleaner,
            balance=context.options.balance, record=context.record,
            threads=context.options.threads or None)
    context.info["clean"] = info


def binarize(image: np.ndarray, method: str | None = None, *, options: Options | None = None,
             record_refined: bool = False, **kwargs) -> BinarizationResult:
    """Binarize a document page.

    Parameters
    ----------
    image : ndarray
        2-D uint8 gray page, or an RGB/RGBA uint8 array (converted to gray).
    method : {"classical", "hybrid"}, optional
        ``classical``: the parameter-free method of METHOD.md §1 with the logistic
        decision surface. ``hybrid``: the same decision, with its learned steps
        (``options.steps``, all by default): ``surface`` adjusts f per patch
        (:mod:`docbin.method.adjust`), ``refine`` re-decides the pixels near the threshold
        (:mod:`docbin.method.refine`), ``clean`` drops whole components that are not text
        (:mod:`docbin.method.clean`). Default: ``options.method``, or the default of
        :class:`~docbin.options.Options`.
    options : Options, optional
        Every other setting; keyword arguments override its fields.
    record_refined : bool
        Hybrid: also return the maps of what the learned steps did (``result.refined``,
        one byte per pixel), for ``--explain``.

    Returns
    -------
    BinarizationResult
        ``.image`` (uint8, text 0 / background 255) and ``.info``.

    Examples
    --------
    >>> import numpy as np
    >>> import docbin
    >>> page = np.full((64, 64), 200, np.uint8); page[20:44, 30:34] = 40
    >>> result = docbin.binarize(page)
    >>> int(result.image[30, 31]), int(result.image[5, 5])
    (0, 255)
    """
    if method is not None:
        kwargs["method"] = method
    if options is None:
        options = Options(**kwargs)
    elif kwargs:
        options = replace(options, **kwargs)
    steps = options.resolved_steps
    # load (and check) every model before the costly statistics
    surface_model = _adjust.load_surface_model() if "surface" in steps else None
    network = _refine.load_refiner(options.model) if "refine" in steps else None
    cleaner = _clean.load_cleaner() if "clean" in steps else None
    return binarize_with(image, options, surface_model=surface_model, network=network,
                         cleaner=cleaner, record_refined=record_refined)


def binarize_with(image: np.ndarray, options: Options, *, surface_model=None, network=None,
                  cleaner=None, record_refined: bool = False) -> BinarizationResult:
    """The steps of :func:`binarize` with the given models: a learned step runs iff its
    model is given (``surface_model`` as :func:`docbin.method.adjust.load_surface_model`
    returns it, ``network`` as :func:`docbin.method.refine.load_refiner`, ``cleaner`` as
    :func:`docbin.method.clean.load_cleaner`, or objects with the same interface).

    :func:`binarize` loads the shipped models of ``options.steps`` and calls this; the
    benchmarks call it with models trained on part of the development pages.
    """
    context = PageContext(as_gray(image), options, record=record_refined)
    steps = [step for step, model in (("surface", surface_model), ("refine", network),
                                      ("clean", cleaner)) if model is not None]
    measure(context, patch_blocks=surface_model is not None)
    if surface_model is not None:
        adjust_surface(context, surface_model)
    if network is not None:
        prepare_refine(context, network)
    decide(context)
    if cleaner is not None:
        clean(context, cleaner)
    info = {"method": options.method, "scope": options.resolved_scope,
            **context.stats.as_dict(), "f": context.factor}
    if options.method == "hybrid":
        info["steps"] = list(steps)
    info.update(context.info)
    info["timings"] = context.timings
    recorded = None if context.refiner is None else context.refiner.recorded
    return BinarizationResult(context.image, info, recorded, context.dropped,
                              context.factor_field)
