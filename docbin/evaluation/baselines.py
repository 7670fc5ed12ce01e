"""Classical thresholding baselines for ``docbin benchmark``: Otsu, Niblack, Sauvola, Wolf.

Each function takes a 2-D uint8 gray page (or an RGB/RGBA array, converted to gray as in
:func:`docbin.io.as_gray`) and returns a binary page in docbin's convention, text 0
and background 255. For the local methods a pixel is text when its gray value is below
its threshold, ``I < T`` (strict, so that a flat region, where T = I for Niblack and Wolf,
stays background); for Otsu, whose T is the last gray level of the dark class, ``I ≤ T``.

The local methods need the mean ``m`` and standard deviation ``s`` of a ``window × window``
neighbourhood of every pixel; :func:`local_mean_std` computes both from integral images
(Shafait et al. 2008), in time independent of the window. Near the borders the window is
cut to the part inside the page, so the statistics use only real pixels.

Parameters are the ones named in the papers (see each function); they are fixed for the
benchmark, not tuned on the development data.

References
----------
.. [1] N. Otsu, "A threshold selection method from gray-level histograms", IEEE Trans.
   Systems, Man, and Cybernetics 9(1), 1979.
.. [2] W. Niblack, "An Introduction to Digital Image Processing", Prentice Hall, 1986.
.. [3] J. Sauvola, M. Pietikäinen, "Adaptive document image binarization", Pattern
   Recognition 33(2), 2000.
.. [4] C. Wolf, J.-M. Jolion, F. Chassaing, "Text localization, enhancement and
   binarization in multimedia documents", ICPR 2002.
.. [5] F. Shafait, D. Keysers, T. M. Breuel, "Efficient implementation of local adaptive
   thresholding techniques using integral images", DRR 2008.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from docbin.io import as_gray

#: Names accepted by :func:`get_baseline` and ``docbin benchmark --baseline``.
BASELINES = ("otsu", "sauvola", "wolf", "niblack")


def _check_window(window: int) -> None:
    if int(window) != window or window < 1:
        raise ValueError(f"window must be a positive integer, got {window!r}")


def local_mean_std(image: np.ndarray, window: int) -> tuple[np.ndarray, np.ndarray]:
    """Mean and standard deviation of every pixel's ``window × window`` neighbourhood.

    The window of pixel (r, c) covers rows ``r − window//2 … r − window//2 + window − 1``
    (centred for odd windows) and the same for columns, cut to the page. With ``S`` and
    ``Q`` the integral images of I and I², and n the number of pixels in the cut window,
    ``m = ΣI / n`` and ``s = √max(ΣI² / n − m², 0)``, each sum taken as
    ``S[r1, c1] − S[r0, c1] − S[r1, c0] + S[r0, c0]``.

    Parameters
    ----------
    image : ndarray
        2-D uint8 gray page.
    window : int
        Side of the window in pixels.

    Returns
    -------
    mean, std : ndarray
        float64 arrays of the page's shape.
    """
    import cv2

    _check_window(window)
    image = np.ascontiguousarray(image, dtype=np.uint8)
    rows, cols = image.shape
    sums, squares = cv2.integral2(image, sdepth=cv2.CV_64F, sqdepth=cv2.CV_64F)
    half = int(window) // 2
    r0 = np.clip(np.arange(rows) - half, 0, rows)
    r1 = np.clip(np.arange(rows) - half + window, 0, rows)
    c0 = np.clip(np.arange(cols) - half, 0, cols)
    c1 = np.clip(np.arange(cols) - half + window, 0, cols)

    def box(table: np.ndarray) -> np.ndarray:
        return (table[np.ix_(r1, c1)] - table[np.ix_(r0, c1)]
                - table[np.ix_(r1, c0)] + table[np.ix_(r0, c0)])

    count = np.outer(r1 - r0, c1 - c0).astype(np.float64)
    mean = box(sums) / count
    variance = box(squares) / count - mean * mean
    return mean, np.sqrt(np.maximum(variance, 0.0))


def _binary(text: np.ndarray) -> np.ndarray:
    return np.where(text, 0, 255).astype(np.uint8)


def otsu(image: np.ndarray) -> np.ndarray:
    """Otsu's global threshold [1]_: the T that maximises the between-class variance
    ``ω₀(T) ω₁(T) (μ₀(T) − μ₁(T))²`` of the gray histogram (``cv2.THRESH_OTSU``).
    Text: ``I ≤ T``."""
    import cv2

    gray = as_gray(image)
    threshold, _ = cv2.threshold(gray, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    return _binary(gray <= threshold)


def niblack(image: np.ndarray, window: int = 15, k: float = -0.2) -> np.ndarray:
    """Niblack's local threshold [2]_: ``T = m + k · s``; text where ``I < T``.

    Niblack's parameters: a 15 × 15 window and k = −0.2 (dark text on a light page).
    """
    gray = as_gray(image)
    mean, std = local_mean_std(gray, window)
    return _binary(gray < mean + k * std)


def sauvola(image: np.ndarray, window: int = 15, k: float = 0.5, r: float = 128.0) -> np.ndarray:
    """Sauvola and Pietikäinen's local threshold [3]_: ``T = m · (1 + k · (s / R − 1))``;
    text where ``I < T``.

    The paper's parameters: k = 0.5 and R = 128 (the dynamic range of the standard
    deviation of 8-bit pages), with a 15 × 15 window (the paper scales the window with
    the resolution of its ~300 dpi scans; 15 is the usual choice for such pages).
    """
    gray = as_gray(image)
    mean, std = local_mean_std(gray, window)
    return _binary(gray < mean * (1.0 + k * (std / r - 1.0)))


def wolf(image: np.ndarray, window: int = 40, k: float = 0.5) -> np.ndarray:
    """Wolf and Jolion's local threshold [4]_; text where ``I < T``.

    ``T = (1 − k) · m + k · M + k · (s / R) · (m − M)``, with M the page's minimum gray
    value and R the largest local standard deviation on the page (Sauvola's fixed R made
    adaptive). The authors' parameters: k = 0.5 and a 40 × 40 window.
    """
    gray = as_gray(image)
    mean, std = local_mean_std(gray, window)
    minimum = float(gray.min())
    largest_std = float(std.max())
    spread = std / largest_std if largest_std > 0 else np.zeros_like(std)
    threshold = (1.0 - k) * mean + k * minimum + k * spread * (mean - minimum)
    return _binary(gray < threshold)


_FUNCTIONS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "otsu": otsu, "sauvola": sauvola, "wolf": wolf, "niblack": niblack}


def get_baseline(name: str) -> Callable[[np.ndarray], np.ndarray]:
    """The baseline function called ``name`` (one of :data:`BASELINES`)."""
    try:
        return _FUNCTIONS[name]
    except KeyError:
        raise ValueError(f"unknown baseline {name!r}; choose from {', '.join(BASELINES)}") \
            from None
