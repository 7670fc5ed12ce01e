"""Fingerprints of docbin's output on a folder of collections, to show a change keeps results.

    python benchmarks/fingerprint.py ../shared/data/dev --out before.json
    ... change the code ...
    python benchmarks/fingerprint.py ../shared/data/dev --compare before.json

Every page of ``<data>/<collection>/img/*`` is binarized with each method (classical and
hybrid by default) through the public API; the SHA-256 of the binary page and the page's
statistics are recorded. ``--compare`` prints the pages whose output differs and exits 1
when any does.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from pathlib import Path

import docbin
from docbin.io import read_image

SUFFIXES = {".png", ".bmp", ".tif", ".tiff", ".jpg", ".jpeg"}


def pages(data: Path) -> list[Path]:
    return sorted(p for p in data.glob("*/img/*") if p.suffix.lower() in SUFFIXES)


def fingerprint(data: Path, methods: list[str], steps: str | None = None) -> dict:
    out = {}
    for path in pages(data):
        image = read_image(path).image
        key = f"{path.parent.parent.name}/{path.name}"
        for method in methods:
            kwargs = {} if steps is None or method == "classical" else {"steps": steps}
            result = docbin.binarize(image, method, **kwargs)
            digest = hashlib.sha256(result.image.tobytes()).hexdigest()
            out[f"{method}:{key}"] = digest
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", type=Path)
    parser.add_argument("--methods", default="classical,hybrid")
    parser.add_argument("--steps", default=None, help="the hybrid's --steps (default: its own)")
    parser.add_argument("--out", type=Path)
    parser.add_argument("--compare", type=Path)
    args = parser.parse_args()
    start = time.perf_counter()
    prints = fingerprint(args.data, args.methods.split(","), args.steps)
    print(f"{len(prints)} outputs in {time.perf_counter() - start:.0f} s", file=sys.stderr)
    if args.out:
        args.out.write_text(json.dumps(prints, indent=0, sort_keys=True))
    if args.compare:
        before = json.loads(args.compare.read_text())
        shared = sorted(set(before) & set(prints))
        differ = [k for k in shared if before[k] != prints[k]]
        missing = sorted(set(before) ^ set(prints))
        for key in differ:
            print(f"differs: {key}")
        for key in missing:
            print(f"only on one side: {key}")
        print(f"{len(shared) - len(differ)} of {len(shared)} outputs identical")
        return 1 if differ or missing else 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
