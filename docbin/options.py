"""The one place where docbin's defaults live.

The CLI flags carry the same names as these fields.
"""

from __future__ import annotations

from dataclasses import dataclass

from docbin.errors import UsageError

#: Binarization methods: the classical rule (METHOD.md §1), and the hybrid, whose learned
#: steps work around it.
METHODS = ("classical", "hybrid")
#: Where f is read: one f per page, or f(row, col) from tiles (classical only).
SCOPES = ("auto", "page", "region")
#: The hybrid's learned steps, in the order they run (``--steps``): ``surface`` adjusts the
#: decision surface per 512 px patch, ``refine`` re-decides the pixels near the threshold,
#: ``clean`` drops whole ink components that are not text.
STEPS = ("surface", "refine", "clean")
#: What the refining network may change: only add text, or decide its band both ways.
DIRECTIONS = ("add", "both")
#: What the refinement's added text may do to the classical strokes (docbin.method.refine):
#: "keep" their shape (fill notches and holes, join broken strokes) or move their borders
#: "free"ly.
SHAPES = ("free", "keep")
#: What ``scope="auto"`` means for each method. Classical: the page's statistics (regional
#: statistics lose 0.2 FM over the development pages); hybrid: its network refines the
#: decision of the page's f (the only scope it has).
AUTO_SCOPE = {"classical": "page", "hybrid": "page"}


@dataclass(frozen=True)
class ClassicalConstants:
    """Fixed constants of the classical method (METHOD.md §1). Not tuning knobs."""

    sigma: float = 1.6  # Gaussian smoothing before the Sobel gradients, px
    gamma: float = 0.5  # neighbour acceptance exponent for the ink intensity
    diagonal_factor: float = 2.0  # C: window radius per component diagonal
    max_radius_fraction: float = 0.5  # rho: cap of K as a fraction of min(rows, cols)
    min_component_pixels: int = 5


CONSTANTS = ClassicalConstants()


@dataclass(frozen=True)
class Options:
    """Options shared by :func:`docbin.binarize` and the CLI, validated in one place."""

    method: str = "classical"  # METHOD.md §1, no model; "hybrid": the shipped model (opt-in)
    balance: float = 0.5  # hybrid: toward 1 more refined pixels become text, toward 0 fewer
    scope: str = "auto"  # "page": one f per page; "region": f(row, col); "auto": AUTO_SCOPE
    model: str | None = None
    steps: tuple[str, ...] | None = None  # hybrid: its learned steps (None: all of STEPS)
    threads: int = 0  # threads for the decision bands; 0 = one per core
    max_megapixels: float = 300.0

    @property
    def resolved_scope(self) -> str:
        """"page" or "region": ``scope``, with "auto" resolved for the method."""
        return AUTO_SCOPE[self.method] if self.scope == "auto" else self.scope

    @property
    def resolved_steps(self) -> tuple[str, ...]:
        """The learned steps that run: none for the classical method; for the hybrid,
        ``steps`` in the order of :data:`STEPS` (all of them when None)."""
        if self.method != "hybrid":
            return ()
        chosen = STEPS if self.steps is None else self.steps
        return tuple(step for step in STEPS if step in chosen)

    def __post_init__(self) -> None:
        if isinstance(self.steps, str):
            object.__setattr__(self, "steps", tuple(
                step.strip() for step in self.steps.split(",") if step.strip()))
        elif self.steps is not None:
            object.__setattr__(self, "steps", tuple(self.steps))
        try:
            self._check()
        except (TypeError, ValueError) as error:
            raise UsageError(str(error)) from None

    def _check(self) -> None:
        if self.method not in METHODS:
            raise ValueError(f"method must be one of {', '.join(METHODS)}, got {self.method!r}")
        if not 0.0 <= float(self.balance) <= 1.0:
            raise ValueError(f"balance must lie in [0, 1], got {self.balance!r}")
        if self.scope not in SCOPES:
            raise ValueError(f"scope must be one of {', '.join(SCOPES)}, got {self.scope!r}")
        if self.method == "hybrid" and self.scope == "region":
            raise ValueError("scope 'region' is a form of the classical method; the hybrid "
                             "refines the page's decision (scope page)")
        if self.threads < 0:
            raise ValueError(f"threads must be >= 0, got {self.threads!r}")
        if not self.max_megapixels > 0 or self.max_megapixels == float("inf"):
            raise ValueError(f"max_megapixels must be a number > 0, got {self.max_megapixels!r}")
        if self.steps is not None:
            unknown = [step for step in self.steps if step not in STEPS]
            if unknown:
                raise ValueError(f"unknown step {', '.join(unknown)}; the hybrid's steps are "
                                 f"{', '.join(STEPS)}")
            if self.method != "hybrid":
                raise ValueError("steps are the hybrid's learned steps; pass method "
                                 "'hybrid' with them")
