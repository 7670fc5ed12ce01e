"""The logistic decision surface (METHOD.md §1.5) and its picture (docbin surface)."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from docbin.method.surface import logistic_surface


def test_logistic_check_value():
    assert logistic_surface(114 / 255, 63 / 255) == pytest.approx(0.655, abs=5e-4)


def test_logistic_by_hand_and_its_range():
    b, t = 0.4, 0.3
    m = max(t, 1 - b)
    expected = m + (1 - m) / (1 + m * m * np.exp(m + (0.5 - t) / (m * t)))
    assert logistic_surface(b, t) == pytest.approx(expected, rel=1e-12)
    grid = np.linspace(0, 1, 41)
    f = logistic_surface(grid[:, None], grid[None, :])
    m = np.maximum(np.maximum(np.maximum(grid[None, :], 1 / 255), 1 - grid[:, None]), 1 / 255)
    assert np.all(f >= m - 1e-12) and np.all(f <= 1.0) and np.isfinite(f).all()


# --- the picture (docbin surface) -------------------------------------------------------


def png_size(path):
    from PIL import Image

    with Image.open(path) as image:
        assert image.format == "PNG"
        return image.size


def test_surface_command_draws_the_logistic(tmp_path):
    pytest.importorskip("matplotlib")
    from typer.testing import CliRunner

    from docbin.cli import app
    from docbin.plotting import figure_size

    out = tmp_path / "s.png"
    result = CliRunner().invoke(app, ["surface", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert png_size(out) == figure_size(1) == (672, 552)
    # an existing picture is kept unless --overwrite
    result = CliRunner().invoke(app, ["surface", "--out", str(out)])
    assert result.exit_code == 4 and "--overwrite" in result.output
    assert CliRunner().invoke(app, ["surface", "--out", str(out), "--overwrite"]).exit_code == 0


def test_surface_command_marks_a_page(tmp_path, make_page):
    pytest.importorskip("matplotlib")
    from PIL import Image
    from typer.testing import CliRunner

    from docbin.cli import app
    from docbin.method.stats import page_stats
    from docbin.plotting import figure_size

    page = make_page(200, 300)
    Image.fromarray(page).save(tmp_path / "page.png")
    out = tmp_path / "s.png"
    result = CliRunner().invoke(app, ["surface", "--page", str(tmp_path / "page.png"),
                                      "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert png_size(out) == figure_size(1)
    stats = page_stats(page)
    assert f"b = {stats.b:.3f}, t = {stats.t:.3f}" in result.output
    assert f"f = {logistic_surface(stats.b, stats.t):.3f}" in result.output


def test_picture_without_matplotlib(monkeypatch):
    from docbin.errors import ExitCode, MissingDependencyError
    from docbin.plotting import surface_picture

    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib -> ImportError
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    monkeypatch.setitem(sys.modules, "matplotlib.backends.backend_agg", None)
    with pytest.raises(MissingDependencyError, match=r'pip install "docbin\[plot\]"') as error:
        surface_picture()
    assert error.value.exit_code == ExitCode.dependency_error


def test_surface_command_draws_the_regional_factor_map(tmp_path, make_page):
    pytest.importorskip("matplotlib")
    from PIL import Image
    from typer.testing import CliRunner

    import docbin
    from docbin.cli import app
    from docbin.plotting import figure_size

    page = make_page(600, 700)
    Image.fromarray(page).save(tmp_path / "page.png")
    out = tmp_path / "map.png"
    result = CliRunner().invoke(app, ["surface", "--page", str(tmp_path / "page.png"),
                                      "--scope", "region", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert png_size(out) == figure_size(1)
    f = np.asarray(docbin.binarize(page, "classical", scope="region").info["regional"]["f"])
    assert f"f from {f.min():.3f} to {f.max():.3f}" in result.output
    # a factor map needs a page
    result = CliRunner().invoke(app, ["surface", "--scope", "region", "--out",
                                      str(tmp_path / "x.png")])
    assert result.exit_code == 2 and "--page" in result.output
