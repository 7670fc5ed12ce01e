"""Exact window sums of large windows at a few pixels, in work and memory that follow the
page's size, not the window's.

The refine step's features (:mod:`docbin.method.refine`) need the sum and the sum of
squares of the (2k+1)² window (borders replicated) at the pixels it re-decides, for radii
that grow with K (``k = K/4`` and ``K/2``). Integral images of a band with a halo of k rows
cost the halo on every band: with K half the page, every band costs more than the page.
:class:`StreamedWindowSums` keeps instead, for each radius, the sums of every column's
window rows ``clamp(r − k .. r + k)`` (page rows clamped: replicated border) and moves them
down the page; along a row, the window sum is a difference of prefix sums of those column
sums, the edge columns counted as often as the window repeats them:

    S(r, c) = Σ_{j = c−k}^{c+k} C(r, clamp(j))
            = P(min(c + k, cols − 1) + 1) − P(max(c − k, 0))
              + max(0, k − c) · C(r, 0) + max(0, c + k − cols + 1) · C(r, cols − 1)

with ``P`` the prefix sums of the row's column sums ``C``. Every sum is an exact integer
(int64), so it equals the integral images' float64 differences (exact below 2⁵³).
"""

from __future__ import annotations

import numpy as np

from docbin.method import kernels as _kernels  # the compiled pass, where built

#: Squares of the levels (sums of squares in int64).
_SQUARES = (np.arange(256, dtype=np.int64) ** 2).astype(np.uint16)
#: Rows of a page summed at once when column sums are built (bounds the temporaries).
_ROWS_AT_ONCE = 256
_NONE = np.zeros(0, np.intp)


class _ColumnSums:
    """Sums (and sums of squares) of the window rows ``clamp(r − k .. r + k)`` of every
    column at one row r (``held``), moved down the page."""

    def __init__(self, image: np.ndarray, radius: int) -> None:
        self.image, self.radius = image, int(radius)
        cols = image.shape[1]
        self.held = -1
        self.sums = np.zeros(cols, np.int64)
        self.squares = np.zeros(cols, np.int64)

    def _add_rows(self, rows_index: np.ndarray, sign: int, sums: bool = True) -> None:
        """Add (sign 1) or remove (-1) the page rows ``rows_index`` to the column sums (and
        to the sums of squares; only to those when ``sums`` is False)."""
        for start in range(0, rows_index.size, _ROWS_AT_ONCE):
            block = self.image[rows_index[start:start + _ROWS_AT_ONCE]]
            if sums:
                self.sums += sign * block.sum(axis=0, dtype=np.int64)
            self.squares += sign * _SQUARES[block].sum(axis=0, dtype=np.int64)

    def _build(self, r: int) -> None:
        """The column sums of row r from the (at most ``rows``) page rows of its window."""
        rows, k = self.image.shape[0], self.radius
        self.sums[:] = 0
        self.squares[:] = 0
        self._add_rows(np.arange(max(0, r - k), min(rows, r + k + 1)), 1)
        above, below = max(0, k - r), max(0, r + k - rows + 1)  # replicated edge rows
        if above:
            self.sums += above * self.image[0].astype(np.int64)
            self.squares += above * _SQUARES[self.image[0]].astype(np.int64)
        if below:
            self.sums += below * self.image[rows - 1].astype(np.int64)
            self.squares += below * _SQUARES[self.image[rows - 1]].astype(np.int64)
        self.held = r

    def _steps(self, r0: int, r1: int) -> tuple[np.ndarray, np.ndarray]:
        """Page rows entering and leaving the column windows on the way from row r0 to r1
        (r0 < r1): for each step r, clamp(r + k) enters and clamp(r − k − 1) leaves."""
        rows, k = self.image.shape[0], self.radius
        steps = np.arange(r0 + 1, r1 + 1)
        return np.clip(steps + k, 0, rows - 1), np.clip(steps - k - 1, 0, rows - 1)

    def rows(self, r0: int, r1: int, with_squares: bool) -> tuple[np.ndarray, np.ndarray | None]:
        """Column sums of rows [r0, r1) (int64, (r1 − r0, cols)), and of the squares (None
        unless ``with_squares``); the state then holds row r1 − 1. Rows in increasing order
        are cheap (two page rows per row); a start before the held row, or more than a
        window after it, rebuilds the state."""
        k = self.radius
        if self.held < 0 or r0 < self.held or r0 - self.held > 2 * k + 1:
            self._build(r0)
        elif r0 > self.held:
            entering, leaving = self._steps(self.held, r0)
            self._add_rows(entering, 1)
            self._add_rows(leaving, -1)
            self.held = r0
        entering, leaving = self._steps(r0, r1 - 1) if r1 - 1 > r0 else (_NONE, _NONE)
        sums = self._running(self.sums, entering, leaving, None)
        if with_squares:
            squares = self._running(self.squares, entering, leaving, _SQUARES)
        else:
            squares = None
            self._add_rows(entering, 1, sums=False)
            self._add_rows(leaving, -1, sums=False)
        self.held = r1 - 1
        return sums, squares

    def _running(self, state: np.ndarray, entering: np.ndarray, leaving: np.ndarray,
                 table: np.ndarray | None) -> np.ndarray:
        """``state`` (the held row's column sums) followed by the next rows' (int64), and
        ``state`` moved to the last of them."""
        out = np.empty((entering.size + 1, state.size), np.int64)
        out[0] = state
        if entering.size:
            enter, leave = self.image[entering], self.image[leaving]
            if table is not None:
                enter, leave = table[enter], table[leave]
            np.subtract(enter, leave, out=out[1:], dtype=np.int64)
        np.cumsum(out, axis=0, out=out)
        state[:] = out[-1]
        return out


