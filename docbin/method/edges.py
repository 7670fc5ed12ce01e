"""Strong edges of a page, the first step of the classical method (METHOD.md §1 item 1).

Gaussian (σ = 1.6), Sobel gradients, magnitude, non-maximum suppression along the
gradient direction in four bins, min-max normalisation, the edge image
``e = 255 − floor(255 · nms)`` and its weighted-median threshold e*: ``E = {e ≤ e*}``.

The page is processed in horizontal bands (:mod:`docbin.method.bands`) in two passes, with
results identical to whole-page processing:

1. per band (halo of 9 rows): Gaussian, Sobel gradients, magnitude ``M`` and the
   non-maximum-suppression mask (uint8, kept for the page), and the largest kept M (the
   smallest value of the suppressed magnitude is 0: the page's outer ring never counts);
2. with the page's ``max M`` known, per band again: M (kept from pass 1 on pages up to
   :data:`KEEP_MAGNITUDE_PIXELS`, recomputed identically on larger ones) and the edge
   level ``q = 255 − e`` (uint8, in place of the mask) and its histogram, hence e*.

Where the compiled kernels are built (:mod:`docbin.method.kernels`), the non-maximum
suppression of pass 1 and the edge levels and histogram of pass 2 run there, one pass over
a band each with Python's lock released, bit-identical to the OpenCV/NumPy forms below
(which stay for installs without a C compiler; the tests run and compare both).

Extra memory: the 1-byte mask (later the edge levels, then E) and band temporaries of a
few megabytes per thread; pages up to :data:`KEEP_MAGNITUDE_PIXELS` also keep M (4 bytes
per pixel) between the two passes instead of computing it twice.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass
from fractions import Fraction

import cv2
import numpy as np

from docbin.errors import InputError
from docbin.method import bands as _bands
from docbin.method import kernels
from docbin.options import CONSTANTS

#: Pages up to this many pixels keep the gradient magnitude between the first two passes
#: (speed); larger pages compute it again (memory). The values are the same either way.
KEEP_MAGNITUDE_PIXELS = 48 << 20

#: Gradient magnitudes below this (gray levels; a one-level step gives about 1) are float32
#: rounding ripples of the Gaussian on a flat page, not edges: a page whose largest kept
#: magnitude is below it has no edge.
NOISE_MAGNITUDE = 1e-2


# tan 22.5° = √2 − 1 and tan 67.5° = √2 + 1 rounded to float32, and the float32 values just
# inside the open interval between them (the inclusive bounds of the diagonal bins).
_TAN_LOW = np.float32(math.sqrt(2.0) - 1.0)
_TAN_HIGH = np.float32(math.sqrt(2.0) + 1.0)
_ABOVE_LOW = float(np.nextafter(_TAN_LOW, np.float32(1)))
_BELOW_LOW = float(np.nextafter(_TAN_LOW, np.float32(0)))
_BELOW_HIGH = float(np.nextafter(_TAN_HIGH, np.float32(0)))
_TAN_HIGH_F = float(_TAN_HIGH)


def check_gray(image: np.ndarray) -> np.ndarray:
    image = np.asarray(image)
    if image.ndim != 2:
        raise InputError(f"expected a 2-D gray image, got shape {image.shape}")
    if image.dtype != np.uint8:
        raise InputError(f"expected a uint8 image, got dtype {image.dtype}")
    if image.size == 0:
        raise InputError("the image is empty")
    return np.ascontiguousarray(image)


# --- non-maximum suppression ----------------------------------------------------------------


def _exact_bins_at_ties(grad_rows: np.ndarray, grad_cols: np.ndarray) -> np.ndarray:
    """Direction bins (0–3) of gradients whose float32 ratio equals a rounded tangent.

    Decided in exact rational arithmetic: bin 0 iff ``(|g_r| + |g_c|)² < 2 g_c²``
    (``|g_r| < (√2 − 1)|g_c|``), bin 2 iff ``|g_r| > |g_c|`` and ``(|g_r| − |g_c|)² > 2 g_c²``
    (``|g_r| > (√2 + 1)|g_c|``), else 1 or 3 by the signs. Only a handful of pixels of a
    page get here, so a loop is fine.
    """
    out = np.empty(grad_rows.size, np.int8)
    for i, (gr, gc) in enumerate(zip(grad_rows.tolist(), grad_cols.tolist())):
        a, b = abs(Fraction(gr)), abs(Fraction(gc))
        if (a + b) ** 2 < 2 * b * b:
            out[i] = 0
        elif a > b and (a - b) ** 2 > 2 * b * b:
            out[i] = 2
        else:
            out[i] = 1 if (gr > 0) == (gc > 0) else 3
    return out


def _suppress(padded: np.ndarray, grad_rows: np.ndarray, grad_cols: np.ndarray,
              keep: np.ndarray, scratch: dict) -> None:
    """Non-maximum-suppression mask of one band (255 kept, 0 suppressed) into ``keep``.

    ``padded`` holds the magnitude of the pixels and of their neighbours: one row and one
    column more on each side (rows + 2 × cols + 2; a view into a larger array is fine);
    ``grad_rows``/``grad_cols`` are the pixels' gradients. The direction bin follows the
    angle ``atan2(g_r, g_c)`` exactly: the float32 ratio ``r = g_r / g_c`` is correctly
    rounded and rounding is monotonic, so ``|r|`` below (above) the float32 tangent ``tan
    22.5°`` means the exact ratio is below (above) it; ratios equal to a rounded tangent are
    decided by :func:`_exact_bins_at_ties`. ``g_c = 0`` gives r = ±inf (bin 2), ``g_r = g_c
    = 0`` NaN (no bin; the magnitude is 0 and the pixel's value is 0 whatever is kept).
    """
    h, w = grad_rows.shape
    ratio = scratch["ratio"][:h, :w]
    with np.errstate(divide="ignore", invalid="ignore"):
        np.divide(grad_rows, grad_cols, out=ratio)
    # |r| < tan 22.5° (0°); tan 22.5° < r < tan 67.5° (45°), −tan 67.5° < r < −tan 22.5°
    # (135°); else 90°. Each bin is one inclusive range of r (NaN is in none of them).
    horizontal = cv2.inRange(ratio, -_BELOW_LOW, _BELOW_LOW, dst=scratch["m0"][:h, :w])
    rising = cv2.inRange(ratio, _ABOVE_LOW, _BELOW_HIGH, dst=scratch["m1"][:h, :w])
    falling = cv2.inRange(ratio, -_BELOW_HIGH, -_ABOVE_LOW, dst=scratch["tmp"][:h, :w])
    # ties with the rounded tangents: |r| <= tan 67.5° counts them, the bins do not
    inclusive = cv2.inRange(ratio, -_TAN_HIGH_F, _TAN_HIGH_F, dst=scratch["m3"][:h, :w])
    ties = cv2.countNonZero(inclusive) - (cv2.countNonZero(horizontal)
                                          + cv2.countNonZero(rising)
                                          + cv2.countNonZero(falling))
    # kept: the centre >= both neighbours along its direction (8-bit masks per direction;
    # c >= max(a, b) iff c >= a and c >= b, magnitudes are never NaN)
    centre = padded[1:h + 1, 1:w + 1]
    above_second = scratch["k1"][:h, :w]

    def local_max(first, second, out):
        cv2.compare(centre, first, cv2.CMP_GE, dst=out)
        cv2.compare(centre, second, cv2.CMP_GE, dst=above_second)
        return cv2.bitwise_and(out, above_second, dst=out)

    along = scratch["k0"][:h, :w]
    local_max(padded[0:h, 1:w + 1], padded[2:h + 2, 1:w + 1], keep)  # 90°
    cv2.copyTo(local_max(padded[0:h, 0:w], padded[2:h + 2, 2:w + 2], along), rising, keep)
    cv2.copyTo(local_max(padded[0:h, 2:w + 2], padded[2:h + 2, 0:w], along), falling, keep)
    cv2.copyTo(local_max(padded[1:h + 1, 0:w], padded[1:h + 1, 2:w + 2], along), horizontal,
               keep)  # 0°
    if ties:
        _fix_ties(padded, grad_rows, grad_cols, keep, ratio)


def _fix_ties(padded, grad_rows, grad_cols, keep, ratio=None) -> None:
    """Decide exactly the pixels whose ratio ``g_r / g_c`` equals a rounded tangent (the
    arrays as in :func:`_suppress`; ``ratio``: the ratios, if at hand)."""
    if ratio is None:
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = np.divide(grad_rows, grad_cols, dtype=np.float32)
    magnitude = np.abs(ratio)
    tie = (magnitude == _TAN_LOW) | (magnitude == _TAN_HIGH)
    rows, cols = np.nonzero(tie)
    bins = _exact_bins_at_ties(grad_rows[rows, cols], grad_cols[rows, cols])
    ahead = np.array([(0, 1), (1, 1), (1, 0), (1, -1)])[bins]
    pr, pc = rows + 1, cols + 1
    centre = padded[pr, pc]
    first = padded[pr + ahead[:, 0], pc + ahead[:, 1]]
    second = padded[pr - ahead[:, 0], pc - ahead[:, 1]]
    keep[rows, cols] = np.where((centre >= first) & (centre >= second), 255, 0)


def _suppress_scratch(rows: int, cols: int) -> dict:
    return {"ratio": np.empty((rows, cols), np.float32),
            "other": np.empty((rows, cols), np.float32),
            **{name: np.empty((rows, cols), np.uint8)
               for name in ("m0", "m1", "m3", "tmp", "k0", "k1")}}


def non_maximum_suppression(magnitude: np.ndarray, grad_rows: np.ndarray,
                            grad_cols: np.ndarray) -> np.ndarray:
    """Keep gradient magnitudes that are local maxima along the gradient direction.

    The direction ``atan2(grad_rows, grad_cols)`` is quantised to 0°, 45°, 90° and 135°
    (Canny's four bins, boundaries at 22.5° + k·45°, decided exactly); a pixel survives
    when its magnitude is >= both neighbours along that direction. Neighbours outside the
    image count as 0.
    """
    magnitude = np.asarray(magnitude, np.float32)
    rows, cols = magnitude.shape
    padded = np.zeros((rows + 2, cols + 2), np.float32)
    padded[1:-1, 1:-1] = magnitude
    keep = np.empty((rows, cols), np.uint8)
    _suppress(padded, np.ascontiguousarray(grad_rows, np.float32),
              np.ascontiguousarray(grad_cols, np.float32), keep, _suppress_scratch(rows, cols))
    return np.where(keep > 0, magnitude, np.float32(0))


# --- the edge passes --------------------------------------------------------------------------


def _gaussian_radius(sigma: float) -> int:
    """Radius of the Gaussian kernel: truncated at 4σ, as SciPy's ``gaussian_filter``
    (``int(4σ + 0.5)``) in the method's reference implementation."""
    return int(4.0 * sigma + 0.5)


# cv2.magnitude runs Intel IPP where OpenCV has it, and IPP computes the few elements before
# the first 64-byte-aligned output address and after the last full block by another method
# than the rest (results can differ in the last bit). On a whole page the output array is a
# fresh NumPy allocation, at 16 bytes past a 64-byte boundary. Bands reproduce exactly that
# layout: element k of the page sits at an address ≡ 16 + 4k (mod 64), and a band's call
# starts at an aligned element of the page's block grid (k ≡ 12 mod 64) or at the page's start,
# and runs past the band's last row or to the page's end.
_ALIGN_PHASE = 16
_ALIGN_BLOCK = 64  # elements


def _aligned(flat: np.ndarray, first_index: int, count: int) -> np.ndarray:
    """``count`` elements of the float32 ``flat`` (16 spare) laid out as page elements
    ``first_index, first_index + 1, ...`` would be in a fresh page-sized array."""
    want = (_ALIGN_PHASE + 4 * first_index) % 64
    shift = ((want - flat.ctypes.data) % 64) // 4
    return flat[shift:shift + count]


def _magnitude_range(m0: int, m1: int, a0: int, a1: int, rows: int, cols: int):
    """Page element range ``[k0, k1)`` of the magnitude call for rows [m0, m1)."""
    first_aligned = (64 - _ALIGN_PHASE) // 4  # the page's first element at a 64-byte boundary
    k0 = 0 if m0 == 0 else m0 * cols - (m0 * cols - first_aligned) % _ALIGN_BLOCK
    k1 = rows * cols if m1 == rows else m1 * cols + 2 * _ALIGN_BLOCK
    return max(k0, a0 * cols), min(k1, a1 * cols)


@dataclass
class _EdgeLevels:
    """``level`` = 255 − e per pixel (uint8, the page), its histogram, and the band plan."""

    level: np.ndarray
    histogram: np.ndarray  # counts of q = 0..255
    plan: list
    threads: int


class _EdgePasses:
    """Passes 1 and 2 over the bands of a page (see the module doc), with per-thread
    buffers: :meth:`first_pass` keeps the NMS mask in ``level`` and returns the band's
    largest kept magnitude; :meth:`second_pass` quantises the magnitude where the mask kept
    it and returns the band's histogram of ``q``."""

    def __init__(self, image: np.ndarray, sigma: float, band_pixels: int | None,
                 threads: int | None, keep_magnitude: bool | None) -> None:
        rows, cols = image.shape
        self.image, self.sigma, self.rows, self.cols = image, sigma, rows, cols
        self.halo = _gaussian_radius(sigma) + 2  # Gaussian, then Sobel (1 row), then NMS
        if cols < _ALIGN_BLOCK:  # too narrow for the magnitude's block grid: one band
            height = rows
        else:
            height = max(_bands.band_height(cols, band_pixels or _bands.BAND_PIXELS),
                         self.halo)
        self.plan = _bands.bands(rows, height)
        self.threads = _bands.thread_count(threads)
        self.level = np.empty((rows, cols), np.uint8)  # the NMS mask, then q in place
        if keep_magnitude is None:
            keep_magnitude = rows * cols <= KEEP_MAGNITUDE_PIXELS
        self.kept = np.empty((rows, cols), np.float32) if keep_magnitude else None
        self.local = threading.local()
        self.max_band = max(r1 - r0 for r0, r1 in self.plan)
        self.scale = np.float32(0)

    def scratch(self) -> dict:
        local = self.local
        if not hasattr(local, "buffers"):
            n = self.max_band + 2 * self.halo
            buffers = _suppress_scratch(self.max_band, self.cols)
            buffers.update(gray=np.empty((n, self.cols), np.float32),
                           smooth=np.empty((n, self.cols), np.float32),
                           **{name: np.empty(n * self.cols + 16, np.float32)
                              for name in ("grad_cols", "grad_rows", "magnitude")})
            local.buffers = buffers
        return local.buffers

    def gradients(self, s: dict, r0: int, r1: int, m0: int, m1: int):
        """Gradients of rows [r0 − halo, r1 + halo) and the magnitude of rows [m0, m1)."""
        rows, cols, sigma = self.rows, self.cols, self.sigma
        a0, a1 = _bands.with_halo(r0, r1, self.halo, rows)
        n = a1 - a0
        gray = s["gray"][:n]
        np.copyto(gray, self.image[a0:a1])
        size = 2 * _gaussian_radius(sigma) + 1
        smooth = cv2.GaussianBlur(gray, (size, size), sigma, dst=s["smooth"][:n],
                                  borderType=cv2.BORDER_REPLICATE)
        flat = {name: _aligned(s[name], a0 * cols, n * cols)
                for name in ("grad_cols", "grad_rows", "magnitude")}
        grad_cols = cv2.Sobel(smooth, cv2.CV_32F, 1, 0, dst=flat["grad_cols"].reshape(n, cols),
                              ksize=3, borderType=cv2.BORDER_REPLICATE)
        grad_rows = cv2.Sobel(smooth, cv2.CV_32F, 0, 1, dst=flat["grad_rows"].reshape(n, cols),
                              ksize=3, borderType=cv2.BORDER_REPLICATE)
        k0, k1 = (k - a0 * cols for k in _magnitude_range(m0, m1, a0, a1, rows, cols))
        cv2.magnitude(flat["grad_cols"][k0:k1], flat["grad_rows"][k0:k1],
                      flat["magnitude"][k0:k1])
        magnitude = flat["magnitude"].reshape(n, cols)[m0 - a0:m1 - a0]
        return grad_rows[r0 - a0:r1 - a0], grad_cols[r0 - a0:r1 - a0], magnitude

    def first_pass(self, band) -> float:
        r0, r1 = band
        rows, cols = self.rows, self.cols
        s = self.scratch()
        # magnitude rows [m0, m1): the band and one row above and below for the NMS
        m0, m1 = max(0, r0 - 1), min(rows, r1 + 1)
        grad_rows, grad_cols, magnitude = self.gradients(s, r0, r1, m0, m1)
        keep = self.level[r0:r1]
        # the page's outer ring of pixels is never an edge (as in the method's reference),
        # so the NMS runs on the pixels inside it, whose neighbours are all on the page
        c0, c1 = max(r0, 1), min(r1, rows - 1)
        if c1 > c0 and cols > 2:
            inner = (magnitude[c0 - 1 - m0:c1 + 1 - m0], grad_rows[c0 - r0:c1 - r0, 1:-1],
                     grad_cols[c0 - r0:c1 - r0, 1:-1], keep[c0 - r0:c1 - r0, 1:-1])
            if kernels.compiled is not None:
                if kernels.compiled.suppress(magnitude, grad_rows, grad_cols, keep, cols,
                                             c0 - r0, c1 - r0, r0 - m0):
                    _fix_ties(*inner)
            else:
                _suppress(*inner, s)
            keep[:, 0] = 0
            keep[:, cols - 1] = 0
            keep[:c0 - r0] = 0
            keep[c1 - r0:] = 0
        else:
            keep.fill(0)
        band = magnitude[r0 - m0:r1 - m0]
        if self.kept is not None:
            np.copyto(self.kept[r0:r1], band)
        return cv2.minMaxLoc(band, keep)[1] if cv2.countNonZero(keep) else 0.0

    def second_pass(self, band) -> np.ndarray:
        r0, r1 = band
        cols = self.cols
        s = self.scratch()
        if self.kept is not None:
            source = self.kept[r0:r1]
        else:
            source = self.gradients(s, r0, r1, r0, r1)[2]  # the same values as in pass 1
        keep = self.level[r0:r1]
        if kernels.compiled is not None:
            counts = np.zeros(256, np.int64)
            kernels.compiled.levels(source, keep, self.scale, counts, cols)
            return counts
        value = s["other"][:r1 - r0]
        np.multiply(source, self.scale, out=value)
        np.floor(value, out=value)
        q = cv2.convertScaleAbs(value, dst=s["tmp"][:r1 - r0])  # saturates to [0, 255]
        cv2.bitwise_and(q, keep, dst=keep)  # suppressed pixels: nms = 0, q = 0
        # a histogram of (q, column mod 4): runs of equal q (zeros) hit four counters in
        # turn instead of one, which makes calcHist twice as fast
        if "lanes" not in s:
            s["lanes"] = np.ascontiguousarray(np.broadcast_to(
                (np.arange(cols) % 4).astype(np.uint8), (self.max_band, cols)))
        counts = cv2.calcHist([keep, s["lanes"][:r1 - r0]], [0, 1], None, [256, 4],
                              [0, 256, 0, 4])
        return counts.sum(axis=1)


def _edge_levels(image: np.ndarray, sigma: float = CONSTANTS.sigma, *,
                 band_pixels: int | None = None, threads: int | None = None,
                 keep_magnitude: bool | None = None) -> _EdgeLevels:
    """Passes 1 and 2: ``q = 255 − e`` for every pixel of the page (see the module doc).

    Pass 1 keeps the NMS mask (in ``level``) and the largest kept magnitude;
    pass 2 quantises the magnitude where the mask kept it: the magnitude kept from pass 1
    (``keep_magnitude``; default: pages up to :data:`KEEP_MAGNITUDE_PIXELS`) or computed
    again, identical, band by band (no 4 bytes per pixel held).
    """
    passes = _EdgePasses(image, sigma, band_pixels, threads, keep_magnitude)
    plan, threads, level = passes.plan, passes.threads, passes.level
    # nms = M where kept, else 0: its max is the largest kept M, its min is 0 (the outer
    # ring is always suppressed)
    hi = max(_bands.map_bands(passes.first_pass, plan, threads))
    histogram = np.zeros(256, np.int64)
    if hi < NOISE_MAGNITUDE:
        level.fill(0)
        histogram[0] = level.size
        return _EdgeLevels(level, histogram, plan, threads)
    # e = 255 − clip(floor(nms · s), 0, 255) in float32 arithmetic, s = fl32(255 / hi)
    passes.scale = np.float32(255.0 / hi)
    for counts in _bands.map_bands(passes.second_pass, plan, threads):
        histogram += counts.astype(np.int64)  # calcHist's float32 counts are exact: < 2**24
    return _EdgeLevels(level, histogram, plan, threads)


def edge_image(image: np.ndarray, sigma: float = CONSTANTS.sigma) -> np.ndarray:
    """Edge image ``e = 255 − floor(255 · nms)`` (uint8, 255 = no edge).

    Gaussian smoothing (``sigma``), Sobel gradients, magnitude, non-maximum suppression
    along the gradient direction, min-max normalisation to [0, 1]; the minimum is 0 (the
    outer ring of pixels is always suppressed), so the normalisation is
    ``floor(nms · fl32(255 / hi))`` evaluated in float32.
    """
    image = check_gray(image)
    levels = _edge_levels(image, sigma)
    return cv2.bitwise_not(levels.level, dst=levels.level)


def weighted_median_of_counts(counts: np.ndarray, weights: np.ndarray) -> int:
    """Weighted median of integer values given their histogram.

    ``counts[v]`` is how often value ``v`` occurs and ``weights[v]`` the weight of each
    occurrence. Returns the smallest ``v`` whose cumulative weight reaches half the total.
    """
    total = counts * weights
    cumulative = np.cumsum(total, dtype=np.float64)
    if cumulative[-1] <= 0:
        raise ValueError("weighted median of an empty set")
    return int(np.searchsorted(cumulative, cumulative[-1] / 2.0, side="left"))


def _threshold_of_counts(counts: np.ndarray) -> int | None:
    counts = np.asarray(counts[:255], np.float64)
    if counts.sum() == 0:
        return None
    weights = 255.0 - np.arange(255, dtype=np.float64)
    return weighted_median_of_counts(counts, weights)


def edge_threshold(edges: np.ndarray) -> int | None:
    """e*: weighted median of the edge values e < 255 with weight w(e) = 255 − e.

    Returns None when the page has no edge at all.
    """
    return _threshold_of_counts(np.bincount(np.asarray(edges).ravel(), minlength=256))


def strong_edge_mask(image: np.ndarray, *, band_pixels: int | None = None,
                      threads: int | None = None):
    """E as a uint8 page of 0/1 (in the buffer of the edge levels), e*, and the band plan."""
    levels = _edge_levels(image, band_pixels=band_pixels, threads=threads)
    threshold = _threshold_of_counts(levels.histogram[::-1])  # counts of e = 255 − q
    mask = levels.level
    if threshold is None:
        mask.fill(0)
        return mask, None, levels
    lowest = 255 - threshold  # e <= e*  <=>  q >= 255 − e*  (>= 1)

    def binarize(band):
        r0, r1 = band
        cv2.threshold(mask[r0:r1], lowest - 1, 1, cv2.THRESH_BINARY, dst=mask[r0:r1])

    _bands.map_bands(binarize, levels.plan, levels.threads)
    return mask, threshold, levels


def strong_edges(image: np.ndarray) -> tuple[np.ndarray, int | None]:
    """Strong edges ``E = {e <= e*}`` as a boolean mask, and e*."""
    image = check_gray(image)
    mask, threshold, _ = strong_edge_mask(image)
    return mask.view(bool), threshold
