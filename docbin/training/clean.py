"""Training of the clean model (docbin/method/clean.py): p(text) of a whole ink component.

Samples are the 8-connected text components of the classical decision of every training
page (docbin's ``binarize``, METHOD.md §1), with the features of
:func:`docbin.method.clean.component_features`. A component is text when at least half
of its pixels are ink in the ground truth. The model is the small multilayer perceptron of
:mod:`docbin.training.refine` (a fixed standardisation, two hidden layers of 32 ReLU units,
a sigmoid), fitted with a weighted binary cross-entropy where every component weighs the
same within its collection and every collection weighs the same in total (the generated
pages are one more collection). Two epochs: on held-out folds of the training collections,
longer training (4 and 12 epochs) and weights by area fitted the training collections and
dropped more text on the held-out ones.

Calibration of the drop threshold τ (the model drops a component where p(text) < τ at
balance 0.5), on the training pages only: the real training collections are split into
:data:`CALIBRATION_FOLDS` groups; for each group a model is fitted on the others (and the
generated pages) and predicts the group's components; on these held-out predictions every
τ of :data:`THRESHOLDS` is scored by the FM change of each page. τ is the one with the best
collection-weighted mean change among those where at most :data:`MAX_LOSING_SHARE` of the
pages lose more than 1 FM and no collection's mean change is below
:data:`MIN_COLLECTION_CHANGE`; the smallest τ when none qualifies.
"""

from __future__ import annotations

import json
import os
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import InputError
from ..method import clean
from . import require_torch

#: candidate drop thresholds τ: only confident drops (p(text) < 0.15 at most); with
#: candidates up to 0.5 the same rule chose τ = 0.2–0.3, and training on the non-DIBCO
#: collections then made 6 of 75 DIBCO pages lose more than 1 FM (models/README.md)
THRESHOLDS = (0.02, 0.05, 0.1, 0.15)
CALIBRATION_FOLDS = 3
MAX_LOSING_SHARE = 0.02
MIN_COLLECTION_CHANGE = -0.2


@dataclass
class PageComponents:
    """The components of one page's binary decision, with what scoring needs.

    ``features`` [n, F] float32; ``area`` and ``ink`` [n] int64 (pixels, and of them the
    ground-truth ink); ``predicted``, ``true_positive``, ``truth``: the page's text pixels,
    text pixels that are ink in the ground truth, and ink pixels of the ground truth.
    """

    collection: str
    name: str
    features: np.ndarray
    area: np.ndarray
    ink: np.ndarray
    predicted: int
    true_positive: int
    truth: int

    @property
    def text(self) -> np.ndarray:
        """The label: at least half of the component's pixels are ground-truth ink."""
        return 2 * self.ink >= self.area

    def fm_after(self, dropped: np.ndarray) -> float:
        """FM (%) of the page with the components ``dropped`` (bool [n]) removed."""
        tp = self.true_positive - int(self.ink[dropped].sum())
        predicted = self.predicted - int(self.area[dropped].sum())
        return 200.0 * tp / max(predicted + self.truth, 1)


def page_components(gray: np.ndarray, truth: np.ndarray, binary: np.ndarray | None = None, *,
                    collection: str = "", name: str = "") -> PageComponents:
    """The components of ``binary`` (default: the classical decision of ``gray``) scored
    against the ground-truth ink mask ``truth`` (bool), features as the runtime builds them."""
    from ..method.stats import page_stats

    page = page_stats(gray)
    if binary is None:
        from ..pipeline import binarize

        binary = binarize(gray).image
    comps = clean.component_features(gray, binary, page.ink_intensity, page.contour_intensity)
    ink = np.bincount(comps.labels[truth], minlength=comps.count + 1)[1:].astype(np.int64)
    area = comps.area[1:].astype(np.int64)
    return PageComponents(collection, name, comps.features, area, ink,
                          int(area.sum()), int(ink.sum()), int(np.count_nonzero(truth)))


