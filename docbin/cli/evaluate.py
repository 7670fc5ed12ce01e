"""``docbin evaluate``: binarized pages scored against ground truth (DIBCO metrics)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from docbin.cli.common import advance, check_folder_of, fail, print_table, progress, write_text
from docbin.errors import DocbinError, ExitCode, InputError


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

    from docbin.evaluation.benchmark import (
        EVALUATE_METRICS,
        TITLES,
        evaluate_pairs,
        evaluation_csv,
        evaluation_record,
        format_value,
        pair_paths,
    )
    from docbin.io import json_safe

    try:
        check_folder_of(json_file, "--json")
        check_folder_of(csv_file, "--csv")
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
    with progress("evaluating", len(matching.pairs)) as bar:
        for item in evaluate_pairs(matching.pairs):
            scored.append(item)
            advance(bar)
    good = [item for item in scored if item.scores is not None]
    failed = [item for item in scored if item.error is not None]
    if good:
        record = evaluation_record(good)
        header = ["Image", *(TITLES[key] for key in EVALUATE_METRICS)]
        cells = [[item.name, *(format_value(key, item.scores[key]) for key in EVALUATE_METRICS)]
                 for item in good]
        mean = [f"mean ({len(good)})",
                *(format_value(key, record["mean"][key]) for key in EVALUATE_METRICS)]
        print_table(None, header, cells, mean)
        try:
            if json_file is not None:
                write_text(json_file, json.dumps(json_safe(record), indent=2) + "\n")
            if csv_file is not None:
                write_text(csv_file, evaluation_csv(good))
        except (DocbinError, OSError) as error:
            raise fail(error) from None
    for item in failed:
        typer.echo(f"docbin: failed: {item.name}: {item.error}", err=True)
    if not good:
        raise typer.Exit(int(ExitCode.input_error))
    if failed:
        raise typer.Exit(int(ExitCode.failed_pages))
