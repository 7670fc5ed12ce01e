"""DIBCO metrics: hand-computed cases, slow references, properties, agreement with doxapy."""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from docbin.evaluation import metrics

# Weight of a neighbour at distance d in the normalised 5x5 DRD matrix: 1 / (d · S), with
# S = Σ 1/d over the 24 off-centre cells = 4·1 + 4/√2 + 4/2 + 8/√5 + 4/√8 ≈ 13.8203.
S = 4 + 4 / math.sqrt(2) + 4 / 2 + 8 / math.sqrt(5) + 4 / math.sqrt(8)


def w(d: float) -> float:
    return 1.0 / (d * S)


def binary(mask: np.ndarray) -> np.ndarray:
    """A bool text mask as a docbin binary image (text 0, background 255)."""
    return np.where(mask, 0, 255).astype(np.uint8)


# --- hand-computed cases ------------------------------------------------------------------

def test_counts_and_count_metrics_by_hand():
    # 4x4 page, 4 text pixels in the ground truth; the prediction finds 3 of them and
    # adds 2 of its own: TP = 3, FN = 1, FP = 2, TN = 10.
    gt = np.zeros((4, 4), bool)
    gt[1, 0:4] = True
    pred = gt.copy()
    pred[1, 3] = False
    pred[3, 0] = pred[3, 1] = True
    counts = metrics.confusion(pred, gt)
    assert counts == metrics.Confusion(tp=3, fp=2, fn=1, tn=10)
    assert metrics.f_measure(counts) == pytest.approx(100 * 6 / 9)  # 2·3 / (2·3 + 2 + 1)
    assert metrics.psnr(counts) == pytest.approx(10 * math.log10(16 / 3))  # 7.2700 dB
    assert metrics.nrm(counts) == pytest.approx(0.5 * (1 / 4 + 2 / 12))  # 0.208333
    # (3·10 − 2·1) / √((3+2)(3+1)(10+2)(10+1)) = 28 / √2640 ≈ 0.54494
    assert metrics.mcc(counts) == pytest.approx(28 / math.sqrt(2640))
    assert metrics.precision(counts) == pytest.approx(3 / 5)
    assert metrics.recall(counts) == pytest.approx(3 / 4)


def test_drd_one_flipped_pixel_by_hand():
    # 8x8 page (exactly one 8x8 block): the ground truth is the vertical stroke in
    # column 3. The prediction adds one text pixel at (row 4, col 5), two columns right of
    # the stroke. Its 5x5 neighbourhood (rows 2..6, cols 3..7) holds 5 stroke pixels in
    # its left column; the other 19 off-centre cells are background, which differs from
    # the predicted value (text): DRD_k = Σ of their weights
    #   = 1 − [2·w(√8) + 2·w(√5) + w(2)]          (the stroke column's weights)
    #   = 1 − (0.051164 + 0.064718 + 0.036179) = 0.847939.
    # The single block holds text and background: NUBN = 1, so DRD = DRD_k.
    gt = np.zeros((8, 8), bool)
    gt[:, 3] = True
    pred = gt.copy()
    pred[4, 5] = True
    expected = 1 - (2 * w(math.sqrt(8)) + 2 * w(math.sqrt(5)) + w(2))
    assert expected == pytest.approx(0.847939, abs=1e-6)
    assert metrics.nubn(gt) == 1
    assert metrics.drd(pred, gt) == pytest.approx(expected, rel=1e-12)
    assert metrics.drd(binary(pred), binary(gt)) == pytest.approx(expected, rel=1e-12)


def test_drd_missed_pixel_near_the_border_by_hand():
    # Same 8x8 stroke; the prediction misses the stroke's top pixel (0, 3). The predicted
    # value there is background, so the stroke pixels of the neighbourhood count:
    # (1, 3) at distance 1 and (2, 3) at distance 2. Rows −2 and −1 lie outside the page
    # and count 0 (as in the DIBCO tool). DRD = w(1) + w(2) = 0.072357 + 0.036179.
    gt = np.zeros((8, 8), bool)
    gt[:, 3] = True
    pred = gt.copy()
    pred[0, 3] = False
    assert metrics.drd(pred, gt) == pytest.approx(w(1) + w(2), rel=1e-12)
    assert w(1) + w(2) == pytest.approx(0.108536, abs=1e-6)


