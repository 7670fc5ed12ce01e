"""``docbin surface``: the decision surface f(b, t) drawn as a depth field (the paper's Fig. 1),
or a page's factor map."""

from __future__ import annotations

import enum
from pathlib import Path
from typing import Annotated

import typer

from docbin.cli.common import fail, usage_error
from docbin.errors import DocbinError, OutputError


class PictureScope(str, enum.Enum):
    """What ``docbin surface`` draws: the surface (page) or a page's f map (region)."""

    page = "page"
    region = "region"


def surface(
    page: Annotated[Path | None, typer.Option(
        "--page", show_default=False,
        help="An image: mark its (b, t) and f on the surface.")] = None,
    out: Annotated[Path, typer.Option(
        "--out", "-o", help="The PNG to write.")] = Path("surface.png"),
    overwrite: Annotated[bool, typer.Option(
        "--overwrite", help="Replace OUT if it exists.")] = False,
    scope: Annotated[PictureScope, typer.Option(
        "--scope", help="region (with --page): draw the page with its per-region factor "
        "f(row, col) laid over it instead of the surface.")] = PictureScope.page,
    adjusted: Annotated[bool, typer.Option(
        "--adjusted", help="With --page: the surface before and after the surface network's "
        "adjustment for the page, and the difference.")] = False,
) -> None:
    """Draw the decision surface f(b, t) as a depth field (PNG).

    b (contour intensity) across, t (ink intensity) up, f in colour with contours.
    """
    try:
        from docbin.io import read_image, write_bytes
        from docbin.plotting import surface_picture

        if not overwrite and out.exists():
            raise OutputError(f"{out} exists; pass --overwrite to replace it")
        gray = None if page is None else read_image(page).image
        if adjusted:
            if gray is None:
                raise usage_error("--adjusted draws the surface adjusted for a page: give "
                                  "--page")
            from docbin.plotting import adjusted_surface_picture

            png, summary = adjusted_surface_picture(gray, page_name=page.name)
        elif scope == PictureScope.region:
            if gray is None:
                raise usage_error("--scope region draws a page's factor map: give --page")
            from docbin.plotting import factor_map_picture

            png, summary = factor_map_picture(gray, page_name=page.name)
        else:
            png, summary = surface_picture(gray,
                                           page_name=page.name if page is not None else "page")
        write_bytes(out, png, overwrite=overwrite)
    except (DocbinError, OSError, ValueError) as error:
        raise fail(error) from None
    details = ""
    if "f" in summary:
        details += f": b = {summary['b']:.3f}, t = {summary['t']:.3f}, f = {summary['f']:.3f}"
    if "f_min" in summary:
        details += f": f from {summary['f_min']:.3f} to {summary['f_max']:.3f}"
    typer.echo(f"docbin: wrote {out}{details}", err=True)
