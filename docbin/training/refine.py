"""The refinement network of ``--method hybrid`` (docbin/refine.py): fit and export.

A per-pixel multilayer perceptron over the features of :data:`docbin.refine.FEATURES`:
a fixed standardisation (the training set's mean and deviation), two hidden layers of 32
units (ReLU) and one logit. Trained with a weighted binary cross-entropy on band pixels.
"""

from __future__ import annotations

import numpy as np

from . import require_torch

HIDDEN = 32


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

        def forward(self, x):  # [n, F] -> [n] probability of ink
            return torch.sigmoid(self.body((x - self.mean) * self.scale)[:, 0])

    return Refiner()


def fit_refiner(x: np.ndarray, y: np.ndarray, w: np.ndarray | None = None, *, seed: int = 0,
                epochs: int = 6, batch: int = 4096, learning_rate: float = 3e-3):
    """Train on features ``x`` [n, F], labels ``y`` (ink) and sample weights ``w``.

    Returns a function ``predict(features) -> probability`` (NumPy in, NumPy out) that
    carries the trained module as ``predict.module``.
    """
    torch = require_torch()
    torch.manual_seed(seed)
    x = np.asarray(x, np.float32)
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
    net.eval()

    def predict(features: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            return net(torch.from_numpy(np.asarray(features, np.float32))).numpy()

    predict.module = net
    return predict
