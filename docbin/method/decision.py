"""The decision step of the classical method (METHOD.md §1.6).

A pixel is ink iff ``I < f · L_m`` and ``I < L_a``, where ``L_m`` and ``L_a`` are the
median and the mean of the (2K+1)×(2K+1) window around it, borders replicated.
The local statistics are computed once and the rule can be applied for many ``f``
(the training and the benchmarks reuse them): :func:`local_stats` and :func:`ink_mask`.
:func:`binary_page` applies the rule for one ``f`` band by band, without ever holding the
page's ``L_m`` and ``L_a`` (bounded memory on huge pages, identical results).

Exactness of the fast forms: with ``f`` a float32 number and ``L_m`` an integer level, the
product ``fl32(f · L_m)`` takes 256 values, so ``I < f · L_m`` (I an integer) is
``I < ceil(fl32(f · L_m))``, a 256-entry table indexed by ``L_m``. The mean is OpenCV's
float32 box filter (integer window sums times ``1/(2K+1)²``), compared as floats.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import cv2
import numpy as np

from docbin.method import bands as _bands
from docbin.method import kernels as _kernels  # the rule in one compiled pass, where built

# OpenCV's constant-time median keeps 16-bit histogram counters: windows of more than
# 65535 pixels can overflow them (an assertion, or a wrong median, on flat pages). Larger
# windows go through _large_median_rows, which checks where the counters hold.
MAX_OPENCV_MEDIAN_SIZE = 255

#: Pixels of a band of the decision step (window halo included): bounds the memory of
#: the median filter's work area and of the large-window median's counts.
DECISION_BAND_PIXELS = 1 << 25
#: Pixels of the sub-bands in which the mean and the rule run (cache-sized temporaries).
SUB_BAND_PIXELS = 1 << 21
#: Pages smaller than this take the whole-page path of :func:`binary_page`.
SMALL_PAGE = 1 << 16


def _check_radius(radius: int) -> int:
    radius = int(radius)
    if radius < 0:
        raise ValueError(f"the window radius must be >= 0, got {radius}")
    return radius


def local_median(image: np.ndarray, radius: int, *, threads: int | None = 1) -> np.ndarray:
    """Median of the (2·radius+1)² window, borders replicated (uint8 in, uint8 out).

    Windows up to 255 px use OpenCV's ``medianBlur`` (border replicated, time independent
    of the window). Larger windows use :func:`rank_median` (``medianBlur`` where its 16-bit
    counters cannot overflow, threshold decomposition elsewhere), exact as well. With
    ``threads`` > 1 (None: :func:`docbin.method.bands.thread_count`) the page is cut into bands
    computed in parallel, each from its rows and ``radius`` rows around them.
    """
    radius = _check_radius(radius)
    if radius < 1:
        return image.copy()
    size = 2 * radius + 1
    threads = _bands.thread_count(threads)
    if threads > 1 and image.size >= SMALL_PAGE:
        rows, cols = image.shape
        height = min(_decision_band_rows(rows, cols, radius, False), -(-rows // threads))
        out = np.empty_like(image)

        def fill(band):
            r0, r1 = band
            out[r0:r1] = _median_rows(image, radius, r0, r1)

        _bands.map_bands(fill, _bands.bands(rows, height), threads)
        return out
    if size <= MAX_OPENCV_MEDIAN_SIZE:
        return _median_blur(image, size)
    return rank_median(image, radius)


def _median_blur(image: np.ndarray, size: int) -> np.ndarray:
    """``cv2.medianBlur(image, size)``, computed as ``255 − median(255 − image)`` on bright
    images (see :func:`_median_blur_or_inverted`)."""
    median, inverted = _median_blur_or_inverted(image, size)
    return cv2.bitwise_not(median, dst=median) if inverted else median


def _median_blur_or_inverted(image: np.ndarray, size: int) -> tuple[np.ndarray, bool]:
    """``(cv2.medianBlur(image, size), False)``, or on bright images ``(255 − that, True)``:
    the median of the inverted image.

    OpenCV's histogram medians find a window's median by scanning their 16 coarse bins
    from level 0, so bright windows (a page's background) take longer than dark ones
    (about 15 % of the filter's time on a page whose median is in the top bins). With n
    odd, the median of the inverted window is exactly the inverted median.
    """
    if size > 5 and cv2.mean(image[::8])[0] > 127.5:
        inverted = cv2.bitwise_not(image)
        return cv2.medianBlur(inverted, size), True
    return cv2.medianBlur(image, size), False


def _median_rows(image: np.ndarray, radius: int, r0: int, r1: int) -> np.ndarray:
    """Rows [r0, r1) of :func:`local_median`, computed from the rows within ``radius``."""
    median, inverted = _median_rows_or_inverted(image, radius, r0, r1)
    return cv2.bitwise_not(median, dst=median) if inverted else median


def _median_rows_or_inverted(image: np.ndarray, radius: int, r0: int,
                             r1: int) -> tuple[np.ndarray, bool]:
    """:func:`_median_rows`, or ``(255 − those rows, True)`` (see
    :func:`_median_blur_or_inverted`)."""
    rows = image.shape[0]
    a0, a1 = _bands.with_halo(r0, r1, radius, rows)
    if 2 * radius + 1 <= MAX_OPENCV_MEDIAN_SIZE:
        median, inverted = _median_blur_or_inverted(image[a0:a1], 2 * radius + 1)
        return median[r0 - a0:r1 - a0], inverted
    return _large_median_rows(image, radius, r0, r1), False


#: Largest count OpenCV's median filter holds in its 16-bit histogram counters.
HISTOGRAM_COUNTER_MAX = 65535


#: Side of the square blocks of :func:`_overflow_rows`'s bound (pixels): small blocks give a
#: bound within 5 % of the window (no exact counts needed unless a bin nears the limit).
OVERFLOW_BLOCK = 8


def _overflow_rows(image: np.ndarray, radius: int, r0: int, r1: int) -> np.ndarray:
    """Rows of [r0, r1) (bool) that hold a pixel whose window has more than
    :data:`HISTOGRAM_COUNTER_MAX` pixels of one 16-level bin ``[16j, 16j + 15]``.

    A bin's count in a window is at most its count in the square blocks (side
    :data:`OVERFLOW_BLOCK`) the window touches: ``span = (block − 1 + 2·radius) // block + 1``
    each way. The counts of all 16 bins in every block come from 2-D histograms (bin,
    block column) per strip of ``block`` rows and group of 256 block columns, over the band's
    rows and ``radius`` rows and columns around them with the borders replicated (the
    windows hold replicated pixels as often as they repeat), padded to whole blocks by
    replication too (which only loosens the bound). On the rows of the blocks whose bound
    exceeds the limit, the bin's exact window counts (box sums of its mask) decide.
    """
    rows, cols = image.shape
    a0, a1 = _bands.with_halo(r0, r1, radius, rows)
    risky = np.zeros(r1 - r0, bool)
    block = OVERFLOW_BLOCK
    height, width = (r1 - r0) + 2 * radius, cols + 2 * radius
    n_rows, n_cols = -(-height // block), -(-width // block)
    # page rows [r0 − radius, r1 + radius), cols [−radius, cols + radius), replicated: the
    # window of page pixel (r, c) is rows [r − r0, r − r0 + 2·radius], cols [c, c + 2·radius]
    top = radius - (r0 - a0)
    padded = cv2.copyMakeBorder(image[a0:a1], top, n_rows * block - top - (a1 - a0),
                                radius, n_cols * block - width + radius, cv2.BORDER_REPLICATE)
    group = 256 * block  # columns of 256 blocks: block ids fit uint8
    ids = np.ascontiguousarray(np.broadcast_to(
        (np.arange(min(group, n_cols * block)) // block).astype(np.uint8),
        (block, min(group, n_cols * block))))
    counts = np.empty((16, n_rows, n_cols), np.uint16)  # at most block² per bin
    for g in range(n_rows):
        strip = padded[g * block:(g + 1) * block]
        for c0 in range(0, n_cols, 256):
            c1 = min(n_cols, c0 + 256)
            counts[:, g, c0:c1] = cv2.calcHist(
                [strip[:, c0 * block:c1 * block], ids[:, :(c1 - c0) * block]], [0, 1], None,
                [16, c1 - c0], [0, 256, 0, c1 - c0])
    del padded
    span = (block - 1 + 2 * radius) // block + 1
    size = 2 * radius + 1
    depth = cv2.CV_32F if size * size < 1 << 24 else cv2.CV_32S
    for j in range(16):
        # bound[g, b]: the counts of blocks [g, g + span) × [b, b + span) (zeros beyond);
        # float32 sums of at most span² · block² < 2²⁴ are exact
        if counts[j].sum(dtype=np.int64) <= HISTOGRAM_COUNTER_MAX:
            continue
        bound = cv2.boxFilter(counts[j].astype(np.float32), -1, (span, span), anchor=(0, 0),
                              normalize=False, borderType=cv2.BORDER_CONSTANT)
        flagged = np.repeat((bound > HISTOGRAM_COUNTER_MAX).any(axis=1), block)[:r1 - r0]
        if not flagged.any():
            continue
        # the exact window counts of the bin on the flagged rows
        table = np.zeros(256, np.uint8)
        table[16 * j:16 * j + 16] = 1
        edges = np.flatnonzero(np.diff(np.r_[False, flagged, False].astype(np.int8)))
        for s0, s1 in zip(edges[::2].tolist(), edges[1::2].tolist()):
            t0, t1 = _bands.with_halo(r0 + s0, r0 + s1, radius, rows)
            exact = cv2.boxFilter(cv2.LUT(image[t0:t1], table), depth, (size, size),
                                  normalize=False, borderType=cv2.BORDER_REPLICATE)
            exact = exact[r0 + s0 - t0:r0 + s1 - t0]
            risky[s0:s1] |= (exact > HISTOGRAM_COUNTER_MAX).any(axis=1)
    return risky


def _large_median_rows(image: np.ndarray, radius: int, r0: int, r1: int) -> np.ndarray:
    """Rows [r0, r1) of the median of windows of more than 255 px, exact.

    OpenCV's constant-time median (Perreault and Hébert) runs for any window but counts in
    16-bit histogram bins of 16 levels; it is exact wherever no bin of a window holds more
    than 65535 pixels. A count beyond that corrupts the counters of that row's later pixels
    (saturating vector additions), so every row with such a window
    (:func:`_overflow_rows`) takes the threshold decomposition
    (:func:`_rank_median_rows`) instead; so does the band if OpenCV refuses it.
    """
    rows = image.shape[0]
    a0, a1 = _bands.with_halo(r0, r1, radius, rows)
    if (2 * radius + 1) ** 2 > 4 * HISTOGRAM_COUNTER_MAX:  # a quarter of a window overflows
        risky = np.ones(r1 - r0, bool)
    else:
        risky = _overflow_rows(image, radius, r0, r1)
    out = None
    if not risky.all():
        try:
            out = _median_blur(image[a0:a1], 2 * radius + 1)[r0 - a0:r1 - a0]
        except cv2.error:
            risky[:] = True
    if out is None:
        out = np.empty((r1 - r0, image.shape[1]), np.uint8)
    # runs of risky rows, in pieces of a bounded work area
    edges = np.flatnonzero(np.diff(np.r_[False, risky, False].astype(np.int8)))
    piece = _decision_band_rows(rows, image.shape[1], radius, True)
    for s0, s1 in zip(edges[::2].tolist(), edges[1::2].tolist()):
        for t0 in range(s0, s1, piece):
            t1 = min(s1, t0 + piece)
            out[t0:t1] = _rank_median_rows(image, radius, r0 + t0, r0 + t1)
    return out


def _window_counts_below_half(image: np.ndarray, level: int, radius: int, half: int,
                              r0: int, r1: int, c0: int, c1: int) -> np.ndarray:
    """``count(I <= level) < half`` over the (2·radius+1)² window of every pixel of the page
    rectangle rows [r0, r1) × cols [c0, c1), borders replicated (uint8 0/1).

    The counts are box sums of the mask ``I <= level`` over the rectangle and ``radius``
    rows and columns around it, clipped to the page (where the box filter's border
    replication is the page's own); float32 sums of 0/1 are exact below 2²⁴ (int32 sums
    beyond).
    """
    rows, cols = image.shape
    t0, t1 = _bands.with_halo(r0, r1, radius, rows)
    b0, b1 = _bands.with_halo(c0, c1, radius, cols)
    size = 2 * radius + 1
    depth = cv2.CV_32F if size * size < 1 << 24 else cv2.CV_32S  # exact sums either way
    mask = cv2.threshold(image[t0:t1, b0:b1], level, 1, cv2.THRESH_BINARY_INV)[1]
    counts = cv2.boxFilter(mask, depth, (size, size), normalize=False,
                           borderType=cv2.BORDER_REPLICATE)
    return (counts[r0 - t0:r1 - t0, c0 - b0:c1 - b0] < half).view(np.uint8)


def _rank_median_rows(image: np.ndarray, radius: int, r0: int, r1: int) -> np.ndarray:
    """Rows [r0, r1) of the exact windowed median by threshold decomposition.

    The median of a window is the smallest level v with ``#{I <= v} >= (n + 1) / 2``
    (n = (2·radius + 1)², odd). Each pixel's level is found by binary search, all pixels
    at once, bit by bit from the highest: at each depth the pixels that share the bits
    found so far (a prefix u) test the same level ``u + step − 1`` with one window count
    (:func:`_window_counts_below_half`), computed only over the bounding box of those
    pixels. A level absent from the band's rows has the counts of the next lower present
    level; when no level of ``[u, u + step − 1]`` is present, the test needs no count.
    """
    rows, cols = image.shape
    a0, a1 = _bands.with_halo(r0, r1, radius, rows)
    size = 2 * radius + 1
    half = (size * size + 1) // 2
    present = cv2.calcHist([image[a0:a1]], [0], None, [256], [0, 256]).ravel() > 0
    floor = np.maximum.accumulate(np.where(present, np.arange(256), -1))
    prefix = np.zeros((r1 - r0, cols), np.uint8)
    for depth in range(8):
        step = 128 >> depth
        prefixes = np.flatnonzero(cv2.calcHist([prefix], [0], None, [256], [0, 256]).ravel())
        for u in prefixes.tolist():
            level = int(floor[u + step - 1])
            chosen = (prefix == u).view(np.uint8)
            if level < u:  # count(I <= u + step − 1) = count(I <= u − 1) < half
                np.add(prefix, step, out=prefix, where=chosen.view(bool))
                continue
            x, y, w, h = cv2.boundingRect(chosen)
            below = _window_counts_below_half(image, level, radius, half,
                                              r0 + y, r0 + y + h, x, x + w)
            below &= chosen[y:y + h, x:x + w]
            region = prefix[y:y + h, x:x + w]
            # NumPy, not cv2.add: OpenCV reads an array of shape (1..4, 1) beside a number as
            # a scalar and refuses the pair
            np.add(region, step, out=region, where=below.view(bool))
    return prefix


def rank_median(image: np.ndarray, radius: int) -> np.ndarray:
    """Exact median of the (2·radius+1)² window (borders replicated) for windows of more
    than 255 px, in bands of rows (:func:`_large_median_rows`)."""
    rows, cols = image.shape
    out = np.empty_like(image)
    for r0, r1 in _bands.bands(rows, _decision_band_rows(rows, cols, radius, False)):
        out[r0:r1] = _large_median_rows(image, radius, r0, r1)
    return out


def local_mean(image: np.ndarray, radius: int) -> np.ndarray:
    """Mean of the (2·radius+1)² window, borders replicated (float32)."""
    size = 2 * _check_radius(radius) + 1
    return cv2.boxFilter(image, cv2.CV_32F, (size, size), normalize=True,
                         borderType=cv2.BORDER_REPLICATE)


@dataclass
class LocalStats:
    """The page and its local median and mean, ready for any number of decisions."""

    image: np.ndarray
    local_median: np.ndarray
    local_mean: np.ndarray
    radius: int


def local_stats(image: np.ndarray, radius: int) -> LocalStats:
    """Compute ``L_m`` and ``L_a`` for a window radius ``radius``."""
    return LocalStats(image, local_median(image, radius), local_mean(image, radius), radius)


def median_threshold_table(factor: float) -> np.ndarray | None:
    """``table[L_m] = ceil(fl32(f) · L_m)`` in float32, so that ``I < f · L_m`` (float32)
    iff ``I < table[L_m]`` for every uint8 ``I``; None when a value leaves [0, 255]
    (f > 1, or not finite)."""
    levels = np.arange(256, dtype=np.float32)
    with np.errstate(invalid="ignore", over="ignore"):
        products = np.float32(factor) * levels
    if not np.isfinite(products).all():
        return None
    table = np.ceil(products)
    if table.min() < 0 or table.max() > 255:
        return None
    return table.astype(np.uint8)


def ink_mask(local: LocalStats, factor: float | np.ndarray) -> np.ndarray:
    """Boolean ink mask ``I < factor · L_m and I < L_a`` (the product in float32).

    ``factor`` is the page's f, or an array of per-pixel f values (regional scope).
    """
    image = local.image
    table = median_threshold_table(factor) if np.ndim(factor) == 0 else None
    if table is None:
        below_median = image < np.multiply(factor, local.local_median, dtype=np.float32)
    else:
        below_median = image < cv2.LUT(local.local_median, table)
    below_median &= image < local.local_mean
    return below_median


_BINARY = np.array([255] + [0] * 255, np.uint8)  # 0 (not ink) -> 255, 1 (ink) -> 0


def to_binary_image(ink: np.ndarray) -> np.ndarray:
    """uint8 page with text 0 and background 255."""
    ink = np.ascontiguousarray(ink, bool)
    return cv2.LUT(ink.view(np.uint8), _BINARY)


# --- the rule band by band ----------------------------------------------------------------------


def _decision_band_rows(rows: int, cols: int, radius: int, rank: bool,
                        pixels: int | None = None) -> int:
    """Rows per band of the decision step.

    ``medianBlur``: the work area (band and 2·radius halo rows) near ``pixels`` bytes, and
    at least 2·radius rows so that the halo costs at most half the work. Threshold
    decomposition (4–6 bytes per work pixel per thread): 4·radius rows (the halo costs
    a third), but not more than ``pixels / 2`` pixels of band.
    """
    pixels = pixels or DECISION_BAND_PIXELS
    cols = max(cols, 1)
    if rank:
        return max(64, min(4 * radius, pixels // 2 // cols))
    return max(64, pixels // cols - 2 * radius, 2 * radius)


def binary_page(image: np.ndarray, radius: int, factor, *, threads: int | None = None,
                band_pixels: int | None = None,
                refine=None) -> np.ndarray:
    """The binarized page (uint8, text 0, background 255) for a decision factor.

    Same result as ``to_binary_image(ink_mask(local_stats(image, radius), factor))``,
    computed band by band: each band's ``L_m`` from the band and ``radius`` rows above and
    below it, then ``L_a`` and the rule in sub-bands of the band. Extra memory: the output
    and about ``band_pixels`` (default :data:`DECISION_BAND_PIXELS`) bytes per thread.

    Parameters
    ----------
    image : ndarray
        2-D uint8 gray page.
    radius : int
        K, the window radius.
    factor : float, ndarray or callable
        f: the page's decision factor; or one per pixel (regional scope), as a page-shaped
        array or as a function ``rows(r0, r1)`` giving rows [r0, r1) of it (float32), so
        that the page's map is never held.
    threads : int, optional
        Bands run in parallel on this many threads; default
        :func:`docbin.method.bands.thread_count`.
    band_pixels : int, optional
        Work size of a band in pixels (memory and speed only; the result does not depend
        on it).
    refine : callable, optional
        ``refine(r0, r1, median_rows, mean_rows, ink_rows)`` may change the decision of
        rows [r0, r1) in place (``ink_rows``: uint8, 255 = text) before they are written;
        it is given their L_m (uint8) and L_a (float32). :class:`docbin.method.refine.RowRefiner`.
    """
    image = np.ascontiguousarray(image)
    radius = _check_radius(radius)
    if callable(factor):
        factor_rows = factor
    elif np.ndim(factor) != 0:
        if np.shape(factor) != image.shape:
            raise ValueError(f"a factor per pixel must have the page's shape {image.shape}, "
                             f"got {np.shape(factor)}")
        per_pixel = np.asarray(factor)

        def factor_rows(r0: int, r1: int) -> np.ndarray:
            return per_pixel[r0:r1]
    else:
        factor_rows = None
    table = median_threshold_table(factor) if factor_rows is None else None
    if (table is None and factor_rows is None) or image.size < SMALL_PAGE:
        local = LocalStats(image, local_median(image, radius), local_mean(image, radius),
                           radius)
        whole = factor if factor_rows is None else factor_rows(0, image.shape[0])
        ink = ink_mask(local, whole).view(np.uint8) * np.uint8(255)
        if refine is not None:
            refine(0, image.shape[0], local.local_median, local.local_mean, ink)
        return cv2.bitwise_not(ink)
    rows, cols = image.shape
    threads = _bands.thread_count(threads)
    height = _decision_band_rows(rows, cols, radius, False, band_pixels)
    if rows <= 2 * height and threads > 1:  # two bands keep both threads busy
        height = max(1, -(-rows // threads))
    out = np.empty((rows, cols), np.uint8)
    _bands.map_bands(_DecisionBands(image, radius, table, factor_rows, refine, out),
                     _bands.bands(rows, height), threads)
    return out


class _DecisionBands:
    """The rule on one band of :func:`binary_page` (called per band, on any thread): the
    band's L_m, then L_a and the rule in cache-sized sub-bands written to ``out``."""

    def __init__(self, image, radius, table, factor_rows, refine, out) -> None:
        self.image, self.radius, self.table = image, radius, table
        self.factor_rows, self.refine, self.out = factor_rows, refine, out
        self.size = 2 * radius + 1
        self.sub_height = max(16, SUB_BAND_PIXELS // max(image.shape[1], 1))
        self.local = threading.local()
        self.kernels = _kernels.compiled

    def buffers(self) -> dict:
        local = self.local
        if not hasattr(local, "buffers"):
            rows, cols = self.image.shape
            longest = 2 * self.sub_height  # a last sub-band takes up to half a sub-band more
            local.buffers = {
                "gray": np.empty((longest, cols), np.float32),
                "mean": np.empty((min(rows, longest + 2 * self.radius), cols), np.float32),
                "table": np.empty((longest, cols), np.uint8),
                "product": np.empty((longest, cols) if self.factor_rows else (0, cols),
                                    np.float32),
                "below": np.empty((longest, cols), np.uint8),
                "median": np.empty((longest, cols) if self.refine else (0, cols), np.uint8)}
        return local.buffers

    def band_median(self, r0: int, r1: int) -> tuple[np.ndarray, bool]:
        """L_m of rows [r0, r1), or 255 − L_m (``True``) where the rule reads it (its table,
        or the kernel; the refinement is given L_m, inverted back per sub-band)."""
        image, radius, table = self.image, self.radius, self.table
        if radius and (table is not None or self.kernels is not None):
            return _median_rows_or_inverted(image, radius, r0, r1)
        if radius:
            return _median_rows(image, radius, r0, r1), False
        return image[r0:r1], False

    def __call__(self, band) -> None:
        r0, r1 = band
        image, radius, table, kernels = self.image, self.radius, self.table, self.kernels
        rows, cols = image.shape
        buffers = self.buffers()
        band_median, inverted = self.band_median(r0, r1)
        # the table indexed by L_m, or by 255 − L_m
        rule_table = table[::-1].copy() if inverted and table is not None else table
        for s0, s1 in _bands.bands(r1 - r0, self.sub_height):
            s0, s1 = s0 + r0, s1 + r0
            a0, a1 = _bands.with_halo(s0, s1, radius, rows)
            band_mean = cv2.boxFilter(image[a0:a1], cv2.CV_32F, (self.size, self.size),
                                      dst=buffers["mean"][:a1 - a0], normalize=True,
                                      borderType=cv2.BORDER_REPLICATE)[s0 - a0:s1 - a0]
            median = band_median[s0 - r0:s1 - r0]
            if kernels is not None:
                out = self.out[s0:s1]
                if table is not None:
                    kernels.rule(image[s0:s1], median, band_mean, rule_table, out, cols)
                else:
                    kernels.rule_factor(image[s0:s1], median, band_mean,
                                        np.ascontiguousarray(self.factor_rows(s0, s1),
                                                             np.float32),
                                        out, cols, inverted)
                if self.refine is not None:  # it reads L_m and the ink (255 = text)
                    if inverted:
                        median = cv2.bitwise_not(median, dst=buffers["median"][:s1 - s0])
                    ink = cv2.bitwise_not(out, dst=buffers["below"][:s1 - s0])
                    self.refine(s0, s1, median, band_mean, ink)
                    cv2.bitwise_not(ink, dst=out)
                continue
            ink = self.rule_rows(s0, s1, median, band_mean, rule_table, buffers)
            if self.refine is not None:
                if inverted:  # the rule read 255 − L_m through its reversed table
                    median = cv2.bitwise_not(median, dst=buffers["median"][:s1 - s0])
                self.refine(s0, s1, median, band_mean, ink)
            cv2.bitwise_not(ink, dst=self.out[s0:s1])

    def rule_rows(self, s0, s1, median, band_mean, rule_table, buffers) -> np.ndarray:
        """The rule on rows [s0, s1) in OpenCV (255 = ink)."""
        image, h = self.image, s1 - s0
        gray = buffers["gray"][:h]
        np.copyto(gray, image[s0:s1])
        below_mean = cv2.compare(gray, band_mean, cv2.CMP_LT, dst=buffers["below"][:h])
        if rule_table is not None:
            threshold = cv2.LUT(median, rule_table, dst=buffers["table"][:h])
            below_median = cv2.compare(image[s0:s1], threshold, cv2.CMP_LT, dst=threshold)
        else:  # I < fl32(f · L_m), f per pixel (L_m converted to float32 in the product)
            f = np.ascontiguousarray(self.factor_rows(s0, s1), np.float32)
            product = cv2.multiply(f, np.ascontiguousarray(median), dst=buffers["product"][:h],
                                   dtype=cv2.CV_32F)
            below_median = cv2.compare(gray, product, cv2.CMP_LT, dst=buffers["table"][:h])
        return cv2.bitwise_and(below_mean, below_median, dst=below_mean)
