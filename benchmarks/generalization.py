"""Does a learned decision beat the classical method on collections it has never seen?

Trains and tests learned variants on the development pages in splits that imitate unseen
collections, and prints, per split, the mean FM, p-FM, PSNR and DRD of the classical
method and of each variant, with the number of test pages that gain or lose more than
1 FM against the classical method:

- ``era-out``: train on DIBCO 2009–2011 and the non-DIBCO collections (not msi2015), test
  on DIBCO 2012–2014 (later contest years, as the unseen pages are);
- ``family-out``: train without any DIBCO page, test on the 75 DIBCO pages; and train on
  DIBCO only, test on the other collections (msi2015 included);
- ``loco``: leave one collection out, every collection in turn (the mean over the six
  DIBCO folds is reported beside the overall mean).

msi2015 (multispectral pages rendered gray; the classical method scores about 23 FM there)
is never a training collection. A page's result never depends on training on that page.

Variants (``--variants``), all but ``-page`` with the features of docbin/method/refine.py:

- ``refine``: the form of ``--method hybrid`` (docbin/method/refine.py): a small per-pixel network
  re-decides the pixels within ``δ·(B_I − T_I)`` of the threshold f·L_m (δ = 0.1), every
  collection weighted equally in the loss;
- ``refine-page``: the same with the page constants f, T_I/255, B_I/255 as three more
  features;
- ``refine-wide``: δ = 0.2;
- ``refine-all``: the network decides every pixel with I < 1.3·f·L_m (no margin limit);
- ``refine-pooled``: pixels weighted equally (big collections weigh more);
- ``refine-add`` / ``refine-remove``: the network may only turn background into text / only
  text into background (``refine-wide-add``, ``refine-all-add``: the same with δ = 0.2 and
  with no margin limit; ``refine-wide-add-below-mean``: δ = 0.2, adding only pixels that
  also pass the classical mean test I < L_a);
- ``*-reachN``: the text the network adds must lie within N pixels of the classical text
  (:func:`docbin.method.refine.limit_reach`; ``-reach1``: touching it);
- ``*-keep``: after the reach, the added text must keep the classical strokes' shape (fill
  a notch or hole, or join two classical components; no wider strokes:
  :func:`docbin.method.refine.limit_shape_sparse`), e.g. ``refine-wide-add-reach1-keep+synth``;
- ``*-confident``: the network overrides the classical decision only where its probability
  is outside [0.25, 0.75];
- ``*-interior``: trained without the pixels within 1 px of a ground-truth stroke border
  (where ground truths disagree on stroke width; :func:`stroke_border`), e.g.
  ``refine-wide-add-interior-reach1+synth``;
- ``<variant>+synth``: trained with ``--synth N`` generated pages (docbin.synth, as
  ``docbin train --synthetic N`` makes them) as one more collection.

The shipped form is ``refine-wide-add-reach1-keep+synth`` with ``--synth 40``
(models/README.md); ``-reach1+synth`` and ``-reach1-keep+synth`` share their networks (the
limits apply after the network).

    python benchmarks/generalization.py --data ../shared/data/dev --cache runs/gen \\
        --report runs/gen/report.md

``--clean`` measures the clean step instead (docbin/method/clean.py; :func:`clean_main`):
classical, hybrid, classical+clean and hybrid+clean in every split, the clean model trained
and calibrated on the split's training side only (models/README.md)::

    python benchmarks/generalization.py --clean --synth 40 --data ../shared/data/dev \
        --cache runs/gen --report runs/gen/clean_report.md --per-page runs/gen/clean_pages.csv

``--whole`` measures the whole hybrid as the pipeline runs it (:func:`run_whole`): per split
the surface network, the refinement network and the clean model, each trained on the split's
training side only as above, and every test page through docbin.pipeline.binarize_with with
these three models; rows classical, surface (alone), surface+refine (the pipeline's page
before its clean step) and whole::

    python benchmarks/generalization.py --whole --synth 40 --data ../shared/data/dev \
        --cache runs/gen --report runs/gen/whole_report.md --per-page runs/gen/whole_pages.csv

Page features are cached in ``--cache`` (delete it after changing docbin/method/refine.py).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections import defaultdict
from concurrent.futures import ProcessPoolExecutor
from functools import partial
from pathlib import Path

import numpy as np

DIBCO = ["dibco2009", "dibco2010", "dibco2011", "dibco2012", "dibco2013", "dibco2014"]
OTHERS = ["bickley", "phibd", "nabuco", "mcs"]
NEVER_TRAIN = ["msi2015"]
METRICS = ("fm", "pfm", "psnr", "drd")
#: band half-widths (relative to B_I − T_I) whose features are cached; "all" = I < 1.3 f L_m
CACHED_MARGINS = {"0.1": 0.1, "0.2": 0.2, "all": None}


def loco_summary_lines(loco: dict) -> list[str]:
    """Table rows over the leave-one-collection-out folds taken together (all pages, and
    the DIBCO folds): ``loco[variant]`` holds (collection, ΔFM, scores) per test page."""
    lines = []
    for label, keep in (("loco: all pages", lambda c: True),
                        ("loco: DIBCO folds", lambda c: c in DIBCO)):
        for variant, rows in loco.items():
            rows = [r for r in rows if keep(r[0])]
            if not rows:
                continue
            mean = {k: np.mean([r[2][k] for r in rows]) for k in METRICS}
            better = "" if variant == "classical" else sum(r[1] > 1 for r in rows)
            worse = "" if variant == "classical" else sum(r[1] < -1 for r in rows)
            lines.append(f"| {label} | {len(rows)} | {variant} | {mean['fm']:.2f} | "
                         f"{mean['pfm']:.2f} | {mean['psnr']:.2f} | {mean['drd']:.2f} | "
                         f"{better} | {worse} | |")
    return lines


def splits(collections: list[str]) -> list[tuple[str, list[str], list[str]]]:
    """(name, train collections, test collections) of every split."""
    train_pool = [c for c in collections if c not in NEVER_TRAIN]
    present = set(collections)
    out = [
        ("era-out", [c for c in DIBCO[:3] + OTHERS if c in present],
         [c for c in DIBCO[3:] if c in present]),
        ("family-out: others → DIBCO", [c for c in OTHERS if c in present],
         [c for c in DIBCO if c in present]),
        ("family-out: DIBCO → others", [c for c in DIBCO if c in present],
         [c for c in OTHERS + NEVER_TRAIN if c in present]),
    ]
    for c in collections:
        out.append((f"loco: {c}", [t for t in train_pool if t != c], [c]))
    return out


# --- per-page cache -------------------------------------------------------------------------


def _prepare(job) -> str:
    """Classical decision, ground truth and band features of one page, cached as .npz."""
    _collection, image_path, gt_path, out = job
    if Path(out).exists():
        return out
    from docbin.io import read_image
    from docbin.method import refine
    from docbin.method.page import classical_page

    gray = read_image(image_path).image
    gt = read_image(gt_path).image < 128
    page = classical_page(gray, local=True)
    f, local = page.factor, page.local
    classical = page.ink()
    constants = refine.PageConstants.of(page)
    arrays = {"gt": np.packbits(gt), "classical": np.packbits(classical),
              "shape": np.array(gray.shape), "page": np.array(
                  [page.ink_intensity, page.contour_intensity, page.window_radius, f])}
    for key, margin in CACHED_MARGINS.items():
        if margin is None:
            where = gray.astype(np.float32) < np.float32(1.3 * f) * local.local_median
        else:
            where = refine.band_mask(gray, local.local_median, constants, margin)
        arrays[f"index_{key}"] = np.flatnonzero(where).astype(np.int64)
        x = refine.features(gray, local.local_median, local.local_mean, constants, where)
        constant = np.array([f, page.ink_intensity / 255, page.contour_intensity / 255],
                            np.float32)
        arrays[f"x_{key}"] = np.hstack([x, np.broadcast_to(constant, (len(x), 3))]).astype(
            np.float16)
    tmp = out + ".tmp.npz"
    np.savez(tmp, **arrays)
    os.replace(tmp, out)
    return out


class Page:
    def __init__(self, collection: str, name: str, path: str):
        self.collection, self.name, self.path = collection, name, path
        self._data = None

    @property
    def data(self):
        if self._data is None:
            with np.load(self.path) as z:
                self._data = {k: z[k] for k in z.files}
        return self._data

    def mask(self, key: str) -> np.ndarray:
        shape = tuple(self.data["shape"])
        return np.unpackbits(self.data[key])[: shape[0] * shape[1]].reshape(shape).astype(bool)


def make_synthetic(folder: Path, count: int) -> Path:
    """``count`` generated pages (:func:`docbin.training.refine.synthetic_pairs`, the pages of
    ``docbin train --synthetic``) as the collection ``synth`` under ``folder``."""
    from PIL import Image

    from docbin.training.refine import synthetic_pairs

    root = folder / "synth"
    (root / "img").mkdir(parents=True, exist_ok=True)
    (root / "gt").mkdir(parents=True, exist_ok=True)
    if len(list((root / "gt").glob("*.png"))) >= count:
        return folder
    for i, (page, gt) in enumerate(synthetic_pairs(count)):
        Image.fromarray(page).save(root / "img" / f"S{i:03d}.png")
        Image.fromarray(np.where(gt, 0, 255).astype(np.uint8)).save(root / "gt" / f"S{i:03d}.png")
    return folder


def build_cache(data, cache: Path, jobs: int) -> list[Page]:
    from docbin.training.refine import find_pairs

    cache.mkdir(parents=True, exist_ok=True)
    todo, pages = [], []
    roots = data if isinstance(data, list) else [data]
    for collection, image, gt in find_pairs(roots):
        out = str(cache / f"{collection}__{image.stem}.npz")
        todo.append((collection, str(image), str(gt), out))
        pages.append(Page(collection, image.stem, out))
    start = time.perf_counter()
    with ProcessPoolExecutor(jobs) as pool:
        for done, _ in enumerate(pool.map(_prepare, todo), 1):
            if done % 20 == 0:
                print(f"  cache: {done}/{len(todo)} pages, {time.perf_counter() - start:.0f} s",
                      file=sys.stderr)
    return pages


# --- learning -------------------------------------------------------------------------------


#: the cached features: docbin.method.refine.FEATURES, then the page constants f, t, b
LOCAL_COLUMNS = 13


def stroke_border(gt: np.ndarray) -> np.ndarray:
    """Pixels within 1 px of a ground-truth stroke's border (their 3 × 3 square holds both
    text and background): where ground truths disagree on stroke width."""
    import cv2

    square = np.ones((3, 3), np.uint8)
    text = gt.view(np.uint8)
    return cv2.dilate(text, square) != cv2.erode(text, square)


def train_variant(pages: list[Page], key: str, weighting: str, seed: int = 0,
                  per_page: int = 10000, epochs: int = 4, local: bool = True,
                  interior: bool = False):
    """Fit the refinement network on the band pixels of ``pages``; returns a predictor.
    With ``interior``, the pixels of the ground truth's stroke borders
    (:func:`stroke_border`) are left out of training, so that the network cannot learn a
    collection's stroke width."""
    from docbin.training.refine import fit_refiner

    rng = np.random.default_rng(seed)
    xs, ys, ws = [], [], []
    by_collection = defaultdict(int)
    for page in pages:
        by_collection[page.collection] += 1
    for page in pages:
        x = page.data[f"x_{key}"]
        index = page.data[f"index_{key}"]
        if interior:
            keep = ~stroke_border(page.mask("gt")).ravel()[index]
            index, x = index[keep], x[keep]
        if len(index) == 0:
            continue
        take = rng.choice(len(index), min(per_page, len(index)), replace=False)
        gt = page.mask("gt").ravel()[index[take]]
        x = x[take].astype(np.float32)
        xs.append(x[:, :LOCAL_COLUMNS] if local else x)
        ys.append(gt)
        # equal collections: every collection's samples weigh the same in total
        weight = 1.0 / (by_collection[page.collection] * len(take)) if weighting == "collection" \
            else 1.0
        ws.append(np.full(len(take), weight, np.float32))
    x, y, w = np.concatenate(xs), np.concatenate(ys), np.concatenate(ws)
    w = w * (len(w) / w.sum())
    return fit_refiner(x, y, w, seed=seed, epochs=epochs)


