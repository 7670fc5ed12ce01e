"""docbin's command line (Typer). The only module that prints or picks exit codes.

Heavy modules (NumPy, OpenCV, onnxruntime) are imported inside the commands so that
``docbin --help`` and ``docbin --version`` stay instant.
"""

from __future__ import annotations

import sys
from typing import Optional

import typer

from . import __version__
from .errors import DocbinError, ExitCode

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
    version: Optional[bool] = typer.Option(
        None, "--version", callback=_version_callback, is_eager=True,
        help="Print the version and exit."),
    verbose: bool = typer.Option(
        False, "--verbose", "-v", help="Show tracebacks of errors (for bug reports)."),
) -> None:
    """Binarize degraded document images into clean black-and-white pages."""
    _state["verbose"] = verbose


def fail(error: BaseException) -> "typer.Exit":
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


def main() -> None:
    """Console-script entry point."""
    try:
        app()
    except KeyboardInterrupt:
        typer.echo("docbin: interrupted", err=True)
        sys.exit(130)


if __name__ == "__main__":
    main()
