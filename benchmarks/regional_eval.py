"""Classical method per page vs per region (``scope="region"``) on the development pages.

For every page of every collection (``<data>/<collection>/{img,gt}/*.png``, ground truth
text 0 / background 255, paired by file name) the classical method runs once per scope
and both results are scored against the ground truth. The two scopes share the page's
edges, K and local median/mean; they differ only in the factor of the decision
``I < f · L_m and I < L_a``: the page's ``f = S(b, t)`` or the map f(row, col) of
:mod:`docbin.regional` (the same composition as ``binarize(..., scope="region")``, which
tests/test_regional.py checks).

The regional variant has no fitted parameter (tile 256 px, stride 128 px and the fallback
weights are fixed from first principles, see docbin/regional.py), so its numbers on every
collection are out-of-sample.

Metrics: FM and PSNR always; p-FM and DRD as well when :mod:`docbin.metrics` is
importable. Per collection: the mean over its pages. Overall: the mean over all pages,
and the mean of the collection means.

Usage::

    python benchmarks/regional_eval.py                    # every collection
    python benchmarks/regional_eval.py --data /path/to/dev --collections dibco2013 mcs
    python benchmarks/regional_eval.py --json results.json
    python benchmarks/regional_eval.py --speed            # cost on a 24 MP page

``--speed`` tiles a development page (``--speed-page``, default dibco2013/img/H01.png) to
4000 × 6000 px (24 MP) and times, best of 5: doxapy's Sauvola (window 75, k 0.2) and
what scope ``region`` adds to scope ``page``: keeping the samples' positions, the tile
fields, the f map, and the decision with an f map instead of a scalar f.

The development data folder is ``--data``, else ``$DOCBIN_DEV_DATA``, else
``<repo>/../shared/data/dev``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import cv2
import numpy as np

SCOPES = ("page", "region")


def dev_root() -> Path:
    env = os.environ.get("DOCBIN_DEV_DATA")
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[2] / "shared" / "data" / "dev"


def _metric_functions():
    """(names, score(pred_ink, gt_ink) -> dict): docbin.metrics when present, else inline."""
    try:
        from docbin import metrics
    except ImportError:
        metrics = None
    if metrics is not None:
        def score(pred: np.ndarray, gt: np.ndarray) -> dict:
            counts = metrics.confusion(pred, gt)
            return {"fm": metrics.f_measure(counts),
                    "pfm": metrics.pseudo_f_measure(counts, pred, gt),
                    "psnr": metrics.psnr(counts),
                    "drd": metrics.drd(pred, gt)}
        return ("fm", "pfm", "psnr", "drd"), score

    def score(pred: np.ndarray, gt: np.ndarray) -> dict:
        tp = float(np.count_nonzero(pred & gt))
        fp = float(np.count_nonzero(pred & ~gt))
        fn = float(np.count_nonzero(~pred & gt))
        fm = 100.0 * 2 * tp / (2 * tp + fp + fn) if tp + fp + fn else 100.0
        mse = (fp + fn) / pred.size
        return {"fm": fm, "psnr": 10.0 * np.log10(1.0 / mse) if mse else float("inf")}
    return ("fm", "psnr"), score


def binarize_both(gray: np.ndarray) -> dict[str, np.ndarray]:
    """Ink masks of the classical method with scope page and scope region."""
    from docbin import regional, threshold
    from docbin.surface import logistic_surface

    fields = regional.regional_stats(gray)
    page = fields.page
    local = threshold.local_stats(gray, page.window_radius)
    return {"page": threshold.ink_mask(local, float(logistic_surface(page.b, page.t))),
            "region": threshold.ink_mask(local, regional.factor_map(fields))}


def collections(data: Path, names: list[str] | None) -> list[Path]:
    found = sorted(p for p in data.iterdir() if (p / "img").is_dir() and (p / "gt").is_dir())
    if names:
        wanted = set(names)
        missing = wanted - {p.name for p in found}
        if missing:
            raise SystemExit(f"no collection {', '.join(sorted(missing))} under {data}")
        found = [p for p in found if p.name in wanted]
    return found


def evaluate(data: Path, names: list[str] | None) -> tuple[tuple[str, ...], dict]:
    metric_names, score = _metric_functions()
    results: dict[str, list[dict]] = {}
    for folder in collections(data, names):
        rows = []
        for image_path in sorted((folder / "img").glob("*.png")):
            gt_path = folder / "gt" / image_path.name
            if not gt_path.exists():
                print(f"skip {image_path}: no ground truth {gt_path}", file=sys.stderr)
                continue
            gray = cv2.imread(str(image_path), cv2.IMREAD_GRAYSCALE)
            gt = cv2.imread(str(gt_path), cv2.IMREAD_GRAYSCALE) < 128
            start = time.perf_counter()
            masks = binarize_both(gray)
            row = {"name": image_path.name, "seconds": time.perf_counter() - start}
            for scope in SCOPES:
                row[scope] = score(masks[scope], gt)
            rows.append(row)
        results[folder.name] = rows
        print(f"{folder.name}: {len(rows)} pages", file=sys.stderr)
    return metric_names, results


def table(metric_names: tuple[str, ...], results: dict) -> str:
    header = ["collection", "pages"]
    for m in metric_names:
        header += [f"{m} page", f"{m} region", f"Δ{m}"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]

    def means(rows):
        return {s: {m: float(np.mean([r[s][m] for r in rows])) for m in metric_names}
                for s in SCOPES}

    def line(name, n, mean):
        cells = [name, str(n)]
        for m in metric_names:
            page, region = mean["page"][m], mean["region"][m]
            cells += [f"{page:.2f}", f"{region:.2f}", f"{region - page:+.2f}"]
        return "| " + " | ".join(cells) + " |"

    per_collection = {name: means(rows) for name, rows in results.items() if rows}
    for name, mean in per_collection.items():
        lines.append(line(name, len(results[name]), mean))
    all_rows = [r for rows in results.values() for r in rows]
    lines.append(line("**all pages**", len(all_rows), means(all_rows)))
    of_collections = {s: {m: float(np.mean([v[s][m] for v in per_collection.values()]))
                          for m in metric_names} for s in SCOPES}
    lines.append(line("**mean of collections**", len(per_collection), of_collections))
    return "\n".join(lines)


def _best_time(function, repeat: int = 5) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        function()
        best = min(best, time.perf_counter() - start)
    return best


def speed(page_path: Path) -> str:
    """Timing table of the regional additions against doxapy Sauvola on a 24 MP page."""
    import doxapy

    from docbin import regional, stats, threshold
    from docbin.surface import logistic_surface

    tile = cv2.imread(str(page_path), cv2.IMREAD_GRAYSCALE)
    if tile is None:
        raise SystemExit(f"cannot read {page_path}")
    reps = (-(-4000 // tile.shape[0]), -(-6000 // tile.shape[1]))
    gray = np.ascontiguousarray(np.tile(tile, reps)[:4000, :6000])
    out = np.empty_like(gray)

    def sauvola():
        algorithm = doxapy.Binarization(doxapy.Binarization.Algorithms.SAUVOLA)
        algorithm.initialize(gray)
        algorithm.to_binary(out, {"window": 75, "k": 0.2})

    edges, edge_threshold = stats.strong_edges(gray)
    samples = regional.edge_samples(gray, edges)
    page = regional.page_stats_from_samples(gray, edges, edge_threshold, samples)
    fields = regional.regional_fields(samples, page, gray.shape)
    fmap = regional.factor_map(fields)
    local = threshold.local_stats(gray, page.window_radius)
    f_page = float(logistic_surface(page.b, page.t))
    times = {
        "sauvola": _best_time(sauvola),
        "ink_histogram (page)": _best_time(lambda: stats.ink_samples_histogram(gray, edges)),
        "edge_samples (region)": _best_time(lambda: regional.edge_samples(gray, edges)),
        "regional_fields": _best_time(lambda: regional.regional_fields(samples, page,
                                                                       gray.shape)),
        "factor_map": _best_time(lambda: regional.factor_map(fields)),
        "ink_mask scalar f": _best_time(lambda: threshold.ink_mask(local, f_page)),
        "ink_mask f map": _best_time(lambda: threshold.ink_mask(local, fmap)),
    }
    added = (max(times["edge_samples (region)"] - times["ink_histogram (page)"], 0.0)
             + times["regional_fields"] + times["factor_map"]
             + max(times["ink_mask f map"] - times["ink_mask scalar f"], 0.0))
    lines = [(f"24 MP page: {gray.shape[0]} × {gray.shape[1]} tiled from {page_path}, "
             f"{fields.b.shape[0]} × {fields.b.shape[1]} tiles, "
             f"{int(edges.sum())} edge pixels"), ""]
    lines += [f"{name:24s} {seconds * 1000:8.1f} ms" for name, seconds in times.items()]
    lines += ["", (f"{'regional additions':24s} {added * 1000:8.1f} ms "
                  f"= {added / times['sauvola']:.2f} × Sauvola")]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=None, help="development data folder")
    parser.add_argument("--collections", nargs="*", default=None, help="subset of collections")
    parser.add_argument("--json", type=Path, default=None, help="write per-page scores here")
    parser.add_argument("--speed", action="store_true", help="time the regional additions")
    parser.add_argument("--speed-page", type=Path, default=None,
                        help="page tiled to 24 MP for --speed")
    args = parser.parse_args(argv)
    data = args.data or dev_root()
    if args.speed:
        print(speed(args.speed_page or data / "dibco2013" / "img" / "H01.png"))
        return 0
    if not data.is_dir():
        raise SystemExit(f"no development data at {data}: pass --data or set DOCBIN_DEV_DATA")
    start = time.perf_counter()
    metric_names, results = evaluate(data, args.collections)
    print(table(metric_names, results))
    print(f"\n{sum(len(r) for r in results.values())} pages, "
          f"{time.perf_counter() - start:.0f} s", file=sys.stderr)
    if args.json:
        args.json.write_text(json.dumps(results, indent=1) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
