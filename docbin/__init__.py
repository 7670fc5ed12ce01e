"""docbin: binarize degraded document images.

A classical, parameter-free binarization method (the default) and a hybrid whose small
network, shipped as ONNX, re-decides the pixels near the classical threshold.
``import docbin`` stays light: heavy modules load on first use.
"""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["BinarizationResult", "Options", "__version__", "binarize"]


def __getattr__(name):  # PEP 562: defer imports so `docbin --version` is instant
    if name in ("binarize", "BinarizationResult"):
        from docbin import pipeline
        return getattr(pipeline, name)
    if name == "Options":
        from docbin.options import Options
        return Options
    if name in ("read_image", "read_pages", "write_binary"):
        from docbin import io
        return getattr(io, name)
    raise AttributeError(f"module 'docbin' has no attribute {name!r}")
