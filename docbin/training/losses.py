"""The differentiable relaxation of the decision rule and the loss (METHOD.md §4).

Hard rule: ink iff ``I < f·L_m`` and ``I < L_a``. Relaxed::

    p_ink = σ((f·L_m − I)/τ) · σ((L_a − I)/τ)

Soft counts TP = Σ p·g, FP = Σ p·(1−g), FN = Σ (1−p)·g, TN = Σ (1−p)(1−g) give a soft
F-measure 2TP/(2TP+FP+FN) and a soft NRM ½(FN/(FN+TP) + FP/(FP+TN)); the loss is
``α·(1 − FM) + β·NRM + μ·‖Δz‖²``.

The factor σ((L_a − I)/τ) carries no learnable quantity (f does not enter it), so the
training path evaluates it in its τ → 0 limit, the indicator ``I < L_a``: only the
candidate pixels can become ink, and training keeps a sample of them
(:mod:`docbin.training.data`). :func:`soft_counts_dense` is the full relaxation on
whole arrays, the reference the sampled path is tested against.
"""

from __future__ import annotations

from . import require_torch

torch = require_torch()


def soft_counts_dense(image, median, mean, text, f, tau: float):
    """Soft (TP, FP, FN, TN) of whole arrays with both factors relaxed."""
    image = image.float()
    p = torch.sigmoid((f * median.float() - image) / tau) * torch.sigmoid(
        (mean.float() - image) / tau)
    g = text.float()
    tp = (p * g).sum()
    fp = (p * (1 - g)).sum()
    fn = ((1 - p) * g).sum()
    tn = ((1 - p) * (1 - g)).sum()
    return tp, fp, fn, tn


def soft_counts_sampled(sample_image, sample_median, sample_text, f, tau: float, *,
                        n_candidates: int, n_text: int, n_pixels: int):
    """Soft counts of a page from a uniform sample of its candidate pixels.

    ``f`` is a scalar or one value per sample (regional f map). Candidate sums are
    scaled by ``n_candidates / n_samples``; pixels outside the candidates are never ink.
    """
    p = torch.sigmoid((f * sample_median.float() - sample_image.float()) / tau)
    g = sample_text.float()
    scale = n_candidates / max(int(sample_image.numel()), 1)
    tp = scale * (p * g).sum()
    fp = scale * (p * (1 - g)).sum()
    fn = n_text - tp
    tn = (n_pixels - n_text) - fp
    return tp, fp, fn, tn


def soft_fm(tp, fp, fn, eps: float = 1e-6):
    """Soft F-measure in [0, 1]."""
    return 2 * tp / (2 * tp + fp + fn + eps)


def soft_nrm(tp, fp, fn, tn, eps: float = 1e-6):
    """Soft negative rate metric in [0, 1]."""
    return 0.5 * (fn / (fn + tp + eps) + fp / (fp + tn + eps))


def hybrid_loss(counts, alpha, beta, delta_z, mu: float):
    """α·(1 − FM) + β·NRM + μ·‖Δz‖² for one item."""
    tp, fp, fn, tn = counts
    return alpha * (1 - soft_fm(tp, fp, fn)) + beta * soft_nrm(tp, fp, fn, tn) + \
        mu * (delta_z ** 2).sum()
