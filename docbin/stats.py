"""Page statistics of the classical method: strong edges, B_I, T_I and K.

This is the statistics step of METHOD.md §1 (items 1–4). Everything here is measured
on the page itself; the decision step lives in :mod:`docbin.threshold`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import cv2
import numpy as np

from .options import CONSTANTS

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


def _check_gray(image: np.ndarray) -> np.ndarray:
    image = np.asarray(image)
    if image.ndim != 2:
        raise ValueError(f"expected a 2-D gray image, got shape {image.shape}")
    if image.dtype != np.uint8:
        raise ValueError(f"expected a uint8 image, got dtype {image.dtype}")
    if image.size == 0:
        raise ValueError("the image is empty")
    return image


def non_maximum_suppression(magnitude: np.ndarray, grad_rows: np.ndarray,
                            grad_cols: np.ndarray) -> np.ndarray:
    """Keep gradient magnitudes that are local maxima along the gradient direction.

    The direction ``atan2(grad_rows, grad_cols)`` is quantised to 0°, 45°, 90° and 135°
    (Canny's four bins); a pixel survives when its magnitude is >= both neighbours along
    that direction. Neighbours outside the image count as 0.
    """
    rows, cols = magnitude.shape
    padded = np.pad(magnitude, 1)
    # angle in [0, 180) measured with rows pointing down, as the gradients are.
    angle = np.rad2deg(np.arctan2(grad_rows, grad_cols)) % 180.0
    bins = (((angle + 22.5) // 45.0).astype(np.int8)) % 4
    out = np.zeros_like(magnitude)
    # bin -> (row, col) offset of the neighbour "ahead" along the gradient
    offsets = {0: (0, 1), 1: (1, 1), 2: (1, 0), 3: (1, -1)}
    for k, (dr, dc) in offsets.items():
        ahead = padded[1 + dr:1 + dr + rows, 1 + dc:1 + dc + cols]
        behind = padded[1 - dr:1 - dr + rows, 1 - dc:1 - dc + cols]
        keep = (bins == k) & (magnitude >= ahead) & (magnitude >= behind)
        out[keep] = magnitude[keep]
    return out


def edge_image(image: np.ndarray, sigma: float = CONSTANTS.sigma) -> np.ndarray:
    """Edge image ``e = 255 − floor(255 · nms)`` (uint8, 255 = no edge).

    Gaussian smoothing (``sigma``), Sobel gradients, magnitude, non-maximum suppression
    along the gradient direction, min-max normalisation to [0, 1].
    """
    image = _check_gray(image)
    smooth = cv2.GaussianBlur(image.astype(np.float32), (0, 0), sigma,
                              borderType=cv2.BORDER_REPLICATE)
    grad_cols = cv2.Sobel(smooth, cv2.CV_32F, 1, 0, ksize=3, borderType=cv2.BORDER_REPLICATE)
    grad_rows = cv2.Sobel(smooth, cv2.CV_32F, 0, 1, ksize=3, borderType=cv2.BORDER_REPLICATE)
    magnitude = cv2.magnitude(grad_cols, grad_rows)
    nms = non_maximum_suppression(magnitude, grad_rows, grad_cols)
    lo, hi = float(nms.min()), float(nms.max())
    if hi <= lo:
        return np.full(image.shape, 255, np.uint8)
    scaled = np.floor((nms - lo) * (255.0 / (hi - lo)))
    return (255 - np.clip(scaled, 0, 255)).astype(np.uint8)


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


def edge_threshold(edges: np.ndarray) -> int | None:
    """e*: weighted median of the edge values e < 255 with weight w(e) = 255 − e.

    Returns None when the page has no edge at all.
    """
    counts = np.bincount(edges.ravel(), minlength=256)[:255].astype(np.float64)
    if counts.sum() == 0:
        return None
    weights = 255.0 - np.arange(255, dtype=np.float64)
    return weighted_median_of_counts(counts, weights)


def strong_edges(image: np.ndarray) -> tuple[np.ndarray, int | None]:
    """Strong edges ``E = {e <= e*}`` as a boolean mask, and e*."""
    edges = edge_image(image)
    threshold = edge_threshold(edges)
    if threshold is None:
        return np.zeros(image.shape, bool), None
    return edges <= threshold, threshold


def median_of_counts(counts: np.ndarray) -> float:
    """Median (NumPy's definition: mean of the two middle values) from a histogram."""
    cumulative = np.cumsum(counts)
    n = int(cumulative[-1])
    if n == 0:
        raise ValueError("median of an empty set")
    lower = int(np.searchsorted(cumulative, (n - 1) // 2 + 1))
    upper = int(np.searchsorted(cumulative, n // 2 + 1))
    return (lower + upper) / 2.0


def ink_samples_histogram(image: np.ndarray, edges: np.ndarray,
                          gamma: float = CONSTANTS.gamma) -> np.ndarray:
    """Histogram of the gray levels of clearly darker 8-neighbours of edge pixels.

    A neighbour q of an edge pixel p is accepted when ``I(q) <= d·|d|^gamma`` with
    ``d = I(p) − I(q)``. Each (p, q) pair counts once.
    """
    rows, cols = image.shape
    er, ec = np.nonzero(edges)
    center = image[er, ec].astype(np.float64)
    hist = np.zeros(256, np.int64)
    for dr, dc in NEIGHBOURS_8:
        r, c = er + dr, ec + dc
        inside = (r >= 0) & (r < rows) & (c >= 0) & (c < cols)
        q = image[r[inside], c[inside]]
        d = center[inside] - q
        accept = q <= d * np.abs(d) ** gamma
        hist += np.bincount(q[accept], minlength=256)
    return hist


def window_radius(edges: np.ndarray, diagonal_factor: float = CONSTANTS.diagonal_factor,
                  max_radius_fraction: float = CONSTANTS.max_radius_fraction,
                  min_pixels: int = CONSTANTS.min_component_pixels) -> int:
    """K: pixel-weighted median of ``floor(C · hypot(w − 1, h − 1))`` over edge components.

    Components are 8-connected, with at least ``min_pixels`` pixels; each component's
    value counts once per pixel. The median is the lower median (K is an integer) and
    is capped at ``floor(rho · min(rows, cols))``.
    """
    rows, cols = edges.shape
    cap = max(1, int(np.floor(max_radius_fraction * min(rows, cols))))
    fallback = max(1, min(rows, cols) // 30)
    if not edges.any():
        return min(fallback, cap)
    count, _, stats, _ = cv2.connectedComponentsWithStats(edges.astype(np.uint8), connectivity=8)
    stats = stats[1:]
    big = stats[:, cv2.CC_STAT_AREA] >= min_pixels
    if not big.any():
        return min(fallback, cap)
    width = stats[big, cv2.CC_STAT_WIDTH].astype(np.float64)
    height = stats[big, cv2.CC_STAT_HEIGHT].astype(np.float64)
    area = stats[big, cv2.CC_STAT_AREA].astype(np.int64)
    values = np.floor(diagonal_factor * np.hypot(width - 1, height - 1)).astype(np.int64)
    order = np.argsort(values, kind="stable")
    cumulative = np.cumsum(area[order])
    n = int(cumulative[-1])
    k = int(values[order][np.searchsorted(cumulative, (n - 1) // 2 + 1)])
    return int(min(max(k, 1), cap))


def page_stats(image: np.ndarray) -> PageStats:
    """Measure T_I, B_I and K on a gray page (METHOD.md §1, items 1–4)."""
    image = _check_gray(image)
    edges, threshold = strong_edges(image)
    n_edges = int(edges.sum())
    page_hist = np.bincount(image.ravel(), minlength=256)
    if n_edges:
        contour = median_of_counts(np.bincount(image[edges], minlength=256))
        ink_hist = ink_samples_histogram(image, edges)
    else:
        contour = median_of_counts(page_hist)
        ink_hist = np.zeros(256, np.int64)
    if ink_hist.sum():
        ink = median_of_counts(ink_hist)
    else:
        ink = float(np.quantile(image, 0.05))
    ink = max(ink, 1.0)
    return PageStats(
        ink_intensity=float(ink),
        contour_intensity=float(contour),
        window_radius=window_radius(edges),
        edge_threshold=-1 if threshold is None else int(threshold),
        edge_pixels=n_edges,
    )
