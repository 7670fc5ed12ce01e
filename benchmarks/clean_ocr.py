"""OCR character error rate of the clean step on the transcribed development pages.

For every page with a transcription (``<collection>/txt/<page>.txt``), Tesseract
(docbin.evaluation.ocr, its default settings) reads the page binarized by:

- ``classical``: METHOD.md §1;
- ``classical+clean``: the same with the clean step, with a clean model trained on every
  collection but the page's own (leave-one-collection-out, as in
  ``benchmarks/generalization.py --clean``; τ from held-out folds of its training
  collections), so that no page is read through a model trained on it;
- ``hybrid`` and ``hybrid+clean``: the hybrid's surface and refine steps with the shipped
  networks (trained on the development pages except msi2015, so these pages were in their
  training set), then the same leave-one-collection-out clean model;
- ``classical+clean (shipped)``: the shipped clean model (trained on these pages too);
- ``hybrid (shipped)``: ``--method hybrid`` as shipped, its three steps (every model trained
  on these pages).

CER (%) is the edit distance over the reference length (docbin.evaluation.ocr.character_error_rate,
normalised text); the table gives the mean over pages and each page.

    python benchmarks/clean_ocr.py --data ../shared/data/dev --cache runs/gen

``--cache`` must hold the component cache that ``generalization.py --clean`` writes
(``clean/components_s<N>.pkl``, ``--synth N``).
"""

from __future__ import annotations

import argparse
import os
import pickle
import sys
from pathlib import Path

import numpy as np


def main(argv=None) -> int:
    here = Path(__file__).resolve().parent
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=Path(
        os.environ.get("DOCBIN_DEV_DATA") or here.parents[1] / "shared/data/dev"))
    parser.add_argument("--cache", type=Path, default=here.parent / "runs/gen")
    parser.add_argument("--synth", type=int, default=40)
    parser.add_argument("--report", type=Path)
    args = parser.parse_args(argv)

    from docbin import binarize
    from docbin.evaluation.ocr import (
        character_error_rate,
        read_transcription,
        tesseract_text,
        transcription_path,
    )
    from docbin.io import read_image
    from docbin.method import clean
    from docbin.method.stats import page_stats
    from docbin.training.clean import fit_calibrated
    from docbin.training.refine import find_pairs

    components = pickle.loads((args.cache / "clean" / f"components_s{args.synth}.pkl")
                              .read_bytes())
    pages = [(c, image) for c, image, _ in find_pairs([args.data])
             if transcription_path(image).exists()]
    if not pages:
        raise SystemExit(f"no transcribed pages under {args.data}")
    shipped = clean.load_cleaner()
    models = {}
    methods = ("classical", "classical+clean", "hybrid", "hybrid+clean",
               "classical+clean (shipped)", "hybrid (shipped)")
    rows = []
    for collection, image in pages:
        if collection not in models:
            train = [p for k, p in components.items()
                     if k[0] not in (collection, "msi2015")]
            models[collection] = fit_calibrated(train)[:2]
            print(f"  model without {collection}: τ = {models[collection][1]}",
                  file=sys.stderr, flush=True)
        predict, tau = models[collection]
        gray = read_image(image).image
        stats = page_stats(gray)
        reference = read_transcription(transcription_path(image))

        def dropped(binary, model, threshold, gray=gray, stats=stats):
            out = binary.copy()
            comps = clean.component_features(gray, out, stats.ink_intensity,
                                             stats.contour_intensity)
            if comps.count:
                drop = np.zeros(comps.count + 1, bool)
                drop[1:] = model(comps.features) < threshold
                clean.drop_components(out, comps.labels, drop)
            return out

        classical = binarize(gray).image
        hybrid = binarize(gray, "hybrid", steps=("surface", "refine")).image
        outputs = {"classical": classical,
                   "classical+clean": dropped(classical, predict, tau),
                   "hybrid": hybrid,
                   "hybrid+clean": dropped(hybrid, predict, tau),
                   "classical+clean (shipped)": dropped(classical, shipped,
                                                        shipped.threshold),
                   "hybrid (shipped)": binarize(gray, "hybrid").image}
        cer = {m: character_error_rate(tesseract_text(outputs[m]), reference)  # in %
               for m in methods}
        rows.append((f"{collection}/{image.stem}", cer))
        print(f"  {collection}/{image.stem}: " + ", ".join(f"{m} {v:.1f}"
                                                         for m, v in cer.items()),
              file=sys.stderr, flush=True)
    lines = ["| page | " + " | ".join(methods) + " |",
             "|---|" + "---:|" * len(methods)]
    lines += [f"| {name} | " + " | ".join(f"{cer[m]:.1f}" for m in methods) + " |"
              for name, cer in rows]
    lines.append("| **mean** | " + " | ".join(
        f"**{np.mean([cer[m] for _, cer in rows]):.1f}**" for m in methods) + " |")
    text = "\n".join(lines)
    print(text)
    if args.report:
        args.report.write_text(text + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
