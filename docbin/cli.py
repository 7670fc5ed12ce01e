"""docbin's command line (Typer). The only module that prints or picks exit codes.

Heavy modules (NumPy, OpenCV, onnxruntime) are imported inside the commands so that
``docbin --help`` and ``docbin --version`` stay instant.
"""

from __future__ import annotations

import contextlib
import enum
import sys
from pathlib import Path
from typing import Annotated

import typer

from . import __version__
from .errors import (
    DocbinError,
    ExitCode,
    InputError,
    OutputError,
)
from .options import Options


def _flags_without_type() -> None:
    """Show flags as flags: Typer's rich help prints ``<bool>`` after each flag (and after
    ``--help``), as if it took a value. Flags display no type, as click prints them."""
    from typer import core as typer_core

    option = getattr(typer_core, "TyperOption", None)
    display = getattr(option, "display_type_rich", None)
    if display is None or getattr(display, "_docbin_flags", False):
        return

    def display_type_rich(self, ctx):
        return None if getattr(self, "is_flag", False) else display(self, ctx)

    display_type_rich._docbin_flags = True
    option.display_type_rich = display_type_rich


_flags_without_type()

app = typer.Typer(
    name="docbin",
    help="Binarize degraded document images into clean black-and-white pages.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)

_state = {"verbose": False}


def _version_callback(value: bool) -> None:
    if value:
        from importlib.util import find_spec  # finds the module without loading it

        typer.echo(f"docbin {__version__}")
        if find_spec("docbin._kernels") is not None:
            typer.echo("compiled kernels: built")
        else:
            typer.echo("compiled kernels: not built (no C compiler at install: the same "
                       "results, about 20 % slower)")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool | None = typer.Option(
        None, "--version", callback=_version_callback, is_eager=True,
        help="Print the version, and whether the compiled kernels were built, and exit."),
    verbose: bool = typer.Option(
        False, "--verbose", "-v", help="Show tracebacks of errors (for bug reports)."),
) -> None:
    """Binarize degraded document images into clean black-and-white pages."""
    _state["verbose"] = verbose


def fail(error: BaseException) -> typer.Exit:
    """Print a one-line error on stderr and return the Exit to raise."""
    if _state["verbose"]:
        import traceback
        traceback.print_exception(error)
    message = str(error) or error.__class__.__name__
    typer.echo(f"docbin: error: {message}", err=True)
    code = error.exit_code if isinstance(error, DocbinError) else ExitCode.internal
    return typer.Exit(int(code))


# --- commands ---------------------------------------------------------------------------
# Each command catches DocbinError (and OSError/ValueError from bad input) and calls
# `raise fail(error)`; anything else is a bug and is reported with its type.

_DEFAULTS = Options()


class Method(str, enum.Enum):
    """Binarization methods (``docbin.options.METHODS``)."""

    classical = "classical"
    hybrid = "hybrid"


_DEFAULT_METHOD = Method(_DEFAULTS.method)


class Scope(str, enum.Enum):
    """Where f is read (``docbin.options.SCOPES``)."""

    auto = "auto"
    page = "page"
    region = "region"


_DEFAULT_SCOPE = Scope(_DEFAULTS.scope)


class PictureScope(str, enum.Enum):
    """What ``docbin surface`` draws: the surface (page) or a page's f map (region)."""

    page = "page"
    region = "region"


class ModelKind(str, enum.Enum):
    """Which learned step ``docbin train`` trains."""

    refine = "refine"
    clean = "clean"


class Direction(str, enum.Enum):
    """What the hybrid's network may change (``docbin.refine.DIRECTIONS``)."""

    add = "add"
    both = "both"


class OutputFormat(str, enum.Enum):
    png = "png"
    tiff = "tiff"


def _usage_error(message: str) -> typer.Exit:
    """A one-line usage error (exit code 2)."""
    typer.echo(f"docbin: error: {message}", err=True)
    return typer.Exit(int(ExitCode.usage))