def synthetic_pairs(count: int, seed: int = 2000):
    """``count`` generated pages (page, text mask) whose degradations the threshold keeps:
    a :func:`docbin.synth.clean_page` with paper texture, a strong bleed-through
    (strength U(0.35, 0.7), blur σ U(0.5, 2.5) px), stains on half of them (depth
    U(0.2, 0.6)), uneven light, blur and noise."""
    from .. import synth

    for i in range(count):
        rng = np.random.default_rng([seed, i])
        rows, cols = int(rng.integers(900, 1600)), int(rng.integers(700, 1300))
        page, truth = synth.clean_page(rows, cols, rng, handwriting=float(rng.uniform(0, 0.8)))
        page = synth.paper_texture(page, rng)
        if rng.random() < 0.8:
            page = synth.bleed_through(page, rng, strength=rng.uniform(0.35, 0.7),
                                       sigma=rng.uniform(0.5, 2.5))
        if rng.random() < 0.5:
            page = synth.stains(page, rng, depth=rng.uniform(0.2, 0.6))
        page = synth.uneven_light(page, rng)
        page = synth.blur(page, rng)
        page = synth.noise(page, rng)
        yield page, truth


def samples(pages: list[PageComponents]):
    """(x, y, w): features, labels and weights (every component of a collection the same,
    every collection the same total; mean 1) of the components of ``pages``."""
    pages = [p for p in pages if len(p.area)]
    if not pages:
        raise ValueError("no training components: the pages have no text")
    per_collection = defaultdict(float)
    for p in pages:
        per_collection[p.collection] += float(len(p.area))
    x = np.concatenate([p.features for p in pages])
    y = np.concatenate([p.text for p in pages])
    w = np.concatenate([np.full(len(p.area), 1.0 / per_collection[p.collection])
                        for p in pages])
    w = (w * (len(w) / w.sum())).astype(np.float32)
    return x, y, w


def fit(pages: list[PageComponents], *, seed: int = 0, epochs: int = 2):
    """A fitted model ``predict(features) -> p(text)`` (carrying ``.module``)."""
    from .refine import fit_refiner

    x, y, w = samples(pages)
    return fit_refiner(x, y, w, seed=seed, epochs=epochs, batch=2048)


def fm_changes(pages: list[PageComponents], probabilities: list[np.ndarray],
               threshold: float) -> np.ndarray:
    """FM change per page when the components with p(text) < ``threshold`` are dropped."""
    return np.array([p.fm_after(q < threshold) - p.fm_after(np.zeros(len(q), bool))
                     for p, q in zip(pages, probabilities)])


def choose_threshold(pages: list[PageComponents], probabilities: list[np.ndarray],
                     thresholds=THRESHOLDS) -> tuple[float, list[dict]]:
    """τ from held-out predictions (the rule of the module docstring); returns τ and the
    table of every candidate (mean change, collection-weighted mean, losing share)."""
    table = []
    collections = sorted({p.collection for p in pages})
    for tau in thresholds:
        change = fm_changes(pages, probabilities, tau)
        by_collection = [float(np.mean([d for d, p in zip(change, pages)
                                        if p.collection == c])) for c in collections]
        table.append({"threshold": tau, "mean": float(change.mean()),
                      "collection_mean": float(np.mean(by_collection)),
                      "worst_collection": float(min(by_collection)),
                      "losing_share": float(np.mean(change < -1.0))})
    good = [row for row in table if row["losing_share"] <= MAX_LOSING_SHARE
            and row["worst_collection"] >= MIN_COLLECTION_CHANGE
            and row["collection_mean"] > 0]
    if not good:
        return float(min(thresholds)), table
    return float(max(good, key=lambda r: r["collection_mean"])["threshold"]), table


def fit_calibrated(pages: list[PageComponents], *, seed: int = 0, epochs: int = 2,
                   folds: int = CALIBRATION_FOLDS, log=None):
    """Fit on every page of ``pages`` and calibrate τ on held-out folds of its real
    collections (collection ``synth``: generated, always trained on, never scored).

    Returns (predict, τ, calibration table)."""
    real = sorted({p.collection for p in pages if p.collection != "synth"})
    groups = [real[i::folds] for i in range(min(folds, len(real)))]
    held, probabilities = [], []
    if len(groups) >= 2:
        for group in groups:
            predict = fit([p for p in pages if p.collection not in group], seed=seed,
                          epochs=epochs)
            for p in pages:
                if p.collection in group:
                    held.append(p)
                    probabilities.append(predict(p.features))
        tau, table = choose_threshold(held, probabilities)
    else:
        tau, table = clean.DEFAULT_THRESHOLD, []
    if log:
        log(f"calibration folds {groups}: τ = {tau}")
    return fit(pages, seed=seed, epochs=epochs), tau, table


