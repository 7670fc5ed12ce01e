"""Clean pages for OCR: a learned keep-or-drop decision for each whole ink component.

After the decision (and after the refinement of ``--method hybrid``), every 8-connected
component of the page's text is kept or dropped whole by a small shipped model
(``docbin/models/clean.onnx``, run with onnxruntime): bleed-through, stains and specks
that the threshold kept are removed, and no kept stroke is ever reshaped.

Features of a component (METHOD.md, "The clean step"). They describe the component and its
neighbourhood only; intensities are divided by the page's ink contrast
``c = max(B_I − T_I, 8)``, sizes by the page's typical text (ink-weighted medians over its
components), so that nothing says which page or collection the component comes from:

==  ======================  ===========================================================
0   ``log_area``            ``log(1 + A)``: A the pixel count (specks are small anywhere)
1   ``log_area_rel``        ``log(A / A_typ)``
2   ``log_height_rel``      ``log(h / h_typ)``, h the bounding box height
3   ``log_width_rel``       ``log(w / h_typ)``
4   ``fill``                ``A / (w · h)``
5   ``log_stroke_rel``      ``log(s / s_typ)``, stroke width ``s = 2 A / P``, P the boundary
                            pixels (ink pixels with a 4-neighbour of background)
6   ``darkness``            ``(μ − T_I) / c``, μ the mean gray level of the component
7   ``contrast``            ``(μ_ring − μ) / c``, μ_ring the mean gray level of its ring
8   ``dark_fraction``       share of its pixels with ``I < (T_I + B_I) / 2``
9   ``spread``              ``σ / c``, σ the standard deviation of its gray levels
10  ``edge``                ``g_P / (4 c)``, g_P the mean gradient on its boundary pixels
11  ``ring_edge``           ``g_ring / (4 c)``, the mean gradient on its ring
12  ``sharpness``           ``min(g_P / (4 · max(μ_ring − μ, 2)), 4)``: edge per own contrast
                            (a blurred mark has weak edges for its contrast)
13  ``neighbour_ink``       ink of other components around it: ``max(N − A, 0) /
                            max(R − A, 1)``, N the ink pixels and R the pixels of its box
                            grown by ``h_typ`` on every side (counted on blocks of ``β``
                            pixels, see :func:`component_features`)
14  ``darkness_rel``        ``(μ − μ_typ) / c``: lighter than the page's typical text
15  ``contrast_rel``        ``log(max(μ_ring − μ, 1) / max(κ_typ, 1))``
16  ``edge_rel``            ``log(max(g_P, 1) / max(g_typ, 1))``
17  ``slant``               ``r = −cov(x, y) / √(var x · var y)`` over its pixels' columns
                            x and rows y: positive for strokes leaning right, 0 where all
                            share a row or a column
18  ``slant_agreement``      ``r · r_typ``: show-through from the verso is mirrored left to
                            right, so it leans against the page's handwriting (< 0); near 0
                            on upright script
==  ======================  ===========================================================

The gradient is ``|∂I/∂x| + |∂I/∂y|`` of 3 × 3 Sobel filters (a step of height c gives 4c).
The ring of a component is the background within the 5 × 5 square around its pixels (a
2-pixel ring); where rings of two components meet, the pixel belongs to the higher label.
The typical values ``A_typ``, ``h_typ``, ``s_typ``, ``μ_typ``, ``κ_typ`` (of ``μ_ring − μ``),
``g_typ`` (of ``g_P``) and ``r_typ`` (of ``r``) are ink-weighted medians over the page's
components (the value of the component that holds the median ink pixel): a relative
normaliser, robust to any number of specks.

Two forms compute the same features (and drop the same pixels). Where docbin's compiled
kernels are built (:mod:`docbin.method.kernels`), the components are found as runs of text
(:class:`RunLabels`: union-find over the runs, numbered as OpenCV numbers them), and one
compiled pass over the page (``docbin._kernels.component_sums``) makes their labels five
rows at a time and adds every per-label sum and box (integers, in int64); the drop sets
the dropped components' runs to background. No full-page array is made: per run 4 bytes,
per component some 340 bytes. Otherwise the labels are OpenCV's
(``connectedComponentsWithStats``, int32, 4 B/px, from a 1 B/px ink mask) and the sums
NumPy bincounts, band by band (rows with a 3-row halo).
"""

from __future__ import annotations

import itertools
import json
import threading
from dataclasses import dataclass

import cv2
import numpy as np

from docbin.errors import ModelError
from docbin.method import bands as _bands_module
from docbin.method import kernels
from docbin.method.onnx import open_session

FEATURES = ("log_area", "log_area_rel", "log_height_rel", "log_width_rel", "fill",
            "log_stroke_rel", "darkness", "contrast", "dark_fraction", "spread", "edge",
            "ring_edge", "sharpness", "neighbour_ink", "darkness_rel", "contrast_rel",
            "edge_rel", "slant", "slant_agreement")
