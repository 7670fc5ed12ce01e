"""docbin's command line (Typer). The only module that prints or picks exit codes.

Heavy modules (NumPy, OpenCV, onnxruntime) are imported inside the commands so that
``docbin --help`` and ``docbin --version`` stay instant.
"""

from __future__ import annotations

import contextlib
import dataclasses
import enum
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated

import typer

from . import __version__
from .errors import (
    DocbinError,
    ExitCode,
    InputError,
    MissingDependencyError,
    ModelError,
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
        typer.echo(f"docbin {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool | None = typer.Option(
        None, "--version", callback=_version_callback, is_eager=True,
        help="Print the version and exit."),
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
) -> None:
    """Binarize a page, a multi-page TIFF, a folder of pages, or stdin.

    Text comes out black and the background white, as a 1-bit PNG or a Group 4 TIFF.

    The input's DPI is kept. A multi-page TIFF gives <stem>-p1.png, <stem>-p2.png, ...
    """
    try:
        options = Options(method=method.value, balance=balance,
                          model=str(model) if model is not None else None,
                          scope=scope.value, threads=threads,
                          max_megapixels=max_megapixels)
    except ValueError as error:
        raise _usage_error(str(error)) from None
    settings = _Settings(options=options, format=format.value if format else None,
                         overwrite=overwrite, explain=explain, dpi=dpi)
    try:
        if input == "-":
            _binarize_stdin(output, settings)
        elif Path(input).is_dir():
            code = _binarize_folder(Path(input), output, settings, recursive=recursive,
                                    jobs=jobs, quiet=quiet)
            if code != ExitCode.ok:
                raise typer.Exit(int(code))
        else:
            _binarize_one(Path(input), output, settings)
    except (DocbinError, OSError, ValueError) as error:
        raise fail(error) from None


@dataclass(frozen=True)
class _Settings:
    """Everything a worker needs to binarize a file (picklable)."""

    options: Options
    format: str | None
    overwrite: bool
    explain: bool
    dpi: float | None


@dataclass
class _Outcome:
    """What happened to one input file of a batch."""

    label: str
    written: list = field(default_factory=list)
    skipped: list = field(default_factory=list)
    error: str | None = None
    fatal: BaseException | None = None  # stops the batch (model or dependency missing)
    traceback: str | None = None


def _binarize_one(source: Path, output: str, settings: _Settings) -> None:
    """A single file to a file, into an existing folder, or to stdout."""
    if settings.explain and output == "-":
        raise _usage_error("--explain writes a sidecar next to the output; give an output "
                           "file instead of -")
    if not source.exists():  # say so before any complaint about the output
        raise InputError(f"{source}: no such file")
    target = None
    if output != "-":
        target = Path(output)
        if target.is_dir():
            target = target / (source.stem + _suffix(settings.format or "png"))
    _binarize_source(source, str(source), target, settings, skip_existing=False)


def _binarize_stdin(output: str, settings: _Settings) -> None:
    from .errors import InputError

    if output != "-" and Path(output).is_dir():
        raise _usage_error("with - as INPUT, OUTPUT must be a file name or -")
    if settings.explain and output == "-":
        raise _usage_error("--explain writes a sidecar next to the output; give an output "
                           "file instead of -")
    if sys.stdin is None or sys.stdin.isatty():
        raise InputError("<stdin> is a terminal; pipe an image in (docbin binarize - out.png "
                         "< scan.tif) or give a file")
    data = sys.stdin.buffer.read()
    target = None if output == "-" else Path(output)
    _binarize_source(data, "<stdin>", target, settings, skip_existing=False)


def _suffix(format: str) -> str:
    from .io import OUTPUT_SUFFIXES

    return OUTPUT_SUFFIXES[format]


