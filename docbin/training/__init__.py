"""Training of the hybrid model (PyTorch). The only part of docbin that imports torch.

Install with ``pip install "docbin[train]"``. Nothing outside this package imports it.
"""

from __future__ import annotations

from docbin.errors import MissingDependencyError


def require_torch():
    """Import torch, or raise a MissingDependencyError saying how to install it."""
    try:
        import torch
    except ImportError as error:  # pragma: no cover - exercised without the extra
        raise MissingDependencyError(
            'training needs PyTorch: install the training extra with pip install "docbin[train]"'
        ) from error
    return torch
