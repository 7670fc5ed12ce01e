"""Pictures of decision surfaces: depth fields over (b, t), like the paper's Fig. 1 and 3.

matplotlib is an optional extra (``pip install "docbin[plot]"``), imported only when a
picture is drawn, and used through its object API with the Agg canvas: no pyplot, no
global backend switch in the caller's process.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np

from docbin.errors import MissingDependencyError
from docbin.method.regional import upsample_tiles
from docbin.method.stats import page_stats
from docbin.method.surface import logistic_surface
from docbin.pipeline import binarize

#: Size of one panel in inches, and the resolution: a panel is 672 × 552 pixels.
PANEL_INCHES = (5.6, 4.6)
DPI = 120
#: Grid points per axis of a depth field.
RESOLUTION = 201
_LEVELS = np.round(np.arange(0.1, 1.0, 0.1), 1)


def _matplotlib():
    """matplotlib's Figure and Agg canvas, or a MissingDependencyError saying what to do."""
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError as error:
        raise MissingDependencyError(
            'pictures need matplotlib: pip install "docbin[plot]"') from error
    return Figure, FigureCanvasAgg


def figure_size(panels: int) -> tuple[int, int]:
    """(width, height) in pixels of a picture with ``panels`` panels."""
    return (round(PANEL_INCHES[0] * panels * DPI), round(PANEL_INCHES[1] * DPI))


@dataclass
class PagePoint:
    """A page's place on the surface: (b, t) and its factor before and after adjustment."""

    b: float
    t: float
    f_base: float
    f: float | None = None
    label: str = "page"


def _depth_field(ax, values, title, cmap, vmin, vmax, bar_label, fig, levels, fmt="{:g}"):
    image = ax.imshow(values.T, origin="lower", extent=(0, 1, 0, 1), cmap=cmap, vmin=vmin,
                      vmax=vmax, interpolation="bilinear", aspect="equal")
    grid = np.linspace(0.0, 1.0, values.shape[0])
    if levels is not None and len(levels):
        lines = ax.contour(grid, grid, values.T, levels=levels, colors="k", linewidths=0.6,
                           alpha=0.7)
        ax.clabel(lines, fontsize=7, fmt=fmt.format)
    bar = fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04)
    bar.set_label(bar_label)
    ax.set_xlabel("b = B_I / 255  (contour intensity)")
    ax.set_ylabel("t = T_I / 255  (ink intensity)")
    ax.set_title(title, fontsize=10)
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)


def _mark(ax, point: PagePoint, text: str) -> None:
    ax.plot([point.b], [point.t], marker="o", markersize=8, markerfacecolor="red",
            markeredgecolor="white", markeredgewidth=1.5, linestyle="none", zorder=5)
    dx = -0.04 if point.b > 0.6 else 0.04
    ax.annotate(text, (point.b, point.t), xytext=(point.b + dx, min(point.t + 0.08, 0.95)),
                ha="right" if dx < 0 else "left", fontsize=8, zorder=6,
                bbox={"boxstyle": "round,pad=0.2", "fc": "white", "ec": "0.5", "alpha": 0.9},
                arrowprops={"arrowstyle": "-", "color": "0.3"})


def render_surfaces(base, *, base_title: str, point: PagePoint | None = None,
                    resolution: int = RESOLUTION) -> bytes:
    """A PNG of a decision surface ``base(b, t)`` (a callable on broadcast arrays, e.g.
    :func:`~docbin.method.surface.logistic_surface`) as a depth field, with ``point`` marked.

    Returns
    -------
    bytes
        PNG data of :func:`figure_size` pixels.
    """
    Figure, FigureCanvasAgg = _matplotlib()
    grid = np.linspace(0.0, 1.0, resolution)
    b, t = grid[:, None], grid[None, :]
    base_values = np.broadcast_to(base(b, t), (resolution, resolution))
    fig = Figure(figsize=PANEL_INCHES, dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)
    axis = fig.subplots(1, 1)
    _depth_field(axis, base_values, base_title, "viridis", 0.0, 1.0, "f(b, t)", fig, _LEVELS)
    if point is not None:
        _mark(axis, point, f"{point.label}\nf = {point.f_base:.3f}")
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=DPI)
    return buffer.getvalue()


