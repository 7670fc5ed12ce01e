"""Make the README's before/after strip from the bundled examples and docbin's own output.

Usage (from the repository root)::

    python benchmarks/readme_strip.py                 # writes docs/readme_strip.png
    python benchmarks/readme_strip.py --out strip.png

For each page of ``examples/`` (synthetic pages made by ``docbin.synth``; see
examples/README.md) the strip shows a crop of the page as it is and the same crop of
``docbin.binarize(page)`` (the default, classical method), with the page's FM against
``examples/gt/`` over the whole page. Nothing in it is drawn by hand: rerun the script
after a change of the method and commit the new picture.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import cv2
import numpy as np

import docbin
from docbin.evaluation.metrics import evaluate
from docbin.io import read_image

ROOT = Path(__file__).resolve().parents[1]
#: The crop of each page shown, (top, left, rows, cols), and the gaps and label band.
CROP = (60, 40, 300, 520)
GAP = 12
LABEL_ROWS = 30


def label(band_cols: int, text: str) -> np.ndarray:
    """A white band with ``text`` in dark gray."""
    band = np.full((LABEL_ROWS, band_cols), 255, np.uint8)
    cv2.putText(band, text, (4, LABEL_ROWS - 9), cv2.FONT_HERSHEY_SIMPLEX, 0.6, 40, 1,
                cv2.LINE_AA)
    return band


def strip(examples: Path) -> np.ndarray:
    """The strip: one row per example page, (input crop | output crop), labelled."""
    top, left, rows, cols = CROP
    lines = []
    for path in sorted(examples.glob("*.png")):
        page = read_image(path).image
        truth = read_image(examples / "gt" / path.name).image
        output = docbin.binarize(page).image
        fm = evaluate(output, truth)["fm"]
        before = page[top:top + rows, left:left + cols]
        after = output[top:top + rows, left:left + cols]
        gap = np.full((rows + LABEL_ROWS, GAP), 255, np.uint8)
        lines.append(np.hstack([
            np.vstack([label(cols, f"{path.stem}: the page"), before]), gap,
            np.vstack([label(cols, f"docbin (classical): FM {fm:.1f} on the page"), after])]))
        lines.append(np.full((GAP, lines[-1].shape[1]), 255, np.uint8))
    return np.vstack(lines[:-1])


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=Path, default=ROOT / "examples")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "readme_strip.png")
    args = parser.parse_args(argv)
    picture = strip(args.examples)
    if not cv2.imwrite(str(args.out), picture, [cv2.IMWRITE_PNG_COMPRESSION, 9]):
        raise SystemExit(f"could not write {args.out}")
    print(f"{args.out}: {picture.shape[1]} x {picture.shape[0]} px, "
          f"{args.out.stat().st_size // 1024} kB")


if __name__ == "__main__":
    main()
