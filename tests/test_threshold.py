"""The decision step: local median and mean, and the ink rule, against slow references."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from scipy import ndimage

from docbin.method import kernels as _kernels_module
from docbin.method.decision import (
    LocalStats,
    ink_mask,
    local_mean,
    local_median,
    local_stats,
    to_binary_image,
)
from docbin.method.surface import logistic_surface
from docbin.pipeline import binarize


def window_median_reference(image: np.ndarray, radius: int) -> np.ndarray:
    """Median of every (2r+1)² window of the edge-replicated page, by sorting the window."""
    size = 2 * radius + 1
    padded = np.pad(image, radius, mode="edge")
    windows = np.lib.stride_tricks.sliding_window_view(padded, (size, size))
    out = np.empty(image.shape, np.uint8)
    for r in range(image.shape[0]):
        flat = windows[r].reshape(image.shape[1], -1)
        out[r] = np.partition(flat, size * size // 2, axis=1)[:, size * size // 2]
    return out


def window_sum_reference(image: np.ndarray, radius: int) -> np.ndarray:
    """Exact integer sum of every (2r+1)² window of the edge-replicated page."""
    padded = np.pad(image.astype(np.int64), radius, mode="edge")
    integral = np.pad(padded.cumsum(0).cumsum(1), ((1, 0), (1, 0)))
    size = 2 * radius + 1
    return (integral[size:, size:] - integral[:-size, size:] - integral[size:, :-size]
            + integral[:-size, :-size])


def random_page(rows, cols, seed, levels=256):
    rng = np.random.default_rng(seed)
    values = rng.choice(256, size=levels, replace=False)
    return values[rng.integers(0, levels, (rows, cols))].astype(np.uint8)


# --- local median -----------------------------------------------------------------------------


@pytest.mark.parametrize("radius", [1, 2, 3, 7, 20])
@pytest.mark.parametrize("seed", [0, 1])
def test_local_median_matches_scipy(radius, seed, make_page):
    image = make_page(40, 56, seed) if seed else random_page(40, 56, seed)
    expected = ndimage.median_filter(image, size=2 * radius + 1, mode="nearest")
    np.testing.assert_array_equal(local_median(image, radius), expected)


@pytest.mark.parametrize("radius,levels,seed", [(128, 256, 0), (128, 3, 1), (130, 40, 2),
                                                (140, 256, 3)])
def test_large_window_median_is_exact(radius, levels, seed):
    # windows of more than 255 px take the threshold-decomposition path
    assert 2 * radius + 1 > 255
    image = random_page(21, 26, seed, levels)
    np.testing.assert_array_equal(local_median(image, radius),
                                  window_median_reference(image, radius))


@pytest.mark.parametrize("radius", [1, 3, 7, 20, 130])
@pytest.mark.parametrize("bright", [False, True])
def test_median_filter_of_bright_pages_runs_on_the_inverted_page(radius, bright, make_page,
                                                                  monkeypatch):
    from docbin.method import decision as threshold

    page = make_page(60, 80, 3)
    image = page if bright else 255 - page
    assert (image.mean() > 127.5) == bright
    calls = []
    real = threshold.cv2.bitwise_not
    monkeypatch.setattr(threshold.cv2, "bitwise_not",
                        lambda *args, **kwargs: calls.append(1) or real(*args, **kwargs))
    size = 2 * radius + 1
    expected = ndimage.median_filter(image, size=size, mode="nearest")
    np.testing.assert_array_equal(threshold._median_blur(image, size), expected)
    assert bool(calls) == (bright and size > 5)


@pytest.mark.parametrize("shape", [(4, 1), (1, 4), (3, 1), (4, 3), (2, 2)])
def test_large_window_median_of_tiny_pages(shape):
    # windows far over 255 px take the threshold decomposition everywhere; its masks and
    # prefixes can be (1..4, 1) arrays, which OpenCV mistakes for scalars
    rng = np.random.default_rng(sum(shape))
    image = rng.integers(0, 256, shape).astype(np.uint8)
    np.testing.assert_array_equal(local_median(image, 300), window_median_reference(image, 300))


def test_large_window_median_of_a_page_with_structure(make_page):
    image = make_page(30, 44, 2)
    np.testing.assert_array_equal(local_median(image, 129), window_median_reference(image, 129))


@pytest.mark.parametrize("radius", [2, 128])
@pytest.mark.parametrize("value", [0, 17, 255])
def test_median_of_a_constant_page_is_the_constant(radius, value):
    image = np.full((9, 12), value, np.uint8)
    np.testing.assert_array_equal(local_median(image, radius), image)


def test_median_radius_zero_is_the_page():
    image = random_page(5, 6, 0)
    out = local_median(image, 0)
    np.testing.assert_array_equal(out, image)
    assert out is not image


# --- local mean -------------------------------------------------------------------------------


@pytest.mark.parametrize("radius", [1, 4, 15, 130])
def test_local_mean_matches_exact_window_sums(radius, make_page):
    image = make_page(37, 51, 1)
    mean = local_mean(image, radius)
    assert mean.dtype == np.float32 and mean.shape == image.shape
    exact = window_sum_reference(image, radius) / float((2 * radius + 1) ** 2)
    np.testing.assert_allclose(mean, exact, rtol=2e-7, atol=0)


def test_local_mean_matches_scipy_uniform_filter(make_page):
    image = make_page(30, 40, 3)
    expected = ndimage.uniform_filter(image.astype(np.float64), size=9, mode="nearest")
    np.testing.assert_allclose(local_mean(image, 4), expected, rtol=1e-6)


# --- the decision rule ------------------------------------------------------------------------


def every_pair():
    """Images and local medians that together hold every (I, L_m) pair of uint8 levels."""
    image, median = np.meshgrid(np.arange(256, dtype=np.uint8), np.arange(256, dtype=np.uint8),
                                indexing="ij")
    return np.ascontiguousarray(image), np.ascontiguousarray(median)


@pytest.mark.parametrize("factor", [0.5, 0.75, 1.0, 0.655, 0.7343053976963355, 0.05, 0.999999,
                                    1 / 3, 0.1 + 0.2])
def test_median_condition_is_exact_for_every_level_pair(factor):
    # the rule is I < float32(f) · L_m, evaluated in float32; check every (I, L_m) pair
    image, median = every_pair()
    mean = np.full(image.shape, 256.0, np.float32)  # the mean condition always holds
    local = LocalStats(image, median, mean, 1)
    expected = image.astype(np.float32) < np.float32(factor) * median.astype(np.float32)
    np.testing.assert_array_equal(ink_mask(local, factor), expected)


def test_mean_condition_is_strict():
    image = np.array([[10, 10, 10, 200]], np.uint8)
    mean = np.array([[10.0, np.nextafter(np.float32(10), np.float32(11)), 9.5, 201]],
                    np.float32)
    median = np.full(image.shape, 255, np.uint8)
    ink = ink_mask(LocalStats(image, median, mean, 1), 1.0)
    np.testing.assert_array_equal(ink, [[False, True, False, True]])


def test_ink_mask_is_both_conditions(make_page):
    image = make_page(50, 70, 4)
    local = local_stats(image, 6)
    factor = logistic_surface(114 / 255, 63 / 255)
    assert factor == pytest.approx(0.655, abs=5e-4)  # the check value of METHOD.md
    expected = ((image.astype(np.float32)
                 < np.float32(factor) * local.local_median.astype(np.float32))
                & (image < local.local_mean))
    ink = ink_mask(local, factor)
    assert ink.dtype == bool
    np.testing.assert_array_equal(ink, expected)
    assert 0 < ink.sum() < ink.size


def test_ink_mask_with_a_factor_per_pixel(make_page):
    image = make_page(40, 60, 5)
    local = local_stats(image, 5)
    factor = np.linspace(0.3, 1.0, image.size).reshape(image.shape)
    expected = ((image.astype(np.float32)
                 < factor.astype(np.float32) * local.local_median.astype(np.float32))
                & (image < local.local_mean))
    np.testing.assert_array_equal(ink_mask(local, factor), expected)


def test_local_stats_holds_the_page_and_both_filters(make_page):
    image = make_page(30, 40, 6)
    local = local_stats(image, 3)
    assert local.radius == 3 and local.image is image
    np.testing.assert_array_equal(local.local_median, local_median(image, 3))
    np.testing.assert_array_equal(local.local_mean, local_mean(image, 3))


def test_binary_image_is_text_black_on_white():
    ink = np.array([[True, False], [False, True]])
    out = to_binary_image(ink)
    assert out.dtype == np.uint8
    np.testing.assert_array_equal(out, [[0, 255], [255, 0]])


# --- properties of the whole classical method ---------------------------------------------------


@settings(max_examples=25, deadline=None)
@given(arrays(np.uint8, st.tuples(st.integers(1, 24), st.integers(1, 24))))
def test_classical_output_is_binary_and_the_page_shape(image):
    out = binarize(image, "classical").image
    assert out.shape == image.shape and out.dtype == np.uint8
    assert set(np.unique(out)) <= {0, 255}


@settings(max_examples=25, deadline=None)
@given(st.integers(1, 40), st.integers(1, 40), st.integers(0, 255))
def test_a_constant_page_has_no_ink(rows, cols, value):
    out = binarize(np.full((rows, cols), value, np.uint8), "classical").image
    assert (out == 255).all()


# --- the rule band by band, and statistics read where needed ------------------------------------


@pytest.fixture(scope="module")
def band_page():
    from docbin.synth import degraded_page

    return degraded_page(330, 410, seed=8)[0]  # above SMALL_PAGE: the banded path


@pytest.mark.parametrize("radius", [0, 3, 40, 128])
@pytest.mark.parametrize("band_pixels,sub_band_pixels,threads",
                         [(None, None, 1), (2_000, 3_000, 1), (60_000, 5_000, 2)])
def test_binary_page_equals_the_whole_page_rule(band_page, radius, band_pixels,
                                                sub_band_pixels, threads, monkeypatch,
                                                kernel_form):
    from docbin.method import decision as threshold

    assert band_page.size >= threshold.SMALL_PAGE
    if sub_band_pixels:
        monkeypatch.setattr(threshold, "SUB_BAND_PIXELS", sub_band_pixels)
    factor = 0.7343053976963355
    expected = to_binary_image(ink_mask(local_stats(band_page, radius), factor))
    out = threshold.binary_page(band_page, radius, factor, threads=threads,
                                band_pixels=band_pixels)
    np.testing.assert_array_equal(out, expected)
    assert (out == 0).any() or radius == 0


@pytest.mark.parametrize("radius", [3, 40])
def test_binary_page_of_a_dark_page_equals_the_whole_page_rule(band_page, radius, kernel_form):
    # a dark page: its median is not taken on the inverted page
    from docbin.method import decision as threshold

    page = (255 - band_page) // 2
    assert page.mean() < 127.5
    factor = 0.9
    expected = to_binary_image(ink_mask(local_stats(page, radius), factor))
    np.testing.assert_array_equal(threshold.binary_page(page, radius, factor, threads=2),
                                  expected)
    assert (expected == 0).any() and (expected == 255).any()


@pytest.mark.skipif(_kernels_module.compiled is None, reason="docbin._kernels is not built here")
def test_compiled_rule_is_both_conditions():
    rng = np.random.default_rng(4)
    image = rng.integers(0, 256, (7, 33)).astype(np.uint8)
    median = rng.integers(0, 256, (7, 33)).astype(np.uint8)
    mean = (image + rng.normal(0, 3, image.shape)).astype(np.float32)
    mean[0, :5] = image[0, :5]  # equal: not below the mean
    table = rng.integers(0, 256, 256).astype(np.uint8)
    out = np.full((7, 33), 7, np.uint8)
    _kernels_module.compiled.rule(image, median, mean, table, out, 33)
    ink = (image < table[median]) & (image.astype(np.float32) < mean)
    np.testing.assert_array_equal(out, np.where(ink, 0, 255))
    with pytest.raises(ValueError, match="mean"):
        _kernels_module.compiled.rule(image, median, mean[:3], table, out, 33)
    with pytest.raises(ValueError, match="table"):
        _kernels_module.compiled.rule(image, median, mean, table[:100], out, 33)


@pytest.mark.skipif(_kernels_module.compiled is None, reason="docbin._kernels is not built here")
@pytest.mark.parametrize("inverted", [False, True])
def test_compiled_rule_with_a_factor_per_pixel(inverted):
    rng = np.random.default_rng(5)
    image = rng.integers(0, 256, (6, 41)).astype(np.uint8)
    median = rng.integers(0, 256, (6, 41)).astype(np.uint8)
    mean = (image + rng.normal(0, 3, image.shape)).astype(np.float32)
    factor = rng.uniform(0.3, 1.0, image.shape).astype(np.float32)
    factor[0, :8] = image[0, :8] / np.maximum(median[0, :8], 1)  # products near I: ties
    level = 255 - median if inverted else median
    out = np.full(image.shape, 7, np.uint8)
    _kernels_module.compiled.rule_factor(image, median, mean, factor, out, 41, inverted)
    ink = ((image < np.multiply(factor, level, dtype=np.float32))
           & (image.astype(np.float32) < mean))
    np.testing.assert_array_equal(out, np.where(ink, 0, 255))
    with pytest.raises(ValueError, match="factor"):
        _kernels_module.compiled.rule_factor(image, median, mean, factor[:2], out, 41, inverted)


def test_binary_page_on_a_small_page_and_with_a_factor_per_pixel(make_page):
    from docbin.method import decision as threshold

    image = make_page(60, 80, 2)
    local = local_stats(image, 7)
    np.testing.assert_array_equal(threshold.binary_page(image, 7, 0.8),
                                  to_binary_image(ink_mask(local, 0.8)))
    factor = np.linspace(0.5, 1.0, image.size).reshape(image.shape)
    np.testing.assert_array_equal(threshold.binary_page(image, 7, factor),
                                  to_binary_image(ink_mask(local, factor)))


def test_rank_median_bands_equal_the_whole_page(band_page):
    from docbin.method.bands import bands
    from docbin.method.decision import _rank_median_rows

    image = band_page[:200, :260]
    whole = _rank_median_rows(image, 129, 0, 200)
    for r0, r1 in bands(200, 37):
        np.testing.assert_array_equal(_rank_median_rows(image, 129, r0, r1), whole[r0:r1])
    np.testing.assert_array_equal(whole[::37, ::41],
                                  window_median_reference(image, 129)[::37, ::41])


@pytest.mark.parametrize("factor", [1.5, float("nan"), float("inf"), -0.5])
def test_table_is_refused_outside_the_unit_range_and_the_rule_still_holds(factor):
    from docbin.method.decision import median_threshold_table

    assert median_threshold_table(factor) is None
    image, median = every_pair()
    local = LocalStats(image, median, np.full(image.shape, 256.0, np.float32), 1)
    with np.errstate(invalid="ignore"):
        expected = image.astype(np.float32) < np.float32(factor) * median.astype(np.float32)
    np.testing.assert_array_equal(ink_mask(local, factor), expected)


def test_large_windows_use_the_median_filter_where_its_counters_hold():
    # OpenCV's 16-bit bins overflow where one 16-level bin fills more than 65535 pixels of
    # a window: those rows (the flat top) take the threshold decomposition, the others
    # (noise: no bin dominates) the median filter; both give the exact median
    from docbin.method.decision import _large_median_rows, _overflow_rows, _rank_median_rows

    rng = np.random.default_rng(4)
    image = rng.integers(0, 256, (700, 320)).astype(np.uint8)
    image[:300] = 200
    image[80:90, 20:300] = 30
    risky = _overflow_rows(image, 130, 0, 700)
    assert risky[:100].all() and not risky[-100:].any()
    np.testing.assert_array_equal(_large_median_rows(image, 130, 0, 700),
                                  _rank_median_rows(image, 130, 0, 700))
    padded = np.pad(image, 130, mode="edge")
    out = _large_median_rows(image, 130, 650, 700)
    for r, c in [(650, 0), (660, 17), (671, 160), (699, 319), (685, 301)]:
        window = padded[r:r + 261, c:c + 261]
        assert out[r - 650, c] == np.partition(window.ravel(), 261 * 261 // 2)[261 * 261 // 2]


def _overflow_rows_reference(image, radius, r0, r1, limit=65535):
    """Rows of [r0, r1) with a window holding more than ``limit`` pixels of one 16-level
    bin, from the exact window counts of every bin at every pixel."""
    size = 2 * radius + 1
    padded = np.pad(image, radius, mode="edge").astype(np.int64)
    risky = np.zeros(r1 - r0, bool)
    for j in range(16):
        mask = (padded // 16 == j).astype(np.int64)
        total = np.zeros((mask.shape[0] + 1, mask.shape[1] + 1), np.int64)
        total[1:, 1:] = mask.cumsum(0).cumsum(1)
        counts = (total[size:, size:] - total[:-size, size:] - total[size:, :-size]
                  + total[:-size, :-size])
        risky |= (counts[r0:r1] > limit).any(axis=1)
    return risky


@pytest.mark.parametrize("seed", range(6))
def test_overflow_rows_with_a_low_limit_match_the_exact_counts(seed, monkeypatch):
    # a limit near typical window counts puts many blocks near the bound: the bound must
    # never be below a window's count (else a row is missed), and the exact counts decide
    from docbin.method import decision as threshold

    rng = np.random.default_rng(100 + seed)
    rows, cols = int(rng.integers(60, 140)), int(rng.integers(40, 700))
    levels = rng.choice(256, size=int(rng.integers(2, 6)), replace=False)
    image = levels[rng.integers(0, len(levels), (rows, cols))].astype(np.uint8)
    image[: rows // 3] = levels[0]
    radius = int(rng.integers(3, 30))
    limit = int((2 * radius + 1) ** 2 * rng.uniform(0.3, 0.9))
    monkeypatch.setattr(threshold, "HISTOGRAM_COUNTER_MAX", limit)
    monkeypatch.setattr(threshold, "OVERFLOW_BLOCK", int(rng.choice([2, 4, 8])))
    for r0, r1 in [(0, rows), (rows // 4, rows // 2 + 5), (rows - 9, rows)]:
        np.testing.assert_array_equal(threshold._overflow_rows(image, radius, r0, r1),
                                      _overflow_rows_reference(image, radius, r0, r1, limit))


@pytest.mark.parametrize("seed", range(4))
def test_overflow_rows_match_the_exact_window_counts(seed):
    # the block bound only chooses where the exact counts are taken: the rows it returns
    # are exactly the rows with an overflowing window, whatever the layout
    from docbin.method.decision import _overflow_rows

    rng = np.random.default_rng(seed)
    rows, cols = int(rng.integers(300, 520)), int(rng.integers(150, 400))
    image = rng.integers(0, 256, (rows, cols)).astype(np.uint8)
    top = int(rng.integers(50, rows - 50))
    image[:top] = rng.integers(192, 208, (top, cols))  # one bin, overflowing near the top
    image[top:top + 20, : cols // 2] = 15  # another bin, a strip
    radius = int(rng.integers(129, 150))
    for r0, r1 in [(0, rows), (0, top), (top // 2, min(rows, top + 60)), (rows - 37, rows)]:
        np.testing.assert_array_equal(_overflow_rows(image, radius, r0, r1),
                                      _overflow_rows_reference(image, radius, r0, r1))


@pytest.mark.parametrize("threads", [1, 2])
def test_binary_page_with_factor_rows_equals_the_whole_page_rule(band_page, threads,
                                                                  monkeypatch, kernel_form):
    from docbin.method import decision as threshold

    monkeypatch.setattr(threshold, "SUB_BAND_PIXELS", 7_000)
    rows, cols = band_page.shape
    factor = (0.55 + 0.4 * np.add.outer(np.arange(rows) / rows, np.arange(cols) / cols) / 2)
    factor = factor.astype(np.float32)
    expected = to_binary_image(ink_mask(local_stats(band_page, 30), factor))
    asked = []

    def rows_of(r0, r1):
        asked.append((r0, r1))
        return factor[r0:r1]

    out = threshold.binary_page(band_page, 30, rows_of, threads=threads, band_pixels=40_000)
    np.testing.assert_array_equal(out, expected)
    assert len(asked) > 2 and max(r1 - r0 for r0, r1 in asked) < rows  # never the whole map
    np.testing.assert_array_equal(threshold.binary_page(band_page, 30, factor), expected)
    with pytest.raises(ValueError, match="shape"):
        threshold.binary_page(band_page, 30, factor[:-1])
