"""Training of the refinement network of ``--method hybrid`` (docbin/refine.py).

The network learns to decide the band's pixels either way (text or background); its
metadata says how the runtime uses it: ``direction = "add"`` (the default, and the shipped
network) lets it only turn the classical background into text, and ``reach = 1`` keeps only
the added text that touches classical text: the form that held up on collections unlike
the training ones (models/README.md).

A per-pixel multilayer perceptron over :data:`docbin.method.refine.FEATURES`: a fixed
standardisation (the training set's mean and deviation), two hidden layers of 32 units
(ReLU) and a sigmoid. It is fitted with a weighted binary cross-entropy on the band
pixels ``|I − f·L_m| < δ·(B_I − T_I)`` of the training pages, every collection weighing
the same in total (so that a large collection, or one whose pages want more ink, cannot
pull every page its way). Generated pages (:mod:`docbin.synth`) can be added as one more
collection. Exported to ONNX with the metadata :class:`docbin.method.refine.Refiner` checks.
"""

from __future__ import annotations

import json
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from docbin import synth
from docbin.errors import InputError
from docbin.io import read_image
from docbin.method import refine
from docbin.method.page import classical_page
from docbin.training import require_torch
from docbin.training.export import export_feature_network

HIDDEN = 32
IMAGE_SUFFIXES = (".png", ".tif", ".tiff", ".bmp", ".jpg", ".jpeg", ".pgm", ".ppm", ".webp")


def find_pairs(roots) -> list[tuple[str, Path, Path]]:
    """(collection, image, ground truth) for every ``<root>/<collection>/img/<name>`` with
    a ``<root>/<collection>/gt/<name>`` of the same stem."""
    pairs = []
    for root in roots:
        root = Path(root)
        if not root.is_dir():
            raise InputError(f"training data folder not found: {root}")
        for img_dir in sorted(root.glob("*/img")):
            gt_dir = img_dir.parent / "gt"
            gts = {p.stem: p for p in gt_dir.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES} \
                if gt_dir.is_dir() else {}
            for img in sorted(img_dir.iterdir()):
                if img.suffix.lower() in IMAGE_SUFFIXES and img.stem in gts:
                    pairs.append((img_dir.parent.name, img, gts[img.stem]))
    return pairs


@dataclass
class PageSamples:
    """The band pixels of one page: features, ground truth, and the classical decision."""

    collection: str
    name: str
    features: np.ndarray  # float32 [n, F]
    text: np.ndarray  # bool [n]


def page_samples(gray: np.ndarray, text: np.ndarray, margin: float, *,
                 collection: str = "", name: str = "", per_page: int | None = None,
                 rng: np.random.Generator | None = None) -> PageSamples:
    """Features and ground truth of the band pixels of a page (at most ``per_page`` of
    them, drawn at random), computed exactly as the runtime computes them."""
    page = classical_page(gray, local=True)
    local = page.local
    constants = refine.PageConstants.of(page)
    where = refine.band_mask(gray, local.local_median, constants, margin)
    if per_page is not None and np.count_nonzero(where) > per_page:
        rng = rng or np.random.default_rng(0)
        flat = np.flatnonzero(where)
        keep = np.zeros(where.size, bool)
        keep[rng.choice(flat, per_page, replace=False)] = True
        where = keep.reshape(where.shape)
    x = refine.features(gray, local.local_median, local.local_mean, constants, where)
    return PageSamples(collection, name, x, text[where])


def build_network(n_features: int, mean: np.ndarray, std: np.ndarray):
    torch = require_torch()
    nn = torch.nn

    class Refiner(nn.Module):
        def __init__(self):
            super().__init__()
            self.register_buffer("mean", torch.as_tensor(mean, dtype=torch.float32))
            self.register_buffer("scale", torch.as_tensor(1.0 / std, dtype=torch.float32))
            self.body = nn.Sequential(nn.Linear(n_features, HIDDEN), nn.ReLU(),
                                      nn.Linear(HIDDEN, HIDDEN), nn.ReLU(),
                                      nn.Linear(HIDDEN, 1))

        def forward(self, x):  # [n, F] -> [n] probability of text
            return torch.sigmoid(self.body((x - self.mean) * self.scale)[:, 0])

    return Refiner()


def collection_weights(collections: list[str], counts: list[int]) -> np.ndarray:
    """Per-sample weights, mean 1, that give every collection the same total weight."""
    per_collection = defaultdict(int)
    for c, n in zip(collections, counts):
        per_collection[c] += n
    weights = np.concatenate([np.full(n, 1.0 / per_collection[c], np.float32)
                              for c, n in zip(collections, counts)]) if counts else \
        np.zeros(0, np.float32)
    return weights * (len(weights) / max(float(weights.sum()), 1e-12))


