"""Training data: page discovery, the per-page cache, augmentation, patch windows.

Every page is reduced once to what training needs (METHOD.md §4): the page statistics
(b, t, K), a sample of the *candidate* pixels ``I < L_a`` (only they can become ink, so
only they depend on f) with their I, L_m, ground truth and position, the counts of the
other pixels, and the 512×512 windows the network sees (gray, L_m and the candidate
mask). Records are cached as ``.npz`` files keyed by the source file, its size and
modification time, the augmentation variant and the cache version, so epochs never
recompute median filters.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from ..model import crop_patch, select_patches
from ..stats import page_stats, strong_edges
from ..threshold import local_stats

CACHE_VERSION = 2
IMAGE_SUFFIXES = (".png", ".tif", ".tiff", ".bmp", ".jpg", ".jpeg", ".pgm", ".ppm", ".webp")


@dataclass
class PageRecord:
    """What training needs of one (possibly augmented) page."""

    name: str
    collection: str
    variant: int
    b: float
    t: float
    window_radius: int
    rows: int
    cols: int
    # sampled candidate pixels (I < L_a)
    sample_image: np.ndarray  # uint8
    sample_median: np.ndarray  # uint8 (L_m)
    sample_text: np.ndarray  # bool (ground truth)
    sample_pos: np.ndarray  # float32 [n, 2] (row, col) / (rows, cols)
    n_candidates: int
    n_text: int  # text pixels of the whole page
    n_text_outside: int  # text pixels that are not candidates (always missed)
    windows: np.ndarray  # uint8 [W, 3, S, S]: gray, L_m, candidate mask (0/1)
    boxes: np.ndarray  # int32 [W, 4]: row0, col0, rows, cols inside the page

    @property
    def n_pixels(self) -> int:
        return self.rows * self.cols


def find_pairs(roots) -> list[tuple[str, Path, Path]]:
    """(collection, image, ground truth) for every ``<root>/<collection>/img/<name>`` with
    a ``<root>/<collection>/gt/<name>`` of the same stem."""
    pairs = []
    for root in roots:
        root = Path(root)
        if not root.is_dir():
            raise FileNotFoundError(f"training data folder not found: {root}")
        for img_dir in sorted(root.glob("*/img")):
            gt_dir = img_dir.parent / "gt"
            gts = {p.stem: p for p in gt_dir.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES} \
                if gt_dir.is_dir() else {}
            for img in sorted(img_dir.iterdir()):
                if img.suffix.lower() in IMAGE_SUFFIXES and img.stem in gts:
                    pairs.append((img_dir.parent.name, img, gts[img.stem]))
    return pairs


def _read_gray(path: Path) -> np.ndarray:
    from ..io import read_image

    return read_image(path).image


def augment(gray: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A photometric variant of a page that keeps the ground truth aligned.

    Gamma, contrast, blur and noise, and sometimes a synthetic stain or bleed-through
    layer; the statistics are then measured anew on the result.
    """
    page = gray.astype(np.float32) / 255.0
    page = page ** rng.uniform(0.7, 1.5)
    mean = float(page.mean())
    page = mean + (page - mean) * rng.uniform(0.6, 1.1)
    page = page * 255.0
    if rng.random() < 0.5:
        page = cv2.GaussianBlur(page, (0, 0), rng.uniform(0.5, 1.2))
    out = np.clip(page, 0, 255).astype(np.uint8)
    try:
        from .. import synth
    except ImportError:  # the generator is optional for augmentation
        synth = None
    if synth is not None:
        kind = rng.integers(0, 3)
        seed = int(rng.integers(0, 2**31 - 1))
        if kind == 1 and hasattr(synth, "stains"):
            out = synth.stains(out, np.random.default_rng(seed))
        elif kind == 2 and hasattr(synth, "bleed_through"):
            out = synth.bleed_through(out, np.random.default_rng(seed))
    noise = rng.uniform(0.0, 6.0)
    if noise > 0.5:
        out = np.clip(out + rng.normal(0, noise, out.shape).astype(np.float32), 0, 255)
        out = out.astype(np.uint8)
    return out


def make_record(gray: np.ndarray, text: np.ndarray, *, name: str, collection: str,
                variant: int, rng: np.random.Generator, n_samples: int = 65536,
                window: int = 512, n_windows: int = 8) -> PageRecord:
    """Reduce a page and its ground truth to a :class:`PageRecord`."""
    if gray.shape != text.shape:
        raise ValueError(f"{name}: image {gray.shape} and ground truth {text.shape} differ")
    stats = page_stats(gray)
    local = local_stats(gray, stats.window_radius)
    candidate = gray < local.local_mean
    idx = np.flatnonzero(candidate)
    if idx.size > n_samples:
        idx = np.sort(rng.choice(idx, n_samples, replace=False))
    rows, cols = gray.shape
    r, c = np.divmod(idx, cols)
    edges, _ = strong_edges(gray)
    # the runtime's own patch rule and cropping, so training sees what inference sees
    boxes = select_patches(edges, window, n_windows).astype(np.int32)
    windows = np.stack([
        np.stack([crop_patch(gray, box, window), crop_patch(local.local_median, box, window),
                  crop_patch(candidate.astype(np.uint8), box, window)])
        for box in boxes])
    return PageRecord(
        name=name, collection=collection, variant=variant, b=stats.b, t=stats.t,
        window_radius=stats.window_radius, rows=rows, cols=cols,
        sample_image=gray.ravel()[idx], sample_median=local.local_median.ravel()[idx],
        sample_text=text.ravel()[idx],
        sample_pos=np.stack([(r + 0.5) / rows, (c + 0.5) / cols], 1).astype(np.float32),
        n_candidates=int(candidate.sum()), n_text=int(text.sum()),
        n_text_outside=int((text & ~candidate).sum()), windows=windows, boxes=boxes)


def _cache_key(image: Path, variant: int, seed: int) -> str:
    st = image.stat()
    raw = f"{image.resolve()}|{st.st_size}|{st.st_mtime_ns}|{variant}|{seed}|{CACHE_VERSION}"
    return hashlib.sha1(raw.encode()).hexdigest()[:16]


def load_record(collection: str, image: Path, gt: Path, *, variant: int, seed: int,
                cache_dir: Path | None) -> PageRecord:
    """The record of a page (variant 0) or of an augmented copy (variant > 0), cached."""
    path = None
    if cache_dir is not None:
        path = Path(cache_dir) / f"{collection}__{image.stem}__{variant}__{_cache_key(image, variant, seed)}.npz"
        if path.exists():
            with np.load(path) as z:
                fields = {k: z[k] for k in z.files}
            for k in ("b", "t"):
                fields[k] = float(fields[k])
            for k in ("window_radius", "rows", "cols", "n_candidates", "n_text",
                      "n_text_outside", "variant"):
                fields[k] = int(fields[k])
            fields["name"], fields["collection"] = str(fields["name"]), str(fields["collection"])
            return PageRecord(**fields)
    rng = np.random.default_rng([seed, variant, int(hashlib.sha1(str(image).encode()).hexdigest()[:8], 16)])
    gray = _read_gray(image)
    text = _read_gray(gt) < 128
    if variant > 0:
        gray = augment(gray, rng)
    record = make_record(gray, text, name=image.stem, collection=collection, variant=variant,
                         rng=rng)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp.npz")
        np.savez(tmp, **record.__dict__)
        os.replace(tmp, path)
    return record
