"""OCR accuracy: CER against hand-computed cases and a slow edit distance, Tesseract on
synthetic pages with exact text, and `docbin benchmark --ocr` through CliRunner."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import require_module, require_program
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image
from typer.testing import CliRunner

from docbin import synth
from docbin.cli import app
from docbin.errors import ExitCode, InputError, MissingDependencyError
from docbin.evaluation import benchmark as evaluation
from docbin.evaluation import ocr

require_module("rapidfuzz", "ocr")


@pytest.fixture
def tesseract():
    return require_program("tesseract", "tesseract-ocr")


def slow_levenshtein(a: str, b: str) -> int:
    """The textbook dynamic programme: d[i][j] = edits between a[:i] and b[:j]."""
    d = [[i + j if i * j == 0 else 0 for j in range(len(b) + 1)] for i in range(len(a) + 1)]
    for i in range(1, len(a) + 1):
        for j in range(1, len(b) + 1):
            d[i][j] = min(d[i - 1][j] + 1, d[i][j - 1] + 1,
                          d[i - 1][j - 1] + (a[i - 1] != b[j - 1]))
    return d[len(a)][len(b)]


# --- text and CER -------------------------------------------------------------------------

def test_normalise_collapses_whitespace():
    assert ocr.normalise("  one\ttwo\n\nthree  ") == "one two three"


def test_normalise_fold_ignores_case_punctuation_and_long_s():
    assert ocr.normalise("Haagſche Courant, 1742! — “Yes”") == "Haagſche Courant, 1742! — “Yes”"
    assert ocr.normalise("Haagſche Courant, 1742! — “Yes”", fold=True) == \
        "haagsche courant 1742 yes"


def test_cer_hand_computed():
    assert ocr.character_error_rate("sitting", "kitten") == pytest.approx(100 * 3 / 6)
    # H→h, drop ",", W→w, drop "!": 4 edits over 13 characters; none once folded
    assert ocr.character_error_rate("hello world", "Hello, World!") == \
        pytest.approx(100 * 4 / 13)
    assert ocr.character_error_rate("hello world", "Hello, World!", fold=True) == 0.0
    assert ocr.character_error_rate("one two\nthree", "one  two three") == 0.0


def test_cer_is_not_bounded_by_100():
    assert ocr.character_error_rate("abcdefgh", "ab") == pytest.approx(300.0)


def test_cer_of_an_empty_reference_is_an_error():
    with pytest.raises(ValueError, match="reference text is empty"):
        ocr.character_error_rate("text", " \n ")


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet="ab c.", max_size=12), st.text(alphabet="ab c.", min_size=1,
                                                        max_size=12))
def test_cer_matches_a_slow_edit_distance(hypothesis_text, reference):
    hypothesis_text, reference = ocr.normalise(hypothesis_text), ocr.normalise(reference)
    if not reference:
        return
    assert ocr.character_error_rate(hypothesis_text, reference) == pytest.approx(
        100 * slow_levenshtein(reference, hypothesis_text) / len(reference))


def test_ocr_settings_are_checked():
    with pytest.raises(ValueError, match="language codes"):
        ocr.OcrSettings(language="eng; rm")
    with pytest.raises(ValueError, match="psm"):
        ocr.OcrSettings(psm=14)


# --- transcriptions -----------------------------------------------------------------------

def test_transcription_path_is_beside_img(tmp_path):
    assert ocr.transcription_path(tmp_path / "c" / "img" / "P01.tif") == \
        tmp_path / "c" / "txt" / "P01.txt"


def test_read_transcription_errors(tmp_path):
    (tmp_path / "empty.txt").write_text(" \n", encoding="utf-8")
    (tmp_path / "latin1.txt").write_bytes("Haagsche Courant é".encode("latin-1"))
    with pytest.raises(InputError, match="holds no text"):
        ocr.read_transcription(tmp_path / "empty.txt")
    with pytest.raises(InputError, match="not UTF-8"):
        ocr.read_transcription(tmp_path / "latin1.txt")
    with pytest.raises(InputError, match="cannot read"):
        ocr.read_transcription(tmp_path / "missing.txt")


def test_transcribed_page_is_the_printed_page_and_its_text():
    page, gt, text = synth.transcribed_page(300, 400, 5, ("blur",))
    same_page, same_gt = synth.degraded_page(300, 400, 5, ("blur",), handwriting=0.0)
    np.testing.assert_array_equal(page, same_page)  # recording the text changes no pixel
    np.testing.assert_array_equal(gt, same_gt)
    assert text.endswith("\n") and not text.endswith("\n\n")
    assert len(ocr.normalise(text)) > 100


def test_handwriting_has_no_transcription():
    written: list[str] = []
    printed: list[str] = []
    synth.clean_page(300, 400, 5, handwriting=1.0, transcript=written)
    synth.clean_page(300, 400, 5, handwriting=0.0, transcript=printed)
    assert len([line for line in written if line]) <= 1  # at most the printed heading
    assert len([line for line in printed if line]) > 5


# --- Tesseract ----------------------------------------------------------------------------

def test_tesseract_reads_a_clean_synthetic_page(tesseract):
    """The transcription is the text drawn: Tesseract reads a clean page almost exactly."""
    page, gt, text = synth.transcribed_page(1100, 850, 2, ())
    read = ocr.tesseract_text(page)
    assert ocr.character_error_rate(read, text) < 5.0
    binary = np.where(gt, 0, 255).astype(np.uint8)
    assert ocr.character_error_rate(ocr.tesseract_text(binary), text) < 5.0


def test_tesseract_rejects_a_non_page(tesseract):
    with pytest.raises(ValueError, match="2-D uint8"):
        ocr.tesseract_text(np.zeros((4, 4, 3), np.uint8))


def test_missing_tesseract_names_the_package(monkeypatch):
    monkeypatch.setattr(ocr.shutil, "which", lambda name: None)
    with pytest.raises(MissingDependencyError, match="install the tesseract-ocr package"):
        ocr.check_tesseract("eng")


def test_missing_language_names_its_package(tesseract):
    with pytest.raises(MissingDependencyError, match="install tesseract-ocr-zzz"):
        ocr.check_tesseract("eng+zzz")


# --- benchmark ----------------------------------------------------------------------------

def write_collection(data, name, pages, *, transcribe=True, size=(700, 540)):
    """``data/name/{img,gt,txt}`` of printed synthetic pages ``(seed, kinds)``."""
    for sub in ("img", "gt", "txt"):
        (data / name / sub).mkdir(parents=True, exist_ok=True)
    for seed, kinds in pages:
        page, gt, text = synth.transcribed_page(*size, seed, kinds)
        Image.fromarray(page).save(data / name / "img" / f"p{seed}.png")
        Image.fromarray(np.where(gt, 0, 255).astype(np.uint8)).save(
            data / name / "gt" / f"p{seed}.png")
        if transcribe:
            (data / name / "txt" / f"p{seed}.txt").write_text(text, encoding="utf-8")
    return data


def test_keep_transcribed(tmp_path):
    data = write_collection(tmp_path, "a", [(1, ()), (2, ())], size=(64, 64))
    write_collection(data, "b", [(3, ())], transcribe=False, size=(64, 64))
    (data / "a" / "txt" / "p2.txt").unlink()
    kept, skipped = evaluation.keep_transcribed(evaluation.find_collections(data))
    assert [c.name for c in kept] == ["a"]
    assert [pair.name for pair in kept[0].matching.pairs] == ["p1"]
    assert skipped == 2


def test_benchmark_page_with_ocr_scores_every_method_and_the_gray_page(tmp_path, tesseract):
    data = write_collection(tmp_path, "a", [(4, ("stains", "noise"))])
    collection = evaluation.find_collections(data)[0]
    outcome = evaluation.benchmark_page(("a", collection.matching.pairs[0],
                                         ("classical", "otsu"), None, ocr.OcrSettings()))
    assert outcome.error is None
    assert [run.method for run in outcome.runs] == ["gray", "classical", "otsu"]
    for run in outcome.runs:
        assert 0.0 <= run.scores["cer_folded"] and 0.0 <= run.scores["cer"] < 20.0
    assert np.isnan(outcome.runs[0].scores["fm"]) and np.isnan(outcome.runs[0].seconds)
    assert outcome.runs[1].scores["fm"] > 80.0
    summary = evaluation.summarise([outcome], ["classical", "otsu"])
    header, cells = evaluation.summary_table(summary.overall)
    assert header[-3:] == ["CER", "CER fold", "s/MP"]
    assert [row[0] for row in cells] == ["gray", "classical", "otsu"]
    assert cells[0][2] == "n/a" and cells[0][-1] == "n/a"


def test_cli_benchmark_ocr(tmp_path, tesseract):
    data = write_collection(tmp_path / "data", "a", [(4, ("stains", "noise"))])
    write_collection(data, "a", [(6, ())], transcribe=False)
    report = tmp_path / "report.md"
    result = CliRunner().invoke(app, ["benchmark", str(data), "--ocr", "--baseline", "otsu",
                                      "--report", str(report)])
    assert result.exit_code == 0, result.output
    assert "1 page(s) without a transcription skipped" in result.stderr
    assert "CER fold" in result.stdout and "gray" in result.stdout
    text = report.read_text()
    assert "| CER | CER fold | s/MP |" in text and "character error rate" in text


def test_cli_benchmark_ocr_errors(tmp_path, tesseract, monkeypatch):
    data = write_collection(tmp_path, "a", [(1, ())], transcribe=False, size=(64, 64))
    runner = CliRunner()
    result = runner.invoke(app, ["benchmark", str(data), "--ocr", "--baseline", "none"])
    assert result.exit_code == ExitCode.input_error
    assert "no page has a transcription" in result.stderr
    result = runner.invoke(app, ["benchmark", str(data), "--ocr", "--ocr-language", "a b"])
    assert result.exit_code == ExitCode.usage
    result = runner.invoke(app, ["benchmark", str(data), "--ocr", "--ocr-language", "zzz"])
    assert result.exit_code == ExitCode.dependency_error
    assert "tesseract-ocr-zzz" in result.stderr
    monkeypatch.setattr(ocr.shutil, "which", lambda name: None)
    result = runner.invoke(app, ["benchmark", str(data), "--ocr"])
    assert result.exit_code == ExitCode.dependency_error
    assert result.stderr.count("\n") == 1 and "tesseract-ocr package" in result.stderr
