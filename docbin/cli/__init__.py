"""docbin's command line (Typer): the only part of docbin that prints or picks exit codes.

One module per command, each a few lines over the library; this module makes the ``app``,
its ``--version`` and ``-v``, and registers them. Heavy modules (NumPy, OpenCV,
onnxruntime) are imported inside the commands so that ``docbin --help`` and
``docbin --version`` stay instant.
"""

from __future__ import annotations

import sys

import typer

from docbin import __version__
from docbin.cli import benchmark, binarize, evaluate, manifest, surface, train
from docbin.cli.common import set_verbose

__all__ = ["app", "main"]

app = typer.Typer(
    name="docbin",
    help="Binarize degraded document images into clean black-and-white pages.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


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
    set_verbose(verbose)


app.command("binarize")(binarize.binarize)
app.command("manifest")(manifest.manifest_command)
app.command("surface")(surface.surface)
app.command("train")(train.train)
app.command("evaluate")(evaluate.evaluate)
app.command("benchmark")(benchmark.benchmark)


def main() -> None:
    """Console-script entry point."""
    try:
        app()
    except KeyboardInterrupt:
        typer.echo("docbin: interrupted; pages already written are complete: run the same "
                   "command again to resume (existing outputs are skipped)", err=True)
        sys.exit(130)
