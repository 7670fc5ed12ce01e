"""Export of a trained per-feature network to ONNX, checked against torch before it is
written (the refine and clean steps' models)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from docbin import __version__
from docbin.training import require_torch


def export_feature_network(module, path, n_features: int, metadata: dict, *,
                           opset: int = 17, tolerance: float = 1e-5) -> float:
    """Write ``module`` (float32 features ``[n, F]`` → probability ``[n]``) to ``path``
    atomically, with ``metadata`` (and docbin's version) in its ``metadata_props``;
    returns the largest |onnxruntime − torch| on random features.

    Raises
    ------
    RuntimeError
        The exported graph differs from the torch network by more than ``tolerance``
        (nothing is written).
    """
    import onnx
    import onnxruntime as ort

    torch = require_torch()
    path = Path(path)
    sample = np.random.default_rng(0).normal(size=(64, n_features)).astype(np.float32)
    tmp = path.with_name(f".{path.name}.tmp")
    torch.onnx.export(module.eval(), (torch.from_numpy(sample[:2]),), str(tmp),
                      input_names=["features"], output_names=["text"],
                      dynamic_axes={"features": {0: "n"}, "text": {0: "n"}},
                      opset_version=opset, dynamo=False)
    graph = onnx.load(str(tmp))
    del graph.metadata_props[:]
    for key, value in {**metadata, "docbin.version": __version__}.items():
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
