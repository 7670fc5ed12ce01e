"""Training of the refinement network: weights, features, export, and a CPU smoke test."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from docbin.method import refine
from docbin.training import refine as training


def _write_collection(root, name, pages):
    from PIL import Image

    for i, (page, text) in enumerate(pages):
        for folder, array in (("img", page), ("gt", np.where(text, 0, 255).astype(np.uint8))):
            (root / name / folder).mkdir(parents=True, exist_ok=True)
            Image.fromarray(array).save(root / name / folder / f"P{i}.png")


def test_collection_weights_give_every_collection_the_same_total():
    weights = training.collection_weights(["a", "a", "b"], [10, 30, 5])
    assert weights.shape == (45,) and weights.mean() == pytest.approx(1.0)
    assert weights[:40].sum() == pytest.approx(weights[40:].sum())


def test_page_samples_are_the_runtime_features_of_the_band(make_page):
    from docbin.method import decision as threshold
    from docbin.method import stats
    from docbin.method.surface import logistic_surface

    gray = make_page(90, 130, 1)
    text = gray < 120
    samples = training.page_samples(gray, text, 0.2)
    page = stats.page_stats(gray)
    f = float(logistic_surface(page.b, page.t))
    local = threshold.local_stats(gray, page.window_radius)
    constants = refine.PageConstants(page.ink_intensity, page.contour_intensity,
                                     page.window_radius, f)
    where = refine.band_mask(gray, local.local_median, constants, 0.2)
    assert where.any() and len(samples.text) == where.sum()
    np.testing.assert_array_equal(samples.text, text[where])
    np.testing.assert_array_equal(
        samples.features,
        refine.features(gray, local.local_median, local.local_mean, constants, where))


def test_fit_learns_a_separable_rule_and_is_reproducible():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(4000, len(refine.FEATURES))).astype(np.float32)
    y = x[:, 0] < 0.2  # text below a margin, as the classical rule
    first = training.fit_refiner(x, y, seed=3, epochs=20, batch=256)
    second = training.fit_refiner(x, y, seed=3, epochs=20, batch=256)
    assert ((first(x) > 0.5) == y).mean() > 0.97
    np.testing.assert_array_equal(first(x[:50]), second(x[:50]))


def test_train_exports_a_network_the_runtime_runs(tmp_path):
    from docbin import synth
    from docbin.pipeline import binarize

    pages = [synth.degraded_page(220, 260, seed, ("stains", "noise")) for seed in range(3)]
    _write_collection(tmp_path / "data", "one", pages[:2])
    _write_collection(tmp_path / "data", "two", pages[2:])
    out = tmp_path / "refine.onnx"
    summary = training.train(tmp_path / "data", out, config=training.TrainConfig(
        margin=0.2, per_page=500, epochs=1, synthetic_pages=1))
    assert summary["pages"] == {"one": 2, "two": 1, "synth": 1}
    assert summary["export_error"] < 1e-5 and summary["parameters"] < 5000
    network = refine.Refiner(out)
    assert network.margin == 0.2 and "one 2" in network.description
    # the defaults: the shipped form
    assert network.direction == "add" and network.reach == 1 and network.shape == "keep"
    result = binarize(pages[0][0], "hybrid", steps="refine", model=str(out))
    assert result.image.shape == pages[0][0].shape
    assert result.info["hybrid"]["refined_pixels"] > 0


def test_train_command(tmp_path):
    from typer.testing import CliRunner

    from docbin import cli, synth

    pages = [synth.degraded_page(200, 240, seed, ("noise",)) for seed in range(2)]
    _write_collection(tmp_path / "data", "c", pages)
    out = tmp_path / "net.onnx"
    args = ["train", "--data", str(tmp_path / "data"), "--out", str(out), "--epochs", "1",
            "--per-page", "300", "--synthetic", "0", "--direction", "both", "--reach", "0",
            "--shape", "free"]
    result = CliRunner().invoke(cli.app, args)
    assert result.exit_code == 0, result.output
    assert out.exists() and "wrote" in result.stderr
    assert refine.Refiner(out).direction == "both" and refine.Refiner(out).reach == 0
    assert refine.Refiner(out).shape == "free"
    again = CliRunner().invoke(cli.app, args)
    assert again.exit_code != 0 and "exists" in again.stderr
    empty = CliRunner().invoke(cli.app, ["train", "--data", str(tmp_path), "--out",
                                         str(tmp_path / "x.onnx")])
    assert empty.exit_code == 3 and "no training pages" in empty.stderr
    missing = CliRunner().invoke(cli.app, ["train", "--data", str(tmp_path / "nowhere"),
                                           "--out", str(tmp_path / "x.onnx")])
    assert missing.exit_code == 3 and "not found" in missing.stderr
