"""Leave-one-collection-out evaluation of the hybrid model.

For every test collection, a model is trained on the other collections (``docbin train``'s
code, same settings as the shipped model), exported to ONNX, and the left-out pages are
binarized with:

- ``classical``: the logistic surface (training-free);
- ``global``: the model's base surface only (stage 1, Δz = 0);
- ``hybrid``: the model's per-page Δz (stage 2), the shipped runtime's rule;
- ``classical-region`` / ``hybrid-region``: the same with regional statistics
  (``--scope region``), when available.

Prints per-collection and overall tables (FM, p-FM, PSNR, DRD) as Markdown.

    python benchmarks/loco.py --data ../shared/data/dev --runs runs/loco \\
        --report runs/loco/report.md

Models already in ``--runs`` are reused (delete them to retrain).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

DIBCO = ["dibco2009", "dibco2010", "dibco2011", "dibco2012", "dibco2013", "dibco2014"]
METRICS = ("fm", "pfm", "psnr", "drd")


def _evaluate_page(image_path: Path, gt_path: Path, model, scopes) -> dict:
    from docbin import metrics, stats, threshold
    from docbin.io import read_image
    from docbin.surface import logistic_surface

    gray = read_image(image_path).image
    gt = read_image(gt_path).image
    page = stats.page_stats(gray)
    local = threshold.local_stats(gray, page.window_radius)
    edges, _ = stats.strong_edges(gray)
    prediction = model.predict(gray, page.b, page.t, balance=0.5, edges=edges,
                               local_median=local.local_median, local_mean=local.local_mean)
    factors = {
        "classical": float(logistic_surface(page.b, page.t)),
        "global": model.base_factor(page.b, page.t),
        "hybrid": model.factor(page.b, page.t, prediction.delta_z),
    }
    scores = {}
    for name, factor in factors.items():
        ink = threshold.ink_mask(local, factor)
        scores[name] = {k: v for k, v in metrics.evaluate(ink, gt < 128).items() if k in METRICS}
        scores[name]["f"] = factor
    if "region" in scopes:

        for name, result in regional_variants(gray, page, local, model, prediction).items():
            scores[name] = {k: v for k, v in metrics.evaluate(result, gt < 128).items()
                            if k in METRICS}
    return scores


def regional_variants(gray, page, local, model, prediction) -> dict:
    """Ink masks of the regional variants.

    classical-region: T_I/B_I per tile on the logistic surface (training-free);
    hybrid-region: the page's (b, t), the patches' Δz blended across the page (what
    ``--method hybrid --scope region`` does); hybrid-region-stats: both regional.
    """
    from docbin import regional, threshold
    from docbin.surface import BSplineSurface, logistic_surface

    fields = regional.regional_stats(gray)
    meta = model.metadata

    def delta_surface(dz):
        return BSplineSurface(dz, meta.knots, meta.degree, base="none")

    out = {"classical-region": threshold.ink_mask(local, regional.upsample_tiles(
        regional.factor_field(fields, logistic_surface), gray.shape, fields.tile_size))}
    for name, (b, t) in {"hybrid-region": (page.b, page.t),
                         "hybrid-region-stats": (fields.b, fields.t)}.items():
        f_tiles = regional.hybrid_factor_field(meta.base_surface(), delta_surface,
                                               prediction.per_patch, prediction.boxes, b, t,
                                               gray.shape)
        out[name] = threshold.ink_mask(local, regional.upsample_tiles(f_tiles, gray.shape))
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--runs", type=Path, default=Path("runs/loco"))
    parser.add_argument("--folds", default=",".join(DIBCO + ["bickley", "phibd", "nabuco",
                                                             "mcs", "msi2015"]))
    parser.add_argument("--exclude", default="msi2015",
                        help="collections never used for training (comma-separated)")
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--variants", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--cache", type=Path, default=None)
    parser.add_argument("--scopes", default="page")
    parser.add_argument("--channels", default=None,
                        help="network input channels (default: the training default)")
    parser.add_argument("--no-global-surface", action="store_true")
    parser.add_argument("--loss-scope", default=None, choices=("page", "region", "both"),
                        help="the training loss's f: per page, the regional map, or both "
                             "(default: the training default)")
    parser.add_argument("--report", type=Path, default=None)
    args = parser.parse_args(argv)

    from docbin.model import load_model
    from docbin.training.data import find_pairs
    from docbin.training.train import TrainConfig, train_model

    args.runs.mkdir(parents=True, exist_ok=True)
    exclude = [c for c in args.exclude.split(",") if c]
    pairs = find_pairs([args.data])
    results: dict[str, list[dict]] = defaultdict(list)
    timings = {}
    for fold in args.folds.split(","):
        model_path = args.runs / f"{fold}.onnx"
        if not model_path.exists():
            start = time.perf_counter()
            summary = train_model([args.data], model_path, epochs=args.epochs, seed=args.seed,
                                  variants=args.variants, exclude=exclude + [fold],
                                  cache_dir=args.cache, config=_config(args, TrainConfig),
                                  global_surface=not args.no_global_surface)
            timings[fold] = time.perf_counter() - start
            (args.runs / f"{fold}.json").write_text(json.dumps(summary, indent=1))
        model = load_model(model_path)
        for collection, image, gt in pairs:
            if collection == fold:
                results[fold].append(_evaluate_page(image, gt, model, args.scopes.split(",")))
        print(f"{fold}: {len(results[fold])} pages", _row(results[fold], "classical"),
              "|", _row(results[fold], "hybrid"), file=sys.stderr, flush=True)
    report = render(results)
    print(report)
    if args.report:
        args.report.write_text(report)
    (args.runs / "scores.json").write_text(json.dumps(results))
    return 0


def _config(args, TrainConfig):
    config = TrainConfig()
    if args.channels:
        config.channels = tuple(args.channels.split(","))
    if args.loss_scope:
        config.scope = args.loss_scope
    return config


def _row(pages: list[dict], method: str) -> str:
    return " ".join(f"{m} {np.mean([p[method][m] for p in pages]):.2f}" for m in METRICS)


def render(results: dict[str, list[dict]]) -> str:
    methods = [m for m in ("classical", "global", "hybrid", "classical-region", "hybrid-region",
                           "hybrid-region-stats")
               if all(m in p for pages in results.values() for p in pages)]
    lines = ["| collection | pages | " + " | ".join(
        f"{m} FM / p-FM / PSNR / DRD" for m in methods) + " |",
             "|---|---|" + "---|" * len(methods)]

    def cell(pages, method):
        return " / ".join(f"{np.mean([p[method][m] for p in pages]):.2f}" for m in METRICS)

    for fold, pages in results.items():
        lines.append(f"| {fold} | {len(pages)} | " + " | ".join(cell(pages, m) for m in methods)
                     + " |")
    every = [p for pages in results.values() for p in pages]
    lines.append(f"| **all pages** | {len(every)} | " + " | ".join(
        cell(every, m) for m in methods) + " |")
    no_msi = [p for fold, pages in results.items() if fold != "msi2015" for p in pages]
    if no_msi and len(no_msi) != len(every):
        lines.append(f"| all but msi2015 | {len(no_msi)} | " + " | ".join(
            cell(no_msi, m) for m in methods) + " |")
    dibco = [p for fold, pages in results.items() if fold in DIBCO for p in pages]
    if dibco:
        lines.append(f"| DIBCO 2009–2014 | {len(dibco)} | " + " | ".join(
            cell(dibco, m) for m in methods) + " |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
