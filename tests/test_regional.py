"""Regional statistics and the per-pixel f map (docbin.method.regional)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import reference
from conftest import synthetic_page

from docbin.method import decision as threshold
from docbin.method import regional, stats
from docbin.method.edges import strong_edges
from docbin.method.surface import logistic_surface
from docbin.pipeline import binarize


def two_sided_page(rows: int = 256, cols: int = 1024) -> np.ndarray:
    """Text over the whole width: left half black ink on darker paper, right half faded
    ink on light paper (contrast 140 vs 110, both strong enough for strong edges)."""
    rng = np.random.default_rng(3)
    mask = np.zeros((rows, cols), np.uint8)
    for top in range(30, rows - 8, 32):
        for left in range(4, cols - 100, 110):
            cv2.putText(mask, "docbin", (left, top), cv2.FONT_HERSHEY_SIMPLEX, 0.8, 255, 2,
                        cv2.LINE_AA)
    ink = mask / 255.0
    right = np.arange(cols)[None, :] >= cols // 2
    background = np.where(right, 220.0, 160.0)
    ink_level = np.where(right, 110.0, 20.0)
    page = background * (1 - ink) + ink_level * ink + rng.normal(0, 3, (rows, cols))
    return np.clip(np.rint(page), 0, 255).astype(np.uint8)


# --- slow, obvious references ---------------------------------------------------------------


def reference_tiles(shape, tile_size):
    """Tile (i, j) → (row range, col range), straight from the definition."""
    s = tile_size // 2
    n_rows, n_cols = -(-shape[0] // s), -(-shape[1] // s)
    out = {}
    for i in range(n_rows):
        for j in range(n_cols):
            r0, c0 = s * i - s // 2, s * j - s // 2
            out[i, j] = (max(r0, 0), min(r0 + tile_size, shape[0]),
                         max(c0, 0), min(c0 + tile_size, shape[1]))
    return out, (n_rows, n_cols)


def reference_ink_samples(image, edges, gamma=0.5):
    """List of (row of p, col of p, I(q)) by explicit loops."""
    rows, cols = image.shape
    out = []
    for r, c in zip(*np.nonzero(edges)):
        for dr in (-1, 0, 1):
            for dc in (-1, 0, 1):
                if (dr, dc) == (0, 0) or not (0 <= r + dr < rows and 0 <= c + dc < cols):
                    continue
                q = int(image[r + dr, c + dc])
                d = float(image[r, c]) - q
                if q <= d * abs(d) ** gamma:
                    out.append((r, c, q))
    return out


@pytest.fixture
def small_case():
    rng = np.random.default_rng(7)
    image = rng.integers(0, 256, (41, 53), dtype=np.uint8)
    edges = rng.random((41, 53)) < 0.15
    edges[:, 30:] &= rng.random((41, 23)) < 0.2  # sparser on the right: some empty tiles
    return image, edges


# --- tiles and medians ----------------------------------------------------------------------


@pytest.mark.parametrize("tile_size, shape", [(16, (41, 53)), (8, (9, 30)), (256, (300, 401))])
def test_tile_medians_match_sorted_lists(tile_size, shape):
    rng = np.random.default_rng(tile_size)
    image = rng.integers(0, 256, shape, dtype=np.uint8)
    edges = rng.random(shape) < 0.15
    edges[:, shape[1] // 2:] &= rng.random((shape[0], shape[1] - shape[1] // 2)) < 0.2
    edges[: shape[0] // 3, : shape[1] // 3] = False  # some tiles without samples
    tiles, grid = reference_tiles(image.shape, tile_size)
    er, ec = np.nonzero(edges)
    hist = reference.tile_histograms(er, ec, image[er, ec], grid, tile_size)
    median, n = stats.histogram_medians(hist)
    assert median.shape == n.shape == grid
    empty = 0
    for (i, j), (r0, r1, c0, c1) in tiles.items():
        values = np.sort(image[r0:r1, c0:c1][edges[r0:r1, c0:c1]])
        assert n[i, j] == values.size
        if values.size:
            assert median[i, j] == values[(values.size - 1) // 2]  # the lower median
        else:
            empty += 1
            assert np.isnan(median[i, j])
    # the pixels of a tile are counted once, whichever of the 4 grids holds it
    assert hist.sum() == sum(edges[r0:r1, c0:c1].sum() for r0, r1, c0, c1 in tiles.values())


def test_ink_samples_match_reference(small_case):
    image, edges = small_case
    samples = reference.edge_samples(image, edges)
    got = sorted(zip(samples.edge_rows[samples.ink_edge_index].tolist(),
                     samples.edge_cols[samples.ink_edge_index].tolist(),
                     samples.ink_values.tolist()))
    assert got == sorted(reference_ink_samples(image, edges))
    np.testing.assert_array_equal(np.bincount(samples.ink_values, minlength=256),
                                  reference.ink_samples_histogram(image, edges))


def test_fields_are_blended_tile_medians(small_case):
    image, edges = small_case
    tile_size = 16
    samples = reference.edge_samples(image, edges)
    page = reference.page_stats_from_samples(image, edges, 0, samples)
    fields = reference.regional_fields(samples, page, image.shape, tile_size)
    tiles, _ = reference_tiles(image.shape, tile_size)
    ink = reference_ink_samples(image, edges)

    def blended(values, n0, page_value):
        n = len(values)
        lower = float(sorted(values)[(n - 1) // 2]) if n else None
        return page_value if n == 0 else (n * lower + n0 * page_value) / (n + n0)

    for (i, j), (r0, r1, c0, c1) in tiles.items():
        b_values = image[r0:r1, c0:c1][edges[r0:r1, c0:c1]]
        t_values = [q for r, c, q in ink if r0 <= r < r1 and c0 <= c < c1]
        assert fields.contour_intensity[i, j] == pytest.approx(
            blended(b_values, tile_size, page.contour_intensity))
        assert fields.ink_intensity[i, j] == pytest.approx(
            max(blended(t_values, 3 * tile_size, page.ink_intensity), 1.0))


def test_shrink_to_page_weights():
    tile = np.array([100.0, 100.0, 100.0, 100.0, np.nan])
    n = np.array([0, 10, 256, 10 ** 7, 0])
    got = stats.shrink_to_page(tile, n, 200.0, 256)
    assert got[0] == 200.0 and got[4] == 200.0  # no samples: the page value
    assert got[2] == pytest.approx(150.0)  # n = n0: half way
    assert got[3] == pytest.approx(100.0, abs=1e-2)  # many samples: the tile's own
    assert 200.0 > got[1] > got[2]  # a few samples: mostly the page
    # continuous in n: one sample moves the value by a small step only
    assert stats.shrink_to_page(np.array([0.0]), np.array([1]), 200.0, 256)[0] == \
        pytest.approx(200.0 * 256 / 257)


def test_tiles_without_edges_take_the_page_values():
    page_image = synthetic_page(80, 120)
    image = np.full((80, 600), 200, np.uint8)
    image[:, :120] = page_image  # text on the left, blank paper on the right
    fields = regional.regional_stats(image)
    assert fields.contour_samples[:, -1].sum() == 0
    assert np.all(fields.contour_intensity[:, -1] == fields.page.contour_intensity)
    assert np.all(fields.ink_intensity[:, -1] == fields.page.ink_intensity)


# --- page statistics from the same samples ---------------------------------------------------


@pytest.mark.parametrize("seed", [0, 1])
def test_page_values_equal_page_stats(seed):
    image = synthetic_page(150, 210, seed)
    assert regional.regional_stats(image).page == stats.page_stats(image)


def test_page_values_equal_page_stats_on_a_blank_page():
    image = np.full((60, 70), 180, np.uint8)
    assert regional.regional_stats(image).page == stats.page_stats(image)


# --- fields on a page with two halves ---------------------------------------------------------


def test_two_halves_give_two_sets_of_values():
    image = two_sided_page()
    fields = regional.regional_stats(image)
    assert fields.b.shape == (2, 8)
    left, right = slice(0, 3), slice(5, 8)  # tiles entirely inside one half
    t_left, t_right = fields.ink_intensity[:, left], fields.ink_intensity[:, right]
    b_left, b_right = fields.contour_intensity[:, left], fields.contour_intensity[:, right]
    assert t_left.max() + 40 < t_right.min()  # ink 20 vs 110
    assert abs(b_left.mean() - b_right.mean()) > 10
    f = regional.factor_field(fields)
    assert not np.allclose(f[:, left].mean(), f[:, right].mean(), atol=0.02)


# --- the f map --------------------------------------------------------------------------------


def test_single_tile_map_equals_page_factor():
    image = synthetic_page(100, 120)
    fields = regional.regional_stats(image)
    assert fields.b.shape == (1, 1)
    page_f = logistic_surface(fields.page.b, fields.page.t)
    fmap = regional.factor_map(fields)
    assert fmap.shape == image.shape
    # bilinear weights in float32: a constant map can be one ulp off the constant
    np.testing.assert_allclose(fmap, np.float32(page_f), rtol=2e-7, atol=0)
    region = binarize(image, "classical", scope="region")
    np.testing.assert_array_equal(region.image, binarize(image, "classical").image)


def test_single_tile_of_a_larger_size():
    image = synthetic_page(200, 250)
    fields = regional.regional_stats(image, tile_size=512)
    assert fields.b.shape == (1, 1)
    page_f = logistic_surface(fields.page.b, fields.page.t)
    assert np.all(regional.factor_map(fields) == np.float32(page_f))


@pytest.mark.parametrize("shape", [(1, 1), (128, 128), (129, 257), (300, 401), (700, 90)])
def test_factor_map_shape(shape):
    grid = regional.tile_grid_shape(shape)
    values = np.random.default_rng(0).random(grid)
    fmap = regional.upsample_tiles(values, shape)
    assert fmap.shape == shape and fmap.dtype == np.float32
    assert fmap.min() >= values.min() - 1e-6 and fmap.max() <= values.max() + 1e-6


def test_factor_map_puts_each_value_at_its_tile_centre():
    s = 128
    shape = (700, 900)
    grid = regional.tile_grid_shape(shape)
    values = np.random.default_rng(1).random(grid)
    fmap = regional.upsample_tiles(values, shape)
    for i in range(grid[0]):
        for j in range(grid[1]):
            r0, r1 = regional.tile_bounds(i, shape[0])
            assert r0 == max(s * i - s // 2, 0) and r1 == min(s * i + 3 * s // 2, shape[0])
            # pixels s·i + 63 and s·i + 64 straddle the centre s·i + 63.5
            r, c = s * i + s // 2, s * j + s // 2
            if r < shape[0] and c < shape[1]:
                centre = fmap[r - 1:r + 1, c - 1:c + 1].mean()
                assert centre == pytest.approx(values[i, j], abs=1e-2)
    # half way between two centres along a row: the mean of the two values
    r, c = 64, 128  # row of centre 0 (63.5); col 127.5, half way between 63.5 and 191.5
    expected = 0.5 * (values[0, 0] + values[0, 1])
    assert fmap[r - 1:r + 1, c - 1:c + 1].mean() == pytest.approx(expected, abs=1e-2)
    # beyond the outermost centres: the border value
    assert fmap[0, 0] == pytest.approx(values[0, 0], abs=1e-6)


def test_upsample_rejects_a_wrong_grid():
    with pytest.raises(ValueError, match="tiles"):
        regional.upsample_tiles(np.zeros((2, 2)), (500, 500))


def test_factor_field_is_the_logistic_surface_per_tile():
    image = two_sided_page()
    fields = regional.regional_stats(image)
    np.testing.assert_array_equal(regional.factor_field(fields),
                                  logistic_surface(fields.b, fields.t))


def test_region_scope_decision_uses_the_map():
    image = two_sided_page()
    result = binarize(image, "classical", scope="region")
    info = result.info["regional"]
    assert np.array(info["f"]).shape == np.array(info["b"]).shape == (2, 8)
    assert info["tile_size"] == 256 and info["stride"] == 128
    fields = regional.regional_stats(image)
    local = threshold.local_stats(image, fields.page.window_radius)
    expected = threshold.ink_mask(local, regional.factor_map(fields))
    np.testing.assert_array_equal(result.ink, expected)
    assert result.info["f"] == pytest.approx(logistic_surface(fields.page.b, fields.page.t))


# --- the hybrid per region ---------------------------------------------------------------

def test_tile_rows_equal_the_upsampled_map():
    # against one bilinear resize of the whole tile grid by the stride, cropped to the page
    from docbin.method.regional import (
        TILE_SIZE,
        tile_grid_shape,
        upsample_tile_rows,
        upsample_tiles,
    )

    rng = np.random.default_rng(5)
    stride = TILE_SIZE // 2
    for _ in range(60):
        shape = (int(rng.integers(1, 2200)), int(rng.integers(1, 900)))
        values = rng.random(tile_grid_shape(shape)).astype(np.float32)
        full = cv2.resize(values, (values.shape[1] * stride, values.shape[0] * stride),
                          interpolation=cv2.INTER_LINEAR)[:shape[0], :shape[1]]
        np.testing.assert_array_equal(upsample_tiles(values, shape), full)
        r0 = int(rng.integers(0, shape[0]))
        r1 = int(rng.integers(r0 + 1, shape[0] + 1))
        np.testing.assert_array_equal(upsample_tile_rows(values, shape, r0, r1), full[r0:r1])
    with pytest.raises(ValueError):
        upsample_tile_rows(values, shape, 0, shape[0] + 1)


@pytest.mark.parametrize("seed,tile_size", [(1, 256), (2, 128), (3, 512)])
def test_fields_from_the_statistics_pass_equal_the_sample_reference(seed, tile_size,
                                                                    monkeypatch, kernel_form):
    # the banded, threaded block histograms of measure_page_blocks against edge_samples
    from docbin.method import bands, stats
    from docbin.synth import degraded_page

    monkeypatch.setattr(bands, "BAND_PIXELS", 20_000)  # many bands, block rows split
    image = degraded_page(700 + 37 * seed, 900 - 53 * seed, seed=seed)[0]
    fast = regional.regional_stats(image, tile_size=tile_size)
    edges, threshold_ = strong_edges(image)
    slow = reference.regional_stats_from_edges(image, edges, threshold_, tile_size=tile_size)
    assert fast.page == slow.page == stats.page_stats(image)
    for name in ("ink_intensity", "contour_intensity", "ink_samples", "contour_samples"):
        np.testing.assert_array_equal(getattr(fast, name), getattr(slow, name), name)
    assert fast.contour_samples.sum() > 0 and fast.ink_samples.sum() > 0
