"""``docbin benchmark``: docbin's methods and baselines on collections with ground truth."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from docbin.cli.common import (
    ModelOption,
    StepsOption,
    advance,
    check_folder_of,
    fail,
    print_table,
    progress,
    split_names,
    usage_error,
    write_text,
)
from docbin.errors import DocbinError, ExitCode, InputError
from docbin.options import Options


def benchmark(
    data: Annotated[Path, typer.Argument(
        metavar="DATA", show_default=False,
        help="A folder of collections, each with img/ (pages) and gt/ (ground truth, text "
             "black), paired by file name; or one such collection.")],
    method: Annotated[str, typer.Option(
        "--method", help="docbin methods to run, comma-separated: classical, hybrid.")
    ] = "classical",
    baseline: Annotated[str, typer.Option(
        "--baseline", help="Baselines to compare with, comma-separated: otsu, sauvola, wolf, "
        "niblack; none for no baseline.")] = "otsu,sauvola,wolf,niblack",
    collections: Annotated[str | None, typer.Option(
        "--collections", show_default=False,
        help="Only these collections, comma-separated (default: every one in DATA).")] = None,
    report: Annotated[Path | None, typer.Option(
        "--report", show_default=False,
        help="Also write the tables as Markdown to this file (replaced if it exists).")] = None,
    html: Annotated[Path | None, typer.Option(
        "--html", show_default=False,
        help="Also write a visual report to this HTML file: the tables, sortable, and per "
             "page the input, each method's output and its errors against the ground truth "
             "(missed ink orange, false ink blue), pages where the methods differ most "
             "first. Full-resolution pictures go to the folder <NAME>_files beside it. "
             "Self-contained: open it in any browser.")] = None,
    jobs: Annotated[int, typer.Option(
        "--jobs", "-j", min=1, help="Worker processes (pages run in parallel; the timings "
        "then include the competition for CPU cores).")] = 1,
    model: ModelOption = None,
    steps: StepsOption = None,
    ocr: Annotated[bool, typer.Option(
        "--ocr", help="Also run Tesseract on each binarized page (and on the gray page, row "
        "'gray') and report its character error rate against the page's transcription "
        "<collection>/txt/<NAME>.txt; pages without one are skipped.")] = False,
    ocr_language: Annotated[str, typer.Option(
        "--ocr-language", help="--ocr: Tesseract language(s), e.g. eng or eng+deu.")
    ] = "eng",
) -> None:
    """Benchmark docbin's methods and classical baselines on data with ground truth.

    Binarizes every page with each method, scores it with the DIBCO metrics, and prints a
    table per collection and one over all pages: FM, p-FM, PSNR, DRD (means over pages)
    and the binarization time in seconds per megapixel. With --ocr, also the character
    error rate (CER, %) of Tesseract's text, plain and ignoring case and punctuation.
    """
    from docbin.evaluation.baselines import BASELINES
    from docbin.evaluation.benchmark import (
        DOCBIN_METHODS,
        check_methods,
        find_collections,
        run_benchmark,
        summarise,
    )

    methods = split_names(method, "--method", DOCBIN_METHODS)
    methods += split_names(baseline, "--baseline", BASELINES)
    if not methods:
        raise usage_error("nothing to run: give --method and/or --baseline")
    names = None if collections is None else \
        [name.strip() for name in collections.split(",") if name.strip()]
    try:
        options = Options(method="hybrid" if steps is not None else "classical",
                          model=str(model) if model is not None else None, steps=steps)
    except ValueError as error:
        raise usage_error(str(error)) from None
    try:
        check_folder_of(report, "--report")
        check_folder_of(html, "--html")
        found = find_collections(data, names)
        check_methods(methods, options)
        ocr_settings = _ocr_settings(ocr_language) if ocr else None
    except (DocbinError, OSError, ValueError) as error:
        raise fail(error) from None
    found, total = _pages_to_run(data, found, ocr)

    try:
        pictures = None if html is None else _picture_settings(html)
    except (DocbinError, OSError) as error:
        raise fail(error) from None
    outcomes = []
    with progress("benchmarking", total) as bar:
        for outcome in run_benchmark(found, methods, options=options, jobs=jobs,
                                     ocr=ocr_settings, pictures=pictures):
            outcomes.append(outcome)
            advance(bar)
    summary = summarise(outcomes, methods)
    _report(summary, outcomes, data, jobs, report, html)
    if summary.failures:
        raise typer.Exit(int(ExitCode.failed_pages))


def _pages_to_run(data: Path, found, ocr: bool):
    """The collections' pages that can be scored (and read with --ocr), after saying which
    files have no partner; ``(collections, page count)``."""
    from docbin.evaluation.benchmark import keep_transcribed

    for collection in found:
        for path in collection.matching.unmatched_predictions:
            typer.echo(f"docbin: {collection.name}: no ground truth for {path}", err=True)
        for path in collection.matching.unmatched_ground_truths:
            typer.echo(f"docbin: {collection.name}: no page for {path}", err=True)
        for message in collection.matching.ambiguous:
            typer.echo(f"docbin: {collection.name}: skipped: {message}", err=True)
    total = sum(len(collection.matching.pairs) for collection in found)
    if total == 0:
        raise fail(InputError(f"{data}: no page in img/ has a ground truth in gt/ with the same "
                              "file name (suffix aside)"))
    if ocr:
        found, skipped = keep_transcribed(found)
        total -= skipped
        if total == 0:
            raise fail(InputError(f"{data}: --ocr: no page has a transcription "
                                  "<collection>/txt/<NAME>.txt"))
        if skipped:
            typer.echo(f"docbin: --ocr: {skipped} page(s) without a transcription skipped",
                       err=True)
    return found, total


def _report(summary, outcomes, data: Path, jobs: int, report: Path | None,
            html: Path | None) -> None:
    """The tables on stdout, failures on stderr, and the --report and --html files."""
    from docbin.evaluation.benchmark import render_markdown, summary_table

    for name, rows in summary.collections.items():
        if rows:
            print_table(name, *summary_table(rows))
    print_table(f"overall ({summary.overall[0].pages if summary.overall else 0} pages, mean "
                 "over pages)", *summary_table(summary.overall))
    for message in summary.failures:
        typer.echo(f"docbin: failed: {message}", err=True)
    if report is not None:
        try:
            write_text(report, render_markdown(summary, data=str(data), jobs=jobs))
        except (DocbinError, OSError) as error:
            raise fail(error) from None
    if html is not None:
        from docbin.evaluation.report import render_html  # Jinja2: --html only

        try:
            write_text(html, render_html(summary, outcomes, data=str(data), jobs=jobs))
        except (DocbinError, OSError) as error:
            raise fail(error) from None


def _picture_settings(html: Path):
    """Where --html's full-resolution pictures go: ``<NAME>_files`` beside it (made, and
    emptied of the pictures of an earlier report)."""
    from docbin.evaluation.pictures import PictureSettings, files_folder

    folder = files_folder(html)
    folder.mkdir(exist_ok=True)
    for old in folder.iterdir():
        if old.is_file() and old.suffix in (".png", ".jpg"):
            old.unlink()
    return PictureSettings(folder.resolve(), link=folder.name)


def _ocr_settings(language: str):
    """OCR settings for --ocr, after checking that Tesseract and its data are installed."""
    from docbin.evaluation.ocr import OcrSettings, check_tesseract

    try:
        settings = OcrSettings(language=language)
    except ValueError as error:
        raise usage_error(f"--ocr-language: {error}") from None
    check_tesseract(settings.language)
    return settings
