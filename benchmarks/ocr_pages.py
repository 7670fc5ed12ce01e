"""Write a benchmark collection of synthetic printed pages with exact transcriptions.

Usage (from the repository root)::

    python benchmarks/ocr_pages.py DIR                # writes DIR/synth/{img,gt,txt}
    docbin benchmark DIR --ocr --baseline otsu,sauvola

Page ``synth_NN`` is ``docbin.synth.transcribed_page(ROWS, COLS, seed=NN, kinds)``: printed
paragraphs of random words (no handwriting, which has no letters to transcribe), degraded
by the kinds of the recipe ``NN mod 4`` of :data:`RECIPES`. ``img/`` holds the 8-bit gray
page, ``gt/`` its ground truth (1-bit, text 0), ``txt/`` its text as drawn: unlike the
transcriptions of the development pages, these are exact. The pixels depend on the OpenCV
and NumPy versions (fonts, resampling, random streams).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from PIL import Image

from docbin import synth

#: Degradations of the pages, in turn: the bundled examples' three and all kinds at once.
RECIPES = (*(kinds for _seed, kinds in synth.EXAMPLES.values()), tuple(synth.KINDS))


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path, help="data folder; the collection goes to OUT/NAME")
    parser.add_argument("--name", default="synth", help="collection name (default: synth)")
    parser.add_argument("--pages", type=int, default=12, help="number of pages (default: 12)")
    parser.add_argument("--rows", type=int, default=1650, help="page height (default: 1650)")
    parser.add_argument("--cols", type=int, default=1275, help="page width (default: 1275)")
    args = parser.parse_args(argv)
    folder = args.out / args.name
    for sub in ("img", "gt", "txt"):
        (folder / sub).mkdir(parents=True, exist_ok=True)
    for seed in range(1, args.pages + 1):
        kinds = RECIPES[seed % len(RECIPES)]
        page, gt, text = synth.transcribed_page(args.rows, args.cols, seed, kinds)
        name = f"synth_{seed:02d}"
        Image.fromarray(page).save(folder / "img" / f"{name}.png")
        Image.fromarray(~gt).convert("1").save(folder / "gt" / f"{name}.png")
        (folder / "txt" / f"{name}.txt").write_text(text, encoding="utf-8")
        print(f"{folder / 'img' / name}.png  {', '.join(kinds)}")


if __name__ == "__main__":
    main()
