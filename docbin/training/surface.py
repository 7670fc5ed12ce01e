"""Training of the surface network of the hybrid's ``surface`` step (docbin/method/adjust.py).

The network reads one 512 × 512 patch (downscaled to 64 × 64) and constant planes of the
surface parameters and target weights, and returns a bounded offset net Δz (n × n) of the
B-spline offset added to the exact logistic surface (METHOD.md §2–§4). Training uses the
paper's relaxation of the decision rule on each page:

    p = σ((f(row, col)·L_m − I)/τ)  on the candidate pixels I < L_a  (0 elsewhere)

with f(row, col) the factor the runtime uses: the patch factors
``clip(logistic(b_page, t_page) + Σ Δz_ij N_i(b_patch) N_j(t_patch), 0.05, 1)`` blended
bilinearly between patch centres. The second factor σ((L_a − I)/τ) of METHOD.md §4 holds
no learnable quantity (f does not enter it) and is taken in its τ → 0 limit, the
indicator I < L_a. Per page a uniform sample of the candidate pixels (full resolution, up
to :attr:`TrainConfig.samples`) stands for all of them: its soft sums are scaled by
``n_candidates / n_samples`` (an unbiased estimate of the page's soft TP and FP); pixels
outside the candidates are never ink. With the page's text count n_text and size
n_pixels::

    TP = scale·Σ p·g,  FP = scale·Σ p·(1 − g),  FN = n_text − TP,  TN = n_pixels − n_text − FP
    FM = 2TP / (2TP + FP + FN),  NRM = ½(FN/(FN + TP) + FP/(FP + TN))
    L(f) = α·(1 − FM) + β·NRM
    loss = L(f) + λ·max(0, L(f) − L(f_page)) + μ·mean_patches ‖Δz‖²

The regret term ``max(0, L(f) − L(f_page))`` charges again every page the adjusted surface
makes worse than the classical one (same relaxation, same α and β); the penalty on Δz pulls
the surface back to the classical one where the page gives no evidence. α = 1 − balance,
β = balance with balance drawn uniformly in [0.2, 0.8] per page (fed to the network as
the ``alpha``/``beta`` planes). Pages are drawn so that every collection (generated pages
included, as one collection) is drawn equally often. τ anneals linearly from
:attr:`TrainConfig.tau_start` to :attr:`TrainConfig.tau_end` gray levels.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from docbin.errors import InputError
from docbin.method import adjust as _adjust
from docbin.method import surface as _surface
from docbin.training import require_torch

INPUT_SIZE = 64
DEFAULT_CHANNELS = _adjust.CHANNELS


@dataclass
class TrainConfig:
    """Settings of :func:`fit` (the shipped network uses the defaults)."""

    steps: int = 1000
    batch_pages: int = 8
    learning_rate: float = 2e-3
    mu: float = 3.0          # weight of mean ‖Δz‖² per patch
    regret: float = 10.0     # λ, weight of max(0, L(f) − L(f_page))
    delta_max: float = 0.15
    tau_start: float = 4.0
    tau_end: float = 1.0
    samples: int = 8192      # candidate pixels per page
    width: int = 16
    seed: int = 0
    threads: int = 1         # torch threads (one is fastest for this small network)
    synthetic_pages: int = 40
    channels: tuple = field(default_factory=lambda: tuple(DEFAULT_CHANNELS))


# --- pages ------------------------------------------------------------------------------------


def prepare_page(gray: np.ndarray, text: np.ndarray, *, collection: str = "", name: str = "",
                 samples: int = 8192, seed: int = 0) -> dict:
    """Everything training and evaluation need from one page (plain arrays, for .npz).

    Page statistics and per-patch histograms (:func:`docbin.method.stats.measure_page_blocks`),
    patch points (:func:`docbin.method.surface.patch_statistics`), the downscaled patches,
    ``L_m`` and ``L_a`` (:func:`docbin.method.decision.local_stats`), and a uniform sample of the
    candidate pixels ``I < L_a`` with their I, L_m, ground truth and the four patch
    indices and bilinear weights of the runtime's blended f at their position.
    """
    from docbin.method import decision as threshold
    from docbin.method import stats

    if text.shape != gray.shape:
        raise InputError(f"{name}: ground truth {text.shape} and page {gray.shape} differ")
    P = _surface.PATCH_SIZE
    grid = _surface.patch_grid_shape(gray.shape, P)
    page, _, blocks = stats.measure_page_blocks(gray, P, grid)
    b_patch, t_patch, weight = _surface.patch_statistics(page.b, page.t, blocks.contour,
                                                         blocks.ink)
    f_page = float(_surface.logistic_surface(page.b, page.t))
    local = threshold.local_stats(gray, page.window_radius)
    candidates = np.flatnonzero(gray < local.local_mean)
    rng = np.random.default_rng(seed)
    take = candidates if len(candidates) <= samples else np.sort(
        rng.choice(candidates, samples, replace=False))
    rows, cols = np.divmod(take, gray.shape[1])

    def axis(pos, count):
        u = np.clip((pos + 0.5) / P - 0.5, 0.0, count - 1)
        i0 = np.floor(u).astype(np.int64)
        return i0, np.minimum(i0 + 1, count - 1), u - i0

    r0, r1, fr = axis(rows, grid[0])
    c0, c1, fc = axis(cols, grid[1])
    index = np.stack([r0 * grid[1] + c0, r0 * grid[1] + c1, r1 * grid[1] + c0,
                      r1 * grid[1] + c1], 1).astype(np.int32)
    weights = np.stack([(1 - fr) * (1 - fc), (1 - fr) * fc, fr * (1 - fc), fr * fc],
                       1).astype(np.float32)
    flat_text = text.ravel()
    return {
        "collection": np.array(collection), "name": np.array(name),
        "shape": np.array(gray.shape), "grid": np.array(grid),
        "page": np.array([page.ink_intensity, page.contour_intensity, page.window_radius,
                          f_page]),
        "small": _adjust.downscaled_patches(gray, P, INPUT_SIZE),
        "b_patch": b_patch.ravel(), "t_patch": t_patch.ravel(), "edge_weight": weight.ravel(),
        "contour": blocks.contour.astype(np.int32), "ink": blocks.ink.astype(np.int32),
        "sample_image": gray.ravel()[take], "sample_median": local.local_median.ravel()[take],
        "sample_text": flat_text[take], "sample_index": index, "sample_weight": weights,
        "counts": np.array([len(candidates), int(np.count_nonzero(text)), gray.size]),
    }


def synthetic_pairs(count: int, seed: int = 1000):
    """``count`` generated degraded pages (page, text mask), as for the refinement network."""
    from docbin.training.refine import synthetic_pairs as pairs

    return pairs(count, seed)


def prepare_pages(pairs, cache: Path | None = None, *, samples: int = 8192, seed: int = 0,
                  progress=None) -> list[dict]:
    """:func:`prepare_page` of every ``(collection, image_path, gt_path)``, or of every
    ``(collection, name, gray, text)`` for in-memory pages; cached as ``.npz`` in ``cache``
    when given (delete the cache after changing the code)."""
    from docbin.io import read_image

    pages = []
    for k, item in enumerate(pairs):
        collection, name = item[0], Path(str(item[1])).stem
        path = None if cache is None else Path(cache) / f"{collection}__{name}.npz"
        if path is not None and path.exists():
            with np.load(path) as z:
                pages.append({key: z[key] for key in z.files})
        else:
            if len(item) == 4:
                gray, text = item[2], item[3]
            else:
                gray = read_image(item[1]).image
                text = read_image(item[2]).image < 128
            data = prepare_page(gray, text, collection=collection, name=name,
                                samples=samples, seed=seed + k)
            if path is not None:
                path.parent.mkdir(parents=True, exist_ok=True)
                tmp = path.with_suffix(".tmp.npz")
                np.savez(tmp, **data)
                os.replace(tmp, path)
            pages.append(data)
        if progress:
            progress(len(pages))
    return pages


# --- the network ------------------------------------------------------------------------------


def build_network(channels=DEFAULT_CHANNELS, n: int = _surface.DEFAULT_N,
                  delta_max: float = 0.15, width: int = 16):
    """The surface network: (N, C, 64, 64) → Δz (N, n, n) = δ_max·tanh(raw).

    Four 3 × 3 stride-2 convolutions (ReLU) over the ``gray`` channel (64 → 4 px), global
    mean and max pooling, concatenated with the spatial means of the other channels (the
    constant planes), then a hidden layer of 64 units and a linear layer to n² values. The
    last layer starts at zero: an untrained network leaves the classical surface as it is.
    """
    torch = require_torch()
    nn = torch.nn
    channels = tuple(channels)
    gray_index = channels.index("gray")
    others = [k for k, c in enumerate(channels) if c != "gray"]
    w = width

    class SurfaceNet(nn.Module):
        def __init__(self):
            super().__init__()
            self.n = n
            self.delta_max = float(delta_max)
            self.gray_index = gray_index
            self.register_buffer("others", torch.tensor(others, dtype=torch.long))
            self.features = nn.Sequential(
                nn.Conv2d(1, w, 3, stride=2, padding=1), nn.ReLU(),
                nn.Conv2d(w, 2 * w, 3, stride=2, padding=1), nn.ReLU(),
                nn.Conv2d(2 * w, 2 * w, 3, stride=2, padding=1), nn.ReLU(),
                nn.Conv2d(2 * w, 2 * w, 3, stride=2, padding=1), nn.ReLU())
            self.head = nn.Sequential(nn.Linear(4 * w + len(others), 64), nn.ReLU(),
                                      nn.Linear(64, n * n))
            nn.init.zeros_(self.head[-1].weight)
            nn.init.zeros_(self.head[-1].bias)

        def forward(self, x):
            h = self.features(x[:, self.gray_index:self.gray_index + 1])
            planes = x.index_select(1, self.others).mean(dim=(2, 3))
            pooled = torch.cat([h.mean(dim=(2, 3)), h.amax(dim=(2, 3)), planes], dim=1)
            return self.delta_max * torch.tanh(self.head(pooled)).view(-1, self.n, self.n)

    return SurfaceNet()


class TorchSurfaceModel:
    """A torch network with the attributes of :class:`docbin.method.adjust.SurfaceModel`,
    so that :func:`docbin.method.adjust.surface_factor` runs it (evaluation, tests)."""

    def __init__(self, module, channels=DEFAULT_CHANNELS, degree: int = _surface.DEFAULT_DEGREE):
        self.module = module.eval()
        self.channels = tuple(channels)
        self.n = module.n
        self.degree = degree
        self.delta_max = module.delta_max
        self.patch_size = _surface.PATCH_SIZE
        self.input_size = INPUT_SIZE
        self.base_z = _surface.fit_logistic(self.n, degree=degree).z
        self.base = _adjust.base_plane(self.base_z, INPUT_SIZE)

    def predict(self, x: np.ndarray) -> np.ndarray:
        torch = require_torch()
        with torch.no_grad():
            return self.module(torch.from_numpy(np.ascontiguousarray(x, np.float32))).numpy()


# --- the loss ---------------------------------------------------------------------------------


def page_loss(torch, f_sample, page: dict, alpha: float, beta: float, tau: float):
    """α·(1 − soft FM) + β·soft NRM of a page for the factor at its sampled pixels."""
    image = page["_image"]
    median = page["_median"]
    g = page["_text"]
    n_cand, n_text, n_pixels = (float(v) for v in page["counts"])
    p = torch.sigmoid((f_sample * median - image) / tau)
    scale = n_cand / max(len(image), 1)
    tp = scale * (p * g).sum()
    fp = scale * (p * (1 - g)).sum()
    fn = torch.clamp(n_text - tp, min=0.0)
    tn = torch.clamp((n_pixels - n_text) - fp, min=0.0)
    eps = 1e-6
    fm = 2 * tp / (2 * tp + fp + fn + eps)
    nrm = 0.5 * (fn / (fn + tp + eps) + fp / (fp + tn + eps))
    return alpha * (1 - fm) + beta * nrm


def _tensors(torch, page: dict, n: int, degree: int) -> None:
    if "_image" in page:
        return
    page["_image"] = torch.from_numpy(page["sample_image"].astype(np.float32))
    page["_median"] = torch.from_numpy(page["sample_median"].astype(np.float32))
    page["_text"] = torch.from_numpy(page["sample_text"].astype(np.float32))
    page["_index"] = torch.from_numpy(page["sample_index"].astype(np.int64))
    page["_weight"] = torch.from_numpy(page["sample_weight"].astype(np.float32))
    page["_basis"] = torch.from_numpy(_surface.offset_weights(
        page["b_patch"], page["t_patch"], n, degree).astype(np.float32))


def page_inputs(page: dict, channels, balance: float, base: np.ndarray) -> np.ndarray:
    """The network input of a prepared page's patches (as the runtime builds it)."""
    ink, contour = float(page["page"][0]), float(page["page"][1])
    scalars = {"b_page": contour / 255.0, "t_page": ink / 255.0, "alpha": 1.0 - balance,
               "beta": balance, "b_patch": page["b_patch"], "t_patch": page["t_patch"],
               "f_page": float(page["page"][3]), "edge_weight": page["edge_weight"]}
    return _adjust.build_inputs(page["small"], channels, scalars, base)


