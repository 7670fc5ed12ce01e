"""`docbin binarize` through Typer's CliRunner: files, folders, pipes, errors."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

import docbin
from docbin import io as dio
from docbin.cli import common as cli_common
from docbin.errors import ExitCode
from docbin.method import kernels as _kernels_module


def write_png(path: Path, page: np.ndarray, dpi=None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(page).save(path, dpi=dpi) if dpi else Image.fromarray(page).save(path)
    return path


def expected_binary(path: Path, index: int = 0) -> np.ndarray:
    return docbin.binarize(dio.read_pages(path)[index].image).image


def assert_binarized(output: Path, source: Path, index: int = 0) -> None:
    with Image.open(output) as image:
        assert image.mode == "1"
    np.testing.assert_array_equal(dio.read_image(output).image, expected_binary(source, index))


def error_lines(result) -> list[str]:
    return [line for line in result.stderr.splitlines() if line.strip()]


@pytest.fixture
def scans(tmp_path, make_page):
    """A folder: two pages, a 3-page TIFF, a sub-folder page, a text file, a hidden file."""
    folder = tmp_path / "scans"
    write_png(folder / "a.png", make_page(seed=0), dpi=(300, 300))
    Image.fromarray(make_page(70, 100, seed=1)).convert("RGB").save(folder / "b.jpg")
    frames = [Image.fromarray(make_page(60, 90, seed=s)) for s in (2, 3, 4)]
    frames[0].save(folder / "book.tif", save_all=True, append_images=frames[1:])
    write_png(folder / "sub" / "deeper" / "c.png", make_page(seed=5))
    (folder / "notes.txt").write_text("not an image")
    write_png(folder / ".hidden.png", make_page(seed=6))
    return folder


# --- one file ------------------------------------------------------------------------------

def test_file_to_file(run, tmp_path, make_page):
    source = write_png(tmp_path / "page.png", make_page(), dpi=(300, 300))
    result = run("binarize", source, tmp_path / "clean.png")
    assert result.exit_code == 0, result.output
    assert result.stdout == "" and result.stderr == ""
    assert_binarized(tmp_path / "clean.png", source)
    assert dio.read_image(tmp_path / "clean.png").dpi == (300.0, 300.0)


def test_tiff_output_by_suffix_and_by_flag(run, tmp_path, make_page):
    source = write_png(tmp_path / "page.png", make_page(), dpi=(200, 200))
    assert run("binarize", source, tmp_path / "a.tif").exit_code == 0
    assert run("binarize", source, tmp_path / "b.out", "--format", "tiff").exit_code == 0
    for name in ("a.tif", "b.out"):
        with Image.open(tmp_path / name) as image:
            assert (image.format, image.mode, image.info["compression"]) == ("TIFF", "1",
                                                                            "group4")
            assert image.info["dpi"] == (200.0, 200.0)
        assert_binarized(tmp_path / name, source)


def test_suffix_and_format_disagree(run, tmp_path, make_page):
    source = write_png(tmp_path / "page.png", make_page())
    result = run("binarize", source, tmp_path / "out.png", "--format", "tiff")
    assert result.exit_code == ExitCode.output_error
    assert not (tmp_path / "out.png").exists()


def test_into_an_existing_folder(run, tmp_path, make_page):
    source = write_png(tmp_path / "page.png", make_page())
    (tmp_path / "out").mkdir()
    assert run("binarize", source, tmp_path / "out", "--format", "tiff").exit_code == 0
    assert_binarized(tmp_path / "out" / "page.tif", source)


def test_dpi_option_overrides(run, tmp_path, make_page):
    source = write_png(tmp_path / "page.png", make_page())
    assert run("binarize", source, tmp_path / "out.png", "--dpi", "400").exit_code == 0
    assert dio.read_image(tmp_path / "out.png").dpi == (400.0, 400.0)
    assert dio.read_image(source).dpi is None


def test_multi_page_file_gives_one_output_per_page(run, scans, tmp_path):
    result = run("binarize", scans / "book.tif", tmp_path / "book.png")
    assert result.exit_code == 0, result.output
    assert not (tmp_path / "book.png").exists()
    for index in range(3):
        assert_binarized(tmp_path / f"book-p{index + 1}.png", scans / "book.tif", index)


def test_multi_page_tiff_to_a_tiff_is_one_multi_page_file(run, scans, tmp_path):
    target = tmp_path / "book.tif"
    result = run("binarize", scans / "book.tif", target, "--explain")
    assert result.exit_code == 0, result.output
    pages = dio.read_pages(target)
    assert len(pages) == 3 and not (tmp_path / "book-p1.tif").exists()
    for index in range(3):
        np.testing.assert_array_equal(pages[index].image,
                                      expected_binary(scans / "book.tif", index))
        assert json.loads((tmp_path / f"book-p{index + 1}.json").read_text())["page"] == \
            index + 1


def test_existing_output_is_refused(run, tmp_path, make_page):
    source = write_png(tmp_path / "page.png", make_page())
    target = tmp_path / "out.png"
    target.write_bytes(b"keep me")
    result = run("binarize", source, target)
    assert result.exit_code == ExitCode.output_error
    assert error_lines(result) == [f"docbin: error: {target} exists; pass --overwrite "
                                   + "to replace it"]
    assert target.read_bytes() == b"keep me"
    assert run("binarize", source, target, "--overwrite").exit_code == 0
    assert_binarized(target, source)


def test_output_never_replaces_its_input(run, tmp_path, make_page):
    source = write_png(tmp_path / "page.png", make_page())
    before = source.read_bytes()
    result = run("binarize", source, source, "--overwrite")
    assert result.exit_code == ExitCode.output_error
    assert source.read_bytes() == before


def test_explain_sidecar(run, tmp_path, make_page):
    source = write_png(tmp_path / "page.png", make_page(), dpi=(300, 300))
    assert run("binarize", source, tmp_path / "out.png", "--explain").exit_code == 0
    record = json.loads((tmp_path / "out.json").read_text())
    info = docbin.binarize(dio.read_image(source).image).info
    for key in ("method", "ink_intensity", "contour_intensity", "window_radius", "f"):
        assert record[key] == pytest.approx(info[key]), key
    assert set(record["timings"]) == set(info["timings"])
    assert record["input"] == str(source) and record["output"] == str(tmp_path / "out.png")
    assert (record["page"], record["pages"], record["dpi"]) == (1, 1, [300.0, 300.0])
    assert (record["rows"], record["cols"]) == source_shape(source)


def source_shape(path: Path) -> tuple[int, int]:
    return dio.read_image(path).image.shape


def test_explain_sidecar_is_not_overwritten(run, tmp_path, make_page):
    source = write_png(tmp_path / "page.png", make_page())
    (tmp_path / "out.json").write_text("{}")
    result = run("binarize", source, tmp_path / "out.png", "--explain")
    assert result.exit_code == ExitCode.output_error
    assert "out.json exists" in result.stderr
    assert not (tmp_path / "out.png").exists()


@pytest.mark.parametrize("method", ["classical"])
def test_explain_draws_the_regional_factor_map(run, tmp_path, make_page, method):
    source = write_png(tmp_path / "page.png", make_page())
    result = run("binarize", source, tmp_path / "out.png", "--explain", "--scope", "region",
                 "--method", method)
    assert result.exit_code == 0, result.stderr
    record = json.loads((tmp_path / "out.json").read_text())
    picture = tmp_path / "out.explain.png"
    assert record["picture"] == str(picture)
    with Image.open(picture) as shown:
        assert shown.mode == "RGB" and max(shown.size) > 200
        colours = np.asarray(shown)
        region_width = shown.size[0]
    assert len(np.unique(colours.reshape(-1, 3), axis=0)) > 50  # the page and the colours
    # page scope: one f per page, so the picture has no f map panel: input and output only
    result = run("binarize", source, tmp_path / "page-scope.png", "--explain", "--scope",
                 "page", "--method", method)
    assert result.exit_code == 0
    with Image.open(tmp_path / "page-scope.explain.png") as shown:
        assert shown.size[0] < region_width
    assert json.loads((tmp_path / "page-scope.json").read_text())["scope"] == "page"
    # an existing picture is kept unless --overwrite
    (tmp_path / "out.png").unlink()
    (tmp_path / "out.json").unlink()
    result = run("binarize", source, tmp_path / "out.png", "--explain", "--scope", "region",
                 "--method", method)
    assert result.exit_code == ExitCode.output_error and "out.explain.png exists" in \
        result.stderr
    assert not (tmp_path / "out.png").exists()


@pytest.mark.parametrize("method", ["classical", "hybrid"])
def test_auto_scope_is_the_page(run, tmp_path, make_page, method):
    source = write_png(tmp_path / "page.png", make_page())
    assert run("binarize", source, tmp_path / "out.png", "--explain", "--method",
               method).exit_code == 0
    record = json.loads((tmp_path / "out.json").read_text())
    assert record["scope"] == "page" and "regional" not in record
    with Image.open(tmp_path / "out.explain.png") as shown:  # input | output
        assert shown.size[0] > 2 * 120
    explicit = docbin.binarize(dio.read_image(source).image, method, scope="page")
    assert (dio.read_image(tmp_path / "out.png").image == explicit.image).all()


def test_hybrid_explain_draws_the_refined_pixels(run, tmp_path, make_page):
    source = write_png(tmp_path / "page.png", make_page(200, 260))
    result = run("binarize", source, tmp_path / "out.png", "--explain", "--method", "hybrid")
    assert result.exit_code == 0, result.stderr
    record = json.loads((tmp_path / "out.json").read_text())
    hybrid = record["hybrid"]
    assert hybrid["refined_pixels"] > 0 and record["picture"] == str(
        tmp_path / "out.explain.png")
    assert hybrid["to_text"] + hybrid["to_background"] <= hybrid["refined_pixels"]
    with Image.open(tmp_path / "out.explain.png") as shown:  # input | output | refine
        assert shown.size[0] > 3 * 260
        colours = np.asarray(shown.convert("RGB")).reshape(-1, 3)
    assert (colours == [255, 200, 0]).all(axis=1).any()  # confirmed pixels in yellow
    result = run("binarize", source, tmp_path / "x.png", "--method", "hybrid", "--scope",
                 "region")
    assert result.exit_code == ExitCode.usage and "region" in result.stderr


def test_explain_needs_a_file_output(run, tmp_path, make_page):
    source = write_png(tmp_path / "page.png", make_page())
    result = run("binarize", source, "-", "--explain")
    assert result.exit_code == ExitCode.usage
    assert len(error_lines(result)) == 1


# --- pipes ---------------------------------------------------------------------------------

def test_stdin_to_stdout(run, tmp_path, make_page):
    source = write_png(tmp_path / "page.png", make_page(), dpi=(300, 300))
    result = run("binarize", "-", "-", input=source.read_bytes())
    assert result.exit_code == 0, result.stderr
    assert result.stderr == ""
    with Image.open(io.BytesIO(result.stdout_bytes)) as image:
        assert (image.format, image.mode) == ("PNG", "1")
    page = dio.read_image(result.stdout_bytes)
    np.testing.assert_array_equal(page.image, expected_binary(source))
    assert page.dpi == (300.0, 300.0)


def test_file_to_stdout_as_tiff(run, tmp_path, make_page):
    source = write_png(tmp_path / "page.png", make_page())
    result = run("binarize", source, "-", "--format", "tiff")
    assert result.exit_code == 0
    with Image.open(io.BytesIO(result.stdout_bytes)) as image:
        assert (image.format, image.info["compression"]) == ("TIFF", "group4")
    np.testing.assert_array_equal(dio.read_image(result.stdout_bytes).image,
                                  expected_binary(source))


def test_stdin_to_file(run, tmp_path, make_page):
    source = write_png(tmp_path / "page.png", make_page())
    result = run("binarize", "-", tmp_path / "out.tif", input=source.read_bytes())
    assert result.exit_code == 0
    assert_binarized(tmp_path / "out.tif", source)


def test_multi_page_to_stdout(run, scans):
    result = run("binarize", scans / "book.tif", "-")
    assert result.exit_code == ExitCode.output_error
    assert "--format tiff" in result.stderr and result.stdout_bytes == b""
    result = run("binarize", "-", "-", "--format", "tiff",
                 input=(scans / "book.tif").read_bytes())
    assert result.exit_code == 0
    pages = dio.read_pages(result.stdout_bytes)
    assert len(pages) == 3
    for index, page in enumerate(pages):
        np.testing.assert_array_equal(page.image, expected_binary(scans / "book.tif", index))


def test_empty_stdin(run):
    result = run("binarize", "-", "-", input=b"")
    assert result.exit_code == ExitCode.input_error
    assert error_lines(result) == ["docbin: error: <stdin>: empty, no image data"]


# --- folders -------------------------------------------------------------------------------

def test_folder(run, scans, tmp_path):
    out = tmp_path / "out"
    result = run("binarize", scans, out)
    assert result.exit_code == 0, result.output
    names = sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file())
    assert names == ["a.png", "b.png", "book-p1.png", "book-p2.png", "book-p3.png"]
    assert_binarized(out / "a.png", scans / "a.png")
    assert_binarized(out / "b.png", scans / "b.jpg")
    assert_binarized(out / "book-p2.png", scans / "book.tif", 1)
    assert dio.read_image(out / "a.png").dpi == (300.0, 300.0)
    assert result.stderr.strip() == "docbin: 5 page(s) written, 0 skipped, 0 file(s) failed"
    assert result.stdout == ""


def test_folder_recursive_mirrors_the_tree(run, scans, tmp_path):
    out = tmp_path / "out"
    result = run("binarize", scans, out, "--recursive", "--format", "tiff")
    assert result.exit_code == 0, result.output
    names = sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file())
    assert names == ["a.tif", "b.tif", "book.tif", "sub/deeper/c.tif"]  # one multi-page TIFF
    assert_binarized(out / "sub" / "deeper" / "c.tif", scans / "sub" / "deeper" / "c.png")


def test_output_folder_inside_the_input_is_not_read_back(run, scans):
    out = scans / "clean"
    assert run("binarize", scans, out, "-r").exit_code == 0
    result = run("binarize", scans, out, "-r")
    assert result.exit_code == 0
    assert "6 skipped" in result.stderr
    assert not (out / "clean").exists()


def test_folder_skips_existing_outputs(run, scans, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "a.png").write_bytes(b"done before")
    result = run("binarize", scans, out)
    assert result.exit_code == 0
    assert f"docbin: skipped {out / 'a.png'}: it exists (--overwrite replaces it)" \
        in error_lines(result)
    assert "4 page(s) written, 1 skipped, 0 file(s) failed" in result.stderr
    assert (out / "a.png").read_bytes() == b"done before"
    result = run("binarize", scans, out, "--overwrite")
    assert result.exit_code == 0
    assert "5 page(s) written, 0 skipped" in result.stderr
    assert_binarized(out / "a.png", scans / "a.png")


def test_folder_explain(run, scans, tmp_path):
    out = tmp_path / "out"
    assert run("binarize", scans, out, "--explain").exit_code == 0
    record = json.loads((out / "book-p3.json").read_text())
    assert (record["page"], record["pages"], record["output"]) == (3, 3,
                                                                   str(out / "book-p3.png"))
    assert (out / "a.json").exists() and (out / "b.json").exists()


def bad_files(folder: Path, make_page) -> None:
    (folder / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n garbage")
    (folder / "empty.jpg").write_bytes(b"")
    data = io.BytesIO()
    Image.fromarray(make_page(120, 160)).save(data, format="PNG")
    (folder / "cut.png").write_bytes(data.getvalue()[:400])


def test_bad_files_in_a_batch(run, scans, tmp_path, make_page):
    bad_files(scans, make_page)
    out = tmp_path / "out"
    result = run("binarize", scans, out)
    assert result.exit_code == ExitCode.failed_pages
    lines = error_lines(result)
    failed = [line for line in lines if line.startswith("docbin: failed: ")]
    assert [line.split(": ")[2] for line in failed] == [
        str(scans / "broken.png"), str(scans / "cut.png"), str(scans / "empty.jpg")]
    assert lines[-1] == "docbin: 5 page(s) written, 0 skipped, 3 file(s) failed"
    assert "Traceback" not in result.stderr
    assert sorted(p.name for p in out.iterdir()) == ["a.png", "b.png", "book-p1.png",
                                                     "book-p2.png", "book-p3.png"]


def test_quiet_batch_prints_only_failures(run, scans, tmp_path, make_page):
    out = tmp_path / "out"
    out.mkdir()
    (out / "a.png").write_bytes(b"done before")
    (scans / "broken.png").write_bytes(b"junk")
    result = run("binarize", scans, out, "--quiet")
    assert result.exit_code == ExitCode.failed_pages
    assert error_lines(result) == [f"docbin: failed: {scans / 'broken.png'}: not an "
                                   + "image, or a format docbin cannot read"]


def test_same_output_name_twice(run, tmp_path, make_page):
    folder = tmp_path / "in"
    write_png(folder / "page.png", make_page())
    Image.fromarray(make_page(seed=1)).save(folder / "page.tif")
    result = run("binarize", folder, tmp_path / "out")
    assert result.exit_code == ExitCode.failed_pages
    assert "also the output of" in result.stderr
    assert_binarized(tmp_path / "out" / "page.png", folder / "page.png")


@pytest.mark.parametrize("workers", [0, 1, 2])
def test_jobs_give_the_same_outputs_and_report(run, scans, tmp_path, make_page, workers):
    bad_files(scans, make_page)
    reference = tmp_path / "serial"
    hybrid = ("--method", "hybrid")
    single = run("binarize", scans / "a.png", tmp_path / "one.png", *hybrid)  # threads
    assert single.exit_code == 0
    serial = run("binarize", scans, reference, "-r", "--explain", "--jobs", "1", *hybrid)
    assert (tmp_path / "one.png").read_bytes() == (reference / "a.png").read_bytes()
    out = tmp_path / f"jobs{workers}"
    result = run("binarize", scans, out, "-r", "--explain", "--jobs", workers, *hybrid)
    assert result.exit_code == serial.exit_code == ExitCode.failed_pages
    assert result.stderr.replace(str(out), "OUT") == serial.stderr.replace(str(reference),
                                                                           "OUT")
    files = sorted(p.relative_to(out) for p in out.rglob("*.png"))
    assert files == sorted(p.relative_to(reference) for p in reference.rglob("*.png"))
    assert len(files) == 12  # 6 pages and their --explain pictures of the refined pixels
    for name in files:
        assert (out / name).read_bytes() == (reference / name).read_bytes()


def test_progress_bar_on_a_terminal(run, scans, tmp_path, monkeypatch):
    monkeypatch.setattr(cli_common, "stderr_is_terminal", lambda: True)
    result = run("binarize", scans, tmp_path / "out")
    assert result.exit_code == 0
    assert "binarizing" in result.stderr
    assert "5 page(s) written" in result.stderr
    quiet = run("binarize", scans, tmp_path / "out2", "--quiet")
    assert quiet.exit_code == 0 and quiet.stderr == ""


def test_folder_errors(run, scans, tmp_path):
    assert run("binarize", scans, "-").exit_code == ExitCode.usage
    result = run("binarize", scans, scans)
    assert result.exit_code == ExitCode.output_error and "input folder" in result.stderr
    (tmp_path / "file.png").write_bytes(b"")
    assert run("binarize", scans, tmp_path / "file.png").exit_code == ExitCode.output_error
    (tmp_path / "empty").mkdir()
    result = run("binarize", tmp_path / "empty", tmp_path / "out")
    assert result.exit_code == ExitCode.input_error
    assert "no images found" in result.stderr and len(error_lines(result)) == 1


# --- errors --------------------------------------------------------------------------------

@pytest.mark.parametrize("kind", ["missing", "empty", "truncated", "not an image"])
def test_single_bad_input(run, tmp_path, make_page, kind):
    source = tmp_path / "scan.png"
    if kind == "empty":
        source.write_bytes(b"")
    elif kind == "truncated":
        data = io.BytesIO()
        Image.fromarray(make_page(120, 160)).save(data, format="PNG")
        source.write_bytes(data.getvalue()[:300])
    elif kind == "not an image":
        source.write_text("hello")
    result = run("binarize", source, tmp_path / "out.png")
    assert result.exit_code == ExitCode.input_error
    lines = error_lines(result)
    assert len(lines) == 1 and lines[0].startswith(f"docbin: error: {source}")
    assert "Traceback" not in result.output
    assert not (tmp_path / "out.png").exists()
    verbose = run("-v", "binarize", source, tmp_path / "out.png")
    assert verbose.exit_code == ExitCode.input_error
    assert "Traceback" in verbose.stderr


def test_too_many_megapixels(run, tmp_path, make_page):
    source = write_png(tmp_path / "page.png", make_page())
    result = run("binarize", source, tmp_path / "out.png", "--max-megapixels", "0.005")
    assert result.exit_code == ExitCode.input_error
    assert "--max-megapixels" in result.stderr and "120x80" in result.stderr


def test_failed_write_leaves_no_file(run, tmp_path, make_page, monkeypatch):
    source = write_png(tmp_path / "in" / "page.png", make_page())
    out = tmp_path / "out"
    out.mkdir()

    def broken(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(dio.os, "replace", broken)
    result = run("binarize", source, out / "page.png")
    assert result.exit_code == ExitCode.output_error
    assert "No space left on device" in result.stderr
    result = run("binarize", source.parent, out, "--explain")
    assert result.exit_code == ExitCode.failed_pages
    assert list(out.iterdir()) == []


@pytest.mark.parametrize("args", [["--balance", "1.5"], ["--method", "fancy"],
                                  ["--jobs", "-1"], ["--format", "jpeg"]])
def test_bad_options_are_usage_errors(run, tmp_path, make_page, args):
    source = write_png(tmp_path / "page.png", make_page())
    result = run("binarize", source, tmp_path / "out.png", *args)
    assert result.exit_code == ExitCode.usage
    assert not (tmp_path / "out.png").exists()


def test_hybrid_without_a_model_is_a_model_error(run, scans, tmp_path):
    missing = tmp_path / "missing.onnx"
    result = run("binarize", scans / "a.png", tmp_path / "out.png", "--method", "hybrid",
                 "--model", missing)
    assert result.exit_code == ExitCode.model_error
    assert len(error_lines(result)) == 1 and str(missing) in result.stderr
    result = run("binarize", scans, tmp_path / "out", "--method", "hybrid", "--model",
                 missing, "--balance", "0.8")
    assert result.exit_code == ExitCode.model_error  # stops the batch: no file would work
    assert len(error_lines(result)) == 1


# --- start-up ------------------------------------------------------------------------------

@pytest.mark.parametrize("args", [["--version"], ["--help"], ["binarize", "--help"]])
def test_version_and_help_do_not_import_heavy_modules(args):
    code = (
        "import sys\n"
        "from docbin.cli import app\n"
        "try:\n"
        f"    app({args!r})\n"
        "except SystemExit:\n"
        "    pass\n"
        "heavy = [m for m in ('numpy', 'cv2', 'PIL', 'scipy', 'onnxruntime') "
        "if m in sys.modules]\n"
        "print('HEAVY', heavy)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            cwd=Path(__file__).parent, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    assert "HEAVY []" in result.stdout
    if args == ["--version"]:
        assert f"docbin {docbin.__version__}" in result.stdout

        built = "built" if _kernels_module.compiled is not None else "not built"
        assert f"compiled kernels: {built}" in result.stdout


def test_a_missing_input_is_reported_before_an_existing_output(tmp_path):

    from docbin.cli import app

    existing = tmp_path / "out.png"
    existing.write_bytes(b"keep")
    result = CliRunner().invoke(app, ["binarize", str(tmp_path / "missing.png"), str(existing)])
    assert result.exit_code == 3
    assert "no such file" in result.output and "exists" not in result.output
    assert existing.read_bytes() == b"keep"


def test_the_default_method_is_the_classical_one(run, tmp_path, make_page):
    source = write_png(tmp_path / "page.png", make_page())
    default = run("binarize", source, tmp_path / "default.png", "--explain")
    classical = run("binarize", source, tmp_path / "classical.png", "--method", "classical")
    assert default.exit_code == classical.exit_code == 0
    assert (tmp_path / "default.png").read_bytes() == (tmp_path / "classical.png").read_bytes()
    assert json.loads((tmp_path / "default.json").read_text())["method"] == "classical"


@pytest.mark.parametrize("command", [[], ["binarize"], ["surface"], ["evaluate"], ["benchmark"],
                                     ["train"], ["manifest"]])
def test_help_shows_flags_without_a_value_type(run, command):
    result = run(*command, "--help")
    assert result.exit_code == 0 and "--help" in result.stdout
    assert "<bool>" not in result.stdout
