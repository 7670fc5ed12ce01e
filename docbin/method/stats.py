"""Page statistics of the classical method: B_I, T_I and K (METHOD.md §1 items 2–4).

Everything here is measured on the page itself, from its strong edges E
(:mod:`docbin.method.edges`); the decision step lives in :mod:`docbin.method.decision`.
After the two edge passes, one more pass per band (:mod:`docbin.method.bands`) takes
``E = {q ≥ 255 − e*}`` (in place), the histograms of B_I and T_I and the connected
components of E, joined across band borders, with results identical to whole-page
processing. Where the compiled kernels are built (:mod:`docbin.method.kernels`), the
samples and component boxes of that pass run there, bit-identical to the NumPy form.
"""

from __future__ import annotations

import functools
import threading
from dataclasses import asdict, dataclass

import cv2
import numpy as np

from docbin.method import bands as _bands
from docbin.method import kernels
from docbin.method.edges import check_gray, strong_edge_mask
from docbin.options import CONSTANTS

# The 8-neighbourhood as (row, col) offsets.
NEIGHBOURS_8 = ((-1, -1), (-1, 0), (-1, 1), (0, -1), (0, 1), (1, -1), (1, 0), (1, 1))


@dataclass(frozen=True)
class PageStats:
    """The three page-level quantities of the classical method.

    Attributes
    ----------
    ink_intensity : float
        T_I, the typical gray level of ink next to strong edges (>= 1).
    contour_intensity : float
        B_I, the median gray level on the strong edges.
    window_radius : int
        K, the radius of the (2K+1)×(2K+1) window of the local median and mean.
    edge_threshold : int
        e*, the weighted-median threshold of the edge image.
    edge_pixels : int
        Number of strong-edge pixels.
    """

    ink_intensity: float
    contour_intensity: float
    window_radius: int
    edge_threshold: int
    edge_pixels: int

    @property
    def t(self) -> float:
        """Normalised ink intensity t = T_I / 255."""
        return self.ink_intensity / 255.0

    @property
    def b(self) -> float:
        """Normalised contour intensity b = B_I / 255."""
        return self.contour_intensity / 255.0

    def as_dict(self) -> dict:
        return asdict(self)




# --- B_I, T_I and K ---------------------------------------------------------------------------