def _binarize_source(source, label: str, target: Path | None, settings: _Settings,
                     skip_existing: bool) -> _Outcome:
    """Read every page of ``source``, binarize it and write it next to ``target``.

    ``target`` None means stdout. One page goes to ``target``; page N of a multi-page
    file goes to ``<stem>-pN<suffix>``. Existing outputs are skipped when
    ``skip_existing``, an error otherwise (unless ``settings.overwrite``).
    """
    from .io import output_format, read_pages

    outcome = _Outcome(label)
    if target is None:
        _binarize_to_stdout(source, label, settings)
        return outcome
    format = output_format(target, settings.format)
    if isinstance(source, Path):
        _check_not_input(source, target)
    if not settings.overwrite and target.exists():
        if skip_existing:
            outcome.skipped.append(str(target))
            return outcome
        raise OutputError(f"{target} exists; pass --overwrite to replace it")
    pages = read_pages(source, settings.options.max_megapixels, name=label)
    if len(pages) == 1:
        names = [target]
    else:
        names = [target.with_name(f"{target.stem}-p{page.index + 1}{target.suffix}")
                 for page in pages]
    for page, name in zip(pages, names):
        sidecar = name.with_suffix(".json") if settings.explain else None
        picture = _explain_picture_name(name, settings.options) if sidecar is not None \
            else None
        if isinstance(source, Path):
            _check_not_input(source, name)
        if not settings.overwrite:
            if name.exists():
                if skip_existing:
                    outcome.skipped.append(str(name))
                    continue
                raise OutputError(f"{name} exists; pass --overwrite to replace it")
            for extra in (sidecar, picture):
                if extra is not None and extra.exists():
                    raise OutputError(f"{extra} exists; pass --overwrite to replace it")
        _write_page(page, name, sidecar, format, settings, picture)
        outcome.written.append(str(name))
    return outcome


def _explain_picture_name(name: Path, options: Options) -> Path | None:
    """The --explain picture beside ``page.png``: ``page.f.png`` (the regional f map) or
    ``page.refined.png`` (the pixels the hybrid re-decided); None for the classical
    method per page."""
    if options.method == "hybrid":
        return name.with_name(f"{name.stem}.refined.png")
    if options.resolved_scope == "region":
        return name.with_name(f"{name.stem}.f.png")
    return None


def _write_page(page, name: Path, sidecar: Path | None, format: str,
                settings: _Settings, picture: Path | None = None) -> None:
    import json

    from .io import json_safe, write_binary, write_bytes
    from .pipeline import binarize as binarize_page

    result = binarize_page(page.image, settings.options.method, options=settings.options,
                           record_refined=picture is not None)
    dpi = settings.dpi if settings.dpi is not None else page.dpi
    write_binary(name, result.image, format, dpi, overwrite=settings.overwrite)
    extra = {}
    if picture is not None and result.refined is not None:
        from .plotting import refined_overlay

        hybrid = result.info["hybrid"]
        png = refined_overlay(page.image, result.refined, title=(
            f"{Path(page.source).name}: {hybrid['refined_pixels']} px re-decided, "
            f"{hybrid['to_text']} to text (blue), {hybrid['to_background']} to background "
            f"(red), the rest confirmed (yellow)"))
        write_bytes(picture, png, overwrite=settings.overwrite)
        extra["refined_picture"] = str(picture)
    if picture is not None and "regional" in result.info:
        import numpy as np

        from .plotting import factor_map_overlay
        from .regional import upsample_tiles

        regional = result.info["regional"]
        f_map = upsample_tiles(np.asarray(regional["f"], np.float32), page.image.shape,
                               regional["tile_size"])
        png = factor_map_overlay(page.image, f_map, title=(
            f"{Path(page.source).name}: f(row, col), {result.info['method']} per region"))
        write_bytes(picture, png, overwrite=settings.overwrite)
        extra["factor_map_picture"] = str(picture)
    if sidecar is not None:
        record = {"input": page.source, "page": page.index + 1, "pages": page.count,
                  "output": str(name), "rows": page.image.shape[0],
                  "cols": page.image.shape[1], "dpi": dpi, **extra, **result.info}
        text = json.dumps(json_safe(record), indent=2) + "\n"
        write_bytes(sidecar, text.encode("utf-8"), overwrite=settings.overwrite)


def _binarize_to_stdout(source, label: str, settings: _Settings) -> None:
    from .io import encode_binary_pages, read_pages
    from .pipeline import binarize as binarize_page

    if sys.stdout.isatty():
        raise OutputError("refusing to write image data to a terminal; redirect stdout "
                          "(> page.png) or give an output file")
    format = settings.format or "png"
    pages = read_pages(source, settings.options.max_megapixels, name=label)
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


def _check_not_input(source: Path, output: Path) -> None:
    """Refuse to write an output over its own input."""
    import os

    if output.exists() and source.exists() and os.path.samefile(source, output):
        raise OutputError(f"{output} is the input itself; choose another output")


