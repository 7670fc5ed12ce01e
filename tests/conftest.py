"""Shared fixtures: small synthetic pages, fast to make and to binarize."""

from __future__ import annotations

import importlib
import os
import shutil

import numpy as np
import pytest


def synthetic_page(rows: int = 80, cols: int = 120, seed: int = 0) -> np.ndarray:
    """A gray uint8 page: dark text strokes on a noisy, unevenly lit light background."""
    import cv2

    rng = np.random.default_rng(seed)
    light = np.linspace(175.0, 225.0, cols)[None, :] + np.linspace(0.0, 15.0, rows)[:, None]
    page = light + rng.normal(0.0, 6.0, (rows, cols))
    ink = np.zeros((rows, cols), dtype=np.uint8)
    words = ["docbin", "page", "ink", "text"]
    for line, top in enumerate(range(22, rows - 4, 26)):
        cv2.putText(ink, words[(line + seed) % len(words)], (6, top),
                    cv2.FONT_HERSHEY_SIMPLEX, 0.7, 255, 2, cv2.LINE_AA)
    page = page * (1.0 - ink / 255.0) + rng.normal(50.0, 8.0, (rows, cols)) * (ink / 255.0)
    return np.clip(np.rint(page), 0, 255).astype(np.uint8)


@pytest.fixture
def run():
    """``run(*args, input=None)``: docbin's CLI through Typer's CliRunner (stderr apart)."""
    from typer.testing import CliRunner

    from docbin import cli

    runner = CliRunner()

    def invoke(*args, input=None):
        return runner.invoke(cli.app, [str(arg) for arg in args], input=input)

    return invoke


@pytest.fixture
def make_page():
    """Factory ``make_page(rows=80, cols=120, seed=0)`` of :func:`synthetic_page`."""
    return synthetic_page


def _in_ci() -> bool:
    return bool(os.environ.get("CI"))


def require_program(name: str, package: str) -> str:
    """The path of program ``name``; skip the module where it is missing, except in CI
    (``CI`` set), where .ci/run installs it and its absence is a failure."""
    path = shutil.which(name)
    if path is None:
        message = f"{name} is not installed (Debian package {package})"
        if _in_ci():
            pytest.fail(f"{message}; .ci/run should have installed it", pytrace=False)
        pytest.skip(message, allow_module_level=True)
    return path


def require_module(name: str, extra: str):
    """Module ``name``; skip the module where it is missing, except in CI, where the dev
    extra installs it."""
    if _in_ci():
        return importlib.import_module(name)
    return pytest.importorskip(name, reason=f"{name} is not installed (pip install "
                                            f"'docbin[{extra}]')")


@pytest.fixture(params=["compiled", "opencv"])
def kernel_form(request, monkeypatch):
    """Run a test with docbin's compiled kernels (docbin._kernels) and with the OpenCV/NumPy
    form that docbin uses where they were not built."""
    from docbin.method import kernels

    compiled = kernels.compiled
    if request.param == "compiled" and compiled is None:
        pytest.skip("docbin._kernels is not built here")
    monkeypatch.setattr(kernels, "compiled", compiled if request.param == "compiled" else None)
    return request.param
