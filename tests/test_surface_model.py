"""The surface step of the hybrid: B-spline offset surface, patch factors, blending, runtime
and training of the surface network (docbin/method/surface.py, docbin/method/adjust.py,
docbin/training/surface.py)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from docbin.errors import ModelError
from docbin.method import adjust, stats
from docbin.method import decision as threshold
from docbin.method import surface as ms


def _page(rows, cols, seed=0):
    from conftest import synthetic_page

    return synthetic_page(rows, cols, seed)


class ZeroModel:
    """A model object with the runtime's attributes whose network returns Δz = 0."""

    channels = adjust.CHANNELS
    n, degree, delta_max = 8, 3, 0.15
    patch_size, input_size = 512, 64
    base = adjust.base_plane(ms.fit_logistic().z, 64)

    def __init__(self, value=0.0):
        self.value = value
        self.inputs = None

    def predict(self, x):
        self.inputs = x
        return np.full((len(x), 8, 8), self.value, np.float32)


# --- the surface ------------------------------------------------------------------------------


def test_logistic_is_the_classical_one():
    from docbin.method.surface import logistic_surface as classical

    b, t = np.meshgrid(np.linspace(0, 1, 51), np.linspace(0, 1, 51))
    assert np.array_equal(ms.logistic_surface(b, t), classical(b, t))
    assert ms.logistic_surface(114 / 255, 63 / 255) == pytest.approx(0.655, abs=5e-4)


def test_bspline_matches_scipy_point_by_point():
    from scipy.interpolate import bisplev

    rng = np.random.default_rng(3)
    z = rng.normal(size=(8, 8))
    surface = ms.BSplineSurface.uniform(z)
    knots = surface.knots
    points = rng.random((200, 2))
    points[:4] = [[0, 0], [1, 1], [0, 1], [1, 0]]
    fast = surface(points[:, 0], points[:, 1])
    weights = ms.offset_weights(points[:, 0], points[:, 1])
    via_weights = np.einsum("pij,ij->p", weights, z)
    for (b, t), a, w in zip(points, fast, via_weights):
        expected = bisplev(b, t, (knots, knots, z.ravel(), 3, 3))
        assert a == pytest.approx(expected, abs=1e-12)
        assert w == pytest.approx(expected, abs=1e-12)
    grid = surface.grid(points[:10, 0], points[:10, 1])
    assert np.allclose(grid, surface(points[:10, 0][:, None], points[:10, 1][None, :]))
    # the weights are a partition of unity
    assert np.allclose(weights.sum(axis=(1, 2)), 1.0)


def test_base_net_fits_the_logistic():
    fit = ms.fit_logistic()
    error = ms.fit_error(fit)
    assert error["rms_error"] < 0.02
    assert error["max_error_away"] < 0.1  # the crease along b + t = 1 (see fit_logistic)


def test_json_round_trip(tmp_path):
    surface = ms.fit_logistic().adjusted(np.full((8, 8), 0.01))
    path = tmp_path / "s.json"
    surface.save(path)
    back = ms.BSplineSurface.load(path)
    assert np.array_equal(back.z, surface.z) and np.array_equal(back.knots, surface.knots)
    assert back.clip == surface.clip and back.degree == surface.degree
    b, t = np.random.default_rng(0).random((2, 100))
    assert np.array_equal(back(b, t), surface(b, t))
    assert json.loads(path.read_text())["n"] == 8


def test_patch_factors_are_logistic_plus_offset():
    rng = np.random.default_rng(1)
    delta = rng.uniform(-0.1, 0.1, (6, 8, 8))
    b, t = rng.random((2, 2, 3))
    f = ms.patch_factors(0.6, 0.2, delta, b, t)
    offset = ms.BSplineSurface.uniform(np.zeros((8, 8)))
    for k, (bb, tt) in enumerate(zip(b.ravel(), t.ravel())):
        spline = ms.BSplineSurface.uniform(delta[k])(bb, tt)
        expected = np.clip(ms.logistic_surface(0.6, 0.2) + spline, 0.05, 1.0)
        assert f.ravel()[k] == pytest.approx(expected, abs=1e-12)
    assert offset(0.3, 0.3) == 0.0
    zero = ms.patch_factors(0.6, 0.2, np.zeros((6, 8, 8)), b, t)
    assert np.all(zero == ms.logistic_surface(0.6, 0.2))


