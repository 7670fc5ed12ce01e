"""The HTML report of `docbin benchmark --html`: overlays, pictures, the file it writes."""

from __future__ import annotations

import base64
import io
import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from docbin import synth
from docbin.cli import app
from docbin.evaluation import benchmark, report
from docbin.evaluation import pictures as report_pictures


def save(path: Path, image: np.ndarray) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(image).save(path)
    return path


def make_synthetic_data(root: Path, pages: int = 3, shape=(160, 220)) -> Path:
    """Degraded synthetic pages with their true ink (docbin.synth) in two collections."""
    for index in range(pages):
        collection = "alpha" if index < 2 else "beta"
        page, ink = synth.degraded_page(*shape, seed=40 + index)
        save(root / collection / "img" / f"page{index}.png", page)
        save(root / collection / "gt" / f"page{index}.png",
             np.where(ink, 0, 255).astype(np.uint8))
    return root


def test_error_overlay_against_per_pixel_reference():
    rng = np.random.default_rng(3)
    binary = np.where(rng.random((23, 31)) < 0.4, 0, 255).astype(np.uint8)
    truth = np.where(rng.random((23, 31)) < 0.3, 0, 255).astype(np.uint8)
    overlay = report_pictures.error_overlay(binary, truth)
    for row in range(binary.shape[0]):
        for col in range(binary.shape[1]):
            ink, true_ink = binary[row, col] == 0, truth[row, col] == 0
            expected = (report_pictures.CORRECT_INK if ink and true_ink else
                        report_pictures.MISSED_INK if true_ink else
                        report_pictures.FALSE_INK if ink else report_pictures.PAPER)
            assert tuple(overlay[row, col]) == expected
    # the three classes of ink are told apart, and none is the paper's colour
    assert len({report_pictures.CORRECT_INK, report_pictures.MISSED_INK, report_pictures.FALSE_INK, report_pictures.PAPER}) == 4


def test_steps_overlay_draws_the_refine_codes():
    binary = np.full((4, 5), 255, np.uint8)
    binary[1, :] = 0
    refined = np.zeros((4, 5), np.uint8)
    refined[1, 0], refined[2, 2], refined[1, 4] = 2, 3, 1
    overlay = report_pictures.steps_overlay(binary, refined)
    assert tuple(overlay[1, 0]) == report_pictures.MADE_TEXT
    assert tuple(overlay[2, 2]) == report_pictures.MADE_BACKGROUND
    assert tuple(overlay[1, 4]) == report_pictures.OUTPUT_INK == tuple(overlay[1, 2])
    assert tuple(overlay[0, 0]) == report_pictures.PAPER
    dropped = np.zeros((4, 5), bool)
    dropped[3, 1] = True
    overlay = report_pictures.steps_overlay(binary, None, dropped)
    assert tuple(overlay[3, 1]) == report_pictures.DROPPED_INK
    assert tuple(overlay[1, 0]) == report_pictures.OUTPUT_INK  # no refine record: the output's ink


def decode_data_uri(uri: str) -> Image.Image:
    prefix, data = uri.split(",", 1)
    assert prefix == "data:image/webp;base64"
    return Image.open(io.BytesIO(base64.b64decode(data)))


def test_page_pictures_thumbnails_and_full_resolution_files(tmp_path):
    page, ink = synth.degraded_page(150, 400, seed=5)
    truth = np.where(ink, 0, 255).astype(np.uint8)
    binary = np.where(page < 128, 0, 255).astype(np.uint8)
    refined = np.zeros(page.shape, np.uint8)
    refined[10:20, 10:30] = 2
    settings = report_pictures.PictureSettings(tmp_path, link="report_files", thumbnail_width=100)
    pictures = report_pictures.page_pictures("c", "p", page, truth,
                                    {"otsu": binary, "hybrid": binary}, settings, refined)
    assert pictures.size == (150, 400)
    assert set(pictures.methods["otsu"]) == {"output", "errors"}
    assert set(pictures.methods["hybrid"]) == {"output", "errors", "steps"}
    thumb = decode_data_uri(pictures.methods["otsu"]["errors"].thumbnail)
    assert thumb.size == (100, round(150 * 100 / 400))
    # full resolution: lossless for the binary page and the overlays
    output = pictures.methods["otsu"]["output"].full
    assert output == "report_files/c-p.otsu.png"
    assert np.array_equal(np.asarray(Image.open(tmp_path / "c-p.otsu.png").convert("L")),
                          binary)
    errors = Image.open(tmp_path / "c-p.otsu.errors.png").convert("RGB")
    assert np.array_equal(np.asarray(errors), report_pictures.error_overlay(binary, truth))
    steps = Image.open(tmp_path / "c-p.hybrid.steps.png").convert("RGB")
    assert np.array_equal(np.asarray(steps), report_pictures.steps_overlay(binary, refined))
    assert Image.open(tmp_path / "c-p.input.jpg").size == (400, 150)


