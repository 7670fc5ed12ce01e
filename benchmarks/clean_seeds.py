"""How much does the whole hybrid's result depend on the clean model's fit seed?

The shipped clean model is fitted with seed 0 (docbin.training.clean.CleanConfig). Its fit
is small and fast, and on collections it was not trained on it drops little, so the seed
can move a split's mean by a few hundredths of a point. This script measures that spread
for the whole hybrid (``--method hybrid``: surface → decision with refine → clean) on
era-out and both family-out splits:

- the split's surface and refinement networks as ``benchmarks/generalization.py --whole``
  trains them (loaded from its model cache, trained if missing);
- every test page through docbin.pipeline.binarize_with once, keeping the page before the
  clean step, and its components with their features and ground-truth ink
  (docbin.training.clean.page_components, the features the runtime builds);
- for each seed, the split's clean model fitted and calibrated as shipped
  (docbin.training.clean.fit_calibrated with that seed, on the classical components of the
  training collections and 40 generated pages); the page's FM with the components of
  p(text) < τ dropped whole, from their pixel counts (PageComponents.fm_after: the FM of
  the pipeline's page, which drops exactly those components).

Prints, per split and seed: τ, mean FM of the whole hybrid, ΔFM against classical, and the
test pages gaining / losing more than 1 FM against classical::

    python benchmarks/clean_seeds.py --data ../shared/data/dev --cache runs/gen --seeds 5
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

SPLITS = ("era-out", "family-out: others → DIBCO", "family-out: DIBCO → others")


def main(argv=None) -> int:
    here = Path(__file__).resolve().parent
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=here.parent.parent / "shared/data/dev")
    parser.add_argument("--cache", type=Path, default=here.parent / "runs/gen")
    parser.add_argument("--synth", type=int, default=40)
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--jobs", type=int, default=2)
    args = parser.parse_args(argv)

    import json

    import torch
    from generalization import (
        _clean_components_cache,
        build_cache,
        make_synthetic,
        page_gt,
        split_refiner,
        split_surface_network,
        splits,
        surface_pages,
        surface_split,
    )

    from docbin.io import read_image
    from docbin.options import Options
    from docbin.pipeline import binarize_with
    from docbin.training import clean as tc
    from docbin.training import surface as ts

    torch.set_num_threads(1)
    roots = [args.data]
    pages, generated = surface_pages(roots, args.cache, args.synth)
    refine_pages = build_cache(roots + [make_synthetic(args.cache / "synth-data", args.synth)],
                               args.cache / "pages", args.jobs)
    refine_synth = [p for p in refine_pages if p.collection == "synth"]
    components = _clean_components_cache(roots, args.cache / "clean", args.synth)
    collections = sorted({str(p["collection"]) for p in pages})
    config = ts.TrainConfig()
    stored_scores = args.cache / "surface_scores.json"  # the classical scores, as --whole
    scores = json.loads(stored_scores.read_text()) if stored_scores.exists() else {}
    print("| split | clean seed | τ | whole FM | Δ FM against classical | +1 / −1 |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, train_c, test_c in splits(collections):
        if name not in SPLITS:
            continue
        start = time.perf_counter()
        train = [p for p in pages if p["collection"] in train_c] + generated
        test = [p for p in pages if p["collection"] in test_c]
        base, _, _ = surface_split(name, train, test, args.cache, config, scores)
        base = np.array([b["fm"] for b in base])
        model, _, _ = split_surface_network(name, train, args.cache, config)
        refiner = split_refiner(name, train_c, refine_pages, refine_synth, args.cache)
        before = []  # the components of each test page before the clean step
        for page in test:
            gray = read_image(page["image_path"]).image
            ink = binarize_with(gray, Options(method="hybrid"), surface_model=model,
                                network=refiner).ink
            before.append(tc.page_components(gray, page_gt(page),
                                             np.where(ink, 0, 255).astype(np.uint8)))
        clean_train = [p for key, p in components.items()
                       if key[0] in train_c or key[0] == "synth"]
        for seed in range(args.seeds):
            predict, tau, _ = tc.fit_calibrated(clean_train, seed=seed)
            fm = np.array([p.fm_after(predict(p.features).reshape(-1) < tau) if len(p.area)
                           else p.fm_after(np.zeros(0, bool)) for p in before])
            delta = fm - base
            print(f"| {name} | {seed} | {tau} | {fm.mean():.2f} | {delta.mean():+.2f} | "
                  f"{int((delta > 1).sum())} / {int((delta < -1).sum())} |", flush=True)
        print(f"  {name}: {time.perf_counter() - start:.0f} s", file=sys.stderr, flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