def fit_refiner(x: np.ndarray, y: np.ndarray, w: np.ndarray | None = None, *, seed: int = 0,
                epochs: int = 4, batch: int = 4096, learning_rate: float = 3e-3):
    """Train on features ``x`` [n, F], labels ``y`` (text) and sample weights ``w``.

    Returns ``predict(features) -> probability`` (NumPy in and out) carrying the trained
    module as ``predict.module``. Same seed and data, same network.
    """
    torch = require_torch()
    torch.manual_seed(seed)
    x = np.asarray(x, np.float32)
    if len(x) == 0:
        raise ValueError("no training pixels: the pages have no pixel near the threshold")
    mean = x.mean(axis=0)
    std = np.maximum(x.std(axis=0), 1e-3)
    net = build_network(x.shape[1], mean, std)
    xt = torch.from_numpy(x)
    yt = torch.from_numpy(np.asarray(y, np.float32))
    wt = torch.from_numpy(np.ones(len(x), np.float32) if w is None else np.asarray(w, np.float32))
    steps = epochs * max(1, -(-len(x) // batch))
    optimiser = torch.optim.AdamW(net.parameters(), lr=learning_rate, weight_decay=1e-4)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimiser, learning_rate, total_steps=steps)
    generator = torch.Generator().manual_seed(seed)
    net.train()
    for _ in range(epochs):
        order = torch.randperm(len(x), generator=generator)
        for start in range(0, len(x), batch):
            index = order[start:start + batch]
            p = net(xt[index]).clamp(1e-6, 1 - 1e-6)
            target = yt[index]
            loss = -(wt[index] * (target * torch.log(p) + (1 - target) * torch.log(1 - p))).mean()
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            schedule.step()
    return predictor(net)


def predictor(net):
    """``predict(features) -> probability`` (NumPy in and out) of a trained network, which
    it carries as ``predict.module``."""
    torch = require_torch()
    net.eval()

    def predict(features: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            return net(torch.from_numpy(np.asarray(features, np.float32))).numpy()

    predict.module = net
    return predict


def export_onnx(module, path, *, margin: float, training_data: str, direction: str = "add",
                reach: int = refine.REACH, shape: str = refine.SHAPE, opset: int = 17,
                tolerance: float = 1e-5) -> float:
    """Write the network to ``path`` (atomically) with the metadata the runtime checks;
    returns the largest |onnxruntime − torch| on random features (RuntimeError above
    ``tolerance``)."""
    metadata = {refine.META_FEATURES: json.dumps(list(refine.FEATURES)),
                refine.META_MARGIN: repr(float(margin)),
                refine.META_DIRECTION: direction,
                refine.META_REACH: str(int(reach)),
                refine.META_SHAPE: shape,
                refine.META_DESCRIPTION: training_data}
    return export_feature_network(module, path, len(refine.FEATURES), metadata,
                                  opset=opset, tolerance=tolerance)


@dataclass(frozen=True)
class TrainConfig:
    """Settings of ``docbin train`` (the shipped network: the defaults)."""

    margin: float = refine.MARGIN
    direction: str = "add"
    reach: int = refine.REACH
    shape: str = refine.SHAPE
    per_page: int = 10000
    epochs: int = 4
    seed: int = 0
    synthetic_pages: int = 40


def synthetic_pairs(count: int, seed: int = 1000):
    """``count`` generated degraded pages (page, text mask) with random degradations."""

    kinds = list(synth.KINDS)
    for i in range(count):
        rng = np.random.default_rng([seed, i])
        chosen = [k for k in kinds if rng.random() < 0.5] or ["stains"]
        rows, cols = int(rng.integers(900, 1600)), int(rng.integers(700, 1300))
        yield synth.degraded_page(rows, cols, seed + i, chosen,
                                  handwriting=float(rng.uniform(0.0, 0.8)))


def train(data, out, *, exclude=(), config: TrainConfig = TrainConfig(), progress=None) -> dict:
    """Train the refinement network on ``<data>/<collection>/{img,gt}`` and export it.

    Returns a summary: pages and pixels per collection, seconds, export error.
    """

    require_torch()  # before the pages are read: a missing extra fails at once
    start = time.perf_counter()
    pairs = [p for p in find_pairs([data] if isinstance(data, (str, Path)) else data)
             if p[0] not in set(exclude)]
    if not pairs:
        raise InputError("no training pages: expected <data>/<collection>/img and gt "
                         "folders with files of the same name")
    rng = np.random.default_rng(config.seed)
    samples = []
    total = len(pairs) + config.synthetic_pages
    for collection, image_path, gt_path in pairs:
        gray = read_image(image_path).image
        text = read_image(gt_path).image < 128
        if text.shape != gray.shape:
            raise ValueError(f"{gt_path}: ground truth {text.shape} and page {gray.shape} "
                             f"differ in size")
        samples.append(page_samples(gray, text, config.margin, collection=collection,
                                    name=image_path.stem, per_page=config.per_page, rng=rng))
        if progress:
            progress(len(samples), total)
    for i, (gray, text) in enumerate(synthetic_pairs(config.synthetic_pages)):
        samples.append(page_samples(gray, text, config.margin, collection="synth",
                                    name=f"S{i:03d}", per_page=config.per_page, rng=rng))
        if progress:
            progress(len(samples), total)
    samples = [s for s in samples if len(s.text)]
    x = np.concatenate([s.features for s in samples])
    y = np.concatenate([s.text for s in samples])
    w = collection_weights([s.collection for s in samples], [len(s.text) for s in samples])
    predict = fit_refiner(x, y, w, seed=config.seed, epochs=config.epochs)
    counts = defaultdict(int)
    for s in samples:
        counts[s.collection] += 1
    description = (f"{sum(counts.values())} pages of {len(counts)} collections "
                   f"({', '.join(f'{c} {n}' for c, n in sorted(counts.items()))}); "
                   f"band δ = {config.margin}, direction {config.direction}, reach "
                   f"{config.reach}, shape {config.shape}; {len(x)} pixels; "
                   f"seed {config.seed}")
    difference = export_onnx(predict.module, out, margin=config.margin,
                             direction=config.direction, reach=config.reach, shape=config.shape,
                             training_data=description)
    return {"pages": dict(counts), "pixels": len(x), "description": description,
            "seconds": time.perf_counter() - start, "export_error": difference,
            "parameters": int(sum(p.numel() for p in predict.module.parameters()))}
