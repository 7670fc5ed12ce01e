"""What ``--explain`` writes beside a binarized page: a JSON sidecar with what was measured
and decided, and a picture of it where the method has one (the hybrid's re-decided pixels,
the region scope's factor map)."""

from __future__ import annotations

import json
from pathlib import PurePosixPath

import numpy as np

from docbin.io import json_safe
from docbin.method.regional import upsample_tiles
from docbin.plotting import factor_map_overlay, refined_overlay, steps_codes


def picture_name(name, options):
    """The --explain picture beside ``page.png``: ``page.f.png`` (the regional f map) or
    ``page.refined.png`` (the pixels the hybrid re-decided); None for the classical
    method per page."""
    if options.method == "hybrid":
        return name.with_name(f"{name.stem}.refined.png")
    if options.resolved_scope == "region":
        return name.with_name(f"{name.stem}.f.png")
    return None


def picture(page, result) -> tuple[bytes, str] | None:
    """The PNG of what ``result`` decided on ``page`` and the info key naming it, or None
    when its method has no picture."""
    title = PurePosixPath(page.source).name
    if result.info.get("method") == "hybrid":
        parts = []
        if "hybrid" in result.info:
            hybrid = result.info["hybrid"]
            parts.append(f"band {hybrid['refined_pixels']} px, {hybrid['to_text']} made text "
                         f"(blue), {hybrid['to_background']} made background (red)")
        if "clean" in result.info:
            clean = result.info["clean"]
            parts.append(f"{clean['dropped']} components, {clean['dropped_pixels']} px "
                         "dropped (magenta)")
        if "surface" in result.info:
            surface = result.info["surface"]
            parts.append(f"f {surface['f_min']:.3f}..{surface['f_max']:.3f}")
        codes = steps_codes(result.image, result.refined, result.dropped)
        return refined_overlay(page.image, codes, title=f"{title}: " + "; ".join(parts)), \
            "refined_picture"
    if "regional" in result.info:
        regional = result.info["regional"]
        f_map = upsample_tiles(np.asarray(regional["f"], np.float32), page.image.shape,
                               regional["tile_size"])
        return factor_map_overlay(page.image, f_map, title=(
            f"{title}: f(row, col), {result.info['method']} per region")), \
            "factor_map_picture"
    return None


def write_explanation(page, result, name, sidecar, picture_location, *, dpi,
                      overwrite: bool) -> None:
    """Write the sidecar JSON (and the picture, when ``picture_location`` is given) of a
    page written to ``name``."""
    extra = {}
    drawn = picture(page, result) if picture_location is not None else None
    if drawn is not None:
        png, key = drawn
        picture_location.write_bytes(png, overwrite)
        extra[key] = str(picture_location)
    info = {"input": page.source, "page": page.index + 1, "pages": page.count,
            "output": str(name), "rows": page.image.shape[0], "cols": page.image.shape[1],
            "dpi": dpi, **extra, **result.info}
    text = json.dumps(json_safe(info), indent=2) + "\n"
    sidecar.write_bytes(text.encode("utf-8"), overwrite)
