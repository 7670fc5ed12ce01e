"""The decision surface f(b, t) over (contour intensity, ink intensity) ∈ [0, 1]²: the
classical method's fixed "logistic" surface (METHOD.md §1.5)."""

from __future__ import annotations

import numpy as np

_MAX_EXPONENT = 700.0  # exp(709) is the largest finite double


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
