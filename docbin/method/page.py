"""The classical method's page, assembled once: statistics → factor f → local statistics.

:func:`classical_page` is what the pipeline, the training code and the benchmarks all
start from, so that they measure a page the same way (METHOD.md §1: T_I, B_I, K from the
page, ``f = S(B_I/255, T_I/255)`` from the logistic surface, and ``L_m``, ``L_a`` over the
(2K+1)² window when asked for).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from docbin.method.decision import LocalStats, ink_mask, local_stats
from docbin.method.stats import PageStats, measure_page
from docbin.method.surface import logistic_surface

__all__ = ["ClassicalPage", "classical_page"]


@dataclass(frozen=True)
class ClassicalPage:
    """A gray page with what the classical method measures on it.

    Attributes
    ----------
    gray : ndarray
        The 2-D uint8 page.
    stats : PageStats
        T_I, B_I, K (and e*, the number of strong-edge pixels).
    factor : float
        f = S(b, t), the logistic decision surface at the page's (B_I/255, T_I/255).
    local : LocalStats or None
        L_m and L_a over the (2K+1)² window (whole-page arrays), when asked for.
    """

    gray: np.ndarray
    stats: PageStats
    factor: float
    local: LocalStats | None = None

    @property
    def ink_intensity(self) -> float:
        return self.stats.ink_intensity

    @property
    def contour_intensity(self) -> float:
        return self.stats.contour_intensity

    @property
    def window_radius(self) -> int:
        return self.stats.window_radius

    def ink(self) -> np.ndarray:
        """The classical decision ``I < f·L_m and I < L_a`` (bool, True on text); needs
        ``local``."""
        if self.local is None:
            raise ValueError("the page's local statistics were not computed: "
                             "classical_page(gray, local=True)")
        return ink_mask(self.local, self.factor)


def classical_page(gray: np.ndarray, *, local: bool = False,
                   threads: int | None = None) -> ClassicalPage:
    """Measure a gray page with the classical method (METHOD.md §1, items 1–5).

    Parameters
    ----------
    gray : ndarray
        2-D uint8 gray page.
    local : bool
        Also compute the whole-page L_m and L_a (5 bytes per pixel; the pipeline's banded
        decision does not need them).
    threads : int, optional
        Threads of the statistics step (default: one per core).

    Examples
    --------
    >>> import numpy as np
    >>> from docbin.method.page import classical_page
    >>> page = np.full((64, 64), 200, np.uint8); page[20:44, 30:34] = 40
    >>> measured = classical_page(page)
    >>> measured.window_radius >= 1 and 0 < measured.factor <= 1
    True
    """
    stats = measure_page(gray, threads=threads)[0]
    factor = float(logistic_surface(stats.b, stats.t))
    local_values = local_stats(gray, stats.window_radius) if local else None
    return ClassicalPage(gray, stats, factor, local_values)