def test_patch_statistics_shrink_to_the_page():
    contour = np.zeros((1, 2, 256), np.int64)
    ink = np.zeros((1, 2, 256), np.int64)
    contour[0, 1, 100] = ms.CONTOUR_PRIOR  # one contour's worth: halfway
    ink[0, 1, 40] = ms.INK_PRIOR
    b, t, w = ms.patch_statistics(0.5, 0.2, contour, ink)
    assert b[0, 0] == 0.5 and t[0, 0] == 0.2 and w[0, 0] == 0
    assert b[0, 1] == pytest.approx(0.5 + 0.5 * (100 / 255 - 0.5))
    assert t[0, 1] == pytest.approx(0.2 + 0.5 * (40 / 255 - 0.2))
    assert w[0, 1] == pytest.approx(0.5)


# --- blending ---------------------------------------------------------------------------------


def _bilinear_reference(values, shape, patch):
    """The blended map by the formula: value (i, j) at the patch centre, bilinear between
    centres, the border value beyond them (float64)."""
    rows, cols = shape
    gr, gc = values.shape

    def axis(n, count):
        u = np.clip((np.arange(n) + 0.5) / patch - 0.5, 0, count - 1)
        i0 = np.floor(u).astype(int)
        return i0, np.minimum(i0 + 1, count - 1), u - i0

    r0, r1, fr = axis(rows, gr)
    c0, c1, fc = axis(cols, gc)
    v = values.astype(np.float64)
    top = v[r0][:, c0] * (1 - fc) + v[r0][:, c1] * fc
    bottom = v[r1][:, c0] * (1 - fc) + v[r1][:, c1] * fc
    return top * (1 - fr[:, None]) + bottom * fr[:, None]


@pytest.mark.parametrize("shape", [(1300, 1100), (512, 512), (300, 1700), (1025, 2049)])
def test_blended_field_rows_equal_the_whole_map_and_have_no_seams(shape):
    grid = ms.patch_grid_shape(shape)
    values = np.random.default_rng(2).uniform(0.5, 0.9, grid).astype(np.float32)
    rows = ms.PatchFieldRows(values, shape)
    reference = _bilinear_reference(values, shape, 512)
    whole = rows.whole()
    assert whole.shape == shape and whole.dtype == np.float32
    assert np.abs(whole - reference).max() < 1e-5
    pieces = np.concatenate([rows(r0, min(r0 + 97, shape[0]))
                             for r0 in range(0, shape[0], 97)])
    assert np.array_equal(pieces, whole)
    # continuity: neighbouring pixels differ by at most the largest patch step / 512
    step = max(np.abs(np.diff(values, axis=0)).max(initial=0),
               np.abs(np.diff(values, axis=1)).max(initial=0))
    bound = step / 512 + 1e-5
    assert np.abs(np.diff(whole, axis=0)).max(initial=0) <= bound
    assert np.abs(np.diff(whole, axis=1)).max(initial=0) <= bound
    # patch (0, 0)'s value is reached at its centre (255.5, 255.5)
    if shape[0] >= 512 and shape[1] >= 512:
        assert whole[255, 255] == pytest.approx(values[0, 0], abs=1e-6)


# --- the runtime ------------------------------------------------------------------------------


def test_downscaled_patches_are_block_means():
    gray = np.random.default_rng(0).integers(0, 256, (1024, 1536), dtype=np.uint8)
    small = adjust.downscaled_patches(gray, 512, 64)
    assert small.shape == (6, 64, 64)
    means = gray.reshape(128, 8, 192, 8).mean(axis=(1, 3))
    patch_1_2 = means[64:128, 128:192]
    assert np.abs(small[5].astype(float) - patch_1_2).max() <= 0.5 + 1e-9
    tiny = adjust.downscaled_patches(gray[:5, :700], 512, 64)
    assert tiny.shape == (2, 64, 64)


@pytest.mark.parametrize("shape", [(700, 900), (90, 130)])
def test_zero_adjustment_is_the_classical_method_bit_for_bit(shape):
    from docbin import pipeline

    gray = _page(*shape, seed=4)
    page, _, blocks = stats.measure_page_blocks(gray, 512, ms.patch_grid_shape(shape))
    f = float(ms.logistic_surface(page.b, page.t))
    factor, info = adjust.surface_factor(gray, page, f, model=ZeroModel(), blocks=blocks,
                                         record=True)
    assert isinstance(factor, float) and factor == f
    assert info["max_change"] == 0.0 and info["f_field"].shape == (
        16 * info["grid"][0], 16 * info["grid"][1])
    classical = pipeline.binarize(gray, "classical").image
    assert np.array_equal(threshold.binary_page(gray, page.window_radius, factor), classical)