def render_factor_map(page: np.ndarray, f_map: np.ndarray, title: str) -> bytes:
    """A PNG of a page with its per-pixel decision factor f(row, col) laid over it.

    The page is drawn in gray, the f map on top in colour (half transparent), with a
    colour bar; one panel as wide as a surface panel, rows scaled to keep the aspect.
    """
    Figure, FigureCanvasAgg = _matplotlib()
    rows, cols = page.shape
    step = max(1, int(np.ceil(max(rows, cols) / 1600)))  # the figure needs no more detail
    fig = Figure(figsize=PANEL_INCHES, dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.subplots()
    ax.imshow(page[::step, ::step], cmap="gray", vmin=0, vmax=255,
              extent=(0, cols, rows, 0), interpolation="antialiased")
    shown = ax.imshow(f_map[::step, ::step], cmap="viridis", alpha=0.55,
                      extent=(0, cols, rows, 0), interpolation="bilinear",
                      vmin=float(np.floor(f_map.min() * 20) / 20),
                      vmax=float(np.ceil(f_map.max() * 20) / 20 + 1e-6))
    bar = fig.colorbar(shown, ax=ax, fraction=0.046, pad=0.04)
    bar.set_label("f(row, col)")
    ax.set_xlabel("column (px)")
    ax.set_ylabel("row (px)")
    ax.set_title(title, fontsize=10)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=DPI)
    return buffer.getvalue()


def factor_map_picture(page: np.ndarray, *, page_name: str = "page") -> tuple[bytes, dict]:
    """The regional decision factor of a page (``--scope region``: T_I and B_I per tile
    on the logistic surface) as a picture."""

    _matplotlib()
    result = binarize(page, method="classical", scope="region")
    f_tiles = np.asarray(result.info["regional"]["f"], np.float32)
    f_map = upsample_tiles(f_tiles, page.shape, result.info["regional"]["tile_size"])
    title = (f"{page_name}: f(row, col), classical per region "
             f"(f from {f_map.min():.3f} to {f_map.max():.3f})")
    summary = {"method": "classical", "f_min": float(f_map.min()),
               "f_max": float(f_map.max())}
    return render_factor_map(page, f_map, title), summary


def surface_picture(page: np.ndarray | None = None, *,
                    page_name: str = "page") -> tuple[bytes, dict]:
    """The picture of ``docbin surface``: the decision surface f(b, t) of the classical
    method (the paper's Fig. 1), with a page's (b, t) and f marked when ``page`` is given.

    Returns
    -------
    png : bytes
    summary : dict
        With a page: ``b``, ``t`` and ``f``.
    """

    _matplotlib()  # fail early, before the page is processed
    summary: dict = {}
    point = None
    if page is not None:

        stats = page_stats(page)
        f = float(logistic_surface(stats.b, stats.t))
        point = PagePoint(stats.b, stats.t, f, f, page_name)
        summary.update(b=stats.b, t=stats.t, f=f)
    title = "decision surface f(b, t) (logistic)"
    return render_surfaces(logistic_surface, base_title=title, point=point), summary


#: BGR colours of the refined-pixel picture: confirmed, turned to text, turned to background
#: BGR colours of the codes of :func:`steps_codes`: 1 refined, classical decision kept
#: (yellow); 2 made text (blue); 3 made background (red); 4 dropped by the clean step
#: (magenta); 5 the page's final ink (black).
REFINED_COLOURS = {1: (0, 200, 255), 2: (255, 90, 0), 3: (0, 0, 230), 4: (200, 0, 200),
                   5: (0, 0, 0)}


def steps_codes(image: np.ndarray, refined: np.ndarray | None,
                dropped: np.ndarray | None) -> np.ndarray:
    """One uint8 code per pixel of what the hybrid's steps decided (:data:`REFINED_COLOURS`):
    the refine step's codes, the clean step's dropped ink, and the final ink where no step
    touched it."""
    codes = np.zeros(image.shape, np.uint8) if refined is None else refined.copy()
    codes[(image == 0) & (codes == 0)] = 5
    if dropped is not None:
        codes[dropped] = 4
    return codes