def cached_fit(path: Path, fit):
    """A trained predictor, stored at ``path`` (torch module) so reruns reuse it."""
    import torch

    from docbin.training.refine import build_network, predictor

    if path.exists():
        state = torch.load(path)
        net = build_network(state["mean"].shape[0], state["mean"].numpy(),
                            1.0 / state["scale"].numpy())
        net.load_state_dict(state)
        return predictor(net)
    predict = fit()
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(predict.module.state_dict(), path)
    return predict


def refined_mask(page: Page, key: str, predict, confidence: float = 0.0,
                 local: bool = True, direction: str = "both", reach: int = 0,
                 shape: str = "free") -> np.ndarray:
    rows_cols = tuple(page.data["shape"])
    ink = page.mask("classical").ravel().copy()
    index = page.data[f"index_{key}"]
    if len(index):
        x = page.data[f"x_{key}"].astype(np.float32)
        p = predict(x[:, :LOCAL_COLUMNS] if local else x)
        sure = np.abs(p - 0.5) > confidence
        decided = p > 0.5
        if direction == "add":
            sure &= decided
        elif direction == "add-below-mean":  # the classical mean test I < L_a still holds
            sure &= decided & (x[:, 1] < 0)
        elif direction == "remove":
            sure &= ~decided
        before = ink[index[sure]]
        ink[index[sure]] = decided[sure]
        if reach:  # as docbin.method.refine.RowRefiner.finish: added text must touch classical text
            from docbin.method.refine import MADE_BACKGROUND, MADE_TEXT, limit_reach

            changes = np.zeros(ink.shape, np.uint8)
            changes[index[sure][decided[sure] & ~before]] = MADE_TEXT
            changes[index[sure][~decided[sure] & before]] = MADE_BACKGROUND
            limit_reach(ink.reshape(rows_cols), changes.reshape(rows_cols), reach, text=True,
                        background=False)
        if shape == "keep":  # as RowRefiner.finish: then the strokes' shape
            from docbin.method.refine import limit_shape_sparse

            made = index[sure]
            limit_shape_sparse(ink.reshape(rows_cols), made[decided[sure] & ~before],
                               removed=made[~decided[sure] & before], text=True,
                               background=False)
    return ink.reshape(rows_cols)


