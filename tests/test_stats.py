"""Page statistics (edges, e*, B_I, T_I, K) against slow, obvious references."""

from __future__ import annotations

import math

import cv2
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from reference import ink_samples_histogram, window_radius
from scipy import ndimage

from docbin.method import edges as _edges_module
from docbin.method import kernels as _kernels_module
from docbin.method import stats as _stats_module
from docbin.method.edges import (
    edge_image,
    edge_threshold,
    non_maximum_suppression,
    strong_edges,
    weighted_median_of_counts,
)
from docbin.method.stats import (
    PageStats,
    measure_page,
    median_of_counts,
    page_stats,
    quantile_of_counts,
)
from docbin.options import CONSTANTS

COMPILED = _kernels_module.compiled


# --- slow references --------------------------------------------------------------------------

AHEAD = [(0, 1), (1, 1), (1, 0), (1, -1)]  # per direction bin 0°, 45°, 90°, 135°


def nms_reference(magnitude, grad_rows, grad_cols):
    """Per-pixel non-maximum suppression, the angle from math.atan2 in double precision."""
    rows, cols = magnitude.shape
    out = np.zeros_like(magnitude)

    def at(r, c):
        return float(magnitude[r, c]) if 0 <= r < rows and 0 <= c < cols else 0.0

    for r in range(rows):
        for c in range(cols):
            angle = math.degrees(math.atan2(grad_rows[r, c], grad_cols[r, c])) % 180.0
            dr, dc = AHEAD[int((angle + 22.5) // 45.0) % 4]
            m = float(magnitude[r, c])
            if m >= at(r + dr, c + dc) and m >= at(r - dr, c - dc):
                out[r, c] = magnitude[r, c]
    return out


def fresh_page_array(shape):
    """A float32 array laid out like a fresh page-sized NumPy allocation (16 bytes past a
    64-byte boundary): OpenCV's IPP magnitude treats the elements before the first aligned
    address differently, and docbin reproduces this layout."""
    flat = np.empty(int(np.prod(shape)) + 16, np.float32)
    shift = ((16 - flat.ctypes.data) % 64) // 4
    return flat[shift:shift + int(np.prod(shape))].reshape(shape)


def gradients(image):
    size = 2 * int(4 * CONSTANTS.sigma + 0.5) + 1  # truncated at 4 sigma, as SciPy's
    smooth = cv2.GaussianBlur(image.astype(np.float32), (size, size), CONSTANTS.sigma,
                              borderType=cv2.BORDER_REPLICATE)
    grad_cols = cv2.Sobel(smooth, cv2.CV_32F, 1, 0, ksize=3, borderType=cv2.BORDER_REPLICATE)
    grad_rows = cv2.Sobel(smooth, cv2.CV_32F, 0, 1, ksize=3, borderType=cv2.BORDER_REPLICATE)
    magnitude = cv2.magnitude(grad_cols, grad_rows, fresh_page_array(image.shape))
    return magnitude, grad_rows, grad_cols


def without_ring(nms):
    nms = nms.copy()
    nms[0] = nms[-1] = 0
    nms[:, 0] = nms[:, -1] = 0
    return nms


def edge_image_reference(image):
    """e = 255 − floor(255 · (nms − lo) / (hi − lo)), the scaling in float32 arithmetic; the
    page's outer ring of pixels is never an edge."""
    nms = without_ring(nms_reference(*gradients(image)))
    lo, hi = float(nms.min()), float(nms.max())
    if hi <= lo:
        return np.full(image.shape, 255, np.uint8)
    scaled = np.floor((nms - np.float32(lo)) * np.float32(255.0 / (hi - lo)))
    return (255 - np.clip(scaled, 0, 255)).astype(np.uint8)


def weighted_median_reference(values, weights):
    """Smallest value whose cumulative weight, in sorted order, reaches half the total."""
    pairs = sorted(zip(values, weights))
    total = sum(w for _, w in pairs)
    running = 0.0
    for value, weight in pairs:
        running += weight
        if running >= total / 2:
            return value
    raise AssertionError("unreachable")


def ink_samples_reference(image, edges, gamma=CONSTANTS.gamma):
    """Gray levels of the accepted 8-neighbours q of every edge pixel p, one per (p, q)."""
    rows, cols = image.shape
    samples = []
    for r, c in zip(*np.nonzero(edges)):
        for dr in (-1, 0, 1):
            for dc in (-1, 0, 1):
                qr, qc = r + dr, c + dc
                if (dr, dc) == (0, 0) or not (0 <= qr < rows and 0 <= qc < cols):
                    continue
                q = int(image[qr, qc])
                d = int(image[r, c]) - q
                if q <= d * abs(d) ** gamma:
                    samples.append(q)
    return samples


def lower_median(values):
    return float(sorted(np.ravel(values))[(np.size(values) - 1) // 2])


def window_radius_reference(edges):
    """K from scipy's 8-connected labelling: the middle element of one sorted list holding
    each component's scaled diagonal and its pixel count (the reference implementation)."""
    rows, cols = edges.shape
    cap = max(1, math.floor(CONSTANTS.max_radius_fraction * min(rows, cols)))
    fallback = min(max(1, min(rows, cols) // 30), cap)
    labels, _ = ndimage.label(edges, structure=np.ones((3, 3)))
    pooled = []
    for index, box in enumerate(ndimage.find_objects(labels), start=1):
        pixels = int((labels[box] == index).sum())
        if pixels < CONSTANTS.min_component_pixels:
            continue
        height, width = box[0].stop - box[0].start, box[1].stop - box[1].start
        value = math.floor(CONSTANTS.diagonal_factor * math.hypot(width - 1, height - 1))
        pooled += [value, pixels]
    if not pooled:
        return fallback
    pooled.sort()
    return min(max(pooled[len(pooled) // 2], 1), cap)


# --- edges --------------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_nms_matches_per_pixel_loop_on_random_gradients(seed):
    rng = np.random.default_rng(seed)
    grad_rows = rng.normal(0, 10, (13, 17)).astype(np.float32)
    grad_cols = rng.normal(0, 10, (13, 17)).astype(np.float32)
    magnitude = cv2.magnitude(grad_cols, grad_rows)
    expected = nms_reference(magnitude, grad_rows, grad_cols)
    np.testing.assert_array_equal(non_maximum_suppression(magnitude, grad_rows, grad_cols),
                                  expected)


def test_nms_direction_bins_at_axes_diagonals_and_near_boundaries():
    # every pixel has the same gradient direction; the magnitudes make the bins visible
    rng = np.random.default_rng(3)
    magnitude = rng.integers(1, 6, (9, 11)).astype(np.float32)
    for degrees in [0, 45, 90, 135, 180, -45, -90, 22.4, 22.6, 67.4, 67.6, 112.4, 112.6,
                    157.4, 157.6, -22.6, -157.4]:
        angle = math.radians(degrees)
        grad_rows = np.full(magnitude.shape, math.sin(angle), np.float32)
        grad_cols = np.full(magnitude.shape, math.cos(angle), np.float32)
        np.testing.assert_array_equal(
            non_maximum_suppression(magnitude, grad_rows, grad_cols),
            nms_reference(magnitude, grad_rows, grad_cols), err_msg=f"{degrees}°")


def test_nms_keeps_plateaus_and_drops_zero_gradient():
    magnitude = np.array([[0, 2, 2, 1]], np.float32)
    grad_cols = np.ones_like(magnitude)
    grad_rows = np.zeros_like(magnitude)
    out = non_maximum_suppression(magnitude, grad_rows, grad_cols)
    np.testing.assert_array_equal(out, [[0, 2, 2, 0]])


@pytest.mark.parametrize("seed", [0, 1])
def test_edge_image_matches_reference(seed, make_page, kernel_form):
    image = make_page(24, 32, seed)
    edges = edge_image(image)
    assert edges.dtype == np.uint8
    np.testing.assert_array_equal(edges, edge_image_reference(image))
    assert edges.min() == 0 or edges.min() == 1  # the strongest edge maps to ~0


def test_edge_image_of_a_flat_page_has_no_edge():
    np.testing.assert_array_equal(edge_image(np.full((7, 9), 90, np.uint8)), 255)


@pytest.mark.parametrize("seed", range(5))
def test_weighted_median_matches_sorted_list(seed):
    rng = np.random.default_rng(seed)
    values = rng.integers(0, 20, rng.integers(1, 30))
    counts = np.bincount(values, minlength=20).astype(np.float64)
    weights = rng.uniform(0.1, 3.0, 20)
    expected = weighted_median_reference(list(values), [weights[v] for v in values])
    assert weighted_median_of_counts(counts, weights) == expected


def test_weighted_median_of_an_empty_set_raises():
    with pytest.raises(ValueError):
        weighted_median_of_counts(np.zeros(4), np.ones(4))


def test_edge_threshold_is_the_weighted_median_of_values_below_255(make_page):
    edges = edge_image(make_page(30, 40, 3))
    values = [int(v) for v in edges.ravel() if v < 255]
    expected = weighted_median_reference(values, [255 - v for v in values])
    assert edge_threshold(edges) == expected
    assert edge_threshold(np.full((3, 3), 255, np.uint8)) is None


def test_strong_edges_are_the_edge_values_up_to_the_threshold(make_page):
    image = make_page(40, 60, 1)
    mask, threshold = strong_edges(image)
    edges = edge_image(image)
    assert threshold == edge_threshold(edges)
    np.testing.assert_array_equal(mask, edges <= threshold)
    assert mask.dtype == bool and 0 < mask.sum() < mask.size


def test_strong_edges_of_a_flat_page():
    mask, threshold = strong_edges(np.full((5, 8), 30, np.uint8))
    assert threshold is None and not mask.any() and mask.shape == (5, 8)


# --- B_I, T_I, K ----------------------------------------------------------------------------


@pytest.mark.parametrize("seed", range(4))
def test_median_of_counts_is_the_lower_median(seed):
    values = np.random.default_rng(seed).integers(0, 256, 2 + seed)
    expected = sorted(values)[(len(values) - 1) // 2]
    assert median_of_counts(np.bincount(values, minlength=256)) == expected


def test_median_and_quantile_of_counts_by_hand():
    counts = np.zeros(256, np.int64)
    counts[[10, 20, 30, 40]] = 1  # 10 20 30 40: lower median 20 (NumPy's would be 25)
    assert median_of_counts(counts) == 20
    # the reference's fallback quantile: first level whose cumulative count exceeds
    # floor(p · n): p = 0.5 → floor(2) → 30; p = 0.05 → 0 → 10
    assert quantile_of_counts(counts, 0.5) == 30 and quantile_of_counts(counts, 0.05) == 10


@pytest.mark.parametrize("seed", [0, 1])
def test_ink_samples_match_the_neighbour_loop(seed, make_page):
    image = make_page(30, 45, seed)
    edges, _ = strong_edges(image)
    expected = np.bincount(ink_samples_reference(image, edges), minlength=256)
    np.testing.assert_array_equal(ink_samples_histogram(image, edges), expected)


def test_ink_samples_at_the_page_border_and_for_every_level_pair():
    # edge pixels on all four borders; neighbours span every gray level
    rng = np.random.default_rng(7)
    image = rng.integers(0, 256, (12, 14)).astype(np.uint8)
    edges = rng.random(image.shape) < 0.5
    edges[0, :] = edges[-1, :] = edges[:, 0] = edges[:, -1] = True
    expected = np.bincount(ink_samples_reference(image, edges), minlength=256)
    np.testing.assert_array_equal(ink_samples_histogram(image, edges), expected)


def test_ink_samples_acceptance_rule():
    # p = 100 accepts q when q <= d·|d|^0.5, d = 100 − q: q = 81 (d = 19, 19^1.5 ≈ 82.8) is
    # taken, q = 82 (d = 18, 18^1.5 ≈ 76.4) is not; brighter neighbours never are
    for p, q, taken in [(100, 0, True), (100, 81, True), (100, 82, False), (100, 100, False),
                        (100, 120, False), (0, 0, True), (255, 218, True), (255, 219, False)]:
        image = np.array([[p, q]], np.uint8)
        hist = ink_samples_histogram(image, np.array([[True, False]]))
        assert hist.sum() == int(taken) and (not taken or hist[q] == 1), (p, q)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_window_radius_matches_scipy_labelling(seed):
    rng = np.random.default_rng(seed)
    edges = ndimage.binary_dilation(rng.random((60, 80)) < 0.03, iterations=seed)
    assert window_radius(edges) == window_radius_reference(edges)


def test_window_radius_of_a_page_matches_reference(make_page):
    edges, _ = strong_edges(make_page(80, 120, 0))
    assert window_radius(edges) == window_radius_reference(edges)


def test_window_radius_fallback_and_cap():
    edges = np.zeros((90, 120), bool)
    assert window_radius(edges) == 3  # min(rows, cols) // 30
    edges[10, 10:13] = True  # a component of 3 pixels is too small to count
    assert window_radius(edges) == 3
    edges = np.zeros((20, 200), bool)
    edges[2:18, 5] = True
    edges[2, 5:195] = True  # one big component: 2·hypot(189, 15) ≈ 379 > cap 10
    assert window_radius(edges) == 10 == window_radius_reference(edges)


def test_window_radius_counts_diagonal_neighbours_as_connected():
    edges = np.zeros((40, 40), bool)
    edges[np.arange(8), np.arange(8)] = True  # one diagonal line of 8 pixels
    assert window_radius(edges) == math.floor(2 * math.hypot(7, 7)) == 19
    assert window_radius_reference(edges) == 19


# --- page statistics ----------------------------------------------------------------------------


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_page_stats_match_references(seed, make_page, kernel_form):
    image = make_page(60, 90, seed)
    stats = page_stats(image)
    edges, threshold = strong_edges(image)
    samples = ink_samples_reference(image, edges)
    assert isinstance(stats, PageStats)
    assert stats.edge_threshold == threshold
    assert stats.edge_pixels == edges.sum()
    assert stats.contour_intensity == lower_median(image[edges])
    assert stats.ink_intensity == max(lower_median(samples), 1.0)
    assert stats.window_radius == window_radius_reference(edges)
    assert stats.t == stats.ink_intensity / 255 and stats.b == stats.contour_intensity / 255


@pytest.mark.parametrize("value,ink", [(0, 1.0), (128, 128.0), (200, 200.0)])
def test_page_stats_of_a_flat_page_use_the_fallbacks(value, ink):
    # (for some other levels the float32 Gaussian leaves ~1e-5 ripples that count as edges)
    image = np.full((60, 90), value, np.uint8)
    stats = page_stats(image)
    assert stats.edge_pixels == 0 and stats.edge_threshold == -1
    assert stats.contour_intensity == value and stats.ink_intensity == ink
    assert stats.window_radius == 2  # 60 // 30


def test_ink_intensity_is_at_least_one():
    image = np.zeros((40, 40), np.uint8)
    image[10:30, 10:30] = 1
    assert page_stats(image).ink_intensity >= 1.0


@settings(max_examples=30, deadline=None)
@given(arrays(np.uint8, st.tuples(st.integers(1, 30), st.integers(1, 30))))
def test_page_stats_properties(image):
    stats = page_stats(image)
    assert stats.ink_intensity >= 1.0
    assert image.min() <= stats.contour_intensity <= image.max()
    cap = max(1, math.floor(CONSTANTS.max_radius_fraction * min(image.shape)))
    assert 1 <= stats.window_radius <= cap
    assert stats.edge_pixels == strong_edges(image)[0].sum()


@pytest.mark.parametrize("bad", [np.zeros((3, 3), np.float32), np.zeros((3, 3, 3), np.uint8),
                                 np.zeros((0, 4), np.uint8)])
def test_page_stats_rejects_bad_input(bad):
    with pytest.raises(ValueError):
        page_stats(bad)


# --- bands ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def large_page():
    from docbin.synth import degraded_page

    return degraded_page(420, 530, seed=5)[0]


@pytest.mark.parametrize("keep_magnitude", [True, False])
def test_bands_give_the_whole_page_result(large_page, keep_magnitude, monkeypatch, kernel_form):
    # the magnitude kept between the passes (small pages) or computed again (large ones)
    from docbin.method import edges as stats_module

    monkeypatch.setattr(stats_module, "KEEP_MAGNITUDE_PIXELS", 1 << 40 if keep_magnitude else 0)
    whole_stats, whole_edges = measure_page(large_page, band_pixels=10**9, threads=1)
    assert whole_stats == page_stats(large_page)
    for band_pixels, threads in [(1, 1), (20_000, 1), (20_000, 2), (70_000, 3)]:
        stats, edges = measure_page(large_page, band_pixels=band_pixels, threads=threads)
        assert stats == whole_stats, (band_pixels, threads)
        np.testing.assert_array_equal(edges, whole_edges)


@pytest.mark.parametrize("keep_magnitude", [True, False])
def test_banded_edges_match_the_whole_page_reference(keep_magnitude, monkeypatch, kernel_form):
    # 130 columns and bands of 16 rows: many band borders cross the magnitude's block grid
    from docbin.method import edges as stats_module

    monkeypatch.setattr(stats_module, "KEEP_MAGNITUDE_PIXELS", 1 << 40 if keep_magnitude else 0)
    rng = np.random.default_rng(11)
    image = cv2.GaussianBlur(rng.integers(0, 256, (90, 130)).astype(np.uint8), (0, 0), 1.0)
    magnitude, grad_rows, grad_cols = gradients(image)
    nms = without_ring(non_maximum_suppression(magnitude, grad_rows, grad_cols))
    hi = float(nms.max())
    expected = 255 - np.clip(np.floor(nms * np.float32(255.0 / hi)), 0, 255).astype(np.uint8)
    threshold = edge_threshold(expected)
    stats, edges = measure_page(image, band_pixels=1, threads=2)
    np.testing.assert_array_equal(edges, expected <= threshold)
    assert stats.edge_threshold == threshold


def test_components_are_joined_across_band_borders():
    # a U shape and a diagonal cut by many band borders; a 5-pixel component cut in two
    from docbin.method import bands

    edges = np.zeros((64, 80), bool)
    edges[5:60, 10] = edges[5:60, 30] = edges[59, 10:31] = True
    edges[np.arange(3, 41), np.arange(3, 41) + 35] = True
    edges[15:20, 70] = True
    labels, count = ndimage.label(edges, structure=np.ones((3, 3)))
    assert count == 3
    assert window_radius(edges) == window_radius_reference(edges)
    parts = []
    for r0, r1 in bands.bands(64, 6):
        sub, n = ndimage.label(edges[r0:r1], structure=np.ones((3, 3)))
        boxes = ndimage.find_objects(sub)
        parts.append({
            "left": [b[1].start for b in boxes], "top": [b[0].start + r0 for b in boxes],
            "right": [b[1].stop - 1 for b in boxes], "bottom": [b[0].stop - 1 + r0 for b in boxes],
            "area": np.bincount(sub.ravel(), minlength=n + 1)[1:],
            "first_row": sub[0] - 1, "last_row": sub[-1] - 1})
    merged = bands.merge_components(parts)
    expected = sorted((b[1].start, b[0].start, b[1].stop - 1, b[0].stop - 1, int(a))
                      for b, a in zip(ndimage.find_objects(labels),
                                      np.bincount(labels.ravel())[1:]))
    got = sorted(zip(*(merged[k].tolist() for k in ("left", "top", "right", "bottom", "area"))))
    assert got == expected


def test_union_find_joins_chains_and_cycles():
    from docbin.method.bands import union_find

    root = union_find(8, [7, 6, 5, 1, 2], [6, 5, 4, 2, 1])
    np.testing.assert_array_equal(root, [0, 1, 1, 3, 4, 4, 4, 4])
    np.testing.assert_array_equal(union_find(3, [], []), [0, 1, 2])


def test_window_radius_pools_diagonals_and_pixel_counts_in_one_list():
    edges = np.zeros((80, 80), bool)
    edges[np.arange(8), np.arange(8)] = True  # 8 px, diagonal value floor(2·hypot(7, 7)) = 19
    edges[40, 10:40] = True  # 30 px, diagonal value 2·29 = 58
    # One list [8, 19, 30, 58]: the element at index 4 // 2 is 30, a pixel count (a
    # pixel-weighted median of the diagonal values would give 58).
    assert window_radius(edges) == 30 == window_radius_reference(edges)


# --- the compiled kernels against the OpenCV/NumPy form -----------------------------------------

needs_kernels = pytest.mark.skipif(COMPILED is None, reason="docbin._kernels is not built here")


def test_the_compiled_kernels_are_built_in_ci():
    # CI installs docbin on a machine with a C compiler: the fast path must be the one tested
    import os

    if not os.environ.get("CI"):
        pytest.skip("outside CI a build without a C compiler is allowed")
    assert COMPILED is not None


def _gradient_band(rng, rows, cols):
    """Random gradients with zeros (ratios 0, ±inf and NaN) and exact ties with both
    rounded tangents, and their magnitude."""
    grad_rows = rng.normal(0, 10, (rows, cols)).astype(np.float32)
    grad_cols = rng.normal(0, 10, (rows, cols)).astype(np.float32)
    grad_rows[rng.random((rows, cols)) < 0.1] = 0
    grad_cols[rng.random((rows, cols)) < 0.1] = 0
    tie = rng.random((rows, cols)) < 0.05
    tangent = rng.choice(np.array([np.sqrt(2) - 1, np.sqrt(2) + 1], np.float32), tie.sum())
    grad_cols[tie] = rng.choice(np.array([1, -1, 0.5, 8], np.float32), tie.sum())
    grad_rows[tie] = tangent * grad_cols[tie] * rng.choice(np.array([1, -1], np.float32),
                                                            tie.sum())
    magnitude = cv2.magnitude(grad_cols, grad_rows)
    # plateaus: equal neighbours must be kept (>=)
    magnitude[rng.random((rows, cols)) < 0.1] = 5.0
    return magnitude, grad_rows, grad_cols


@needs_kernels
@pytest.mark.parametrize("seed", range(6))
def test_compiled_nms_matches_the_opencv_form(seed):
    rng = np.random.default_rng(seed)
    rows, cols = int(rng.integers(3, 40)), int(rng.integers(3, 90))
    magnitude, grad_rows, grad_cols = _gradient_band(rng, rows + 2, cols)
    # band rows 1..rows of the magnitude; NMS of band rows [c0, c1), columns 1..cols-2
    band = slice(1, rows + 1)
    c0, c1 = int(rng.integers(0, 2)), rows - int(rng.integers(0, 2))
    expected = np.full((rows, cols), 7, np.uint8)
    inner = (magnitude[c0:c1 + 2], grad_rows[band][c0:c1, 1:-1], grad_cols[band][c0:c1, 1:-1])
    _edges_module._suppress(*inner, expected[c0:c1, 1:-1],
                            _edges_module._suppress_scratch(rows, cols))
    keep = np.full((rows, cols), 7, np.uint8)
    gr, gc = np.ascontiguousarray(grad_rows[band]), np.ascontiguousarray(grad_cols[band])
    ties = COMPILED.suppress(magnitude, gr, gc, keep, cols, c0, c1, 1)
    ratio = np.abs(np.divide(inner[1], inner[2], dtype=np.float32,
                             where=inner[2] != 0, out=np.zeros_like(inner[1])))
    expected_ties = int(((ratio == np.float32(np.sqrt(2) - 1))
                         | (ratio == np.float32(np.sqrt(2) + 1))).sum())
    assert ties == expected_ties > 0
    _edges_module._fix_ties(*inner, keep[c0:c1, 1:-1])
    np.testing.assert_array_equal(keep, expected)  # outside the rows and columns: untouched


@needs_kernels
@pytest.mark.parametrize("seed", range(4))
def test_compiled_edge_levels_match_the_opencv_form(seed):
    rng = np.random.default_rng(seed)
    rows, cols = int(rng.integers(1, 30)), int(rng.integers(1, 70))
    magnitude = (rng.random((rows, cols)) * 120).astype(np.float32)
    magnitude[rng.random((rows, cols)) < 0.1] = 0
    mask = np.where(rng.random((rows, cols)) < 0.5, 255, 0).astype(np.uint8)
    scale = np.float32(255 / 100)  # some levels above 255: saturated
    value = np.floor(magnitude * scale)
    expected = np.where(mask > 0, cv2.convertScaleAbs(value), 0).astype(np.uint8)
    level = mask.copy()
    counts = np.full(256, 3, np.int64)
    COMPILED.levels(magnitude, level, scale, counts, cols)
    np.testing.assert_array_equal(level, expected)
    np.testing.assert_array_equal(counts, 3 + np.bincount(expected.ravel(), minlength=256))
    assert expected.max() == 255


@needs_kernels
def test_compiled_kernels_refuse_arrays_too_small():
    magnitude = np.zeros((4, 10), np.float32)
    grads = np.zeros((3, 10), np.float32)
    keep = np.zeros((3, 10), np.uint8)
    with pytest.raises(ValueError, match="magnitude"):
        COMPILED.suppress(magnitude, grads, grads, keep, 10, 0, 3, 1)  # needs 5 rows
    with pytest.raises(ValueError, match="keep"):
        COMPILED.suppress(np.zeros((5, 10), np.float32), grads, grads, keep[:2], 10, 0, 3, 1)
    with pytest.raises(ValueError, match="bad rows"):
        COMPILED.suppress(magnitude, grads, grads, keep, 10, 0, 3, 0)  # no row above row 0
    with pytest.raises(ValueError, match="counts"):
        COMPILED.levels(grads, keep, np.float32(1), np.zeros(255, np.int64), 10)
    with pytest.raises(ValueError):
        COMPILED.levels(grads, keep.astype(np.float32), np.float32(1), np.zeros(256, np.int64),
                        10)


@needs_kernels
@pytest.mark.parametrize("seed", range(4))
def test_compiled_edge_samples_match_the_numpy_form(seed):
    # any mask, border pixels included (the page's statistics never have edges there)
    rng = np.random.default_rng(seed)
    rows, cols = int(rng.integers(1, 40)), int(rng.integers(1, 60))
    image = rng.integers(0, 256, (rows, cols)).astype(np.uint8)
    mask = (rng.random((rows, cols)) < 0.3).astype(np.uint8)
    table = _stats_module.acceptance_table().ravel()
    r0 = int(rng.integers(0, rows))
    r1 = int(rng.integers(r0 + 1, rows + 1))
    labels = np.empty((r1 - r0, cols), np.int32)
    (contour, ink), part = _stats_module._kernel_samples(image, mask, table, r0, r1, labels)
    edge = np.flatnonzero(mask[r0:r1].reshape(-1))
    expected = _stats_module._band_components(mask, edge, r0, r1, labels.copy())
    for key in ("left", "top", "right", "bottom", "area", "first_row", "last_row"):
        np.testing.assert_array_equal(part[key], expected[key], err_msg=key)
    if edge.size:
        expected_contour, codes = _stats_module._edge_pixel_counts(image, edge, r0, r1)
        np.testing.assert_array_equal(contour, expected_contour)
        np.testing.assert_array_equal(ink, _stats_module._accepted(codes, table))
    else:
        assert not contour.any() and not ink.any()


@needs_kernels
def test_compiled_edge_samples_refuse_a_mask_without_labels():
    image = np.zeros((4, 5), np.uint8)
    mask = np.ones((4, 5), np.uint8)
    labels = np.zeros((4, 5), np.int32)  # no component for the mask's pixels
    counts = [np.zeros(256, np.int64) for _ in range(2)]
    with pytest.raises(ValueError, match="no component label"):
        COMPILED.edge_samples(image, mask, labels, _stats_module.acceptance_table().ravel(),
                              *counts, np.zeros((5, 1), np.int64), 4, 5, 0, 4)
    with pytest.raises(ValueError, match="bad rows"):
        COMPILED.edge_samples(image, mask, labels, _stats_module.acceptance_table().ravel(),
                              *counts, np.zeros((5, 1), np.int64), 4, 5, 2, 6)


@needs_kernels
def test_compiled_edge_samples_per_block_match_the_numpy_form(monkeypatch):
    # measure_page_blocks: bands that split block rows, blocks narrower than the page
    from docbin.synth import degraded_page

    image = degraded_page(300, 410, seed=4)[0]
    results = {}
    for form in ("compiled", "opencv"):
        monkeypatch.setattr(_kernels_module, "compiled", COMPILED if form == "compiled" else None)
        results[form] = _stats_module.measure_page_blocks(image, 24, (13, 18),
                                                          band_pixels=9_000, threads=2)
    (stats_a, edges_a, blocks_a), (stats_b, edges_b, blocks_b) = results.values()
    assert stats_a == stats_b
    np.testing.assert_array_equal(edges_a, edges_b)
    np.testing.assert_array_equal(blocks_a.contour, blocks_b.contour)
    np.testing.assert_array_equal(blocks_a.ink, blocks_b.ink)
    assert blocks_a.contour.sum() == stats_a.edge_pixels and blocks_a.ink.sum() > 0
    with pytest.raises(ValueError, match="bad blocks"):
        COMPILED.edge_samples(image, np.zeros_like(image), np.zeros(image.shape, np.int32),
                              _stats_module.acceptance_table().ravel(),
                              np.zeros(256, np.int64), np.zeros(256, np.int64),
                              np.zeros((5, 0), np.int64), 300, 410, 0, 300, 24, 2,
                              np.zeros(1, np.int64), np.zeros(1, np.int64))
