"""Properties of binarize() on arbitrary pages (hypothesis)."""

from __future__ import annotations

import io

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from PIL import Image

import docbin
from docbin.io import read_image

SHAPES = st.tuples(st.integers(1, 48), st.integers(1, 48))
CHECKS = settings(max_examples=40, deadline=None,
                  suppress_health_check=[HealthCheck.too_slow])


def assert_binary_page(result, shape) -> None:
    assert result.image.shape == shape and result.image.dtype == np.uint8
    assert set(np.unique(result.image)) <= {0, 255}


@CHECKS
@given(arrays(np.uint8, SHAPES))
def test_any_gray_page_gives_a_binary_page_of_its_shape(page):
    assert_binary_page(docbin.binarize(page), page.shape)


@CHECKS
@given(arrays(np.uint8, st.tuples(st.integers(1, 40), st.integers(1, 40), st.sampled_from([3, 4]))))
def test_any_colour_page_gives_a_binary_page_of_its_shape(page):
    assert_binary_page(docbin.binarize(page), page.shape[:2])


@CHECKS
@given(arrays(np.uint16, SHAPES))
def test_any_16_bit_file_reads_and_binarizes(page):
    data = io.BytesIO()
    Image.fromarray(page).save(data, format="PNG")
    gray = read_image(data.getvalue()).image
    assert gray.shape == page.shape and gray.dtype == np.uint8
    assert_binary_page(docbin.binarize(gray), page.shape)


@CHECKS
@given(st.integers(0, 2**32 - 1))
def test_a_clean_binary_page_stays_nearly_the_same(seed):
    rng = np.random.default_rng(seed)
    page = np.full((96, 128), 255, np.uint8)
    # black strokes on white paper: 2-4 px thick, horizontal or vertical. (Blobs as thick
    # as half the window are not strokes: the method empties their middle, where the
    # window's median is ink itself, on any page.)
    for _ in range(rng.integers(3, 12)):
        r, c = rng.integers(4, 84), rng.integers(4, 110)
        thick, long = rng.integers(2, 5), rng.integers(4, 16)
        height, width = (thick, long) if rng.random() < 0.5 else (long, thick)
        page[r:r + height, c:c + width] = 0
    once = docbin.binarize(page).image
    twice = docbin.binarize(once).image
    assert np.count_nonzero(once != twice) <= 8
    assert np.count_nonzero(once != page) <= 8
