"""Tests of the synthetic degraded-page generator (docbin.synth)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from docbin import synth

EXAMPLES_DIR = Path(__file__).resolve().parents[1] / "examples"

# The degradations that multiply the page by a gain in [0, 1].
DARKENING = ("paper_texture", "bleed_through", "stains", "uneven_light")


@pytest.fixture(scope="module")
def clean():
    page, gt = synth.clean_page(240, 180, np.random.default_rng(7), paper=220, ink=40,
                                handwriting=0.5)
    return page, gt


def _fm(ink: np.ndarray, gt: np.ndarray) -> float:
    tp = np.count_nonzero(ink & gt)
    fp = np.count_nonzero(ink & ~gt)
    fn = np.count_nonzero(~ink & gt)
    return 100.0 * 2 * tp / (2 * tp + fp + fn)


# ----------------------------------------------------------------------- clean page

def test_clean_page_shapes_and_types(clean):
    page, gt = clean
    assert page.shape == gt.shape == (240, 180)
    assert page.dtype == np.uint8 and gt.dtype == bool
    assert 0.005 < gt.mean() < 0.5


def test_clean_page_is_paper_away_from_ink_and_ink_on_gt(clean):
    page, gt = clean
    near_ink = cv2.dilate(gt.view(np.uint8), np.ones((7, 7), np.uint8)).astype(bool)
    assert np.all(page[~near_ink] == 220)
    # gt is coverage >= 1/2: gray <= 220 - 180/2 on it, and at least that bright off it
    # where the coverage is below 1/2 (rounding: one gray level of slack)
    assert page[gt].max() <= 220 - 90 + 1
    assert page[~gt].min() >= 220 - 90 - 1
    assert page.min() <= 41


def test_clean_page_draws_handwriting_and_print():
    _printed, gt_printed = synth.clean_page(200, 300, 1, handwriting=0.0)
    _written, gt_written = synth.clean_page(200, 300, 1, handwriting=1.0)
    assert gt_printed.any() and gt_written.any()
    assert not np.array_equal(gt_printed, gt_written)


@pytest.mark.parametrize("kwargs", [{"handwriting": 1.5}, {"paper": 50, "ink": 60}])
def test_clean_page_rejects_bad_parameters(kwargs):
    with pytest.raises(ValueError):
        synth.clean_page(100, 100, 0, **kwargs)


def test_clean_page_rejects_tiny_pages():
    with pytest.raises(ValueError, match="16"):
        synth.clean_page(8, 100, 0)


# ----------------------------------------------------------------------- degradations

@pytest.mark.parametrize("name", list(synth.KINDS))
def test_degradation_keeps_shape_and_dtype_and_changes_the_page(clean, name):
    page, _ = clean
    before = page.copy()
    out = synth.KINDS[name](page, np.random.default_rng(1))
    assert out.shape == page.shape and out.dtype == np.uint8
    assert np.array_equal(page, before), "the input page must not be modified"
    assert np.count_nonzero(out != page) > 0.01 * page.size


@pytest.mark.parametrize("name", list(synth.KINDS))
def test_degradation_is_reproducible(clean, name):
    page, _ = clean
    first = synth.KINDS[name](page, np.random.default_rng(5))
    again = synth.KINDS[name](page, 5)  # an int seed is the same stream
    other = synth.KINDS[name](page, np.random.default_rng(6))
    assert np.array_equal(first, again)
    assert not np.array_equal(first, other)


@pytest.mark.parametrize("name", DARKENING)
def test_gain_degradations_never_brighten(clean, name):
    page, _ = clean
    out = synth.KINDS[name](page, 3)
    assert np.all(out <= page)


@pytest.mark.parametrize("name", list(synth.KINDS))
def test_degradation_rejects_non_gray_pages(name):
    with pytest.raises(ValueError, match="2-D uint8"):
        synth.KINDS[name](np.zeros((20, 20, 3), np.uint8), 0)
    with pytest.raises(ValueError, match="uint8"):
        synth.KINDS[name](np.zeros((20, 20), np.float32), 0)


@settings(max_examples=25, deadline=None)
@given(rows=st.integers(1, 70), cols=st.integers(1, 70), level=st.integers(0, 255),
       seed=st.integers(0, 2**31 - 1))
def test_degradations_work_on_any_page_size(rows, cols, level, seed):
    page = np.full((rows, cols), level, np.uint8)
    page[rows // 3: rows // 2 + 1, :] = level // 4  # a dark band
    for degrade in synth.KINDS.values():
        out = degrade(page, seed)
        assert out.shape == page.shape and out.dtype == np.uint8


def test_noise_in_strips_equals_whole_page_reference(monkeypatch):
    page = np.random.default_rng(0).integers(0, 256, (53, 41), dtype=np.uint8)
    monkeypatch.setattr(synth, "_STRIP_PIXELS", 41 * 7)  # 8 strips, the last one short
    out = synth.noise(page, np.random.default_rng(9), sigma=4.0, speckle=0.03)
    # reference: I + n·sqrt(σ² + (s·I)²) with one whole-page draw of the same stream
    n = np.random.default_rng(9).standard_normal(page.shape, dtype=np.float32)
    values = page.astype(np.float64)
    expected = values + n * np.sqrt(4.0 ** 2 + (0.03 * values) ** 2)
    expected = np.clip(np.rint(expected), 0, 255)
    assert np.abs(out.astype(np.int16) - expected.astype(np.int16)).max() <= 1
    assert np.mean(out == expected) > 0.99


def test_noise_has_the_requested_spread():
    page = np.full((300, 300), 128, np.uint8)
    out = synth.noise(page, 0, sigma=5.0, speckle=0.0).astype(np.float64)
    assert abs(out.mean() - 128) < 0.2
    assert abs(out.std() - 5.0) < 0.2  # rounding adds 1/12 to the variance


def test_uneven_light_spans_the_requested_strength():
    page = np.full((120, 90), 200, np.uint8)
    out = synth.uneven_light(page, 4, strength=0.3)
    assert out.max() >= 199
    assert abs(int(out.min()) - 140) <= 2  # 200 · (1 − 0.3)


def test_stains_count_zero_is_identity_and_depth_darkens(clean):
    page, _ = clean
    assert np.array_equal(synth.stains(page, 0, count=0), page)
    out = synth.stains(page, 0, count=2, depth=0.4)
    assert out.min() < page.min() or np.count_nonzero(out < page) > 0.02 * page.size


def test_bleed_through_mirrors_the_verso():
    page = np.full((100, 100), 220, np.uint8)
    verso = np.full((100, 100), 230, np.uint8)
    verso[20:80, 5:30] = 30  # ink on the verso's left
    out = synth.bleed_through(page, 0, strength=0.3, sigma=2.0, verso=verso).astype(int)
    left, right = out[30:70, 8:27], out[30:70, 73:92]
    assert right.mean() < 220 - 25 and left.mean() > 220 - 3


def test_faint_ink_lifts_ink_and_keeps_paper(clean):
    page, gt = clean
    out = synth.faint_ink(page, 2, strength=0.7)
    assert out[gt].mean() > page[gt].mean() + 20
    far = ~cv2.dilate(gt.view(np.uint8), np.ones((15, 15), np.uint8)).astype(bool)
    assert np.abs(out[far].astype(int) - page[far]).max() <= 1
    assert np.all(out >= page)


def test_blur_keeps_the_mean_and_lowers_the_variance(clean):
    page, _ = clean
    out = synth.blur(page, 0, sigma=1.5)
    assert abs(out.mean() - page.mean()) < 0.5
    assert out.std() < page.std()
    assert np.array_equal(synth.blur(page, 0, sigma=0), page)


# ----------------------------------------------------------------------- degraded pages

def test_degraded_page_is_reproducible_and_seeded():
    a_page, a_gt = synth.degraded_page(160, 120, seed=3)
    b_page, b_gt = synth.degraded_page(160, 120, seed=3)
    c_page, _ = synth.degraded_page(160, 120, seed=4)
    assert np.array_equal(a_page, b_page) and np.array_equal(a_gt, b_gt)
    assert not np.array_equal(a_page, c_page)
    assert a_page.shape == a_gt.shape == (160, 120)
    assert a_page.dtype == np.uint8 and a_gt.dtype == bool


def test_degraded_page_text_does_not_depend_on_the_kinds():
    _, gt_all = synth.degraded_page(160, 120, seed=3)
    _, gt_one = synth.degraded_page(160, 120, seed=3, kinds="noise")
    clean_page, gt_none = synth.degraded_page(160, 120, seed=3, kinds=())
    assert np.array_equal(gt_all, gt_one) and np.array_equal(gt_all, gt_none)
    # with no kinds the page is the clean page of stream [seed, 0]
    expected, _ = synth.clean_page(160, 120, np.random.default_rng([3, 0]))
    assert np.array_equal(clean_page, expected)


def test_degraded_page_applies_kinds_in_canonical_order():
    forward, _ = synth.degraded_page(120, 100, seed=1, kinds=("stains", "noise"))
    backward, _ = synth.degraded_page(120, 100, seed=1, kinds=("noise", "stains"))
    assert np.array_equal(forward, backward)


@pytest.mark.parametrize("kinds", [tuple(synth.KINDS)] + [(k,) for k in synth.KINDS])
def test_ground_truth_is_darker_than_background(kinds):
    page, gt = synth.degraded_page(200, 160, seed=2, kinds=kinds)
    assert page[gt].mean() < page[~gt].mean() - 40


def test_degraded_page_rejects_unknown_kinds():
    with pytest.raises(ValueError, match="unknown degradation 'smudge'.*stains"):
        synth.degraded_page(100, 100, 0, kinds=("stains", "smudge"))


# ----------------------------------------------------------------------- examples

def test_example_pages_are_named_gray_pages():
    pages = list(synth.example_pages(120, 90))
    assert [name for name, _, _ in pages] == list(synth.EXAMPLES)
    for _, page, gt in pages:
        assert page.shape == gt.shape == (120, 90) and page.dtype == np.uint8


@pytest.mark.parametrize("name", list(synth.EXAMPLES))
def test_bundled_example_is_an_8bit_gray_png_that_binarizes_well(name):
    from docbin import binarize

    path = EXAMPLES_DIR / f"{name}.png"
    gt_path = EXAMPLES_DIR / "gt" / f"{name}.png"
    assert path.stat().st_size < 1_000_000
    page = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    gt = cv2.imread(str(gt_path), cv2.IMREAD_UNCHANGED)
    assert page.dtype == np.uint8 and page.shape == synth.EXAMPLE_SIZE
    assert gt.shape == page.shape and set(np.unique(gt)) <= {0, 255}
    assert _fm(binarize(page).image == 0, gt == 0) > 80