def median_of_counts(counts: np.ndarray) -> float:
    """Lower median from a histogram: the smallest level v with ``2 · cum(v) >= n`` (the
    element at index ``(n − 1) // 2`` of the sorted samples), as the method's reference
    implementation takes it; B_I and T_I are therefore whole grey levels."""
    cumulative = np.cumsum(counts)
    n = int(cumulative[-1])
    if n == 0:
        raise ValueError("median of an empty set")
    return float(np.searchsorted(cumulative, (n - 1) // 2 + 1))


def quantile_of_counts(counts: np.ndarray, p: float) -> float:
    """The ``p``-quantile of a histogram as the reference implementation's fallbacks take
    it: the smallest level v whose cumulative count exceeds ``floor(p · n)``."""
    cumulative = np.cumsum(counts)
    n = int(cumulative[-1])
    if n == 0:
        raise ValueError("quantile of an empty set")
    return float(min(np.searchsorted(cumulative, int(p * n), side="right"), len(counts) - 1))


def histogram_medians(counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Lower medians of many histograms at once.

    ``counts`` has shape (..., 256). Returns ``(median, n)``: float64 medians (NaN for
    an empty histogram) and the sample counts, each of shape ``counts.shape[:-1]``.
    Vectorised :func:`docbin.method.stats.median_of_counts`.
    """
    cumulative = np.cumsum(counts, axis=-1)
    n = cumulative[..., -1]
    # searchsorted(cumulative, k, "left") = number of levels whose cumulative count is < k
    lower = (cumulative < ((n - 1) // 2 + 1)[..., None]).sum(axis=-1)
    median = np.where(n > 0, lower.astype(np.float64), np.nan)
    return median, n


def shrink_to_page(tile_values: np.ndarray, n: np.ndarray, page_value: float,
                   n0: float) -> np.ndarray:
    """``w · tile + (1 − w) · page`` with ``w = n / (n + n0)`` (page value where n = 0)."""
    n = np.asarray(n, np.float64)
    w = n / (n + float(n0))
    tile_values = np.where(n > 0, tile_values, page_value)
    return page_value + w * (tile_values - page_value)  # exactly the page's value where equal


def acceptance_table(gamma: float = CONSTANTS.gamma) -> np.ndarray:
    """``table[p, q]``: is a neighbour of gray level q accepted next to an edge pixel of
    level p, i.e. ``q <= d·|d|^gamma`` with ``d = p − q`` (float64). Made once per
    ``gamma`` and kept (read-only): every page reads the same table."""
    return _acceptance_table(float(gamma))


@functools.lru_cache(maxsize=4)
def _acceptance_table(gamma: float) -> np.ndarray:
    centre = np.arange(256, dtype=np.float64)[:, None]
    q = np.arange(256, dtype=np.uint8)[None, :]
    d = centre - q
    table = q <= d * np.abs(d) ** gamma
    table.flags.writeable = False
    return table


def _edge_pixel_counts(image: np.ndarray, local: np.ndarray, r0: int, r1: int,
                       owners: bool = False):
    """Histogram of the edge pixels' gray levels, and the codes ``256·I(p) + I(q)`` of
    every edge pixel p of rows [r0, r1) (``local``: flat indices inside the band) with each
    of its 8-neighbours q inside the page; with ``owners``, also each code's edge pixel
    (its index in ``local``)."""
    rows, cols = image.shape
    flat = image.reshape(-1)
    index = local + r0 * cols
    centre = flat[index]
    column = local % cols
    inside = (column != 0) & (column != cols - 1)
    if r0 == 0:
        inside &= local >= cols
    if r1 == rows:
        inside &= local < (r1 - r0 - 1) * cols
    codes, owner = [], []
    offsets = np.array([dr * cols + dc for dr, dc in NEIGHBOURS_8])
    interior = index[inside]
    if interior.size:
        high = centre[inside].astype(np.int32) << 8
        codes.append((high + flat[interior + offsets[:, None]]).ravel())
        if owners:
            owner.append(np.tile(np.flatnonzero(inside), len(offsets)))
    border = index[~inside]
    if border.size:  # pixels on the page's border: neighbours checked one by one
        br, bc = np.divmod(border, cols)
        high = flat[border].astype(np.int32) << 8
        which = np.flatnonzero(~inside)
        for dr, dc in NEIGHBOURS_8:
            ok = (br + dr >= 0) & (br + dr < rows) & (bc + dc >= 0) & (bc + dc < cols)
            codes.append(high[ok] + flat[border[ok] + dr * cols + dc])
            if owners:
                owner.append(which[ok])
    histogram = np.bincount(centre, minlength=256)
    if owners:
        return histogram, np.concatenate(codes), np.concatenate(owner)
    return histogram, np.concatenate(codes)


def _accepted(codes: np.ndarray, table: np.ndarray) -> np.ndarray:
    """Histogram of q over the pairs ``code = 256·p + q`` that ``table`` accepts."""
    return np.bincount(codes[table[codes]] & 255, minlength=256)


def _band_components(mask: np.ndarray, local: np.ndarray, r0: int, r1: int,
                     labels: np.ndarray) -> dict:
    """8-connected components of the mask's rows [r0, r1): area and bounding box (page
    coordinates, inclusive) from the labels at the band's edge pixels ``local`` (flat
    indices inside the band), and the labels of the band's first and last rows."""
    cols = mask.shape[1]
    count, labels = cv2.connectedComponents(mask[r0:r1].view(np.uint8), labels=labels[:r1 - r0],
                                            connectivity=8, ltype=cv2.CV_32S)
    label = labels.reshape(-1)[local] - 1
    row, col = np.divmod(local, cols)
    left = np.full(count - 1, cols, np.int64)
    top = np.full(count - 1, r1 - r0, np.int64)
    right = np.full(count - 1, -1, np.int64)
    bottom = np.full(count - 1, -1, np.int64)
    np.minimum.at(left, label, col)
    np.maximum.at(right, label, col)
    np.minimum.at(top, label, row)
    np.maximum.at(bottom, label, row)
    return {"left": left, "top": top + r0, "right": right, "bottom": bottom + r0,
            "area": np.bincount(label, minlength=count - 1),
            "first_row": labels[0] - 1, "last_row": labels[-1] - 1}


def _kernel_samples(image: np.ndarray, mask: np.ndarray, table: np.ndarray, r0: int, r1: int,
                    labels: np.ndarray, blocks: tuple = ()):
    """The third pass over band rows [r0, r1) with the compiled kernel: ``((contour, ink)
    histograms, components)`` as :func:`_edge_pixel_counts`, :func:`_accepted` and
    :func:`_band_components` give them; ``blocks`` = (block, block_cols, contour_blocks,
    ink_blocks) also counts the samples per block (see ``docbin._kernels.edge_samples``)."""
    rows, cols = image.shape
    count, labels = cv2.connectedComponents(mask[r0:r1], labels=labels[:r1 - r0],
                                            connectivity=8, ltype=cv2.CV_32S)
    boxes = np.empty((5, count - 1), np.int64)
    boxes[:] = np.array([cols, rows, -1, -1, 0])[:, None]  # left, top, right, bottom, area
    contour, ink = np.zeros(256, np.int64), np.zeros(256, np.int64)
    kernels.compiled.edge_samples(image, mask[r0:r1], labels, table, contour, ink, boxes, rows, cols,
                          r0, r1, *blocks)
    return (contour, ink), {"left": boxes[0], "top": boxes[1], "right": boxes[2],
                            "bottom": boxes[3], "area": boxes[4],
                            "first_row": labels[0] - 1, "last_row": labels[-1] - 1}


def _radius_from_components(components: dict, shape: tuple[int, int],
                            diagonal_factor: float, max_radius_fraction: float,
                            min_pixels: int) -> int:
    rows, cols = shape
    cap = max(1, int(np.floor(max_radius_fraction * min(rows, cols))))
    fallback = max(1, min(rows, cols) // 30)
    big = components["area"] >= min_pixels
    if not big.any():
        return min(fallback, cap)
    width = (components["right"][big] - components["left"][big] + 1).astype(np.float64)
    height = (components["bottom"][big] - components["top"][big] + 1).astype(np.float64)
    diagonals = np.floor(diagonal_factor * np.hypot(width - 1, height - 1)).astype(np.int64)
    # One list of both numbers per component, as in the method's reference implementation.
    values = np.sort(np.concatenate([diagonals, components["area"][big].astype(np.int64)]))
    k = int(values[len(values) // 2])
    return int(min(max(k, 1), cap))


def _page_histogram(image: np.ndarray, plan: list) -> np.ndarray:
    histogram = np.zeros(256, np.int64)
    for r0, r1 in plan:  # calcHist counts in float32: exact per band (< 2**24 px)
        histogram += cv2.calcHist([image[r0:r1]], [0], None, [256], [0, 256]).ravel().astype(
            np.int64)
    return histogram


@dataclass
class BlockHistograms:
    """Histograms of the B_I and T_I samples per square block of the page.

    ``contour[i, j, v]``: edge pixels of gray level v in block (i, j); ``ink[i, j, v]``:
    accepted ink samples of level v next to an edge pixel of block (i, j). Block (i, j)
    covers rows ``[i·size, (i+1)·size)`` and columns ``[j·size, (j+1)·size)``.
    """

    size: int
    contour: np.ndarray  # int64 (block_rows, block_cols, 256)
    ink: np.ndarray


def measure_page(image: np.ndarray, *, band_pixels: int | None = None,
                 threads: int | None = None) -> tuple[PageStats, np.ndarray]:
    """:class:`PageStats` of a gray page and its strong-edge mask E (bool).

    Parameters
    ----------
    image : ndarray
        2-D uint8 gray page.
    band_pixels : int, optional
        Approximate size of a processing band, in pixels (a tuning knob for speed and
        memory; the results do not depend on it).
    threads : int, optional
        Threads over bands; default :func:`docbin.method.bands.thread_count` (OpenCV's count).
    """
    stats, edges, _ = _measure(image, band_pixels=band_pixels, threads=threads)
    return stats, edges


def measure_page_blocks(image: np.ndarray, block: int, grid: tuple[int, int], *,
                        band_pixels: int | None = None, threads: int | None = None):
    """:func:`measure_page` plus :class:`BlockHistograms` of its samples on a grid of
    ``grid`` = (block_rows, block_cols) blocks of ``block`` pixels (covering the page),
    gathered in the same pass: ``(stats, edges, blocks)``."""
    if block < 1 or grid[0] * block < image.shape[0] or grid[1] * block < image.shape[1]:
        raise ValueError(f"a grid of {grid} blocks of {block} px does not cover a page of "
                         f"{image.shape}")
    return _measure(image, band_pixels=band_pixels, threads=threads, blocks=(block, grid))


class _SamplePass:
    """The statistics pass over one band (called per band, on any thread): the B_I and T_I
    samples' histograms, the components of E in the band, and the samples' histograms per
    block of ``blocks`` = (block size, (block rows, block cols)); a page measured as a
    whole is one block."""

    def __init__(self, image: np.ndarray, mask: np.ndarray, max_band: int,
                 blocks: tuple) -> None:
        self.image, self.mask, self.max_band = image, mask, max_band
        self.table = acceptance_table(CONSTANTS.gamma).ravel()
        self.local = threading.local()
        self.blocks = blocks

    def __call__(self, band):
        """``(counts, components, in_blocks)``: counts = (contour, ink) histograms or None
        (no edge in the band); in_blocks = (first block row, contour, ink) or None."""
        r0, r1 = band
        image, mask, table = self.image, self.mask, self.table
        if not hasattr(self.local, "labels"):
            self.local.labels = np.empty((self.max_band, image.shape[1]), np.int32)
        labels = self.local.labels
        if kernels.compiled is not None:
            block, (_, block_cols) = self.blocks
            first = r0 // block
            shape = ((r1 - 1) // block - first + 1, block_cols, 256)
            contour, ink = np.zeros(shape, np.int64), np.zeros(shape, np.int64)
            counts, part = _kernel_samples(image, mask, table, r0, r1, labels,
                                           (block, block_cols, contour, ink))
            return counts, part, (first, contour, ink)
        edge = np.flatnonzero(mask[r0:r1].view(bool).reshape(-1))
        counts = in_blocks = None
        if edge.size:
            contour, codes, owner = _edge_pixel_counts(image, edge, r0, r1, owners=True)
            accepted = table[codes]
            counts = contour, np.bincount(codes[accepted] & 255, minlength=256)
            in_blocks = self.band_blocks(edge, r0, r1, codes, owner, accepted)
        return counts, _band_components(mask, edge, r0, r1, labels), in_blocks

    def band_blocks(self, edge, r0, r1, codes, owner, accepted):
        """The band's block histograms: (first block row, contour, ink)."""
        cols = self.image.shape[1]
        block, (_, block_cols) = self.blocks
        first, last = r0 // block, (r1 - 1) // block
        size = (last - first + 1) * block_cols * 256
        row, col = np.divmod(edge, cols)
        key = ((row + r0) // block - first) * block_cols + col // block
        contour = np.bincount(key * 256 + self.image[r0:r1].reshape(-1)[edge], minlength=size)
        ink = np.bincount(key[owner[accepted]] * 256 + (codes[accepted] & 255),
                          minlength=size)
        shape = (last - first + 1, block_cols, 256)
        return first, contour.reshape(shape), ink.reshape(shape)


def _page_values(image: np.ndarray, plan: list, contour_hist: np.ndarray,
                 ink_hist: np.ndarray) -> tuple[float, float]:
    """B_I and T_I from their samples' histograms, with the fallbacks of METHOD.md §1.3:
    no edge → B_I = the page's median (and no T_I sample); no T_I sample → T_I = the
    page's 5 % quantile; T_I >= 1."""
    if contour_hist.sum():
        contour = median_of_counts(contour_hist)
    else:
        contour = quantile_of_counts(_page_histogram(image, plan), 0.5)
        ink_hist = np.zeros(256, np.int64)
    if ink_hist.sum():
        ink = median_of_counts(ink_hist)
    else:
        ink = quantile_of_counts(_page_histogram(image, plan), 0.05)
    return float(contour), float(max(ink, 1.0))


def _measure(image: np.ndarray, *, band_pixels: int | None = None,
             threads: int | None = None, blocks: tuple | None = None):
    """(stats, edges, block histograms): without ``blocks``, the page is one block."""
    image = check_gray(image)
    if blocks is None:
        blocks = (max(image.shape), (1, 1))
    mask, threshold, levels = strong_edge_mask(image, band_pixels=band_pixels,
                                               threads=threads)
    plan = levels.plan
    block, (block_rows, block_cols) = blocks
    block_hists = BlockHistograms(block, np.zeros((block_rows, block_cols, 256), np.int64),
                                  np.zeros((block_rows, block_cols, 256), np.int64))
    sample_pass = _SamplePass(image, mask, max(r1 - r0 for r0, r1 in plan), blocks)
    contour_hist = np.zeros(256, np.int64)
    ink_hist = np.zeros(256, np.int64)
    parts = []
    if threshold is not None:
        for counts, part, in_blocks in _bands.map_bands(sample_pass, plan, levels.threads):
            parts.append(part)
            if counts is not None:
                contour_hist += counts[0]
                ink_hist += counts[1]
            if in_blocks is not None:
                first, contour, ink = in_blocks
                block_hists.contour[first:first + len(contour)] += contour
                block_hists.ink[first:first + len(ink)] += ink
    contour, ink = _page_values(image, plan, contour_hist, ink_hist)
    components = _bands.merge_components(parts) if parts else {"area": np.zeros(0, np.int64)}
    radius = _radius_from_components(
        components, image.shape, CONSTANTS.diagonal_factor, CONSTANTS.max_radius_fraction,
        CONSTANTS.min_component_pixels)
    stats = PageStats(
        ink_intensity=ink,
        contour_intensity=contour,
        window_radius=radius,
        edge_threshold=-1 if threshold is None else int(threshold),
        edge_pixels=int(contour_hist.sum()),
    )
    return stats, mask.view(bool), block_hists


def page_stats(image: np.ndarray) -> PageStats:
    """Measure T_I, B_I and K on a gray page (METHOD.md §1, items 1–4)."""
    return measure_page(image)[0]
