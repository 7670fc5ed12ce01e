"""The logistic surface and the B-spline decision surface (METHOD.md §1.5, §2)."""

from __future__ import annotations

import json
import sys

import numpy as np
import pytest
from scipy.interpolate import BSpline

from docbin.surface import (
    ADJUSTED_RANGE,
    BSplineSurface,
    basis_functions,
    clamped_uniform_knots,
    design_matrix,
    fit_error,
    fit_logistic,
    logistic_surface,
)


def scipy_point(surface: BSplineSurface, b: float, t: float) -> float:
    """Slow reference: one scipy BSpline per row of the net along t, then one along b."""
    rows = np.array([BSpline(surface.knots, surface.z[i], surface.degree)(t)
                     for i in range(surface.n)])
    return float(BSpline(surface.knots, rows, surface.degree)(b))


@pytest.fixture(scope="module")
def fitted():
    return fit_logistic()


def random_surface(n=8, degree=3, seed=0, **kwargs):
    rng = np.random.default_rng(seed)
    return BSplineSurface.uniform(rng.normal(size=(n, n)), degree, **kwargs)


def test_logistic_check_value():
    assert logistic_surface(114 / 255, 63 / 255) == pytest.approx(0.655, abs=5e-4)


def test_clamped_uniform_knots():
    np.testing.assert_array_equal(clamped_uniform_knots(8, 3),
                                  [0, 0, 0, 0, 0.2, 0.4, 0.6, 0.8, 1, 1, 1, 1])
    with pytest.raises(ValueError, match="n >= 4"):
        clamped_uniform_knots(3, 3)


@pytest.mark.parametrize("degree", [1, 2, 3])
def test_basis_functions_match_scipy_design_matrix(degree):
    knots = clamped_uniform_knots(7, degree)
    x = np.concatenate([np.linspace(0, 1, 201), knots, [-0.5, 1.5]])
    first, values = basis_functions(x, knots, degree)
    dense = np.zeros((x.size, 7))
    for a in range(degree + 1):
        dense[np.arange(x.size), first + a] = values[:, a]
    np.testing.assert_allclose(dense, design_matrix(x, knots, degree).toarray(), atol=1e-14)
    np.testing.assert_allclose(values.sum(axis=1), 1.0, atol=1e-14)


@pytest.mark.parametrize("seed,degree,n", [(0, 3, 8), (1, 3, 5), (2, 2, 6), (3, 3, 12)])
def test_evaluation_matches_pointwise_scipy(seed, degree, n):
    surface = random_surface(n, degree, seed)
    rng = np.random.default_rng(seed + 10)
    b = np.concatenate([rng.random(60), [0.0, 1.0, 0.0, 1.0, 0.5]])
    t = np.concatenate([rng.random(60), [0.0, 1.0, 1.0, 0.0, 0.5]])
    expected = [scipy_point(surface, bb, tt) for bb, tt in zip(b, t)]
    np.testing.assert_allclose(surface(b, t), expected, atol=1e-12)
    # scalars give floats; grids agree with points
    assert isinstance(surface(0.3, 0.7), float)
    assert surface(0.3, 0.7) == pytest.approx(scipy_point(surface, 0.3, 0.7), abs=1e-12)
    grid = surface.grid(b[:7], t[:9])
    np.testing.assert_allclose(grid, surface(b[:7, None], t[None, :9]), atol=1e-12)


def test_evaluation_blocks_and_shapes():
    surface = random_surface()
    rng = np.random.default_rng(5)
    b = rng.random((1100, 1000))  # more than one evaluation block
    t = rng.random((1100, 1000))
    values = surface(b, t)
    assert values.shape == b.shape
    idx = rng.integers(0, b.size, 20)
    expected = [scipy_point(surface, b.flat[i], t.flat[i]) for i in idx]
    np.testing.assert_allclose(values.ravel()[idx], expected, atol=1e-12)
    # broadcasting a row against a column
    assert surface(b[:3, :1], t[:1, :4]).shape == (3, 4)


def test_points_outside_the_square_are_clamped():
    surface = random_surface()
    assert surface(-0.2, 1.3) == pytest.approx(surface(0.0, 1.0), abs=1e-15)


def test_basis_weights_reproduce_the_surface():
    surface = random_surface()
    weights = surface.basis_weights(0.37, 0.81)
    assert weights.sum() == pytest.approx(1.0)
    assert (weights * surface.z).sum() == pytest.approx(surface(0.37, 0.81), abs=1e-12)


def test_fit_error_is_what_was_measured(fitted):
    """n = 8 cannot reach 0.01: the logistic has a crease along b + t = 1.

    Measured (401 × 401 grid): max 0.0768 at (b, t) = (0.785, 0.215), the same away from
    t → 0; RMS 0.0144. This test pins those numbers so a change of the fit shows up.
    """
    report = fit_error(fitted)
    assert report["max_error"] == pytest.approx(0.0768, abs=5e-4)
    assert report["max_error_away"] == pytest.approx(0.0768, abs=5e-4)
    assert report["rms_error"] == pytest.approx(0.0144, abs=5e-4)
    b, t = report["worst_point"]
    assert b + t == pytest.approx(1.0, abs=0.02)  # on the crease


def test_fit_error_shrinks_with_more_control_points():
    errors = [fit_error(fit_logistic(n), grid=201)["rms_error"] for n in (8, 12, 16)]
    assert errors[0] > errors[1] > errors[2]
    assert errors[2] < 0.002