def _stderr_is_terminal() -> bool:
    return sys.stderr.isatty()


# --- binarize ---------------------------------------------------------------------------

@app.command()
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
        "(experimental): the classical decision with the pixels near its threshold "
        "re-decided by the shipped network; see models/README.md for how it "
        "compares.")] = _DEFAULT_METHOD,
    balance: Annotated[float, typer.Option(
        "--balance", min=0.0, max=1.0, help="hybrid: toward 1 more of the re-decided pixels "
        "become text (keeps faint strokes), toward 0 fewer (cleaner background).")
    ] = _DEFAULTS.balance,
    model: Annotated[Path | None, typer.Option(
        "--model", show_default=False,
        help="hybrid: an ONNX network (docbin train) to use instead of the shipped one.")
    ] = None,
    scope: Annotated[Scope, typer.Option(
        "--scope", help="page: one decision factor f per page (the paper's form). region "
        "(classical only): f varies across the page, from T_I and B_I per 256 px tile. "
        "auto: page.")] = _DEFAULT_SCOPE,
    threads: Annotated[int, typer.Option(
        "--threads", min=0, help="Threads for one page (0: one per core; folders run a "
        "page per core instead, see --jobs).")] = _DEFAULTS.threads,
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
        "(T_I, B_I, K, f, timings); in the region scope also <output stem>.f.png, the "
        "factor f(row, col) drawn over the page; with the hybrid <output stem>.refined.png, "
        "the pixels its network re-decided.")] = False,
    quiet: Annotated[bool, typer.Option(
        "--quiet", "-q", help="Print only errors.")] = False,
    dpi: Annotated[float | None, typer.Option(
        "--dpi", min=1.0, show_default=False,
        help="Resolution written to the outputs. Default: the input's, when it has one.")] = None,
    max_megapixels: Annotated[float, typer.Option(
        "--max-megapixels", help="Refuse pages with more pixels than this (millions).")
    ] = _DEFAULTS.max_megapixels,
    cluster: Annotated[str | None, typer.Option(
        "--cluster", show_default=False,
        help="Folders: run the pages on a Dask cluster, one task per page: a scheduler "
             "address (tcp://HOST:8786), or local:N for N local worker processes. Needs "
             "pip install \"docbin\\[cluster]\".")] = None,
    manifest: Annotated[Path | None, typer.Option(
        "--manifest", show_default=False,
        help="Folders: append a JSON line per page as it finishes (input, output, status, "
             "error, rows, cols, T_I, B_I, K, f, seconds, worker). The same command with the "
             "same file resumes: done pages are skipped, failed ones tried again.")] = None,
) -> None:
    """Binarize a page, a multi-page TIFF, a folder of pages, or stdin.

    Text comes out black and the background white, as a 1-bit PNG or a Group 4 TIFF.

    The input's DPI is kept. A multi-page TIFF gives <stem>-p1.png, <stem>-p2.png, ...

    INPUT and OUTPUT may be URLs (s3://bucket/scans/, memory://...) read and written through
    fsspec: pip install "docbin\\[cluster]" and the scheme's backend (s3fs, gcsfs, adlfs).
    """
    from .batch import Settings

    try:
        options = Options(method=method.value, balance=balance,
                          model=str(model) if model is not None else None,
                          scope=scope.value, threads=threads,
                          max_megapixels=max_megapixels)
    except ValueError as error:
        raise _usage_error(str(error)) from None
    settings = Settings(options=options, format=format.value if format else None,
                        overwrite=overwrite, explain=explain, dpi=dpi)
    try:
        if input == "-":
            _batch_only(cluster, manifest)
            _binarize_stdin(output, settings)
            return
        from .storage import location

        source = location(input)
        if source.is_dir():
            code = _binarize_folder(source, output, settings, recursive=recursive,
                                    jobs=jobs, quiet=quiet, cluster=cluster,
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
        raise _usage_error(f"{flag} is for a folder INPUT")


def _binarize_one(source, output: str, settings) -> None:
    """A single file (a path or URL) to a file, into an existing folder, or to stdout."""
    from .batch import binarize_source
    from .storage import location

    if settings.explain and output == "-":
        raise _usage_error("--explain writes a sidecar next to the output; give an output "
                           "file instead of -")
    if not source.exists():  # say so before any complaint about the output
        raise InputError(f"{source}: no such file")
    if output == "-":
        _binarize_to_stdout(source, str(source), settings)
        return
    target = location(output)
    if target.is_dir():
        target = target.child(source.stem + _suffix(settings.format or "png"))
    binarize_source(source, str(source), target, settings, skip_existing=False)


def _binarize_stdin(output: str, settings) -> None:
    from .batch import binarize_source
    from .storage import location

    target = None if output == "-" else location(output)
    if target is not None and target.is_dir():
        raise _usage_error("with - as INPUT, OUTPUT must be a file name or -")
    if settings.explain and output == "-":
        raise _usage_error("--explain writes a sidecar next to the output; give an output "
                           "file instead of -")
    if sys.stdin is None or sys.stdin.isatty():
        raise InputError("<stdin> is a terminal; pipe an image in (docbin binarize - out.png "
                         "< scan.tif) or give a file")
    data = sys.stdin.buffer.read()
    if target is None:
        _binarize_to_stdout(data, "<stdin>", settings)
    else:
        binarize_source(data, "<stdin>", target, settings, skip_existing=False)


def _suffix(format: str) -> str:
    from .io import OUTPUT_SUFFIXES

    return OUTPUT_SUFFIXES[format]


def _binarize_to_stdout(source, label: str, settings) -> None:
    from .io import encode_binary_pages, read_pages
    from .pipeline import binarize as binarize_page

    if sys.stdout.isatty():
        raise OutputError("refusing to write image data to a terminal; redirect stdout "
                          "(> page.png) or give an output file")
    format = settings.format or "png"
    if isinstance(source, bytes):
        pages = read_pages(source, settings.options.max_megapixels, name=label)
    else:
        pages = source.read_pages(settings.options.max_megapixels, label)
    if len(pages) > 1 and format != "tiff":
        raise OutputError(f"{label} has {len(pages)} pages and a PNG holds one; pass "
                          "--format tiff for a multi-page TIFF, or give an output folder")
    images, dpis = [], []
    for page in pages:
        result = binarize_page(page.image, settings.options.method, options=settings.options)
        images.append(result.image)
        dpis.append(settings.dpi if settings.dpi is not None else page.dpi)
    data = encode_binary_pages(images, format, dpis)
    try:
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
    except BrokenPipeError:
        raise OutputError("stdout was closed before the image was written") from None


class _Reporter:
    """Progress bar (stderr, terminals only) and notes for a folder batch."""

    def __init__(self, total: int, quiet: bool) -> None:
        self.quiet = quiet
        self.progress = None
        if not quiet and _stderr_is_terminal():
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
                     manifest: Path | None = None) -> ExitCode:
    """Every image of ``folder`` into the folder ``output`` (paths or URLs), on this
    machine or a Dask cluster; failures reported at the end."""
    from .batch import LocalExecutor, plan_folder, run_batch
    from .storage import location

    if output == "-":
        raise _usage_error("a folder INPUT needs an output folder, not -")
    entries = plan_folder(folder, location(output), recursive=recursive,
                          format=settings.format)
    if cluster is None:
        executor = LocalExecutor(jobs)
    else:
        from .cluster import DaskExecutor

        executor = DaskExecutor.connect(cluster)
    try:
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
        if _state["verbose"] and outcome.traceback:
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


