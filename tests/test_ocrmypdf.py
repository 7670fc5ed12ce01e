"""The OCRmyPDF plugin with the real OCRmyPDF, Tesseract and Ghostscript.

A stained synthetic page with known text goes into a one-page PDF; OCRmyPDF reads it with
and without ``--plugin docbin.ocrmypdf`` and the text layers are compared with the text.
Skipped where OCRmyPDF or the programs are missing, except in CI (``CI`` set), where
.ci/run installs them and a missing one is a failure.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import require_module, require_program

ocrmypdf = require_module("ocrmypdf", "ocrmypdf")
require_program("tesseract", "tesseract-ocr")
require_program("gs", "ghostscript")

from docbin import synth
from docbin.evaluation import ocr

DPI = 100
PLUGIN = ["--plugin", "docbin.ocrmypdf"]


def stained_page(seed: int = 1, rows: int = 1100, cols: int = 850):
    """A printed page under deep stains and uneven light, and its exact text.

    Tesseract's own global threshold loses the text in the dark regions of this page
    (CER above 20 %); docbin keeps it (about 6 %).
    """
    transcript: list[str] = []
    page, _ = synth.clean_page(rows, cols, np.random.default_rng([seed, 0]), handwriting=0.0,
                               transcript=transcript)
    page = synth.stains(page, np.random.default_rng([seed, 1]), count=3, depth=0.7)
    page = synth.uneven_light(page, np.random.default_rng([seed, 2]), strength=0.5)
    page = synth.noise(page, np.random.default_rng([seed, 3]))
    return page, "\n".join(transcript)


def make_pdf(page: np.ndarray, path: Path) -> Path:
    """A one-page PDF holding ``page`` losslessly (PNG data) at :data:`DPI`."""
    import img2pdf
    from PIL import Image

    png = path.with_suffix(".png")
    Image.fromarray(page).save(png, dpi=(DPI, DPI))
    path.write_bytes(img2pdf.convert(str(png)))
    return path


def run_ocrmypdf(*args) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "ocrmypdf", "--output-type", "pdf", "--jobs", "1",
               *map(str, args)]
    return subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)


def text_layer(pdf: Path) -> str:
    from pdfminer.high_level import extract_text

    return extract_text(str(pdf))


def page_pixels(pdf: Path) -> np.ndarray:
    """The pixels of the one image on the first page, as gray."""
    import pikepdf

    with pikepdf.open(pdf) as document:
        images = list(document.pages[0].get_images().values())
        assert len(images) == 1, f"expected one image on the page, found {len(images)}"
        return np.asarray(pikepdf.PdfImage(images[0]).as_pil_image().convert("L"))


@pytest.fixture(scope="module")
def stained(tmp_path_factory):
    folder = tmp_path_factory.mktemp("ocrmypdf")
    page, text = stained_page()
    return page, text, make_pdf(page, folder / "stained.pdf"), folder


@pytest.fixture(scope="module")
def with_plugin(stained):
    _page, _text, pdf, folder = stained
    out = folder / "with.pdf"
    done = run_ocrmypdf(*PLUGIN, "--docbin-method", "classical", pdf, out)
    assert done.returncode == 0, done.stderr
    return out


@pytest.fixture(scope="module")
def without_plugin(stained):
    _page, _text, pdf, folder = stained
    out = folder / "without.pdf"
    done = run_ocrmypdf(pdf, out)
    assert done.returncode == 0, done.stderr
    return out


def words(text: str) -> set[str]:
    return {word for word in re.findall(r"[a-z]+", text.lower()) if len(word) >= 4}


def test_binarize_image_keeps_size_and_dpi():
    from argparse import Namespace

    from PIL import Image

    from docbin import binarize
    from docbin.ocrmypdf import binarize_image

    page, _text = stained_page(rows=300, cols=240)
    options = Namespace(docbin_method="classical")
    colour = Image.fromarray(np.dstack([page] * 3))
    colour.info["dpi"] = (150, 150)
    result = binarize_image(colour, options)
    assert result.mode == "L" and result.info["dpi"] == (150, 150)
    np.testing.assert_array_equal(np.asarray(result), binarize(page, "classical").image)
    bilevel = Image.fromarray(page).convert("1")
    assert binarize_image(bilevel, options) is bilevel  # already black and white


def test_help_lists_the_plugin_options():
    done = run_ocrmypdf(*PLUGIN, "--help")
    assert done.returncode == 0, done.stderr
    for option in ("--docbin-method", "--docbin-balance", "--docbin-model", "--docbin-final"):
        assert option in done.stdout


def test_plugin_finds_the_words_of_the_page(stained, with_plugin):
    _page, text, _pdf, _folder = stained
    found = words(text_layer(with_plugin))
    expected = words(text)
    share = len(expected & found) / len(expected)
    assert share > 0.75, f"only {share:.0%} of the page's words are in the text layer"


def test_stained_page_reads_better_with_the_plugin(stained, with_plugin, without_plugin):
    _page, text, _pdf, _folder = stained
    cer_with = ocr.character_error_rate(text_layer(with_plugin), text)
    cer_without = ocr.character_error_rate(text_layer(without_plugin), text)
    assert cer_with < 12.0
    assert cer_with < cer_without - 5.0, (cer_with, cer_without)


def test_visible_page_is_unchanged(stained, with_plugin):
    page, _text, _pdf, _folder = stained
    np.testing.assert_array_equal(page_pixels(with_plugin), page)


def test_docbin_final_shows_the_binarized_page(stained):
    page, _text, pdf, folder = stained
    out = folder / "final.pdf"
    done = run_ocrmypdf(*PLUGIN, "--docbin-method", "classical", "--docbin-final",
                        "--force-ocr", pdf, out)
    assert done.returncode == 0, done.stderr
    shown = page_pixels(out)
    assert shown.shape == page.shape
    assert set(np.unique(shown)) <= {0, 255}
    from docbin import binarize

    np.testing.assert_array_equal(shown, binarize(page, "classical").image)


@pytest.mark.parametrize("args, message", [
    (["--docbin-final"], "--force-ocr"),
    (["--docbin-balance", "1.5"], "balance must lie in [0, 1]"),
    (["--docbin-method", "hybrid", "--docbin-model", "missing.onnx"], "missing.onnx"),
])
def test_bad_plugin_options_stop_before_any_page(stained, args, message):
    _page, _text, pdf, folder = stained
    out = folder / "never.pdf"
    done = run_ocrmypdf(*PLUGIN, *args, pdf, out)
    assert done.returncode == int(ocrmypdf.ExitCode.bad_args), done.stderr
    assert message in done.stderr
    assert not out.exists()


def test_page_that_cannot_be_binarized_falls_back(stained, monkeypatch, caplog):
    """docbin fails on the page: OCRmyPDF's own image is read and the document is made."""
    import docbin.pipeline

    def broken(*args, **kwargs):
        raise MemoryError("no memory for this page")

    monkeypatch.setattr(docbin.pipeline, "binarize", broken)
    _page, text, pdf, folder = stained
    out = folder / "fallback.pdf"
    # In this process, with threads, so that the broken binarize is the one called.
    code = ocrmypdf.ocr(pdf, out, plugins=["docbin.ocrmypdf"], use_threads=True, jobs=1,
                        output_type="pdf", progress_bar=False)
    assert code == ocrmypdf.ExitCode.ok
    assert "could not binarize the page (MemoryError: no memory for this page)" in caplog.text
    assert len(words(text) & words(text_layer(out))) > 0  # Tesseract's own reading
