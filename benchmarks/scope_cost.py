"""What the regional scope adds to a page's time, in paired runs.

On the 24 MP page of ``benchmarks/speed.py`` (the same generated page), each method runs
with ``scope="page"`` and ``scope="region"`` alternately, ``--repeats`` pairs, plus doxapy's
Sauvola (window 75, k 0.2) once per pair. Prints the median of the paired differences
(region − page) in seconds and as a multiple of doxapy's median time: paired runs cancel
most of the drift of a shared machine that separate medians keep.

    python benchmarks/scope_cost.py --repeats 15
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))


def main(argv=None) -> int:
    from speed import build_methods, make_page

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=float, default=24.0, help="page size in MP")
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--cache", default=str(Path.home() / ".cache" / "docbin-bench"))
    parser.add_argument("--seed", type=int, default=2024)
    args = parser.parse_args(argv)

    from docbin import binarize

    path, _ = make_page(args.size, Path(args.cache), args.seed)
    page = np.load(path)
    sauvola = build_methods(None)["doxapy Sauvola"]
    methods = ["classical"]  # the region scope is a form of the classical method
    for method in methods:
        for scope in ("page", "region"):
            binarize(page, method, scope=scope)  # warm-up
    sauvola(page)
    doxapy_times, differences = [], {m: [] for m in methods}
    for round_ in range(args.repeats):
        start = time.perf_counter()
        sauvola(page)
        doxapy_times.append(time.perf_counter() - start)
        for method in methods:
            times = {}
            for scope in (("page", "region") if round_ % 2 else ("region", "page")):
                start = time.perf_counter()
                binarize(page, method, scope=scope)
                times[scope] = time.perf_counter() - start
            differences[method].append(times["region"] - times["page"])
    doxapy = statistics.median(doxapy_times)
    print(f"{page.size / 1e6:.0f} MP page, {args.repeats} pairs; doxapy Sauvola median "
          f"{doxapy:.3f} s")
    print("| method | region − page, s (median of pairs) | × doxapy Sauvola |")
    print("|---|---:|---:|")
    for method, values in differences.items():
        d = statistics.median(values)
        print(f"| {method} | {d:+.3f} | {d / doxapy:+.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
