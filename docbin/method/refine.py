"""Refinement near the threshold: the learned part of ``--method hybrid``.

The classical rule (METHOD.md §1) decides every pixel. A pixel whose classical margin is
small, ``|I − f·L_m| < δ · (B_I − T_I)``, is decided again by a small per-pixel network
from local statistics of the page; every other pixel keeps the classical decision. The
refined pixels are few (a few percent of a page) and sit on stroke borders, faint strokes
and stains, where the single page-wide f is least reliable.

Features of a pixel (all intensity differences divided by the page contrast
``c = max(B_I − T_I, 8)``, so that they do not depend on the page's exposure):

=====  ===========================================================================
0      ``(I − f·L_m) / c`` — the classical margin
1      ``(I − L_a) / c``
2      ``(I − T_I) / c``
3      ``(B_I − I) / c``
4      ``(L_m − L_a) / c``
5, 6   ``(I − μ_2) / c``, ``σ_2 / c``: mean and deviation of the 5 × 5 window
7, 8   ``(I − μ_s) / c``, ``σ_s / c``: the same over a window of radius ``s = max(2, K/4)``
9      ``(I − μ_h) / c``: the mean over a window of radius ``h = max(3, K/2)``
10     ``(I − min_1) / c``: the 3 × 3 minimum
11     ``(max_1 − I) / c``: the 3 × 3 maximum
12     ``(I − min_3) / c``: the 7 × 7 minimum
=====  ===========================================================================

The page's f, T_I and B_I enter only through these differences: the network sees local
evidence, not which page (or collection) it is on, which keeps it from learning a
collection's preferences (benchmarks/generalization.py measured both).

Windows replicate the page's border, as the classical statistics do.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass

import cv2
import numpy as np

from docbin.errors import ModelError
from docbin.method.onnx import open_session
from docbin.method.window_sums import StreamedWindowSums
from docbin.options import DIRECTIONS, SHAPES

FEATURES = ("margin", "to_mean", "to_ink", "to_contour", "median_minus_mean",
            "to_mean_2", "std_2", "to_mean_s", "std_s", "to_mean_h",
            "above_min_1", "below_max_1", "above_min_3")
#: relative half-width δ of the refined band around the threshold f·L_m (the shipped
#: network's; a network's own δ is in its metadata)
MARGIN = 0.2
MIN_CONTRAST = 8.0
#: From this halo (h = K/2 rows; K >= 128, the decision's large windows) the features' window
#: sums are streamed down the page (:class:`docbin.method.window_sums.StreamedWindowSums`)
#: instead of integral images of each sub-band and its halo, whose cost grows with K.
STREAMED_HALO = 64


@dataclass(frozen=True)
class PageConstants:
    """What the features need of the page: T_I, B_I, K and f."""

    ink_intensity: float
    contour_intensity: float
    window_radius: int
    factor: float

    @classmethod
    def of(cls, page) -> PageConstants:
        """The constants of a :class:`docbin.method.page.ClassicalPage`."""
        return cls(page.ink_intensity, page.contour_intensity, page.window_radius,
                   page.factor)

    @property
    def contrast(self) -> float:
        return max(self.contour_intensity - self.ink_intensity, MIN_CONTRAST)

    @property
    def radii(self) -> tuple[int, int]:
        """(s, h): the radii of the two windows that scale with K."""
        k = self.window_radius
        return max(2, k // 4), max(3, k // 2)

    @property
    def halo(self) -> int:
        """Rows of context a band of features needs above and below it."""
        return max(self.radii[1], 3)


def band_tables(factor: float, half_width: float) -> tuple[np.ndarray, np.ndarray]:
    """Per median level m, the inclusive range [low[m], high[m]] of gray levels I with
    ``|I − fl32(f)·m| < half_width`` in float32 arithmetic (empty: low 255 > high 0)."""
    levels = np.arange(256, dtype=np.float32)
    threshold = np.float32(factor) * levels
    inside = np.abs(levels[None, :] - threshold[:, None]) < np.float32(half_width)
    some = inside.any(axis=1)
    low = np.where(some, inside.argmax(axis=1), 255).astype(np.uint8)
    high = np.where(some, 255 - inside[:, ::-1].argmax(axis=1), 0).astype(np.uint8)
    return low, high


def nonzero(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``np.nonzero`` of a 2-D mask (rows, then columns, in row-major order), five times
    faster on sparse masks: the flat indices, then one division."""
    return np.divmod(np.flatnonzero(mask), mask.shape[1])