def export_onnx(module, path, *, threshold: float, training_data: str, opset: int = 17,
                tolerance: float = 1e-5) -> float:
    """Write the model to ``path`` (atomically) with the metadata
    :class:`docbin.method.clean.Cleaner` checks; returns the largest |onnxruntime − torch|
    on random features (RuntimeError above ``tolerance``)."""
    import onnx
    import onnxruntime as ort

    from .. import __version__

    torch = require_torch()
    path = Path(path)
    sample = np.random.default_rng(0).normal(size=(64, len(clean.FEATURES))).astype(np.float32)
    tmp = path.with_name(f".{path.name}.tmp")
    torch.onnx.export(module.eval(), (torch.from_numpy(sample[:2]),), str(tmp),
                      input_names=["features"], output_names=["text"],
                      dynamic_axes={"features": {0: "n"}, "text": {0: "n"}},
                      opset_version=opset, dynamo=False)
    graph = onnx.load(str(tmp))
    props = {clean.META_FEATURES: json.dumps(list(clean.FEATURES)),
             clean.META_VERSION: clean.FEATURE_VERSION,
             clean.META_THRESHOLD: repr(float(threshold)),
             clean.META_DESCRIPTION: training_data,
             "docbin.version": __version__}
    del graph.metadata_props[:]
    for key, value in props.items():
        entry = graph.metadata_props.add()
        entry.key, entry.value = key, value
    graph.producer_name = "docbin"
    onnx.checker.check_model(graph)
    onnx.save(graph, str(tmp))
    session = ort.InferenceSession(str(tmp), providers=["CPUExecutionProvider"])
    got = session.run(None, {"features": sample})[0]
    with torch.no_grad():
        expected = module(torch.from_numpy(sample)).numpy()
    difference = float(np.abs(got - expected).max())
    if not difference <= tolerance:
        tmp.unlink(missing_ok=True)
        raise RuntimeError(f"the exported ONNX graph differs from the torch network by "
                           f"{difference:.2e} (> {tolerance:.0e})")
    os.replace(tmp, path)
    return difference


@dataclass(frozen=True)
class CleanConfig:
    """Settings of ``docbin train --model-kind clean`` (the shipped model: the defaults)."""

    epochs: int = 2
    seed: int = 0
    synthetic_pages: int = 40


def train(data, out, *, exclude=(), config: CleanConfig = CleanConfig(), progress=None,
          log=None) -> dict:
    """Train the clean model on ``<data>/<collection>/{img,gt}`` (and generated pages),
    calibrate τ, and export it. Returns a summary."""
    from ..io import read_image
    from .refine import find_pairs

    require_torch()
    start = time.perf_counter()
    pairs = [p for p in find_pairs([data] if isinstance(data, (str, Path)) else data)
             if p[0] not in set(exclude)]
    if not pairs:
        raise InputError("no training pages: expected <data>/<collection>/img and gt "
                         "folders with files of the same name")
    pages = []
    total = len(pairs) + config.synthetic_pages
    for collection, image_path, gt_path in pairs:
        gray = read_image(image_path).image
        truth = read_image(gt_path).image < 128
        if truth.shape != gray.shape:
            raise ValueError(f"{gt_path}: ground truth {truth.shape} and page {gray.shape} "
                             f"differ in size")
        pages.append(page_components(gray, truth, collection=collection,
                                     name=image_path.stem))
        if progress:
            progress(len(pages), total)
    for i, (gray, truth) in enumerate(synthetic_pairs(config.synthetic_pages)):
        pages.append(page_components(gray, truth, collection="synth", name=f"S{i:03d}"))
        if progress:
            progress(len(pages), total)
    predict, tau, table = fit_calibrated(pages, seed=config.seed, epochs=config.epochs, log=log)
    counts = defaultdict(int)
    for p in pages:
        counts[p.collection] += 1
    components = sum(len(p.area) for p in pages)
    description = (f"{sum(counts.values())} pages of {len(counts)} collections "
                   f"({', '.join(f'{c} {n}' for c, n in sorted(counts.items()))}); "
                   f"{components} components; τ = {tau} (held-out folds); seed {config.seed}")
    difference = export_onnx(predict.module, out, threshold=tau, training_data=description)
    return {"pages": dict(counts), "components": components, "threshold": tau,
            "calibration": table, "description": description,
            "seconds": time.perf_counter() - start, "export_error": difference,
            "parameters": int(sum(p.numel() for p in predict.module.parameters()))}