def score(prediction: np.ndarray, gt: np.ndarray) -> dict:
    from docbin.evaluation import metrics

    result = metrics.evaluate(prediction, gt)
    return {k: float(result[k]) for k in METRICS}


#: variant -> (cached band, collection weighting, confidence): the network overrides the
#: classical decision of a band pixel only where |p − 0.5| > confidence
VARIANTS = {
    "refine": ("0.1", "collection", 0.0),
    "refine-page": ("0.1", "collection", 0.0),
    "refine-wide": ("0.2", "collection", 0.0),
    "refine-all": ("all", "collection", 0.0),
    "refine-pooled": ("0.1", "pixel", 0.0),
    "refine-add": ("0.1", "collection", 0.0),
    "refine-remove": ("0.1", "collection", 0.0),
    "refine-wide-add": ("0.2", "collection", 0.0),
    "refine-all-add": ("all", "collection", 0.0),
    "refine-wide-add-below-mean": ("0.2", "collection", 0.0),
    "refine-confident": ("0.1", "collection", 0.25),
    "refine-wide-add-reach1": ("0.2", "collection", 0.0),
    "refine-wide-add-reach2": ("0.2", "collection", 0.0),
    "refine-wide-add-reach4": ("0.2", "collection", 0.0),
}


def variant_form(variant: str) -> tuple[str, int, str]:
    """(variant without its ``-reachN`` and ``-keep`` suffixes, N (0 without one), the
    shape rule: "keep" with ``-keep``, else "free")."""
    shape = "keep" if variant.endswith("-keep") else "free"
    variant = variant.removesuffix("-keep")
    base, _, reach = variant.rpartition("-reach")
    return ((base, int(reach)) if base and reach.isdigit() else (variant, 0)) + (shape,)


# --- the surface step (docbin/method/adjust.py) ------------------------------------------------
#
# Kept apart from the refinement variants above: its own page cache (the prepared pages of
# docbin/training/surface.py), its own training and its own table. Run with
# ``--variants surface``.


def surface_pages(roots, cache: Path, synth: int) -> tuple[list[dict], list[dict]]:
    """Prepared pages (docbin.training.surface.prepare_page) of the development collections,
    with their image and ground-truth paths, and ``synth`` generated pages."""
    from docbin.training import surface as ts
    from docbin.training.refine import find_pairs

    pairs = find_pairs(roots)
    start = time.perf_counter()
    pages = ts.prepare_pages(pairs, cache / "surface-pages", progress=lambda k: k % 20 or print(
        f"  surface cache: {k}/{len(pairs)} pages, {time.perf_counter() - start:.0f} s",
        file=sys.stderr))
    for page, (_, image, gt) in zip(pages, pairs):
        page["image_path"], page["gt_path"] = str(image), str(gt)
    synthetic = [("synth", f"S{i:03d}", g, t) for i, (g, t) in
                 enumerate(ts.synthetic_pairs(synth))] if synth else []
    generated = ts.prepare_pages(synthetic, cache / "surface-pages", seed=10000)
    return pages, generated


def surface_binarize(page: dict, model, balance: float = 0.5):
    """(classical ink mask, surface-step ink mask, ground truth, info) of a prepared page,
    through the runtime's own path: surface_factor → binary_page."""
    from docbin.io import read_image
    from docbin.method import decision as threshold
    from docbin.method.adjust import surface_factor
    from docbin.method.stats import BlockHistograms, PageStats

    gray = read_image(page["image_path"]).image
    gt = read_image(page["gt_path"]).image < 128
    ink, contour, radius, f = page["page"]
    stats = PageStats(float(ink), float(contour), int(radius), 0, 0)
    blocks = BlockHistograms(512, page["contour"], page["ink"])
    factor, info = surface_factor(gray, stats, float(f), model=model, balance=balance,
                                  blocks=blocks)
    classical = threshold.binary_page(gray, int(radius), float(f)) == 0
    adjusted = classical if not callable(factor) else \
        threshold.binary_page(gray, int(radius), factor) == 0
    return classical, adjusted, gt, info


class _SplitRefiner:
    """The split's refinement network (a torch predictor of :func:`train_variant`) with
    the attributes docbin.method.refine.RowRefiner reads: the shipped network's form
    (band δ = 0.2, direction add, reach 1, shape keep)."""

    margin, direction, reach, shape = 0.2, "add", 1, "keep"

    def __init__(self, predict, name: str):
        self.predict, self.name = predict, name

    def __call__(self, features_rows):
        if len(features_rows) == 0:
            return np.zeros(0, np.float32)
        return self.predict(np.asarray(features_rows, np.float32)).reshape(-1)


