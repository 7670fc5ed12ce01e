"""Decision surfaces f(b, t) over (contour intensity, ink intensity) ∈ [0, 1]².

The classical method's fixed "logistic" surface (METHOD.md §1.5), its B-spline
representation (METHOD.md §2), and the per-patch surface of the hybrid's ``surface`` step
(the logistic plus a B-spline offset whose control net a network moves patch by patch,
blended bilinearly between patch centres; see :func:`patch_factors` and
:class:`PatchFieldRows`). A tensor-product B-spline surface is

    S(b, t) = Σ_i Σ_j z_ij · N_i(b) · N_j(t)

on clamped uniform knots with an n × n control net (default n = 8, degree 3), fitted to
the logistic surface by least squares, adjustable by a net of offsets Δz, and stored as
JSON. Orientation everywhere: ``z[i, j]`` multiplies ``N_i(b) · N_j(t)``, so rows of ``z``
run along b (contour intensity) and columns along t (ink intensity).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

_MAX_EXPONENT = 700.0  # exp(709) is the largest finite double

#: Bounds of an adjusted surface S' (METHOD.md §2).
ADJUSTED_RANGE = (0.05, 1.0)
#: Default size of the control net.
DEFAULT_N = 8
#: Default degree (cubic).
DEFAULT_DEGREE = 3
#: Kinds of base a B-spline surface can be added to.
BASES = ("none", "logistic")

# Points evaluated per block: bounds the temporary arrays to a few tens of MB.
_BLOCK = 1 << 20


def logistic_surface(b, t):
    """The classical decision factor f(b, t).

    With ``m = max(t, 1 − b, 1/255)``::

        f(b, t) = m + (1 − m) / (1 + m² · exp(m + (1/2 − t) / (m · t)))

    ``b`` = B_I/255 (contour intensity), ``t`` = T_I/255 (ink intensity); both broadcast.
    f lies in (m, 1]; where the exponent overflows f tends to m. For t = 0 the surface is
    singular; t is clamped to 1/255 (T_I >= 1 by construction).
    Check value: T_I = 63, B_I = 114 gives f ≈ 0.655.
    """
    b = np.asarray(b, dtype=np.float64)
    t = np.maximum(np.asarray(t, dtype=np.float64), 1.0 / 255.0)
    m = np.maximum(np.maximum(t, 1.0 - b), 1.0 / 255.0)
    exponent = m + (0.5 - t) / (m * t)
    big = exponent > _MAX_EXPONENT
    with np.errstate(over="ignore"):
        denom = 1.0 + m * m * np.exp(np.minimum(exponent, _MAX_EXPONENT))
    f = np.where(big, m, m + (1.0 - m) / denom)
    return f if f.ndim else float(f)


# --- B-spline bases -----------------------------------------------------------------------


def clamped_uniform_knots(n: int = DEFAULT_N, degree: int = DEFAULT_DEGREE) -> np.ndarray:
    """Clamped uniform knot vector on [0, 1] for ``n`` control points.

    ``degree + 1`` zeros, the ``n − degree − 1`` uniform interior knots
    ``k / (n − degree)``, ``degree + 1`` ones: ``n + degree + 1`` knots in all.
    """
    if degree < 1:
        raise ValueError(f"degree must be >= 1, got {degree}")
    if n < degree + 1:
        raise ValueError(f"a degree-{degree} B-spline needs n >= {degree + 1} control points, "
                         f"got n = {n}")
    inner = np.arange(n - degree + 1) / (n - degree)
    return np.concatenate([np.zeros(degree), inner, np.ones(degree)])


def basis_functions(x, knots: np.ndarray, degree: int) -> tuple[np.ndarray, np.ndarray]:
    """The ``degree + 1`` non-zero B-spline basis values at each point (vectorised de Boor).

    Cox–de Boor recursion in the triangular form of Piegl & Tiller, *The NURBS Book*,
    algorithm A2.2, run on whole arrays. Points are clamped to the knot domain
    ``[knots[degree], knots[n]]``; the right end belongs to the last non-empty span.

    Returns
    -------
    first : ndarray of intp, shape (P,)
        Index of the first non-zero basis function: ``N_first … N_first+degree``.
    values : ndarray, shape (P, degree + 1)
        ``values[p, a] = N_{first[p] + a}(x[p])``; each row sums to 1.
    """
    knots = np.asarray(knots, dtype=np.float64)
    n = knots.size - degree - 1
    x = np.clip(np.asarray(x, dtype=np.float64).ravel(), knots[degree], knots[n])
    span = np.searchsorted(knots, x, side="right") - 1
    span = np.clip(span, degree, n - 1)
    # a knot repeated inside the domain leaves empty spans: step back to a non-empty one
    while True:
        empty = knots[span + 1] <= knots[span]
        if not empty.any():
            break
        span = np.where(empty, span - 1, span)
    # rows of `values` are contiguous per basis function; returned transposed (a view)
    values = np.empty((degree + 1, x.size))
    values[0] = 1.0
    left = np.empty((degree + 1, x.size))
    right = np.empty((degree + 1, x.size))
    temp = np.empty(x.size)
    for j in range(1, degree + 1):
        np.subtract(x, knots[span + 1 - j], out=left[j])
        np.subtract(knots[span + j], x, out=right[j])
        saved = np.zeros(x.size)
        for r in range(j):
            np.add(right[r + 1], left[j - r], out=temp)
            np.divide(values[r], temp, out=temp)
            np.multiply(right[r + 1], temp, out=values[r])
            values[r] += saved
            np.multiply(left[j - r], temp, out=saved)
        values[j] = saved
    return span - degree, values.T


def design_matrix(x, knots: np.ndarray, degree: int):
    """Sparse (CSR) collocation matrix ``B[p, i] = N_i(x[p])`` of shape (P, n).

    ``scipy.interpolate.BSpline.design_matrix`` on the points clamped to the knot domain.
    """
    from scipy.interpolate import BSpline

    knots = np.asarray(knots, dtype=np.float64)
    n = knots.size - degree - 1
    x = np.clip(np.asarray(x, dtype=np.float64).ravel(), knots[degree], knots[n])
    return BSpline.design_matrix(x, knots, degree).tocsr()


# --- the surface ------------------------------------------------------------------------


def _as_net(z, name: str = "z") -> np.ndarray:
    z = np.array(z, dtype=np.float64)  # a private copy
    if z.ndim != 2 or z.shape[0] != z.shape[1]:
        raise ValueError(f"{name} must be an n × n control net, got shape {z.shape}")
    if not np.isfinite(z).all():
        raise ValueError(f"{name} contains non-finite values")
    z.flags.writeable = False
    return z


@dataclass(frozen=True, eq=False)
class BSplineSurface:
    """A tensor-product B-spline decision surface over (b, t) ∈ [0, 1]².

    ::

        S(b, t) = base(b, t) + Σ_i Σ_j z_ij · N_i(b) · N_j(t),   clipped to ``clip``

    ``base`` is ``"none"`` (base = 0: a plain B-spline surface, METHOD.md §2) or
    ``"logistic"`` (base = :func:`logistic_surface`: the B-spline carries only a residual
    around the exact classical surface; the hybrid's ``surface`` step uses this form). ``clip`` is ``None`` or ``(lower, upper)``; an adjusted
    surface S' is clipped to :data:`ADJUSTED_RANGE`. Points outside [0, 1]² are clamped
    to the square.

    Attributes
    ----------
    z : ndarray, shape (n, n)
        Control-net heights; ``z[i, j]`` multiplies ``N_i(b) N_j(t)``.
    knots : ndarray, shape (n + degree + 1,)
        The knot vector of both axes (domain [0, 1]).
    degree : int
        Polynomial degree of the bases (3: cubic).
    base : {"none", "logistic"}
    clip : tuple of float or None
    """

    z: np.ndarray
    knots: np.ndarray
    degree: int = DEFAULT_DEGREE
    base: str = "none"
    clip: tuple[float, float] | None = None

    def __post_init__(self) -> None:
        z = _as_net(self.z)
        knots = np.array(self.knots, dtype=np.float64).ravel()
        degree = int(self.degree)
        n = z.shape[0]
        if degree < 1:
            raise ValueError(f"degree must be >= 1, got {degree}")
        if knots.size != n + degree + 1:
            raise ValueError(f"an n = {n}, degree-{degree} surface needs {n + degree + 1} knots, "
                             f"got {knots.size}")
        if not np.isfinite(knots).all() or np.any(np.diff(knots) < 0):
            raise ValueError("knots must be finite and non-decreasing")
        if knots[degree] != 0.0 or knots[n] != 1.0:
            raise ValueError(f"the knot domain must be [0, 1], got "
                             f"[{knots[degree]}, {knots[n]}]")
        if self.base not in BASES:
            raise ValueError(f"base must be one of {', '.join(BASES)}, got {self.base!r}")
        clip = self.clip
        if clip is not None:
            clip = (float(clip[0]), float(clip[1]))
            if not clip[0] <= clip[1]:
                raise ValueError(f"clip must be (lower, upper) with lower <= upper, got {clip}")
        knots.flags.writeable = False
        object.__setattr__(self, "z", z)
        object.__setattr__(self, "knots", knots)
        object.__setattr__(self, "degree", degree)
        object.__setattr__(self, "clip", clip)

    @classmethod
    def uniform(cls, z, degree: int = DEFAULT_DEGREE, **kwargs) -> BSplineSurface:
        """A surface with clamped uniform knots for the net ``z`` (n × n)."""
        z = _as_net(z)
        return cls(z, clamped_uniform_knots(z.shape[0], degree), degree, **kwargs)

    @property
    def n(self) -> int:
        """Control points per axis."""
        return self.z.shape[0]

    def _finish(self, value: np.ndarray, b, t) -> np.ndarray:
        if self.base == "logistic":
            value = value + logistic_surface(np.clip(b, 0.0, 1.0), np.clip(t, 0.0, 1.0))
        if self.clip is not None:
            value = np.clip(value, self.clip[0], self.clip[1])
        return value

    def spline(self, b, t) -> np.ndarray:
        """The B-spline part ``Σ z_ij N_i(b) N_j(t)`` alone (no base, no clip); broadcasts.

        Evaluated by blocks with :func:`basis_functions`: per point, the
        ``(degree + 1)²`` non-zero products of the two bases times the matching heights,
        so time and memory grow linearly with the number of points.
        """
        b, t = np.broadcast_arrays(np.asarray(b, np.float64), np.asarray(t, np.float64))
        shape = b.shape
        b, t = b.ravel(), t.ravel()
        out = np.empty(b.size)
        flat = self.z.ravel()
        n, k = self.n, self.degree
        for start in range(0, b.size, _BLOCK):
            stop = min(start + _BLOCK, b.size)
            ib, nb = basis_functions(b[start:stop], self.knots, k)
            it, nt = basis_functions(t[start:stop], self.knots, k)
            corner = ib * n + it
            acc = np.zeros(stop - start)
            for a in range(k + 1):
                row = np.zeros(stop - start)
                for c in range(k + 1):
                    row += np.take(flat, corner + (a * n + c)) * nt[:, c]
                acc += row * nb[:, a]
            out[start:stop] = acc
        return out.reshape(shape)

    def __call__(self, b, t):
        """S(b, t) for arrays (broadcast) or scalars (returns a float)."""
        scalar = np.ndim(b) == 0 and np.ndim(t) == 0
        value = self._finish(self.spline(b, t), b, t)
        return float(value) if scalar else value

    def grid(self, b_values, t_values) -> np.ndarray:
        """S on the grid ``b_values × t_values``: array of shape (len(b), len(t)).

        ``B_b · z · B_tᵀ`` with the sparse design matrices of the two axes.
        """
        b_values = np.asarray(b_values, np.float64).ravel()
        t_values = np.asarray(t_values, np.float64).ravel()
        nb = design_matrix(b_values, self.knots, self.degree)
        nt = design_matrix(t_values, self.knots, self.degree)
        value = np.asarray(nb @ (nt @ self.z.T).T)
        return self._finish(value, b_values[:, None], t_values[None, :])

    def basis_weights(self, b: float, t: float) -> np.ndarray:
        """The n × n weights ``N_i(b) N_j(t)``: S(b, t) = base + Σ weights · z."""
        ib, nb = basis_functions([b], self.knots, self.degree)
        it, nt = basis_functions([t], self.knots, self.degree)
        weights = np.zeros((self.n, self.n))
        k = self.degree
        weights[ib[0]:ib[0] + k + 1, it[0]:it[0] + k + 1] = np.outer(nb[0], nt[0])
        return weights

    def adjusted(self, delta_z, clip: tuple[float, float] | None = ADJUSTED_RANGE
                 ) -> BSplineSurface:
        """S'(b, t) = S(b, t) + Σ Δz_ij N_i(b) N_j(t), clipped to ``clip`` (METHOD.md §2).

        Same knots, degree and base; ``delta_z`` must have the net's shape.
        """
        delta_z = _as_net(delta_z, "delta_z")
        if delta_z.shape != self.z.shape:
            raise ValueError(f"delta_z has shape {delta_z.shape}, the net is {self.z.shape}")
        return BSplineSurface(self.z + delta_z, self.knots, self.degree, self.base, clip)

    # --- persistence -----------------------------------------------------------------------

    def to_dict(self) -> dict:
        """Plain-Python form: ``degree``, ``n``, ``knots``, ``z`` (rows along b), ``base``,
        ``clip``."""
        return {"degree": self.degree, "n": self.n, "knots": self.knots.tolist(),
                "z": self.z.tolist(), "base": self.base,
                "clip": None if self.clip is None else list(self.clip)}

    @classmethod
    def from_dict(cls, data: dict) -> BSplineSurface:
        """Inverse of :meth:`to_dict`; ``base`` and ``clip`` are optional."""
        try:
            z = _as_net(data["z"])
            if int(data["n"]) != z.shape[0]:
                raise ValueError(f"n = {data['n']} but z is {z.shape[0]} × {z.shape[1]}")
            clip = data.get("clip")
            return cls(z, data["knots"], int(data["degree"]), data.get("base", "none"),
                       None if clip is None else tuple(clip))
        except KeyError as error:
            raise ValueError(f"a surface needs the key {error.args[0]!r}") from None

    def to_json(self, indent: int | None = 1) -> str:
        """JSON text of :meth:`to_dict` (floats round-trip exactly)."""
        return json.dumps(self.to_dict(), indent=indent)

    @classmethod
    def from_json(cls, text: str) -> BSplineSurface:
        return cls.from_dict(json.loads(text))

    def save(self, path) -> None:
        Path(path).write_text(self.to_json() + "\n", encoding="utf-8")

    @classmethod
    def load(cls, path) -> BSplineSurface:
        return cls.from_json(Path(path).read_text(encoding="utf-8"))


# --- the least-squares fit of the logistic surface ------------------------------------------


def _grid_points(grid) -> np.ndarray:
    if np.ndim(grid) == 0:
        if int(grid) < 2:
            raise ValueError(f"grid must have >= 2 points per axis, got {grid}")
        return np.linspace(0.0, 1.0, int(grid))
    points = np.asarray(grid, np.float64).ravel()
    if points.size < 2 or points.min() < 0 or points.max() > 1:
        raise ValueError("grid points must lie in [0, 1], at least 2 of them")
    return points


def fit_logistic(n: int = DEFAULT_N, grid=201, degree: int = DEFAULT_DEGREE) -> BSplineSurface:
    """Least-squares B-spline fit of :func:`logistic_surface` on a tensor grid.

    Minimises ``Σ_p Σ_q (S(g_p, g_q) − f(g_p, g_q))²`` over the grid ``g × g`` (``grid``
    points per axis, uniform on [0, 1], or an explicit 1-D array of coordinates). The
    collocation matrix of a tensor grid is ``B ⊗ B``, so the least-squares net is
    ``z = B⁺ F (B⁺)ᵀ`` with ``B⁺`` the pseudo-inverse of the one-axis matrix ``B``.

    The logistic surface has a crease along ``b + t = 1`` (``m = max(t, 1 − b)`` switches
    branch there), which a tensor-product spline cannot follow: see :func:`fit_error` for
    the error; this is why the ``surface`` step keeps the exact logistic as its base and
    moves only a B-spline offset.
    """
    points = _grid_points(grid)
    knots = clamped_uniform_knots(n, degree)
    basis = design_matrix(points, knots, degree).toarray()
    pinv = np.linalg.pinv(basis)
    values = logistic_surface(points[:, None], points[None, :])
    return BSplineSurface(pinv @ values @ pinv.T, knots, degree)


def fit_error(surface: BSplineSurface, grid=401, t_min: float = 0.05) -> dict:
    """Error of a surface against the logistic on a tensor grid.

    Returns ``max_error`` (all of [0, 1]²), ``max_error_away`` (points with t >= ``t_min``,
    away from the singular corner t → 0), ``rms_error``, ``area_above_0.01`` (fraction of
    grid points with error > 0.01) and ``worst_point`` ``(b, t)`` of ``max_error_away``.
    """
    points = _grid_points(grid)
    err = np.abs(surface.grid(points, points) - logistic_surface(points[:, None], points[None, :]))
    away = points >= t_min
    away_err = err[:, away]
    i, j = np.unravel_index(int(np.argmax(away_err)), away_err.shape)
    return {"max_error": float(err.max()), "max_error_away": float(away_err.max()),
            "rms_error": float(np.sqrt(np.mean(err ** 2))),
            "area_above_0.01": float(np.mean(err > 0.01)),
            "worst_point": (float(points[i]), float(points[away][j]))}


# --- the per-patch surface of the hybrid's surface step --------------------------------------

#: Side of a patch of the surface step, px (METHOD.md §3: 512 × 512 patches).
PATCH_SIZE = 512
#: Contour samples (edge pixels) that weigh as much as the page's B_I in a patch's own B:
#: one contour across the patch (one edge pixel per column after non-maximum suppression).
CONTOUR_PRIOR = PATCH_SIZE
#: Ink samples that weigh as much as the page's T_I: 3 per edge pixel along a step edge.
INK_PRIOR = 3 * PATCH_SIZE


def patch_grid_shape(shape: tuple[int, int], patch_size: int = PATCH_SIZE) -> tuple[int, int]:
    """Patches per axis, ``(ceil(rows / P), ceil(cols / P))``; patch (i, j) covers rows
    ``[P·i, min(P·i + P, rows))`` and the matching columns."""
    rows, cols = int(shape[0]), int(shape[1])
    return -(-rows // patch_size), -(-cols // patch_size)


def offset_weights(b, t, n: int = DEFAULT_N, degree: int = DEFAULT_DEGREE) -> np.ndarray:
    """Tensor-product basis weights ``W[p, i, j] = N_i(b_p) · N_j(t_p)``, shape (P, n, n).

    The B-spline offset at point p of a net Δz is ``Σ_ij W[p, i, j] · Δz_ij`` (clamped
    uniform knots, :func:`basis_functions`; points clamped to [0, 1]²).
    """
    knots = clamped_uniform_knots(n, degree)
    b = np.asarray(b, np.float64).ravel()
    t = np.asarray(t, np.float64).ravel()
    if b.shape != t.shape:
        raise ValueError(f"b and t must have the same size, got {b.size} and {t.size}")
    ib, nb = basis_functions(b, knots, degree)
    it, nt = basis_functions(t, knots, degree)
    weights = np.zeros((b.size, n, n))
    index = np.arange(b.size)
    for a in range(degree + 1):
        for c in range(degree + 1):
            weights[index, ib + a, it + c] = nb[:, a] * nt[:, c]
    return weights


def patch_statistics(page_b: float, page_t: float, contour_counts=None, ink_counts=None):
    """Each patch's own point (b, t) on the surface, pulled toward the page's point.

    ``contour_counts``/``ink_counts`` are per-patch histograms of the B_I and T_I samples,
    shape (patch_rows, patch_cols, 256) (:class:`docbin.method.stats.BlockHistograms` with
    blocks of :data:`PATCH_SIZE`). A patch's B is the median of its contour samples, its
    T that of its ink samples (``T >= 1``), both shrunk toward the page value as in
    :mod:`docbin.method.regional`::

        b_patch = b_page + w_B · (B/255 − b_page),   w_B = n_B / (n_B + CONTOUR_PRIOR)
        t_patch = t_page + w_T · (T/255 − t_page),   w_T = n_T / (n_T + INK_PRIOR)

    so a patch without strong edges sits exactly at the page's point, and one whose edges
    are a single contour is halfway. Returns ``(b_patch, t_patch, edge_weight)`` arrays of
    shape (patch_rows, patch_cols), ``edge_weight = w_B``. With no histograms, every patch
    is at the page's point: returns three 1 × 1 arrays ``(b_page, t_page, 0)``.
    """
    if contour_counts is None or ink_counts is None:
        return (np.full((1, 1), float(page_b)), np.full((1, 1), float(page_t)),
                np.zeros((1, 1)))
    from docbin.method.regional import histogram_medians, shrink_to_page

    contour_median, n_contour = histogram_medians(np.asarray(contour_counts))
    ink_median, n_ink = histogram_medians(np.asarray(ink_counts))
    ink_median = np.maximum(ink_median, 1.0)
    b = shrink_to_page(contour_median / 255.0, n_contour, float(page_b), CONTOUR_PRIOR)
    t = shrink_to_page(ink_median / 255.0, n_ink, float(page_t), INK_PRIOR)
    n_contour = np.asarray(n_contour, np.float64)
    return b, t, n_contour / (n_contour + CONTOUR_PRIOR)


def patch_factors(page_b: float, page_t: float, delta_z: np.ndarray, b_patch, t_patch,
                  degree: int = DEFAULT_DEGREE) -> np.ndarray:
    """The decision factor of every patch (float64, shape of ``b_patch``).

    ::

        f_patch = clip(logistic(b_page, t_page) + Σ_ij Δz_ij · N_i(b_patch) · N_j(t_patch),
                       0.05, 1)

    The exact classical factor of the page plus the patch's B-spline offset read at the
    patch's own point (METHOD.md §2, :data:`ADJUSTED_RANGE`). ``delta_z`` has shape
    (patches, n, n) in the row-major order of ``b_patch``.
    """
    b_patch = np.asarray(b_patch, np.float64)
    t_patch = np.asarray(t_patch, np.float64)
    delta_z = np.asarray(delta_z, np.float64)
    if delta_z.ndim != 3 or delta_z.shape[0] != b_patch.size or \
            delta_z.shape[1] != delta_z.shape[2]:
        raise ValueError(f"delta_z must be (patches = {b_patch.size}, n, n), "
                         f"got {delta_z.shape}")
    weights = offset_weights(b_patch, t_patch, delta_z.shape[1], degree)
    offset = np.einsum("pij,pij->p", weights, delta_z)
    base = logistic_surface(float(page_b), float(page_t))
    f = np.clip(base + offset, ADJUSTED_RANGE[0], ADJUSTED_RANGE[1])
    return f.reshape(b_patch.shape)


def patch_column_rows(values: np.ndarray, cols: int, patch_size: int = PATCH_SIZE) -> np.ndarray:
    """Each patch row's factors interpolated along the columns: float32 (patch_rows, cols).

    Column x reads the position ``u = (x + 0.5)/P − 0.5`` of the patch grid (value j at the
    patch centre ``P·j + (P − 1)/2``), clamped to ``[0, patch_cols − 1]``:
    ``(1 − (u − ⌊u⌋))·v[⌊u⌋] + (u − ⌊u⌋)·v[⌊u⌋ + 1]``.
    """
    values = np.asarray(values, np.float64)
    u = np.clip((np.arange(cols) + 0.5) / patch_size - 0.5, 0.0, values.shape[1] - 1)
    j0 = np.floor(u).astype(np.intp)
    j1 = np.minimum(j0 + 1, values.shape[1] - 1)
    w = u - j0
    return (values[:, j0] * (1.0 - w) + values[:, j1] * w).astype(np.float32)


def upsample_patch_rows(values: np.ndarray, shape: tuple[int, int], r0: int, r1: int,
                        patch_size: int = PATCH_SIZE, columns: np.ndarray | None = None
                        ) -> np.ndarray:
    """Rows [r0, r1) of the per-pixel factor map, bilinear between patch centres.

    The value of patch (i, j) sits at its centre ``(P·i + (P − 1)/2, P·j + (P − 1)/2)``;
    between centres the map is bilinear, beyond the outermost centres it keeps the border
    value (continuous everywhere: no seams at patch borders). Separable: the patch rows
    interpolated along the columns (:func:`patch_column_rows`, or ``columns`` when given),
    then row r reads ``u = (r + 0.5)/P − 0.5`` clamped to ``[0, patch_rows − 1]``::

        f(r, ·) = C[i] + (u − i)·(C[i + 1] − C[i]),   i = ⌊u⌋

    Each row depends on r only (not on which rows are asked for); float32, shape
    (r1 − r0, cols). The rows between the same two patch centres are one outer product.
    """
    rows, cols = int(shape[0]), int(shape[1])
    if not 0 <= r0 < r1 <= rows:
        raise ValueError(f"rows [{r0}, {r1}) are not inside a page of {rows} rows")
    if columns is None:
        columns = patch_column_rows(values, cols, patch_size)
    count = columns.shape[0]
    u = np.clip((np.arange(r0, r1) + 0.5) / patch_size - 0.5, 0.0, count - 1)
    first = np.minimum(np.floor(u).astype(np.intp), max(count - 2, 0))
    weight = (u - first).astype(np.float32)
    out = np.empty((r1 - r0, cols), np.float32)
    if count == 1:
        out[:] = columns[0]
        return out
    # runs of rows between the same two centres
    breaks = np.flatnonzero(np.diff(first)) + 1
    for a, b in zip(np.r_[0, breaks], np.r_[breaks, r1 - r0]):
        i = first[a]
        step = columns[i + 1] - columns[i]
        np.multiply(weight[a:b, None], step[None, :], out=out[a:b])
        out[a:b] += columns[i]
    return out


class PatchFieldRows:
    """``rows(r0, r1)``: rows of the blended per-pixel factor map of the patch factors,
    for :func:`docbin.method.decision.binary_page` (the page's map is never held: extra
    memory is the patch rows interpolated along the columns, 4 bytes × patch rows × cols,
    and one band of float32 rows while the decision runs)."""

    def __init__(self, values: np.ndarray, shape: tuple[int, int],
                 patch_size: int = PATCH_SIZE):
        self.values = np.asarray(values, np.float32)
        self.shape = (int(shape[0]), int(shape[1]))
        self.patch_size = int(patch_size)
        if self.values.shape != patch_grid_shape(self.shape, self.patch_size):
            raise ValueError(f"a {self.shape} page has {patch_grid_shape(self.shape, patch_size)}"
                             f" patches, got factors of shape {self.values.shape}")

        self.columns = patch_column_rows(self.values, self.shape[1], self.patch_size)

    def __call__(self, r0: int, r1: int) -> np.ndarray:
        return upsample_patch_rows(self.values, self.shape, r0, r1, self.patch_size,
                                   self.columns)

    def whole(self) -> np.ndarray:
        """The whole map (for tests and small pictures only)."""
        return self(0, self.shape[0])
