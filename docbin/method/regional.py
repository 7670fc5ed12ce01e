"""Regional statistics: T_I and B_I per tile, and the per-pixel decision factor f(row, col).

The classical method (METHOD.md §1) measures one ink intensity T_I and one contour
intensity B_I per page and reads one factor ``f = S(b, t)`` off the decision surface.
The regional form measures the same two statistics on overlapping tiles of the page,
reads the surface at each tile's own point ``(b(r, c), t(r, c))`` and interpolates the
tile factors bilinearly to a per-pixel map; the decision stays
``I < f(row, col) · L_m and I < L_a`` with the page's window radius K.

Tiles
-----
Square tiles of side ``tile_size`` (256 px) at stride ``s = tile_size / 2`` (128 px),
fixed a priori (not fitted to any data). The page is cut into ``s × s`` cells, cell
``(i, j)`` covering rows ``[s·i, s·i + s)``; tile ``(i, j)`` is the ``tile_size`` square
centred on cell ``(i, j)``::

    rows [s·i − s/2, s·i + 3s/2)  ×  cols [s·j − s/2, s·j + 3s/2)     (clipped to the page)

so there are ``ceil(rows / s) × ceil(cols / s)`` tiles and every pixel lies in up to
four of them (the tiles form four non-overlapping "half-offset" grids, by parity of
``i`` and of ``j``). Every tile is exactly 4 × 4 blocks of ``s/2`` px, so per-tile
histograms are one ``np.bincount`` of ``block_id · 256 + value`` over the samples,
then sums of 4 × 4 block histograms (see :func:`fields_from_blocks`).

Statistics per tile
-------------------
The strong edges ``E`` are those of the whole page (METHOD.md §1.1, one threshold e*);
a tile's samples are those of the edge pixels p inside it:

- ``B`` = median of ``I(p)``, p ∈ E ∩ tile  (§1.2);
- ``T`` = median of ``I(q)`` over the accepted 8-neighbours q of p ∈ E ∩ tile (§1.3; a
  neighbour may lie just outside the tile; it counts for the tile of its p).

Medians follow NumPy's definition (mean of the two middle values), as for the page.

Fallback to the page values
---------------------------
A tile with few samples is pulled smoothly toward the page value:
``value = w · tile + (1 − w) · page`` with ``w = n / (n + n0)``, n the tile's sample
count (``w = 0`` and ``value = page`` when n = 0). This is the precision-weighted
(shrinkage) mean in which the page value counts as much as ``n0`` tile samples.
``n0`` is chosen from the geometry of the tile, not from data: the page value weighs as
much as **one contour crossing the tile**. After non-maximum suppression a contour is one
pixel wide, so a contour across a 256 px tile gives 256 edge pixels: ``n0 = tile_size``
for B. Along a straight step edge, each edge pixel has 3 of its 8 neighbours on the dark
side (the other 5 are on the edge or on the bright side and fail the acceptance test),
so the same contour gives 3 ink samples per edge pixel: ``n0 = 3 · tile_size`` for T.
A text tile (thousands of edge pixels) keeps its own values (w > 0.9); a tile with a
few stray edges keeps the page's. ``T >= 1`` as for the page.

The f map
---------
``f_tile(i, j) = f(b(i, j), t(i, j))`` with ``b = B / 255``, ``t = T / 255`` and the logistic
surface f of METHOD.md §1.5.
The tile grid is enlarged by ``cv2.resize`` (``INTER_LINEAR``, float32) by exactly the
factor s to ``(s·rows_tiles, s·cols_tiles)`` and cropped to the page. ``cv2.resize``
maps output pixel x to input coordinate ``(x + 0.5) / s − 0.5``, which equals j exactly
at ``x = s·j + (s − 1) / 2``: the centre of cell j, i.e. the centre of tile j. So each
tile's value sits at its tile's centre, values between centres are bilinear, and beyond
the outermost centres (the outer s/2 pixels of the page) the border value is kept.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from docbin.method import stats as _stats
from docbin.method.edges import check_gray
from docbin.method.stats import PageStats, histogram_medians, shrink_to_page
from docbin.method.surface import logistic_surface

#: Side of a tile, px. The stride is half of it.
TILE_SIZE = 256
#: Ink samples per edge pixel along a straight step edge (3 of 8 neighbours are darker).
INK_SAMPLES_PER_EDGE_PIXEL = 3


# --- tiles ----------------------------------------------------------------------------------


def _check_tile_size(tile_size: int) -> int:
    tile_size = int(tile_size)
    if tile_size < 4 or tile_size % 4:
        raise ValueError(f"tile_size must be a multiple of 4 and >= 4, got {tile_size}")
    return tile_size


def tile_grid_shape(shape: tuple[int, int], tile_size: int = TILE_SIZE) -> tuple[int, int]:
    """Number of tiles ``(ceil(rows / s), ceil(cols / s))``, s = tile_size / 2."""
    stride = _check_tile_size(tile_size) // 2
    rows, cols = shape
    return -(-int(rows) // stride), -(-int(cols) // stride)


def tile_bounds(index: int, length: int, tile_size: int = TILE_SIZE) -> tuple[int, int]:
    """Pixel range ``[start, stop)`` of tile ``index`` along an axis of ``length`` pixels."""
    stride = _check_tile_size(tile_size) // 2
    start = stride * index - stride // 2
    return max(start, 0), min(start + tile_size, length)


def _tiles_from_blocks(blocks: np.ndarray) -> np.ndarray:
    """Tile histograms as sums of 4 × 4 blocks.

    In blocks of a quarter tile (s/2 px), tile i spans blocks ``[2i − 1, 2i + 3)``: pad
    one empty block on each side, add neighbouring pairs of blocks (pair k = padded
    blocks 2k and 2k + 1); tile i is pair i plus pair i + 1. The same along columns.
    """
    padded = np.pad(blocks, ((1, 1), (1, 1), (0, 0)))
    pairs = padded[0::2] + padded[1::2]
    rows = pairs[:-1] + pairs[1:]
    pairs = rows[:, 0::2] + rows[:, 1::2]
    return pairs[:, :-1] + pairs[:, 1:]






# --- fields ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class RegionalFields:
    """T_I and B_I per tile, blended toward the page values (see module docstring).

    Attributes
    ----------
    ink_intensity, contour_intensity : ndarray, shape (tile_rows, tile_cols)
        T and B per tile, gray levels.
    ink_samples, contour_samples : ndarray of int64, same shape
        The tiles' sample counts n.
    page : PageStats
        The page values (the fallback; K is the page's).
    shape : tuple of int
        (rows, cols) of the page.
    tile_size : int
    """

    ink_intensity: np.ndarray
    contour_intensity: np.ndarray
    ink_samples: np.ndarray
    contour_samples: np.ndarray
    page: PageStats
    shape: tuple[int, int]
    tile_size: int = TILE_SIZE

    @property
    def stride(self) -> int:
        return self.tile_size // 2

    @property
    def t(self) -> np.ndarray:
        """t(i, j) = T / 255."""
        return self.ink_intensity / 255.0

    @property
    def b(self) -> np.ndarray:
        """b(i, j) = B / 255."""
        return self.contour_intensity / 255.0


def fields_from_blocks(contour_blocks: np.ndarray, ink_blocks: np.ndarray, page: PageStats,
                       shape: tuple[int, int], tile_size: int = TILE_SIZE) -> RegionalFields:
    """:class:`RegionalFields` from the samples' histograms per quarter-tile block
    (shape ``(2·tile_rows, 2·tile_cols, 256)``)."""
    tile_size = _check_tile_size(tile_size)
    contour_hist = _tiles_from_blocks(np.asarray(contour_blocks))
    ink_hist = _tiles_from_blocks(np.asarray(ink_blocks))
    contour_median, contour_n = histogram_medians(contour_hist)
    ink_median, ink_n = histogram_medians(ink_hist)
    contour = shrink_to_page(contour_median, contour_n, page.contour_intensity, tile_size)
    ink = shrink_to_page(ink_median, ink_n, page.ink_intensity,
                         INK_SAMPLES_PER_EDGE_PIXEL * tile_size)
    return RegionalFields(np.maximum(ink, 1.0), contour, ink_n, contour_n, page,
                          (int(shape[0]), int(shape[1])), tile_size)


def regional_stats(image: np.ndarray, tile_size: int = TILE_SIZE) -> RegionalFields:
    """Page statistics and regional fields of a gray page, from one statistics pass.

    The page's statistics pass (:func:`docbin.method.stats.measure_page_blocks`, banded
    and threaded) also histograms the samples per quarter-tile block; ``result.page``
    equals :func:`docbin.method.stats.page_stats` of the page.
    """
    image = check_gray(image)
    tile_size = _check_tile_size(tile_size)
    grid = tile_grid_shape(image.shape, tile_size)
    page, _, blocks = _stats.measure_page_blocks(image, tile_size // 4,
                                                 (2 * grid[0], 2 * grid[1]))
    return fields_from_blocks(blocks.contour, blocks.ink, page, image.shape, tile_size)


def factor_field(fields: RegionalFields) -> np.ndarray:
    """f per tile: the logistic surface at ``(b(i, j), t(i, j))``, shape (tile_rows,
    tile_cols)."""
    return np.asarray(logistic_surface(fields.b, fields.t), np.float64).reshape(fields.b.shape)


def upsample_tiles(values: np.ndarray, shape: tuple[int, int],
                   tile_size: int = TILE_SIZE) -> np.ndarray:
    """Bilinear per-pixel map (float32, ``shape``) of a tile-resolution field.

    ``cv2.resize`` by exactly the stride s, then cropped: tile j's value sits at pixel
    ``s·j + (s − 1) / 2``, its tile's centre; the border value is kept beyond the
    outermost centres (module docstring).
    """
    return upsample_tile_rows(values, shape, 0, shape[0], tile_size)


def upsample_tile_rows(values: np.ndarray, shape: tuple[int, int], r0: int, r1: int,
                       tile_size: int = TILE_SIZE) -> np.ndarray:
    """Rows [r0, r1) of the bilinear per-pixel map of a tile field (:func:`upsample_tiles`),
    from the tile rows around them only.

    ``cv2.resize`` by the integer stride s maps output row y to the source position
    ``(y + 0.5)/s − 0.5``: a resize of tile rows [a, b) gives the whole map's rows
    ``[a·s, b·s)`` wherever it does not reach past its own first or last tile row, so one
    tile row of margin on each side (none at the page's edges) suffices; the values do not
    depend on which rows are asked for (tested against a resize of the whole grid).
    """
    stride = _check_tile_size(tile_size) // 2
    values = np.asarray(values, np.float32)
    n_rows, n_cols = values.shape
    if (n_rows, n_cols) != tile_grid_shape(shape, tile_size):
        raise ValueError(f"a {shape[0]} × {shape[1]} page has "
                         f"{tile_grid_shape(shape, tile_size)} tiles, got {values.shape}")
    if not 0 <= r0 < r1 <= shape[0]:
        raise ValueError(f"rows [{r0}, {r1}) are not inside a page of {shape[0]} rows")
    first = max(0, (r0 - stride // 2) // stride)  # the tile row at or above r0's position
    last = min(n_rows - 1, (r1 - 1) // stride + 1)
    a, b = max(0, first - 1), min(n_rows, last + 2)
    part = cv2.resize(values[a:b], (n_cols * stride, (b - a) * stride),
                      interpolation=cv2.INTER_LINEAR)
    return part[r0 - a * stride:r1 - a * stride, :shape[1]]


class TileFieldRows:
    """``rows(r0, r1)``: rows of the per-pixel map of a tile field, for
    :func:`docbin.method.decision.binary_page` (the page's map is never held)."""

    def __init__(self, values: np.ndarray, shape: tuple[int, int], tile_size: int = TILE_SIZE):
        self.values = np.asarray(values, np.float32)
        self.shape = tuple(shape)
        self.tile_size = tile_size

    def __call__(self, r0: int, r1: int) -> np.ndarray:
        return upsample_tile_rows(self.values, self.shape, r0, r1, self.tile_size)


def factor_map(fields: RegionalFields) -> np.ndarray:
    """The per-pixel factor f(row, col) (float32, page shape) for ``ink_mask``."""
    return upsample_tiles(factor_field(fields), fields.shape, fields.tile_size)


def explain(fields: RegionalFields, f_tiles: np.ndarray | None = None) -> dict:
    """Plain-Python record of the regional fields for ``--explain``.

    ``b``, ``t``, ``f`` (tile resolution, nested lists, rows along the page rows),
    ``ink_samples``/``contour_samples`` (n per tile), ``tile_size``, ``stride`` and
    ``centre`` (pixel position of tile (i, j)'s value: ``(s·i + (s−1)/2, s·j + (s−1)/2)``).
    """
    if f_tiles is None:
        f_tiles = factor_field(fields)
    s = fields.stride
    return {
        "tile_size": fields.tile_size,
        "stride": s,
        "centre": f"(row, col) = ({s}·i + {(s - 1) / 2}, {s}·j + {(s - 1) / 2})",
        "b": np.round(fields.b, 6).tolist(),
        "t": np.round(fields.t, 6).tolist(),
        "f": np.round(np.asarray(f_tiles, np.float64), 6).tolist(),
        "ink_samples": fields.ink_samples.tolist(),
        "contour_samples": fields.contour_samples.tolist(),
    }
