"""The command-line interface (``docbin``)."""

from docbin.cli.commands import app, main

__all__ = ["app", "main"]
