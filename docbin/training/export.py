"""Export a trained :class:`DeltaNet` to ONNX with the metadata the runtime checks.

The graph follows docs/MODEL_CONTRACT.md: input ``input`` [N, C, 512, 512] float32 with a
dynamic batch axis, output ``delta_z`` [N, n, n]. Metadata comes from
:func:`docbin.model.encode_metadata`, so a set of fields the runtime would refuse fails
here. After writing, onnxruntime's output is compared with torch's on sample inputs.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from .. import __version__
from ..model import INPUT_NAME, OUTPUT_NAME, encode_metadata
from . import require_torch

torch = require_torch()


def export_onnx(model, path, *, n: int, degree: int, knots, z, offset, delta_max: float,
                channels, training_data: str, description: str = "",
                sample_inputs: np.ndarray | None = None, opset: int = 17,
                tolerance: float = 1e-4) -> float:
    """Write ``model`` to ``path`` (atomically) and return the largest |onnx − torch|.

    Raises RuntimeError when the exported graph disagrees with torch by more than
    ``tolerance`` on ``sample_inputs`` (random inputs when none are given).
    """
    import onnx
    import onnxruntime as ort

    path = Path(path)
    model = model.eval()
    size = 512
    if sample_inputs is None:
        rng = np.random.default_rng(0)
        sample_inputs = rng.random((2, len(channels), size, size), dtype=np.float32)
    tmp = path.with_name(f".{path.name}.tmp")
    dummy = torch.from_numpy(np.ascontiguousarray(sample_inputs[:1]))
    torch.onnx.export(model, (dummy,), str(tmp), input_names=[INPUT_NAME],
                      output_names=[OUTPUT_NAME],
                      dynamic_axes={INPUT_NAME: {0: "N"}, OUTPUT_NAME: {0: "N"}},
                      opset_version=opset, dynamo=False)
    graph = onnx.load(str(tmp))
    props = encode_metadata(n=n, degree=degree, knots=knots, base="logistic", z=z,
                            offset=offset, delta_max=delta_max, channels=channels,
                            docbin_version=__version__, training_data=training_data,
                            patch_size=size, description=description)
    del graph.metadata_props[:]
    for key, value in props.items():
        entry = graph.metadata_props.add()
        entry.key, entry.value = key, value
    graph.producer_name = "docbin"
    onnx.checker.check_model(graph)
    onnx.save(graph, str(tmp))

    session = ort.InferenceSession(str(tmp), providers=["CPUExecutionProvider"])
    got = session.run([OUTPUT_NAME], {INPUT_NAME: sample_inputs.astype(np.float32)})[0]
    with torch.no_grad():
        expected = model(torch.from_numpy(sample_inputs.astype(np.float32))).numpy()
    difference = float(np.abs(got - expected).max())
    if not difference <= tolerance:
        tmp.unlink(missing_ok=True)
        raise RuntimeError(f"the exported ONNX graph differs from the torch model by "
                           f"{difference:.2e} (> {tolerance:.0e})")
    os.replace(tmp, path)
    return difference
