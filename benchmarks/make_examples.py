"""Regenerate the bundled example pages in examples/ from docbin.synth.

Usage (from the repository root)::

    python benchmarks/make_examples.py            # writes examples/*.png and examples/gt/*.png
    python benchmarks/make_examples.py --out DIR  # somewhere else

Each page is ``docbin.synth.degraded_page(1200, 900, seed, kinds)`` with the seed and kinds
of ``docbin.synth.EXAMPLES``; its ground truth (text 0, background 255) goes to ``gt/``.
Pages are 8-bit gray PNG, ground truths 1-bit PNG. The pixels depend on the OpenCV and
NumPy versions (fonts, resampling, random streams), so regenerated files may differ in
detail from the committed ones.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from PIL import Image

from docbin import synth


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path,
                        default=Path(__file__).resolve().parents[1] / "examples",
                        help="output folder (default: the repository's examples/)")
    args = parser.parse_args(argv)
    (args.out / "gt").mkdir(parents=True, exist_ok=True)
    for name, page, gt in synth.example_pages():
        Image.fromarray(page).save(args.out / f"{name}.png", optimize=True)
        Image.fromarray(~gt).convert("1").save(args.out / "gt" / f"{name}.png", optimize=True)
        print(f"{args.out / name}.png  ({page.shape[0]} x {page.shape[1]}, "
              f"{np.count_nonzero(gt)} ink pixels)")


if __name__ == "__main__":
    main()