def test_drd_matches_doxas_unit_case():
    # The case of Doxa's DRDM unit test: one 8x8 block, the text pixel (row 4, col 3) of
    # the ground truth turned to background. Its text neighbours: (4, 2) and (4, 4) at
    # distance 1, (6, 1) at distance √5 → 0.072357 + 0.072357 + 0.032359 (Doxa's
    # integer-rounded weights), i.e. 2·w(1) + w(√5) exactly.
    rows = ["WWWWWBWW", "WWWWWWWW", "BWWWWWWW", "WBWWWWWW",
            "WWBBBWWW", "WWWWWWWW", "WWWWWWBW", "WBWWWWWB"]
    gt = np.array([[c == "B" for c in row] for row in rows])
    pred = gt.copy()
    pred[4, 3] = False
    assert metrics.drd(pred, gt) == pytest.approx(2 * w(1) + w(math.sqrt(5)), rel=1e-12)
    assert metrics.drd(pred, gt) == pytest.approx((72357 + 72357 + 32359) / 1e6, abs=2e-6)


def test_drd_6x6_page_has_no_block():
    # A 6x6 page holds no complete 8x8 block: NUBN = 0 and one flipped pixel gives an
    # infinite DRD (the DIBCO tool divides by zero); no flipped pixel gives 0.
    gt = np.zeros((6, 6), bool)
    gt[2:4, 1:5] = True
    pred = gt.copy()
    pred[0, 0] = True
    assert metrics.nubn(gt) == 0
    assert metrics.drd(pred, gt) == math.inf
    assert metrics.drd(gt, gt) == 0.0


def test_nubn_counts_complete_blocks_only():
    # 10x18 page: complete blocks are rows 0..7 x cols 0..7 and 0..7 x 8..15. Text in the
    # last two rows or columns belongs to no block (DIBCO_metrics.m: floor(rows / 8)).
    gt = np.zeros((10, 18), bool)
    gt[9, 2] = True  # partial block row
    gt[3, 17] = True  # partial block column
    assert metrics.nubn(gt) == 0
    gt[7, 8] = True  # second block
    assert metrics.nubn(gt) == 1
    gt[0:8, 0:8] = True  # a full text block is uniform
    assert metrics.nubn(gt) == 1
    gt[0, 0] = False
    assert metrics.nubn(gt) == 2


def test_drd_weights():
    weights = metrics.drd_weights()
    assert weights.shape == (5, 5)
    assert weights[2, 2] == 0
    assert weights.sum() == pytest.approx(1.0)
    assert weights[0, 0] == pytest.approx(0.025582, abs=1e-6)
    assert weights[2, 1] == pytest.approx(0.072357, abs=1e-6)
    np.testing.assert_allclose(weights, weights.T)
    np.testing.assert_allclose(weights, weights[::-1, ::-1])


def test_mpm_by_hand():
    # 3x7 page, one text pixel at (1, 3). Its contour is the 8 background pixels around
    # it. Distances to the contour: columns 0 and 6 → 2 (three pixels each), columns 1
    # and 5 → 1 (three each), the contour itself 0, the text pixel 1.
    # D = 3·2 + 3·1 + 0 + 1 + 0 + 3·1 + 3·2 = 19.
    gt = np.zeros((3, 7), bool)
    gt[1, 3] = True
    distance = metrics.contour_distance(gt)
    assert distance.sum() == pytest.approx(19)
    # A false positive at (0, 6), distance 2: MPM = ½ (0 + 2) / 19 = 1/19.
    pred = gt.copy()
    pred[0, 6] = True
    assert metrics.mpm(pred, gt) == pytest.approx(1 / 19)
    # Missing the text pixel (distance 1) as well: MPM = ½ (1 + 2) / 19 = 3/38.
    pred[1, 3] = False
    assert metrics.mpm(pred, gt) == pytest.approx(3 / 38)
    # An error on the contour itself costs nothing.
    pred = gt.copy()
    pred[0, 2] = True
    assert metrics.mpm(pred, gt) == 0.0


def test_pseudo_f_measure_by_hand():
    # A 3-row bar of 9 columns (rows 2..4, cols 1..9) thins to its middle row, shortened
    # by one pixel at each end: S = row 3, cols 2..8 (7 pixels).
    gt = np.zeros((7, 11), bool)
    gt[2:5, 1:10] = True
    expected_skeleton = np.zeros_like(gt)
    expected_skeleton[3, 2:9] = True
    np.testing.assert_array_equal(metrics.skeleton(gt), expected_skeleton)
    # Predicting only the middle row (9 pixels): Pr = 1, Rc = 9/27 → FM = 50 %;
    # the skeleton is fully covered, pRc = 1 → p-FM = 100 %.
    pred = np.zeros_like(gt)
    pred[3, 1:10] = True
    counts = metrics.confusion(pred, gt)
    assert metrics.f_measure(counts) == pytest.approx(50.0)
    assert metrics.pseudo_f_measure(counts, pred, gt) == pytest.approx(100.0)
    # Dropping 2 skeleton pixels (cols 7, 8): Pr = 1, pRc = 5/7, p-FM = 2·(5/7)/(12/7).
    pred[3, 7:10] = False
    counts = metrics.confusion(pred, gt)
    assert metrics.pseudo_f_measure(counts, pred, gt) == pytest.approx(100 * 10 / 12)


