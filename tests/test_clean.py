"""The clean step (docbin/method/clean.py): features, whole-component drops, the model."""

from __future__ import annotations

import itertools
import json
import math

import cv2
import numpy as np
import pytest

from docbin import binarize, synth
from docbin.errors import ModelError
from docbin.method import clean
from docbin.method.stats import page_stats


def _weighted_median(values, weights):
    pairs = sorted(zip(values, weights), key=lambda p: p[0])
    total = sum(weights)
    running = 0.0
    for value, weight in pairs:
        running += weight
        if running >= 0.5 * total:
            return value
    return pairs[-1][0]


def reference_features(gray, binary, ink_intensity, contour_intensity):
    """The features of docbin.method.clean, one component at a time, pixel loops."""
    rows, cols = gray.shape
    ink = binary == 0
    count, labels = cv2.connectedComponents(ink.astype(np.uint8), connectivity=8,
                                            ltype=cv2.CV_32S)
    count -= 1
    c = max(contour_intensity - ink_intensity, 8.0)
    midpoint = 0.5 * (ink_intensity + contour_intensity)
    gx = cv2.Sobel(gray, cv2.CV_64F, 1, 0, ksize=3, borderType=cv2.BORDER_REPLICATE)
    gy = cv2.Sobel(gray, cv2.CV_64F, 0, 1, ksize=3, borderType=cv2.BORDER_REPLICATE)
    grad = np.abs(gx) + np.abs(gy)
    owner = np.zeros((rows, cols), np.int64)  # highest label in the 5 × 5 square
    for r in range(rows):
        for q in range(cols):
            owner[r, q] = labels[max(0, r - 2):r + 3, max(0, q - 2):q + 3].max()
    records = []
    for i in range(1, count + 1):
        ys, xs = np.nonzero(labels == i)
        area = len(ys)
        top, left = ys.min(), xs.min()
        height, width = ys.max() - top + 1, xs.max() - left + 1
        values = gray[ys, xs].astype(np.float64)
        border = []
        for y, x in zip(ys, xs):
            if any(0 <= y + dy < rows and 0 <= x + dx < cols and not ink[y + dy, x + dx]
                   for dy, dx in ((-1, 0), (1, 0), (0, -1), (0, 1))):
                border.append((y, x))
        ring = [(y, x) for y in range(rows) for x in range(cols)
                if not ink[y, x] and owner[y, x] == i]
        var_x, var_y = xs.var(), ys.var()
        slant = (-np.mean((xs - xs.mean()) * (ys - ys.mean())) / math.sqrt(var_x * var_y)
                 if var_x > 0 and var_y > 0 else 0.0)
        records.append({"area": area, "top": top, "left": left, "height": height,
                        "slant": slant,
                        "width": width, "mean": values.mean(), "std": values.std(),
                        "dark": np.mean(values < midpoint),
                        "stroke": 2.0 * area / max(len(border), 1),
                        "edge": np.mean([grad[p] for p in border]) if border else 0.0,
                        "ring_mean": np.mean([gray[p] for p in ring]) if ring else values.mean(),
                        "ring_edge": np.mean([grad[p] for p in ring]) if ring else 0.0})
    areas = [r["area"] for r in records]
    a_typ = _weighted_median(areas, areas)
    h_typ = _weighted_median([r["height"] for r in records], areas)
    s_typ = _weighted_median([r["stroke"] for r in records], areas)
    m_typ = _weighted_median([r["mean"] for r in records], areas)
    k_typ = _weighted_median([r["ring_mean"] - r["mean"] for r in records], areas)
    g_typ = _weighted_median([r["edge"] for r in records], areas)
    r_typ = _weighted_median([r["slant"] for r in records], areas)
    beta = clean.block_size(rows, cols, h_typ)
    grow = round(h_typ)
    nr, nc = -(-rows // beta), -(-cols // beta)
    out = []
    for r in records:
        bt = min(max((r["top"] - grow) // beta, 0), nr)
        bl = min(max((r["left"] - grow) // beta, 0), nc)
        bb = min(max(-(-(r["top"] + r["height"] + grow) // beta), 0), nr)
        br = min(max(-(-(r["left"] + r["width"] + grow) // beta), 0), nc)
        box = ink[bt * beta:bb * beta, bl * beta:br * beta]
        a = r["area"]
        out.append([math.log1p(a), math.log(a / a_typ), math.log(r["height"] / h_typ),
                    math.log(r["width"] / h_typ), a / (r["width"] * r["height"]),
                    math.log(r["stroke"] / s_typ), (r["mean"] - ink_intensity) / c,
                    (r["ring_mean"] - r["mean"]) / c, r["dark"], r["std"] / c,
                    r["edge"] / (4 * c), r["ring_edge"] / (4 * c),
                    min(r["edge"] / (4 * max(r["ring_mean"] - r["mean"], 2.0)), 4.0),
                    max(box.sum() - a, 0) / max(box.size - a, 1),
                    (r["mean"] - m_typ) / c,
                    math.log(max(r["ring_mean"] - r["mean"], 1.0) / max(k_typ, 1.0)),
                    math.log(max(r["edge"], 1.0) / max(g_typ, 1.0)),
                    r["slant"], r["slant"] * r_typ])
    return labels, np.array(out)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_vectorised_features_match_a_loop_over_components(make_page, seed, kernel_form):
    gray = make_page(70, 110, seed)
    rng = np.random.default_rng(seed)
    for _ in range(6):  # specks and a blot, some touching the border
        y, x = int(rng.integers(0, 70)), int(rng.integers(0, 110))
        cv2.circle(gray, (x, y), int(rng.integers(0, 4)), int(rng.integers(60, 150)), -1)
    binary = binarize(gray).image
    page = page_stats(gray)
    labels, expected = reference_features(gray, binary, page.ink_intensity,
                                          page.contour_intensity)
    for band in (None, 110 * 9):  # whole page, and bands of 9 rows
        got = clean.component_features(gray, binary, page.ink_intensity,
                                       page.contour_intensity, band_pixels=band)
        assert got.count == len(expected) > 5
        assert np.array_equal(got.labels, labels)
        np.testing.assert_allclose(got.features, expected, rtol=1e-5, atol=1e-5)


def test_slant_of_strokes_and_of_their_mirror_image(kernel_form):
    """A stroke leaning right has slant near +1, one leaning left near −1, upright ones 0;
    mirroring the page negates every slant and keeps every agreement."""
    gray = np.full((60, 90), 230, np.uint8)
    cv2.line(gray, (5, 40), (20, 10), 40, 2)     # leaning right: /
    cv2.line(gray, (30, 10), (45, 40), 40, 2)    # leaning left: \
    cv2.line(gray, (60, 10), (60, 40), 40, 2)    # upright: |
    cv2.line(gray, (70, 25), (85, 25), 40, 1)    # one row: -
    cv2.line(gray, (10, 50), (40, 55), 40, 3)    # a wide, nearly flat blot
    binary = np.where(gray < 128, 0, 255).astype(np.uint8)
    slant = clean.FEATURES.index("slant")
    agree = clean.FEATURES.index("slant_agreement")
    got = clean.component_features(gray, binary, 40.0, 230.0).features
    assert got.shape[0] == 5
    by_left = got[np.argsort(cv2.connectedComponentsWithStats(
        (binary == 0).astype(np.uint8), connectivity=8)[2][1:, 0])]
    assert by_left[0, slant] > 0.9   # / at x 5
    assert by_left[1, slant] < 0.0   # the flat blot at x 10 descends to the right
    assert by_left[2, slant] < -0.9  # \ at x 30
    assert abs(by_left[3, slant]) < 1e-6 and by_left[4, slant] == 0.0
    mirrored = clean.component_features(gray[:, ::-1].copy(), binary[:, ::-1].copy(),
                                        40.0, 230.0).features
    np.testing.assert_allclose(np.sort(mirrored[:, slant]), np.sort(-got[:, slant]),
                               atol=1e-6)
    np.testing.assert_allclose(np.sort(mirrored[:, agree]), np.sort(got[:, agree]),
                               atol=1e-6)


# --- the compiled pass (docbin._kernels) against the NumPy/OpenCV form ----------------------

def _compiled_or_skip():
    from docbin.method import kernels

    if kernels.compiled is None:
        pytest.skip("docbin._kernels is not built here")
    return kernels


def _both_forms(monkeypatch, run):
    """``run()`` with the compiled kernels, then in the NumPy/OpenCV form."""
    kernels = _compiled_or_skip()
    compiled = run()
    with monkeypatch.context() as patch:
        patch.setattr(kernels, "compiled", None)
        numpy_form = run()
    return compiled, numpy_form


def _odd_pages():
    """(name, gray, binary): shapes and inks the bands and borders must get right."""
    rng = np.random.default_rng(7)
    pages = []
    for name, shape, share in (("one row", (1, 97), 0.4), ("one column", (83, 1), 0.4),
                               ("one pixel", (1, 1), 1.0), ("two by two", (2, 2), 0.5),
                               ("all ink", (23, 31), 1.0), ("no ink", (19, 27), 0.0),
                               ("dense specks", (61, 45), 0.35), ("thin", (3, 200), 0.5)):
        gray = rng.integers(0, 256, shape).astype(np.uint8)
        binary = np.where(rng.random(shape) < share, 0, 255).astype(np.uint8)
        pages.append((name, gray, binary))
    gray = rng.integers(0, 256, (40, 50)).astype(np.uint8)
    frame = np.full((40, 50), 255, np.uint8)  # components on every border and corner
    frame[0, :7] = frame[:5, -1] = frame[-1, 20:30] = frame[-3:, 0] = frame[-1, -1] = 0
    frame[10:12, 1] = frame[2, 25] = 0
    pages.append(("border", gray, frame))
    return pages


def _generated_pages():
    pages = []
    for seed, kinds in ((0, ("paper_texture", "bleed_through", "stains", "noise")),
                        (1, ("faint_ink", "uneven_light", "blur", "noise")),
                        (2, ("bleed_through", "stains"))):
        gray, _ = synth.degraded_page(230, 170, seed, kinds)
        pages.append((f"synth {seed}", gray, binarize(gray).image))
    return pages


def _assert_same_components(got, expected):
    assert got.count == expected.count
    assert np.array_equal(got.labels, expected.labels)
    assert np.array_equal(got.area, expected.area)
    assert np.array_equal(got.boxes, expected.boxes)
    assert got.features.dtype == expected.features.dtype
    assert np.array_equal(got.features, expected.features, equal_nan=True)


@pytest.mark.parametrize("name, gray, binary", _generated_pages() + _odd_pages(),
                         ids=lambda value: value if isinstance(value, str) else "")
def test_compiled_features_equal_the_numpy_form(monkeypatch, name, gray, binary):
    for threads in (1, 2, 3):
        got, expected = _both_forms(monkeypatch, lambda threads=threads: clean.component_features(
            gray, binary, 70.0, 185.5, band_pixels=gray.shape[1] * 8, threads=threads))
        _assert_same_components(got, expected)
    assert got.labels.dtype == np.uint16 and expected.labels.dtype == np.int32
    if got.count:  # the per-label sums themselves, not only the features made of them
        midpoint = 0.5 * (70.0 + 185.5)
        sums, boxes = clean._compiled_sums(gray, got.runs, midpoint, 2)
        reference = clean._component_sums(gray, binary, got.labels, got.count + 1, midpoint,
                                          gray.shape[1] * 5)
        for key in clean.SUMS:
            assert np.array_equal(sums[key], reference[key]), key
        assert np.array_equal(boxes[4], got.area)


def test_compiled_features_with_more_than_65535_labels(monkeypatch):
    rows, cols = 520, 540  # isolated ink pixels on every other row and column: 70 200 labels
    rng = np.random.default_rng(3)
    gray = rng.integers(0, 256, (rows, cols)).astype(np.uint8)
    binary = np.full((rows, cols), 255, np.uint8)
    binary[::2, ::2] = 0
    binary[100:103, 100:140] = 0  # and a few larger components
    got, expected = _both_forms(monkeypatch, lambda: clean.component_features(
        gray, binary, 60.0, 190.0))
    assert got.count > 65535 and got.labels.dtype == np.int32  # too many for uint16
    _assert_same_components(got, expected)


@pytest.mark.parametrize("name, gray, binary", _generated_pages()[:2] + _odd_pages(),
                         ids=lambda value: value if isinstance(value, str) else "")
def test_drop_components_drops_exactly_the_flagged_labels(name, gray, binary):
    # the labelled form of the drop (the clean step's form without the compiled kernels),
    # on the compiled kernels' labels (uint16 or int32) and on OpenCV's, in bands of a few
    # rows and in one band
    count, opencv_labels, _ = clean.label_components(binary)
    forms = [opencv_labels, clean.compact_labels(binary)[1]]
    rng = np.random.default_rng(len(name))
    for share in (0.0, 0.3, 1.0):
        dropped = np.zeros(count + 1, bool)
        dropped[1:] = rng.random(count) < share
        expected = np.where(dropped[opencv_labels], 255, binary).astype(np.uint8)
        for labels in forms:
            for band_pixels in (gray.shape[1] * 4, None):
                out = binary.copy()
                recorded = clean.drop_components(out, labels, dropped, record=True,
                                                 band_pixels=band_pixels)
                assert np.array_equal(out, expected)
                assert np.array_equal(recorded, dropped[opencv_labels])


@pytest.mark.parametrize("shape, share", [((1, 1), 1.0), ((1, 40), 0.5), ((40, 1), 0.5),
                                          ((57, 83), 0.3), ((120, 97), 0.5), ((64, 64), 0.9),
                                          ((301, 257), 0.45), ((30, 30), 0.0)])
def test_compiled_labels_are_opencvs(shape, share):
    """The labels from the runs equal cv2.connectedComponents' (its numbering too)."""
    _compiled_or_skip()
    rng = np.random.default_rng(shape)
    binary = np.where(rng.random(shape) < share, 0, 255).astype(np.uint8)
    binary[: shape[0] // 3, : shape[1] // 2] = np.where(  # and larger, tangled shapes
        cv2.GaussianBlur(rng.random((shape[0] // 3, shape[1] // 2)), (0, 0), 1.5) < 0.5,
        0, 255) if shape[0] >= 6 and shape[1] >= 6 else binary[: shape[0] // 3,
                                                                : shape[1] // 2]
    count, labels = clean.compact_labels(binary)
    expected_count, expected, _ = clean.label_components(binary)
    assert count == expected_count
    assert labels.dtype == np.uint16
    assert np.array_equal(labels, expected)


def test_compiled_passes_refuse_a_page_whose_runs_changed():
    kernels = _compiled_or_skip()
    gray = np.full((6, 7), 100, np.uint8)
    binary = np.full((6, 7), 255, np.uint8)
    binary[2, 3:5] = binary[4, 1] = 0
    count, run_labels, row_starts, run_starts = kernels.compiled.label_runs(binary, 7)
    assert count == 2 and len(run_labels) == 2 * 4 and len(row_starts) == 7 * 8
    assert np.frombuffer(run_starts, np.int32).tolist() == [3, 1]
    sums, boxes = np.zeros((13, 3), np.int64), np.zeros((5, 3), np.int64)
    kernels.compiled.component_sums(gray, binary, run_labels, row_starts, 7, 0, 6, 1.0, sums,
                                    boxes)
    assert sums[0].tolist() == [0, 200, 100]
    binary[2, 4], binary[2, 6] = 255, 0  # the first run is now two
    with pytest.raises(ValueError, match="runs"):
        kernels.compiled.component_sums(gray, binary, run_labels, row_starts, 7, 0, 6, 1.0,
                                        sums, boxes)
    with pytest.raises(ValueError, match="runs"):
        kernels.compiled.paint_runs(binary, 7, run_labels, row_starts,
                                    np.zeros((6, 7), np.uint16))
    with pytest.raises(ValueError, match="runs"):
        kernels.compiled.drop_runs(binary, 7, run_labels, row_starts, np.ones(3, np.uint8),
                                   np.ones(6, np.uint8), None)
    with pytest.raises(ValueError, match="runs"):  # runs of another page
        kernels.compiled.paint_runs(binary[:5], 7, run_labels, row_starts,
                                    np.zeros((5, 7), np.uint16))


@pytest.mark.parametrize("name, gray, binary", _generated_pages()[:2] + _odd_pages(),
                         ids=lambda value: value if isinstance(value, str) else "")
def test_compiled_clean_step_equals_the_numpy_form(monkeypatch, name, gray, binary):
    """The whole step, its drops over the runs of text included."""
    page = type("Page", (), {"ink_intensity": 70.0, "contour_intensity": 185.5})()
    for rule in (lambda x: x[:, 0] > 2.5, lambda x: x[:, 7] > 0.2, lambda x: x[:, 0] < 0):
        def run(rule=rule):
            out = binary.copy()
            _, info, recorded = clean.clean_components(gray, out, page, cleaner=_Fixed(rule),
                                                       record=True)
            return out, info, recorded

        (got, got_info, got_map), (expected, expected_info, expected_map) = _both_forms(
            monkeypatch, run)
        assert got_info == expected_info
        assert np.array_equal(got, expected)
        assert np.array_equal(got_map, expected_map)
        assert got_info["dropped_pixels"] == np.count_nonzero(got_map)


def test_compiled_block_ink_equals_the_numpy_form(monkeypatch, make_page):
    binary = binarize(make_page(75, 101, 3)).image
    for beta in (1, 4, 7, 200):
        got, expected = _both_forms(monkeypatch, lambda beta=beta: clean.block_ink_integral(
            binary, beta, band_pixels=101 * 8))
        assert np.array_equal(got, expected)


def test_ink_weighted_median_is_the_component_holding_the_median_pixel():
    assert clean.ink_weighted_median(np.array([1.0, 5.0, 9.0]), np.array([1, 1, 10])) == 9.0
    assert clean.ink_weighted_median(np.array([3.0, 1.0]), np.array([5, 5])) == 1.0


def test_block_ink_integral_counts_ink(make_page):
    binary = binarize(make_page(75, 101, 3)).image
    for beta in (1, 4, 7):
        integral = clean.block_ink_integral(binary, beta, band_pixels=101 * 8)
        assert integral[-1, -1] == np.count_nonzero(binary == 0)
        assert integral[2, 3] == np.count_nonzero(binary[:2 * beta, :3 * beta] == 0)


def test_drop_threshold_follows_the_balance():
    assert clean.drop_threshold(0.15, 0.5) == pytest.approx(0.15)
    assert clean.drop_threshold(0.15, 1.0) == 0.0
    assert clean.drop_threshold(0.15, 0.0) == pytest.approx(0.5)
    values = [clean.drop_threshold(0.15, b) for b in np.linspace(0, 1, 11)]
    assert all(a >= b for a, b in itertools.pairwise(values))
    with pytest.raises(ValueError):
        clean.drop_threshold(0.15, 1.5)


class _Fixed:
    """A stand-in model: p(text) from a rule on the features."""

    name, threshold = "fixed", 0.5

    def __init__(self, rule):
        self.rule = rule

    def __call__(self, features):
        return self.rule(features).astype(np.float32)


def test_components_are_dropped_whole_and_never_reshaped(make_page):
    gray = make_page(80, 120, 4)
    binary = binarize(gray).image
    page = page_stats(gray)
    before = binary.copy()
    count, labels, _ = clean.label_components(before)
    small = _Fixed(lambda x: (x[:, 1] > -1.0))  # drop components far below the typical area
    out, info, dropped = clean.clean_components(gray, binary, page, cleaner=small,
                                                record=True, band_pixels=120 * 7)
    assert out is binary  # in place
    assert info["components"] == count and info["dropped"] > 0
    assert info["dropped_pixels"] == np.count_nonzero(dropped)
    assert np.all(out[before == 255] == 255)  # nothing added
    for i in range(1, count + 1):
        kept = out[labels == i]
        assert np.all(kept == 0) or np.all(kept == 255)  # whole or nothing
    assert np.array_equal(dropped, (before == 0) & (out == 255))
    keep_all = before.copy()
    _, info, _ = clean.clean_components(gray, keep_all, page, cleaner=small, balance=1.0)
    assert info["dropped"] == 0 and np.array_equal(keep_all, before)


def test_a_blank_page_has_no_components():
    gray = np.full((40, 50), 200, np.uint8)
    binary = np.full((40, 50), 255, np.uint8)
    _, info, dropped = clean.clean_components(gray, binary, page_stats(gray),
                                              cleaner=_Fixed(lambda x: x[:, 0] * 0),
                                                record=True)
    assert info["components"] == 0 and not dropped.any()


# --- the shipped model ---------------------------------------------------------------------

def test_shipped_model_metadata():
    cleaner = clean.load_cleaner()
    props = dict(cleaner.session.get_modelmeta().custom_metadata_map)
    assert json.loads(props[clean.META_FEATURES]) == list(clean.FEATURES)
    assert props[clean.META_VERSION] == clean.FEATURE_VERSION
    assert 0.0 < cleaner.threshold < 1.0
    assert "msi2015" not in cleaner.description.split("(")[1].split(")")[0]
    p = cleaner(np.zeros((3, len(clean.FEATURES)), np.float32))
    assert p.shape == (3,) and np.all((p >= 0) & (p <= 1))


def test_a_model_with_other_features_is_refused(tmp_path):
    onnx = pytest.importorskip("onnx")
    from importlib.resources import files

    graph = onnx.load(str(files("docbin").joinpath("models", clean.PACKAGED_NAME)))
    for entry in graph.metadata_props:
        if entry.key == clean.META_FEATURES:
            entry.value = json.dumps(list(clean.FEATURES)[:-1] + ["mirrored"])
    onnx.save(graph, str(tmp_path / "other.onnx"))
    with pytest.raises(ModelError, match="features"):
        clean.load_cleaner(str(tmp_path / "other.onnx"))
    with pytest.raises(ModelError, match="not found"):
        clean.load_cleaner(str(tmp_path / "missing.onnx"))
    (tmp_path / "junk.onnx").write_bytes(b"not a model")
    with pytest.raises(ModelError):
        clean.load_cleaner(str(tmp_path / "junk.onnx"))


def _bleed_page(seed, strength):
    """A printed page with a strong, blurred bleed-through the threshold keeps in part."""
    rng = np.random.default_rng([31, seed])
    page, truth = synth.clean_page(900, 700, rng, handwriting=0.0)
    page = synth.paper_texture(page, rng, strength=0.1)
    page = synth.bleed_through(page, rng, strength=strength, sigma=1.5)
    page = synth.noise(page, rng, sigma=2.0, speckle=0.01)
    return page, truth


# the shipped calibration is conservative (τ = 0.15 at balance 0.5): at the default it drops
# the bleed-through the model is surest of; balance 0.25 (θ ≈ 0.33) drops most of it
@pytest.mark.parametrize("strength, kept_bleed, balance, share_gone",
                         [(0.55, 300, 0.25, 0.95), (0.7, 3000, 0.25, 0.5),
                          (0.7, 3000, 0.5, 0.1)])
def test_bleed_through_is_dropped_and_the_text_kept_pixel_for_pixel(strength, kept_bleed,
                                                                     balance, share_gone):
    cleaner = clean.load_cleaner()
    page, truth = _bleed_page(0, strength)
    result = binarize(page)
    before = result.image.copy()
    count, labels, _ = clean.label_components(before)
    text = np.zeros(count + 1, bool)
    text[1:] = 2 * np.bincount(labels[truth], minlength=count + 1)[1:] >= \
        np.bincount(labels.ravel(), minlength=count + 1)[1:]
    text_pixels = text[labels]
    bleed_pixels = (labels > 0) & ~text_pixels
    assert np.count_nonzero(bleed_pixels) > kept_bleed  # the threshold kept bleed-through
    out, _, _ = clean.clean_components(page, result.image, page_stats(page),
                                       cleaner=cleaner, balance=balance)
    assert np.array_equal(out[text_pixels], before[text_pixels])  # every text pixel stays
    gone = np.count_nonzero(out[bleed_pixels] == 255) / np.count_nonzero(bleed_pixels)
    assert gone > share_gone, f"only {gone:.0%} of the bleed-through pixels dropped"


@pytest.mark.parametrize("seed", [0, 1])
def test_a_clean_printed_page_is_unchanged(seed):
    cleaner = clean.load_cleaner()
    rng = np.random.default_rng([32, seed])
    page, _ = synth.clean_page(900, 700, rng, handwriting=0.0)
    page = synth.paper_texture(page, rng, strength=0.1)
    page = synth.noise(page, rng, sigma=2.0, speckle=0.01)
    result = binarize(page)
    before = result.image.copy()
    out, info, _ = clean.clean_components(page, result.image, page_stats(page),
                                          cleaner=cleaner)
    assert info["components"] > 100
    assert np.array_equal(out, before), f"{info['dropped']} components dropped"


# --- training (skipped without torch) -------------------------------------------------------

def _small_pages(count, seed):
    return [synth.degraded_page(260, 220, seed + i, ("paper_texture", "bleed_through",
                                                     "stains", "noise"))
            for i in range(count)]


def test_onnx_export_matches_torch_on_a_batch(tmp_path):
    pytest.importorskip("torch")
    pytest.importorskip("onnx")
    from docbin.training import clean as training

    pages = [training.page_components(page, truth, collection=f"c{i % 2}", name=str(i))
             for i, (page, truth) in enumerate(_small_pages(4, 50))]
    predict = training.fit(pages, epochs=1)
    path = tmp_path / "clean.onnx"
    training.export_onnx(predict.module, path, threshold=0.2, training_data="test pages")
    cleaner = clean.load_cleaner(str(path))
    x = np.concatenate([p.features for p in pages])
    assert len(x) > 20
    np.testing.assert_allclose(cleaner(x), predict(x), atol=1e-5)
    assert cleaner.threshold == pytest.approx(0.2) and cleaner.description == "test pages"


def test_threshold_is_chosen_on_held_out_predictions():
    from docbin.training.clean import PageComponents, choose_threshold

    def page(collection, p_text, p_junk):
        # 10 text components of 100 px, all ink; 5 junk components of 40 px, no ink
        area = np.array([100] * 10 + [40] * 5)
        ink = np.array([100] * 10 + [0] * 5)
        q = np.array([p_text] * 10 + [p_junk] * 5, np.float32)
        return PageComponents(collection, "", np.zeros((15, 1), np.float32), area, ink,
                              int(area.sum()), int(ink.sum()), 1000), q

    pages, probabilities = zip(*[page("a", 0.9, 0.1), page("b", 0.6, 0.3)])
    tau, table = choose_threshold(list(pages), list(probabilities), thresholds=(0.2, 0.4, 0.7))
    assert tau == 0.4  # drops all junk and no text; 0.7 drops the text of page b
    assert table[2]["losing_share"] == 0.5


def test_cli_trains_a_clean_model(tmp_path, run):
    pytest.importorskip("torch")
    pytest.importorskip("onnx")
    from PIL import Image

    for i, (page, truth) in enumerate(_small_pages(4, 60)):
        for folder, array in (("img", page), ("gt", np.where(truth, 0, 255).astype(np.uint8))):
            (tmp_path / "data" / f"c{i % 2}" / folder).mkdir(parents=True, exist_ok=True)
            Image.fromarray(array).save(tmp_path / "data" / f"c{i % 2}" / folder / f"P{i}.png")
    out = tmp_path / "clean.onnx"
    result = run("train", "--model-kind", "clean", "--data", tmp_path / "data",
                 "--synthetic", 1, "--epochs", 1, "--out", out)
    assert result.exit_code == 0, result.output
    cleaner = clean.load_cleaner(str(out))
    assert "c0 2" in cleaner.description and "synth 1" in cleaner.description