@app.command("manifest")
def manifest_command(
    file: Annotated[Path, typer.Argument(
        metavar="MANIFEST", show_default=False,
        help="A manifest written by docbin binarize --manifest.")],
    slowest: Annotated[int, typer.Option(
        "--slowest", min=0, help="How many of the slowest pages to list.")] = 5,
) -> None:
    """Summarise a batch's manifest: pages per status, throughput, slowest pages, failures.

    Each page counts once, with its latest record. The exit code is 1 while pages remain
    failed (run the batch again to retry them).
    """
    from .manifest import read_records, summarise

    try:
        records = read_records(file)
        if not records:
            raise InputError(f"{file}: no manifest records in it")
    except (DocbinError, OSError) as error:
        raise fail(error) from None
    summary = summarise(records, slowest)
    counts = ", ".join(f"{summary.status[name]} {name}" for name in ("ok", "skipped", "failed"))
    typer.echo(f"pages: {summary.pages} ({counts}) in {summary.runs} run(s) on "
               f"{summary.workers} worker(s)")
    if summary.pages_per_second is not None:
        typer.echo(f"throughput: {summary.pages_per_second:.2f} pages/s; median "
                   f"{summary.seconds_per_page:.2f} s per page")
    if summary.slowest:
        typer.echo("slowest:")
        for item in summary.slowest:
            page = f" (page {item['page']} of {item['pages']})" if (item["pages"] or 1) > 1 \
                else ""
            typer.echo(f"  {item['seconds']:8.2f} s  {item['input']}{page}  "
                       f"[{item['worker']}]")
    if summary.failures:
        typer.echo("failed:")
        for item in summary.failures:
            typer.echo(f"  {item['error']}")
        raise typer.Exit(int(ExitCode.failed_pages))