def band_mask(image: np.ndarray, median: np.ndarray, page: PageConstants,
              margin: float = MARGIN) -> np.ndarray:
    """The pixels to refine: ``|I − f·L_m| < margin · c`` in float32 (bool, the rows given);
    two table lookups on the uint8 median and one range test."""
    low, high = band_tables(page.factor, margin * page.contrast)
    median = np.ascontiguousarray(median, np.uint8)
    inside = cv2.inRange(np.ascontiguousarray(image), cv2.LUT(median, low),
                         cv2.LUT(median, high))
    return cv2.min(inside, 1, dst=inside).view(bool)  # 0/1 bytes: a proper bool array


def _integrals(image: np.ndarray, border: int) -> tuple[np.ndarray, np.ndarray]:
    """Integral images of the values and their squares, of ``image`` padded by ``border``
    replicated pixels on every side: any window of radius <= ``border`` is then four
    lookups. Exact integers: the values' in int32 where they cannot overflow (half the
    bytes to write), else float64 (exact below 2⁵³), the squares' in float64."""
    padded = cv2.copyMakeBorder(image, border, border, border, border, cv2.BORDER_REPLICATE)
    depth = cv2.CV_32S if 255 * padded.size < 2 ** 31 else cv2.CV_64F
    return cv2.integral2(padded, sdepth=depth, sqdepth=cv2.CV_64F)


def _window_sum(integral: np.ndarray, rows: np.ndarray, cols: np.ndarray, radius: int,
                border: int) -> np.ndarray:
    """Sum over the (2·radius + 1)² window of each pixel (rows, cols of the unpadded image),
    float64: four lookups by flat index in the integral image."""
    width = integral.shape[1]
    top_left = (rows + (border - radius)) * width + (cols + (border - radius))
    down, across = (2 * radius + 1) * width, 2 * radius + 1
    flat = integral.reshape(-1)
    total = flat.take(top_left + (down + across)) - flat.take(top_left + across)
    total -= flat.take(top_left + down) - flat.take(top_left)
    return total.astype(np.float64, copy=False)


def _extreme(image: np.ndarray, radius: int, op) -> np.ndarray:
    kernel = np.ones((2 * radius + 1, 2 * radius + 1), np.uint8)
    return op(image, kernel, borderType=cv2.BORDER_REPLICATE)


