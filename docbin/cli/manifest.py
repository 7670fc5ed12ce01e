"""``docbin manifest``: what a batch did, from its manifest."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from docbin.cli.common import fail
from docbin.errors import DocbinError, ExitCode, InputError


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
    from docbin.batch.manifest import read_records, summarise

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