def fit(pages: list[dict], config: TrainConfig | None = None, progress=None):
    """Train the surface network on prepared pages; returns the torch module."""
    config = config or TrainConfig()
    torch = require_torch()
    torch.set_num_threads(config.threads)
    torch.manual_seed(config.seed)
    rng = np.random.default_rng(config.seed)
    n, degree = _surface.DEFAULT_N, _surface.DEFAULT_DEGREE
    net = build_network(config.channels, n, config.delta_max, config.width)
    base = _adjust.base_plane(_surface.fit_logistic(n, degree=degree).z, INPUT_SIZE)
    by_collection: dict = {}
    for page in pages:
        if int(page["counts"][1]) == 0 or len(page["sample_image"]) == 0:
            continue
        by_collection.setdefault(str(page["collection"]), []).append(page)
    names = sorted(by_collection)
    if not names:
        raise InputError("no training page with text and candidate pixels")
    optimiser = torch.optim.Adam(net.parameters(), lr=config.learning_rate)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimiser, config.steps)
    net.train()
    for step in range(config.steps):
        tau = config.tau_start + (config.tau_end - config.tau_start) * step / max(
            1, config.steps - 1)
        chosen = []
        for _ in range(config.batch_pages):  # every collection drawn equally often
            group = by_collection[names[rng.integers(len(names))]]
            chosen.append(group[rng.integers(len(group))])
        balances = rng.uniform(0.2, 0.8, len(chosen))
        x = np.concatenate([page_inputs(p, config.channels, float(bal), base)
                            for p, bal in zip(chosen, balances)])
        delta_z = net(torch.from_numpy(x))
        total = 0.0
        start = 0
        for page, bal in zip(chosen, balances):
            _tensors(torch, page, n, degree)
            count = len(page["b_patch"])
            dz = delta_z[start:start + count]
            start += count
            f_page = float(page["page"][3])
            offset = (page["_basis"] * dz).sum(dim=(1, 2))
            f_patch = torch.clamp(f_page + offset, *_surface.ADJUSTED_RANGE)
            f_sample = (f_patch[page["_index"]] * page["_weight"]).sum(dim=1)
            alpha, beta = 1.0 - float(bal), float(bal)
            loss = page_loss(torch, f_sample, page, alpha, beta, tau)
            with torch.no_grad():
                classical = page_loss(torch, torch.full_like(f_sample, f_page), page, alpha,
                                      beta, tau)
            total = total + loss + config.regret * torch.relu(loss - classical) + \
                config.mu * (dz ** 2).sum(dim=(1, 2)).mean()
        total = total / len(chosen)
        optimiser.zero_grad()
        total.backward()
        optimiser.step()
        schedule.step()
        if progress and (step % 100 == 0 or step == config.steps - 1):
            progress(step, float(total.detach()))
    return net.eval()