def test_surface_factor_moves_f_by_the_offset():
    gray = _page(700, 900, seed=5)
    page = stats.page_stats(gray)
    f = float(ms.logistic_surface(page.b, page.t))
    model = ZeroModel(0.05)
    factor, _ = adjust.surface_factor(gray, page, f, model=model, balance=0.8)
    assert callable(factor)
    # a constant net moves f by exactly that constant (partition of unity)
    assert np.allclose(factor(0, 700), min(f + 0.05, 1.0), atol=1e-6)
    names = list(model.channels)
    x = model.inputs
    assert x[:, names.index("alpha")].max() == pytest.approx(0.2)
    assert x[:, names.index("beta")].min() == pytest.approx(0.8)
    assert x[:, names.index("f_page")].max() == pytest.approx(f)


def _exported(tmp_path, scale=0.3):
    torch = pytest.importorskip("torch")
    pytest.importorskip("onnx")
    from docbin.training import surface as ts

    torch.manual_seed(0)
    net = ts.build_network()
    with torch.no_grad():  # a network that moves the surface (the untrained one does not)
        net.head[-1].weight.normal_(0, scale)
        net.head[-1].bias.normal_(0, scale)
    path = tmp_path / "surface.onnx"
    difference = ts.export_onnx(net, path, description="test")
    return net, path, difference


def test_onnx_runtime_matches_torch_on_page_patches(tmp_path):
    torch = pytest.importorskip("torch")

    net, path, difference = _exported(tmp_path)
    assert difference < 1e-5
    model = adjust.load_surface_model(path)
    gray = _page(1100, 1300, seed=6)
    page, _, blocks = stats.measure_page_blocks(gray, 512, ms.patch_grid_shape(gray.shape))
    b, t, w = ms.patch_statistics(page.b, page.t, blocks.contour, blocks.ink)
    x = adjust.build_inputs(adjust.downscaled_patches(gray, 512, 64), model.channels,
                            {"b_page": page.b, "t_page": page.t, "alpha": 0.5, "beta": 0.5,
                             "b_patch": b, "t_patch": t, "f_page": 0.7, "edge_weight": w},
                            model.base)
    with torch.no_grad():
        expected = net(torch.from_numpy(x)).numpy()
    got = model.predict(x)
    assert got.shape == (9, 8, 8)
    assert np.abs(got).max() > 1e-3  # the test network does move the surface
    assert np.abs(got - expected).max() < 1e-5


def test_untrained_network_leaves_the_page_classical(tmp_path):
    from docbin import pipeline

    torch = pytest.importorskip("torch")
    pytest.importorskip("onnx")
    from docbin.training import surface as ts

    torch.manual_seed(0)
    path = tmp_path / "zero.onnx"
    ts.export_onnx(ts.build_network(), path)
    gray = _page(600, 800, seed=7)
    page = stats.page_stats(gray)
    f = float(ms.logistic_surface(page.b, page.t))
    factor, _ = adjust.surface_factor(gray, page, f, model=adjust.SurfaceModel(path))
    assert factor == f
    assert np.array_equal(threshold.binary_page(gray, page.window_radius, factor),
                          pipeline.binarize(gray, "classical").image)


def test_metadata_is_checked(tmp_path):
    import onnx

    _, path, _ = _exported(tmp_path)
    model = onnx.load(str(path))
    for entry in model.metadata_props:
        if entry.key == adjust.META_CHANNELS:
            entry.value = json.dumps(["gray", "something_else"] + list(adjust.CHANNELS[2:]))
    bad = tmp_path / "bad.onnx"
    onnx.save(model, str(bad))
    with pytest.raises(ModelError, match="channels"):
        adjust.SurfaceModel(bad)
    for entry in model.metadata_props:
        if entry.key == adjust.META_KIND:
            entry.value = "refine"
    onnx.save(model, str(bad))
    with pytest.raises(ModelError, match="not a docbin surface"):
        adjust.SurfaceModel(bad)
    (tmp_path / "junk.onnx").write_bytes(b"not onnx")
    with pytest.raises(ModelError):
        adjust.SurfaceModel(tmp_path / "junk.onnx")
    with pytest.raises(ModelError):
        adjust.load_surface_model(tmp_path / "missing.onnx")