def test_perfect_prediction():
    gt = np.zeros((16, 16), bool)
    gt[4:9, 3:12] = True
    result = metrics.evaluate(binary(gt), binary(gt))
    assert result == {"fm": 100.0, "pfm": 100.0, "psnr": math.inf, "drd": 0.0, "nrm": 0.0,
                      "mpm": 0.0, "mcc": 1.0}
    assert tuple(result) == metrics.METRICS


def test_all_wrong_prediction():
    gt = np.zeros((16, 16), bool)
    gt[4:9, 3:12] = True
    result = metrics.evaluate(binary(~gt), binary(gt))
    assert result["fm"] == 0.0
    assert result["pfm"] == 0.0
    assert result["psnr"] == 0.0  # MSE = 1
    assert result["nrm"] == 1.0
    assert result["mcc"] == pytest.approx(-1.0)
    assert result["mpm"] > 0
    assert result["drd"] > 0


def test_empty_pages():
    blank = np.full((16, 16), 255, np.uint8)
    result = metrics.evaluate(blank, blank)
    assert result["fm"] == 100.0 and result["pfm"] == 100.0 and result["nrm"] == 0.0
    assert result["drd"] == 0.0 and result["mpm"] == 0.0 and result["psnr"] == math.inf
    spot = blank.copy()
    spot[3, 3] = 0
    result = metrics.evaluate(spot, blank)  # text predicted on a blank ground truth
    assert result["fm"] == 0.0
    assert result["nrm"] == pytest.approx(0.5 / 256)
    assert result["drd"] == math.inf  # a uniform ground truth has NUBN = 0


# --- inputs -------------------------------------------------------------------------------

def test_uint8_and_bool_inputs_agree():
    rng = np.random.default_rng(1)
    gt = rng.random((24, 40)) < 0.3
    pred = gt ^ (rng.random(gt.shape) < 0.1)
    assert metrics.evaluate(pred, gt) == metrics.evaluate(binary(pred), binary(gt))
    gray = np.where(pred, 100, 200).astype(np.uint8)  # values < 128 are text
    assert metrics.evaluate(gray, gt) == metrics.evaluate(pred, gt)


def test_size_mismatch_names_both_shapes():
    with pytest.raises(ValueError, match=r"\(10, 12\).*\(10, 13\)"):
        metrics.evaluate(np.zeros((10, 12), np.uint8), np.zeros((10, 13), np.uint8))
    with pytest.raises(ValueError, match=r"\(4, 4\).*\(5, 4\)"):
        metrics.drd(np.zeros((4, 4), bool), np.zeros((5, 4), bool))


@pytest.mark.parametrize("bad", [np.zeros((4, 4), np.float32), np.zeros((4, 4, 3), np.uint8),
                                 np.zeros(4, np.uint8)])
def test_rejects_other_arrays(bad):
    with pytest.raises(ValueError, match="prediction"):
        metrics.evaluate(bad, np.zeros((4, 4), np.uint8))


# --- fast paths against slow references ----------------------------------------------------

