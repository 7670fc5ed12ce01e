"""Training: the relaxed loss, the page cache and a CPU smoke test of both stages."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from docbin.training import data, losses
from docbin.training import train as training


def _page(seed: int, rows: int = 300, cols: int = 400):
    import cv2

    rng = np.random.default_rng(seed)
    page = np.full((rows, cols), 200, np.uint8)
    for k in range(6):
        cv2.putText(page, "docbin text", (10, 40 + 45 * k), cv2.FONT_HERSHEY_SIMPLEX,
                    1.0, int(rng.integers(40, 110)), 2)
    text = page < 150
    light = np.linspace(-30, 30, cols)[None, :]
    noisy = page + light + rng.normal(0, 6, page.shape)
    return np.clip(noisy, 0, 255).astype(np.uint8), text


def _hard_counts(image, median, mean, text, f):
    ink = (image < f * median) & (image < mean)
    return ((ink & text).sum(), (ink & ~text).sum(), (~ink & text).sum(), (~ink & ~text).sum())


def test_dense_relaxation_tends_to_hard_counts():
    rng = np.random.default_rng(1)
    image = rng.integers(0, 256, (40, 50)).astype(np.float64)
    median = rng.integers(1, 256, (40, 50)).astype(np.float64)
    mean = rng.uniform(0, 255, (40, 50))
    text = rng.random((40, 50)) < 0.3
    f = 0.8
    # keep pixels away from the decision boundaries so the limit is exact
    safe = (np.abs(f * median - image) > 0.5) & (np.abs(mean - image) > 0.5)
    image, median, mean, text = (a[safe] for a in (image, median, mean, text))
    soft = losses.soft_counts_dense(torch.tensor(image), torch.tensor(median),
                                    torch.tensor(mean), torch.tensor(text), f, tau=1e-3)
    hard = _hard_counts(image, median, mean, text, f)
    np.testing.assert_allclose([float(c) for c in soft], hard, atol=1e-3)
    loose = losses.soft_counts_dense(torch.tensor(image), torch.tensor(median),
                                     torch.tensor(mean), torch.tensor(text), f, tau=20.0)
    assert abs(float(loose[0]) - hard[0]) > 1.0  # a wide tau is really soft


def test_soft_fm_and_nrm_match_hard_definitions():
    tp, fp, fn, tn = 30.0, 10.0, 20.0, 940.0
    assert float(losses.soft_fm(torch.tensor(tp), torch.tensor(fp), torch.tensor(fn))) == \
        pytest.approx(2 * tp / (2 * tp + fp + fn), abs=1e-6)
    nrm = 0.5 * (fn / (fn + tp) + fp / (fp + tn))
    assert float(losses.soft_nrm(*(torch.tensor(v) for v in (tp, fp, fn, tn)))) == \
        pytest.approx(nrm, abs=1e-6)


def test_sampled_counts_equal_dense_counts_when_every_candidate_is_kept():
    gray, text = _page(0)
    record = data.make_record(gray, text, name="p", collection="c", variant=0,
                              rng=np.random.default_rng(0), n_samples=10**9)
    from docbin.stats import page_stats
    from docbin.threshold import local_stats

    local = local_stats(gray, page_stats(gray).window_radius)
    f, tau = 0.8531, 1e-3  # no pixel exactly on the boundary I = f·L_m
    sampled = losses.soft_counts_sampled(
        torch.tensor(record.sample_image), torch.tensor(record.sample_median),
        torch.tensor(record.sample_text), f, tau, n_candidates=record.n_candidates,
        n_text=record.n_text, n_pixels=record.n_pixels)
    hard = _hard_counts(gray.astype(float), local.local_median.astype(float),
                        local.local_mean, text, f)
    # float32 sums: pixels within 0.01 of the boundary I = f·L_m may count fractionally
    near = (np.abs(f * local.local_median.astype(float) - gray) < 0.01) & (gray < local.local_mean)
    np.testing.assert_allclose([float(c) for c in sampled], hard, atol=int(near.sum()) + 0.5)


def test_record_cache_round_trip(tmp_path):
    from PIL import Image

    root = tmp_path / "data" / "coll"
    (root / "img").mkdir(parents=True)
    (root / "gt").mkdir()
    gray, text = _page(3)
    Image.fromarray(gray).save(root / "img" / "a.png")
    Image.fromarray(np.where(text, 0, 255).astype(np.uint8)).save(root / "gt" / "a.png")
    pairs = data.find_pairs([tmp_path / "data"])
    assert [(c, i.name) for c, i, _ in pairs] == [("coll", "a.png")]
    first = data.load_record(*pairs[0], variant=1, seed=0, cache_dir=tmp_path / "cache")
    assert len(list((tmp_path / "cache").glob("*.npz"))) == 1
    again = data.load_record(*pairs[0], variant=1, seed=0, cache_dir=tmp_path / "cache")
    for key, value in first.__dict__.items():
        np.testing.assert_array_equal(np.asarray(value), np.asarray(getattr(again, key)), key)
    plain = data.load_record(*pairs[0], variant=0, seed=0, cache_dir=None)
    assert plain.n_text == first.n_text  # augmentation keeps the ground truth
    assert not np.array_equal(plain.windows[0, 0], first.windows[0, 0])


def test_training_inputs_equal_the_runtime_inputs():
    from docbin import model as runtime
    from docbin.stats import page_stats
    from docbin.threshold import local_stats

    gray, text = _page(5, rows=700, cols=900)
    record = data.make_record(gray, text, name="p", collection="c", variant=0,
                              rng=np.random.default_rng(0))
    stats = page_stats(gray)
    local = local_stats(gray, stats.window_radius)
    z = np.linspace(0, 1, 64).reshape(8, 8)
    channels = training.BASE_CHANNELS + training.EXTRA_CHANNELS
    expected = runtime.build_input(gray, record.boxes, channels, z=z, b=stats.b, t=stats.t,
                                   balance=0.3, local_median=local.local_median,
                                   local_mean=local.local_mean)
    got = np.stack([training.build_channels(w, record, z, 0.7, 0.3, channels)
                    for w in record.windows])
    np.testing.assert_allclose(got, expected, atol=1e-6)


def test_training_smoke_reduces_the_loss():
    records = []
    for seed in range(3):
        gray, text = _page(seed)
        records.append(data.make_record(gray, text, name=f"p{seed}", collection="c",
                                        variant=0, rng=np.random.default_rng(seed)))
    config = training.TrainConfig(epochs=3, batch_pages=3, global_steps=20, width=8)
    n = config.n
    offset = training.optimise_global_surface(records, config)
    assert offset.shape == (n, n) and np.isfinite(offset).all()
    model = training.train_network(records, config, np.zeros((n, n), np.float32), offset)
    dz = training.predict_delta(model, records[0], np.zeros((n, n), np.float32), config)
    assert dz.shape == (n, n)
    assert np.abs(dz).max() <= config.delta_max


@pytest.mark.parametrize("loss_scope", ["page", "region"])
def test_train_command_exports_a_model_the_runtime_runs(tmp_path, loss_scope):
    from PIL import Image
    from typer.testing import CliRunner

    import docbin
    from docbin.cli import app

    root = tmp_path / "data" / "coll"
    (root / "img").mkdir(parents=True)
    (root / "gt").mkdir()
    for seed in range(2):
        gray, text = _page(seed, rows=520, cols=600)
        Image.fromarray(gray).save(root / "img" / f"p{seed}.png")
        Image.fromarray(np.where(text, 0, 255).astype(np.uint8)).save(root / "gt" / f"p{seed}.png")
    out = tmp_path / "model.onnx"
    result = CliRunner().invoke(app, ["train", "--data", str(tmp_path / "data"), "--out",
                                      str(out), "--epochs", "1", "--variants", "1",
                                      "--loss-scope", loss_scope])
    assert result.exit_code == 0, result.output
    assert out.exists() and out.stat().st_size < 2_000_000
    gray, _ = _page(7, rows=520, cols=600)
    hybrid = docbin.binarize(gray, method="hybrid", model=str(out))
    assert hybrid.image.shape == gray.shape
    assert len(hybrid.info["hybrid"]["delta_z"]) == 8
    from docbin.model import load_model

    assert f"loss scope {loss_scope}" in load_model(out).metadata.description
    again = CliRunner().invoke(app, ["train", "--data", str(tmp_path / "data"), "--out",
                                     str(out), "--epochs", "1"])
    assert again.exit_code != 0 and "exists" in again.output


def _wide_record(seed: int = 9):
    gray, text = _page(seed, rows=1300, cols=1700)
    return data.make_record(gray, text, name="wide", collection="c", variant=0,
                            rng=np.random.default_rng(seed))


def test_regional_loss_reads_the_runtime_factor_map():
    # the loss's f per sample is the runtime's --scope region map (tile field, upsampled)
    # at the sample, up to the bilinear interpolation between tile centres
    from docbin import regional
    from docbin.surface import BSplineSurface, clamped_uniform_knots, logistic_surface

    record = _wide_record()
    n, degree = 8, 3
    page = training.PageTensors(record, n, degree)
    rng = np.random.default_rng(0)
    offset = rng.normal(0, 0.02, (n, n)).astype(np.float32)
    patches = rng.normal(0, 0.05, (len(record.boxes), n, n)).astype(np.float32)
    chosen = np.arange(len(record.boxes))
    got = page.region_factor(torch.from_numpy(offset), torch.from_numpy(patches),
                             page.blend_weights(chosen)).numpy()
    knots = clamped_uniform_knots(n, degree)

    def base(b, t):
        return logistic_surface(b, t) + BSplineSurface(offset, knots, degree, base="none")(b, t)

    def delta_surface(dz):
        return BSplineSurface(dz, knots, degree, base="none")

    tiles = regional.hybrid_factor_field(base, delta_surface, patches, record.boxes,
                                         record.b, record.t, (record.rows, record.cols))
    field = regional.upsample_tiles(tiles, (record.rows, record.cols))
    rows = np.rint(record.sample_pos[:, 0] * record.rows - 0.5).astype(int)
    cols = np.rint(record.sample_pos[:, 1] * record.cols - 0.5).astype(int)
    expected = field[rows, cols]
    assert np.ptp(expected) > 0.01  # the map really varies across the page
    np.testing.assert_allclose(got, expected, atol=2e-3)


def test_regional_factor_with_equal_patches_is_the_page_factor():
    record = _wide_record()
    page = training.PageTensors(record, 8, 3)
    dz = torch.from_numpy(np.random.default_rng(1).normal(0, 0.05, (8, 8)).astype(np.float32))
    offset = torch.zeros(8, 8)
    chosen = np.arange(3)
    regional_f = page.region_factor(offset, dz.expand(3, 8, 8), page.blend_weights(chosen))
    np.testing.assert_allclose(regional_f.numpy(), float(page.factor(offset + dz)), atol=1e-6)


@pytest.mark.parametrize("scope", ["page", "region"])
def test_training_runs_with_either_loss_scope(scope):
    records = [_wide_record(seed) for seed in (2, 3)]
    config = training.TrainConfig(epochs=1, batch_pages=2, width=8, scope=scope)
    n = config.n
    model = training.train_network(records, config, np.zeros((n, n), np.float32),
                                   np.zeros((n, n), np.float32))
    dz = training.predict_delta(model, records[0], np.zeros((n, n), np.float32), config)
    assert np.isfinite(dz).all() and np.abs(dz).max() <= config.delta_max
    with pytest.raises(ValueError, match="scope"):
        training.train_network(records, training.TrainConfig(scope="tile"),
                               np.zeros((n, n), np.float32), np.zeros((n, n), np.float32))