# --- export -----------------------------------------------------------------------------------


def export_onnx(net, out, *, channels=DEFAULT_CHANNELS, description: str = "") -> float:
    """Write the network as ONNX with the metadata the runtime checks; returns the largest
    |Δz| difference between onnxruntime and torch on a batch of random inputs."""
    torch = require_torch()
    import onnx

    from docbin import __version__

    n, degree = net.n, _surface.DEFAULT_DEGREE
    example = torch.rand(4, len(channels), INPUT_SIZE, INPUT_SIZE)
    out = Path(out)
    tmp = out.with_suffix(".tmp.onnx")
    torch.onnx.export(net, example, str(tmp), input_names=["patches"],
                      output_names=["delta_z"], opset_version=17,
                      dynamic_axes={"patches": {0: "n"}, "delta_z": {0: "n"}}, dynamo=False)
    model = onnx.load(str(tmp))
    meta = {
        _adjust.META_KIND: _adjust.KIND,
        _adjust.META_CHANNELS: json.dumps(list(channels)),
        _adjust.META_N: str(n), _adjust.META_DEGREE: str(degree),
        _adjust.META_KNOTS: json.dumps(_surface.clamped_uniform_knots(n, degree).tolist()),
        _adjust.META_BASE_Z: json.dumps(_surface.fit_logistic(n, degree=degree).z.tolist()),
        _adjust.META_DELTA_MAX: repr(float(net.delta_max)),
        _adjust.META_PATCH: str(_surface.PATCH_SIZE), _adjust.META_INPUT: str(INPUT_SIZE),
        _adjust.META_NORMALISATION: _adjust.NORMALISATION,
        _adjust.META_VERSION: __version__, _adjust.META_DESCRIPTION: description,
    }
    del model.metadata_props[:]
    for key, value in meta.items():
        entry = model.metadata_props.add()
        entry.key, entry.value = key, value
    onnx.save(model, str(tmp))
    runtime = _adjust.SurfaceModel(tmp)
    x = np.random.default_rng(0).random((8, len(channels), INPUT_SIZE, INPUT_SIZE),
                                        dtype=np.float32)
    with torch.no_grad():
        expected = net(torch.from_numpy(x)).numpy()
    difference = float(np.max(np.abs(runtime.predict(x) - expected)))
    os.replace(tmp, out)
    return difference