def refined_overlay(page: np.ndarray, refined: np.ndarray, *, longest: int = 1600,
                    title: str = "") -> bytes:
    """A PNG of the page in gray with what the hybrid's steps decided in colour
    (:func:`steps_codes`): yellow where the refine network kept the classical decision,
    blue where it made text, red where it made background, magenta the ink the clean step
    dropped, black the final ink (``--explain`` with ``--method hybrid``; OpenCV only)."""
    import cv2

    page = np.asarray(page, np.uint8)
    if page.shape != refined.shape:
        raise ValueError(f"page {page.shape} and map {refined.shape} differ in shape")
    picture = cv2.cvtColor(page, cv2.COLOR_GRAY2BGR)
    picture = cv2.addWeighted(picture, 0.5, np.full_like(picture, 255), 0.5, 0.0)
    for code, colour in REFINED_COLOURS.items():
        picture[refined == code] = colour
    rows, cols = page.shape
    scale = min(1.0, longest / max(rows, cols))
    if scale < 1.0:  # nearest: a re-decided pixel stays visible, not blended away
        picture = cv2.resize(picture, (max(1, round(cols * scale)), max(1, round(rows * scale))),
                             interpolation=cv2.INTER_NEAREST)
    header = 28 if title else 0
    canvas = np.full((picture.shape[0] + header, picture.shape[1], 3), 255, np.uint8)
    canvas[header:] = picture
    if title:
        cv2.putText(canvas, title[:120], (6, 20), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 0, 0), 1,
                    cv2.LINE_AA)
    ok, data = cv2.imencode(".png", canvas)
    if not ok:  # pragma: no cover - OpenCV encodes any 8-bit BGR image
        raise RuntimeError("could not encode the picture")
    return data.tobytes()


def factor_map_overlay(page: np.ndarray, f_map: np.ndarray, *, longest: int = 1600,
                       title: str = "") -> bytes:
    """A PNG of the page in gray with its decision factor f(row, col) laid over it in
    colour (viridis, half transparent) and a labelled colour bar on the right.

    OpenCV only (no matplotlib): this is what ``docbin binarize --scope region --explain``
    writes beside each output. The picture is at most ``longest`` pixels on its long side.
    """
    import cv2

    page = np.asarray(page, np.uint8)
    f_map = np.asarray(f_map, np.float32)
    if page.shape != f_map.shape:
        raise ValueError(f"page {page.shape} and f map {f_map.shape} differ in shape")
    rows, cols = page.shape
    scale = min(1.0, longest / max(rows, cols))
    size = (max(1, round(cols * scale)), max(1, round(rows * scale)))
    small_page = cv2.resize(page, size, interpolation=cv2.INTER_AREA)
    small_f = cv2.resize(f_map, size, interpolation=cv2.INTER_AREA)
    low = float(np.floor(f_map.min() * 100) / 100)
    high = max(float(np.ceil(f_map.max() * 100) / 100), low + 0.01)

    def colours(values):
        levels = np.clip((values - low) / (high - low) * 255.0, 0, 255).astype(np.uint8)
        return cv2.applyColorMap(levels, cv2.COLORMAP_VIRIDIS)

    gray = cv2.cvtColor(small_page, cv2.COLOR_GRAY2BGR)
    picture = cv2.addWeighted(gray, 0.45, colours(small_f), 0.55, 0.0)
    height = picture.shape[0]
    bar_width, margin, label_width = 24, 12, 70
    header = 28 if title else 0
    canvas = np.full((height + header + 2 * margin, picture.shape[1] + bar_width
                      + label_width + 3 * margin, 3), 255, np.uint8)
    top = header + margin
    canvas[top:top + height, margin:margin + picture.shape[1]] = picture
    ramp = np.linspace(high, low, height, dtype=np.float32)[:, None].repeat(bar_width, 1)
    x0 = 2 * margin + picture.shape[1]
    canvas[top:top + height, x0:x0 + bar_width] = colours(ramp)
    font = cv2.FONT_HERSHEY_SIMPLEX
    for k in range(5):
        value = high - (high - low) * k / 4
        y = top + round((height - 1) * k / 4)
        cv2.line(canvas, (x0 + bar_width, y), (x0 + bar_width + 4, y), (0, 0, 0), 1)
        cv2.putText(canvas, f"{value:.3f}", (x0 + bar_width + 7, y + 5), font, 0.45,
                    (0, 0, 0), 1, cv2.LINE_AA)
    if title:
        cv2.putText(canvas, title, (margin, 20), font, 0.5, (0, 0, 0), 1, cv2.LINE_AA)
    ok, encoded = cv2.imencode(".png", canvas, [cv2.IMWRITE_PNG_COMPRESSION, 6])
    if not ok:  # pragma: no cover - OpenCV encodes any 8-bit BGR image
        raise ValueError("could not encode the factor map picture")
    return encoded.tobytes()


