"""What ``--explain`` writes beside a binarized page: a JSON sidecar with what was measured
and decided, and one composed picture of it, ``<stem>.explain.png``: the input, the
output, and what each step decided where the method draws one (the hybrid's re-decided
pixels, the region scope's factor map), side by side under a title."""

from __future__ import annotations

import json
from pathlib import PurePosixPath

import numpy as np

from docbin.io import json_safe
from docbin.method.regional import upsample_tiles
from docbin.plotting import factor_map_overlay, refined_overlay, steps_codes

#: The long side of each panel of the picture, the gap between panels, the title band.
PANEL_LONGEST = 900
GAP = 16
TITLE_ROWS = 30
LABEL_ROWS = 24


def picture_name(name, options):
    """The --explain picture beside ``page.png``: ``page.explain.png``, for every method
    and scope."""
    return name.with_name(f"{name.stem}.explain.png")


def _decode(png: bytes) -> np.ndarray:
    import cv2

    return cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_COLOR)


def _scaled(image: np.ndarray, longest: int) -> np.ndarray:
    """``image`` as BGR, at most ``longest`` pixels on its long side (area averaging)."""
    import cv2

    if image.ndim == 2:
        image = cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    rows, cols = image.shape[:2]
    scale = min(1.0, longest / max(rows, cols))
    if scale < 1.0:
        image = cv2.resize(image, (max(1, round(cols * scale)), max(1, round(rows * scale))),
                           interpolation=cv2.INTER_AREA)
    return image


def compose(panels, title: str = "") -> bytes:
    """One PNG of ``panels`` (``(label, BGR or gray image)`` pairs) side by side, each under
    its label, the whole under ``title``; panels of unequal height are aligned at the top."""
    import cv2

    height = max(image.shape[0] for _, image in panels) + LABEL_ROWS
    width = sum(image.shape[1] for _, image in panels) + GAP * (len(panels) - 1)
    canvas = np.full((height + TITLE_ROWS, width, 3), 255, np.uint8)
    if title:
        cv2.putText(canvas, title[:160], (6, 21), cv2.FONT_HERSHEY_SIMPLEX, 0.55, (0, 0, 0), 1,
                    cv2.LINE_AA)
    left = 0
    for label, image in panels:
        image = _scaled(image, 10**9)
        top = TITLE_ROWS
        cv2.putText(canvas, label[:80], (left + 4, top + 17), cv2.FONT_HERSHEY_SIMPLEX, 0.5,
                    (60, 60, 60), 1, cv2.LINE_AA)
        rows, cols = image.shape[:2]
        canvas[top + LABEL_ROWS:top + LABEL_ROWS + rows, left:left + cols] = image
        left += cols + GAP
    ok, data = cv2.imencode(".png", canvas)
    if not ok:  # pragma: no cover - OpenCV encodes any 8-bit BGR image
        raise RuntimeError("could not encode the picture")
    return data.tobytes()


def picture(page, result) -> tuple[bytes, str]:
    """The PNG of what ``result`` decided on ``page``, and the info key naming it
    (``picture``): the input, the output, and a panel per step that draws what it
    decided (the hybrid's re-decided pixels; the region scope's f(row, col))."""
    title = PurePosixPath(page.source).name
    info = result.info
    panels = [("input", _scaled(page.image, PANEL_LONGEST)),
              (f"output ({info['method']})", _scaled(result.image, PANEL_LONGEST))]
    heading = (f"{title}: T_I {info['ink_intensity']:.1f}, B_I {info['contour_intensity']:.1f},"
               f" K {info['window_radius']}, f {info['f']:.3f}")
    if info.get("method") == "hybrid":
        parts = []
        if "hybrid" in info:
            hybrid = info["hybrid"]
            parts.append(f"refine: {hybrid['to_text']} made text (blue), "
                         f"{hybrid['to_background']} made background (red)"
                         + (f", {hybrid['out_of_shape']} widening turned back"
                            if hybrid.get("out_of_shape") else ""))
        if "clean" in info:
            clean = info["clean"]
            parts.append(f"clean: {clean['dropped']} components dropped (magenta)")
        if "surface" in info:
            surface = info["surface"]
            heading += f"; surface: f {surface['f_min']:.3f}..{surface['f_max']:.3f}"
        codes = steps_codes(result.image, result.refined, result.dropped)
        panels.append(("; ".join(parts) or "learned steps",
                       _decode(refined_overlay(page.image, codes, longest=PANEL_LONGEST))))
    if "regional" in info:
        regional = info["regional"]
        f_map = upsample_tiles(np.asarray(regional["f"], np.float32), page.image.shape,
                               regional["tile_size"])
        panels.append(("f(row, col) per region",
                       _decode(factor_map_overlay(page.image, f_map, longest=PANEL_LONGEST))))
    return compose(panels, heading), "picture"


def write_explanation(page, result, name, sidecar, picture_location, *, dpi,
                      overwrite: bool) -> None:
    """Write the sidecar JSON (and the picture, when ``picture_location`` is given) of a
    page written to ``name``."""
    extra = {}
    if picture_location is not None:
        png, key = picture(page, result)
        picture_location.write_bytes(png, overwrite)
        extra[key] = str(picture_location)
    info = {"input": page.source, "page": page.index + 1, "pages": page.count,
            "output": str(name), "rows": page.image.shape[0], "cols": page.image.shape[1],
            "dpi": dpi, **extra, **result.info}
    text = json.dumps(json_safe(info), indent=2) + "\n"
    sidecar.write_bytes(text.encode("utf-8"), overwrite)
