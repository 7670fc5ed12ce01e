"""The residual CNN: 512×512 patches → bounded control-net adjustments Δz (n × n).

Built for a 2-core CPU: a 4×4 stride-4 stem brings the patch to 128×128 at once, three
stride-2 convolutions follow, then global average and max pooling and a small head.
About 80 k parameters. The last layer starts at zero, so an untrained network predicts
Δz = 0 (the base surface).
"""

from __future__ import annotations

from . import require_torch

torch = require_torch()
nn = torch.nn


class DeltaNet(nn.Module):
    def __init__(self, in_channels: int = 8, n: int = 8, width: int = 16,
                 delta_max: float = 0.25):
        super().__init__()
        self.n = n
        self.delta_max = float(delta_max)
        w = width

        # No normalisation layers: the absolute levels of the input (how dark the ink is
        # against its surroundings, the constant b/t/α/β planes) are the information the
        # network needs; per-patch normalisation would remove them.
        def block(cin, cout):
            return nn.Sequential(nn.Conv2d(cin, cout, 3, stride=2, padding=1),
                                 nn.ReLU(inplace=True))

        self.features = nn.Sequential(
            nn.Conv2d(in_channels, w, 4, stride=4), nn.ReLU(inplace=True),
            block(w, 2 * w), block(2 * w, 4 * w), block(4 * w, 4 * w))
        self.head = nn.Sequential(nn.Linear(8 * w, 64), nn.ReLU(inplace=True),
                                  nn.Linear(64, n * n))
        nn.init.zeros_(self.head[-1].weight)
        nn.init.zeros_(self.head[-1].bias)

    def forward(self, x):
        h = self.features(x)
        pooled = torch.cat([h.mean(dim=(2, 3)), h.amax(dim=(2, 3))], dim=1)
        raw = self.head(pooled)
        return self.delta_max * torch.tanh(raw).view(-1, self.n, self.n)


def count_parameters(model) -> int:
    return sum(p.numel() for p in model.parameters())