def features(image: np.ndarray, median: np.ndarray, mean: np.ndarray, page: PageConstants,
             where: np.ndarray, first_row: int = 0, window_sums=None) -> np.ndarray:
    """Feature rows (float32, ``[n, len(FEATURES)]``) of the pixels ``where`` (bool).

    ``image`` holds the rows the windows need: ``where``, ``median`` and ``mean`` cover its
    rows ``[first_row, first_row + len(where))`` (a band and its halo; the whole page by
    default). ``window_sums(rows, cols, radius, with_squares)``, if given, returns the
    exact float64 sums of the values (and of their squares, or None) over the windows of
    radius 2, s and h at the pixels (``rows`` of ``where``); ``image`` then needs only 3
    rows of halo (the 7 × 7 minimum). By default they come from integral images of
    ``image`` (whose halo must then be h rows).
    """
    image = np.ascontiguousarray(image)
    rows, cols = nonzero(where)
    at = (rows + first_row, cols)
    out = np.empty((rows.size, len(FEATURES)), np.float32)
    if rows.size == 0:
        return out
    c = np.float32(page.contrast)
    value = image[at].astype(np.float32)
    lm = median[rows, cols].astype(np.float32)
    la = mean[rows, cols].astype(np.float32)
    out[:, 0] = value - np.float32(page.factor) * lm
    out[:, 1] = value - la
    out[:, 2] = value - np.float32(page.ink_intensity)
    out[:, 3] = np.float32(page.contour_intensity) - value
    out[:, 4] = lm - la
    s, h = page.radii
    if window_sums is None:
        total, squares = _integrals(image, h)

        def window_sums(rows, cols, radius, with_squares):
            at = (rows + first_row, cols)
            return (_window_sum(total, *at, radius, h),
                    _window_sum(squares, *at, radius, h) if with_squares else None)
    column = 5
    for radius, with_std in ((2, True), (s, True), (h, False)):
        count = float((2 * radius + 1) ** 2)
        window_sum, window_squares = window_sums(rows, cols, radius, with_std)
        window_mean = window_sum / count
        out[:, column] = value - window_mean
        column += 1
        if with_std:
            variance = window_squares / count - window_mean ** 2
            out[:, column] = np.sqrt(np.maximum(variance, 0.0))
            column += 1
    out[:, 10] = value - _extreme(image, 1, cv2.erode)[at]
    out[:, 11] = _extreme(image, 1, cv2.dilate)[at] - value
    out[:, 12] = value - _extreme(image, 3, cv2.erode)[at]
    out /= c
    return out


# --- the network at inference ---------------------------------------------------------------

#: File name of the refinement network shipped inside the package (``docbin/models/``).
PACKAGED_NAME = "refine.onnx"
#: Metadata keys (``metadata_props``) every refinement model carries.
META_FEATURES = "docbin.refine.features"
META_MARGIN = "docbin.refine.margin"
META_DIRECTION = "docbin.refine.direction"
META_DESCRIPTION = "docbin.refine.training_data"
META_REACH = "docbin.refine.reach"
META_SHAPE = "docbin.refine.shape"
#: What a network may change: "add" turns background pixels of the band into text and
#: leaves the classical text alone; "both" decides the band's pixels either way.
#: How far (pixels, chessboard distance) a pixel the network turns into text may lie from
#: the classical text: 1 keeps only additions that touch a classical stroke (they repair and
#: widen strokes, they do not make new marks out of stains); 0 sets no limit.
REACH = 1
#: What the added text may do to the classical strokes (:func:`limit_shape_sparse`):
#: "keep" keeps an added pixel only where it fills a notch or hole of a stroke (at least
#: :data:`FILL_NEIGHBOURS` of its 8 neighbours are classical text) or where its group of
#: added pixels joins two classical components (a broken stroke mended); an addition that
#: only moves a stroke's border outward (a wider stroke) goes back to background. "free"
#: keeps every addition within reach. Ground truths disagree on how wide a stroke is, so
#: widening is a collection's convention, not evidence on the page.
SHAPE = "keep"
#: Classical text pixels among an added pixel's 8 neighbours from which it fills a notch:
#: a pixel beside a straight border has 3, one in a concave corner or a gap 5 or more.
FILL_NEIGHBOURS = 5


#: Codes of a page map of what the refinement did (``--explain``'s picture, and what the
#: reach limit reads): re-decided with the classical decision kept, made text, made
#: background; 0 elsewhere.
KEPT, MADE_TEXT, MADE_BACKGROUND = 1, 2, 3