def train(data, out, *, exclude=(), config: TrainConfig | None = None, cache=None,
          progress=None) -> dict:
    """Train the surface network on ``<data>/<collection>/{img,gt}`` (msi2015 is never a
    training collection) plus ``config.synthetic_pages`` generated pages, and export it."""
    from docbin.training.refine import find_pairs

    config = config or TrainConfig()
    require_torch()
    start = time.perf_counter()
    excluded = set(exclude) | {"msi2015"}
    pairs = [p for p in find_pairs([data] if isinstance(data, (str, Path)) else data)
             if p[0] not in excluded]
    if not pairs:
        raise InputError("no training pages: expected <data>/<collection>/img and gt folders")
    pages = prepare_pages(pairs, cache, samples=config.samples, seed=config.seed)
    synthetic = [("synth", f"S{i:03d}", gray, text) for i, (gray, text) in
                 enumerate(synthetic_pairs(config.synthetic_pages))]
    pages += prepare_pages(synthetic, cache, samples=config.samples, seed=config.seed + 10000)
    net = fit(pages, config, progress)
    counts: dict = {}
    for page in pages:
        counts[str(page["collection"])] = counts.get(str(page["collection"]), 0) + 1
    description = (f"{len(pages)} pages of {len(counts)} collections "
                   f"({', '.join(f'{c} {k}' for c, k in sorted(counts.items()))}); "
                   f"steps {config.steps}, μ {config.mu}, λ {config.regret}, δ_max "
                   f"{config.delta_max}; seed {config.seed}")
    difference = export_onnx(net, out, channels=config.channels, description=description)
    return {"pages": counts, "description": description,
            "seconds": time.perf_counter() - start, "export_error": difference,
            "parameters": int(sum(p.numel() for p in net.parameters()))}