def surface_refine_binarize(page: dict, model, refiner) -> tuple:
    """(refine alone, surface + refine) ink masks of a prepared page, as the pipeline runs
    them: the refine step's band around the page f, inside the decision pass with the
    classical f or with the surface step's blended f; then its reach and shape rule."""
    from docbin.io import read_image
    from docbin.method import decision as threshold
    from docbin.method import refine as _refine
    from docbin.method.adjust import surface_factor
    from docbin.method.stats import BlockHistograms, PageStats

    gray = read_image(page["image_path"]).image
    ink, contour, radius, f = page["page"]
    stats = PageStats(float(ink), float(contour), int(radius), 0, 0)
    blocks = BlockHistograms(512, page["contour"], page["ink"])
    factor, _ = surface_factor(gray, stats, float(f), model=model, blocks=blocks)
    out = []
    for decision_factor in (float(f), factor):
        row_refiner = _refine.RowRefiner(
            refiner, _refine.PageConstants(float(ink), float(contour), int(radius), float(f)),
            gray, balance=0.5)
        image = threshold.binary_page(gray, int(radius), decision_factor, refine=row_refiner)
        row_refiner.finish(image)
        out.append(image == 0)
    return tuple(out)


def split_tag(name: str) -> str:
    """A split's name as a file-name part (``family-out: others → DIBCO`` →
    ``family-out_others-DIBCO``)."""
    return name.replace(" ", "").replace(":", "_").replace("→", "-")


def split_surface_network(name: str, train: list[dict], cache: Path, config):
    """(surface model, stored path, seconds): the surface network of a split, trained on
    the prepared pages ``train`` (docbin.training.surface.fit) or loaded from ``cache``."""
    import torch

    from docbin.training import surface as ts

    stored = cache / "surface-models" / (
        f"{split_tag(name)}_{config.steps}_{config.mu}_{config.regret}.pt")
    start = time.perf_counter()
    if stored.exists():
        net = ts.build_network(config.channels, delta_max=config.delta_max, width=config.width)
        net.load_state_dict(torch.load(stored))
    else:
        net = ts.fit(train, config)
        stored.parent.mkdir(parents=True, exist_ok=True)
        torch.save(net.state_dict(), stored)
    seconds = time.perf_counter() - start
    return ts.TorchSurfaceModel(net.eval(), config.channels), stored, seconds


def split_refiner(name: str, train_collections, refine_pages: list, refine_synth: list,
                  cache: Path) -> _SplitRefiner:
    """The split's refinement network in the shipped form (refine-wide-add-reach1-keep+synth:
    band δ = 0.2, collections weighted equally, the generated pages as one more
    collection), trained on its training collections only (cached in ``cache/models``)."""
    train = [p for p in refine_pages if p.collection in train_collections] + refine_synth
    predict = cached_fit(cache / "models" / f"{split_tag(name)}_0.2_collection_1_1.pt",
                         lambda: train_variant(train, "0.2", "collection"))
    return _SplitRefiner(predict, split_tag(name))


def surface_split(name: str, train: list[dict], test: list[dict], cache: Path, config,
                  scores: dict, refiner=None) -> tuple[list[dict], list[dict], float]:
    """Train the surface network on ``train`` (cached per split), score ``test``: per page
    classical and surface-step scores (cached in ``scores`` by split and page)."""
    model, stored, seconds = split_surface_network(name, train, cache, config)
    base, got = [], []
    for page in test:
        key = f"{stored.name}|{page['image_path']}"
        if key not in scores:
            classical, adjusted, gt, info = surface_binarize(page, model)
            scores[key] = {"classical": score(classical, gt), "surface": score(adjusted, gt),
                           "max_change": info["max_change"]}
        if refiner is not None and "surface+refine" not in scores[key]:
            refined, both = surface_refine_binarize(page, model, refiner)
            gt = page_gt(page)
            scores[key]["refine"] = score(refined, gt)
            scores[key]["surface+refine"] = score(both, gt)
        base.append(scores[key]["classical"])
        got.append(scores[key])
    return base, got, seconds


def page_gt(page: dict) -> np.ndarray:
    from docbin.io import read_image

    return read_image(page["gt_path"]).image < 128


def run_surface(args, roots) -> list[str]:
    """The table of the surface step against the classical method on every split."""
    import json

    import torch

    from docbin.training import surface as ts

    torch.set_num_threads(1)
    pages, generated = surface_pages(roots, args.cache, args.synth)
    collections = sorted({str(p["collection"]) for p in pages},
                         key=lambda c: (c not in DIBCO, c))
    chosen = splits(collections)
    if args.splits != "all":
        prefixes = args.splits.split(",")
        chosen = [s for s in chosen if any(s[0].startswith(p) for p in prefixes)]
    config = ts.TrainConfig(steps=args.surface_steps, mu=args.surface_mu,
                            regret=args.surface_regret)
    stored = args.cache / "surface_scores.json"
    scores = json.loads(stored.read_text()) if stored.exists() else {}
    lines = [("| split | test pages | method | FM | p-FM | PSNR | DRD | pages +1 FM | "
              "pages −1 FM | train s |"), "|---|---:|---|---:|---:|---:|---:|---:|---:|---:|"]
    loco = defaultdict(list)
    labels = ["surface"]
    if args.surface_refine:  # the split's refinement network (refine-wide-add-reach1-keep+synth)
        labels = ["surface", "refine", "surface+refine"]
        roots_refine = list(roots) + [make_synthetic(args.cache / "synth-data", args.synth)]
        refine_pages = build_cache(roots_refine, args.cache / "pages", args.jobs)
        refine_synth = [p for p in refine_pages if p.collection == "synth"]
    for name, train_c, test_c in chosen:
        train = [p for p in pages if p["collection"] in train_c] + generated
        test = [p for p in pages if p["collection"] in test_c]
        refiner = None
        if args.surface_refine:
            refiner = split_refiner(name, train_c, refine_pages, refine_synth, args.cache)
        base, results, seconds = surface_split(name, train, test, args.cache, config, scores,
                                               refiner)
        stored.write_text(json.dumps(scores))
        for label, rows in [("classical", base)] + [(m, [r[m] for r in results])
                                                    for m in labels]:
            mean = {k: np.mean([s[k] for s in rows]) for k in METRICS}
            delta = [g["fm"] - b["fm"] for g, b in zip(rows, base)]
            better = "" if label == "classical" else sum(d > 1 for d in delta)
            worse = "" if label == "classical" else sum(d < -1 for d in delta)
            lines.append(f"| {name} | {len(test)} | {label} | {mean['fm']:.2f} | "
                         f"{mean['pfm']:.2f} | {mean['psnr']:.2f} | {mean['drd']:.2f} | "
                         f"{better} | {worse} | {'' if label == 'classical' else f'{seconds:.0f}'} |")
            if name.startswith("loco"):
                loco[label] += [(str(p["collection"]), d, s) for p, d, s in zip(test, delta, rows)]
        print("\n".join(lines[-1 - len(labels):]) + f"\n  {name}: {seconds:.0f} s",
              file=sys.stderr, flush=True)
    lines += loco_summary_lines(loco)
    return lines


