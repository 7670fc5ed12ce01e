"""Throughput of ``docbin binarize FOLDER OUT --jobs N`` on a folder of generated pages.

Generates ``--pages`` pages (``docbin.synth.degraded_page``, ``--rows`` × ``--cols``; by
default an A4 page scanned at 300 dpi) once, then times the whole command for each N in
``--jobs`` (alternating, ``--repeats`` rounds, fresh output folder each run) and prints
pages per second and the speed-up over N = 1. ``--jobs 1`` binarizes one page at a time on
one core; N > 1 uses this process and N − 1 worker processes, one core each.

    python benchmarks/jobs.py --pages 20 --jobs 1,2 --method classical
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=20)
    parser.add_argument("--rows", type=int, default=3508)  # A4 at 300 dpi
    parser.add_argument("--cols", type=int, default=2480)
    parser.add_argument("--jobs", default="1,2")
    parser.add_argument("--method", default="classical")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)

    from PIL import Image

    from docbin import synth

    work = Path(tempfile.mkdtemp(prefix="docbin-jobs-"))
    pages = work / "pages"
    pages.mkdir()
    for seed in range(args.pages):
        page, _ = synth.degraded_page(args.rows, args.cols, seed)
        Image.fromarray(page).save(pages / f"page{seed:03d}.png")
    times: dict[int, list[float]] = {int(j): [] for j in args.jobs.split(",")}
    for _ in range(args.repeats):
        for jobs, runs in times.items():
            out = work / f"out{jobs}"
            shutil.rmtree(out, ignore_errors=True)
            start = time.perf_counter()
            subprocess.run([sys.executable, "-m", "docbin", "binarize", str(pages), str(out),
                            "--jobs", str(jobs), "--method", args.method, "--quiet"],
                           check=True)
            runs.append(time.perf_counter() - start)
    base = statistics.median(times[min(times)])
    print(f"{args.pages} pages of {args.rows} x {args.cols}, method {args.method}, "
          f"median of {args.repeats}")
    print("| --jobs | seconds | pages/s | speed-up |")
    print("|---:|---:|---:|---:|")
    for jobs, values in times.items():
        t = statistics.median(values)
        print(f"| {jobs} | {t:.2f} | {args.pages / t:.2f} | {base / t:.2f}x |")
    shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