# --- the surface step: the surface before and after adjustment (the paper's Fig. 1 and 3) ----


def adjusted_surface_picture(page: np.ndarray, *, model=None, balance: float = 0.5,
                             page_name: str = "page",
                             resolution: int = RESOLUTION) -> tuple[bytes, dict]:
    """Three depth fields over (b, t): the logistic surface, the surface adjusted by the
    surface network for ``page`` (``logistic + Σ Δz̄_ij N_i(b) N_j(t)`` clipped to
    [0.05, 1], Δz̄ the mean offset net of the page's patches) and their difference; the
    page's point and its patches' points are marked.

    ``model``: a :class:`docbin.method.adjust.SurfaceModel` (default: the shipped one).
    Returns the PNG and a summary (``b``, ``t``, ``f``, ``f_min``/``f_max`` over the
    patches, ``max_change``).
    """
    from docbin.method import adjust
    from docbin.method import stats as _stats
    from docbin.method import surface as ms

    Figure, FigureCanvasAgg = _matplotlib()
    model = model or adjust.load_surface_model()
    grid = ms.patch_grid_shape(page.shape, model.patch_size)
    stats, _, blocks = _stats.measure_page_blocks(page, model.patch_size, grid)
    f = float(ms.logistic_surface(stats.b, stats.t))
    _, info = adjust.surface_factor(page, stats, f, model=model, balance=balance,
                                    blocks=blocks)
    axis = np.linspace(0.0, 1.0, resolution)
    base = ms.logistic_surface(axis[:, None], axis[None, :])
    offset = ms.BSplineSurface.uniform(np.asarray(info["delta_z_mean"]), model.degree)
    adjusted = np.clip(base + offset.grid(axis, axis), *ms.ADJUSTED_RANGE)
    difference = adjusted - base
    fig = Figure(figsize=(PANEL_INCHES[0] * 3, PANEL_INCHES[1]), dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, 3)
    _depth_field(axes[0], base, "logistic surface f(b, t)", "viridis", 0.0, 1.0, "f", fig,
                 _LEVELS)
    _depth_field(axes[1], adjusted, f"adjusted for {page_name} (mean Δz of "
                 f"{grid[0] * grid[1]} patches)", "viridis", 0.0, 1.0, "f", fig, _LEVELS)
    span = max(float(np.abs(difference).max()), 1e-3)
    _depth_field(axes[2], difference, "difference (adjusted − logistic)", "RdBu_r", -span,
                 span, "Δf", fig, None)
    patches_b = np.ravel(info["b_patch"])
    patches_t = np.ravel(info["t_patch"])
    for ax in axes:
        ax.plot(patches_b, patches_t, marker=".", color="white", markersize=3,
                linestyle="none", zorder=4)
    point = PagePoint(stats.b, stats.t, f, None, page_name)
    _mark(axes[0], point, f"{page_name}\nf = {f:.3f}")
    _mark(axes[1], point, f"{page_name}\nf from {info['f_min']:.3f} to {info['f_max']:.3f}")
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=DPI)
    summary = {"b": stats.b, "t": stats.t, "f": f, "f_min": info["f_min"],
               "f_max": info["f_max"], "max_change": info["max_change"]}
    return buffer.getvalue(), summary
