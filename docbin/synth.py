"""Synthetic degraded document pages with exact ground truth.

A clean page is text drawn on flat paper: printed paragraphs in OpenCV's Hershey fonts
and handwriting-like pen strokes (smooth looped polylines). Its ground truth is the ink
coverage itself. Degradations then act on any 2-D uint8 gray page, so the same functions
serve the examples, the speed benchmark and the augmentation of real training pages:

=================  ===========================================================
``faint_ink``      ink contrast reduced toward the local paper, partly and unevenly
``paper_texture``  mottling, grain and fibres of the paper
``bleed_through``  a mirrored, blurred, faint second text layer (the verso)
``stains``         smooth blotchy darker regions with a darker tide line
``uneven_light``   a low-frequency illumination field (gradient, vignette, shadow)
``blur``           Gaussian optical blur
``noise``          sensor noise, additive Gaussian plus multiplicative speckle
=================  ===========================================================

Photometric model: a gray level is ``paper · Π gains`` with each gain in [0, 1], so a
degradation multiplies the page by a gain field (``out = page · g``), except faint ink
(``out = bg − (bg − page) · keep``, ``bg`` the local paper level) and noise (additive).

Memory and time: every smooth field is computed on a coarse grid and upsampled with
``cv2.resize`` to a uint8 gain (255 = 1); full-resolution arrays are uint8, and the only
float temporaries at full size are processed in row strips. A 14000 × 10000 page is
generated in seconds within about a gigabyte. Lengths (text height, blur, bleed-through
spread) scale with the page size, so a large page looks like a high-resolution scan of
the same kind of page, except ``noise``, which is per pixel.

Every function takes a :class:`numpy.random.Generator` (or an int seed) and is
reproducible: the same seed gives the same page.
"""

from __future__ import annotations

import itertools

import cv2
import numpy as np

__all__ = [
    "EXAMPLES",
    "KINDS",
    "bleed_through",
    "blur",
    "clean_page",
    "degraded_page",
    "example_pages",
    "faint_ink",
    "noise",
    "paper_texture",
    "stains",
    "transcribed_page",
    "uneven_light",
]

PRINTED_FONTS = (
    cv2.FONT_HERSHEY_SIMPLEX,
    cv2.FONT_HERSHEY_DUPLEX,
    cv2.FONT_HERSHEY_COMPLEX,
    cv2.FONT_HERSHEY_TRIPLEX,
)
SCRIPT_FONTS = (cv2.FONT_HERSHEY_SCRIPT_SIMPLEX, cv2.FONT_HERSHEY_SCRIPT_COMPLEX)

# English letter frequencies (per cent), for words that look like text at a glance.
_LETTERS = np.array(list("etaoinshrdlcumwfgypbvkjxqz"))
_LETTER_P = np.array([12.7, 9.1, 8.2, 7.5, 7.0, 6.7, 6.3, 6.1, 6.0, 4.3, 4.0, 2.8, 2.8,
                      2.4, 2.4, 2.2, 2.0, 2.0, 1.9, 1.5, 1.0, 0.8, 0.15, 0.15, 0.1, 0.07])
_LETTER_P = _LETTER_P / _LETTER_P.sum()
_WORD_LEN_P = np.array([3, 17, 21, 16, 11, 9, 8, 6, 4, 3, 2], float)  # lengths 1..11
_WORD_LEN_P = _WORD_LEN_P / _WORD_LEN_P.sum()

# Rows per strip when a full-size float temporary is needed (about 4 M pixels).
_STRIP_PIXELS = 1 << 22


# --------------------------------------------------------------------------- helpers

def _generator(rng) -> np.random.Generator:
    return rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)


def _check_page(page: np.ndarray) -> np.ndarray:
    page = np.asarray(page)
    if page.dtype != np.uint8 or page.ndim != 2:
        raise ValueError(f"expected a 2-D uint8 gray page, got dtype {page.dtype} and shape "
                         f"{page.shape}; convert with docbin.io.as_gray first")
    if page.size == 0:
        raise ValueError("the page is empty")
    return page


def _check_size(rows: int, cols: int) -> None:
    if int(rows) < 16 or int(cols) < 16:
        raise ValueError(f"a synthetic page needs at least 16 × 16 pixels, got {rows} × {cols}")


