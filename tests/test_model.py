"""The ONNX hybrid runtime, exercised with tiny models built here with the onnx helper API."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from docbin import model as M
from docbin.errors import ModelError
from docbin.pipeline import binarize
from docbin.stats import page_stats, strong_edges
from docbin.surface import BSplineSurface, clamped_uniform_knots, fit_logistic, logistic_surface
from docbin.threshold import local_stats

onnx = pytest.importorskip("onnx")
from onnx import TensorProto, helper

ALL_CHANNELS = M.BASE_CHANNELS + ("ratio", "candidate")


# --- building test models -------------------------------------------------------------------


def metadata(n=8, channels=M.BASE_CHANNELS, base="logistic", delta_max=0.25, z=None,
             offset=None, **kwargs):
    knots = clamped_uniform_knots(n, 3)
    if z is None:
        z = np.linspace(0.2, 0.9, n * n).reshape(n, n)
    if base == "logistic" and offset is None:
        offset = np.zeros((n, n))
    return M.encode_metadata(n=n, degree=3, knots=knots, base=base, z=z, offset=offset,
                             delta_max=delta_max, channels=channels, docbin_version="test",
                             training_data="none: a test model", **kwargs)


def save_model(path, nodes, initializers, props, *, channels=6, size=512, n_out=8,
               input_name=M.INPUT_NAME, output_name=M.OUTPUT_NAME, batch="N"):
    graph = helper.make_graph(
        nodes, "test",
        [helper.make_tensor_value_info(input_name, TensorProto.FLOAT,
                                       [batch, channels, size, size])],
        [helper.make_tensor_value_info(output_name, TensorProto.FLOAT,
                                       [batch, n_out, n_out])],
        initializer=initializers)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    helper.set_model_props(model, props)
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return Path(path)


def constant_model(path, delta_z, props=None, *, channels=6, **kwargs):
    """Δz = ``delta_z`` for every patch, whatever the input."""
    delta_z = np.asarray(delta_z, np.float32)
    n = delta_z.shape[0]
    input_name = kwargs.get("input_name", M.INPUT_NAME)
    nodes = [
        helper.make_node("ReduceMean", [input_name], ["mean"], axes=[1, 2, 3], keepdims=1),
        helper.make_node("Mul", ["mean", "zero"], ["zeros"]),
        helper.make_node("Reshape", ["zeros", "shape"], ["zeros3"]),
        helper.make_node("Add", ["zeros3", "delta"], [kwargs.pop("output_name", M.OUTPUT_NAME)]),
    ]
    inits = [helper.make_tensor("zero", TensorProto.FLOAT, [], [0.0]),
             helper.make_tensor("shape", TensorProto.INT64, [3], [-1, 1, 1]),
             helper.make_tensor("delta", TensorProto.FLOAT, [n, n], delta_z.ravel().tolist())]
    if props is None:
        props = metadata(n=n)
    output_name = nodes[-1].output[0]
    return save_model(path, nodes, inits, props, channels=channels, n_out=n,
                      output_name=output_name, **kwargs)


def channel_stats_model(path, props, channels, n=8):
    """Δz holds, flattened: the C channel means, then maxima, then minima, then zeros."""
    c = len(channels)
    nodes = [
        helper.make_node("ReduceMean", [M.INPUT_NAME], ["means"], axes=[2, 3], keepdims=0),
        helper.make_node("ReduceMax", [M.INPUT_NAME], ["maxs"], axes=[2, 3], keepdims=0),
        helper.make_node("ReduceMin", [M.INPUT_NAME], ["mins"], axes=[2, 3], keepdims=0),
        helper.make_node("Concat", ["means", "maxs", "mins"], ["stats"], axis=1),
        helper.make_node("Pad", ["stats", "pads"], ["padded"]),
        helper.make_node("Reshape", ["padded", "shape"], [M.OUTPUT_NAME]),
    ]
    inits = [helper.make_tensor("pads", TensorProto.INT64, [4], [0, 0, 0, n * n - 3 * c]),
             helper.make_tensor("shape", TensorProto.INT64, [3], [-1, n, n])]
    return save_model(path, nodes, inits, props, channels=c, n_out=n)


def unpack_stats(delta, channels):
    c = len(channels)
    flat = delta.reshape(delta.shape[0], -1)
    return flat[:, :c], flat[:, c:2 * c], flat[:, 2 * c:3 * c]


class RecordingSession:
    """Wraps an onnxruntime session and keeps every input it is given."""

    def __init__(self, session):
        self.session = session
        self.feeds = []

    def run(self, names, feeds):
        self.feeds.append({k: v.copy() for k, v in feeds.items()})
        return self.session.run(names, feeds)

    def __getattr__(self, name):
        return getattr(self.session, name)


def synthetic_page(rows=700, cols=900, seed=0):
    """Dark strokes of varying darkness on a light, slowly varying background, with noise."""
    rng = np.random.default_rng(seed)
    page = np.full((rows, cols), 200, np.float32)
    page += 30 * np.sin(np.linspace(0, 3, cols))[None, :]
    for k in range(40):
        r, c = int(rng.integers(20, rows - 20)), int(rng.integers(0, cols - 60))
        ink = np.zeros((rows, cols), np.uint8)
        cv2.putText(ink, "docbin"[: 1 + k % 6], (c, r), cv2.FONT_HERSHEY_SIMPLEX, 0.8, 255, 2)
        page[ink > 0] = float(rng.integers(30, 110))
    page += rng.normal(0, 6, page.shape)
    return np.clip(page, 0, 255).astype(np.uint8)


@pytest.fixture(autouse=True)
def _no_environment_model(monkeypatch):
    monkeypatch.delenv(M.ENV_VAR, raising=False)
    yield
    M.clear_cache()


@pytest.fixture(scope="module")
def zero_model(tmp_path_factory):
    return constant_model(tmp_path_factory.mktemp("m") / "zero.onnx", np.zeros((8, 8)))


@pytest.fixture(scope="module")
def page():
    return synthetic_page()


# --- metadata -------------------------------------------------------------------------------


def test_metadata_round_trip():
    props = metadata(channels=ALL_CHANNELS)
    assert all(key.startswith("docbin.") for key in props)
    assert json.loads(props["docbin.channels"]) == list(ALL_CHANNELS)
    assert json.loads(props["docbin.n"]) == 8
    meta = M.parse_metadata(props)
    assert meta.channels == ALL_CHANNELS and meta.n == 8 and meta.patch_size == 512
    assert meta.to_props() == props


@pytest.mark.parametrize("key,value,match", [
    ("docbin.n", "7", r"knots must list n \+ degree \+ 1 = 11"),
    ("docbin.z", json.dumps(np.zeros((7, 7)).tolist()), r"docbin.z must be an 8 × 8 net"),
    ("docbin.offset", json.dumps(np.zeros((8, 7)).tolist()), r"docbin.offset must be an 8 × 8"),
    ("docbin.contract", "2", "contract 2"),
    ("docbin.base", '"gaussian"', "docbin.base must be one of"),
    ("docbin.channels", '["gray", "z", "b", "t", "beta", "alpha"]', "must start with"),
    ("docbin.channels", json.dumps(list(M.BASE_CHANNELS) + ["edges"]), r"\['edges'\] unknown"),
    ("docbin.normalisation", json.dumps({**{c: M.CHANNELS[c] for c in M.BASE_CHANNELS},
                                         "gray": "I/256"}), "'gray' was trained as 'I/256'"),
    ("docbin.delta_max", "0", "delta_max must be a number in"),
    ("docbin.patch_size", "512.0", "patch_size must be an integer"),
    ("docbin.knots", "[0, 0, 0, 0, 0.2, 0.4, 0.6, 0.8, 2, 2, 2, 2]", r"domain .* \[0, 1\]"),
    ("docbin.degree", "not json", "docbin.degree is not valid JSON"),
    ("docbin.colour", "1", "unknown metadata docbin.colour"),
])
def test_metadata_mismatch_names_the_field(key, value, match):
    props = metadata()
    props[key] = value
    with pytest.raises(ModelError, match=match):
        M.parse_metadata(props, "m.onnx")


def test_missing_metadata_names_the_keys():
    props = metadata()
    del props["docbin.knots"]
    with pytest.raises(ModelError, match="docbin.knots missing"):
        M.parse_metadata(props)
    with pytest.raises(ModelError, match="not a docbin hybrid model"):
        M.parse_metadata({})


def test_offset_only_with_logistic_base():
    props = metadata(base="spline")
    assert M.parse_metadata(props).offset is None
    props["docbin.offset"] = json.dumps(np.zeros((8, 8)).tolist())
    with pytest.raises(ModelError, match="only used with base 'logistic'"):
        M.parse_metadata(props)
    props = metadata()
    del props["docbin.offset"]
    with pytest.raises(ModelError, match="offset missing"):
        M.parse_metadata(props)


def test_wrong_n_in_the_graph_is_a_clear_error(tmp_path):
    # metadata consistent with n = 7, graph output 8 × 8
    path = constant_model(tmp_path / "m.onnx", np.zeros((8, 8)), props=metadata(n=7))
    with pytest.raises(ModelError, match=r"metadata says \[N, 7, 7\] \(docbin.n = 7\)"):
        M.load_model(path)


def test_wrong_channel_count_in_the_graph(tmp_path):
    path = constant_model(tmp_path / "m.onnx", np.zeros((8, 8)),
                          props=metadata(channels=ALL_CHANNELS), channels=6)
    with pytest.raises(ModelError, match="channel count"):
        M.load_model(path)


def test_wrong_names_in_the_graph(tmp_path):
    path = constant_model(tmp_path / "a.onnx", np.zeros((8, 8)), input_name="image")
    with pytest.raises(ModelError, match="one input named 'input'"):
        M.load_model(path)
    path = constant_model(tmp_path / "b.onnx", np.zeros((8, 8)), output_name="dz")
    with pytest.raises(ModelError, match="no output named 'delta_z'"):
        M.load_model(path)


def test_a_file_that_is_not_onnx(tmp_path):
    path = tmp_path / "m.onnx"
    path.write_bytes(b"not a model")
    with pytest.raises(ModelError, match="cannot load the model"):
        M.load_model(path)


def test_encode_metadata_refuses_unknown_channels():
    with pytest.raises(ModelError, match="unknown input channel"):
        metadata(channels=M.BASE_CHANNELS + ("edges",))


# --- locating the model ---------------------------------------------------------------------


def test_no_model_installed_says_how_to_get_one(monkeypatch, tmp_path):
    monkeypatch.setattr(M, "_packaged_models", lambda: tmp_path / "models")
    with pytest.raises(ModelError, match="no hybrid model is installed.*--model.*DOCBIN_MODEL"):
        M.locate_model()
    with pytest.raises(ModelError, match="no hybrid model is installed"):
        binarize(synthetic_page(200, 200), method="hybrid")
    # the classical method keeps working
    assert binarize(synthetic_page(200, 200), method="classical").image.shape == (200, 200)


def test_location_order(monkeypatch, tmp_path, zero_model):
    packaged = tmp_path / "models"
    packaged.mkdir()
    monkeypatch.setattr(M, "_packaged_models", lambda: packaged)
    (packaged / "other.onnx").write_bytes(zero_model.read_bytes())
    assert M.locate_model() == packaged / "other.onnx"  # a single packaged file
    (packaged / "hybrid.onnx").write_bytes(zero_model.read_bytes())
    assert M.locate_model() == packaged / "hybrid.onnx"  # the conventional name wins
    monkeypatch.setenv(M.ENV_VAR, str(zero_model))
    assert M.locate_model() == zero_model  # the environment beats the package
    explicit = tmp_path / "explicit.onnx"
    explicit.write_bytes(zero_model.read_bytes())
    assert M.locate_model(explicit) == explicit  # an explicit path beats everything
    monkeypatch.setenv(M.ENV_VAR, str(tmp_path / "missing.onnx"))
    with pytest.raises(ModelError, match="DOCBIN_MODEL=.*missing.onnx does not name"):
        M.locate_model()
    with pytest.raises(ModelError, match="model file not found"):
        M.locate_model(tmp_path / "nope.onnx")


def test_session_is_created_once_and_cached(zero_model):
    first = M.load_model(zero_model, threads=1)
    assert M.load_model(zero_model, threads=1) is first
    session = first.session
    assert first.session is session
    assert session.get_providers() == ["CPUExecutionProvider"]
    assert M.load_model(zero_model, threads=2) is not first  # another thread count


# --- patches --------------------------------------------------------------------------------


def reference_patches(edges, size, count):
    """Slow reference: every grid candidate summed directly, greedy pick with loops."""
    rows, cols = edges.shape

    def starts(length):
        if length <= size:
            return [0]
        s = list(range(0, length - size + 1, size // 2))
        return s if s[-1] == length - size else s + [length - size]

    h, w = min(size, rows), min(size, cols)
    candidates = sorted((-int(edges[r:r + h, c:c + w].sum()), r, c)
                        for r in starts(rows) for c in starts(cols))
    picked = []
    for _, r, c in candidates:
        if all(r + h <= pr or pr + h <= r or c + w <= pc or pc + w <= c for pr, pc in picked):
            picked.append((r, c))
            if len(picked) == count:
                break
    return [(r, c, h, w) for r, c in picked]


@pytest.mark.parametrize("shape,size,count,density", [
    ((300, 2000), 128, 8, 0.05), ((1000, 1300), 256, 8, 0.01), ((700, 700), 512, 8, 0.2),
    ((200, 150), 512, 8, 0.1), ((1024, 1024), 256, 3, 0.0), ((999, 1501), 100, 20, 0.02),
])
def test_patch_selection_matches_the_reference(shape, size, count, density):
    rng = np.random.default_rng(sum(shape))
    edges = rng.random(shape) < density
    # blobs make the counts differ strongly between windows
    for _ in range(5):
        r, c = rng.integers(0, shape[0]), rng.integers(0, shape[1])
        edges[r:r + 60, c:c + 90] |= rng.random(edges[r:r + 60, c:c + 90].shape) < 0.5
    boxes = M.select_patches(edges, size, count)
    assert [tuple(b) for b in boxes.tolist()] == reference_patches(edges, size, count)
    # never overlapping, always inside
    for i, (r, c, h, w) in enumerate(boxes):
        assert r >= 0 and c >= 0 and r + h <= shape[0] and c + w <= shape[1]
        for r2, c2, _, _ in boxes[i + 1:]:
            assert abs(r - r2) >= h or abs(c - c2) >= w


def test_patch_selection_picks_the_busiest_windows():
    edges = np.zeros((1024, 2048), bool)
    # the busiest blob lies inside the windows at rows {256, 512} × cols {1280, 1536};
    # the tie goes to the smallest row, then column
    edges[600:700, 1600:1700] = True
    edges[10:40, 10:50] = True  # second: only inside window (0, 0)
    boxes = M.select_patches(edges, 512, 2)
    assert boxes.tolist() == [[256, 1280, 512, 512], [0, 0, 512, 512]]
    # then the edge-free windows in grid order, as long as one fits beside the others
    assert M.select_patches(edges, 512, 8).tolist() == [
        [256, 1280, 512, 512], [0, 0, 512, 512], [0, 512, 512, 512], [512, 0, 512, 512],
        [512, 512, 512, 512]]
    # a small page: one window, the whole page
    assert M.select_patches(np.ones((100, 80), bool), 512, 8).tolist() == [[0, 0, 100, 80]]


def test_crop_patch_reflects_small_pages():
    rng = np.random.default_rng(1)
    page = rng.integers(0, 256, (90, 40), dtype=np.uint8)
    patch = M.crop_patch(page, (0, 0, 90, 40), 128)
    np.testing.assert_array_equal(patch, np.pad(page, ((0, 38), (0, 88)), mode="reflect"))
    strip = page[:1]
    np.testing.assert_array_equal(M.crop_patch(strip, (0, 0, 1, 40), 64)[:, :40],
                                  np.repeat(strip, 64, axis=0))
    np.testing.assert_array_equal(M.crop_patch(page, (10, 5, 32, 32), 32), page[10:42, 5:37])


# --- input channels -------------------------------------------------------------------------


def test_build_input_channels(page):
    stats = page_stats(page)
    local = local_stats(page, stats.window_radius)
    z = np.random.default_rng(2).random((8, 8))
    boxes = np.array([[0, 0, 512, 512], [188, 388, 512, 512]])
    x = M.build_input(page, boxes, ALL_CHANNELS, z=z, b=0.4, t=0.2, balance=0.7,
                      local_median=local.local_median, local_mean=local.local_mean)
    assert x.shape == (2, 8, 512, 512) and x.dtype == np.float32
    r, c = 188, 388
    crop = page[r:r + 512, c:c + 512].astype(np.float32)
    np.testing.assert_array_equal(x[1, 0], crop / 255)
    np.testing.assert_array_equal(
        x[1, 1], cv2.resize(z.astype(np.float32), (512, 512), interpolation=cv2.INTER_LINEAR))
    for k, value in ((2, 0.4), (3, 0.2), (4, 1 - 0.7), (5, 0.7)):
        np.testing.assert_array_equal(x[:, k], np.float32(value))
    median = local.local_median[r:r + 512, c:c + 512].astype(np.float32)
    np.testing.assert_allclose(x[1, 6], np.clip(crop / np.maximum(median, 1), 0, 2) / 2,
                               rtol=1e-6)
    np.testing.assert_array_equal(x[1, 7], crop < local.local_mean[r:r + 512, c:c + 512])
    assert set(np.unique(x[:, 7])) <= {0.0, 1.0}


def test_the_session_receives_the_channels_in_metadata_order(tmp_path, page):
    channels = ("gray", "z", "b", "t", "alpha", "beta", "candidate", "ratio")
    z = np.random.default_rng(3).random((8, 8))  # in [0, 1]: no output is clipped
    props = metadata(channels=channels, z=z, delta_max=1.0)
    path = channel_stats_model(tmp_path / "stats.onnx", props, channels)
    model = M.load_model(path)
    recorder = RecordingSession(model.session)
    model._session = recorder
    stats = page_stats(page)
    local = local_stats(page, stats.window_radius)
    edges, _ = strong_edges(page)
    prediction = model.predict(page, 0.45, 0.25, balance=0.2, edges=edges,
                               local_median=local.local_median, local_mean=local.local_mean)
    # what the session received is exactly build_input of the selected patches
    boxes = M.select_patches(edges, 512, 8)
    np.testing.assert_array_equal(prediction.boxes, boxes)
    (feed,) = recorder.feeds
    assert list(feed) == ["input"]
    expected = M.build_input(page, boxes, channels, z=z, b=0.45, t=0.25, balance=0.2,
                             local_median=local.local_median, local_mean=local.local_mean)
    np.testing.assert_array_equal(feed["input"], expected)
    # and the graph saw the channels in that order
    means, maxs, mins = unpack_stats(prediction.per_patch, channels)
    # (float32 sums of 512² values inside onnxruntime: agree to ~1e-4)
    np.testing.assert_allclose(means, expected.mean(axis=(2, 3), dtype=np.float64), atol=1e-3)
    np.testing.assert_allclose(maxs[:, 2:6], [[0.45, 0.25, 0.8, 0.2]] * len(boxes), atol=1e-7)
    np.testing.assert_allclose(mins[:, 2:6], maxs[:, 2:6])
    assert maxs[:, 6].max() == 1.0 and mins[:, 6].min() == 0.0  # candidate is a mask
    np.testing.assert_allclose(prediction.delta_z, prediction.per_patch.mean(axis=0))


def test_prediction_is_deterministic(tmp_path, page):
    channels = M.BASE_CHANNELS
    path = channel_stats_model(tmp_path / "s.onnx", metadata(delta_max=1.0,
                                                             z=np.full((8, 8), 0.5)), channels)
    model = M.load_model(path)
    first = model.predict(page, 0.5, 0.3)
    second = model.predict(page.copy(), 0.5, 0.3)
    np.testing.assert_array_equal(first.boxes, second.boxes)
    np.testing.assert_array_equal(first.delta_z, second.delta_z)


def test_static_batch_of_one_runs_patch_by_patch(tmp_path, page):
    path = constant_model(tmp_path / "one.onnx", np.full((8, 8), 0.01), batch=1)
    prediction = M.load_model(path).predict(np.tile(page, (2, 2)), 0.5, 0.3)
    assert prediction.per_patch.shape[0] > 1
    np.testing.assert_allclose(prediction.delta_z, 0.01, atol=1e-7)


def test_outputs_are_bounded_by_delta_max(tmp_path, page):
    path = constant_model(tmp_path / "big.onnx", np.full((8, 8), 0.9))
    prediction = M.load_model(path).predict(page, 0.5, 0.3)
    np.testing.assert_allclose(prediction.delta_z, 0.25)


# --- the decision factor --------------------------------------------------------------------


def test_constant_delta_gives_a_known_f(tmp_path, page):
    """B-splines sum to 1: Δz = c everywhere adds exactly c to the surface."""
    path = constant_model(tmp_path / "c.onnx", np.full((8, 8), 0.08))
    result = binarize(page, method="hybrid", model=str(path))
    b, t = result.info["contour_intensity"] / 255, result.info["ink_intensity"] / 255
    expected = float(np.clip(logistic_surface(b, t) + 0.08, 0.05, 1.0))
    assert result.info["f"] == pytest.approx(expected, abs=1e-7)
    assert result.info["hybrid"]["f_base"] == pytest.approx(logistic_surface(b, t), abs=1e-12)
    np.testing.assert_allclose(result.info["hybrid"]["delta_z"], 0.08, atol=1e-7)
    stats = page_stats(page)
    ink = page < np.float32(expected) * local_stats(page, stats.window_radius).local_median
    assert (result.image == 0).sum() <= ink.sum()  # I < L_a removes some candidates


def test_varying_delta_matches_the_scipy_surface(tmp_path, page):
    rng = np.random.default_rng(4)
    delta = rng.uniform(-0.2, 0.2, (8, 8)).astype(np.float32)
    offset = rng.uniform(-0.05, 0.05, (8, 8))
    path = constant_model(tmp_path / "v.onnx", delta, props=metadata(offset=offset))
    model = M.load_model(path)
    b, t = 0.53, 0.21
    dz = delta.astype(np.float64)
    spline = BSplineSurface.uniform(offset + dz)
    expected = float(np.clip(logistic_surface(b, t) + spline(b, t), 0.05, 1.0))
    assert model.factor(b, t, dz) == pytest.approx(expected, abs=1e-12)
    # base 'spline': the stored net is the surface
    fit = fit_logistic()
    path = constant_model(tmp_path / "s.onnx", delta, props=metadata(base="spline", z=fit.z))
    model = M.load_model(path)
    assert model.factor(b, t, dz) == pytest.approx(
        float(np.clip(fit.adjusted(dz, clip=None)(b, t), 0.05, 1)), abs=1e-12)
    assert model.base_factor(b, t) == pytest.approx(fit(b, t), abs=1e-12)


def test_zero_delta_hybrid_equals_classical(zero_model, page):
    classical = binarize(page, method="classical")
    hybrid = binarize(page, method="hybrid", model=str(zero_model), balance=0.9)
    assert hybrid.info["f"] == classical.info["f"]
    np.testing.assert_array_equal(hybrid.image, classical.image)
    explain = hybrid.info["hybrid"]
    assert explain["alpha"] == pytest.approx(0.1) and explain["beta"] == 0.9
    assert explain["f_base"] == explain["f"]
    assert len(explain["patches"]) == len(explain["patch_delta_z"]) >= 1


def test_model_from_the_environment(monkeypatch, zero_model, page):
    monkeypatch.setenv(M.ENV_VAR, str(zero_model))
    result = binarize(page, method="hybrid")
    assert result.info["hybrid"]["model"] == str(zero_model)


def test_hybrid_does_not_import_torch(zero_model, tmp_path):
    code = (
        "import sys, numpy as np, docbin\n"
        "assert 'torch' not in sys.modules, 'import docbin'\n"
        "page = np.full((300, 400), 210, np.uint8); page[100:110, 50:350] = 40\n"
        f"r = docbin.binarize(page, method='hybrid', model={str(zero_model)!r})\n"
        "assert 'onnxruntime' in sys.modules\n"
        "print('torch' in sys.modules, r.image.shape)\n")
    env = {k: v for k, v in os.environ.items() if k != M.ENV_VAR}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env=env, cwd=tmp_path, timeout=120, check=False)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False (300, 400)"


def test_surface_picture_of_a_page_with_a_model(tmp_path, page):
    pytest.importorskip("matplotlib")
    from PIL import Image
    from typer.testing import CliRunner

    from docbin.cli import app
    from docbin.plotting import figure_size

    delta = np.zeros((8, 8))
    delta[3:6, 1:4] = 0.1
    path = constant_model(tmp_path / "bump.onnx", delta)
    Image.fromarray(page).save(tmp_path / "page.png")
    out = tmp_path / "s.png"
    result = CliRunner().invoke(app, ["surface", "--model", str(path), "--page",
                                      str(tmp_path / "page.png"), "--out", str(out)])
    assert result.exit_code == 0, result.output
    with Image.open(out) as image:
        assert image.size == figure_size(3) == (2016, 552)
    expected = binarize(page, method="hybrid", model=str(path))
    assert f"-> {expected.info['f']:.3f}" in result.output
    # a model but no page: one panel, the model's base surface
    out2 = tmp_path / "base.png"
    result = CliRunner().invoke(app, ["surface", "--model", str(path), "--out", str(out2)])
    assert result.exit_code == 0, result.output
    with Image.open(out2) as image:
        assert image.size == figure_size(1)
    # a named model that does not exist is an error, not the classical picture
    result = CliRunner().invoke(app, ["surface", "--model", str(tmp_path / "no.onnx"),
                                      "--out", str(tmp_path / "x.png")])
    assert result.exit_code == 5 and "model file not found" in result.output


def test_options_carry_the_method(zero_model, page):
    from docbin.options import Options

    options = Options(method="hybrid", model=str(zero_model), balance=0.8, threads=1)
    result = binarize(page, options=options)
    assert result.info["method"] == "hybrid" and result.info["hybrid"]["beta"] == 0.8
    assert binarize(page, "classical", options=options).info["method"] == "classical"
    assert binarize(page).info["method"] == Options().method == "classical"  # the default
