"""Thresholding baselines: integral-image statistics against slow references."""

from __future__ import annotations

import numpy as np
import pytest

from docbin.evaluation import baselines


def window_reference(image: np.ndarray, window: int, function) -> np.ndarray:
    """``function`` of each pixel's window, cut to the page, pixel by pixel."""
    half = window // 2
    out = np.empty(image.shape)
    for r in range(image.shape[0]):
        for c in range(image.shape[1]):
            block = image[max(r - half, 0):r - half + window, max(c - half, 0):c - half + window]
            out[r, c] = function(block.astype(np.float64))
    return out


@pytest.mark.parametrize("window", [1, 3, 4, 5, 15, 40])
def test_local_mean_std_matches_reference(window):
    rng = np.random.default_rng(window)
    image = rng.integers(0, 256, (23, 31), dtype=np.uint8)
    mean, std = baselines.local_mean_std(image, window)
    np.testing.assert_allclose(mean, window_reference(image, window, np.mean), atol=1e-9)
    np.testing.assert_allclose(std, window_reference(image, window, np.std), atol=1e-6)


def test_local_mean_std_rejects_bad_window():
    with pytest.raises(ValueError, match="window must be a positive integer, got 0"):
        baselines.local_mean_std(np.zeros((4, 4), np.uint8), 0)


def test_otsu_maximises_between_class_variance():
    rng = np.random.default_rng(0)
    image = np.clip(np.concatenate([rng.normal(60, 15, 300), rng.normal(190, 20, 700)]),
                    0, 255).astype(np.uint8).reshape(20, 50)
    values = image.ravel().astype(np.float64)

    def between(t):
        low, high = values[values <= t], values[values > t]
        if low.size == 0 or high.size == 0:
            return -1.0
        return low.size * high.size * (low.mean() - high.mean()) ** 2

    best = max(range(256), key=between)
    result = baselines.otsu(image)
    np.testing.assert_array_equal(result == 0, image <= best)


def test_local_rules_by_formula():
    rng = np.random.default_rng(2)
    image = rng.integers(0, 256, (30, 40), dtype=np.uint8)
    gray = image.astype(np.float64)
    mean15, std15 = baselines.local_mean_std(image, 15)
    np.testing.assert_array_equal(baselines.niblack(image) == 0, gray < mean15 - 0.2 * std15)
    np.testing.assert_array_equal(baselines.sauvola(image) == 0,
                                  gray < mean15 * (1 + 0.5 * (std15 / 128 - 1)))
    mean40, std40 = baselines.local_mean_std(image, 40)
    low = gray.min()
    threshold = 0.5 * mean40 + 0.5 * low + 0.5 * std40 / std40.max() * (mean40 - low)
    np.testing.assert_array_equal(baselines.wolf(image) == 0, gray < threshold)


@pytest.mark.parametrize("name", baselines.BASELINES)
def test_baselines_find_dark_text(name, make_page):
    page = make_page()
    result = baselines.get_baseline(name)(page)
    assert result.dtype == np.uint8 and result.shape == page.shape
    assert set(np.unique(result)) <= {0, 255}
    dark = page < 100
    assert (result[dark] == 0).mean() > 0.9  # the strokes are found


@pytest.mark.parametrize("name", baselines.BASELINES)
def test_flat_page_has_no_text(name):
    # On a flat page T = I for Niblack (s = 0) and Wolf (m = M): the strict I < T keeps it
    # background.
    flat = np.full((20, 30), 200, np.uint8)
    assert (baselines.get_baseline(name)(flat) == 255).all()


def test_unknown_baseline():
    with pytest.raises(ValueError, match="unknown baseline 'bernsen'; choose from otsu"):
        baselines.get_baseline("bernsen")


def test_colour_input_is_converted():
    rgb = np.zeros((10, 12, 3), np.uint8)
    rgb[..., 0] = 250
    rgb[2:5, 3:8] = 10
    result = baselines.otsu(rgb)
    assert (result[2:5, 3:8] == 0).all() and (result[0] == 255).all()
