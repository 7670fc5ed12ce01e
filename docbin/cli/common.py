"""What every command shares: one-line errors and exit codes, progress bars, tables, and
the choices of the options (from :mod:`docbin.options`, where the names are defined once).

Library code raises :class:`docbin.errors.DocbinError`; :func:`fail` turns one into a line
on stderr and an exit code (the traceback too with ``docbin -v``).
"""

from __future__ import annotations

import contextlib
import enum
import sys
from pathlib import Path
from typing import Annotated

import typer

from docbin.errors import DocbinError, ExitCode, OutputError
from docbin.options import METHODS, SCOPES, STEPS, Options

DEFAULTS = Options()


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


#: ``docbin -v``, set by the root command for the command it runs.
_VERBOSE = {"on": False}


def set_verbose(on: bool) -> None:
    _VERBOSE["on"] = bool(on)


def verbose() -> bool:
    """Whether ``docbin -v`` asked for tracebacks."""
    return _VERBOSE["on"]


def fail(error: BaseException) -> typer.Exit:
    """Print a one-line error on stderr and return the Exit to raise."""
    if verbose():
        import traceback
        traceback.print_exception(error)
    message = str(error) or error.__class__.__name__
    typer.echo(f"docbin: error: {message}", err=True)
    code = error.exit_code if isinstance(error, DocbinError) else ExitCode.internal
    return typer.Exit(int(code))


def usage_error(message: str) -> typer.Exit:
    """A one-line usage error (exit code 2)."""
    typer.echo(f"docbin: error: {message}", err=True)
    return typer.Exit(int(ExitCode.usage))


def stderr_is_terminal() -> bool:
    return sys.stderr.isatty()


#: The choices of --method and --scope, from docbin.options (defined once there).
Method = enum.Enum("Method", {name: name for name in METHODS}, type=str)
Scope = enum.Enum("Scope", {name: name for name in SCOPES}, type=str)


#: Options that several commands share, declared once.
ModelOption = Annotated[Path | None, typer.Option(
    "--model", show_default=False,
    help="hybrid: a refinement network (ONNX, from docbin train) to use instead of the "
         "shipped one.")]
StepsOption = Annotated[str | None, typer.Option(
    "--steps", show_default=False,
    help="hybrid: which of its learned steps run, comma-separated, in their fixed order "
         f"({', '.join(STEPS)}); default: all. surface: f varies per 512 px patch; refine: "
         "faint and broken strokes mended near the threshold (never widened); clean: "
         "stains, bleed-through and specks dropped as whole components. Measure one step "
         "alone with, for example, --steps refine.")]


class OutputFormat(str, enum.Enum):
    png = "png"
    tiff = "tiff"


def progress(label: str, total: int):
    """A rich progress bar on stderr when it is a terminal, else a no-op stand-in."""
    if not stderr_is_terminal():
        return contextlib.nullcontext(None)
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    bar = Progress(TextColumn(label), BarColumn(), MofNCompleteColumn(),
                   console=Console(stderr=True), transient=True)
    bar.add_task(label, total=total)
    return bar


def advance(bar) -> None:
    if bar is not None:
        bar.advance(bar.task_ids[0])


def print_table(title: str | None, header: list, cells: list, mean: list | None = None) -> None:
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


def write_text(path: Path, text: str) -> None:
    from docbin.io import write_bytes  # NumPy and Pillow: not needed by --help

    write_bytes(path, text.encode("utf-8"), overwrite=True)


def check_folder_of(path: Path | None, option: str) -> None:
    if path is not None and not path.parent.is_dir():
        raise OutputError(f"{option} {path}: the folder {path.parent} does not exist")


def split_names(value: str, option: str, allowed: tuple) -> list:
    names = [] if value.strip().lower() in ("", "none") else \
        [name.strip() for name in value.split(",") if name.strip()]
    unknown = [name for name in names if name not in allowed]
    if unknown:
        raise usage_error(f"{option}: unknown {', '.join(unknown)}; choose from "
                           f"{', '.join(allowed)}")
    return list(dict.fromkeys(names))


_flags_without_type()