def drd_reference(pred: np.ndarray, gt: np.ndarray) -> float:
    """DIBCO_metrics.m, pixel by pixel: Σ_k Σ W·|B_k − g_k| over 5x5 blocks of the ground
    truth (outside cells take the value g_k), divided by the non-uniform 8x8 blocks."""
    weights = metrics.drd_weights()
    rows, cols = gt.shape
    total = 0.0
    for i in range(rows):
        for j in range(cols):
            if pred[i, j] == gt[i, j]:
                continue
            for di in range(-2, 3):
                for dj in range(-2, 3):
                    r, c = i + di, j + dj
                    value = gt[r, c] if 0 <= r < rows and 0 <= c < cols else pred[i, j]
                    total += weights[di + 2, dj + 2] * abs(int(value) - int(pred[i, j]))
    blocks = 0
    for bi in range(rows // 8):
        for bj in range(cols // 8):
            block = gt[bi * 8:bi * 8 + 8, bj * 8:bj * 8 + 8]
            blocks += int(block.min() != block.max())
    if total == 0:
        return 0.0
    return total / blocks if blocks else math.inf


def thinning_reference(mask: np.ndarray) -> np.ndarray:
    """Lam–Lee–Suen thinning written from the paper's conditions, pixel by pixel."""
    image = np.pad(mask.astype(int), 1)
    offsets = [(0, 1), (-1, 1), (-1, 0), (-1, -1), (0, -1), (1, -1), (1, 0), (1, 1)]
    changed = True
    while changed:
        changed = False
        for sub in (1, 2):
            delete = []
            for r in range(1, image.shape[0] - 1):
                for c in range(1, image.shape[1] - 1):
                    if not image[r, c]:
                        continue
                    x = [0] + [image[r + dr, c + dc] for dr, dc in offsets]
                    x.append(x[1])  # x9 = x1
                    x_h = sum(1 for i in range(1, 5)
                              if x[2 * i - 1] == 0 and (x[2 * i] or x[2 * i + 1]))
                    n1 = sum(1 for k in range(1, 5) if x[2 * k - 1] or x[2 * k])
                    n2 = sum(1 for k in range(1, 5) if x[2 * k] or x[2 * k + 1])
                    if sub == 1:
                        g3 = ((x[2] or x[3] or not x[8]) and x[1]) == 0
                    else:
                        g3 = ((x[6] or x[7] or not x[4]) and x[5]) == 0
                    if x_h == 1 and 2 <= min(n1, n2) <= 3 and g3:
                        delete.append((r, c))
            for r, c in delete:
                image[r, c] = 0
            changed = changed or bool(delete)
    return image[1:-1, 1:-1].astype(bool)


def blobs(seed: int, shape=(20, 28)) -> np.ndarray:
    """A random text-like mask: thick strokes and blobs."""
    import cv2

    rng = np.random.default_rng(seed)
    mask = np.zeros(shape, np.uint8)
    for _ in range(4):
        p1 = (int(rng.integers(0, shape[1])), int(rng.integers(0, shape[0])))
        p2 = (int(rng.integers(0, shape[1])), int(rng.integers(0, shape[0])))
        cv2.line(mask, p1, p2, 1, int(rng.integers(1, 5)))
    mask[rng.random(shape) < 0.03] = 1
    return mask.astype(bool)


@pytest.mark.parametrize("seed", range(6))
def test_drd_matches_pixel_by_pixel_reference(seed):
    rng = np.random.default_rng(seed)
    gt = blobs(seed, (19 + seed, 26 + 2 * seed))
    pred = gt ^ (rng.random(gt.shape) < 0.15)
    assert metrics.drd(pred, gt) == pytest.approx(drd_reference(pred, gt), rel=1e-12)


@pytest.mark.parametrize("seed", range(6))
def test_skeleton_matches_reference(seed):
    mask = blobs(seed)
    np.testing.assert_array_equal(metrics.skeleton(mask), thinning_reference(mask))


def test_skeleton_properties_on_text():
    import cv2

    ink = np.zeros((48, 120), np.uint8)
    cv2.putText(ink, "docbin", (2, 36), cv2.FONT_HERSHEY_SIMPLEX, 1.3, 1, 5)
    mask = ink > 0
    sk = metrics.skeleton(mask)
    assert not (sk & ~mask).any()  # a subset of the strokes
    assert sk.sum() < 0.4 * mask.sum()
    np.testing.assert_array_equal(metrics.skeleton(sk), sk)  # already thin

    def components(m):
        return cv2.connectedComponents(m.astype(np.uint8), connectivity=8)[0]

    assert components(sk) == components(mask)  # thinning keeps every component


def test_contour_distance_matches_brute_force():
    mask = blobs(3, (12, 15))
    text = mask
    padded = np.pad(text, 1)
    near_text = np.zeros_like(text)
    for dr in (-1, 0, 1):
        for dc in (-1, 0, 1):
            near_text |= padded[1 + dr:1 + dr + text.shape[0], 1 + dc:1 + dc + text.shape[1]]
    contour = np.argwhere(near_text & ~text)
    rr, cc = np.mgrid[0:text.shape[0], 0:text.shape[1]]
    brute = np.min(np.hypot(rr[..., None] - contour[:, 0], cc[..., None] - contour[:, 1]),
                   axis=-1)
    np.testing.assert_allclose(metrics.contour_distance(mask), brute, atol=1e-3)


# --- properties ---------------------------------------------------------------------------

masks = arrays(np.bool_, st.tuples(st.integers(8, 20), st.integers(8, 20)))


@settings(max_examples=40, deadline=None)
@given(masks, st.data())
def test_symmetric_metrics(gt, data):
    pred = data.draw(arrays(np.bool_, gt.shape))
    forward, backward = metrics.evaluate(pred, gt), metrics.evaluate(gt, pred)
    for name in ("fm", "psnr", "mcc"):  # symmetric in FP and FN
        assert forward[name] == pytest.approx(backward[name])
    counts = metrics.confusion(pred, gt)
    swapped = metrics.confusion(gt, pred)
    assert (swapped.fp, swapped.fn) == (counts.fn, counts.fp)


@settings(max_examples=40, deadline=None)
@given(masks, st.data())
def test_more_errors_never_score_better(gt, data):
    # Flip a set of pixels, then a superset: every metric stays or gets worse.
    first = data.draw(arrays(np.bool_, gt.shape))
    extra = data.draw(arrays(np.bool_, gt.shape))
    fewer = metrics.evaluate(gt ^ first, gt)
    more = metrics.evaluate(gt ^ (first | extra), gt)
    assert more["fm"] <= fewer["fm"] + 1e-9
    assert more["psnr"] <= fewer["psnr"]
    assert more["nrm"] >= fewer["nrm"] - 1e-12
    assert more["mpm"] >= fewer["mpm"] - 1e-12
    assert more["drd"] >= fewer["drd"] - 1e-9
    if (extra & ~first).any():
        assert more["psnr"] < fewer["psnr"]


@settings(max_examples=40, deadline=None)
@given(masks, st.data())
def test_ranges(gt, data):
    pred = data.draw(arrays(np.bool_, gt.shape))
    result = metrics.evaluate(pred, gt)
    assert 0 <= result["fm"] <= 100 and 0 <= result["pfm"] <= 100
    assert 0 <= result["nrm"] <= 1 and result["mpm"] >= 0 and result["drd"] >= 0
    assert -1 - 1e-12 <= result["mcc"] <= 1 + 1e-12
    assert result["psnr"] >= 0


# --- agreement with doxapy on real pages ---------------------------------------------------

def dev_data() -> Path:
    root = os.environ.get("DOCBIN_DEV_DATA")
    return Path(root) if root else Path(__file__).resolve().parents[2] / "shared/data/dev"


def doxapy_nubn_divisor(gt: np.ndarray) -> float:
    """The divisor that doxapy 0.9.2 uses in place of NUBN.

    Its NUBN inspects only the top-left 7x7 pixels of each 8x8 block (a ``Region`` whose
    corner is inclusive scanned with ``<``), and ``NUBN · 10⁶`` is computed in 32-bit
    unsigned arithmetic, which wraps for NUBN > 4294. The DIBCO tool (DIBCO_metrics.m)
    uses full 8x8 blocks and no wrap, as docbin does.
    """
    rows, cols = (gt.shape[0] // 8) * 8, (gt.shape[1] // 8) * 8
    text = gt[:rows, :cols].reshape(rows // 8, 8, cols // 8, 8)[:, :7, :, :7].sum(axis=(1, 3))
    blocks = int(np.count_nonzero((text > 0) & (text < 49)))
    return ((blocks * 1_000_000) % 2**32) / 1e6


PAGES = ["dibco2009/H03", "dibco2010/H02", "bickley/H01"]


@pytest.mark.parametrize("page", PAGES)
def test_agrees_with_doxapy_on_dev_pages(page):
    doxapy = pytest.importorskip("doxapy")
    collection, name = page.split("/")
    image_path = dev_data() / collection / "img" / f"{name}.png"
    gt_path = dev_data() / collection / "gt" / f"{name}.png"
    if not (image_path.exists() and gt_path.exists()):
        pytest.skip(f"development data not found ({image_path}); set DOCBIN_DEV_DATA")
    from docbin.evaluation.baselines import sauvola
    from docbin.io import read_image

    image = read_image(image_path).image
    gt = read_image(gt_path).image
    pred = sauvola(image)
    ours = metrics.evaluate(pred, gt)
    theirs = doxapy.calculate_performance(gt, pred)
    assert ours["fm"] == pytest.approx(theirs["fm"], abs=1e-6)
    assert ours["psnr"] == pytest.approx(theirs["psnr"], abs=1e-6)
    assert ours["nrm"] == pytest.approx(theirs["nrm"], abs=1e-9)
    assert ours["mcc"] == pytest.approx(theirs["mcc"], abs=1e-9)
    # DRD: the same Σ DRD_k (doxapy's weights are rounded to 1e-6), divided by doxapy's
    # NUBN convention instead of the DIBCO tool's.
    sum_drd = ours["drd"] * metrics.nubn(gt)
    assert sum_drd / doxapy_nubn_divisor(gt < 128) == pytest.approx(theirs["drdm"], rel=1e-5)