def limit_reach(page: np.ndarray, changes: np.ndarray, reach: int, *, text=0, background=255,
                band_rows: int | None = None) -> int:
    """Turn back to background the text the refinement added farther than ``reach`` from
    classical text, in place; returns how many pixels.

    ``page`` is the refined page, ``text`` and ``background`` its two values (docbin's
    output: 0 and 255; a boolean mask: True and False); ``changes`` is the uint8 map of what
    the refinement did (:data:`MADE_TEXT`, :data:`MADE_BACKGROUND`, ...), whose pixels turned
    back become :data:`KEPT`. The classical text is the page's text without the pixels made
    text, with those made background. A pixel is within reach when a classical text pixel
    lies in the (2·reach + 1)² square around it (outside the page: no text). Computed in
    bands of rows with ``reach`` rows of context, exact; ``reach`` 0 changes nothing.
    """
    reach = int(reach)
    if reach <= 0:
        return 0
    rows, cols = page.shape
    height = band_rows or max(16, (1 << 22) // max(cols, 1))
    kernel = np.ones((2 * reach + 1, 2 * reach + 1), np.uint8)
    count = 0
    for r0 in range(0, rows, height):
        r1 = min(rows, r0 + height)
        a0, a1 = max(0, r0 - reach), min(rows, r1 + reach)
        # turning added pixels back never changes the classical text: one pass suffices
        changed = changes[a0:a1]
        classical = (((page[a0:a1] == text) & (changed != MADE_TEXT))
                     | (changed == MADE_BACKGROUND))
        near = cv2.dilate(classical.view(np.uint8), kernel, borderType=cv2.BORDER_CONSTANT,
                          borderValue=0)[r0 - a0:r1 - a0]
        far = (changes[r0:r1] == MADE_TEXT) & (near == 0)
        if far.any():
            page[r0:r1][far] = background
            changes[r0:r1][far] = KEPT
            count += int(np.count_nonzero(far))
    return count


def limit_reach_sparse(page: np.ndarray, added: np.ndarray, reach: int, *,
                       removed: np.ndarray | None = None, text=0, background=255) -> int:
    """:func:`limit_reach` from the flat indices of the changed pixels instead of a page map.

    ``added`` (and ``removed``): flat indices into ``page`` of the pixels the refinement made
    text (made background). Work and memory follow the number of changed pixels, not the
    page: the (2·reach + 1)² neighbours of each added pixel are read directly. Same result
    and count as :func:`limit_reach` with the corresponding map.
    """
    reach = int(reach)
    added = np.asarray(added, np.int64)
    if reach <= 0 or added.size == 0:
        return 0
    removed = np.zeros(0, np.int64) if removed is None else np.asarray(removed, np.int64)
    if not page.flags.c_contiguous:
        raise ValueError("the page must be C-contiguous (it is changed in place)")
    rows, cols = page.shape
    flat = page.reshape(-1)
    # the classical text, for a while: the page's text without the added pixels, with the
    # removed ones
    flat[added] = background
    flat[removed] = text
    r, c = np.divmod(added, cols)
    near = np.zeros(added.size, bool)
    for dr in range(-reach, reach + 1):
        for dc in range(-reach, reach + 1):
            inside = (r + dr >= 0) & (r + dr < rows) & (c + dc >= 0) & (c + dc < cols)
            neighbour = np.where(inside, added + (dr * cols + dc), 0)
            near |= inside & (flat[neighbour] == text)
    flat[removed] = background
    flat[added] = np.where(near, text, background).astype(page.dtype)
    return int(added.size - np.count_nonzero(near))


#: Added pixels the shape rule handles at a time (its temporaries: some 60 bytes each).
CHUNK = 1 << 20
_EIGHT = ((-1, -1), (-1, 0), (-1, 1), (0, -1), (0, 1), (1, -1), (1, 0), (1, 1))


def _text_labeller(classical: np.ndarray):
    """A function from flat indices of text pixels of ``classical`` (uint8, text 0) to their
    8-connected components, numbered as ``cv2.connectedComponents`` numbers them.

    Where docbin's compiled kernels are built, the components are found as runs of text
    (``label_runs``; per run 8 + 8 bytes, no page of labels): the run holding a pixel is the
    last run of its row starting at or before it. Otherwise OpenCV labels the page (int32).
    """
    from docbin.method import kernels

    rows, cols = classical.shape
    if kernels.compiled is None:
        _, labels = cv2.connectedComponents((classical == 0).view(np.uint8), connectivity=8,
                                            ltype=cv2.CV_32S)
        return lambda flat: labels.reshape(-1)[flat]
    _, run_labels, row_starts, run_starts = kernels.compiled.label_runs(classical, cols)
    run_labels = np.frombuffer(run_labels, np.int32)
    # the flat index of every run's first pixel, in label_runs' order (row by row, left to
    # right)
    runs_per_row = np.diff(np.frombuffer(row_starts, np.int64))
    keys = np.repeat(np.arange(rows, dtype=np.int64) * cols, runs_per_row)
    keys += np.frombuffer(run_starts, np.int32)
    return lambda flat: run_labels[np.searchsorted(keys, flat, side="right") - 1]


def _groups(added: np.ndarray, rows: int, cols: int) -> np.ndarray:
    """The 8-connected groups of the pixels at the sorted flat indices ``added``: for each
    pixel the smallest index (into ``added``) of its group.

    Union-find in array form over the pairs of neighbouring pixels: every round hooks the
    larger root of each pair that still spans two trees under the smaller one, then
    compresses every path to its root; a root never points to a larger index, so the trees
    stay trees, and the rounds end when every pair shares its root.
    """
    n = added.size
    index = np.int32 if n < np.iinfo(np.int32).max else np.int64
    first, second = [], []
    for start in range(0, n, CHUNK):  # the pairs, a chunk of pixels at a time
        part = added[start:start + CHUNK]
        r, c = np.divmod(part, cols)
        for dr, dc in ((0, 1), (1, -1), (1, 0), (1, 1)):  # each pair once
            inside = (r + dr < rows) & (c + dc >= 0) & (c + dc < cols)
            neighbour = part + (dr * cols + dc)
            j = np.minimum(np.searchsorted(added, neighbour), n - 1)
            pair = inside & (added[j] == neighbour)
            first.append((np.flatnonzero(pair) + start).astype(index))
            second.append(j[pair].astype(index))
    first, second = np.concatenate(first), np.concatenate(second)
    root = np.arange(n, dtype=index)
    while first.size:
        a, b = root[first], root[second]
        apart = a != b
        if not apart.any():
            break
        first, second, a, b = first[apart], second[apart], a[apart], b[apart]
        np.minimum.at(root, np.maximum(a, b), np.minimum(a, b))
        while True:  # every pixel to its root
            up = root[root]
            if np.array_equal(up, root):
                break
            root = up
    return root


def shape_keeps(classical: np.ndarray, added: np.ndarray) -> np.ndarray:
    """Which added pixels keep the classical strokes' shape (the "keep" rule of
    :data:`SHAPES`): a boolean per pixel of ``added``.

    ``classical`` is the page before the additions (uint8, text 0, C-contiguous) and
    ``added`` the sorted flat indices of the pixels added to it (background there). An
    added pixel is kept iff at least :data:`FILL_NEIGHBOURS` of its 8 neighbours are
    classical text (it fills a notch, a hole or a one-pixel gap), or its 8-connected group
    of added pixels touches (8-neighbours) text of two or more classical components (it
    joins a broken stroke). Outside the page: no text. Work and memory follow the number
    of added pixels, plus the classical page's runs of text.
    """
    rows, cols = classical.shape
    added = np.asarray(added, np.int64)
    if added.size == 0:
        return np.zeros(0, bool)
    flat = classical.reshape(-1)
    group = _groups(added, rows, cols)
    # per group, the smallest and the largest classical component it touches: a group
    # touching two components joins them
    smallest = np.full(added.size, np.iinfo(np.int32).max, np.int32)
    largest = np.zeros(added.size, np.int32)
    labeller = None
    text_neighbours = np.zeros(added.size, np.int8)
    for start in range(0, added.size, CHUNK):  # a chunk of pixels at a time
        part = added[start:start + CHUNK]
        r, c = np.divmod(part, cols)
        for dr, dc in _EIGHT:
            inside = (r + dr >= 0) & (r + dr < rows) & (c + dc >= 0) & (c + dc < cols)
            neighbour = np.where(inside, part + (dr * cols + dc), 0)
            text = inside & (flat[neighbour] == 0)
            text_neighbours[start:start + part.size] += text
            touching = np.flatnonzero(text)
            if touching.size:
                labeller = labeller or _text_labeller(classical)
                label = labeller(neighbour[touching])
                np.minimum.at(smallest, group[touching + start], label)
                np.maximum.at(largest, group[touching + start], label)
    return (text_neighbours >= FILL_NEIGHBOURS) | (largest > smallest)[group]


def limit_shape_sparse(page: np.ndarray, added: np.ndarray, *,
                       removed: np.ndarray | None = None, text=0, background=255) -> np.ndarray:
    """Turn back to background, in place, the added text that does not keep the classical
    strokes' shape (:func:`shape_keeps`); returns the flat indices turned back.

    ``added`` (and ``removed``): flat indices into ``page`` (the refined page, C-contiguous,
    values ``text`` and ``background``) of the pixels the refinement made text (made
    background); the classical page is ``page`` without the first, with the second. Pixels
    of ``added`` that are background in ``page`` (turned back by the reach) are left alone.
    """
    if not page.flags.c_contiguous:
        raise ValueError("the page must be C-contiguous (it is changed in place)")
    flat = page.reshape(-1)
    added = np.sort(np.asarray(added, np.int64))
    added = added[flat[added] == text]
    if added.size == 0:
        return added
    removed = np.zeros(0, np.int64) if removed is None else np.asarray(removed, np.int64)
    if page.dtype == np.uint8 and text == 0:
        classical = page
        flat[added] = background
        flat[removed] = text
    else:  # any other coding: a uint8 copy, text 0
        classical = np.where(page == text, 0, 255).astype(np.uint8)
        classical.reshape(-1)[added] = 255
        classical.reshape(-1)[removed] = 0
    try:
        keep = shape_keeps(classical, added)
    finally:
        if classical is page:
            flat[removed] = background
            flat[added] = text
    back = added[~keep]
    flat[back] = background
    return back


class Refiner:
    """A refinement network (ONNX): float32 features ``[n, F]`` → probability of ink ``[n]``.

    The metadata must list exactly :data:`FEATURES` (the runtime builds nothing else), the
    band half-width δ, the direction (:data:`DIRECTIONS`; "both" when absent) and the reach
    of added text (:data:`REACH`; no limit when absent) and what the added text may do to the
    strokes' shape (:data:`SHAPES`; "free" when absent). One onnxruntime session, one thread
    per call (pages are refined band by band on several threads).
    """

    def __init__(self, source, name: str | None = None):
        self.name = name or str(source)
        self.session, props = open_session(source, self.name, "refinement network", threads=1)
        try:
            features = json.loads(props[META_FEATURES])
            self.margin = float(props[META_MARGIN])
        except (KeyError, ValueError) as error:
            raise ModelError(f"{self.name}: not a docbin refinement network (metadata "
                             f"{META_FEATURES} and {META_MARGIN} missing or unreadable)") \
                from error
        if list(features) != list(FEATURES):
            raise ModelError(f"{self.name}: the network reads features {features}, this docbin "
                             f"builds {list(FEATURES)}; use a matching docbin release")
        if not 0.0 < self.margin <= 1.0:
            raise ModelError(f"{self.name}: band half-width {self.margin} outside (0, 1]")
        self.direction = props.get(META_DIRECTION, "both")
        if self.direction not in DIRECTIONS:
            raise ModelError(f"{self.name}: direction {self.direction!r} is not one of "
                             f"{', '.join(DIRECTIONS)}")
        self.description = props.get(META_DESCRIPTION, "")
        try:
            self.reach = int(props.get(META_REACH, "0"))
        except ValueError:
            self.reach = -1
        if self.reach < 0:
            raise ModelError(f"{self.name}: reach {props.get(META_REACH)!r} is not a whole "
                             f"number >= 0")
        self.shape = props.get(META_SHAPE, "free")
        if self.shape not in SHAPES:
            raise ModelError(f"{self.name}: shape {self.shape!r} is not one of "
                             f"{', '.join(SHAPES)}")
        self._input = self.session.get_inputs()[0].name

    def __call__(self, features_rows: np.ndarray) -> np.ndarray:
        if len(features_rows) == 0:
            return np.zeros(0, np.float32)
        return self.session.run(None, {self._input: np.ascontiguousarray(
            features_rows, np.float32)})[0].reshape(-1)


_cache: dict = {}
_cache_lock = threading.Lock()


def load_refiner(path=None) -> Refiner:
    """The refinement network at ``path``, or the one shipped in the package (cached)."""
    from importlib.resources import files
    from pathlib import Path

    if path is not None and str(path) != "":
        source = Path(path).expanduser()
        if not source.is_file():
            raise ModelError(f"model file not found: {path}")
        key, name = str(source.resolve()), str(path)
    else:
        source = files("docbin").joinpath("models", PACKAGED_NAME)
        if not source.is_file():
            raise ModelError(f"no refinement network is installed (docbin/models/"
                             f"{PACKAGED_NAME}): pass --model PATH; method 'classical' "
                             f"needs none")
        key, name = "packaged", PACKAGED_NAME
    with _cache_lock:
        if key not in _cache:
            _cache[key] = Refiner(source, name)
        return _cache[key]


class RowRefiner:
    """Refines the classical decision of rows ``[s0, s1)`` of a page in place.

    Called by :func:`docbin.method.decision.binary_page` per sub-band with the rows' L_m, L_a and
    ink mask (255 = ink); reads the image rows it needs (halo) itself. A band pixel becomes
    text iff the network's probability exceeds ``1 − balance`` (0.5 by default; toward 1
    more of the uncertain pixels become text); a network of direction "add" only adds text
    (a band pixel the classical rule made text stays text). When the page is decided,
    :meth:`finish` turns back the added text out of the network's reach. Counts what it did,
    for ``--explain``, and with ``record`` keeps a page map of it (:attr:`recorded`).
    """

    def __init__(self, network: Refiner, page: PageConstants, image: np.ndarray, *,
                 balance: float = 0.5, record: bool = False):
        if not 0.0 <= balance <= 1.0:
            raise ValueError(f"balance must lie in [0, 1], got {balance!r}")
        self.network, self.page, self.image = network, page, image
        self.balance = float(balance)
        self.refined = self.to_ink = self.to_background = self.out_of_reach = 0
        self.out_of_shape = 0
        self.record = record
        # what the network did (KEPT, MADE_TEXT, MADE_BACKGROUND), one byte per pixel: for
        # --explain's picture and for the reach limit
        self.changes = np.zeros(image.shape, np.uint8) if record else None
        # without the map: the flat indices of the pixels made text / background, for the
        # reach limit (a few per cent of the page at most, instead of 1 B/px)
        self.added: list[np.ndarray] = []
        self.removed: list[np.ndarray] = []
        self._lock = threading.Lock()
        self._local = threading.local()

    def __call__(self, s0: int, s1: int, median: np.ndarray, mean: np.ndarray,
                 ink: np.ndarray) -> None:
        rows = self.image.shape[0]
        where = band_mask(self.image[s0:s1], median, self.page, self.network.margin)
        band = int(np.count_nonzero(where))
        if self.network.direction == "add":  # text stays text: only background is asked
            if self.changes is not None:
                self.changes[s0:s1][where & (ink > 0)] = KEPT
            where &= ink == 0
        if not where.any():
            with self._lock:
                self.refined += band
            return
        if self.page.halo >= STREAMED_HALO:  # window sums streamed: 3 rows of halo
            streamed = self._streamed_sums()
            a0, a1 = max(0, s0 - 3), min(rows, s1 + 3)

            def window_sums(r, c, radius, with_squares):
                return streamed.sums(s0, s1, r, c, radius, with_squares)
        else:
            a0, a1 = max(0, s0 - self.page.halo), min(rows, s1 + self.page.halo)
            window_sums = None
        x = features(self.image[a0:a1], median, mean, self.page, where, first_row=s0 - a0,
                     window_sums=window_sums)
        decided = self.network(x) > np.float32(1.0 - self.balance)
        r, c = nonzero(where)
        before = ink[r, c] > 0
        ink[r, c] = np.where(decided, 255, 0)
        became_ink = decided & ~before
        became_background = ~decided & before
        if self.changes is not None:
            self.changes[r + s0, c] = np.where(became_ink, MADE_TEXT,
                                               np.where(became_background, MADE_BACKGROUND, KEPT))
        if self.changes is None and self._limits:
            cols = self.image.shape[1]
            flat = (r + s0) * cols + c
            with self._lock:
                self.added.append(flat[became_ink])
                self.removed.append(flat[became_background])
        with self._lock:
            self.refined += band
            self.to_ink += int(np.count_nonzero(became_ink))
            self.to_background += int(np.count_nonzero(became_background))

    def _streamed_sums(self) -> StreamedWindowSums:
        """This thread's :class:`StreamedWindowSums` of the page (its bands come in order)."""
        local = self._local
        if not hasattr(local, "sums"):
            local.sums = StreamedWindowSums(self.image)
        return local.sums

    @property
    def _limits(self) -> bool:
        """Whether :meth:`finish` has work: a reach or the shape rule."""
        return self.network.reach > 0 or self.network.shape == "keep"

    def finish(self, page: np.ndarray) -> None:
        """After the whole page is decided, on the binarized ``page`` (text 0, background
        255), in place: the network's reach (:func:`limit_reach`), then its shape rule
        (:func:`limit_shape_sparse`)."""
        if not self._limits:
            return
        keep_shape = self.network.shape == "keep"
        if self.changes is not None:
            if self.network.reach > 0:
                self.out_of_reach = limit_reach(page, self.changes, self.network.reach)
            if keep_shape:
                back = limit_shape_sparse(
                    page, np.flatnonzero(self.changes == MADE_TEXT),
                    removed=np.flatnonzero(self.changes == MADE_BACKGROUND))
                self.changes.reshape(-1)[back] = KEPT
                self.out_of_shape = int(back.size)
        elif self.added:
            added, removed = np.concatenate(self.added), np.concatenate(self.removed)
            self.added, self.removed = [], []
            if self.network.reach > 0:
                self.out_of_reach = limit_reach_sparse(page, added, self.network.reach,
                                                       removed=removed)
            if keep_shape:
                self.out_of_shape = int(limit_shape_sparse(page, added, removed=removed).size)
        self.to_ink -= self.out_of_reach + self.out_of_shape

    @property
    def recorded(self) -> np.ndarray | None:
        """With ``record``: the page map of what the network did (0 not re-decided,
        :data:`KEPT`, :data:`MADE_TEXT`, :data:`MADE_BACKGROUND`)."""
        return self.changes if self.record else None

    def explain(self) -> dict:
        """What ``--explain`` shows of the refinement."""
        return {"model": self.network.name, "margin": self.network.margin,
                "direction": self.network.direction, "reach": self.network.reach,
                "balance": self.balance,
                "contrast": self.page.contrast, "refined_pixels": self.refined, "to_text": self.to_ink,
                "to_background": self.to_background,
                "out_of_reach": self.out_of_reach, "shape": self.network.shape,
                "out_of_shape": self.out_of_shape,
                "refined_fraction": self.refined / max(self.image.size, 1)}
