"""docbin's command line (Typer): the only part of docbin that prints or picks exit codes.

One module per command, each a few lines over the library; this module makes the ``app``,
its ``--version`` and ``-v``, and registers them. Heavy modules (NumPy, OpenCV,
onnxruntime) are imported inside the commands so that ``docbin --help`` and
``docbin --version`` stay instant.
"""

from __future__ import annotations

import functools
import signal
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


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised where the program is: a KeyboardInterrupt, so that a batch stops
    exactly as on Ctrl-C (the worker processes finish and write whole the pages they have,
    the pool shuts down, its semaphores are released) instead of dying mid-page."""


def _terminate(signum, frame) -> None:
    raise Terminated()


def _stopped(stop: KeyboardInterrupt) -> int:
    """Say how to resume after Ctrl-C or SIGTERM; the exit code (130, or 143 for SIGTERM)."""
    terminated = isinstance(stop, Terminated)
    typer.echo(f"docbin: {'terminated' if terminated else 'interrupted'}; pages already "
               "written are complete: run the same command again to resume (existing "
               "outputs are skipped)", err=True)
    return 128 + int(signal.SIGTERM) if terminated else 130


def _stoppable(command):
    """The command, with Ctrl-C and SIGTERM ending in the resume hint (Typer itself turns a
    KeyboardInterrupt into a silent exit 130)."""

    @functools.wraps(command)
    def run(*args, **kwargs):
        try:
            return command(*args, **kwargs)
        except KeyboardInterrupt as stop:
            raise typer.Exit(_stopped(stop)) from None

    return run


app.command("binarize")(_stoppable(binarize.binarize))
app.command("manifest")(_stoppable(manifest.manifest_command))
app.command("surface")(_stoppable(surface.surface))
app.command("train")(_stoppable(train.train))
app.command("evaluate")(_stoppable(evaluate.evaluate))
app.command("benchmark")(_stoppable(benchmark.benchmark))


def main() -> None:
    """Console-script entry point: SIGTERM stops docbin as Ctrl-C does."""
    if signal.getsignal(signal.SIGTERM) == signal.SIG_DFL:
        signal.signal(signal.SIGTERM, _terminate)
    try:
        app()
    except KeyboardInterrupt as stop:  # outside a command (while starting up)
        sys.exit(_stopped(stop))