# --- surface ----------------------------------------------------------------------------

@app.command()
def surface(
    page: Annotated[Path | None, typer.Option(
        "--page", show_default=False,
        help="An image: mark its (b, t) and f on the surface.")] = None,
    out: Annotated[Path, typer.Option(
        "--out", "-o", help="The PNG to write.")] = Path("surface.png"),
    overwrite: Annotated[bool, typer.Option(
        "--overwrite", help="Replace OUT if it exists.")] = False,
    scope: Annotated[PictureScope, typer.Option(
        "--scope", help="region (with --page): draw the page with its per-region factor "
        "f(row, col) laid over it instead of the surface.")] = PictureScope.page,
) -> None:
    """Draw the decision surface f(b, t) as a depth field (PNG).

    b (contour intensity) across, t (ink intensity) up, f in colour with contours.
    """
    try:
        from .io import read_image, write_bytes
        from .plotting import surface_picture

        if not overwrite and out.exists():
            raise OutputError(f"{out} exists; pass --overwrite to replace it")
        gray = None if page is None else read_image(page).image
        if scope == PictureScope.region:
            if gray is None:
                raise _usage_error("--scope region draws a page's factor map: give --page")
            from .plotting import factor_map_picture

            png, summary = factor_map_picture(gray, page_name=page.name)
        else:
            png, summary = surface_picture(gray,
                                           page_name=page.name if page is not None else "page")
        write_bytes(out, png, overwrite=overwrite)
    except (DocbinError, OSError, ValueError) as error:
        raise fail(error) from None
    details = ""
    if "f" in summary:
        details += f": b = {summary['b']:.3f}, t = {summary['t']:.3f}, f = {summary['f']:.3f}"
    if "f_min" in summary:
        details += f": f from {summary['f_min']:.3f} to {summary['f_max']:.3f}"
    typer.echo(f"docbin: wrote {out}{details}", err=True)


# --- train ------------------------------------------------------------------------------

