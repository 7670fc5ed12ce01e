"""The decision step of the classical method (METHOD.md §1.6).

A pixel is ink iff ``I < f · L_m`` and ``I < L_a``, where ``L_m`` and ``L_a`` are the
median and the mean of the (2K+1)×(2K+1) window around it, borders replicated.
The local statistics are computed once and the rule can be applied for many ``f``
(the hybrid and the training reuse them).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np


# OpenCV's constant-time median keeps 16-bit histogram counters: windows of more than
# 65535 pixels can overflow them (an assertion, or a wrong median, on flat pages).
MAX_OPENCV_MEDIAN_SIZE = 255


def local_median(image: np.ndarray, radius: int) -> np.ndarray:
    """Median of the (2·radius+1)² window, borders replicated (uint8 in, uint8 out).

    Windows up to 255 px use OpenCV's ``medianBlur`` (border replicated, time independent
    of the window). Larger windows use :func:`_rank_median`, exact as well.
    """
    if radius < 1:
        return image.copy()
    size = 2 * radius + 1
    if size <= MAX_OPENCV_MEDIAN_SIZE:
        return cv2.medianBlur(image, size)
    return _rank_median(image, radius)


def _window_counts(mask: np.ndarray, size: int) -> np.ndarray:
    return cv2.boxFilter(mask.view(np.uint8), cv2.CV_32S, (size, size), normalize=False,
                         borderType=cv2.BORDER_REPLICATE)


def _rank_median(image: np.ndarray, radius: int) -> np.ndarray:
    """Exact windowed median by threshold decomposition, for any window size.

    The median of a window is the smallest level v with ``#{I <= v} >= (n + 1) / 2``
    (n odd). The counts are box sums of the masks ``I <= v``: first for the 16 coarse
    levels 16j + 15, then for the fine levels inside the coarse bins that occur.
    Levels absent from the page are skipped (their counts equal the previous level's).
    """
    size = 2 * radius + 1
    half = (size * size + 1) // 2
    present = np.bincount(image.ravel(), minlength=256) > 0
    cache: dict[int, np.ndarray] = {}

    def below_half(level: int) -> np.ndarray:
        # count(I <= level) < half, for the closest level actually present on the page
        while level >= 0 and not present[level]:
            level -= 1
        if level < 0:
            return np.ones(image.shape, bool)
        if level not in cache:
            cache[level] = _window_counts(image <= level, size) < half
        return cache[level]

    coarse = np.zeros(image.shape, np.uint8)
    for j in range(15):
        coarse += below_half(16 * j + 15)
    median = coarse * np.uint8(16)
    for j in np.unique(coarse):
        where = coarse == j
        fine = np.zeros(int(where.sum()), np.uint8)
        for k in range(15):
            fine += below_half(16 * int(j) + k)[where]
        median[where] += fine
    return median


def local_mean(image: np.ndarray, radius: int) -> np.ndarray:
    """Mean of the (2·radius+1)² window, borders replicated (float32)."""
    size = 2 * radius + 1
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


def ink_mask(local: LocalStats, factor: float | np.ndarray) -> np.ndarray:
    """Boolean ink mask ``I < factor · L_m and I < L_a``.

    ``factor`` is the page's f, or an array of per-pixel f values (regional scope).
    """
    image = local.image
    return (image < np.multiply(factor, local.local_median, dtype=np.float32)) & (
        image < local.local_mean)


def to_binary_image(ink: np.ndarray) -> np.ndarray:
    """uint8 page with text 0 and background 255."""
    return np.where(ink, np.uint8(0), np.uint8(255))
