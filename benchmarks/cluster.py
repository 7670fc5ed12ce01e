"""Throughput of ``docbin binarize FOLDER OUT`` with ``--jobs N`` and ``--cluster local:N``.

Generates ``--pages`` pages (``docbin.synth.degraded_page``, by default A4 at 300 dpi)
once, then times the whole command (start-up of the pool or the Dask cluster included)
for ``--jobs N`` and ``--cluster local:N`` in turn, ``--repeats`` rounds, a fresh output
folder each run, and prints pages per second. Every run writes a manifest; the per-page
times of the cluster runs (``seconds``: read, binarize, write on one core) give the
projected throughput of a cluster of W such workers, W / (mean seconds per page), which
assumes storage keeps up and one core per worker.

    python benchmarks/cluster.py --pages 200 --workers 2 --repeats 2
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=200)
    parser.add_argument("--rows", type=int, default=3508)  # A4 at 300 dpi
    parser.add_argument("--cols", type=int, default=2480)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--method", default="classical")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--project", default="1,2,4,8,16,32")
    args = parser.parse_args(argv)

    from PIL import Image

    from docbin import synth

    work = Path(tempfile.mkdtemp(prefix="docbin-cluster-"))
    pages = work / "pages"
    pages.mkdir()
    start = time.perf_counter()
    for seed in range(args.pages):
        page, _ = synth.degraded_page(args.rows, args.cols, seed)
        Image.fromarray(page).save(pages / f"page{seed:03d}.png")
    print(f"generated {args.pages} pages in {time.perf_counter() - start:.0f} s",
          file=sys.stderr)
    modes = {f"--jobs {args.workers}": ["--jobs", str(args.workers)],
             f"--cluster local:{args.workers}": ["--cluster", f"local:{args.workers}"]}
    times: dict[str, list[float]] = {mode: [] for mode in modes}
    seconds: dict[str, list[float]] = {mode: [] for mode in modes}
    for _ in range(args.repeats):
        for mode, flags in modes.items():
            out, manifest = work / "out", work / "run.jsonl"
            shutil.rmtree(out, ignore_errors=True)
            manifest.unlink(missing_ok=True)
            start = time.perf_counter()
            subprocess.run([sys.executable, "-m", "docbin", "binarize", str(pages), str(out),
                            *flags, "--method", args.method, "--manifest", str(manifest),
                            "--quiet"], check=True)
            times[mode].append(time.perf_counter() - start)
            records = [json.loads(line) for line in manifest.read_text().splitlines()]
            assert len(records) == args.pages and all(r["status"] == "ok" for r in records)
            seconds[mode].extend(record["seconds"] for record in records)
            print(f"{mode}: {times[mode][-1]:.1f} s", file=sys.stderr)
    print(f"{args.pages} pages of {args.rows} x {args.cols}, method {args.method}, "
          f"{args.repeats} runs each (whole command, start-up included)")
    print("| mode | seconds (runs) | pages/s (median) | vs --jobs |")
    print("|---|---:|---:|---:|")
    base = args.pages / statistics.median(times[f"--jobs {args.workers}"])
    for mode, values in times.items():
        rate = args.pages / statistics.median(values)
        runs = ", ".join(f"{value:.1f}" for value in values)
        print(f"| {mode} | {runs} | {rate:.2f} | {rate / base:.2f}x |")
    cluster = seconds[f"--cluster local:{args.workers}"]
    mean = statistics.fmean(cluster)
    measured = args.pages / statistics.median(times[f"--cluster local:{args.workers}"])
    print()
    print(f"per page on a cluster worker: mean {mean:.3f} s, median "
          f"{statistics.median(cluster):.3f} s (read, binarize, write; {len(cluster)} pages); "
          f"one worker adds {1 / mean:.2f} pages/s; measured with {args.workers} workers: "
          f"{measured:.2f} pages/s = {measured * mean / args.workers:.0%} of "
          f"{args.workers} / mean")
    print("| workers | projected pages/s | pages per hour |")
    print("|---:|---:|---:|")
    for workers in (int(w) for w in args.project.split(",")):
        rate = workers / mean
        print(f"| {workers} | {rate:.1f} | {rate * 3600:,.0f} |")
    shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