def test_benchmark_page_pictures_only_when_asked(tmp_path):
    data = make_synthetic_data(tmp_path / "data", pages=1)
    [collection] = benchmark.find_collections(data)
    pair = collection.matching.pairs[0]
    methods = ("classical", "hybrid", "otsu")
    plain = benchmark.benchmark_page(("alpha", pair, methods, None))
    assert plain.pictures is None
    settings = report_pictures.PictureSettings(tmp_path / "files")
    settings.folder.mkdir()
    drawn = benchmark.benchmark_page(("alpha", pair, methods, None, None, settings))
    assert drawn.error is None and set(drawn.pictures.methods) == set(methods)
    assert "steps" in drawn.pictures.methods["hybrid"]
    # the scores do not depend on whether pictures are made
    assert [run.scores for run in drawn.runs] == [run.scores for run in plain.runs]
    # the output picture is the page that was scored
    saved = np.asarray(Image.open(settings.folder / "alpha-page0.classical.png").convert("L"))
    image = np.asarray(Image.open(pair.prediction))
    from docbin import binarize
    assert np.array_equal(saved, binarize(image, "classical").image)


def test_cli_benchmark_html(tmp_path):
    data = make_synthetic_data(tmp_path / "data")
    html = tmp_path / "out" / "report.html"
    html.parent.mkdir()
    stale = tmp_path / "out" / "report_files"
    stale.mkdir()
    (stale / "old.png").write_bytes(b"x")
    result = CliRunner().invoke(app, ["benchmark", str(data), "--method", "classical,hybrid",
                                      "--baseline", "otsu,sauvola", "--html", str(html)])
    assert result.exit_code == 0, result.output
    text = html.read_text()
    assert text.count('<section class="page"') == 3
    assert not re.search(r"(src|href)=\"(https?:)?//", text)  # nothing from the network
    assert not (stale / "old.png").exists()
    files = {path.name for path in stale.iterdir()}
    assert "alpha-page0.input.jpg" in files and "beta-page2.hybrid.steps.png" in files
    for name in re.findall(r'data-full="([^"]+)"', text):
        assert (html.parent / name).is_file(), name
    # pages sorted by the spread of FM between classical and hybrid, largest first
    spreads = [float(v) for v in re.findall(r'data-spread="([^"]+)"', text)]
    assert spreads == sorted(spreads, reverse=True)


def test_cli_benchmark_html_folder_must_exist(tmp_path):
    data = make_synthetic_data(tmp_path / "data", pages=1)
    result = CliRunner().invoke(app, ["benchmark", str(data), "--baseline", "none",
                                      "--html", str(tmp_path / "missing" / "r.html")])
    assert result.exit_code != 0
    assert "--html" in result.output and "does not exist" in result.output


def test_fm_spread():
    run = benchmark.PageRun
    runs = [run("c", "classical", "p", {"fm": 80.0}, 1.0, 1.0),
            run("c", "hybrid", "p", {"fm": 86.5}, 1.0, 1.0),
            run("c", "otsu", "p", {"fm": 40.0}, 1.0, 1.0)]
    assert report.fm_spread(runs, ["classical", "hybrid"]) == pytest.approx(6.5)
    assert report.fm_spread(runs, ["classical", "hybrid", "otsu"]) == pytest.approx(46.5)
    assert report.fm_spread(runs, ["classical"]) == 0.0