@app.command()
def train(
    data: Annotated[list[Path], typer.Option(
        "--data", show_default=False,
        help="A folder of collections laid out as <collection>/img and <collection>/gt "
             "(ground truth: text 0, background 255). Repeat for several folders.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="The ONNX network to write.")],
    exclude: Annotated[list[str] | None, typer.Option(
        "--exclude", show_default=False, help="A collection to leave out (repeatable).")] = None,
    margin: Annotated[float, typer.Option(
        "--margin", min=0.01, max=1.0, help="δ: the network re-decides the pixels with "
        "|I − f·L_m| < δ·(B_I − T_I).")] = 0.2,
    direction: Annotated[Direction, typer.Option(
        "--direction", help="add: the network may only turn the classical background into "
        "text (the shipped form); both: it decides the band's pixels either way.")
    ] = Direction.add,
    reach: Annotated[int, typer.Option(
        "--reach", min=0, help="Added text must lie within this many pixels of the "
        "classical text (1: touching it, the shipped form); 0: no limit.")] = 1,
    synthetic: Annotated[int, typer.Option(
        "--synthetic", min=0, help="Generated degraded pages (docbin.synth) added as one "
        "more collection.")] = 40,
    per_page: Annotated[int, typer.Option(
        "--per-page", min=100, help="Band pixels drawn from each page.")] = 10000,
    epochs: Annotated[int | None, typer.Option(
        "--epochs", min=1, show_default=False,
        help="Network epochs (default: 4 for refine, 2 for clean).")] = None,
    seed: Annotated[int, typer.Option("--seed", help="Seed: same seed, same network.")] = 0,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Replace OUT.")] = False,
    model_kind: Annotated[ModelKind, typer.Option(
        "--model-kind", help="refine: the refinement network; clean: the keep-or-drop "
        "model of whole ink components (docbin/training/clean.py; uses --synthetic, "
        "--seed and --epochs).")] = ModelKind.refine,
) -> None:
    """Train the refinement network of --method hybrid (or, with --model-kind clean, the
    clean model) and export it to ONNX.

    Every collection weighs the same in the loss. Needs the training extra:
    pip install "docbin\\[train]". The export is checked against torch before it is
    written.
    """
    try:
        if not overwrite and out.exists():
            raise OutputError(f"{out} exists; pass --overwrite to replace it")
        if model_kind is ModelKind.clean:
            _train_clean(data, out, exclude or (), synthetic, epochs or 2, seed)
            return
        from .training.refine import TrainConfig
        from .training.refine import train as train_refiner  # needs torch

        config = TrainConfig(margin=margin, direction=direction.value, reach=reach,
                             per_page=per_page,
                             epochs=epochs or 4, seed=seed, synthetic_pages=synthetic)
        with _progress("pages", 0) as progress:
            def step(done: int, total: int) -> None:
                if progress is not None:
                    progress.update(progress.task_ids[0], completed=done, total=total)

            summary = train_refiner(data, out, exclude=exclude or (), config=config,
                                    progress=step)
    except (DocbinError, OSError, ValueError) as error:
        raise fail(error) from None
    typer.echo(f"docbin: wrote {out}: {summary['description']}; "
               f"{summary['parameters']} parameters, {summary['seconds']:.0f} s, "
               f"ONNX vs torch max difference {summary['export_error']:.1e}", err=True)


def _train_clean(data, out, exclude, synthetic: int, epochs: int, seed: int) -> None:
    """``docbin train --model-kind clean``: docbin.training.clean.train."""
    from .training.clean import CleanConfig
    from .training.clean import train as train_cleaner  # needs torch

    config = CleanConfig(epochs=epochs, seed=seed,
                         synthetic_pages=synthetic)
    with _progress("pages", 0) as progress:
        def step(done: int, total: int) -> None:
            if progress is not None:
                progress.update(progress.task_ids[0], completed=done, total=total)

        summary = train_cleaner(data, out, exclude=exclude, config=config, progress=step)
    typer.echo(f"docbin: wrote {out}: {summary['description']}; "
               f"{summary['parameters']} parameters, {summary['seconds']:.0f} s, "
               f"ONNX vs torch max difference {summary['export_error']:.1e}", err=True)


# --- evaluate and benchmark -------------------------------------------------------------

def _progress(label: str, total: int):
    """A rich progress bar on stderr when it is a terminal, else a no-op stand-in."""
    if not _stderr_is_terminal():
        return contextlib.nullcontext(None)
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    progress = Progress(TextColumn(label), BarColumn(), MofNCompleteColumn(),
                        console=Console(stderr=True), transient=True)
    progress.add_task(label, total=total)
    return progress


def _advance(progress) -> None:
    if progress is not None:
        progress.advance(progress.task_ids[0])


def _print_table(title: str | None, header: list, cells: list, mean: list | None = None) -> None:
    """A rich table on stdout (the output of evaluate and benchmark)."""
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title, title_justify="left", highlight=False)
    for index, name in enumerate(header):
        table.add_column(name, justify="left" if index == 0 else "right", no_wrap=index > 0)
    for row in cells:
        table.add_row(*row)
    if mean is not None:
        table.add_section()
        table.add_row(*mean, style="bold")
    Console(highlight=False).print(table)


def _write_text(path: Path, text: str) -> None:
    from .io import write_bytes

    write_bytes(path, text.encode("utf-8"), overwrite=True)


def _check_folder_of(path: Path | None, option: str) -> None:
    if path is not None and not path.parent.is_dir():
        raise OutputError(f"{option} {path}: the folder {path.parent} does not exist")


def _split_names(value: str, option: str, allowed: tuple) -> list:
    names = [] if value.strip().lower() in ("", "none") else \
        [name.strip() for name in value.split(",") if name.strip()]
    unknown = [name for name in names if name not in allowed]
    if unknown:
        raise _usage_error(f"{option}: unknown {', '.join(unknown)}; choose from "
                           f"{', '.join(allowed)}")
    return list(dict.fromkeys(names))


@app.command()
def evaluate(
    prediction: Annotated[Path, typer.Argument(
        metavar="PRED", show_default=False,
        help="A binarized page (text black), or a folder of them.")],
    ground_truth: Annotated[Path, typer.Argument(
        metavar="GT", show_default=False,
        help="Its ground truth (text black, background white), or a folder; files pair up "
             "by name without suffix (H01.png with H01.tif or H01_gt.png).")],
    json_file: Annotated[Path | None, typer.Option(
        "--json", show_default=False,
        help="Also write the scores as JSON: {\"images\": [{\"name\", \"fm\", \"pfm\", "
             "\"psnr\", \"drd\", \"nrm\", \"mpm\"}], \"mean\": {...}} (infinite values as "
             "null; replaced if it exists).")] = None,
    csv_file: Annotated[Path | None, typer.Option(
        "--csv", show_default=False,
        help="Also write one CSV row per image: name,fm,pfm,psnr,drd,nrm,mpm (replaced if "
             "it exists).")] = None,
) -> None:
    """Score binarized pages against ground truth with the DIBCO metrics.

    FM and p-FM (%, higher is better), PSNR (dB, higher is better), DRD, NRM and MPM
    (lower is better). Text is black: pixels darker than 128 count as text.

    Prints a table per image and the mean. Files without a partner are reported; the exit
    code is non-zero when nothing could be paired or a pair could not be scored.
    """
    import json

    from .errors import InputError
    from .evaluation import (
        EVALUATE_METRICS,
        TITLES,
        evaluate_pairs,
        evaluation_csv,
        evaluation_record,
        format_value,
        pair_paths,
    )
    from .io import json_safe

    try:
        _check_folder_of(json_file, "--json")
        _check_folder_of(csv_file, "--csv")
        matching = pair_paths(prediction, ground_truth)
    except (DocbinError, OSError, ValueError) as error:
        raise fail(error) from None
    for path in matching.unmatched_predictions:
        typer.echo(f"docbin: no ground truth for {path}", err=True)
    for path in matching.unmatched_ground_truths:
        typer.echo(f"docbin: no prediction for {path}", err=True)
    for message in matching.ambiguous:
        typer.echo(f"docbin: skipped: {message}", err=True)
    if not matching.pairs:
        raise fail(InputError(f"no prediction in {prediction} has a ground truth in "
                              f"{ground_truth} with the same file name (suffix aside)"))

    scored = []
    with _progress("evaluating", len(matching.pairs)) as progress:
        for item in evaluate_pairs(matching.pairs):
            scored.append(item)
            _advance(progress)
    good = [item for item in scored if item.scores is not None]
    failed = [item for item in scored if item.error is not None]
    if good:
        record = evaluation_record(good)
        header = ["Image", *(TITLES[key] for key in EVALUATE_METRICS)]
        cells = [[item.name, *(format_value(key, item.scores[key]) for key in EVALUATE_METRICS)]
                 for item in good]
        mean = [f"mean ({len(good)})",
                *(format_value(key, record["mean"][key]) for key in EVALUATE_METRICS)]
        _print_table(None, header, cells, mean)
        try:
            if json_file is not None:
                _write_text(json_file, json.dumps(json_safe(record), indent=2) + "\n")
            if csv_file is not None:
                _write_text(csv_file, evaluation_csv(good))
        except (DocbinError, OSError) as error:
            raise fail(error) from None
    for item in failed:
        typer.echo(f"docbin: failed: {item.name}: {item.error}", err=True)
    if not good:
        raise typer.Exit(int(ExitCode.input_error))
    if failed:
        raise typer.Exit(int(ExitCode.failed_pages))


@app.command()
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
    jobs: Annotated[int, typer.Option(
        "--jobs", "-j", min=1, help="Worker processes (pages run in parallel; the timings "
        "then include the competition for CPU cores).")] = 1,
    model: Annotated[Path | None, typer.Option(
        "--model", show_default=False,
        help="hybrid: an ONNX model file to use instead of the shipped one.")] = None,
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
    from .baselines import BASELINES
    from .errors import InputError
    from .evaluation import (
        DOCBIN_METHODS,
        check_methods,
        find_collections,
        keep_transcribed,
        render_markdown,
        run_benchmark,
        summarise,
        summary_table,
    )

    methods = _split_names(method, "--method", DOCBIN_METHODS)
    methods += _split_names(baseline, "--baseline", BASELINES)
    if not methods:
        raise _usage_error("nothing to run: give --method and/or --baseline")
    names = None if collections is None else \
        [name.strip() for name in collections.split(",") if name.strip()]
    options = Options(model=str(model) if model is not None else None)
    try:
        _check_folder_of(report, "--report")
        found = find_collections(data, names)
        check_methods(methods, options)
        ocr_settings = _ocr_settings(ocr_language) if ocr else None
    except (DocbinError, OSError, ValueError) as error:
        raise fail(error) from None
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

    outcomes = []
    with _progress("benchmarking", total) as progress:
        for outcome in run_benchmark(found, methods, options=options, jobs=jobs,
                                     ocr=ocr_settings):
            outcomes.append(outcome)
            _advance(progress)
    summary = summarise(outcomes, methods)
    for name, rows in summary.collections.items():
        if rows:
            _print_table(name, *summary_table(rows))
    _print_table(f"overall ({summary.overall[0].pages if summary.overall else 0} pages, mean "
                 "over pages)", *summary_table(summary.overall))
    for message in summary.failures:
        typer.echo(f"docbin: failed: {message}", err=True)
    if report is not None:
        try:
            _write_text(report, render_markdown(summary, data=str(data), jobs=jobs))
        except (DocbinError, OSError) as error:
            raise fail(error) from None
    if summary.failures:
        raise typer.Exit(int(ExitCode.failed_pages))


def _ocr_settings(language: str):
    """OCR settings for --ocr, after checking that Tesseract and its data are installed."""
    from .ocr import OcrSettings, check_tesseract

    try:
        settings = OcrSettings(language=language)
    except ValueError as error:
        raise _usage_error(f"--ocr-language: {error}") from None
    check_tesseract(settings.language)
    return settings


def main() -> None:
    """Console-script entry point."""
    try:
        app()
    except KeyboardInterrupt:
        typer.echo("docbin: interrupted", err=True)
        sys.exit(130)


if __name__ == "__main__":
    main()
