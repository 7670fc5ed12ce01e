"""DIBCO evaluation metrics of a binarized page against its ground truth.

Conventions
-----------
**Text is the positive class.** Both images must have the same shape (rows, cols); a
mismatch raises ``ValueError`` naming both shapes. Each image is either

- a uint8 array in docbin's convention, **text 0 / background 255**; any value below 128
  counts as text, so anti-aliased or gray renderings are thresholded half-way, or
- a bool array, **True on text** (the ``ink`` masks of :mod:`docbin.method.decision`).

The confusion counts are computed once (:func:`confusion`); every metric is a pure
function of them and, for p-FM, DRD and MPM, of the two masks. With ``TP``, ``FP``,
``FN``, ``TN`` the counts of text/background pixels that the prediction P gets right or
wrong against the ground truth G:

- FM = 100 · 2 TP / (2 TP + FP + FN)            (F-measure, %)
- p-FM = 100 · 2 Pr · pRc / (Pr + pRc)          (H-DIBCO 2010 pseudo F-measure, %)
- PSNR = 10 log10(C² / MSE), C = 1, MSE = (FP + FN) / (rows · cols)   (dB)
- DRD = Σ_k DRD_k / NUBN                         (Lu et al. 2004)
- NRM = ½ (FN / (FN + TP) + FP / (FP + TN))     (fraction)
- MPM = ½ (Σ d_FN + Σ d_FP) / D                  (fraction)
- MCC = (TP·TN − FP·FN) / √((TP+FP)(TP+FN)(TN+FP)(TN+FN))

FM, PSNR, NRM, DRD and MCC follow the conventions of the DIBCO contest tool as
implemented by Doxa (``doxapy.calculate_performance``); docbin's tests check agreement
with it on real pages. Degenerate cases, where a ratio has an empty denominator, are
defined below in each function (Doxa returns NaN or the largest double there instead).

References
----------
.. [1] I. Pratikakis, B. Gatos, K. Ntirogiannis, "H-DIBCO 2010 - Handwritten Document
   Image Binarization Competition", ICFHR 2010 (p-FM, NRM, MPM).
.. [2] H. Lu, A. C. Kot, Y. Q. Shi, "Distance-reciprocal distortion measure for binary
   document images", IEEE Signal Processing Letters 11(2), 2004 (DRD).
.. [3] D. P. Young, J. M. Ferryman, "PETS metrics: on-line performance evaluation
   service", VS-PETS 2005 (MPM).
.. [4] L. Lam, S.-W. Lee, C. Y. Suen, "Thinning methodologies - a comprehensive
   survey", IEEE TPAMI 14(9), 1992 (the thinning used for p-FM).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

#: Names of the metrics that :func:`evaluate` returns, in display order.
METRICS = ("fm", "pfm", "psnr", "drd", "nrm", "mpm", "mcc")

# DRD: side of the weight matrix and of the blocks counted by NUBN (Lu et al. 2004).
_DRD_SIZE = 5
_DRD_BLOCK = 8


# --- inputs and counts --------------------------------------------------------------------

def text_mask(image: np.ndarray, name: str = "image") -> np.ndarray:
    """Boolean mask, True on text, of a binary image (see the module conventions).

    Parameters
    ----------
    image : ndarray
        2-D bool (True = text) or uint8 (text 0 / background 255; values < 128 are text).
    name : str
        How to call the image in error messages.

    Raises
    ------
    ValueError
        The array is not 2-D, or not bool/uint8.
    """
    image = np.asarray(image)
    if image.ndim != 2:
        raise ValueError(f"{name} must be a 2-D (rows, cols) binary image, got shape "
                         f"{image.shape}")
    if image.dtype == np.bool_:
        return image
    if image.dtype != np.uint8:
        raise ValueError(f"{name} must be uint8 (text 0, background 255) or bool (True = "
                         f"text), got dtype {image.dtype}")
    return image < 128


def _masks(prediction, ground_truth) -> tuple[np.ndarray, np.ndarray]:
    pred = text_mask(prediction, "prediction")
    gt = text_mask(ground_truth, "ground truth")
    if pred.shape != gt.shape:
        raise ValueError(f"prediction and ground truth differ in size: prediction "
                         f"{pred.shape} vs ground truth {gt.shape} (rows, cols); evaluate "
                         "a binarization of the ground truth's own page")
    return pred, gt


@dataclass(frozen=True)
class Confusion:
    """Pixel counts of a prediction against a ground truth (text is positive)."""

    tp: int  # text predicted as text
    fp: int  # background predicted as text
    fn: int  # text predicted as background
    tn: int  # background predicted as background

    @property
    def total(self) -> int:
        return self.tp + self.fp + self.fn + self.tn


def confusion(prediction, ground_truth) -> Confusion:
    """Confusion counts of ``prediction`` against ``ground_truth``.

    Parameters
    ----------
    prediction, ground_truth : ndarray
        Binary images of one shape (module conventions).
    """
    pred, gt = _masks(prediction, ground_truth)
    return _confusion(pred, gt)


def _confusion(pred: np.ndarray, gt: np.ndarray) -> Confusion:
    tp = int(np.count_nonzero(pred & gt))
    n_pred = int(np.count_nonzero(pred))
    n_gt = int(np.count_nonzero(gt))
    fp = n_pred - tp
    fn = n_gt - tp
    return Confusion(tp=tp, fp=fp, fn=fn, tn=int(pred.size) - tp - fp - fn)


# --- metrics of the counts ----------------------------------------------------------------

def precision(counts: Confusion) -> float:
    """Precision TP / (TP + FP), a fraction; 1 when nothing is predicted as text."""
    predicted = counts.tp + counts.fp
    return counts.tp / predicted if predicted else 1.0


def recall(counts: Confusion) -> float:
    """Recall TP / (TP + FN), a fraction; 1 when the ground truth has no text."""
    actual = counts.tp + counts.fn
    return counts.tp / actual if actual else 1.0


def f_measure(counts: Confusion) -> float:
    """F-measure in %: ``100 · 2 TP / (2 TP + FP + FN)``.

    Equal to ``2 · Precision · Recall / (Precision + Recall)``. When neither image has any
    text the prediction is exactly right and FM = 100; when TP = 0 otherwise, FM = 0.
    """
    denominator = 2 * counts.tp + counts.fp + counts.fn
    if denominator == 0:
        return 100.0
    return 100.0 * 2 * counts.tp / denominator


def psnr(counts: Confusion) -> float:
    """Peak signal-to-noise ratio in dB: ``10 · log10(C² / MSE)`` with C = 1.

    ``MSE = (FP + FN) / (rows · cols)``, the mean squared difference of the two images
    as 0/1 arrays. A perfect prediction gives ``inf``.
    """
    wrong = counts.fp + counts.fn
    if wrong == 0:
        return math.inf
    return 10.0 * math.log10(counts.total / wrong)


def nrm(counts: Confusion) -> float:
    """Negative rate metric, a fraction in [0, 1]: ``½ (NR_FN + NR_FP)``.

    ``NR_FN = FN / (FN + TP)`` (missed text), ``NR_FP = FP / (FP + TN)`` (background
    turned to text). A rate whose denominator is empty (no text, or no background, in the
    ground truth) cannot be missed and counts 0.
    """
    actual_text = counts.fn + counts.tp
    actual_background = counts.fp + counts.tn
    nr_fn = counts.fn / actual_text if actual_text else 0.0
    nr_fp = counts.fp / actual_background if actual_background else 0.0
    return 0.5 * (nr_fn + nr_fp)


def mcc(counts: Confusion) -> float:
    """Matthews correlation coefficient in [−1, 1]; 0 when undefined (a zero margin)."""
    tp, fp, fn, tn = (float(v) for v in (counts.tp, counts.fp, counts.fn, counts.tn))
    denominator = (tp + fp) * (tp + fn) * (tn + fp) * (tn + fn)
    if denominator == 0:
        return 0.0
    return (tp * tn - fp * fn) / math.sqrt(denominator)


# --- p-FM: pseudo-recall on the skeleton of the ground truth -------------------------------

def _thinning_tables() -> tuple[np.ndarray, np.ndarray]:
    """Deletion tables of the two sub-iterations, indexed by the 8-neighbour code.

    Neighbours x1..x8 run counter-clockwise from the east (E, NE, N, NW, W, SW, S, SE);
    bit ``i − 1`` of the code is x_i. A text pixel is deleted in sub-iteration 1 when
    G1 ∧ G2 ∧ G3 hold, in sub-iteration 2 when G1 ∧ G2 ∧ G3' hold (Lam et al. 1992):

    - G1: X_H = 1, with X_H = Σ_{i=1..4} [¬x_{2i−1} ∧ (x_{2i} ∨ x_{2i+1})]   (x9 = x1);
    - G2: 2 ≤ min(n1, n2) ≤ 3, n1 = Σ_k x_{2k−1} ∨ x_{2k}, n2 = Σ_k x_{2k} ∨ x_{2k+1};
    - G3: (x2 ∨ x3 ∨ ¬x8) ∧ x1 = 0;   G3': (x6 ∨ x7 ∨ ¬x4) ∧ x5 = 0.
    """
    first = np.zeros(256, dtype=bool)
    second = np.zeros(256, dtype=bool)
    for code in range(256):  # 256 table entries, not pixels
        x = [None] + [bool((code >> i) & 1) for i in range(8)] + [bool(code & 1)]
        x_h = sum(1 for i in range(1, 5) if not x[2 * i - 1] and (x[2 * i] or x[2 * i + 1]))
        n1 = sum(1 for k in range(1, 5) if x[2 * k - 1] or x[2 * k])
        n2 = sum(1 for k in range(1, 5) if x[2 * k] or x[2 * k + 1])
        g12 = x_h == 1 and 2 <= min(n1, n2) <= 3
        first[code] = g12 and not ((x[2] or x[3] or not x[8]) and x[1])
        second[code] = g12 and not ((x[6] or x[7] or not x[4]) and x[5])
    return first, second


_THIN_FIRST, _THIN_SECOND = _thinning_tables()
# (row, col) offsets of x1..x8: E, NE, N, NW, W, SW, S, SE.
_NEIGHBOURS = ((0, 1), (-1, 1), (-1, 0), (-1, -1), (0, -1), (1, -1), (1, 0), (1, 1))


def _neighbour_codes(padded: np.ndarray) -> np.ndarray:
    """8-neighbour code of every interior pixel of a zero-padded 0/1 uint8 array."""
    rows, cols = padded.shape[0] - 2, padded.shape[1] - 2
    code = np.zeros((rows, cols), dtype=np.uint8)
    for bit, (dr, dc) in enumerate(_NEIGHBOURS):
        code |= padded[1 + dr:1 + dr + rows, 1 + dc:1 + dc + cols] << np.uint8(bit)
    return code


def skeleton(mask: np.ndarray) -> np.ndarray:
    """Thin a boolean mask to 1-pixel-wide, 8-connected curves.

    The parallel two-sub-iteration thinning of Lam, Lee and Suen (1992) [4]_ — the
    algorithm of MATLAB's ``bwmorph(..., 'thin', Inf)``, with which the DIBCO p-FM ground
    truth skeletons were made — repeated until nothing changes. Each sub-iteration looks
    up the deletion condition of every text pixel in a 256-entry table indexed by its
    8-neighbour code (:func:`_thinning_tables`), so a pass is a few whole-array operations.
    Chosen over a morphological skeleton (erosion differences), which is neither thin nor
    connected, and over Zhang–Suen, which erodes 2-pixel-thick diagonal strokes away.
    Pixels outside the image count as background.
    """
    mask = np.asarray(mask, dtype=bool)
    result = np.zeros(mask.shape, dtype=bool)
    rows_any = np.flatnonzero(mask.any(axis=1))
    if rows_any.size == 0:
        return result
    cols_any = np.flatnonzero(mask.any(axis=0))
    r0, r1 = rows_any[0], rows_any[-1] + 1
    c0, c1 = cols_any[0], cols_any[-1] + 1
    padded = np.zeros((r1 - r0 + 2, c1 - c0 + 2), dtype=np.uint8)
    padded[1:-1, 1:-1] = mask[r0:r1, c0:c1]
    inner = padded[1:-1, 1:-1]
    while True:
        changed = False
        for table in (_THIN_FIRST, _THIN_SECOND):
            delete = table[_neighbour_codes(padded)] & (inner == 1)
            if delete.any():
                inner[delete] = 0
                changed = True
        if not changed:
            break
    result[r0:r1, c0:c1] = inner.astype(bool)
    return result


def pseudo_f_measure(counts: Confusion, prediction, ground_truth,
                     ground_truth_skeleton: np.ndarray | None = None) -> float:
    """Pseudo F-measure in % (H-DIBCO 2010 [1]_).

    ``p-FM = 100 · 2 · Pr · pRc / (Pr + pRc)`` with the ordinary precision
    ``Pr = TP / (TP + FP)`` and the pseudo-recall ``pRc = |S ∩ P| / |S|``, the fraction of
    the ground truth's skeleton S (:func:`skeleton`) that the prediction P covers.
    Degenerate cases as for FM: 100 when neither image has text, 0 when Pr + pRc = 0.

    Parameters
    ----------
    counts : Confusion
        The counts of ``prediction`` against ``ground_truth``.
    prediction, ground_truth : ndarray
        The two binary images (module conventions).
    ground_truth_skeleton : ndarray of bool, optional
        S, when already computed (it depends on the ground truth only).
    """
    pred, gt = _masks(prediction, ground_truth)
    if counts.tp + counts.fp + counts.fn == 0:
        return 100.0
    sk = skeleton(gt) if ground_truth_skeleton is None else ground_truth_skeleton
    n_skeleton = int(np.count_nonzero(sk))
    pseudo_recall = np.count_nonzero(sk & pred) / n_skeleton if n_skeleton else 1.0
    pr = precision(counts)
    if pr + pseudo_recall == 0:
        return 0.0
    return 100.0 * 2 * pr * pseudo_recall / (pr + pseudo_recall)


# --- DRD ----------------------------------------------------------------------------------

def drd_weights(size: int = _DRD_SIZE) -> np.ndarray:
    """The normalised inverse-distance weight matrix of DRD (Lu et al. 2004 [2]_).

    ``W(i, j) = 1 / √((i − c)² + (j − c)²)`` for ``(i, j) ≠ (c, c)``, ``W(c, c) = 0``,
    ``c = size // 2``, then divided by its sum. For size 5 the corner weight is 0.025582
    and the 4-neighbour weight 0.072357.
    """
    c = size // 2
    i, j = np.mgrid[0:size, 0:size]
    distance = np.hypot(i - c, j - c)
    weights = np.zeros((size, size))
    np.divide(1.0, distance, out=weights, where=distance > 0)
    return weights / weights.sum()


def nubn(ground_truth, block: int = _DRD_BLOCK) -> int:
    """Number of non-uniform ``block × block`` blocks of the ground truth (DRD's NUBN).

    Blocks tile the image from the top-left corner; as in the DIBCO tool's Doxa
    implementation, only complete blocks count: the last ``rows % block`` rows and
    ``cols % block`` columns belong to no block. A block is non-uniform when it holds both
    text and background.
    """
    gt = text_mask(ground_truth, "ground truth")
    rows, cols = (gt.shape[0] // block) * block, (gt.shape[1] // block) * block
    if rows == 0 or cols == 0:
        return 0
    tiles = gt[:rows, :cols].reshape(rows // block, block, cols // block, block)
    text = tiles.sum(axis=(1, 3))
    return int(np.count_nonzero((text > 0) & (text < block * block)))


def drd(prediction, ground_truth) -> float:
    """Distance-reciprocal distortion (Lu et al. 2004 [2]_), lower is better.

    ``DRD = Σ_k DRD_k / NUBN``. For each flipped pixel k (P(k) ≠ G(k)),
    ``DRD_k = Σ_{i,j} W(i, j) · |G(k + (i, j)) − P(k)|`` over the 5×5 neighbourhood of k in
    the ground truth, with W from :func:`drd_weights` and neighbours outside the image
    contributing 0. NUBN is :func:`nubn` of the ground truth.

    Because P(k) = 1 − G(k) at a flipped pixel, ``|G(n) − P(k)| = [G(n) = G(k)]``: DRD_k is
    the weight of the neighbours of the ground-truth class of k. Two correlations of W with
    the text mask and with the in-image indicator give it for every pixel at once.

    Returns 0 for a perfect prediction and ``inf`` when there are flipped pixels but
    NUBN = 0 (a uniform ground truth, or one smaller than a block).
    """
    import cv2

    pred, gt = _masks(prediction, ground_truth)
    flipped = pred != gt
    if not flipped.any():
        return 0.0
    blocks = nubn(gt)
    if blocks == 0:
        return math.inf
    weights = drd_weights()
    text_weight = cv2.filter2D(gt.astype(np.float64), -1, weights,
                               borderType=cv2.BORDER_CONSTANT)
    inside_weight = cv2.filter2D(np.ones(gt.shape, np.float64), -1, weights,
                                 borderType=cv2.BORDER_CONSTANT)
    same_class = np.where(gt, text_weight, inside_weight - text_weight)
    return float(same_class[flipped].sum()) / blocks


# --- MPM ----------------------------------------------------------------------------------

def contour_distance(ground_truth) -> np.ndarray:
    """Euclidean distance (px) of every pixel to the ground truth's text contour.

    The contour is the set of background pixels 8-adjacent to text (the outer boundary
    of the text, as in the DIBCO MPM tool); distances come from
    ``cv2.distanceTransform`` with the exact Euclidean mask. A ground truth without text
    or without background has no contour: all distances are 0.
    """
    import cv2

    gt = text_mask(ground_truth, "ground truth")
    text = gt.astype(np.uint8)
    contour = (cv2.dilate(text, np.ones((3, 3), np.uint8)) > 0) & ~gt
    if not contour.any():
        return np.zeros(gt.shape, dtype=np.float64)
    distance = cv2.distanceTransform((~contour).astype(np.uint8), cv2.DIST_L2,
                                     cv2.DIST_MASK_PRECISE).astype(np.float64)
    # The exact distance is √n for an integer n. OpenCV returns it in float32, whose last
    # bit can differ from run to run (multi-threaded); snapping d² to its integer makes the
    # result exact and reproducible. Below 2048 px the float32 error of d² is < 0.5.
    exact = distance < 2048
    distance[exact] = np.sqrt(np.rint(distance[exact] ** 2))
    return distance


def mpm(prediction, ground_truth, distance: np.ndarray | None = None) -> float:
    """Misclassification penalty metric (Young & Ferryman 2005 [3]_; H-DIBCO 2010 [1]_).

    ``MPM = ½ (MP_FN + MP_FP)``, ``MP_FN = Σ_i d(FN_i) / D``, ``MP_FP = Σ_j d(FP_j) / D``,
    where d is the distance of a wrong pixel to the ground truth's contour
    (:func:`contour_distance`) and the normalisation ``D = Σ_p d(p)`` is the sum of the
    distances of all pixels of the image to that contour, as in the DIBCO definition.
    A fraction: 0 for a perfect prediction, larger the farther errors lie from the true
    strokes. 0 when D = 0 (no contour).

    Parameters
    ----------
    prediction, ground_truth : ndarray
        The two binary images (module conventions).
    distance : ndarray, optional
        :func:`contour_distance` of the ground truth, when already computed.
    """
    pred, gt = _masks(prediction, ground_truth)
    if distance is None:
        distance = contour_distance(gt)
    total = float(distance.sum())
    if total == 0:
        return 0.0
    false_negative = float(distance[gt & ~pred].sum())
    false_positive = float(distance[pred & ~gt].sum())
    return 0.5 * (false_negative + false_positive) / total


# --- all at once --------------------------------------------------------------------------

def evaluate(prediction, ground_truth) -> dict[str, float]:
    """Every metric of ``prediction`` against ``ground_truth``.

    Parameters
    ----------
    prediction, ground_truth : ndarray
        Binary images of one shape: uint8 text 0 / background 255, or bool True on text.

    Returns
    -------
    dict
        ``fm`` (%), ``pfm`` (%), ``psnr`` (dB), ``drd``, ``nrm`` (fraction), ``mpm``
        (fraction) and ``mcc``, as Python floats, in the order of :data:`METRICS`.

    Raises
    ------
    ValueError
        The images differ in shape, or are not 2-D bool/uint8.
    """
    pred, gt = _masks(prediction, ground_truth)
    counts = _confusion(pred, gt)
    return {
        "fm": f_measure(counts),
        "pfm": pseudo_f_measure(counts, pred, gt),
        "psnr": psnr(counts),
        "drd": drd(pred, gt),
        "nrm": nrm(counts),
        "mpm": mpm(pred, gt),
        "mcc": mcc(counts),
    }