def _collect_images(folder: Path, recursive: bool, exclude: Path) -> list:
    """Image files of ``folder`` (sorted; hidden files and folders, and the output folder
    when it lies inside ``folder``, left out)."""
    from .io import IMAGE_SUFFIXES

    excluded = exclude.resolve()
    found = []
    for path in (folder.rglob("*") if recursive else folder.iterdir()):
        relative = path.relative_to(folder)
        if path.suffix.lower() not in IMAGE_SUFFIXES or not path.is_file():
            continue
        if any(part.startswith(".") for part in relative.parts):
            continue
        if excluded in path.resolve().parents:
            continue
        found.append(path)
    return sorted(found, key=lambda path: path.relative_to(folder).as_posix())


def _run_job(job: tuple) -> _Outcome:
    """Binarize one file of a batch; errors become the outcome (runs in workers too)."""
    source, label, target, settings = job
    try:
        return _binarize_source(source, label, target, settings, skip_existing=True)
    except (ModelError, MissingDependencyError) as error:
        return _Outcome(label, fatal=error)
    except DocbinError as error:
        return _Outcome(label, error=str(error))
    except Exception as error:  # noqa: BLE001 - a bug: report it, keep the batch going
        import traceback

        return _Outcome(label, error=f"{label}: internal error ({type(error).__name__}: "
                        f"{error}); run docbin -v for the traceback",
                        traceback="".join(traceback.format_exception(error)))


def _init_worker() -> None:
    # Parallelism is across files: one OpenCV thread per worker avoids oversubscription.
    import cv2

    cv2.setNumThreads(1)


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


@contextlib.contextmanager
def _single_core():
    """OpenCV on one thread in this process while the block runs."""
    import cv2

    previous = cv2.getNumThreads()
    cv2.setNumThreads(1)
    try:
        yield
    finally:
        cv2.setNumThreads(previous)


@contextlib.contextmanager
def _mapped(job_list: list, workers: int):
    """``_run_job`` over ``job_list``, results in input order, every page on one core.

    With ``workers`` > 1 this process binarizes pages itself (its modules and model are
    already loaded) beside ``workers − 1`` worker processes (spawned: the same behaviour on
    every platform, no forked OpenCV state), which get the next pages while they are busy.
    """
    workers = min(workers, len(job_list))
    if workers <= 1:
        with _single_core():
            yield map(_run_job, job_list)
        return
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    executor = ProcessPoolExecutor(max_workers=workers - 1,
                                   mp_context=multiprocessing.get_context("spawn"),
                                   initializer=_init_worker)
    try:
        with _single_core():
            yield _shared_map(executor, job_list, workers - 1)
    finally:
        executor.shutdown(wait=True, cancel_futures=True)


def _shared_map(executor, job_list: list, helpers: int):
    """Outcomes of ``job_list`` in order. Pages are handed out one at a time, in order, to
    ``helpers`` threads that each run their page in ``executor`` (a worker process) and to
    this process whenever the next outcome is not ready, so nobody idles while pages are
    left and none waits in a queue at the end."""
    import threading
    from concurrent.futures.process import BrokenProcessPool

    pending = list(enumerate(job_list))[::-1]  # next page last
    done: dict = {}
    ready = threading.Condition()

    def helper() -> None:
        while True:
            with ready:
                if not pending:
                    return
                index, job = pending.pop()
            broken = False
            try:
                outcome = executor.submit(_run_job, job).result()
            except BrokenProcessPool:  # the other pages carry on in this process
                broken = True
                outcome = _Outcome(job[1], error=f"{job[1]}: the worker process died while "
                                   "binarizing it (out of memory?)")
            with ready:
                done[index] = outcome
                ready.notify_all()
            if broken or outcome.fatal is not None:
                return

    threads = [threading.Thread(target=helper, daemon=True) for _ in range(helpers)]
    for thread in threads:
        thread.start()
    try:
        for index in range(len(job_list)):
            while True:
                with ready:
                    if index in done:
                        outcome = done.pop(index)
                        break
                    job = pending.pop() if pending else None
                    if job is None:
                        ready.wait()
                        continue
                done_here = _run_job(job[1])
                with ready:
                    done[job[0]] = done_here
            yield outcome
    finally:
        with ready:
            pending.clear()  # an early stop (a fatal error): no more pages
        for thread in threads:
            thread.join()


