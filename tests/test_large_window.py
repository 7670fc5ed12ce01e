"""Windows of more than 255 px (K >= 128): the compiled streamed statistics
(:class:`docbin.method.decision.LargeWindowRows`) against the exact OpenCV/NumPy forms, and
the decision's work bounded by the page's size whatever K."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_threshold import random_page, window_median_reference

from docbin.method import decision
from docbin.method import kernels as _kernels_module

COMPILED = _kernels_module.compiled
needs_kernels = pytest.mark.skipif(
    COMPILED is None or not hasattr(COMPILED, "window_stats"),
    reason="docbin._kernels (with window_stats) is not built here")


def opencv_mean(image: np.ndarray, radius: int) -> np.ndarray:
    size = 2 * radius + 1
    return cv2.boxFilter(image, cv2.CV_32F, (size, size), normalize=True,
                         borderType=cv2.BORDER_REPLICATE)


def exact_median(image: np.ndarray, radius: int) -> np.ndarray:
    """The threshold decomposition (the exact form used without the compiled kernels)."""
    return decision._rank_median_rows(image, radius, 0, image.shape[0])


def streamed(image: np.ndarray, radius: int, pieces=((0, None),)):
    """L_m and L_a from one LargeWindowRows, asked piece by piece."""
    rows, cols = image.shape
    median = np.zeros((rows, cols), np.uint8)
    mean = np.zeros((rows, cols), np.float32)
    state = decision.LargeWindowRows(image, radius)
    for r0, r1 in pieces:
        r1 = rows if r1 is None else r1
        state.rows(r0, r1, median[r0:r1], mean[r0:r1])
    return median, mean, state


def page_of(kind: str, rows: int, cols: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    if kind == "random":
        return rng.integers(0, 256, (rows, cols), dtype=np.uint8)
    if kind == "levels":  # few levels: many ties at the median
        return random_page(rows, cols, seed, levels=3)
    if kind == "flat":
        return np.full((rows, cols), 213, np.uint8)
    # a bright page with a dark line: the kind of page
    page = np.full((rows, cols), 200, np.uint8)
    page[rows // 2:rows // 2 + 3, cols // 5:cols - cols // 5] = 30
    return page


@needs_kernels
@pytest.mark.parametrize("radius", [128, 133, 200])
@pytest.mark.parametrize("shape", [(37, 53), (53, 37), (300, 7), (6, 290), (1, 1), (1, 9),
                                   (270, 262)])
@pytest.mark.parametrize("kind", ["random", "levels", "flat", "line"])
def test_streamed_statistics_equal_the_exact_forms(radius, shape, kind):
    # K >= rows and K >= cols on most shapes: windows mostly of replicated borders
    image = page_of(kind, *shape, seed=radius + shape[0])
    median, mean, _ = streamed(image, radius)
    np.testing.assert_array_equal(median, exact_median(image, radius))
    np.testing.assert_array_equal(mean.view(np.int32), opencv_mean(image, radius).view(np.int32))


@needs_kernels
@pytest.mark.parametrize("shape", [(9, 12), (4, 13)])
def test_streamed_median_equals_sorting_the_window(shape):
    image = random_page(*shape, seed=5)
    median, _, _ = streamed(image, 130)
    np.testing.assert_array_equal(median, window_median_reference(image, 130))


@needs_kernels
@pytest.mark.parametrize("radius", [1447, 1448])
@pytest.mark.parametrize("cols", [8, 9, 10, 11])
def test_streamed_mean_equals_opencv_on_both_sides_of_its_int32_sums(radius, cols):
    # OpenCV sums windows of at most 2^23 px in int32 (scaled in float32 in its vector
    # loop, in double in its scalar tail) and larger ones in double
    assert ((2 * radius + 1) ** 2 <= 1 << 23) == (radius == 1447)
    image = random_page(7, cols, seed=cols)
    _, mean, _ = streamed(image, radius)
    np.testing.assert_array_equal(mean.view(np.int32), opencv_mean(image, radius).view(np.int32))


@needs_kernels
def test_streamed_rows_in_pieces_and_out_of_order_equal_one_pass():
    image = page_of("random", 90, 70, seed=3)
    whole_median, whole_mean, _ = streamed(image, 140)
    pieces = ((0, 7), (7, 8), (8, 8), (8, 50), (60, 90), (50, 60))  # a jump back rebuilds
    median, mean, _ = streamed(image, 140, pieces)
    np.testing.assert_array_equal(median, whole_median)
    np.testing.assert_array_equal(mean, whole_mean)
    state = decision.LargeWindowRows(image, 140)
    only_mean = np.empty((20, 70), np.float32)
    state.rows(30, 50, None, only_mean)
    np.testing.assert_array_equal(only_mean, whole_mean[30:50])


@needs_kernels
@settings(max_examples=25, deadline=None)
@given(rows=st.integers(1, 30), cols=st.integers(1, 30), radius=st.integers(128, 160),
       levels=st.integers(1, 256), seed=st.integers(0, 1000), cut=st.integers(0, 30))
def test_streamed_median_property(rows, cols, radius, levels, seed, cut):
    image = random_page(rows, cols, seed, levels=min(levels, 256))
    cut = min(cut, rows)
    median, mean, _ = streamed(image, radius, ((0, cut), (cut, rows)))
    np.testing.assert_array_equal(median, exact_median(image, radius))
    np.testing.assert_array_equal(mean, opencv_mean(image, radius))


@needs_kernels
def test_window_stats_checks_its_buffers():
    image = np.zeros((10, 12), np.uint8)
    state = decision.LargeWindowRows(image, 130)
    with pytest.raises(ValueError, match="median"):
        state.rows(0, 10, np.empty((9, 12), np.uint8), None)
    with pytest.raises(ValueError, match="mean"):
        state.rows(0, 10, None, np.empty((10, 12), np.float64))
    with pytest.raises(ValueError, match="rows"):
        state.rows(5, 11, None, None)
    with pytest.raises(ValueError, match="fine"):
        COMPILED.window_stats(image, 130, 0, 1, -1, state.fine.reshape(-1)[:100], state.coarse,
                              state.sums, None, None, 0)
    with pytest.raises(ValueError, match="compiled kernels"):
        decision.LargeWindowRows(image, 100)  # a window of 201 px: medianBlur's


# --- the page's functions with and without the compiled kernels ---------------------------------


@pytest.fixture(scope="module")
def large_page():
    from docbin.synth import degraded_page

    return degraded_page(300, 260, seed=4)[0]  # above SMALL_PAGE: the banded path


@needs_kernels
@pytest.mark.parametrize("radius", [128, 150, 300])
def test_local_statistics_with_and_without_the_compiled_kernels(large_page, radius,
                                                               monkeypatch):
    with_kernels = decision.local_stats(large_page, radius)
    np.testing.assert_array_equal(decision.local_median(large_page, radius, threads=2),
                                  with_kernels.local_median)
    np.testing.assert_array_equal(decision.local_mean(large_page, radius),
                                  with_kernels.local_mean)
    monkeypatch.setattr(_kernels_module, "compiled", None)
    np.testing.assert_array_equal(decision.local_median(large_page, radius),
                                  with_kernels.local_median)
    np.testing.assert_array_equal(decision.local_mean(large_page, radius),
                                  with_kernels.local_mean)


@needs_kernels
@pytest.mark.parametrize("radius", [128, 130, 140])
@pytest.mark.parametrize("threads,band_pixels", [(1, None), (2, None), (2, 9_000)])
def test_binary_page_with_and_without_the_compiled_kernels(large_page, radius, threads,
                                                           band_pixels, monkeypatch):
    rows, cols = large_page.shape
    monkeypatch.setattr(decision, "SUB_BAND_PIXELS", 6_000)  # several sub-bands per band
    factor = 0.8
    per_pixel = (0.6 + 0.3 * np.arange(rows * cols).reshape(rows, cols) / (rows * cols)
                 ).astype(np.float32)
    refined = []

    def refine(r0, r1, median, mean, ink):  # a learned step's view of the rows
        refined.append((r0, median.copy(), mean.copy()))
        ink[:, ::7] = 0

    outputs = {}
    for form in ("compiled", "opencv"):
        monkeypatch.setattr(_kernels_module, "compiled", COMPILED if form == "compiled" else None)
        refined.clear()
        outputs[form] = (
            decision.binary_page(large_page, radius, factor, threads=threads,
                                 band_pixels=band_pixels),
            decision.binary_page(large_page, radius, per_pixel, threads=threads,
                                 band_pixels=band_pixels),
            decision.binary_page(large_page, radius, factor, threads=threads,
                                 band_pixels=band_pixels, refine=refine),
            sorted(refined, key=lambda item: item[0]))
    for compiled, opencv in zip(outputs["compiled"][:3], outputs["opencv"][:3]):
        np.testing.assert_array_equal(compiled, opencv)
    assert (outputs["compiled"][0] == 0).any() and (outputs["compiled"][0] == 255).any()
    seen = {form: (np.concatenate([m for _, m, _ in outputs[form][3]]),
                   np.concatenate([a for _, _, a in outputs[form][3]]))
            for form in outputs}
    np.testing.assert_array_equal(seen["compiled"][0], seen["opencv"][0])  # L_m given to refine
    np.testing.assert_array_equal(seen["compiled"][1], seen["opencv"][1])  # L_a


# --- the issue: K half the page -----------------------------------------------------------------


@needs_kernels
@pytest.mark.parametrize("threads", [1, 2])
def test_a_page_whose_window_is_half_the_page_is_decided_in_bounded_work(threads, monkeypatch):
    # docbin issue 23: a flat page with one line of text gets K = half the page; every band
    # then re-read the page (its window's halo) for the median and for every sub-band's mean,
    # and OpenCV's box filter held 2K + 1 rows. Now: each band builds its columns' windows
    # once (at most the page's rows) and then reads two rows per row.
    rows, cols = 420, 380
    page = page_of("line", rows, cols, seed=0)
    radius = min(rows, cols) // 2
    monkeypatch.setattr(decision, "SUB_BAND_PIXELS", 8_000)  # many sub-bands
    states = []
    real_rows = decision.LargeWindowRows

    class Counted(real_rows):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            states.append(self)

    windows = []

    def recorded(name):
        real = getattr(cv2, name)

        def call(image, *args, **kwargs):
            ksize = kwargs.get("ksize", args[0] if name == "medianBlur" else args[1])
            windows.append(ksize if np.ndim(ksize) == 0 else max(ksize))
            return real(image, *args, **kwargs)
        return call

    monkeypatch.setattr(decision, "LargeWindowRows", Counted)
    for name in ("boxFilter", "medianBlur"):
        monkeypatch.setattr(decision.cv2, name, recorded(name))
    out = decision.binary_page(page, radius, 0.8, threads=threads)
    assert (out == 0).any()
    assert len(states) == threads  # one state per band, bands of rows / threads
    assert sum(state.rows_read for state in states) <= threads * rows + 2 * rows
    assert all(size <= decision.MAX_OPENCV_MEDIAN_SIZE for size in windows)
    monkeypatch.undo()
    monkeypatch.setattr(_kernels_module, "compiled", None)
    np.testing.assert_array_equal(decision.binary_page(page, radius, 0.8, threads=threads), out)


@needs_kernels
def test_a_band_builds_its_windows_from_at_most_the_page_rows():
    image = page_of("random", 300, 40, seed=1)
    for radius, r0, r1 in [(128, 0, 300), (1000, 120, 180), (128, 150, 151)]:
        state = decision.LargeWindowRows(image, radius)
        state.rows(r0, r1, None, np.empty((r1 - r0, 40), np.float32))
        first = min(image.shape[0], r0 + radius + 1) - max(0, r0 - radius)
        assert state.rows_read <= first + 2 * (r1 - r0 - 1)


# --- the refine step's window sums with K >= 128 -------------------------------------------------


@pytest.mark.parametrize("shape", [(60, 70), (7, 90), (90, 7), (1, 1), (1, 20), (33, 1)])
def test_streamed_window_sums_equal_the_integral_images(shape, kernel_form):
    # compiled (window_sums) and NumPy forms
    from docbin.method.refine import _integrals, _window_sum
    from docbin.method.window_sums import StreamedWindowSums

    rng = np.random.default_rng(sum(shape))
    image = rng.integers(0, 256, shape, dtype=np.uint8)
    radii = (2, 32, 64, 300)
    total, squares = _integrals(image, max(radii))
    sums = StreamedWindowSums(image)
    rows = shape[0]
    # bands in order (with gaps, a band without pixels), then a jump back to the top
    bands = [(0, min(rows, 5)), (min(rows, 5), min(rows, 6)), (min(rows, 9), rows),
             (0, rows)]
    for (r0, r1), with_squares in zip(bands, (False, True, True, True)):
        if r1 <= r0:
            continue
        where = rng.random((r1 - r0, shape[1])) < 0.4
        r, c = np.nonzero(where)
        for radius in radii:
            got, got_squares = sums.sums(r0, r1, r, c, radius, with_squares)
            at = (r + r0, c)
            np.testing.assert_array_equal(got, _window_sum(total, *at, radius, max(radii)))
            if with_squares:
                np.testing.assert_array_equal(got_squares,
                                              _window_sum(squares, *at, radius, max(radii)))
            else:
                assert got_squares is None


@pytest.mark.parametrize("radius", [128, 200])
def test_refinement_with_a_large_window_streams_its_window_sums(large_page, radius,
                                                                 monkeypatch, kernel_form):
    # the features' windows (K/4 and K/2) took integral images of every sub-band and a halo
    # of K/2 rows (padded by K/2 columns): with K half the page, gigabytes per sub-band
    from docbin.method import refine

    network = refine.load_refiner()
    page = refine.PageConstants(60.0, 200.0, radius, 0.8)  # a wide band: many pixels
    monkeypatch.setattr(decision, "SUB_BAND_PIXELS", 6_000)
    halos = []
    real = refine._integrals
    monkeypatch.setattr(refine, "_integrals",
                        lambda image, border: halos.append(border) or real(image, border))

    def decided():
        refiner = refine.RowRefiner(network, page, large_page)
        out = decision.binary_page(large_page, radius, 0.8, threads=2, refine=refiner)
        refiner.finish(out)
        return out, refiner.explain()["refined_pixels"]

    streamed, refined = decided()
    assert refined > 1000 and halos == []  # no integral image of a K/2 halo
    monkeypatch.setattr(refine, "STREAMED_HALO", 10 ** 9)  # the integral images
    integral, refined_again = decided()
    assert halos and min(halos) == radius // 2
    assert refined_again == refined
    np.testing.assert_array_equal(streamed, integral)


@needs_kernels
def test_compiled_window_sums_check_their_pixels():
    image = np.zeros((10, 12), np.uint8)
    state, prefix = np.zeros((2, 12), np.int64), np.empty((2, 13), np.int64)
    out = np.empty(2, np.float64)
    with pytest.raises(ValueError, match="increase"):
        COMPILED.window_sums(image, 130, -1, state, prefix, np.array([5, 4]), np.array([0, 0]),
                             out, None)
    with pytest.raises(ValueError, match="lie on the page"):
        COMPILED.window_sums(image, 130, -1, state, prefix, np.array([5, 5]),
                             np.array([0, 12]), out, None)
    with pytest.raises(ValueError, match="prefix"):
        COMPILED.window_sums(image, 130, -1, state, prefix[0, :5], np.array([5]), np.array([0]),
                             out[:1], None)