def _window_from_columns(columns: np.ndarray, rows: np.ndarray, cols: np.ndarray,
                         radius: int) -> np.ndarray:
    """S(r, c) from the column sums of the rows (formula of the module), int64."""
    n_cols = columns.shape[1]
    prefix = np.zeros((columns.shape[0], n_cols + 1), np.int64)
    np.cumsum(columns, axis=1, out=prefix[:, 1:])
    high = np.minimum(cols + radius, n_cols - 1) + 1
    low = np.maximum(cols - radius, 0)
    total = prefix[rows, high] - prefix[rows, low]
    total += np.maximum(0, radius - cols) * columns[rows, 0]
    total += np.maximum(0, cols + radius - n_cols + 1) * columns[rows, n_cols - 1]
    return total


class _CompiledColumnSums:
    """The same state moved and read by the compiled ``window_sums`` (one pass per row with
    pixels: the column sums moved down, their prefix sums, the pixels' window sums)."""

    def __init__(self, image: np.ndarray, radius: int, kernels) -> None:
        self.image, self.radius, self.kernels = image, int(radius), kernels
        cols = image.shape[1]
        self.held = -1
        self.state = np.zeros((2, cols), np.int64)
        self.prefix = np.empty((2, cols + 1), np.int64)

    def window(self, rows: np.ndarray, cols: np.ndarray,
               with_squares: bool) -> tuple[np.ndarray, np.ndarray | None]:
        sums = np.empty(rows.size, np.float64)
        squares = np.empty(rows.size, np.float64) if with_squares else None
        self.held = self.kernels.window_sums(
            self.image, self.radius, self.held, self.state, self.prefix,
            np.ascontiguousarray(rows, np.int64), np.ascontiguousarray(cols, np.int64),
            sums, squares)
        return sums, squares


class StreamedWindowSums:
    """Exact sums of the values and of their squares over the (2k+1)² windows (borders
    replicated) of some pixels of a page, for any radii, band after band.

    :meth:`sums` gives them for pixels of page rows [r0, r1); successive calls on
    increasing rows move each radius's column sums down the page (two page rows per row),
    so the work of a band is its rows plus, once, the rows of its first window. With the
    compiled kernels (``window_sums``) each row with pixels is one pass over the row, in
    memory of a few rows; without them NumPy computes the same sums over the rows that hold
    pixels, with a few int64 arrays of those rows. One instance per thread (no locking).
    """

    def __init__(self, image: np.ndarray) -> None:
        self.image = np.ascontiguousarray(image)
        self._columns: dict = {}

    def sums(self, r0: int, r1: int, rows: np.ndarray, cols: np.ndarray, radius: int,
             with_squares: bool) -> tuple[np.ndarray, np.ndarray | None]:
        """float64 ``(S, Q)`` at the pixels (``rows`` in [0, r1 − r0) from r0, ``cols``):
        S the window sums, Q the sums of squares (None unless ``with_squares``)."""
        radius = int(radius)
        kernels = _kernels.compiled
        if kernels is not None and hasattr(kernels, "window_sums") and radius <= 1 << 20:
            key = ("compiled", radius)
            if key not in self._columns:
                self._columns[key] = _CompiledColumnSums(self.image, radius, kernels)
            return self._columns[key].window(np.asarray(rows) + r0, cols, with_squares)
        if radius not in self._columns:
            self._columns[radius] = _ColumnSums(self.image, radius)
        if rows.size == 0:
            empty = np.zeros(0, np.float64)
            return empty, (empty if with_squares else None)
        first, last = int(rows.min()), int(rows.max())  # only the rows that hold pixels
        rows = rows - first
        sums, squares = self._columns[radius].rows(r0 + first, r0 + last + 1, with_squares)
        total = _window_from_columns(sums, rows, cols, radius).astype(np.float64)
        if not with_squares:
            return total, None
        return total, _window_from_columns(squares, rows, cols, radius).astype(np.float64)
