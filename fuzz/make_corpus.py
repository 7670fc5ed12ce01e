"""Seed inputs for the harnesses: small pages in every format docbin reads, arrays, and
manifest lines (``python fuzz/make_corpus.py fuzz/corpus``)."""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path

import numpy as np
from PIL import Image


def main(root: Path) -> None:
    rng = np.random.default_rng(0)
    gray = (rng.random((24, 32)) * 255).astype(np.uint8)
    readers = root / "readers"
    readers.mkdir(parents=True, exist_ok=True)
    images = {"L": Image.fromarray(gray), "RGB": Image.fromarray(np.dstack([gray] * 3)),
              "RGBA": Image.fromarray(np.dstack([gray] * 4)), "1": Image.fromarray(gray > 128),
              "I;16": Image.fromarray(gray.astype(np.uint16) * 257), "P": Image.fromarray(gray).convert("P")}
    formats = {"png": "PNG", "tif": "TIFF", "bmp": "BMP", "jpg": "JPEG", "webp": "WEBP",
               "pgm": "PPM"}
    for mode, image in images.items():
        for suffix, fmt in formats.items():
            data = io.BytesIO()
            try:
                image.save(data, format=fmt)
            except (OSError, ValueError, KeyError):
                continue
            (readers / f"{mode.replace(';', '_')}.{suffix}").write_bytes(data.getvalue())
    pages = [Image.fromarray(gray), Image.fromarray(255 - gray)]
    data = io.BytesIO()
    pages[0].save(data, format="TIFF", save_all=True, append_images=pages[1:])
    (readers / "multipage.tif").write_bytes(data.getvalue())
    arrays = root / "binarize"
    arrays.mkdir(parents=True, exist_ok=True)
    for k in range(4):
        (arrays / f"a{k}").write_bytes(bytes([k, 16 + k, 20 + k]) + gray.tobytes()[: 400 * (k + 1)])
    manifest = root / "manifest"
    manifest.mkdir(parents=True, exist_ok=True)
    record = {"input": "scans/a.png", "output": "out/a.png", "page": 1, "pages": 1,
              "status": "ok", "error": None, "rows": 24, "cols": 32, "T_I": 40.0,
              "B_I": 120.0, "K": 5, "f": 0.7, "seconds": 0.1, "bytes": 300,
              "worker": "host:1", "finished": 1.0, "run": "r1"}
    (manifest / "ok.jsonl").write_text(json.dumps(record) + "\n" + json.dumps(
        {**record, "status": "failed", "error": "bad"}) + "\n{\"cut")


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "fuzz/corpus"))
