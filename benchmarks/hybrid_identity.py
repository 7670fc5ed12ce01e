"""Check: a hybrid model whose output is Δz = 0 reproduces the classical method exactly.

Builds a test ONNX model (the ``onnx`` package, a dev extra) whose graph outputs
``delta_z = 0`` whatever the input, with base ``"logistic"`` and a zero offset
(docs/MODEL_CONTRACT.md), and binarizes every development page of the chosen collections
with ``method="classical"`` and ``method="hybrid"``; the pages must be identical, pixel for
pixel, and the factors f equal.

With ``--spline-base`` it also runs a Δz = 0 model whose base is the n = 8 least-squares
B-spline fit of the logistic (base ``"spline"``), to show what that choice would cost:
the fit is not exact (max error 0.077 on [0, 1]²), so f, and pages, change.

Usage::

    python benchmarks/hybrid_identity.py                      # the 75 DIBCO pages
    python benchmarks/hybrid_identity.py --collections all --spline-base

The development data folder is ``$DOCBIN_DEV_DATA`` or ``<repo>/../shared/data/dev``.
Exit status 0 when every page is identical, 1 otherwise.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def dev_root() -> Path:
    env = os.environ.get("DOCBIN_DEV_DATA")
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[2] / "shared" / "data" / "dev"


def zero_model(path: Path, base: str) -> Path:
    """An ONNX graph with Δz = 0 · mean(input), shape [N, 8, 8], and contract metadata."""
    import onnx
    from onnx import TensorProto, helper

    from docbin import __version__
    from docbin.model import BASE_CHANNELS, INPUT_NAME, OUTPUT_NAME, encode_metadata
    from docbin.surface import clamped_uniform_knots, fit_logistic

    n = 8
    fit = fit_logistic(n)
    props = encode_metadata(
        n=n, degree=3, knots=clamped_uniform_knots(n, 3), base=base, z=fit.z,
        offset=np.zeros((n, n)) if base == "logistic" else None, delta_max=0.25,
        channels=BASE_CHANNELS, docbin_version=__version__,
        training_data="none: an identity test model whose output is 0")
    nodes = [
        helper.make_node("ReduceMean", [INPUT_NAME], ["mean"], axes=[1, 2, 3], keepdims=1),
        helper.make_node("Mul", ["mean", "zero"], ["zeros"]),
        helper.make_node("Reshape", ["zeros", "shape"], ["zeros3"]),
        helper.make_node("Expand", ["zeros3", "net"], [OUTPUT_NAME]),
    ]
    inits = [helper.make_tensor("zero", TensorProto.FLOAT, [], [0.0]),
             helper.make_tensor("shape", TensorProto.INT64, [3], [-1, 1, 1]),
             helper.make_tensor("net", TensorProto.INT64, [3], [1, n, n])]
    graph = helper.make_graph(
        nodes, "zero",
        [helper.make_tensor_value_info(INPUT_NAME, TensorProto.FLOAT,
                                       ["N", len(BASE_CHANNELS), 512, 512])],
        [helper.make_tensor_value_info(OUTPUT_NAME, TensorProto.FLOAT, ["N", n, n])],
        initializer=inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    helper.set_model_props(model, props)
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path


def read_gray(path: Path) -> np.ndarray:
    from docbin.io import read_image

    return read_image(path).image


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--collections", default="dibco",
                        help="'dibco' (dibco*), 'all', or a comma-separated list")
    parser.add_argument("--spline-base", action="store_true",
                        help="also run a Δz = 0 model whose base is the B-spline fit")
    parser.add_argument("--threads", type=int, default=1, help="onnxruntime threads")
    args = parser.parse_args(argv)

    from docbin import binarize

    root = dev_root()
    if not root.is_dir():
        print(f"development data not found at {root} (set DOCBIN_DEV_DATA)", file=sys.stderr)
        return 2
    if args.collections == "all":
        folders = sorted(p.parent for p in root.glob("*/img"))
    elif args.collections == "dibco":
        folders = sorted(p.parent for p in root.glob("dibco*/img"))
    else:
        folders = [root / name for name in args.collections.split(",")]
    pages = [p for folder in folders for p in sorted((folder / "img").iterdir())
             if p.suffix.lower() in (".png", ".bmp", ".tif", ".tiff", ".jpg")]

    failures = 0
    spline_changed_f = spline_changed_pages = 0
    spline_pixels = []
    with tempfile.TemporaryDirectory() as tmp:
        logistic_model = zero_model(Path(tmp) / "zero_logistic.onnx", "logistic")
        spline_model = zero_model(Path(tmp) / "zero_spline.onnx", "spline")
        start = time.perf_counter()
        model_seconds = 0.0
        for path in pages:
            gray = read_gray(path)
            classical = binarize(gray, method="classical")
            hybrid = binarize(gray, method="hybrid", model=str(logistic_model),
                              threads=args.threads)
            model_seconds += hybrid.info["timings"]["model"]
            same = (np.array_equal(classical.image, hybrid.image)
                    and classical.info["f"] == hybrid.info["f"])
            differing = int((classical.image != hybrid.image).sum())
            failures += not same
            line = (f"{path.parent.parent.name}/{path.name}: {gray.shape[1]}x{gray.shape[0]} "
                    f"f={classical.info['f']:.6f} hybrid f={hybrid.info['f']:.6f} "
                    f"patches={len(hybrid.info['hybrid']['patches'])} "
                    f"{'identical' if same else f'DIFFERENT ({differing} px)'}")
            if args.spline_base:
                spline = binarize(gray, method="hybrid", model=str(spline_model),
                                  threads=args.threads)
                changed = int((spline.image != classical.image).sum())
                spline_changed_f += spline.info["f"] != classical.info["f"]
                spline_changed_pages += changed > 0
                spline_pixels.append(changed / gray.size)
                line += (f" | spline base f={spline.info['f']:.6f} "
                         f"({changed} px differ)")
            print(line, flush=True)
        elapsed = time.perf_counter() - start
    print(f"\n{len(pages) - failures}/{len(pages)} pages identical between classical and "
          f"hybrid with Δz = 0 (base 'logistic'); {elapsed:.1f} s in all, "
          f"{model_seconds:.1f} s in the hybrid's edges + patches + model step")
    if args.spline_base:
        print(f"base 'spline' (n = 8 fit) with Δz = 0: f differs on {spline_changed_f}/"
              f"{len(pages)} pages, the binary page on {spline_changed_pages}/{len(pages)} "
              f"(mean {100 * np.mean(spline_pixels):.3f} %, max "
              f"{100 * np.max(spline_pixels):.3f} % of the pixels)")
    return 0 if failures == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