def _make_folder(folder: Path) -> None:
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise OutputError(f"cannot create the folder {folder}: {error.strerror or error}") \
            from error


def _binarize_folder(folder: Path, output: str, settings: _Settings, *, recursive: bool,
                     jobs: int, quiet: bool) -> ExitCode:
    """Every image of ``folder`` into the folder ``output``; failures reported at the end."""
    from .errors import InputError
    from .io import IMAGE_SUFFIXES

    if output == "-":
        raise _usage_error("a folder INPUT needs an output folder, not -")
    out_dir = Path(output)
    if out_dir.exists() and not out_dir.is_dir():
        raise OutputError(f"{out_dir} is a file; with a folder INPUT, OUTPUT must be a folder")
    if out_dir.exists() and out_dir.resolve() == folder.resolve():
        raise OutputError(f"{out_dir} is the input folder; choose another output folder so "
                          "the inputs stay untouched")
    sources = _collect_images(folder, recursive, out_dir)
    if not sources:
        hint = "" if recursive else "; pass --recursive to look in sub-folders"
        raise InputError(f"{folder}: no images found (looked for "
                         f"{', '.join(IMAGE_SUFFIXES)}){hint}")
    _make_folder(out_dir)
    if jobs == 0:
        from .bands import cpu_count

        jobs = cpu_count()
    if settings.options.threads == 0:
        # One onnxruntime thread per page: parallelism is across pages.
        settings = dataclasses.replace(
            settings, options=dataclasses.replace(settings.options, threads=1))
    suffix = _suffix(settings.format or "png")
    entries, job_list, claimed = [], [], {}
    for path in sources:
        relative = path.relative_to(folder)
        target = out_dir / relative.parent / (relative.stem + suffix)
        if target in claimed:  # e.g. page.png and page.jpg
            entries.append(_Outcome(str(path), error=f"{path}: its output {target} is also "
                                    f"the output of {claimed[target]}; rename one of them"))
            continue
        claimed[target] = path
        _make_folder(target.parent)
        job = (path, str(path), target, settings)
        entries.append(job)
        job_list.append(job)

    failures, written, skipped = [], 0, 0
    with _Reporter(len(entries), quiet) as reporter, _mapped(job_list, jobs) as results:
        for entry in entries:
            outcome = entry if isinstance(entry, _Outcome) else next(results)
            if outcome.fatal is not None:
                raise outcome.fatal
            for name in outcome.skipped:
                reporter.note(f"docbin: skipped {name}: it exists (--overwrite replaces it)")
            if outcome.error is not None:
                failures.append(outcome)
            written += len(outcome.written)
            skipped += len(outcome.skipped)
            reporter.advance()
    for outcome in failures:
        if _state["verbose"] and outcome.traceback:
            typer.echo(outcome.traceback.rstrip(), err=True)
        typer.echo(f"docbin: failed: {outcome.error}", err=True)
    if not quiet:
        typer.echo(f"docbin: {written} page(s) written, {skipped} skipped, "
                   f"{len(failures)} file(s) failed", err=True)
    return ExitCode.failed_pages if failures else ExitCode.ok


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
        "|I − f·L_m| < δ·(B_I − T_I).")] = 0.1,
    synthetic: Annotated[int, typer.Option(
        "--synthetic", min=0, help="Generated degraded pages (docbin.synth) added as one "
        "more collection.")] = 0,
    per_page: Annotated[int, typer.Option(
        "--per-page", min=100, help="Band pixels drawn from each page.")] = 10000,
    epochs: Annotated[int, typer.Option("--epochs", min=1, help="Network epochs.")] = 4,
    seed: Annotated[int, typer.Option("--seed", help="Seed: same seed, same network.")] = 0,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Replace OUT.")] = False,
) -> None:
    """Train the refinement network of --method hybrid and export it to ONNX.

    Every collection weighs the same in the loss. Needs the training extra:
    pip install "docbin\\[train]". The export is checked against torch before it is
    written.
    """
    try:
        if not overwrite and out.exists():
            raise OutputError(f"{out} exists; pass --overwrite to replace it")
        from .training.refine import TrainConfig
        from .training.refine import train as train_refiner  # needs torch

        config = TrainConfig(margin=margin, per_page=per_page, epochs=epochs, seed=seed,
                             synthetic_pages=synthetic)
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
