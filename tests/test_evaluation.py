"""Pairing, benchmarking and reports; `docbin evaluate` and `docbin benchmark` via CliRunner."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from docbin.cli import app
from docbin.errors import ExitCode, InputError
from docbin.evaluation import benchmark as evaluation
from docbin.evaluation import metrics


def touch(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"")
    return path


def save(path: Path, image: np.ndarray) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(image).save(path)
    return path


def stroke_page(seed: int, shape=(40, 56)) -> tuple[np.ndarray, np.ndarray]:
    """A ground truth with two strokes and a prediction with a few flipped pixels."""
    rng = np.random.default_rng(seed)
    truth = np.full(shape, 255, np.uint8)
    truth[8:14, 4:50] = 0
    truth[20:36, 30:34] = 0
    flips = rng.random(shape) < 0.02
    prediction = np.where(flips, 255 - truth, truth).astype(np.uint8)
    return prediction, truth


# --- pairing ------------------------------------------------------------------------------

def test_match_pairs_by_stem_any_suffix(tmp_path):
    preds = [touch(tmp_path / "p" / name) for name in ("a.png", "b.tif", "c.png", "d.png")]
    truths = [touch(tmp_path / "g" / name) for name in ("a.bmp", "b.png", "c_GT.png", "e.png")]
    matching = evaluation.match_pairs(preds, truths)
    assert [(p.name, p.prediction.name, p.ground_truth.name) for p in matching.pairs] == [
        ("a", "a.png", "a.bmp"), ("b", "b.tif", "b.png"), ("c", "c.png", "c_GT.png")]
    assert [p.name for p in matching.unmatched_predictions] == ["d.png"]
    assert [p.name for p in matching.unmatched_ground_truths] == ["e.png"]
    assert matching.ambiguous == []


def test_exact_stem_wins_over_gt_suffix(tmp_path):
    preds = [touch(tmp_path / "p/a.png"), touch(tmp_path / "p/a_gt.png")]
    truths = [touch(tmp_path / "g/a.png"), touch(tmp_path / "g/a_gt.png")]
    matching = evaluation.match_pairs(preds, truths)
    assert [(p.prediction.name, p.ground_truth.name) for p in matching.pairs] == [
        ("a.png", "a.png"), ("a_gt.png", "a_gt.png")]


def test_ambiguous_stems_are_reported(tmp_path):
    preds = [touch(tmp_path / "p/a.png"), touch(tmp_path / "p/a.tif")]
    truths = [touch(tmp_path / "g/a.png")]
    matching = evaluation.match_pairs(preds, truths)
    assert matching.pairs == []
    assert len(matching.ambiguous) == 1 and "a.png, a.tif" in matching.ambiguous[0]
    assert [p.name for p in matching.unmatched_ground_truths] == ["a.png"]


def test_image_files_skips_hidden_and_other_files(tmp_path):
    for name in ("b.png", "a.JPG", ".hidden.png", "notes.txt"):
        touch(tmp_path / name)
    (tmp_path / "sub.png").mkdir()
    assert [p.name for p in evaluation.image_files(tmp_path)] == ["a.JPG", "b.png"]


def test_pair_paths(tmp_path):
    pred = touch(tmp_path / "out/page.png")
    truth = touch(tmp_path / "gt/page.tif")
    touch(tmp_path / "gt/other.png")
    single = evaluation.pair_paths(pred, truth)
    assert [(p.name, p.ground_truth) for p in single.pairs] == [("page", truth)]
    in_folder = evaluation.pair_paths(pred, tmp_path / "gt")
    assert [p.ground_truth for p in in_folder.pairs] == [truth]
    assert in_folder.unmatched_ground_truths == []  # other.png was not asked for
    with pytest.raises(InputError, match="GT must be a folder too"):
        evaluation.pair_paths(tmp_path / "out", truth)
    with pytest.raises(InputError, match="missing.png does not exist"):
        evaluation.pair_paths(tmp_path / "missing.png", truth)


# --- scoring and records ------------------------------------------------------------------

def test_score_pair_and_record(tmp_path):
    prediction, truth = stroke_page(0)
    pair = evaluation.Pair("x", save(tmp_path / "x.png", prediction),
                           save(tmp_path / "x_gt.tif", truth))
    scores = evaluation.score_pair(pair)
    assert scores == metrics.evaluate(prediction, truth)
    scored = list(evaluation.evaluate_pairs([pair, pair]))
    record = evaluation.evaluation_record(scored)
    assert list(record) == ["images", "mean"]
    assert list(record["images"][0]) == ["name", "fm", "pfm", "psnr", "drd", "nrm", "mpm"]
    assert record["mean"]["fm"] == pytest.approx(scores["fm"])


def test_score_pair_size_mismatch(tmp_path):
    pair = evaluation.Pair("x", save(tmp_path / "x.png", np.zeros((10, 12), np.uint8)),
                           save(tmp_path / "y.png", np.zeros((10, 13), np.uint8)))
    [scored] = evaluation.evaluate_pairs([pair])
    assert scored.scores is None
    assert "10x12" in scored.error and "10x13" in scored.error


def test_mean_scores_with_infinite_values():
    rows = [{"psnr": math.inf, "fm": 100.0}, {"psnr": 20.0, "fm": 80.0}]
    assert evaluation.mean_scores(rows, ("psnr", "fm")) == {"psnr": math.inf, "fm": 90.0}
    assert math.isnan(evaluation.mean_scores([], ("fm",))["fm"])


def test_evaluation_csv():
    scored = [evaluation.Scored("a", {key: 1.5 for key in evaluation.EVALUATE_METRICS}),
              evaluation.Scored("b", error="broken")]
    assert evaluation.evaluation_csv(scored).splitlines() == [
        "name,fm,pfm,psnr,drd,nrm,mpm", "a,1.5,1.5,1.5,1.5,1.5,1.5"]


# --- benchmark ----------------------------------------------------------------------------

def make_data(root: Path, make_page, collections=("alpha", "beta"), pages=2) -> Path:
    """Collections of synthetic pages whose ground truth is the page thresholded at 120."""
    for c, name in enumerate(collections):
        for index in range(pages):
            page = make_page(seed=10 * c + index)
            save(root / name / "img" / f"p{index}.png", page)
            save(root / name / "gt" / f"p{index}.png",
                 np.where(page < 120, 0, 255).astype(np.uint8))
    return root


def test_find_collections(tmp_path, make_page):
    data = make_data(tmp_path / "data", make_page)
    (tmp_path / "data" / "notes").mkdir()
    found = evaluation.find_collections(data)
    assert [c.name for c in found] == ["alpha", "beta"]
    assert [p.name for p in found[0].matching.pairs] == ["p0", "p1"]
    assert [c.name for c in evaluation.find_collections(data, ["beta"])] == ["beta"]
    assert [c.name for c in evaluation.find_collections(data / "alpha")] == ["alpha"]
    with pytest.raises(InputError, match="no collection gamma in .*available: alpha, beta"):
        evaluation.find_collections(data, ["gamma"])
    with pytest.raises(InputError, match="holds no collection"):
        evaluation.find_collections(data / "notes")


def test_benchmark_page_times_and_scores(tmp_path, make_page):
    data = make_data(tmp_path, make_page, collections=("alpha",), pages=1)
    [collection] = evaluation.find_collections(data)
    outcome = evaluation.benchmark_page(("alpha", collection.matching.pairs[0],
                                         ("classical", "otsu"), None))
    assert outcome.error is None
    assert [run.method for run in outcome.runs] == ["classical", "otsu"]
    run = outcome.runs[1]
    assert run.megapixels == pytest.approx(80 * 120 / 1e6)
    assert run.seconds > 0
    page = np.asarray(Image.open(collection.matching.pairs[0].prediction))
    truth = np.asarray(Image.open(collection.matching.pairs[0].ground_truth))
    from docbin.evaluation.baselines import otsu
    assert run.scores == metrics.evaluate(otsu(page), truth)


def test_summarise_and_markdown():
    def run(collection, method, fm, seconds, megapixels=2.0):
        scores = {key: 0.0 for key in metrics.METRICS} | {"fm": fm}
        return evaluation.PageRun(collection, method, "p", scores, seconds, megapixels)

    outcomes = [
        evaluation.PageOutcome("a", "p0", [run("a", "otsu", 80, 1.0), run("a", "wolf", 90, 2.0)]),
        evaluation.PageOutcome("a", "p1", [run("a", "otsu", 70, 3.0), run("a", "wolf", 60, 2.0)]),
        evaluation.PageOutcome("b", "p0", [run("b", "otsu", 30, 1.0, 4.0),
                                           run("b", "wolf", 40, 1.0, 4.0)]),
        evaluation.PageOutcome("b", "p1", error="b/p1: unreadable"),
    ]
    summary = evaluation.summarise(outcomes, ["otsu", "wolf"])
    otsu_a = summary.collections["a"][0]
    assert (otsu_a.pages, otsu_a.means["fm"], otsu_a.seconds_per_megapixel) == (2, 75.0, 1.0)
    [otsu_all, _] = summary.overall
    assert otsu_all.pages == 3
    assert otsu_all.means["fm"] == pytest.approx(60.0)  # mean over pages, not collections
    assert otsu_all.seconds_per_megapixel == pytest.approx(5.0 / 8.0)
    assert summary.failures == ["b/p1: unreadable"]
    text = evaluation.render_markdown(summary, data="somewhere")
    assert "| otsu | 3 | 60.00 | 0.00 | 0.00 | 0.00 | 0.625 |" in text
    assert "## a" in text and "## b" in text
    assert "- b/p1: unreadable" in text


# --- CLI ----------------------------------------------------------------------------------

@pytest.fixture
def runner():
    return CliRunner()


def make_eval_folders(tmp_path: Path) -> tuple[Path, Path]:
    for index in range(2):
        prediction, truth = stroke_page(index)
        save(tmp_path / "pred" / f"page{index}.tif", prediction)
        save(tmp_path / "gt" / f"page{index}.png", truth)
    save(tmp_path / "pred" / "extra.png", np.zeros((4, 4), np.uint8))
    save(tmp_path / "gt" / "lonely.png", np.zeros((4, 4), np.uint8))
    return tmp_path / "pred", tmp_path / "gt"


def test_cli_evaluate_folders(runner, tmp_path):
    pred, gt = make_eval_folders(tmp_path)
    out_json, out_csv = tmp_path / "scores.json", tmp_path / "scores.csv"
    result = runner.invoke(app, ["evaluate", str(pred), str(gt), "--json", str(out_json),
                                 "--csv", str(out_csv)])
    assert result.exit_code == 0, result.output
    assert "page0" in result.stdout and "page1" in result.stdout and "mean (2)" in result.stdout
    assert f"no ground truth for {pred / 'extra.png'}" in result.stderr
    assert f"no prediction for {gt / 'lonely.png'}" in result.stderr
    record = json.loads(out_json.read_text())
    assert [image["name"] for image in record["images"]] == ["page0", "page1"]
    expected = metrics.evaluate(*stroke_page(0))
    for key in evaluation.EVALUATE_METRICS:
        assert record["images"][0][key] == pytest.approx(expected[key])
    assert set(record["mean"]) == set(evaluation.EVALUATE_METRICS)
    assert out_csv.read_text().splitlines()[0] == "name,fm,pfm,psnr,drd,nrm,mpm"
    assert len(out_csv.read_text().splitlines()) == 3


def test_cli_evaluate_single_files_and_perfect_page(runner, tmp_path):
    _, truth = stroke_page(0)
    a, b = save(tmp_path / "a.png", truth), save(tmp_path / "b.png", truth)
    out_json = tmp_path / "s.json"
    result = runner.invoke(app, ["evaluate", str(a), str(b), "--json", str(out_json)])
    assert result.exit_code == 0, result.output
    assert "100.00" in result.stdout and "inf" in result.stdout
    record = json.loads(out_json.read_text())
    assert record["images"][0]["psnr"] is None  # infinite: JSON null
    assert record["images"][0]["fm"] == 100.0


def test_cli_evaluate_nothing_matched(runner, tmp_path):
    save(tmp_path / "pred" / "a.png", np.zeros((4, 4), np.uint8))
    save(tmp_path / "gt" / "b.png", np.zeros((4, 4), np.uint8))
    result = runner.invoke(app, ["evaluate", str(tmp_path / "pred"), str(tmp_path / "gt")])
    assert result.exit_code == ExitCode.input_error
    assert "no ground truth for" in result.stderr
    assert "docbin: error: no prediction in" in result.stderr
    assert result.stdout == ""


def test_cli_evaluate_size_mismatch_fails_that_pair(runner, tmp_path):
    pred, gt = make_eval_folders(tmp_path)
    save(pred / "small.png", np.zeros((10, 12), np.uint8))
    save(gt / "small.png", np.zeros((11, 12), np.uint8))
    result = runner.invoke(app, ["evaluate", str(pred), str(gt)])
    assert result.exit_code == ExitCode.failed_pages
    assert "failed: small:" in result.stderr and "10x12" in result.stderr
    assert "page0" in result.stdout


def test_cli_evaluate_missing_input(runner, tmp_path):
    result = runner.invoke(app, ["evaluate", str(tmp_path / "nope"), str(tmp_path)])
    assert result.exit_code == ExitCode.input_error
    assert result.stderr.startswith("docbin: error:") and "does not exist" in result.stderr


def test_cli_benchmark(runner, tmp_path, make_page):
    data = make_data(tmp_path / "data", make_page)
    report = tmp_path / "bench.md"
    result = runner.invoke(app, ["benchmark", str(data), "--baseline", "otsu,wolf",
                                 "--report", str(report)])
    assert result.exit_code == 0, result.output
    for word in ("alpha", "beta", "overall (4 pages", "classical", "otsu", "wolf", "s/MP"):
        assert word in result.stdout
    assert "sauvola" not in result.stdout
    text = report.read_text()
    assert text.startswith("# docbin benchmark")
    assert "| classical | 4 |" in text and "| wolf | 2 |" in text


def test_cli_benchmark_collections_and_jobs(runner, tmp_path, make_page):
    data = make_data(tmp_path / "data", make_page)
    result = runner.invoke(app, ["benchmark", str(data), "--collections", "beta",
                                 "--baseline", "none", "--jobs", "2"])
    assert result.exit_code == 0, result.output
    assert "beta" in result.stdout and "alpha" not in result.stdout
    assert "overall (2 pages" in result.stdout


def test_cli_benchmark_usage_errors(runner, tmp_path, make_page):
    data = make_data(tmp_path / "data", make_page, collections=("alpha",), pages=1)
    result = runner.invoke(app, ["benchmark", str(data), "--baseline", "bernsen"])
    assert result.exit_code == ExitCode.usage
    assert "--baseline: unknown bernsen" in result.stderr
    result = runner.invoke(app, ["benchmark", str(data), "--method", "none",
                                 "--baseline", "none"])
    assert result.exit_code == ExitCode.usage
    result = runner.invoke(app, ["benchmark", str(data), "--collections", "gamma"])
    assert result.exit_code == ExitCode.input_error
    assert "no collection gamma" in result.stderr
    result = runner.invoke(app, ["benchmark", str(data), "--report",
                                 str(tmp_path / "no" / "r.md")])
    assert result.exit_code == ExitCode.output_error


def test_cli_benchmark_reports_unpaired_pages(runner, tmp_path, make_page):
    data = make_data(tmp_path / "data", make_page, collections=("alpha",), pages=1)
    save(data / "alpha" / "img" / "orphan.png", make_page(seed=5))
    result = runner.invoke(app, ["benchmark", str(data), "--baseline", "otsu"])
    assert result.exit_code == 0, result.output
    assert "alpha: no ground truth for" in result.stderr and "orphan.png" in result.stderr


def test_cli_benchmark_hybrid_without_model_fails_before_running(runner, tmp_path, make_page):
    data = make_data(tmp_path / "data", make_page, collections=("alpha",), pages=1)
    result = runner.invoke(app, ["benchmark", str(data), "--method", "hybrid",
                                 "--model", str(tmp_path / "missing.onnx")])
    assert result.exit_code == ExitCode.model_error
    assert "missing.onnx" in result.stderr
    assert result.stdout == ""
