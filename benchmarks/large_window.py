"""Time and peak memory of pages whose window radius K is half the page, against ordinary
pages of the same size: with docbin's streamed large-window statistics they should cost
about the same.

    python benchmarks/large_window.py /tmp/large_window            # 8000² pages
    python benchmarks/large_window.py /tmp/large_window --huge     # and the 17000² ones

Writes the pages to the folder (PNG; a few MB, regenerated each run) and runs
``docbin binarize`` on each in its own process (the docbin that ``PYTHONPATH`` or the
environment gives, run from the folder), printing wall and CPU seconds and the peak
resident memory of that process. The pages:

- ``flat_<n>_stroke``: a flat n² page (level 200) with one long dark stroke across it. The
  stroke's edge is one component, so K is capped at half the page (K = n/2).
- ``ordinary_<n>``: a synthetic degraded page (:func:`docbin.synth.degraded_page`,
  2000², tiled to n²): K of a few tens.
- ``one_row_17000`` (``--huge``): a 95-byte PNG declaring 17000² gray pixels whose data
  holds one row (Pillow fills the rest with 0): K = 8500.
"""

from __future__ import annotations

import argparse
import os
import struct
import subprocess
import sys
import time
import zlib
from pathlib import Path

import cv2
import numpy as np


def _chunk(kind: bytes, data: bytes) -> bytes:
    return (struct.pack(">I", len(data)) + kind + data
            + struct.pack(">I", zlib.crc32(kind + data)))


def one_row_png(path: Path, side: int = 17000) -> None:
    """A gray 8-bit PNG of side² pixels whose image data holds one (white) row."""
    header = struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0)
    data = zlib.compress(b"\x00" + b"\xff" * side, 9)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header) + _chunk(b"IDAT", data)
                     + _chunk(b"IEND", b""))


def flat_page_with_a_stroke(path: Path, side: int) -> None:
    page = np.full((side, side), 200, np.uint8)
    cv2.line(page, (side // 10, side // 2), (side - side // 10, side // 2 + 60), 40, 8,
             cv2.LINE_8)
    cv2.imwrite(str(path), page)


def ordinary_page(path: Path, side: int) -> None:
    from docbin.synth import degraded_page

    tile = degraded_page(2000, 2000, seed=3)[0]
    reps = -(-side // 2000)
    cv2.imwrite(str(path), np.tile(tile, (reps, reps))[:side, :side])


def run(page: Path, out: Path) -> tuple[float, float, float]:
    """Wall seconds, CPU seconds and peak resident MB of ``docbin binarize page out``."""
    start = time.perf_counter()
    process = subprocess.Popen([sys.executable, "-c", "from docbin.cli import main; main()",
                                "binarize", str(page.resolve()), str(out.resolve()),
                                "--overwrite"],
                               stdout=subprocess.DEVNULL, cwd=page.parent)  # not this tree
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode:
        raise SystemExit(f"docbin binarize {page} failed ({process.returncode})")
    return (time.perf_counter() - start, usage.ru_utime + usage.ru_stime,
            usage.ru_maxrss / 1024)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path)
    parser.add_argument("--huge", action="store_true", help="also the 17000² pages")
    args = parser.parse_args()
    args.folder.mkdir(parents=True, exist_ok=True)
    pages = []
    for side in (8000, 17000) if args.huge else (8000,):
        flat = args.folder / f"flat_{side}_stroke.png"
        flat_page_with_a_stroke(flat, side)
        ordinary = args.folder / f"ordinary_{side}.png"
        ordinary_page(ordinary, side)
        pages += [flat, ordinary]
    if args.huge:
        one_row = args.folder / "one_row_17000.png"
        one_row_png(one_row)
        pages.insert(2, one_row)
    print("| page | wall s | CPU s | peak RSS MB |\n|---|---:|---:|---:|")
    for page in pages:
        wall, cpu, rss = run(page, args.folder / f"out_{page.name}")
        print(f"| {page.stem} | {wall:.1f} | {cpu:.1f} | {rss:.0f} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