def write_results(args, lines: list[str], names: tuple[str, str] = ("method", "fm"),
                  page_rows: list[tuple] | None = None) -> int:
    """Print the table, write it to ``--report`` and the per-page rows (split, ``names[0]``,
    collection, page, FM classical, ``names[1]``) to ``--per-page`` as CSV; exit code 0."""
    import csv

    text = "\n".join(lines)
    print(text)
    if args.report:
        args.report.parent.mkdir(parents=True, exist_ok=True)
        args.report.write_text(text + "\n")
    if args.per_page and page_rows is not None:
        with args.per_page.open("w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["split", names[0], "collection", "page", "fm_classical",
                             names[1]])
            writer.writerows(page_rows)
    return 0


def main(argv=None) -> int:
    here = Path(__file__).resolve().parent
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=Path(
        os.environ.get("DOCBIN_DEV_DATA") or here.parents[1] / "shared/data/dev"))
    parser.add_argument("--cache", type=Path, default=here.parent / "runs/gen")
    parser.add_argument("--variants", default="refine+synth,refine,refine-page")
    parser.add_argument("--splits", default="all", help="all, or comma-separated split "
                        "name prefixes (era-out, family-out, loco)")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--synth", type=int, default=0, help="generated pages (docbin.synth) "
                        "added to the training pages of the variants named <variant>+synth, "
                        "as one more collection; never tested on")
    parser.add_argument("--report", type=Path)
    parser.add_argument("--per-page", type=Path, help="also write every test page's FM "
                        "(classical and learned) to this CSV file")
    parser.add_argument("--surface-steps", type=int, default=1000,
                        help="training steps of the surface network per split")
    parser.add_argument("--surface-mu", type=float, default=3.0,
                        help="μ, the weight of ‖Δz‖² of the surface network")
    parser.add_argument("--surface-regret", type=float, default=10.0,
                        help="λ, the weight of the regret term of the surface network")
    parser.add_argument("--surface-refine", action="store_true",
                        help="with --variants surface: also the refine step alone and surface "
                        "+ refine, with the split's refinement network (the shipped form, "
                        "refine-wide-add-reach1-keep+synth; needs --synth)")
    parser.add_argument("--clean", action="store_true", help="measure the clean step "
                        "instead (see clean_main)")
    parser.add_argument("--whole", action="store_true", help="measure the whole hybrid "
                        "instead: surface → refine → clean, each step trained on the split's "
                        "training side (see run_whole; needs --synth 40)")
    args = parser.parse_args(argv)
    if args.clean:
        return clean_main(args)
    if not args.data.is_dir():
        raise SystemExit(f"no development data at {args.data}: pass --data")
    if args.whole:
        lines, page_rows = run_whole(args, [args.data])
        return write_results(args, lines, ("method", "fm"), page_rows)
    if args.variants == "surface":  # the surface step: its own cache, training and table
        return write_results(args, run_surface(args, [args.data]))
    variants = [v for v in args.variants.split(",") if v]
    for v in variants:
        if v.removesuffix("+synth").removesuffix("-keep").replace("-interior", "") \
                not in VARIANTS:
            raise SystemExit(f"unknown variant {v!r}; known: {', '.join(VARIANTS)}")
    roots = [args.data]
    if args.synth:
        roots.append(make_synthetic(args.cache / "synth-data", args.synth))
    pages = build_cache(roots, args.cache / "pages", args.jobs)
    synthetic = [p for p in pages if p.collection == "synth"]
    pages = [p for p in pages if p.collection != "synth"]
    collections = sorted({p.collection for p in pages}, key=lambda c: (c not in DIBCO, c))
    chosen = splits(collections)
    if args.splits != "all":
        prefixes = args.splits.split(",")
        chosen = [s for s in chosen if any(s[0].startswith(p) for p in prefixes)]

    import json

    stored = args.cache / "classical_scores.json"
    classical_scores = json.loads(stored.read_text()) if stored.exists() else {}
    for page in pages:
        if page.path not in classical_scores:
            classical_scores[page.path] = score(page.mask("classical"), page.mask("gt"))
    stored.write_text(json.dumps(classical_scores))

    lines = [("| split | test pages | method | FM | p-FM | PSNR | DRD | pages +1 FM | "
              "pages −1 FM | train s |"), "|---|---:|---|---:|---:|---:|---:|---:|---:|---:|"]
    loco_rows = defaultdict(list)  # variant -> per-page (collection, fm_delta, scores)
    page_rows = []
    for name, train_c, test_c in chosen:
        train = [p for p in pages if p.collection in train_c]
        test = [p for p in pages if p.collection in test_c]
        base = [classical_scores[p.path] for p in test]
        mean = {k: np.mean([s[k] for s in base]) for k in METRICS}
        lines.append(f"| {name} | {len(test)} | classical | {mean['fm']:.2f} | "
                     f"{mean['pfm']:.2f} | {mean['psnr']:.2f} | {mean['drd']:.2f} | | | |")
        if name.startswith("loco"):
            for p, s in zip(test, base):
                loco_rows["classical"].append((p.collection, 0.0, s))
        trained = {}
        for variant in variants:
            form = variant.removesuffix("+synth")
            interior = "-interior" in form
            form = form.replace("-interior", "")
            key, weighting, confidence = VARIANTS[form.removesuffix("-keep")]
            start = time.perf_counter()
            with_synth = variant.endswith("+synth")
            local = not form.endswith("-page")
            if (key, weighting, with_synth, local, interior) not in trained:
                extra = synthetic if with_synth else []
                stored = args.cache / "models" / (
                    f"{name.replace(' ', '').replace(':', '_').replace('→', '-')}"
                    f"_{key}_{weighting}_{int(with_synth)}_{int(local)}"
                    f"{'_interior' if interior else ''}.pt")
                trained[key, weighting, with_synth, local, interior] = cached_fit(
                    stored, partial(train_variant, train + extra, key, weighting, local=local,
                                    interior=interior))
            predict = trained[key, weighting, with_synth, local, interior]
            seconds = time.perf_counter() - start
            form, reach, shape = variant_form(form)
            direction = "add" if form.endswith("-add") else \
                "add-below-mean" if form.endswith("-add-below-mean") else \
                "remove" if form.endswith("-remove") else "both"
            got = [score(refined_mask(p, key, predict, confidence, local, direction, reach,
                                      shape),
                         p.mask("gt")) for p in test]
            delta = [g["fm"] - b["fm"] for g, b in zip(got, base)]
            mean = {k: np.mean([s[k] for s in got]) for k in METRICS}
            page_rows += [(name, variant, p.collection, p.name, b["fm"], g["fm"])
                          for p, b, g in zip(test, base, got)]
            wins = sum(d > 1 for d in delta)
            losses = sum(d < -1 for d in delta)
            lines.append(f"| {name} | {len(test)} | {variant} | {mean['fm']:.2f} | "
                         f"{mean['pfm']:.2f} | {mean['psnr']:.2f} | {mean['drd']:.2f} | "
                         f"{wins} | {losses} | {seconds:.0f} |")
            if name.startswith("loco"):
                for p, d, s in zip(test, delta, got):
                    loco_rows[variant].append((p.collection, d, s))
            print(lines[-1], file=sys.stderr, flush=True)
    if loco_rows:
        lines += loco_summary_lines(loco_rows)
    return write_results(args, lines, ("variant", "fm_learned"),
                         [(*r[:4], f"{r[4]:.3f}", f"{r[5]:.3f}") for r in page_rows])


