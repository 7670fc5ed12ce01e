"""Slow, obvious references of the statistics step, for the tests only.

They compute what the banded, compiled production passes compute, in the most direct way:
the samples of B_I and T_I with their positions (and the tiles' statistics from them), the
ink samples' histogram and K from a whole-page edge mask.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from docbin.method import bands as _bands
from docbin.method import stats as _stats
from docbin.method.edges import check_gray
from docbin.method.regional import (
    TILE_SIZE,
    RegionalFields,
    _check_tile_size,
    _tiles_from_blocks,
    fields_from_blocks,
    tile_grid_shape,
)
from docbin.method.stats import NEIGHBOURS_8, PageStats
from docbin.options import CONSTANTS


def ink_samples_histogram(image: np.ndarray, edges: np.ndarray,
                          gamma: float = CONSTANTS.gamma) -> np.ndarray:
    """Histogram of the gray levels of clearly darker 8-neighbours of edge pixels.

    A neighbour q of an edge pixel p is accepted when ``I(q) <= d·|d|^gamma`` with
    ``d = I(p) − I(q)``. Each (p, q) pair counts once.
    """
    image = check_gray(image)
    mask = np.ascontiguousarray(edges, bool)
    table = _stats.acceptance_table(gamma).ravel()
    histogram = np.zeros(256, np.int64)
    for r0, r1 in _bands.bands(image.shape[0], _bands.band_height(image.shape[1])):
        local = np.flatnonzero(mask[r0:r1].reshape(-1))
        if local.size:
            histogram += _stats._accepted(_stats._edge_pixel_counts(image, local, r0, r1)[1], table)
    return histogram


def window_radius(edges: np.ndarray, diagonal_factor: float = CONSTANTS.diagonal_factor,
                  max_radius_fraction: float = CONSTANTS.max_radius_fraction,
                  min_pixels: int = CONSTANTS.min_component_pixels) -> int:
    """K: the middle of one list holding, for every edge component, both
    ``floor(C · hypot(w − 1, h − 1))`` and its pixel count (METHOD.md §1 step 4).

    Components are 8-connected, with at least ``min_pixels`` pixels; each contributes
    exactly two values (its scaled bounding-box diagonal and its area). K is the element at
    index ``len // 2`` of the sorted list, at least 1, capped at
    ``floor(rho · min(rows, cols))``. Components are labelled band by band and joined
    across the band borders (:func:`docbin.method.bands.merge_components`).
    """
    mask = np.ascontiguousarray(edges, bool).view(np.uint8)
    rows, cols = mask.shape
    plan = _bands.bands(rows, _bands.band_height(cols))
    labels = np.empty((max(r1 - r0 for r0, r1 in plan), cols), np.int32)
    parts = [_stats._band_components(mask, np.flatnonzero(mask[r0:r1].view(bool).reshape(-1)), r0, r1,
                              labels) for r0, r1 in plan]
    return _stats._radius_from_components(_bands.merge_components(parts), (rows, cols),
                                   diagonal_factor, max_radius_fraction, min_pixels)


@dataclass(frozen=True)
class EdgeSamples:
    """The samples of the page statistics, with the position of their edge pixel.

    Attributes
    ----------
    edge_rows, edge_cols : ndarray of intp, shape (N,)
        Positions of the strong-edge pixels p (row-major order).
    contour_values : ndarray of uint8, shape (N,)
        ``I(p)``: the samples of B_I.
    ink_edge_index : ndarray of intp, shape (M,)
        For each accepted (p, q) pair, the index of p in ``edge_rows``/``edge_cols``.
    ink_values : ndarray of uint8, shape (M,)
        ``I(q)``: the samples of T_I.
    """

    edge_rows: np.ndarray
    edge_cols: np.ndarray
    contour_values: np.ndarray
    ink_edge_index: np.ndarray
    ink_values: np.ndarray


def edge_samples(image: np.ndarray, edges: np.ndarray,
                 gamma: float = CONSTANTS.gamma) -> EdgeSamples:
    """B_I and T_I samples with their edge pixel (the positions-keeping variant of
    :func:`docbin.method.stats.ink_samples_histogram`).

    A neighbour q of an edge pixel p is accepted when ``I(q) <= d·|d|^gamma`` with
    ``d = I(p) − I(q)`` (METHOD.md §1.3); each (p, q) pair counts once. The test depends
    on the two gray levels only, so it is read from
    :func:`docbin.method.stats.acceptance_table`. The page
    is padded with 255, which is never accepted (d <= 0), in place of bounds checks.
    """
    rows, cols = image.shape
    er, ec = np.nonzero(edges)
    center = image[er, ec]
    width = cols + 2
    padded = np.full((rows + 2, width), 255, np.uint8)
    padded[1:-1, 1:-1] = image
    padded = padded.ravel()
    position = (er + 1) * width + (ec + 1)
    table = _stats.acceptance_table(gamma).ravel()
    row_of_table = center.astype(np.intp) * 256
    index_parts, value_parts = [], []
    for dr, dc in NEIGHBOURS_8:
        q = padded[position + (dr * width + dc)]
        accepted = np.flatnonzero(table[row_of_table + q])
        index_parts.append(accepted)
        value_parts.append(q[accepted])
    return EdgeSamples(er, ec, center, np.concatenate(index_parts),
                       np.concatenate(value_parts))


def page_stats_from_samples(image: np.ndarray, edges: np.ndarray, edge_threshold: int | None,
                            samples: EdgeSamples) -> PageStats:
    """The page's T_I, B_I and K from precomputed samples (same result as
    :func:`docbin.method.stats.page_stats`, without computing the edges twice).

    Fallbacks as METHOD.md §1.3: no edge → B_I = page median; no ink sample → T_I = 5 %
    quantile of the page; ``T_I >= 1``.
    """
    n_edges = int(samples.edge_rows.size)
    if n_edges:
        contour = _stats.median_of_counts(np.bincount(samples.contour_values, minlength=256))
    else:
        contour = _stats.quantile_of_counts(np.bincount(image.ravel(), minlength=256), 0.5)
    if samples.ink_values.size:
        ink = _stats.median_of_counts(np.bincount(samples.ink_values, minlength=256))
    else:
        ink = _stats.quantile_of_counts(np.bincount(image.ravel(), minlength=256), 0.05)
    return PageStats(
        ink_intensity=float(max(ink, 1.0)),
        contour_intensity=float(contour),
        window_radius=window_radius(edges),
        edge_threshold=-1 if edge_threshold is None else int(edge_threshold),
        edge_pixels=n_edges,
    )


def _block_keys(rows_idx: np.ndarray, cols_idx: np.ndarray, tile_size: int,
                grid_shape: tuple[int, int]) -> np.ndarray:
    """Index of the ``tile_size / 4`` px block of each position, row-major in a grid of
    ``2·tile_rows × 2·tile_cols`` blocks (which covers the page)."""
    block = tile_size // 4
    rows_idx = np.asarray(rows_idx, np.intp)
    cols_idx = np.asarray(cols_idx, np.intp)
    return (rows_idx // block) * (2 * grid_shape[1]) + cols_idx // block


def _block_histograms(keys: np.ndarray, values: np.ndarray,
                      grid_shape: tuple[int, int]) -> np.ndarray:
    """Histograms of uint8 ``values`` per block: one ``np.bincount`` of ``key · 256 + v``."""
    n_blocks = 4 * grid_shape[0] * grid_shape[1]
    counts = np.bincount(keys * 256 + np.asarray(values, np.intp), minlength=n_blocks * 256)
    return counts.reshape(2 * grid_shape[0], 2 * grid_shape[1], 256)


def tile_histograms(rows_idx: np.ndarray, cols_idx: np.ndarray, values: np.ndarray,
                    grid_shape: tuple[int, int], tile_size: int = TILE_SIZE) -> np.ndarray:
    """Per-tile histograms of uint8 ``values`` sampled at ``(rows_idx, cols_idx)``.

    Returns an int64 array of shape ``(tile_rows, tile_cols, 256)``: entry ``[i, j, v]``
    counts the samples of value v whose position lies in tile (i, j). The samples are
    histogrammed once per block of a quarter tile (one ``np.bincount`` of
    ``block_id · 256 + value``); a tile is exactly 4 × 4 such blocks, so its histogram
    is the sum of theirs. Each sample is counted once, not once per each of the four
    half-offset grids of tiles, and no pixel is visited by a Python loop.
    """
    tile_size = _check_tile_size(tile_size)
    keys = _block_keys(rows_idx, cols_idx, tile_size, grid_shape)
    return _tiles_from_blocks(_block_histograms(keys, values, grid_shape))


def regional_fields(samples: EdgeSamples, page: PageStats, shape: tuple[int, int],
                    tile_size: int = TILE_SIZE) -> RegionalFields:
    """B and T per tile from the page's samples, blended toward ``page`` (module docstring).

    ``n0 = tile_size`` edge pixels for B, ``3 · tile_size`` ink samples for T.
    """
    tile_size = _check_tile_size(tile_size)
    grid = tile_grid_shape(shape, tile_size)
    edge_keys = _block_keys(samples.edge_rows, samples.edge_cols, tile_size, grid)
    return fields_from_blocks(_block_histograms(edge_keys, samples.contour_values, grid),
                              _block_histograms(edge_keys[samples.ink_edge_index],
                                                samples.ink_values, grid),
                              page, shape, tile_size)


def regional_stats_from_edges(image: np.ndarray, edges: np.ndarray, edge_threshold,
                              tile_size: int = TILE_SIZE) -> RegionalFields:
    """The regional fields gathered from a given edge mask (the sample-based path)."""
    samples = edge_samples(image, edges)
    page = page_stats_from_samples(image, edges, edge_threshold, samples)
    return regional_fields(samples, page, image.shape, tile_size)