#: Version of the feature definitions above; a model states the version it was trained on.
FEATURE_VERSION = "3"
MIN_CONTRAST = 8.0
#: pixels of a band of rows (band-by-band sums keep the extra memory small)
BAND_PIXELS = 1 << 21
#: halo rows of a band: the ring (2) and the Sobel filter (1)
HALO = 3
#: the neighbour-ink block map has at most this many cells
MAX_BLOCK_CELLS = 1 << 22
#: drop threshold at balance 0.5 when a model states none
DEFAULT_THRESHOLD = 0.15


@dataclass
class RunLabels:
    """The components of a page as runs of text (``docbin._kernels.label_runs``): the runs
    of each row, left to right, rows top to bottom; ``labels`` (bytes, int32 per run, in
    ``1..count``) and ``row_starts`` (bytes, int64 [rows + 1], the first run of each row).
    Valid for the binary page they were found on, as long as it is unchanged."""

    count: int
    labels: bytes
    row_starts: bytes
    binary: np.ndarray

    @classmethod
    def find(cls, binary: np.ndarray) -> RunLabels:
        binary = np.ascontiguousarray(binary)
        count, labels, row_starts, _ = kernels.compiled.label_runs(binary, binary.shape[1])
        return cls(count, labels, row_starts, binary)

    def paint(self) -> np.ndarray:
        """The labels (rows, cols): uint16 below 65536 components, else int32."""
        labels = np.zeros(self.binary.shape, np.uint16 if self.count < (1 << 16) else np.int32)
        kernels.compiled.paint_runs(self.binary, self.binary.shape[1], self.labels,
                                    self.row_starts, labels)
        return labels


class Components:
    """The components of a binary page and their features.

    Attributes
    ----------
    labels : ndarray
        (rows, cols), 0 on background, ``1..count`` on the components' pixels: int32, or
        uint16 (below 65536 components) where the compiled kernels are built; there, made
        from :attr:`runs` when first read (the page must be unchanged until then).
    count : int
        Number of components.
    area : ndarray
        int64 [count + 1], pixels per label (entry 0: the background).
    features : ndarray
        float32 [count, len(FEATURES)], row ``i`` for label ``i + 1``.
    boxes : ndarray or None
        int64 [count + 1, 4]: left, top, right, bottom (inclusive page coordinates) of each
        label's bounding box (entry 0: the whole page).
    runs : RunLabels or None
        Where the compiled kernels are built: the components as runs of text (no page of
        labels is made unless :attr:`labels` is read).
    """

    def __init__(self, labels: np.ndarray | None, count: int, area: np.ndarray,
                 features: np.ndarray, boxes: np.ndarray | None = None,
                 runs: RunLabels | None = None):
        if labels is None and runs is None:
            raise ValueError("Components need labels or runs")
        self._labels, self.count, self.area, self.features = labels, count, area, features
        self.boxes, self.runs = boxes, runs

    @property
    def labels(self) -> np.ndarray:
        if self._labels is None:
            self._labels = self.runs.paint()
        return self._labels


def ink_weighted_median(values: np.ndarray, weights: np.ndarray) -> float:
    """The value of the item that holds the median unit of weight: sort by value, the first
    item whose cumulative weight reaches half of the total (``nan`` without items)."""
    if len(values) == 0:
        return float("nan")
    order = np.argsort(values, kind="stable")
    cumulative = np.cumsum(weights[order].astype(np.float64))
    at = int(np.searchsorted(cumulative, 0.5 * cumulative[-1]))
    return float(values[order][min(at, len(order) - 1)])