# --- the clean step (docbin/method/clean.py) ------------------------------------------------
#
#     python benchmarks/generalization.py --clean --synth 40 --cache runs/gen \
#         --report runs/gen/clean_report.md
#
# For every split: a clean model is trained (docbin.training.clean.fit_calibrated: τ from
# held-out folds of the TRAINING collections only) on the classical components of the
# training pages and ``--synth`` generated pages (docbin.training.clean.synthetic_pairs),
# and applied to the test pages' classical decision ("classical+clean") and to the hybrid
# of the split ("hybrid+clean": the refine-wide-add-reach1-keep+synth network trained on the same
# training side, as the refine runs of this script train it). Rows: classical, hybrid
# (refine alone), classical+clean, hybrid+clean; "+1 / −1 FM" against classical.

HYBRID_VARIANT = "refine-wide-add-reach1-keep+synth"


def _clean_components_cache(roots, cache: Path, synth_count: int):
    """PageComponents (docbin.training.clean) of every dev page's classical decision and of
    ``synth_count`` generated pages, pickled in ``cache`` (computed once)."""
    import pickle

    from docbin.io import read_image
    from docbin.training.clean import page_components, synthetic_pairs
    from docbin.training.refine import find_pairs

    cache.mkdir(parents=True, exist_ok=True)
    stored = cache / f"components_s{synth_count}.pkl"
    if stored.exists():
        return pickle.loads(stored.read_bytes())
    pages = {}
    start = time.perf_counter()
    for collection, image, gt in find_pairs(roots):
        gray = read_image(image).image
        truth = read_image(gt).image < 128
        pages[collection, image.stem] = page_components(gray, truth, collection=collection,
                                                        name=image.stem)
        if len(pages) % 40 == 0:
            print(f"  clean cache: {len(pages)} pages, {time.perf_counter() - start:.0f} s",
                  file=sys.stderr, flush=True)
    for i, (gray, truth) in enumerate(synthetic_pairs(synth_count)):
        pages["synth", f"C{i:03d}"] = page_components(gray, truth, collection="synth",
                                                      name=f"C{i:03d}")
    stored.write_bytes(pickle.dumps(pages))
    return pages


def _drop(binary: np.ndarray, gray: np.ndarray | None, predict, tau: float,
          components=None) -> np.ndarray:
    """``binary`` (text 0) with the components of p(text) < τ dropped (a new array)."""
    from docbin.method import clean

    out = binary.copy()
    if components is None:
        from docbin.method.stats import page_stats

        page = page_stats(gray)
        components = clean.component_features(gray, out, page.ink_intensity,
                                               page.contour_intensity)
    else:
        count, labels, _ = clean.label_components(out)
        assert count == len(components.area), "labels differ from the cached components"
        components = clean.Components(labels, count, None, components.features)
    if components.count:
        dropped = np.zeros(components.count + 1, bool)
        dropped[1:] = predict(components.features) < tau
        clean.drop_components(out, components.labels, dropped)
    return out


def _clean_score(prediction: np.ndarray, gt: np.ndarray, skeleton: np.ndarray) -> dict:
    """FM, p-FM, PSNR, DRD of docbin.evaluation.metrics, with the ground truth's skeleton given."""
    from docbin.evaluation import metrics

    counts = metrics.confusion(prediction, gt)
    return {"fm": float(metrics.f_measure(counts)),
            "pfm": float(metrics.pseudo_f_measure(counts, prediction, gt, skeleton)),
            "psnr": float(metrics.psnr(counts)), "drd": float(metrics.drd(prediction, gt))}


def _skeleton(page, cache: Path) -> np.ndarray:
    """The skeleton of a page's ground truth (docbin.evaluation.metrics.skeleton), cached."""
    from docbin.evaluation import metrics

    path = cache / f"{page.collection}__{page.name}.npy"
    shape = tuple(page.data["shape"])
    if path.exists():
        return np.unpackbits(np.load(path))[: shape[0] * shape[1]].reshape(shape).astype(bool)
    skeleton = metrics.skeleton(page.mask("gt"))
    cache.mkdir(parents=True, exist_ok=True)
    np.save(path, np.packbits(skeleton))
    return skeleton


