"""Both training stages of the hybrid model (METHOD.md §4).

Stage 1 optimises the control net itself over all training pages (one global surface);
stage 2 trains :class:`~docbin.training.network.DeltaNet` to predict per-page Δz around
that base. The loss of every item is computed from its page's sampled candidate pixels
(:mod:`docbin.training.losses`), so an epoch costs only the network's passes.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import cv2
import numpy as np

from ..regional import BLEND_SPREAD
from ..surface import clamped_uniform_knots, design_matrix, logistic_surface
from . import require_torch
from .data import PageRecord
from .losses import hybrid_loss, soft_counts_sampled
from .network import DeltaNet

torch = require_torch()

BASE_CHANNELS = ("gray", "z", "b", "t", "alpha", "beta")
EXTRA_CHANNELS = ("ratio", "candidate")


@dataclass
class TrainConfig:
    n: int = 8
    degree: int = 3
    delta_max: float = 0.25
    width: int = 16
    channels: tuple = BASE_CHANNELS + EXTRA_CHANNELS
    # stage 1
    global_steps: int = 300
    global_lr: float = 0.01
    global_mu: float = 1.0
    global_samples: int = 8192  # per page: stage 1 sees every page at every step
    # stage 2
    epochs: int = 20
    batch_pages: int = 8
    patches_per_page: int = 2
    lr: float = 3e-3
    weight_decay: float = 1e-4
    mu: float = 0.01
    balance_spread: float = 1.0  # u = 0.5 + spread·(U(0, 1) − 0.5): α = 1 − u, β = u
    # "page": the loss reads one f per page (Δz = mean over the patches; the shipped model);
    # "region": the regional f map (each sample's f from the patches' Δz blended by
    # distance, as ``--scope region`` does); "both": the mean of the two losses
    scope: str = "page"
    region_patches: int = 4  # patches per page in the regional loss
    tau_start: float = 4.0
    tau_end: float = 1.0
    seed: int = 0
    threads: int = 2
    log: object = field(default=None, repr=False)


def basis_weights(b: float, t: float, n: int, degree: int = 3) -> np.ndarray:
    """N_i(b)·N_j(t) as an n×n array (rows: b index i, cols: t index j)."""
    knots = clamped_uniform_knots(n, degree)
    nb = design_matrix(np.clip([b], 0, 1), knots, degree).toarray()[0]
    nt = design_matrix(np.clip([t], 0, 1), knots, degree).toarray()[0]
    return np.outer(nb, nt)


def build_channels(window: np.ndarray, record: PageRecord, z: np.ndarray, alpha: float,
                   beta: float, channels) -> np.ndarray:
    """The network input of one 512×512 window (uint8 [3, S, S]: gray, L_m, candidate)."""
    gray = window[0].astype(np.float32)
    size = gray.shape[0]
    planes = []
    for name in channels:
        if name == "gray":
            planes.append(gray / 255.0)
        elif name == "z":
            planes.append(cv2.resize(z.astype(np.float32), (size, size),
                                     interpolation=cv2.INTER_LINEAR))
        elif name == "b":
            planes.append(np.full((size, size), record.b, np.float32))
        elif name == "t":
            planes.append(np.full((size, size), record.t, np.float32))
        elif name == "alpha":
            planes.append(np.full((size, size), alpha, np.float32))
        elif name == "beta":
            planes.append(np.full((size, size), beta, np.float32))
        elif name == "ratio":
            ratio = gray / np.maximum(window[1].astype(np.float32), 1.0)
            planes.append(np.clip(ratio, 0.0, 2.0) / 2.0)
        elif name == "candidate":
            planes.append(window[2].astype(np.float32))
        else:
            raise ValueError(f"unknown input channel {name!r}")
    return np.stack(planes)


class PageTensors:
    """A record's samples as tensors, plus its base factor and basis weights."""

    def __init__(self, record: PageRecord, n: int, degree: int,
                 max_samples: int | None = None):
        self.record = record
        step = 1 if max_samples is None else max(1, -(-record.sample_image.size // max_samples))
        # a strided subset: samples are in raster order, so this keeps the whole page
        self.image = torch.from_numpy(record.sample_image[::step].astype(np.float32))
        self.median = torch.from_numpy(record.sample_median[::step].astype(np.float32))
        self.text = torch.from_numpy(record.sample_text[::step].astype(np.float32))
        self.weights = torch.from_numpy(basis_weights(record.b, record.t, n, degree)).float()
        self.f_logistic = float(logistic_surface(record.b, record.t))
        # sample positions in page pixels (row, col)
        scale = np.array([record.rows, record.cols], np.float32)
        self.pos = torch.from_numpy(record.sample_pos[::step] * scale - 0.5)

    def factor(self, delta_z):
        """f = logistic(b, t) + S_Δ(b, t), clipped to [0.05, 1]."""
        f = self.f_logistic + (self.weights * delta_z).sum()
        return f.clamp(0.05, 1.0)

    def blend_weights(self, chosen) -> torch.Tensor:
        """[P, samples] weights of the chosen windows' Δz at every sample: the runtime's
        :func:`docbin.regional.patch_blend_weights` read at the sample instead of the tile
        centre (w_p ∝ exp(−d_p² / 2·spread²), normalised over the patches)."""
        boxes = torch.from_numpy(self.record.boxes[chosen].astype(np.float32))
        centres = boxes[:, :2] + (boxes[:, 2:] - 1) / 2.0
        d2 = ((self.pos[None, :, :] - centres[:, None, :]) ** 2).sum(-1)
        return torch.softmax(-d2 / (2.0 * BLEND_SPREAD ** 2), dim=0)

    def region_factor(self, offset, delta_patches, blend):
        """f per sample: logistic(b, t) + S_{offset + Σ_p w_p Δz_p}(b, t), clipped."""
        per_patch = (delta_patches * self.weights).sum(dim=(1, 2))  # S_Δz_p(b, t)
        f = self.f_logistic + (self.weights * offset).sum() + (blend * per_patch[:, None]).sum(0)
        return f.clamp(0.05, 1.0)

    def counts(self, f, tau):
        r = self.record
        return soft_counts_sampled(self.image, self.median, self.text, f, tau,
                                   n_candidates=r.n_candidates, n_text=r.n_text,
                                   n_pixels=r.n_pixels)


def _log(config: TrainConfig, message: str) -> None:
    if config.log is not None:
        config.log(message)


def optimise_global_surface(records: list[PageRecord], config: TrainConfig) -> np.ndarray:
    """Stage 1: one control-net offset Δz_g for all pages, minimising the mean loss.

    Returns the offset (n × n) to add to the base net; the page factor becomes
    ``logistic(b, t) + Σ N_i(b) N_j(t) Δz_g[i, j]``.
    """
    torch.manual_seed(config.seed)
    pages = [PageTensors(r, config.n, config.degree, config.global_samples)
             for r in records]
    offset = torch.zeros(config.n, config.n, requires_grad=True)
    optimiser = torch.optim.Adam([offset], lr=config.global_lr)
    for step in range(config.global_steps):
        tau = _tau(config, step / max(config.global_steps - 1, 1))
        optimiser.zero_grad()
        loss = sum(hybrid_loss(p.counts(p.factor(offset), tau), 0.5, 0.5, offset,
                               0.0) for p in pages) / len(pages)
        loss = loss + config.global_mu * (offset ** 2).mean()
        loss.backward()
        optimiser.step()
        if step % 100 == 0 or step == config.global_steps - 1:
            _log(config, f"global surface step {step}: loss {loss.item():.4f}")
    return offset.detach().numpy().astype(np.float32)


def _tau(config: TrainConfig, progress: float) -> float:
    return config.tau_start * (config.tau_end / config.tau_start) ** progress


def train_network(records: list[PageRecord], config: TrainConfig, base_z: np.ndarray,
                  base_offset: np.ndarray) -> DeltaNet:
    """Stage 2: the CNN predicts per-page Δz around the base surface.

    Each step takes ``batch_pages`` pages, random windows of each (``patches_per_page``,
    or ``region_patches`` when the regional loss is on; random flips), a random balance
    u ~ U(0, 1) per page (α = 1 − u, β = u), and minimises the mean loss of the pages:
    with ``scope`` "page" the loss of f from Δz = base offset + mean of the windows'
    predictions; with "region" the loss of the regional f map (the windows' Δz blended at
    every sample by distance); with "both" the mean of the two.
    """
    if config.scope not in ("page", "region", "both"):
        raise ValueError(f"scope must be page, region or both, got {config.scope!r}")
    regional = config.scope != "page"
    per_page = config.region_patches if regional else config.patches_per_page
    rng = np.random.default_rng(config.seed)
    torch.manual_seed(config.seed)
    torch.set_num_threads(config.threads)
    pages = [PageTensors(r, config.n, config.degree) for r in records]
    model = DeltaNet(len(config.channels), config.n, config.width, config.delta_max)
    optimiser = torch.optim.AdamW(model.parameters(), lr=config.lr,
                                  weight_decay=config.weight_decay)
    steps_per_epoch = max(1, math.ceil(len(pages) / config.batch_pages))
    total = config.epochs * steps_per_epoch
    scheduler = torch.optim.lr_scheduler.OneCycleLR(optimiser, max_lr=config.lr,
                                                    total_steps=total, pct_start=0.15)
    offset = torch.from_numpy(base_offset).float()
    step = 0
    start = time.perf_counter()
    for epoch in range(config.epochs):
        order = rng.permutation(len(pages))
        epoch_loss = 0.0
        for s in range(steps_per_epoch):
            batch = [pages[i] for i in order[s * config.batch_pages:(s + 1) * config.batch_pages]]
            if not batch:
                continue
            tau = _tau(config, step / max(total - 1, 1))
            inputs, owners, balances, chosen_windows = [], [], [], []
            for k, page in enumerate(batch):
                u = 0.5 + config.balance_spread * (float(rng.uniform(0.0, 1.0)) - 0.5)
                balances.append(u)
                windows = page.record.windows
                chosen = rng.choice(len(windows), min(per_page, len(windows)), replace=False)
                chosen_windows.append(np.sort(chosen))
                for w in chosen_windows[-1]:
                    x = build_channels(windows[w], page.record, base_z, 1.0 - u, u,
                                       config.channels)
                    if rng.random() < 0.5:
                        x = x[:, :, ::-1]
                    if rng.random() < 0.5:
                        x = x[:, ::-1, :]
                    inputs.append(np.ascontiguousarray(x))
                    owners.append(k)
            delta = model(torch.from_numpy(np.stack(inputs)))
            owners_t = torch.tensor(owners)
            loss = 0.0
            for k, page in enumerate(batch):
                patches = delta[owners_t == k]
                dz = patches.mean(dim=0)
                u = balances[k]
                item = 0.0
                if config.scope != "region":
                    f = page.factor(offset + dz)
                    item = item + hybrid_loss(page.counts(f, tau), 1.0 - u, u, dz, config.mu)
                if regional:
                    f = page.region_factor(offset, patches,
                                           page.blend_weights(chosen_windows[k]))
                    item = item + hybrid_loss(page.counts(f, tau), 1.0 - u, u, patches,
                                              config.mu / len(patches))
                loss = loss + (item / 2 if config.scope == "both" else item)
            loss = loss / len(batch)
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            scheduler.step()
            step += 1
            epoch_loss += loss.item()
        _log(config, f"epoch {epoch + 1}/{config.epochs}: loss {epoch_loss / steps_per_epoch:.4f}"
                     f" ({time.perf_counter() - start:.0f} s)")
    model.eval()
    return model


@torch.no_grad()
def predict_delta(model: DeltaNet, record: PageRecord, base_z: np.ndarray, config: TrainConfig,
                  balance: float = 0.5) -> np.ndarray:
    """Mean Δz over a record's windows (the runtime's rule)."""
    x = np.stack([build_channels(w, record, base_z, 1.0 - balance, balance, config.channels)
                  for w in record.windows])
    return model(torch.from_numpy(x)).mean(dim=0).numpy()


def page_factor(record: PageRecord, delta_z: np.ndarray, n: int, degree: int = 3) -> float:
    f = float(logistic_surface(record.b, record.t)) + float(
        (basis_weights(record.b, record.t, n, degree) * delta_z).sum())
    return float(np.clip(f, 0.05, 1.0))


def train_model(data, out, *, epochs: int = 20, seed: int = 0, variants: int = 2,
                exclude=(), cache_dir=None, global_surface: bool = True,
                config: TrainConfig | None = None, log=None) -> dict:
    """Both stages on the pages under ``data`` (folders of ``<collection>/img|gt``), then
    export to ONNX at ``out`` and check the export against torch.

    ``variants`` counts the original page plus augmented copies; ``exclude`` names
    collections to leave out; ``global_surface=False`` keeps the logistic base (no stage-1
    offset). Returns a summary (pages, parameters, seconds, export difference).
    """
    from pathlib import Path

    from ..surface import fit_logistic
    from .data import find_pairs, load_record
    from .export import export_onnx
    from .network import count_parameters

    start = time.perf_counter()
    config = config or TrainConfig()
    config.epochs, config.seed = epochs, seed
    if log is not None:
        config.log = log
    torch.manual_seed(seed)
    pairs = [p for p in find_pairs(data) if p[0] not in set(exclude)]
    if not pairs:
        raise ValueError("no training pages found: expected <data>/<collection>/img/* with "
                         "matching <data>/<collection>/gt/*")
    cache = Path(cache_dir) if cache_dir else None
    records = []
    for variant in range(max(1, variants)):
        for collection, image, gt in pairs:
            records.append(load_record(collection, image, gt, variant=variant, seed=seed,
                                       cache_dir=cache))
        _log(config, f"pages ready: variant {variant} ({time.perf_counter() - start:.0f} s)")
    base = fit_logistic(config.n, degree=config.degree)
    z_fit = base.z.astype(np.float32)
    offset = np.zeros((config.n, config.n), np.float32)
    if global_surface:
        offset = optimise_global_surface(records, config)
    model = train_network(records, config, z_fit + offset, offset)
    originals = [r for r in records if r.variant == 0][:2]
    sample = np.concatenate([
        np.stack([build_channels(w, r, z_fit + offset, 0.5, 0.5, config.channels)
                  for w in r.windows[:1]]) for r in originals])
    collections = sorted({p[0] for p in pairs})
    difference = export_onnx(
        model, out, n=config.n, degree=config.degree, knots=base.knots, z=z_fit + offset,
        offset=offset, delta_max=config.delta_max, channels=config.channels,
        training_data=f"{len(pairs)} pages of {', '.join(collections)}; "
                      f"{variants - 1} augmented copies each",
        description=f"DeltaNet width {config.width}, {epochs} epochs, seed {seed}, "
                    f"loss scope {config.scope}",
        sample_inputs=sample)
    return {"pages": len(pairs), "records": len(records), "collections": collections,
            "parameters": count_parameters(model), "seconds": time.perf_counter() - start,
            "onnx_max_difference": difference, "global_offset_max": float(np.abs(offset).max())}