def _grid_shape(rows: int, cols: int, long_side: int) -> tuple[int, int]:
    """A coarse grid of the page's aspect ratio whose longer side has ``long_side`` cells."""
    scale = min(1.0, long_side / max(rows, cols))
    return max(2, round(rows * scale)), max(2, round(cols * scale))


def _unit_grid(shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Row and column coordinates in [0, 1] on a grid (float32)."""
    yy = np.linspace(0.0, 1.0, shape[0], dtype=np.float32)[:, None]
    xx = np.linspace(0.0, 1.0, shape[1], dtype=np.float32)[None, :]
    return np.broadcast_to(yy, shape), np.broadcast_to(xx, shape)


def _smooth_noise(shape: tuple[int, int], rng: np.random.Generator, sigma: float) -> np.ndarray:
    """Gaussian-filtered white noise (σ in grid cells), normalised to mean 0 and sd 1."""
    field = rng.standard_normal(shape, dtype=np.float32)
    if sigma > 0:
        field = cv2.GaussianBlur(field, (0, 0), sigma, borderType=cv2.BORDER_REFLECT)
    field -= field.mean()
    return field / max(float(field.std()), 1e-12)


def _to_u8(field01: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(field01 * 255.0), 0, 255).astype(np.uint8)


def _upsample(field_u8: np.ndarray, rows: int, cols: int) -> np.ndarray:
    if field_u8.shape == (rows, cols):
        return field_u8
    return cv2.resize(field_u8, (cols, rows), interpolation=cv2.INTER_LINEAR)


def _apply_gain(page: np.ndarray, gain01: np.ndarray) -> np.ndarray:
    """``page · g`` with a coarse gain field g in [0, 1], upsampled to the page as uint8."""
    gain = _upsample(_to_u8(gain01), *page.shape)
    return cv2.multiply(page, gain, scale=1.0 / 255.0)


def _default_text_height(rows: int, cols: int, rng: np.random.Generator) -> float:
    return max(6.0, min(rows, cols) * rng.uniform(0.018, 0.028))


# --------------------------------------------------------------------------- clean text

def _words(rng: np.random.Generator, count: int) -> list[str]:
    lengths = rng.choice(np.arange(1, 12), size=count, p=_WORD_LEN_P)
    letters = rng.choice(_LETTERS, size=int(lengths.sum()), p=_LETTER_P)
    bounds = np.concatenate([[0], np.cumsum(lengths)])
    words = ["".join(letters[a:b]) for a, b in itertools.pairwise(bounds)]
    marks = rng.random(count)
    for i in range(count):
        if marks[i] < 0.06:
            words[i] = words[i].capitalize()
        elif marks[i] > 0.93:
            words[i] += "," if marks[i] < 0.97 else "."
        elif marks[i] > 0.925:
            words[i] = str(rng.integers(1, 2000))
    return words


def _printed_line(layer, rng, x0, baseline, width, font, scale, thickness, fill, first) -> str:
    """Draw one printed line of random words; ``fill`` is the fraction of the width used.

    Returns the text drawn (empty when no word fits)."""
    words = _words(rng, 64)
    if first:
        words[0] = words[0].capitalize()
    space = cv2.getTextSize(" ", font, scale, thickness)[0][0]
    text, used = [], 0
    for word in words:
        w = cv2.getTextSize(word, font, scale, thickness)[0][0]
        if used + w > width * fill:
            break
        text.append(word)
        used += w + space
    if text:
        cv2.putText(layer, " ".join(text), (int(x0), int(baseline)), font, scale, 255,
                    thickness, cv2.LINE_AA)
    return " ".join(text)


def _handwritten_line(layer, rng, x0, baseline, width, height, thickness, slant, fill):
    """Draw one line of handwriting-like strokes: each word one smooth looped polyline.

    A word of n letters follows ``x = x0 + c·t + r(t)·sin t``, ``y = y0 − e(t)·(1 − cos t)/2``
    for t in [0, 2πn]: one loop per letter, with a per-letter excursion e (x-height,
    ascender or descender) and loop width r smoothed along the stroke, then slanted and
    laid on a wavy baseline.
    """
    samples = 24
    advance = height * rng.uniform(0.5, 0.65)  # horizontal advance per letter
    c = advance / (2 * np.pi)
    strokes, x = [], float(x0)
    wobble = height * 0.04
    while True:
        n = int(rng.integers(1, 9))
        word_width = n * advance + height * 0.3
        if x + word_width > x0 + width * fill:
            break
        t = np.linspace(0.0, 2 * np.pi * n, samples * n + 1)
        letter = np.minimum((t / (2 * np.pi)).astype(int), n - 1)
        kind = rng.choice(3, size=n, p=[0.7, 0.2, 0.1])
        excursion = np.where(kind == 0, 0.5, np.where(kind == 1, 1.0, -0.55))
        excursion = excursion * height * rng.uniform(0.85, 1.15, n)
        loop = c * rng.uniform(0.6, 2.2, n)
        kernel = np.hanning(samples // 2 + 1)
        kernel /= kernel.sum()
        pad = samples // 4
        e = np.convolve(np.pad(excursion[letter], pad, mode="edge"), kernel, "valid")
        r = np.convolve(np.pad(loop[letter], pad, mode="edge"), kernel, "valid")
        y = -e * (1 - np.cos(t)) / 2
        xs = x + c * t + r * np.sin(t) - slant * y
        drift = np.cumsum(rng.standard_normal(t.size)) * wobble / np.sqrt(t.size)
        ys = baseline + y + drift
        strokes.append(np.stack([xs, ys], axis=1))
        x += word_width + height * rng.uniform(0.25, 0.6)
    if strokes:
        pts = [np.rint(s * 16).astype(np.int32) for s in strokes]
        cv2.polylines(layer, pts, False, 255, thickness, cv2.LINE_AA, shift=4)


def _ink_layer(rows: int, cols: int, rng: np.random.Generator, text_height: float | None,
               handwriting: float, transcript: list | None = None) -> np.ndarray:
    """Ink coverage (uint8, 0 paper … 255 full ink) of a page of paragraphs.

    When ``transcript`` is a list, the printed text is appended to it, one string per line
    drawn, top to bottom, with ``""`` between paragraphs; handwritten lines (strokes, not
    letters) add nothing. Recording draws nothing from ``rng``: the page is the same.
    """
    layer = np.zeros((rows, cols), np.uint8)
    height = _default_text_height(rows, cols, rng) if text_height is None else float(text_height)
    top, bottom = rows * rng.uniform(0.04, 0.09), rows * (1 - rng.uniform(0.04, 0.09))
    left, right = cols * rng.uniform(0.05, 0.12), cols * (1 - rng.uniform(0.05, 0.12))
    width = right - left
    y = top
    if rng.random() < 0.6:  # a centred heading
        font = PRINTED_FONTS[rng.integers(len(PRINTED_FONTS))]
        h = height * rng.uniform(1.4, 2.0)
        scale = h / cv2.getTextSize("H", font, 1.0, 1)[0][1]
        thickness = max(1, round(h * rng.uniform(0.08, 0.14)))
        words = " ".join(_words(rng, int(rng.integers(1, 5)))).title()
        w = cv2.getTextSize(words, font, scale, thickness)[0][0]
        if y + h < bottom and w < width:
            cv2.putText(layer, words, (int(left + (width - w) / 2), int(y + h)), font, scale,
                        255, thickness, cv2.LINE_AA)
            if transcript is not None:
                transcript += [words, ""]
        y += h * rng.uniform(2.0, 3.0)
    while True:
        h = height * rng.uniform(0.85, 1.15)
        spacing = h * rng.uniform(1.6, 2.2)
        lines = int(rng.integers(2, 9))
        handwritten = rng.random() < handwriting
        if handwritten:
            thickness = max(2, round(h * rng.uniform(0.06, 0.1)))
            slant = rng.uniform(0.1, 0.5)
        else:
            fonts = PRINTED_FONTS + SCRIPT_FONTS if rng.random() < 0.2 else PRINTED_FONTS
            font = fonts[rng.integers(len(fonts))] | (cv2.FONT_ITALIC if rng.random() < 0.15
                                                        else 0)
            scale = h / cv2.getTextSize("H", font, 1.0, 1)[0][1]
            thickness = max(2, round(h * rng.uniform(0.06, 0.13)))
        indent = h * rng.uniform(0.0, 3.0)
        for i in range(lines):
            baseline = y + h
            if baseline + 0.5 * h > bottom:
                return layer
            last = i == lines - 1
            fill = rng.uniform(0.3, 0.9) if last else rng.uniform(0.96, 1.0)
            x0 = left + (indent if i == 0 else 0.0)
            if handwritten:
                _handwritten_line(layer, rng, x0, baseline, right - x0, h, thickness, slant,
                                  fill)
            else:
                text = _printed_line(layer, rng, x0, baseline, right - x0, font, scale,
                                     thickness, fill, i == 0)
                if transcript is not None and text:
                    transcript.append(text)
            y += spacing
        if transcript and transcript[-1]:
            transcript.append("")
        y += spacing * rng.uniform(0.3, 1.0)


def clean_page(rows: int, cols: int, rng=None, *, text_height: float | None = None,
               handwriting: float = 0.25, paper: float | None = None,
               ink: float | None = None,
               transcript: list | None = None) -> tuple[np.ndarray, np.ndarray]:
    """A clean page of text and its ground truth.

    Paragraphs within random margins, each printed in one Hershey font (size, stroke
    width, italics varied; sometimes a script font) or, with probability
    ``handwriting``, written as handwriting-like looped pen strokes; sometimes a
    centred heading. Text is drawn anti-aliased at full resolution into an ink coverage
    ``a`` in [0, 1]; the page is ``paper − (paper − ink) · a`` and the ground truth is
    ``a ≥ 1/2``.

    Parameters
    ----------
    rows, cols : int
        Page size in pixels (at least 16 each).
    rng : numpy.random.Generator or int, optional
        Source of randomness (an int is a seed).
    text_height : float, optional
        Capital height of body text in pixels; default ``min(rows, cols)·U(0.018, 0.028)``.
    handwriting : float
        Probability that a paragraph is handwritten, in [0, 1].
    paper, ink : float, optional
        Gray levels of paper and ink; defaults ``U(195, 240)`` and ``U(15, 70)``.
    transcript : list, optional
        When given, the printed text is appended to it: one string per line, ``""``
        between paragraphs (handwritten strokes are not letters and add nothing).

    Returns
    -------
    page : ndarray
        uint8 (rows, cols) gray page, dark text on light paper.
    gt : ndarray
        bool (rows, cols), True on ink.
    """
    _check_size(rows, cols)
    if not 0.0 <= handwriting <= 1.0:
        raise ValueError(f"handwriting must be a probability in [0, 1], got {handwriting!r}")
    rng = _generator(rng)
    paper = rng.uniform(195, 240) if paper is None else float(paper)
    ink = rng.uniform(15, 70) if ink is None else float(ink)
    if not 0 <= ink < paper <= 255:
        raise ValueError(f"need 0 <= ink < paper <= 255, got ink={ink!r}, paper={paper!r}")
    layer = _ink_layer(int(rows), int(cols), rng, text_height, handwriting, transcript)
    gt = layer >= 128
    # paper − (paper − ink)·a, all in uint8: the subtrahend never exceeds the paper level
    darkening = cv2.convertScaleAbs(layer, alpha=(paper - ink) / 255.0)
    page = np.full(layer.shape, round(paper), np.uint8)
    cv2.subtract(page, darkening, dst=page)
    return page, gt


# --------------------------------------------------------------------------- degradations

def faint_ink(page: np.ndarray, rng=None, *, strength: float | None = None) -> np.ndarray:
    """Fade the ink toward the local paper level, unevenly.

    ``out = bg − (bg − page) · keep`` where ``bg`` is the local paper level (block maxima
    on a grid of about 256 cells along the long side, dilated and smoothed, never below
    the page) and ``keep = 1 − strength · w``: ``w`` in [0, 1] is a smooth field that
    fades some regions of the page much more than others, modulated at the scale of
    strokes so that ink looks patchy.

    Parameters
    ----------
    page : ndarray
        2-D uint8 gray page.
    rng : numpy.random.Generator or int, optional
    strength : float, optional
        Largest fraction of ink contrast removed, in [0, 1]; default ``U(0.45, 0.7)``.
    """
    page = _check_page(page)
    rng = _generator(rng)
    strength = rng.uniform(0.45, 0.7) if strength is None else float(strength)
    rows, cols = page.shape
    block = max(1, max(rows, cols) // 256)
    r, c = max(1, rows // block), max(1, cols // block)
    crop = page[: r * block, : c * block] if rows >= block and cols >= block else page
    if crop.shape == (r * block, c * block):
        bg_lo = crop.reshape(r, block, c, block).max(axis=3).max(axis=1)
    else:
        bg_lo = np.full((r, c), page.max(), np.uint8)
    bg_lo = cv2.dilate(bg_lo, np.ones((3, 3), np.uint8), borderType=cv2.BORDER_REPLICATE)
    bg_lo = cv2.GaussianBlur(bg_lo, (0, 0), 1.5, borderType=cv2.BORDER_REPLICATE)
    bg = _upsample(bg_lo, rows, cols)
    cv2.max(bg, page, dst=bg)

    grid = _grid_shape(rows, cols, 256)
    regional = 1.0 / (1.0 + np.exp(-2.5 * _smooth_noise(grid, rng, 0.12 * max(grid))
                                   - rng.uniform(-1.0, 1.5)))
    patchy = 0.5 + 0.5 * np.clip(_smooth_noise(grid, rng, 1.5) / 2.5, -1, 1)
    w = np.clip(regional * (0.75 + 0.25 * patchy), 0, 1)
    keep = _upsample(_to_u8(1.0 - strength * w), rows, cols)
    contrast = cv2.subtract(bg, page)
    contrast = cv2.multiply(contrast, keep, scale=1.0 / 255.0)
    return cv2.subtract(bg, contrast)


def paper_texture(page: np.ndarray, rng=None, *, strength: float | None = None) -> np.ndarray:
    """Multiply the page by a paper texture: mottling, grain and fibres.

    ``g = 1 − strength · clip(1/2 + (0.6·m + 0.5·s + 0.6·n)/6, 0, 1)`` with m a
    low-frequency mottle, s a mid-frequency cloud and n fine grain (unit-sd smooth
    noises on grids of 96 cells, 512 cells and half the page resolution); fibres are
    short, slightly darker curves drawn into the grain.

    Parameters
    ----------
    strength : float, optional
        Depth of the texture, in [0, 1]; default ``U(0.06, 0.16)``.
    """
    page = _check_page(page)
    rng = _generator(rng)
    strength = rng.uniform(0.06, 0.16) if strength is None else float(strength)
    rows, cols = page.shape
    fine = (max(2, (rows + 1) // 2), max(2, (cols + 1) // 2))
    mottle = _upsample(_to_u8(0.5 + _smooth_noise(_grid_shape(rows, cols, 96), rng, 6) / 6),
                       *fine)
    cloud = _upsample(_to_u8(0.5 + _smooth_noise(_grid_shape(rows, cols, 512), rng, 2) / 6),
                      *fine)
    texture = mottle.astype(np.float32) * (0.6 / 255) + cloud.astype(np.float32) * (0.5 / 255)
    del mottle, cloud
    texture += _smooth_noise(fine, rng, 0.7) * (0.6 / 6)
    texture -= 0.55
    np.clip(texture + 0.5, 0, 1, out=texture)
    gain = _to_u8(1.0 - strength * texture)
    del texture
    count = int(min(20000, fine[0] * fine[1] / 4e4 * rng.uniform(1, 4)))
    if count:
        n_pts = 8
        length = max(fine) * rng.uniform(0.004, 0.02, count)
        start = rng.uniform((0, 0), (fine[1], fine[0]), (count, 2))
        angle = rng.uniform(0, 2 * np.pi, count)[:, None] + np.cumsum(
            rng.normal(0, 0.25, (count, n_pts)), axis=1)
        step = (length / n_pts)[:, None]
        pts = start[:, None, :] + np.cumsum(
            np.stack([np.cos(angle), np.sin(angle)], axis=2) * step[:, :, None], axis=1)
        level = round(255 * (1 - strength * rng.uniform(0.7, 1.0)))
        cv2.polylines(gain, list(np.rint(pts * 16).astype(np.int32)), False, level, 1,
                      cv2.LINE_AA, shift=4)
    gain = _upsample(gain, rows, cols)
    return cv2.multiply(page, gain, scale=1.0 / 255.0)


def bleed_through(page: np.ndarray, rng=None, *, strength: float | None = None,
                  sigma: float | None = None, verso: np.ndarray | None = None,
                  text_height: float | None = None) -> np.ndarray:
    """Add a faint, mirrored, blurred second text layer: ink showing from the verso.

    ``out = page · (1 − strength · v · w)`` where ``v`` in [0, 1] is the verso's ink
    coverage mirrored left–right and blurred (σ px) and ``w`` in [0.5, 1] a smooth field
    (the show-through is uneven). Computed at reduced resolution (σ ≥ 1.5 grid pixels)
    and upsampled: the layer is blurred anyway.

    Parameters
    ----------
    strength : float, optional
        Darkening of the paper under fully inked verso strokes; default ``U(0.18, 0.32)``.
    sigma : float, optional
        Blur of the verso in page pixels; default ``max(rows, cols) · U(0.0008, 0.002)``.
    verso : ndarray, optional
        A gray page (dark ink on light paper, any size) to show through; by default a
        new page of text is generated.
    text_height : float, optional
        Capital height in page pixels of the generated verso's text (for a real page, about
        that of its own text); default as in :func:`clean_page`.
    """
    page = _check_page(page)
    rng = _generator(rng)
    rows, cols = page.shape
    strength = rng.uniform(0.18, 0.32) if strength is None else float(strength)
    sigma = max(rows, cols) * rng.uniform(0.0008, 0.002) if sigma is None else float(sigma)
    scale = min(1.0, 1.5 / sigma) if sigma > 0 else 1.0
    lo_rows, lo_cols = max(16, round(rows * scale)), max(16, round(cols * scale))
    if verso is None:
        if text_height is None:
            text_height = _default_text_height(rows, cols, rng)
        height = float(text_height) * lo_rows / rows
        coverage = _ink_layer(lo_rows, lo_cols, rng, height, handwriting=0.25)
    else:
        verso = _check_page(verso)
        small = cv2.resize(verso, (lo_cols, lo_rows), interpolation=cv2.INTER_AREA)
        lo, hi = np.percentile(small, [1, 99])
        coverage = _to_u8(np.clip((hi - small.astype(np.float32)) / max(hi - lo, 1.0), 0, 1))
    coverage = coverage[:, ::-1]
    v = coverage.astype(np.float32) * (1.0 / 255)
    v = cv2.GaussianBlur(v, (0, 0), max(sigma * lo_rows / rows, 0.3))
    shift = rng.uniform(-0.01, 0.01, 2) * (lo_rows, lo_cols)
    v = cv2.warpAffine(v, np.float32([[1, 0, shift[1]], [0, 1, shift[0]]]), (lo_cols, lo_rows),
                       borderMode=cv2.BORDER_CONSTANT)
    w = 0.75 + 0.25 * np.clip(_smooth_noise(v.shape, rng, 0.15 * max(v.shape)) / 2, -1, 1)
    return _apply_gain(page, 1.0 - strength * np.clip(v / max(v.max(), 0.5), 0, 1) * w)


def stains(page: np.ndarray, rng=None, *, count: int | None = None,
           depth: float | None = None) -> np.ndarray:
    """Darken the page with smooth, blotchy stains with a darker tide line.

    Each stain has a radius R, an elliptic distance ``d`` from its centre perturbed by
    smooth noise (a blotchy outline), an interior ``σ((1 − d)/0.05)`` mottled by smooth
    noise and a rim ``exp(−((d − 1)/0.04)²)``; its darkening is ``depth · interior ·
    mottle + rim_depth · rim``. Stains combine as ``1 − Π(1 − s_k)`` and the page is
    multiplied by ``1 − darkening``. Computed on a grid of 384 cells along the long side.

    Parameters
    ----------
    count : int, optional
        Number of stains; default 1 to 3.
    depth : float, optional
        Largest darkening of a stain's interior, in [0, 1]; default ``U(0.15, 0.4)`` per
        stain.
    """
    page = _check_page(page)
    rng = _generator(rng)
    count = int(rng.integers(1, 4)) if count is None else int(count)
    rows, cols = page.shape
    grid = _grid_shape(rows, cols, 384)
    yy, xx = _unit_grid(grid)
    yy, xx = yy * (grid[0] - 1), xx * (grid[1] - 1)
    clear = np.ones(grid, np.float32)  # Π(1 − s_k)
    for _ in range(count):
        cy, cx = rng.uniform(0, grid[0]), rng.uniform(0, grid[1])
        radius = rng.uniform(0.1, 0.3) * min(grid)
        aspect, angle = rng.uniform(0.6, 1.6), rng.uniform(0, np.pi)
        dy, dx = yy - cy, xx - cx
        u = (dx * np.cos(angle) + dy * np.sin(angle)) / (radius * aspect)
        v = (-dx * np.sin(angle) + dy * np.cos(angle)) * aspect / radius
        d = np.sqrt(u * u + v * v)
        d += 0.12 * _smooth_noise(grid, rng, 0.25 * radius) \
            + 0.05 * _smooth_noise(grid, rng, 0.06 * radius)
        interior = 1.0 / (1.0 + np.exp(np.clip((d - 1.0) / 0.05, -50, 50)))
        rim = np.exp(-(((d - 1.0) / 0.04) ** 2))
        mottle = np.clip(0.8 + 0.2 * _smooth_noise(grid, rng, 0.08 * radius), 0.4, 1.2)
        k_depth = rng.uniform(0.15, 0.4) if depth is None else float(depth)
        rim_depth = rng.uniform(0.05, 0.15)
        s = np.clip(k_depth * interior * mottle + rim_depth * rim, 0, 1)
        clear *= 1.0 - s
    return _apply_gain(page, clear)


def uneven_light(page: np.ndarray, rng=None, *, strength: float | None = None) -> np.ndarray:
    """Multiply the page by a low-frequency illumination field.

    ``g = 1 − strength · (F − min F)/(max F − min F)`` with F a random mix of a linear
    gradient in a random direction, a vignette (squared distance from a point near the
    centre), very smooth noise and, sometimes, a shadow band ``exp(−x/w)`` along one edge
    (a book's gutter). Computed on a 64-cell grid.

    Parameters
    ----------
    strength : float, optional
        Darkening of the darkest point relative to the brightest; default ``U(0.15, 0.4)``.
    """
    page = _check_page(page)
    rng = _generator(rng)
    strength = rng.uniform(0.15, 0.4) if strength is None else float(strength)
    rows, cols = page.shape
    grid = _grid_shape(rows, cols, 64)
    yy, xx = _unit_grid(grid)
    angle = rng.uniform(0, 2 * np.pi)
    field = rng.uniform(0.2, 1.0) * ((xx - 0.5) * np.cos(angle) + (yy - 0.5) * np.sin(angle))
    cy, cx = rng.uniform(0.3, 0.7, 2)
    field = field + rng.uniform(0.0, 1.0) * ((yy - cy) ** 2 + (xx - cx) ** 2)
    field = field + rng.uniform(0.0, 0.15) * _smooth_noise(grid, rng, 0.2 * max(grid))
    if rng.random() < 0.4:
        side = int(rng.integers(4))
        distance = (xx, 1 - xx, yy, 1 - yy)[side]
        field = field + rng.uniform(0.3, 1.0) * np.exp(-distance / rng.uniform(0.02, 0.08))
    span = float(field.max() - field.min())
    field = (field - field.min()) / max(span, 1e-6)
    return _apply_gain(page, 1.0 - strength * field)


def blur(page: np.ndarray, rng=None, *, sigma: float | None = None) -> np.ndarray:
    """Gaussian blur (out-of-focus optics).

    Parameters
    ----------
    sigma : float, optional
        Standard deviation in pixels; default ``U(0.4, 1.0) · max(1, max(rows, cols)/2000)``
        (a larger page is a finer scan of the same blur).
    """
    page = _check_page(page)
    rng = _generator(rng)
    if sigma is None:
        sigma = rng.uniform(0.4, 1.0) * max(1.0, max(page.shape) / 2000)
    if sigma <= 0:
        return page.copy()
    return cv2.GaussianBlur(page, (0, 0), float(sigma), borderType=cv2.BORDER_REPLICATE)


def noise(page: np.ndarray, rng=None, *, sigma: float | None = None,
          speckle: float | None = None) -> np.ndarray:
    """Sensor noise: additive Gaussian plus multiplicative speckle.

    ``out = clip(round(I + n · sqrt(σ² + (s·I)²)), 0, 255)`` with n standard normal per
    pixel: the sum of independent additive noise of sd σ and speckle ``I·(1 + s·n')``.
    Processed in row strips so no full-size float array exists.

    Parameters
    ----------
    sigma : float, optional
        Additive sd in gray levels; default ``U(2, 7)``.
    speckle : float, optional
        Relative sd of the multiplicative part; default ``U(0.01, 0.04)``.
    """
    page = _check_page(page)
    rng = _generator(rng)
    sigma = rng.uniform(2.0, 7.0) if sigma is None else float(sigma)
    speckle = rng.uniform(0.01, 0.04) if speckle is None else float(speckle)
    rows, cols = page.shape
    out = np.empty_like(page)
    strip = max(1, _STRIP_PIXELS // cols)
    for r0 in range(0, rows, strip):
        values = page[r0:r0 + strip].astype(np.float32)
        sd = values * np.float32(speckle)
        np.square(sd, out=sd)
        sd += np.float32(sigma * sigma)
        np.sqrt(sd, out=sd)
        sd *= rng.standard_normal(values.shape, dtype=np.float32)
        values += sd
        np.clip(values, 0, 255, out=values)
        np.rint(values, out=values)
        out[r0:r0 + strip] = values
    return out


# Canonical order, from the document to the camera: what happened to the paper, then the
# light, the optics and the sensor. degraded_page applies the chosen kinds in this order.
KINDS = {
    "faint_ink": faint_ink,
    "paper_texture": paper_texture,
    "bleed_through": bleed_through,
    "stains": stains,
    "uneven_light": uneven_light,
    "blur": blur,
    "noise": noise,
}


def degraded_page(rows: int, cols: int, seed: int = 0, kinds=tuple(KINDS), *,
                  text_height: float | None = None,
                  handwriting: float = 0.25,
                  transcript: list | None = None) -> tuple[np.ndarray, np.ndarray]:
    """A synthetic degraded page and its ground truth.

    A :func:`clean_page` is degraded by each of ``kinds`` in the canonical order of
    :data:`KINDS` (faint ink, paper texture, bleed-through, stains, uneven light, blur,
    noise), whatever order they are given in. The clean page and each degradation draw
    from their own streams ``default_rng([seed, i])``, so the same seed gives the same
    text whichever kinds are chosen.

    Parameters
    ----------
    rows, cols : int
        Page size in pixels.
    seed : int
        Seed; the same seed gives the same page.
    kinds : iterable of str
        Names from :data:`KINDS`; by default all of them.
    text_height, handwriting, transcript
        Passed to :func:`clean_page`.

    Returns
    -------
    page : ndarray
        uint8 (rows, cols) gray page.
    gt : ndarray
        bool (rows, cols), True on ink (the clean page's ink).
    """
    kinds = [kinds] if isinstance(kinds, str) else list(kinds)
    unknown = [k for k in kinds if k not in KINDS]
    if unknown:
        raise ValueError(f"unknown degradation {unknown[0]!r}; choose from "
                         f"{', '.join(KINDS)}")
    page, gt = clean_page(rows, cols, np.random.default_rng([seed, 0]),
                          text_height=text_height, handwriting=handwriting,
                          transcript=transcript)
    for index, (name, degrade) in enumerate(KINDS.items(), start=1):
        if name in kinds:
            page = degrade(page, np.random.default_rng([seed, index]))
    return page, gt


def transcribed_page(rows: int, cols: int, seed: int = 0, kinds=tuple(KINDS), *,
                     text_height: float | None = None) -> tuple[np.ndarray, np.ndarray, str]:
    """A printed synthetic degraded page, its ground truth and its exact text.

    :func:`degraded_page` with ``handwriting=0`` (handwriting-like strokes are not
    letters, so a page with them has no transcription). The text is every printed line
    as drawn, one per line, paragraphs separated by a blank line; the verso shown by
    ``bleed_through`` is not part of it.

    Returns
    -------
    page, gt
        As :func:`degraded_page`.
    text : str
        The transcription, ending with a newline.
    """
    transcript: list[str] = []
    page, gt = degraded_page(rows, cols, seed, kinds, text_height=text_height,
                             handwriting=0.0, transcript=transcript)
    while transcript and not transcript[-1]:
        transcript.pop()
    return page, gt, "\n".join(transcript) + "\n"


# The bundled examples: name -> (seed, kinds). examples/README.md documents them.
EXAMPLES = {
    "stained": (11, ("paper_texture", "stains", "uneven_light", "blur", "noise")),
    "bleed_through": (12, ("paper_texture", "bleed_through", "uneven_light", "blur", "noise")),
    "faint_ink": (13, ("faint_ink", "paper_texture", "uneven_light", "blur", "noise")),
}
EXAMPLE_SIZE = (1200, 900)


def example_pages(rows: int = EXAMPLE_SIZE[0], cols: int = EXAMPLE_SIZE[1]):
    """Yield ``(name, page, gt)`` for the bundled example pages of :data:`EXAMPLES`."""
    for name, (seed, kinds) in EXAMPLES.items():
        page, gt = degraded_page(rows, cols, seed, kinds)
        yield name, page, gt