def clean_main(args) -> int:
    """The clean step in every split (see the comment above)."""
    import json

    from docbin.io import read_image
    from docbin.training.clean import fit_calibrated
    from docbin.training.refine import find_pairs

    images = {(c, i.stem): i for c, i, _ in find_pairs([args.data])}
    components = _clean_components_cache([args.data], args.cache / "clean", args.synth)
    synthetic = [v for k, v in components.items() if k[0] == "synth"]
    roots = [args.data]
    if args.synth:
        roots.append(make_synthetic(args.cache / "synth-data", args.synth))
    pages = [p for p in build_cache(roots, args.cache / "pages", args.jobs)
             if p.collection != "synth"]
    refine_synth = [p for p in build_cache(roots, args.cache / "pages", args.jobs)
                    if p.collection == "synth"]
    collections = sorted({p.collection for p in pages}, key=lambda c: (c not in DIBCO, c))
    chosen = splits(collections)
    if args.splits != "all":
        prefixes = args.splits.split(",")
        chosen = [s for s in chosen if any(s[0].startswith(p) for p in prefixes)]
    methods = ("classical", "hybrid", "classical+clean", "hybrid+clean")
    lines = [("| split | test pages | method | FM | p-FM | PSNR | DRD | pages +1 FM | "
              "pages −1 FM | τ |"), "|---|---:|---|---:|---:|---:|---:|---:|---:|---:|"]
    loco = defaultdict(list)
    rows_out = []
    for name, train_c, test_c in chosen:
        train = [components[p.collection, p.name] for p in pages if p.collection in train_c]
        start = time.perf_counter()
        predict, tau, table = fit_calibrated(train + synthetic)
        seconds = time.perf_counter() - start
        form, reach, shape = variant_form(HYBRID_VARIANT.removesuffix("+synth"))
        key, weighting, _ = VARIANTS[form]
        tag = name.replace(" ", "").replace(":", "_").replace("→", "-")
        train_pages = [p for p in pages if p.collection in train_c]
        refiner = cached_fit(args.cache / "models" / f"{tag}_{key}_{weighting}_1_1.pt",
                             lambda pages=train_pages, key=key, weighting=weighting:
                             train_variant(pages + refine_synth, key, weighting))
        test = [p for p in pages if p.collection in test_c]
        got = {m: [] for m in methods}
        for p in test:
            gt = p.mask("gt")
            classical = np.where(p.mask("classical"), 0, 255).astype(np.uint8)
            hybrid = np.where(refined_mask(p, key, refiner, 0.0, True, "add", reach, shape),
                              0, 255).astype(np.uint8)
            gray = read_image(images[p.collection, p.name]).image
            outputs = {"classical": classical, "hybrid": hybrid,
                       "classical+clean": _drop(classical, gray, predict, tau,
                                                components[p.collection, p.name]),
                       "hybrid+clean": _drop(hybrid, gray, predict, tau)}
            skeleton = _skeleton(p, args.cache / "skeletons")
            for m, out in outputs.items():
                got[m].append(_clean_score(out == 0, gt, skeleton))
        for m in methods:
            delta = [g["fm"] - b["fm"] for g, b in zip(got[m], got["classical"])]
            mean = {k: np.mean([s[k] for s in got[m]]) for k in METRICS}
            wins = "" if m == "classical" else sum(d > 1 for d in delta)
            losses = "" if m == "classical" else sum(d < -1 for d in delta)
            lines.append(f"| {name} | {len(test)} | {m} | {mean['fm']:.2f} | "
                         f"{mean['pfm']:.2f} | {mean['psnr']:.2f} | {mean['drd']:.2f} | "
                         f"{wins} | {losses} | {tau if 'clean' in m else ''} |")
            print(lines[-1], file=sys.stderr, flush=True)
            rows_out += [(name, m, p.collection, p.name, f"{b['fm']:.3f}", f"{g['fm']:.3f}")
                         for p, b, g in zip(test, got["classical"], got[m])]
            if name.startswith("loco"):
                loco[m] += [(p.collection, d, s) for p, d, s in zip(test, delta, got[m])]
        print(f"  {name}: clean model {seconds:.0f} s, calibration "
              f"{json.dumps(table)}", file=sys.stderr, flush=True)
    lines += loco_summary_lines(loco)
    return write_results(args, lines, ("method", "fm"), rows_out)


# --- the whole hybrid (docbin/pipeline.py: surface → decision with refine → clean) ----------
#
#     python benchmarks/generalization.py --whole --synth 40 --cache runs/gen \
#         --splits era-out,family-out --report runs/gen/whole_report.md
#
# For every split, the three learned steps each trained on the split's training side only,
# exactly as the per-step measurements above train them: the surface network
# (:func:`split_surface_network`, the pages of docbin.training.surface and ``--synth``
# generated pages), the refinement network in the shipped form (:func:`split_refiner`) and
# the clean model with τ calibrated on held-out folds of the training collections
# (:func:`split_cleaner`). Every test page then goes through docbin.pipeline.binarize_with,
# the pipeline's own steps, with these three models. Rows: classical; surface (the surface
# step alone, :func:`surface_split`, cached with the surface runs); surface+refine (the
# pipeline's page before its clean step: the whole result with the dropped components put
# back); whole. "+1 / −1 FM" against classical.


class _SplitCleaner:
    """The split's clean model (a torch predictor of docbin.training.clean.fit_calibrated)
    with the attributes docbin.method.clean.clean_components reads: ``threshold`` (the
    calibrated τ) and ``name``."""

    def __init__(self, predict, threshold: float, name: str):
        self.predict, self.threshold, self.name = predict, float(threshold), name

    def __call__(self, features):
        if len(features) == 0:
            return np.zeros(0, np.float32)
        return self.predict(np.asarray(features, np.float32)).reshape(-1)


def split_cleaner(name: str, train_collections, components: dict, cache: Path
                  ) -> tuple[_SplitCleaner, float]:
    """(clean model, seconds): the split's clean model, trained as the shipped one
    (docbin.training.clean.fit_calibrated) on the classical components of the training
    collections' pages and the generated pages (collection ``synth``) of ``components``
    (:func:`_clean_components_cache`); cached in ``cache/clean-models`` with its τ."""
    import json

    from docbin.training.clean import fit_calibrated

    synth = sum(1 for key in components if key[0] == "synth")
    train = [page for key, page in components.items()
             if key[0] in train_collections or key[0] == "synth"]
    stored = cache / "clean-models" / f"{split_tag(name)}_s{synth}.pt"
    calibration = stored.with_suffix(".json")

    def fit():
        predict, tau, table = fit_calibrated(train)
        calibration.parent.mkdir(parents=True, exist_ok=True)
        calibration.write_text(json.dumps({"tau": tau, "table": table}))
        return predict

    start = time.perf_counter()
    predict = cached_fit(stored, fit)
    seconds = time.perf_counter() - start
    tau = json.loads(calibration.read_text())["tau"]
    return _SplitCleaner(predict, tau, split_tag(name)), seconds


