"""Does the clean step drop text on clean printed pages with stains (a family it was not built
for)?

An earlier component classifier that learned page-level cues dropped half of a clean printed
paragraph on a family of office pages with coffee stains and folds. This script makes such a
family with docbin.synth (exact ground truth): printed pages only (no handwriting, no
bleed-through), paper texture, stains on every page, uneven light on half of them, mild
blur and noise, at office scan sizes; two sets of pages, with moderate stains (depth
U(0.2, 0.6), most of which the threshold already leaves out) and with deep ones (depth
U(0.6, 0.9), whose tide lines and cores it keeps). Its seeds (from 90 000) are not
those of the generated training pages (docbin.training.clean.synthetic_pairs, seed 2000).

Each page is binarized by the shipped models, through docbin.binarize:

- ``classical`` and ``classical+clean`` (``--method hybrid --steps clean``);
- ``surface+refine`` and ``hybrid`` (all three steps).

The table: mean FM, PSNR and DRD; the pages more than 1 FM worse / better than classical;
for the clean step, the pages it makes more than 1 FM worse / better than the same page
without it, and the most FM any page loses to it::

    python benchmarks/clean_print.py --pages 60
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))


def office_page(seed: int, depth: tuple[float, float]):
    """(gray page, text mask) of a printed page with stains of depth U(*depth) (module
    docstring)."""
    from docbin import synth

    rng = np.random.default_rng([90000, seed])
    rows, cols = int(rng.integers(1100, 1750)), int(rng.integers(850, 1240))
    page, truth = synth.clean_page(rows, cols, rng, handwriting=0.0)
    page = synth.paper_texture(page, rng)
    page = synth.stains(page, rng, depth=rng.uniform(*depth))
    if rng.random() < 0.5:
        page = synth.uneven_light(page, rng)
    page = synth.blur(page, rng, sigma=rng.uniform(0.3, 0.8))
    page = synth.noise(page, rng)
    return page, truth


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pages", type=int, default=60)
    args = parser.parse_args(argv)

    from docbin import binarize
    from docbin.evaluation import metrics
    from docbin.options import Options

    forms = {"classical": Options(method="classical"),
             "classical+clean": Options(method="hybrid", steps=("clean",)),
             "surface+refine": Options(method="hybrid", steps=("surface", "refine")),
             "hybrid": Options(method="hybrid")}
    print("| stains | method | FM | PSNR | DRD | against classical: pages −1 FM / +1 FM | "
          "clean step: pages −1 FM / +1 FM | its worst page change |")
    print("|---|---|---:|---:|---:|---:|---:|---:|")
    pairs = {"classical+clean": "classical", "hybrid": "surface+refine"}
    for label, depth in (("moderate", (0.2, 0.6)), ("deep", (0.6, 0.9))):
        scores = {name: [] for name in forms}
        start = time.perf_counter()
        for seed in range(args.pages):
            gray, truth = office_page(seed, depth)
            for name, options in forms.items():
                ink = binarize(gray, options=options).ink
                counts = metrics.confusion(ink, truth)
                scores[name].append((float(metrics.f_measure(counts)),
                                     float(metrics.psnr(counts)),
                                     float(metrics.drd(ink, truth))))
        for name, rows in scores.items():
            r = np.array(rows)
            base = np.array(scores["classical"])[:, 0]
            against = "" if name == "classical" else (
                f"{int((r[:, 0] - base < -1).sum())} / {int((r[:, 0] - base > 1).sum())}")
            extra = f" {against} | | |"
            if name in pairs:
                delta = r[:, 0] - np.array(scores[pairs[name]])[:, 0]
                extra = (f" {against} | {int((delta < -1).sum())} / "
                         f"{int((delta > 1).sum())} | {delta.min():+.2f} |")
            print(f"| {label} | {name} | {r[:, 0].mean():.2f} | {r[:, 1].mean():.2f} | "
                  f"{r[:, 2].mean():.2f} |" + extra, flush=True)
        print(f"  {label}: {args.pages} pages, {time.perf_counter() - start:.0f} s",
              file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
