"""Cost of the hybrid's surface step beside doxapy's Sauvola, on a generated page.

In one process, on the page of benchmarks/speed.py (:func:`speed.make_page`, 24 MP by
default), the following run in turn (rotating order, ``--repeats`` timed rounds after a
warm-up) and the median times are printed with their ratio to doxapy's Sauvola:

- ``statistics``: :func:`docbin.method.stats.measure_page` (the classical statistics);
- ``statistics + patch histograms``: :func:`docbin.method.stats.measure_page_blocks` with blocks of
  512 px (what the step needs for the patches' own (b, t));
- ``surface step``: :func:`docbin.method.adjust.surface_factor` (downscaling, inputs,
  onnxruntime, patch factors);
- ``decision, page f``: :func:`docbin.method.decision.binary_page` with the scalar factor;
- ``decision, blended f``: the same with the step's rows callable;
- ``doxapy Sauvola`` (window 75, k 0.2).

The surface step's added cost is (statistics + histograms − statistics) + surface step +
(decision blended − decision page f).

    python benchmarks/surface_speed.py --megapixels 24 --repeats 5 [--model PATH]
    python benchmarks/surface_speed.py --megapixels 140 --memory   # peak extra B/px

``--memory``: in a child process each (as benchmarks/speed.py measures it: VmHWM − VmRSS
after a warm-up on a crop, peak reset through /proc/self/clear_refs), the peak extra
resident memory per pixel of the classical decision with the page f, and of the surface
step plus the decision with its blended f (statistics excluded from both).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np


def memory_probe(which: str, page_path: str, model_path: str | None) -> dict:
    """Run in a child process: peak extra resident memory of one run of ``which``."""
    import gc

    from docbin.method import adjust, decision, stats
    from docbin.method import surface as ms

    here = Path(__file__).resolve().parent
    sys.path.insert(0, str(here))
    from speed import _status

    page_image = np.load(page_path)
    model = adjust.load_surface_model(model_path)

    def run(image):
        grid = ms.patch_grid_shape(image.shape)
        page, _, blocks = stats.measure_page_blocks(image, 512, grid)
        f = float(ms.logistic_surface(page.b, page.t))
        if which == "classical decision":
            return lambda: decision.binary_page(image, page.window_radius, f)

        def step():
            factor, _ = adjust.surface_factor(image, page, f, model=model, blocks=blocks)
            return decision.binary_page(image, page.window_radius, factor)
        return step

    run(np.ascontiguousarray(page_image[:2048, :2048]))()
    job = run(page_image)
    gc.collect()
    with open("/proc/self/clear_refs", "w") as clear:
        clear.write("5")
    base = _status("VmRSS")
    start = time.perf_counter()
    job()
    seconds = time.perf_counter() - start
    return {"pixels": int(page_image.size), "extra_bytes": max(0, _status("VmHWM") - base),
            "seconds": seconds}


def main(argv=None) -> int:
    here = Path(__file__).resolve().parent
    sys.path.insert(0, str(here))
    import speed

    from docbin.method import adjust, stats
    from docbin.method import decision as threshold
    from docbin.method import surface as ms

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--megapixels", type=float, default=24.0)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--model", default=None)
    parser.add_argument("--cache", type=Path, default=here.parent / "runs/speed")
    parser.add_argument("--memory", action="store_true")
    parser.add_argument("--memory-probe", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.memory_probe:
        print(json.dumps(memory_probe(args.memory_probe[0], args.memory_probe[1], args.model)))
        return 0
    path, _ = speed.make_page(args.megapixels, args.cache)
    if args.memory:
        for which in ("classical decision", "surface step + decision"):
            command = [sys.executable, __file__, "--memory-probe", which, str(path)]
            if args.model:
                command += ["--model", args.model]
            done = subprocess.run(command, check=True, capture_output=True, text=True)
            result = json.loads(done.stdout.strip().splitlines()[-1])
            print(f"{which}: {result['extra_bytes'] / result['pixels']:.2f} B/px extra peak "
                  f"({result['pixels'] / 1e6:.0f} MP, {result['seconds']:.1f} s)")
        return 0
    page_image = np.load(path)
    model = adjust.load_surface_model(args.model)
    grid = ms.patch_grid_shape(page_image.shape)
    page, _, blocks = stats.measure_page_blocks(page_image, 512, grid)
    f = float(ms.logistic_surface(page.b, page.t))
    field, info = adjust.surface_factor(page_image, page, f, model=model, blocks=blocks)
    field_callable = field if callable(field) else ms.PatchFieldRows(
        np.full(grid, f), page_image.shape)
    import doxapy

    def sauvola(image):
        out = np.empty_like(image)
        algorithm = doxapy.Binarization(doxapy.Binarization.Algorithms.SAUVOLA)
        algorithm.initialize(image)
        algorithm.to_binary(out, {"window": 75, "k": 0.2})
        return out

    methods = {
        "statistics": lambda: stats.measure_page(page_image),
        "statistics + patch histograms": lambda: stats.measure_page_blocks(page_image, 512, grid),
        "surface step": lambda: adjust.surface_factor(page_image, page, f, model=model,
                                                      blocks=blocks),
        "decision, page f": lambda: threshold.binary_page(page_image, page.window_radius, f),
        "decision, blended f": lambda: threshold.binary_page(page_image, page.window_radius,
                                                             field_callable),
        "doxapy Sauvola": lambda: sauvola(page_image),
    }
    names = list(methods)
    for name in names:
        methods[name]()
    times = {name: [] for name in names}
    for round_ in range(args.repeats):
        order = names[round_ % len(names):] + names[:round_ % len(names)]
        for name in order:
            start = time.perf_counter()
            methods[name]()
            times[name].append(time.perf_counter() - start)
    median = {name: statistics.median(v) for name, v in times.items()}
    base = median["doxapy Sauvola"]
    print(f"page {page_image.shape[0]} × {page_image.shape[1]} "
          f"({page_image.size / 1e6:.1f} MP), {grid[0] * grid[1]} patches, "
          f"f range {info['f_min']:.4f}–{info['f_max']:.4f}")
    print("| step | median s | × Sauvola |\n|---|---:|---:|")
    for name in names:
        print(f"| {name} | {median[name]:.3f} | {median[name] / base:.2f} |")
    added = (median["statistics + patch histograms"] - median["statistics"]) + \
        median["surface step"] + (median["decision, blended f"] - median["decision, page f"])
    print(f"| added by the surface step | {added:.3f} | {added / base:.2f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