def whole_binarize(page: dict, surface_model, refiner, cleaner) -> dict:
    """Ink masks of a prepared page through docbin.pipeline.binarize_with (``--method
    hybrid``, balance 0.5) with the split's three models: ``whole`` (the pipeline's result)
    and ``surface+refine`` (its page before the clean step: the clean step only turns
    whole components to background, so that page is the result with the recorded dropped
    pixels put back); with the clean step's record."""
    from docbin.io import read_image
    from docbin.options import Options
    from docbin.pipeline import binarize_with

    gray = read_image(page["image_path"]).image
    result = binarize_with(gray, Options(method="hybrid"), surface_model=surface_model,
                           network=refiner, cleaner=cleaner, record_refined=True)
    whole = result.ink
    before_clean = whole if result.dropped is None else whole | result.dropped
    return {"whole": whole, "surface+refine": before_clean, "clean": result.info["clean"]}


def summary_line(name: str, pages: int, label: str, rows: list[dict], base: list[dict],
                 extra: str = "") -> str:
    """A table line: means of METRICS over ``rows``, pages that gain / lose more than 1 FM
    against ``base`` (the same pages' classical scores)."""
    mean = {k: np.mean([s[k] for s in rows]) for k in METRICS}
    delta = [g["fm"] - b["fm"] for g, b in zip(rows, base)]
    better = "" if label == "classical" else sum(d > 1 for d in delta)
    worse = "" if label == "classical" else sum(d < -1 for d in delta)
    return (f"| {name} | {pages} | {label} | {mean['fm']:.2f} | {mean['pfm']:.2f} | "
            f"{mean['psnr']:.2f} | {mean['drd']:.2f} | {better} | {worse} | {extra} |")


def run_whole(args, roots) -> tuple[list[str], list[tuple]]:
    """The whole hybrid of every split (see the comment above): the table's lines and the
    per-page rows (split, method, collection, page, FM classical, FM)."""
    import json

    import torch

    from docbin.training import surface as ts

    torch.set_num_threads(1)
    if not args.synth:
        raise SystemExit("--whole trains the steps as shipped: pass --synth 40")
    pages, generated = surface_pages(roots, args.cache, args.synth)
    refine_roots = list(roots) + [make_synthetic(args.cache / "synth-data", args.synth)]
    refine_pages = build_cache(refine_roots, args.cache / "pages", args.jobs)
    refine_synth = [p for p in refine_pages if p.collection == "synth"]
    components = _clean_components_cache(roots, args.cache / "clean", args.synth)
    collections = sorted({str(p["collection"]) for p in pages},
                         key=lambda c: (c not in DIBCO, c))
    chosen = splits(collections)
    if args.splits != "all":
        prefixes = args.splits.split(",")
        chosen = [s for s in chosen if any(s[0].startswith(p) for p in prefixes)]
    config = ts.TrainConfig(steps=args.surface_steps, mu=args.surface_mu,
                            regret=args.surface_regret)
    surface_stored = args.cache / "surface_scores.json"
    surface_scores = json.loads(surface_stored.read_text()) if surface_stored.exists() else {}
    whole_stored = args.cache / "whole_scores.json"
    whole_scores = json.loads(whole_stored.read_text()) if whole_stored.exists() else {}
    labels = ("surface", "surface+refine", "whole")
    lines = [("| split | test pages | method | FM | p-FM | PSNR | DRD | pages +1 FM | "
              "pages −1 FM | clean τ |"), "|---|---:|---|---:|---:|---:|---:|---:|---:|---:|"]
    loco, page_rows = defaultdict(list), []
    for name, train_c, test_c in chosen:
        start = time.perf_counter()
        train = [p for p in pages if p["collection"] in train_c] + generated
        test = [p for p in pages if p["collection"] in test_c]
        base, surface_only, _ = surface_split(name, train, test, args.cache, config,
                                              surface_scores)
        surface_stored.write_text(json.dumps(surface_scores))
        model, _, _ = split_surface_network(name, train, args.cache, config)
        refiner = split_refiner(name, train_c, refine_pages, refine_synth, args.cache)
        cleaner, _ = split_cleaner(name, train_c, components, args.cache)
        got = {label: [] for label in labels}
        for page in test:
            key = f"{split_tag(name)}|{page['image_path']}"
            if key not in whole_scores:
                masks = whole_binarize(page, model, refiner, cleaner)
                gt = page_gt(page)
                whole_scores[key] = {m: score(masks[m], gt) for m in labels[1:]}
                whole_scores[key]["dropped"] = masks["clean"]["dropped"]
            got["surface"].append(surface_only[len(got["whole"])]["surface"])
            for m in labels[1:]:
                got[m].append(whole_scores[key][m])
        whole_stored.write_text(json.dumps(whole_scores))
        seconds = time.perf_counter() - start
        for label, rows in [("classical", base)] + [(m, got[m]) for m in labels]:
            extra = f"{cleaner.threshold}" if label == "whole" else ""
            lines.append(summary_line(name, len(test), label, rows, base, extra))
            page_rows += [(name, label, str(p["collection"]), Path(p["image_path"]).stem,
                           f"{b['fm']:.3f}", f"{g['fm']:.3f}")
                          for p, b, g in zip(test, base, rows)]
            if name.startswith("loco"):
                loco[label] += [(str(p["collection"]), b, g)
                                for p, b, g in zip(test, base, rows)]
        print("\n".join(lines[-1 - len(labels):]) + f"\n  {name}: {seconds:.0f} s",
              file=sys.stderr, flush=True)
    for label, keep in (("loco: all pages", lambda c: True),
                        ("loco: DIBCO folds", lambda c: c in DIBCO)):
        for method, rows in loco.items():
            rows = [r for r in rows if keep(r[0])]
            if rows:
                lines.append(summary_line(label, len(rows), method, [r[2] for r in rows],
                                          [r[1] for r in rows]))
    return lines, page_rows


if __name__ == "__main__":
    raise SystemExit(main())
