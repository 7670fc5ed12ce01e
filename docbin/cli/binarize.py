"""``docbin binarize``: a page, a multi-page TIFF, a folder tree, stdin, URLs, a cluster.

Every form runs the batch wing's per-file worker (:mod:`docbin.batch.task`): a file to a
file, a file or stdin to stdout, a folder through :func:`docbin.batch.runner.run_batch`.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from docbin.cli import common
from docbin.cli.common import (
    DEFAULTS,
    Method,
    ModelOption,
    OutputFormat,
    Scope,
    StepsOption,
    fail,
    usage_error,
    verbose,
)
from docbin.errors import DocbinError, ExitCode, InputError, OutputError
from docbin.options import Options

_DEFAULT_METHOD = Method(DEFAULTS.method)
_DEFAULT_SCOPE = Scope(DEFAULTS.scope)


def binarize(
    input: Annotated[str, typer.Argument(
        metavar="INPUT", show_default=False,
        help="An image file, a folder of images, or - to read one image from stdin.")],
    output: Annotated[str, typer.Argument(
        metavar="OUTPUT", show_default=False,
        help="The output file (or an existing folder to put it in), an output folder when "
             "INPUT is a folder, or - for stdout.")],
    method: Annotated[Method, typer.Option(
        "--method", help="classical: the parameter-free method (the default). hybrid "
        "(experimental): the classical decision with three learned steps around it "
        "(surface, refine, clean; see --steps and models/README.md for how each "
        "compares).")] = _DEFAULT_METHOD,
    balance: Annotated[float | None, typer.Option(
        "--balance", min=0.0, max=1.0, show_default=False,
        help="hybrid: toward 1 its learned steps keep more ink (faint strokes), toward 0 "
             f"less (a cleaner background). Default: {DEFAULTS.balance}.")] = None,
    model: ModelOption = None,
    steps: StepsOption = None,
    scope: Annotated[Scope, typer.Option(
        "--scope", help="page: one decision factor f per page (the paper's form). region "
        "(classical only): f varies across the page, from T_I and B_I per 256 px tile. "
        "auto: page.")] = _DEFAULT_SCOPE,
    threads: Annotated[int, typer.Option(
        "--threads", min=0, help="Threads for one page (0: one per core; folders run a "
        "page per core instead, see --jobs).")] = DEFAULTS.threads,
    format: Annotated[OutputFormat | None, typer.Option(
        "--format", show_default=False,
        help="png (1-bit) or tiff (CCITT Group 4). Default: from OUTPUT's suffix; png for "
             "folders and stdout.")] = None,
    overwrite: Annotated[bool, typer.Option(
        "--overwrite", help="Replace existing outputs (otherwise they are kept: an error for "
        "one file, skipped in a folder).")] = False,
    recursive: Annotated[bool, typer.Option(
        "--recursive", "-r", help="With a folder INPUT, also process sub-folders (mirrored "
        "in OUTPUT).")] = False,
    jobs: Annotated[int, typer.Option(
        "--jobs", "-j", min=0, help="Folders: N pages at a time, one core each (this "
        "process and N − 1 worker processes); 1: one page at a time; 0: one per CPU core. "
        "A single file uses every core through threads instead.")] = 0,
    explain: Annotated[bool, typer.Option(
        "--explain", help="Also write <output stem>.json with what was decided on the page "
        "(T_I, B_I, K, f, timings), and <output stem>.explain.png: the input, the output "
        "and what each step decided side by side (with the hybrid, what its learned steps "
        "changed; in the region scope, the factor f(row, col) over the page).")] = False,
    quiet: Annotated[bool, typer.Option(
        "--quiet", "-q", help="Print only errors.")] = False,
    dpi: Annotated[float | None, typer.Option(
        "--dpi", min=1.0, max=1e5, show_default=False,
        help="Resolution written to the outputs. Default: the input's, when it has one.")] = None,
    max_megapixels: Annotated[float, typer.Option(
        "--max-megapixels", help="Refuse pages with more pixels than this (millions).")
    ] = DEFAULTS.max_megapixels,
    cluster: Annotated[str | None, typer.Option(
        "--cluster", show_default=False,
        help="Folders: run the pages on a Dask cluster, one task per page: a scheduler "
             "address (tcp://HOST:8786), or local:N for N local worker processes. Needs "
             "pip install \"docbin\\[cluster]\".")] = None,
    cluster_timeout: Annotated[float, typer.Option(
        "--cluster-timeout", min=0.5, max=86400.0,
        help="--cluster: seconds to wait for the scheduler to answer and for a first worker "
             "to join it.")] = 10.0,
    manifest: Annotated[Path | None, typer.Option(
        "--manifest", show_default=False,
        help="Folders: append a JSON line per page as it finishes (input, output, status, "
             "error, rows, cols, ink_intensity, contour_intensity, window_radius, f, seconds, "
             "bytes, worker). The same command with the "
             "same file resumes: done pages are skipped, failed ones tried again.")] = None,
) -> None:
    """Binarize a page, a multi-page TIFF, a folder of pages, or stdin.

    Text comes out black and the background white, as a 1-bit PNG or a Group 4 TIFF.

    The input's DPI is kept. A multi-page TIFF gives <stem>-p1.png, <stem>-p2.png, ...,
    or one multi-page TIFF when OUTPUT is a TIFF.

    INPUT and OUTPUT may be URLs (s3://bucket/scans/, memory://...) read and written through
    fsspec: pip install "docbin\\[cluster]" and the scheme's backend (s3fs, gcsfs, adlfs).
    """
    from docbin.batch.task import Settings

    for name, value in (("INPUT", input), ("OUTPUT", output)):
        if not value.strip():
            raise usage_error(f"{name} is empty; give a file, a folder or -")
    if method.value != "hybrid":
        for flag, value in (("--model", model), ("--balance", balance), ("--steps", steps)):
            if value is not None:
                raise usage_error(f"{flag} sets the hybrid's learned steps; add --method "
                                  "hybrid (the classical method has no model)")
    try:
        options = Options(method=method.value,
                          balance=DEFAULTS.balance if balance is None else balance,
                          model=str(model) if model is not None else None,
                          steps=steps, scope=scope.value, threads=threads,
                          max_megapixels=max_megapixels)
    except ValueError as error:
        raise usage_error(str(error)) from None
    settings = Settings(options=options, format=format.value if format else None,
                        overwrite=overwrite, explain=explain, dpi=dpi)
    try:
        if input == "-":
            _batch_only(cluster, manifest)
            _binarize_stdin(output, settings)
            return
        from docbin.batch.storage import location

        source = location(input)
        if source.is_dir():
            code = _binarize_folder(source, output, settings, recursive=recursive,
                                    jobs=jobs, quiet=quiet, cluster=cluster,
                                    cluster_timeout=cluster_timeout,
                                    manifest=manifest)
            if code != ExitCode.ok:
                raise typer.Exit(int(code))
        else:
            _batch_only(cluster, manifest)
            _binarize_one(source, output, settings)
    except (DocbinError, OSError, ValueError) as error:
        raise fail(error) from None


def _batch_only(cluster: str | None, manifest: Path | None) -> None:
    if cluster is not None or manifest is not None:
        flag = "--cluster" if cluster is not None else "--manifest"
        raise usage_error(f"{flag} is for a folder INPUT")


def _binarize_one(source, output: str, settings) -> None:
    """A single file (a path or URL) to a file, into an existing folder, or to stdout."""
    from docbin.batch.storage import location
    from docbin.batch.task import binarize_source

    if settings.explain and output == "-":
        raise usage_error("--explain writes a sidecar next to the output; give an output "
                           "file instead of -")
    if not source.exists():  # say so before any complaint about the output
        raise InputError(f"{source}: no such file")
    if output == "-":
        _to_stdout(source, str(source), settings)
        return
    target = location(output)
    if output.endswith(("/", os.sep)) and not target.exists():  # a folder to make
        target.make_folder()
    if target.is_dir():
        target = target.child(source.stem + _suffix(settings.format or "png"))
    binarize_source(source, str(source), target, settings, skip_existing=False)


def _binarize_stdin(output: str, settings) -> None:
    from docbin.batch.storage import location
    from docbin.batch.task import binarize_source

    target = None if output == "-" else location(output)
    if target is not None and target.is_dir():
        raise usage_error("with - as INPUT, OUTPUT must be a file name or -")
    if settings.explain and output == "-":
        raise usage_error("--explain writes a sidecar next to the output; give an output "
                           "file instead of -")
    if sys.stdin is None or sys.stdin.isatty():
        raise InputError("<stdin> is a terminal; pipe an image in (docbin binarize - out.png "
                         "< scan.tif) or give a file")
    data = sys.stdin.buffer.read()
    if target is None:
        _to_stdout(data, "<stdin>", settings)
    else:
        binarize_source(data, "<stdin>", target, settings, skip_existing=False)


def _to_stdout(source, label: str, settings) -> None:
    from docbin.batch.task import binarize_to_stream

    if sys.stdout.isatty():
        raise OutputError("refusing to write image data to a terminal; redirect stdout "
                          "(> page.png) or give an output file")
    binarize_to_stream(source, label, settings, sys.stdout.buffer)


def _suffix(format: str) -> str:
    from docbin.io import OUTPUT_SUFFIXES

    return OUTPUT_SUFFIXES[format]


class _Reporter:
    """Progress bar (stderr, terminals only) and notes for a folder batch."""

    def __init__(self, total: int, quiet: bool) -> None:
        self.quiet = quiet
        self.progress = None
        if not quiet and common.stderr_is_terminal():
            from rich.console import Console
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeRemainingColumn,
            )

            self.progress = Progress(TextColumn("binarizing"), BarColumn(),
                                     MofNCompleteColumn(), TimeRemainingColumn(),
                                     console=Console(stderr=True))
            self.task = self.progress.add_task("binarize", total=total)

    def __enter__(self):
        if self.progress is not None:
            self.progress.start()
        return self

    def __exit__(self, *exc_info) -> None:
        if self.progress is not None:
            self.progress.stop()

    def total(self, total: int) -> None:
        if self.progress is not None:
            self.progress.update(self.task, total=total)

    def advance(self) -> None:
        if self.progress is not None:
            self.progress.advance(self.task)

    def note(self, message: str) -> None:
        if self.quiet:
            return
        if self.progress is not None:
            self.progress.console.print(message, markup=False, highlight=False)
        else:
            typer.echo(message, err=True)


def _binarize_folder(folder, output: str, settings, *, recursive: bool, jobs: int,
                     quiet: bool, cluster: str | None = None,
                     cluster_timeout: float = 10.0,
                     manifest: Path | None = None) -> ExitCode:
    """Every image of ``folder`` into the folder ``output`` (paths or URLs), on this
    machine or a Dask cluster; failures reported at the end."""
    from docbin.batch.plan import plan_folder
    from docbin.batch.runner import LocalExecutor, run_batch
    from docbin.batch.storage import location

    if output == "-":
        raise usage_error("a folder INPUT needs an output folder, not -")
    target = location(output)
    if cluster is None:
        executor = LocalExecutor(jobs)
    else:  # connect first: a scheduler that cannot be used leaves nothing behind
        from docbin.batch.cluster import DaskExecutor

        executor = DaskExecutor.connect(cluster, cluster_timeout,
                                        notice=lambda message: typer.echo(message, err=True))
    try:
        entries = plan_folder(folder, target, recursive=recursive, format=settings.format)
        if executor.dashboard_link and not quiet:
            typer.echo(f"docbin: Dask dashboard at {executor.dashboard_link}", err=True)
        with _Reporter(len(entries), quiet) as reporter:
            def report(outcome) -> None:
                for name in outcome.skipped:
                    reporter.note(f"docbin: skipped {name}: it exists (--overwrite replaces it)")
                reporter.advance()

            result = run_batch(entries, settings, executor, manifest=manifest,
                               on_outcome=report, on_start=reporter.total)
    finally:
        executor.close()
    failures = result.failures
    for outcome in failures:
        if verbose() and outcome.traceback:
            typer.echo(outcome.traceback.rstrip(), err=True)
        typer.echo(f"docbin: failed: {outcome.error}", err=True)
    if not quiet:
        done = ""
        if result.done_before:
            files = len({item["input"] for item in result.done_before})
            done = f", {files} file(s) done before ({manifest})"
        typer.echo(f"docbin: {result.written} page(s) written, {result.skipped} skipped, "
                   f"{len(failures)} file(s) failed{done}", err=True)
    return ExitCode.failed_pages if failures else ExitCode.ok