def _bands(rows: int, cols: int, band_pixels: int | None):
    height = max(8, (band_pixels or BAND_PIXELS) // max(cols, 1))
    for r0 in range(0, rows, height):
        yield r0, min(rows, r0 + height)


def block_size(rows: int, cols: int, typical_height: float) -> int:
    """β, the side of the blocks the neighbour ink is counted on: ``max(1, h_typ // 4)``,
    raised so that the block map has at most :data:`MAX_BLOCK_CELLS` cells."""
    beta = max(1, int(typical_height // 4))
    while (rows // beta + 1) * (cols // beta + 1) > MAX_BLOCK_CELLS:
        beta += 1
    return beta


def block_ink_integral(binary: np.ndarray, beta: int, *,
                       band_pixels: int | None = None) -> np.ndarray:
    """Integral image (int64, ``(⌈rows/β⌉ + 1, ⌈cols/β⌉ + 1)``) of the ink pixels counted on
    β × β blocks (the last row and column of blocks may be partial)."""
    rows, cols = binary.shape
    nr, nc = -(-rows // beta), -(-cols // beta)
    counts = np.zeros((nr, nc), np.int64)
    if kernels.compiled is not None:  # one pass over the rows, none without ink
        kernels.compiled.block_ink(np.ascontiguousarray(binary), cols, beta, counts)
        integral = np.zeros((nr + 1, nc + 1), np.int64)
        np.cumsum(np.cumsum(counts, axis=0), axis=1, out=integral[1:, 1:])
        return integral
    height = max(beta, ((band_pixels or BAND_PIXELS) // max(cols, 1)) // beta * beta)
    for r0 in range(0, rows, height):
        r1 = min(rows, r0 + height)
        ink = (binary[r0:r1] == 0)
        pad_r, pad_c = (-(r1 - r0)) % beta, (-cols) % beta
        if pad_r or pad_c:
            ink = np.pad(ink, ((0, pad_r), (0, pad_c)))
        block = ink.reshape(ink.shape[0] // beta, beta, nc, beta).sum(axis=(1, 3))
        counts[r0 // beta:r0 // beta + block.shape[0]] = block
    integral = np.zeros((nr + 1, nc + 1), np.int64)
    np.cumsum(np.cumsum(counts, axis=0), axis=1, out=integral[1:, 1:])
    return integral


def _compare(array: np.ndarray, op: int) -> np.ndarray:
    """``cv2.compare(array, 0, op)``: uint8, 255 where it holds, else 0 (a 1 × 1 array too,
    which OpenCV's binding would read as a scalar)."""
    if array.size == 1:
        test = {cv2.CMP_EQ: np.equal, cv2.CMP_GT: np.greater}[op]
        return np.where(test(array, 0), 255, 0).astype(np.uint8).reshape(array.shape)
    return cv2.compare(array, 0, op)


def label_components(binary: np.ndarray) -> tuple[int, np.ndarray, np.ndarray]:
    """(count, labels int32 (rows, cols), stats [count + 1, 5]) of the 8-connected
    components of the text (value 0) of ``binary``: OpenCV's
    ``connectedComponentsWithStats`` (stats: left, top, width, height, area)."""
    ink = _compare(binary, cv2.CMP_EQ)  # 255 on text, 1 B/px
    n, labels, stats, _ = cv2.connectedComponentsWithStats(ink, connectivity=8,
                                                           ltype=cv2.CV_32S)
    del ink
    return n - 1, labels, stats


def compact_labels(binary: np.ndarray) -> tuple[int, np.ndarray]:
    """(count, labels (rows, cols)) of the 8-connected components of the text (value 0) of
    ``binary``: the labels of :func:`label_components` (OpenCV's numbering: components in
    the raster order of the first 2 × 2 block holding one of their pixels), uint16 when
    there are fewer than 65536 components, else int32, where the compiled kernels are built
    (:class:`RunLabels`: union-find over the runs of text, then the labels painted; no ink
    mask). Otherwise :func:`label_components` (int32).
    """
    if kernels.compiled is None or binary.size == 0:
        count, labels, _ = label_components(binary)
        return count, labels
    runs = RunLabels.find(binary)
    return runs.count, runs.paint()


def _component_sums(gray: np.ndarray, binary: np.ndarray, labels: np.ndarray, n: int,
                    midpoint: float, band_pixels: int | None) -> dict:
    """Per-label sums over the page, band by band (rows with a :data:`HALO`-row halo):
    gray levels and their squares, dark pixels (below ``midpoint``), boundary pixels and
    their gradient, ring pixels, their gray levels and their gradient (float64); and the
    moments of the pixels' coordinates (:data:`MOMENTS`, int64, exact: each band's
    bincount is exact in float64 and the bands add in int64)."""
    rows, cols = gray.shape
    sum_i = np.zeros(n)
    sum_i2 = np.zeros(n)
    dark = np.zeros(n)
    boundary = np.zeros(n)
    boundary_grad = np.zeros(n)
    ring = np.zeros(n)
    ring_i = np.zeros(n)
    ring_grad = np.zeros(n)
    moments = np.zeros((len(MOMENTS), n), np.int64)
    # labels dilated exactly: uint16 below 2¹⁶ labels, float32 below 2²⁴, else float64
    label_type = np.uint16 if n < (1 << 16) else np.float32 if n < (1 << 24) else np.float64
    square5 = np.ones((5, 5), np.uint8)
    cross3 = cv2.getStructuringElement(cv2.MORPH_CROSS, (3, 3))
    gray = np.ascontiguousarray(gray)
    labels_flat = labels.reshape(-1)
    gray_flat = gray.reshape(-1)
    for r0, r1 in _bands(rows, cols, band_pixels):
        a0, a1 = max(0, r0 - HALO), min(rows, r1 + HALO)
        first, last = (r0 - a0) * cols, (r1 - a0) * cols  # the band's rows, flat in [a0, a1)
        base = a0 * cols
        text = _compare(binary[a0:a1], cv2.CMP_EQ)  # 255 on text (labels > 0)
        # gradient |∂x| + |∂y| (Sobel 3 × 3, replicated page border), int16 (<= 2040)
        g = gray[a0:a1]
        gx = cv2.Sobel(g, cv2.CV_16S, 1, 0, ksize=3, borderType=cv2.BORDER_REPLICATE)
        gy = cv2.Sobel(g, cv2.CV_16S, 0, 1, ksize=3, borderType=cv2.BORDER_REPLICATE)
        np.abs(gx, out=gx)
        np.abs(gy, out=gy)
        grad = np.add(gx, gy, out=gx).reshape(-1)
        del gy
        # component pixels (flat indices into the band's rows [a0, a1))
        at = np.flatnonzero(text.reshape(-1)[first:last]) + first
        l_text = labels_flat[base + at]
        v = gray_flat[base + at].astype(np.float64)
        sum_i += np.bincount(l_text, weights=v, minlength=n)
        sum_i2 += np.bincount(l_text, weights=v * v, minlength=n)
        dark += np.bincount(l_text, weights=v < midpoint, minlength=n)
        del v
        x = (at % cols).astype(np.float64)
        y = (at // cols + a0).astype(np.float64)
        for k, w in enumerate((x, y, x * x, y * y, x * y)):
            moments[k] += np.rint(np.bincount(l_text, weights=w, minlength=n)).astype(np.int64)
        del x, y
        # boundary: text with a 4-neighbour of background (outside the page is not)
        eroded = cv2.erode(text, cross3).reshape(-1)
        on_edge = eroded[at] == 0
        edge_at, l_edge = at[on_edge], l_text[on_edge]
        boundary += np.bincount(l_edge, minlength=n)
        boundary_grad += np.bincount(l_edge, weights=grad[edge_at], minlength=n)
        del eroded, on_edge, edge_at, l_edge, l_text, at
        # ring: background within the 5 × 5 square of a component (the higher label wins)
        grown = cv2.dilate(labels[a0:a1].astype(label_type), square5)
        ring_mask = cv2.bitwise_and(_compare(grown, cv2.CMP_GT), cv2.bitwise_not(text))
        at = np.flatnonzero(ring_mask.reshape(-1)[first:last]) + first
        l_ring = grown.reshape(-1)[at].astype(np.int64)
        ring += np.bincount(l_ring, minlength=n)
        ring_i += np.bincount(l_ring, weights=gray_flat[base + at], minlength=n)
        ring_grad += np.bincount(l_ring, weights=grad[at], minlength=n)
        del grown, ring_mask, at, l_ring, grad, text
    sums = {"sum_i": sum_i, "sum_i2": sum_i2, "dark": dark, "boundary": boundary,
            "boundary_grad": boundary_grad, "ring": ring, "ring_i": ring_i,
            "ring_grad": ring_grad}
    sums.update(zip(MOMENTS, moments))
    return sums


#: the per-label moments of the text pixels' column x and row y (int64)
MOMENTS = ("sum_x", "sum_y", "sum_xx", "sum_yy", "sum_xy")
#: the per-label sums of :func:`_component_sums`, in the order of the compiled pass
SUMS = ("sum_i", "sum_i2", "dark", "boundary", "boundary_grad", "ring", "ring_i",
        "ring_grad") + MOMENTS


def _compiled_sums(gray: np.ndarray, runs: RunLabels, midpoint: float,
                   threads: int | None) -> tuple[dict, np.ndarray]:
    """The sums of :func:`_component_sums` and the components' boxes in one compiled pass
    over the page (``docbin._kernels.component_sums``), its rows split between threads. The
    labels are made from the runs five rows at a time, never as a page.

    Every sum is an integer accumulated in int64, so the float64 results equal the
    bincounts of :func:`_component_sums` exactly. Each thread has its own accumulators
    (18 int64 per label); a second thread runs only while they take at most 1/32 byte per
    pixel.

    Returns
    -------
    sums : dict
        [n] per name of :data:`SUMS` (n = count + 1, entry 0 unused): float64, the
        :data:`MOMENTS` int64.
    boxes : ndarray
        int64 [5, n]: left, top, right, bottom (inclusive), pixel count; label 0: the whole
        page and its background pixels.
    """
    binary = runs.binary
    rows, cols = binary.shape
    n = runs.count + 1
    parts = _bands_module.thread_count(threads)
    if 18 * 8 * n * (parts - 1) > rows * cols // 32:
        parts = 1
    parts = max(1, min(parts, rows // 16))
    edges = [rows * k // parts for k in range(parts + 1)]

    def part(span):
        sums = np.zeros((len(SUMS), n), np.int64)
        boxes = np.empty((5, n), np.int64)
        boxes[0], boxes[1], boxes[2], boxes[3], boxes[4] = cols, rows, -1, -1, 0
        kernels.compiled.component_sums(gray, binary, runs.labels, runs.row_starts, cols,
                                        span[0], span[1], midpoint, sums, boxes)
        return sums, boxes

    results = _bands_module.map_bands(part, list(itertools.pairwise(edges)), parts)
    sums, boxes = results[0]
    for more_sums, more_boxes in results[1:]:
        sums += more_sums
        np.minimum(boxes[:2], more_boxes[:2], out=boxes[:2])
        np.maximum(boxes[2:4], more_boxes[2:4], out=boxes[2:4])
        boxes[4] += more_boxes[4]
    del results
    boxes[:, 0] = 0, 0, cols - 1, rows - 1, rows * cols - int(boxes[4, 1:].sum())
    return {name: sums[k] if name in MOMENTS else sums[k].astype(np.float64)
            for k, name in enumerate(SUMS)}, boxes


def _neighbour_ink(binary: np.ndarray, top, left, height, width, typical_height: float,
                   band_pixels: int | None) -> tuple[np.ndarray, np.ndarray]:
    """Ink pixels and pixels in each component's box grown by ``h_typ`` on every side,
    counted on β × β blocks (:func:`block_size`, :func:`block_ink_integral`)."""
    rows, cols = binary.shape
    beta = block_size(rows, cols, typical_height)
    integral = block_ink_integral(binary, beta, band_pixels=band_pixels)
    grow = round(typical_height)
    nr, nc = integral.shape[0] - 1, integral.shape[1] - 1
    b_top = np.clip((top - grow) // beta, 0, nr)
    b_left = np.clip((left - grow) // beta, 0, nc)
    b_bottom = np.clip(-(-(top + height.astype(np.int64) + grow) // beta), 0, nr)
    b_right = np.clip(-(-(left + width.astype(np.int64) + grow) // beta), 0, nc)
    box_ink = (integral[b_bottom, b_right] - integral[b_top, b_right]
               - integral[b_bottom, b_left] + integral[b_top, b_left]).astype(np.float64)
    box_pixels = ((np.minimum(b_bottom * beta, rows) - b_top * beta)
                  * (np.minimum(b_right * beta, cols) - b_left * beta)).astype(np.float64)
    return box_ink, box_pixels


def component_slant(sums: dict, area: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """The slant of every component (float64 [count]): the correlation of its pixels' column
    with their height on the page, ``r = −cov(x, y) / √(var x · var y)`` (y down), positive
    for strokes leaning right; 0 where all pixels share a row or a column. The moments are
    taken about the box's top-left corner, exactly in int64, before the division."""
    a = area[1:]
    left, top = boxes[1:, 0], boxes[1:, 1]
    sx, sy = sums["sum_x"][1:], sums["sum_y"][1:]
    # about (left, top): Σ(x − l) = Σx − l·a, Σ(x − l)² = Σx² − 2l·Σx + l²·a, ...
    cx = sx - left * a
    cy = sy - top * a
    cxx = sums["sum_xx"][1:] - 2 * left * sx + left * left * a
    cyy = sums["sum_yy"][1:] - 2 * top * sy + top * top * a
    cxy = sums["sum_xy"][1:] - left * sy - top * sx + left * top * a
    af = a.astype(np.float64)
    mx, my = cx / af, cy / af
    vx = cxx / af - mx * mx
    vy = cyy / af - my * my
    cov = cxy / af - mx * my
    spread = vx * vy
    valid = spread > 1e-12
    r = np.where(valid, -cov / np.sqrt(np.where(valid, spread, 1.0)), 0.0)
    return np.clip(r, -1.0, 1.0)


def component_features(gray: np.ndarray, binary: np.ndarray, ink_intensity: float,
                       contour_intensity: float, *, band_pixels: int | None = None,
                       labelled=None, threads: int | None = None) -> Components:
    """Find the text components of ``binary`` and compute their features (:data:`FEATURES`)
    without a loop over components: where the compiled kernels are built
    (:mod:`docbin.method.kernels`), the components as runs of text (:class:`RunLabels`) and
    their sums and boxes in one compiled pass (:func:`_compiled_sums`); otherwise the labels
    and boxes of ``cv2.connectedComponentsWithStats`` and sums with ``np.bincount``, band by
    band (:func:`_component_sums`). Both forms give identical features, labels and boxes.

    Parameters
    ----------
    gray : ndarray
        uint8 (rows, cols) gray page.
    binary : ndarray
        uint8 (rows, cols), text 0, background 255.
    ink_intensity, contour_intensity : float
        The page's T_I and B_I (METHOD.md §1).
    band_pixels : int, optional
        Pixels per band of rows (default :data:`BAND_PIXELS`).
    labelled : tuple, optional
        ``(count, labels, stats)`` of :func:`label_components`, when already computed (the
        compiled form finds the runs of text itself, and keeps these labels).
    threads : int, optional
        Threads of the compiled pass (default: :func:`docbin.method.bands.thread_count`).
    """
    rows, cols = binary.shape
    midpoint = 0.5 * (float(ink_intensity) + float(contour_intensity))
    if kernels.compiled is not None and binary.size:
        gray = np.ascontiguousarray(gray)
        binary = np.ascontiguousarray(binary)
        runs = RunLabels.find(binary)
        labels, count = (labelled[1] if labelled is not None else None), runs.count
        n = count + 1
        if count:
            sums, boxes = _compiled_sums(gray, runs, midpoint, threads)
        else:
            sums, boxes = None, np.array([[0], [0], [cols - 1], [rows - 1], [rows * cols]],
                                         np.int64)
        area = boxes[4].copy()
        boxes = np.ascontiguousarray(boxes[:4].T)
    else:
        runs = None
        count, labels, stats = labelled if labelled is not None else label_components(binary)
        n = count + 1
        area = stats[:, cv2.CC_STAT_AREA].astype(np.int64)
        boxes = np.empty((n, 4), np.int64)
        boxes[:, 0] = stats[:, cv2.CC_STAT_LEFT]
        boxes[:, 1] = stats[:, cv2.CC_STAT_TOP]
        boxes[:, 2] = boxes[:, 0] + stats[:, cv2.CC_STAT_WIDTH] - 1
        boxes[:, 3] = boxes[:, 1] + stats[:, cv2.CC_STAT_HEIGHT] - 1
        boxes[0] = 0, 0, cols - 1, rows - 1
        sums = _component_sums(gray, binary, labels, n, midpoint, band_pixels) \
            if count else None
    if count == 0:
        return Components(labels, 0, area, np.zeros((0, len(FEATURES)), np.float32), boxes,
                          runs)
    contrast = max(float(contour_intensity) - float(ink_intensity), MIN_CONTRAST)
    sum_i, sum_i2, dark = sums["sum_i"], sums["sum_i2"], sums["dark"]
    boundary, boundary_grad = sums["boundary"], sums["boundary_grad"]
    ring, ring_i, ring_grad = sums["ring"], sums["ring_i"], sums["ring_grad"]
    a = area[1:].astype(np.float64)
    left, top = boxes[1:, 0], boxes[1:, 1]
    width = (boxes[1:, 2] - left + 1).astype(np.float64)
    height = (boxes[1:, 3] - top + 1).astype(np.float64)
    mean = sum_i[1:] / a
    std = np.sqrt(np.maximum(sum_i2[1:] / a - mean * mean, 0.0))
    stroke = 2.0 * a / np.maximum(boundary[1:], 1.0)
    has_ring = ring[1:] > 0
    ring_mean = np.where(has_ring, ring_i[1:] / np.maximum(ring[1:], 1.0), mean)
    edge_mean = boundary_grad[1:] / np.maximum(boundary[1:], 1.0)
    ring_edge = ring_grad[1:] / np.maximum(ring[1:], 1.0)
    typical_area = ink_weighted_median(a, a)
    typical_height = ink_weighted_median(height, a)
    typical_stroke = ink_weighted_median(stroke, a)
    typical_mean = ink_weighted_median(mean, a)
    typical_contrast = ink_weighted_median(ring_mean - mean, a)
    typical_edge = ink_weighted_median(edge_mean, a)
    # ink of other components around each: box grown by h_typ, on β × β blocks
    box_ink, box_pixels = _neighbour_ink(binary, top, left, height, width, typical_height,
                                         band_pixels)
    out = np.empty((count, len(FEATURES)), np.float32)
    out[:, 0] = np.log1p(a)
    out[:, 1] = np.log(a / typical_area)
    out[:, 2] = np.log(height / typical_height)
    out[:, 3] = np.log(width / typical_height)
    out[:, 4] = a / (width * height)
    out[:, 5] = np.log(stroke / typical_stroke)
    out[:, 6] = (mean - float(ink_intensity)) / contrast
    out[:, 7] = (ring_mean - mean) / contrast
    out[:, 8] = dark[1:] / a
    out[:, 9] = std / contrast
    out[:, 10] = edge_mean / (4.0 * contrast)
    out[:, 11] = ring_edge / (4.0 * contrast)
    out[:, 12] = np.minimum(edge_mean / (4.0 * np.maximum(ring_mean - mean, 2.0)), 4.0)
    out[:, 13] = np.maximum(box_ink - a, 0.0) / np.maximum(box_pixels - a, 1.0)
    out[:, 14] = (mean - typical_mean) / contrast
    out[:, 15] = np.log(np.maximum(ring_mean - mean, 1.0) / max(typical_contrast, 1.0))
    out[:, 16] = np.log(np.maximum(edge_mean, 1.0) / max(typical_edge, 1.0))
    slant = component_slant(sums, area, boxes)
    out[:, 17] = slant
    out[:, 18] = slant * ink_weighted_median(slant, a)
    return Components(labels, count, area, out, boxes, runs)


# --- the model at inference ----------------------------------------------------------------

#: File name of the clean model shipped inside the package (``docbin/models/``).
PACKAGED_NAME = "clean.onnx"
META_FEATURES = "docbin.clean.features"
META_VERSION = "docbin.clean.feature_version"
META_THRESHOLD = "docbin.clean.threshold"
META_DESCRIPTION = "docbin.clean.training_data"


def drop_threshold(calibrated: float, balance: float) -> float:
    """The probability of text under which a component is dropped, for a ``balance``.

    ``balance`` 0.5 gives the model's calibrated threshold τ; toward 1 fewer components
    are dropped (τ · 2(1 − balance), nothing at 1), toward 0 more (up to
    ``max(τ, 0.5)`` at 0, the plain classifier decision)::

        θ = τ · 2 (1 − balance)                        balance ≥ 0.5
        θ = τ + (1 − 2 balance) · (max(τ, 0.5) − τ)    balance < 0.5
    """
    balance = float(balance)
    if not 0.0 <= balance <= 1.0:
        raise ValueError(f"balance must lie in [0, 1], got {balance!r}")
    tau = float(calibrated)
    if balance >= 0.5:
        return tau * 2.0 * (1.0 - balance)
    return tau + (1.0 - 2.0 * balance) * (max(tau, 0.5) - tau)


class Cleaner:
    """A clean model (ONNX): float32 features ``[n, len(FEATURES)]`` → p(text) ``[n]``.

    Its metadata must list exactly :data:`FEATURES` at :data:`FEATURE_VERSION`, and may
    state the calibrated drop threshold τ (:data:`META_THRESHOLD`, in (0, 1)).
    """

    def __init__(self, source, name: str | None = None):
        self.name = name or str(source)
        self.session, props = open_session(source, self.name, "clean model", threads=1)
        try:
            features = json.loads(props[META_FEATURES])
            version = props[META_VERSION]
        except (KeyError, ValueError) as error:
            raise ModelError(f"{self.name}: not a docbin clean model (metadata "
                             f"{META_FEATURES} and {META_VERSION} missing or unreadable)") \
                from error
        if list(features) != list(FEATURES) or version != FEATURE_VERSION:
            raise ModelError(f"{self.name}: the model reads features {features} (version "
                             f"{version}), this docbin builds {list(FEATURES)} (version "
                             f"{FEATURE_VERSION}); use a matching docbin release")
        try:
            self.threshold = float(props.get(META_THRESHOLD, DEFAULT_THRESHOLD))
        except ValueError:
            self.threshold = -1.0
        if not 0.0 < self.threshold < 1.0:
            raise ModelError(f"{self.name}: drop threshold {props.get(META_THRESHOLD)!r} "
                             f"outside (0, 1)")
        self.description = props.get(META_DESCRIPTION, "")
        self._input = self.session.get_inputs()[0].name

    def __call__(self, features: np.ndarray) -> np.ndarray:
        if len(features) == 0:
            return np.zeros(0, np.float32)
        return self.session.run(None, {self._input: np.ascontiguousarray(
            features, np.float32)})[0].reshape(-1)


_cache: dict = {}
_cache_lock = threading.Lock()


def load_cleaner(path: str | None = None) -> Cleaner:
    """The clean model at ``path``, or the one shipped in the package (cached).

    Raises
    ------
    ModelError
        The file is missing, is not ONNX, or its metadata (feature list, feature version,
        threshold) does not match this docbin.
    """
    from importlib.resources import files
    from pathlib import Path

    if path is not None and str(path) != "":
        source = Path(path).expanduser()
        if not source.is_file():
            raise ModelError(f"clean model file not found: {path}")
        key, name = str(source.resolve()), str(path)
    else:
        source = files("docbin").joinpath("models", PACKAGED_NAME)
        if not source.is_file():
            raise ModelError(f"no clean model is installed (docbin/models/{PACKAGED_NAME})")
        key, name = "packaged", PACKAGED_NAME
    with _cache_lock:
        if key not in _cache:
            _cache[key] = Cleaner(source, name)
        return _cache[key]


def drop_components(binary: np.ndarray, labels: np.ndarray, dropped: np.ndarray, *,
                    record: bool = False, band_pixels: int | None = None):
    """Set the pixels of the labels where ``dropped`` (bool, per label, entry 0 False) is
    True to background (255) in ``binary``, in place, band by band; with ``record`` return
    the bool map of the dropped pixels (else None). The clean step's compiled form drops
    on the runs of text instead (:func:`_drop_runs`)."""
    rows, cols = binary.shape
    recorded = np.zeros((rows, cols), bool) if record else None
    labels_flat = labels.reshape(-1)
    for r0, r1 in _bands(rows, cols, band_pixels):
        band = binary[r0:r1]
        at = np.flatnonzero(_compare(band, cv2.CMP_EQ))  # text pixels of the band
        at = at[dropped[labels_flat[r0 * cols + at]]]
        if at.size:
            r, c = np.divmod(at, cols)
            band[r, c] = 255
            if recorded is not None:
                recorded[r0:r1][r, c] = True
    return recorded


def _drop_runs(binary: np.ndarray, runs: RunLabels, dropped: np.ndarray, boxes: np.ndarray,
               record: bool):
    """:func:`drop_components` on the runs of text (``docbin._kernels.drop_runs``), in the
    rows of the dropped components' boxes only; ``binary`` is ``runs.binary``."""
    rows, cols = binary.shape
    flagged = np.flatnonzero(dropped)
    edges = np.zeros(rows + 1, np.int64)  # +1 where a dropped box starts, -1 after it ends
    np.add.at(edges, boxes[flagged, 1], 1)
    np.add.at(edges, boxes[flagged, 3] + 1, -1)
    row_mask = (np.cumsum(edges[:-1]) > 0).astype(np.uint8)
    recorded = np.zeros((rows, cols), bool) if record else None
    kernels.compiled.drop_runs(binary, cols, runs.labels, runs.row_starts,
                               np.ascontiguousarray(dropped, np.uint8), row_mask, recorded)
    return recorded


def clean_components(gray: np.ndarray, binary: np.ndarray, page, *, cleaner: Cleaner,
                     balance: float = 0.5, record: bool = False,
                     band_pixels: int | None = None, threads: int | None = None):
    """Drop, whole, the text components the model finds unlikely to be text.

    Parameters
    ----------
    gray : ndarray
        uint8 (rows, cols) gray page.
    binary : ndarray
        uint8 (rows, cols) binarized page, text 0, background 255. **Modified in place**
        (dropped components become 255) and returned.
    page : PageStats
        The page's statistics (``.ink_intensity`` T_I, ``.contour_intensity`` B_I).
    cleaner : Cleaner
        The model, :func:`load_cleaner`.
    balance : float
        In [0, 1]: toward 1 keeps more ink (drops less; nothing at 1), toward 0 drops more;
        0.5 is the model's calibrated threshold (:func:`drop_threshold`).
    record : bool
        Also return the bool (rows, cols) map of the dropped pixels (``--explain``).
    threads : int, optional
        Threads of the compiled features pass (:func:`component_features`).

    Returns
    -------
    binary : ndarray
        The same array, cleaned.
    info : dict
        ``components`` (count), ``dropped`` (components), ``dropped_pixels`` (ink pixels),
        ``threshold`` (θ: dropped where p(text) < θ), ``balance``, ``model``.
    dropped_map : ndarray or None
        With ``record``: bool (rows, cols), True on the dropped pixels; else None.

    Notes
    -----
    A component is dropped iff ``p(text) < θ``; components are never reshaped, so every
    pixel of the result is either the input's or background. Extra memory: with the
    compiled kernels, no full-page array (per run of text 4 bytes, per component some 300
    bytes); without them the int32 labels and a 1 B/px ink mask (and OpenCV's table of
    provisional labels while labelling); and 1 B/px for ``record``.
    """
    gray = np.asarray(gray)
    if gray.shape != binary.shape:
        raise ValueError(f"gray {gray.shape} and binary {binary.shape} differ in shape")
    if binary.dtype != np.uint8 or gray.dtype != np.uint8:
        raise ValueError("gray and binary must be uint8")
    threshold = drop_threshold(cleaner.threshold, balance)
    comps = component_features(gray, binary, page.ink_intensity, page.contour_intensity,
                               band_pixels=band_pixels, threads=threads)
    info = {"model": cleaner.name, "balance": float(balance), "threshold": threshold,
            "components": comps.count, "dropped": 0, "dropped_pixels": 0}
    recorded = np.zeros(binary.shape, bool) if record else None
    if comps.count == 0 or threshold <= 0.0:
        return binary, info, recorded
    probability = cleaner(comps.features)
    dropped = np.zeros(comps.count + 1, bool)
    dropped[1:] = probability < threshold
    info["dropped"] = int(np.count_nonzero(dropped))
    info["dropped_pixels"] = int(comps.area[dropped].sum())
    if info["dropped"] and comps.runs is not None and comps.runs.binary is binary:
        recorded = _drop_runs(binary, comps.runs, dropped, comps.boxes, record)
    elif info["dropped"]:
        recorded = drop_components(binary, comps.labels, dropped, record=record,
                                   band_pixels=band_pixels)
    return binary, info, recorded