def test_fit_is_the_least_squares_solution():
    """The separable solution equals a brute-force lstsq on the Kronecker system."""
    points = np.linspace(0, 1, 41)
    surface = fit_logistic(6, grid=points)
    basis = design_matrix(points, surface.knots, 3).toarray()
    system = np.kron(basis, basis)
    values = logistic_surface(points[:, None], points[None, :]).ravel()
    z, *_ = np.linalg.lstsq(system, values, rcond=None)
    np.testing.assert_allclose(surface.z.ravel(), z, atol=1e-9)


def test_zero_adjustment_reproduces_the_base(fitted):
    rng = np.random.default_rng(3)
    b, t = rng.random(500), rng.random(500)
    same = fitted.adjusted(np.zeros((8, 8)), clip=None)
    np.testing.assert_array_equal(same(b, t), fitted(b, t))
    # with the default clip the values change only where the base leaves [0.05, 1]
    clipped = fitted.adjusted(np.zeros((8, 8)))
    np.testing.assert_array_equal(clipped(b, t), np.clip(fitted(b, t), *ADJUSTED_RANGE))
    residual = BSplineSurface.uniform(np.zeros((8, 8)), base="logistic")
    np.testing.assert_array_equal(residual.adjusted(np.zeros((8, 8)), clip=None)(b, t),
                                  logistic_surface(b, t))


def test_adjustment_adds_the_spline_of_delta_z():
    base = random_surface(seed=4)
    delta = np.random.default_rng(6).normal(scale=0.1, size=(8, 8))
    adjusted = base.adjusted(delta, clip=None)
    b, t = np.linspace(0, 1, 13), np.linspace(1, 0, 13)
    difference = BSplineSurface.uniform(delta)(b, t)
    np.testing.assert_allclose(adjusted(b, t) - base(b, t), difference, atol=1e-12)
    clipped = base.adjusted(delta)
    values = clipped(np.linspace(0, 1, 50), np.linspace(0, 1, 50))
    assert values.min() >= 0.05 and values.max() <= 1.0
    with pytest.raises(ValueError, match="shape"):
        base.adjusted(np.zeros((7, 7)))


def test_logistic_base_adds_the_exact_logistic():
    delta = np.full((8, 8), 0.1)  # a constant net: the spline is 0.1 everywhere
    surface = BSplineSurface.uniform(delta, base="logistic", clip=ADJUSTED_RANGE)
    b, t = np.array([0.45, 0.6, 0.3]), np.array([0.25, 0.1, 0.5])
    np.testing.assert_allclose(surface(b, t), np.clip(logistic_surface(b, t) + 0.1, 0.05, 1),
                               atol=1e-14)


def test_json_round_trip(tmp_path, fitted):
    for surface in (fitted, random_surface(5, 2, base="logistic", clip=(0.05, 1.0))):
        text = surface.to_json()
        data = json.loads(text)
        assert set(data) >= {"degree", "knots", "n", "z"}
        again = BSplineSurface.from_json(text)
        np.testing.assert_array_equal(again.z, surface.z)  # exact, not approximate
        np.testing.assert_array_equal(again.knots, surface.knots)
        assert (again.degree, again.base, again.clip) == (surface.degree, surface.base,
                                                          surface.clip)
        surface.save(tmp_path / "s.json")
        loaded = BSplineSurface.load(tmp_path / "s.json")
        assert loaded(0.4, 0.3) == surface(0.4, 0.3)


@pytest.mark.parametrize("change,match", [
    (lambda d: d.pop("z"), "key 'z'"),
    (lambda d: d.update(n=7), "n = 7"),
    (lambda d: d.update(knots=d["knots"][:-1]), "needs 12 knots"),
    (lambda d: d.update(knots=[k * 2 for k in d["knots"]]), "domain"),
    (lambda d: d.update(base="gaussian"), "base must be"),
])
def test_invalid_json_is_rejected(fitted, change, match):
    data = fitted.to_dict()
    change(data)
    with pytest.raises(ValueError, match=match):
        BSplineSurface.from_dict(data)


def test_net_is_read_only(fitted):
    with pytest.raises(ValueError):
        fitted.z[0, 0] = 1.0


# --- the picture (docbin surface) -------------------------------------------------------


@pytest.fixture
def no_model(monkeypatch, tmp_path):
    """No model anywhere: not in the environment, not in the package."""
    from docbin import model

    monkeypatch.delenv(model.ENV_VAR, raising=False)
    monkeypatch.setattr(model, "_packaged_models", lambda: tmp_path / "no-models")


def png_size(path):
    from PIL import Image

    with Image.open(path) as image:
        assert image.format == "PNG"
        return image.size


def test_surface_command_draws_the_logistic(tmp_path, no_model):
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


def test_surface_command_marks_a_page_without_a_model(tmp_path, no_model, make_page):
    pytest.importorskip("matplotlib")
    from PIL import Image
    from typer.testing import CliRunner

    from docbin.cli import app
    from docbin.plotting import figure_size
    from docbin.stats import page_stats

    page = make_page(200, 300)
    Image.fromarray(page).save(tmp_path / "page.png")
    out = tmp_path / "s.png"
    result = CliRunner().invoke(app, ["surface", "--page", str(tmp_path / "page.png"),
                                      "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert png_size(out) == figure_size(1)
    stats = page_stats(page)
    assert f"b = {stats.b:.3f}, t = {stats.t:.3f}" in result.output


def test_picture_without_matplotlib(monkeypatch, no_model):
    from docbin.errors import ExitCode, MissingDependencyError
    from docbin.plotting import surface_picture

    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib -> ImportError
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    monkeypatch.setitem(sys.modules, "matplotlib.backends.backend_agg", None)
    with pytest.raises(MissingDependencyError, match=r'pip install "docbin\[plot\]"') as error:
        surface_picture()
    assert error.value.exit_code == ExitCode.dependency_error


def test_surface_command_draws_the_regional_factor_map(tmp_path, no_model, make_page):
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