def test_shipped_model_loads():
    from importlib.resources import files

    if not (files("docbin") / "models" / "surface.onnx").is_file():
        pytest.skip("no shipped surface network in this tree")
    model = adjust.load_surface_model()
    assert model.n == 8 and model.patch_size == 512
    assert set(model.channels) <= set(adjust.CHANNELS)


# --- training ---------------------------------------------------------------------------------


def test_training_samples_see_the_runtime_field(tmp_path):
    pytest.importorskip("torch")
    from docbin.training import surface as ts

    gray = _page(1200, 1000, seed=8)
    text = gray < 100
    data = ts.prepare_page(gray, text, samples=3000)
    grid = tuple(data["grid"])
    values = np.random.default_rng(0).uniform(0.5, 0.9, grid)
    field = ms.PatchFieldRows(values, gray.shape).whole()
    index = data["sample_index"]
    f_samples = (values.ravel()[index] * data["sample_weight"]).sum(axis=1)
    # the sampled pixels' positions are recovered from their gray level and L_m
    local = threshold.local_stats(gray, int(data["page"][2]))
    candidates = np.flatnonzero(gray < local.local_mean)
    assert data["counts"][0] == len(candidates)
    rng = np.random.default_rng(0)
    take = np.sort(rng.choice(candidates, 3000, replace=False))
    assert np.array_equal(gray.ravel()[take], data["sample_image"])
    assert np.abs(field.ravel()[take] - f_samples).max() < 1e-5


def test_fit_learns_and_untrained_starts_at_zero():
    torch = pytest.importorskip("torch")
    from docbin.training import surface as ts

    pages = []
    for seed in range(3):
        gray = _page(600, 700, seed=seed)
        pages.append(ts.prepare_page(gray, gray < 110, collection=f"c{seed % 2}",
                                     samples=2000, seed=seed))
    net0 = ts.build_network()
    x = torch.from_numpy(ts.page_inputs(pages[0], ts.DEFAULT_CHANNELS, 0.5,
                                        adjust.base_plane(ms.fit_logistic().z, 64)))
    assert float(net0(x).abs().max()) == 0.0
    net = ts.fit(pages, ts.TrainConfig(steps=5, batch_pages=2))
    assert all(torch.isfinite(p).all() for p in net.parameters())


def test_surface_factor_in_chunks_equals_one_call():
    from docbin.method.stats import PageStats

    class GrayModel(ZeroModel):
        def predict(self, x):  # Δz from each patch's own pixels
            mean = x[:, 0].mean(axis=(1, 2))
            return np.broadcast_to((0.1 * mean)[:, None, None], (len(x), 8, 8)).astype(
                np.float32)

    gray = np.random.default_rng(9).integers(0, 256, (2600, 4100), dtype=np.uint8)
    page = PageStats(60.0, 120.0, 10, 200, 1000)
    f = float(ms.logistic_surface(page.b, page.t))
    model = GrayModel()
    factor, info = adjust.surface_factor(gray, page, f, model=model)
    grid = ms.patch_grid_shape(gray.shape)
    assert grid[0] * grid[1] > adjust.PREDICT_CHUNK
    small = adjust.downscaled_patches(gray, 512, 64)
    expected = np.clip(f + 0.1 * (small / 255.0).astype(np.float32).mean(axis=(1, 2)),
                       0.05, 1.0).reshape(grid)
    assert np.allclose(factor.values, expected, atol=1e-6)
    assert np.allclose(info["f"], expected, atol=1e-5)


def test_surface_command_draws_the_adjusted_surface(tmp_path, run):
    from importlib.resources import files

    pytest.importorskip("matplotlib")
    if not (files("docbin") / "models" / "surface.onnx").is_file():
        pytest.skip("no shipped surface network in this tree")
    from PIL import Image

    page = tmp_path / "page.png"
    Image.fromarray(_page(700, 900, seed=11)).save(page)
    out = tmp_path / "surface.png"
    result = run("surface", "--page", page, "--adjusted", "-o", out)
    assert result.exit_code == 0, result.output
    assert Image.open(out).size[0] > 2 * Image.open(out).size[1]  # three panels
    assert run("surface", "--adjusted", "-o", tmp_path / "x.png").exit_code != 0
