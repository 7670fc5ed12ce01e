"""``docbin train``: the networks of ``--method hybrid``, trained on a CPU (the ``train`` extra)."""

from __future__ import annotations

import enum
from pathlib import Path
from typing import Annotated

import typer

from docbin.cli.common import fail, progress
from docbin.errors import DocbinError, OutputError
from docbin.options import DIRECTIONS, SHAPES

Direction = enum.Enum("Direction", {name: name for name in DIRECTIONS}, type=str)
Shape = enum.Enum("Shape", {name: name for name in SHAPES}, type=str)


class ModelKind(str, enum.Enum):
    """Which learned step ``docbin train`` trains."""

    refine = "refine"
    surface = "surface"
    clean = "clean"


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
    shape: Annotated[Shape, typer.Option(
        "--shape", help="keep: added text may only fill notches and holes of the classical "
        "strokes or join broken ones, never widen a stroke (the shipped form); free: any "
        "addition within reach stands.")] = Shape.keep,
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
        "--model-kind", help="refine: the refinement network; surface: the network of the "
        "surface step (docbin/training/surface.py; uses --synthetic, --seed and "
        "--iterations); clean: the keep-or-drop model of whole ink components "
        "(docbin/training/clean.py; uses --synthetic, --seed and --epochs).")
    ] = ModelKind.refine,
    iterations: Annotated[int | None, typer.Option(
        "--iterations", min=1, help="surface: training iterations of its network (default: "
        "the shipped network's).")] = None,
) -> None:
    """Train a learned step of --method hybrid and export it to ONNX.

    --model-kind chooses the step: refine (default), surface or clean.

    Every collection weighs the same in the loss. Needs the training extra:
    pip install "docbin\\[train]". The export is checked against torch before it is
    written.
    """
    try:
        if not overwrite and out.exists():
            raise OutputError(f"{out} exists; pass --overwrite to replace it")
        if model_kind is ModelKind.surface:
            _train_surface(data, out, exclude or (), synthetic, seed, iterations)
            return
        if model_kind is ModelKind.clean:
            _train_clean(data, out, exclude or (), synthetic, epochs or 2, seed)
            return
        from docbin.training.refine import TrainConfig
        from docbin.training.refine import train as train_refiner  # needs torch

        config = TrainConfig(margin=margin, direction=direction.value, reach=reach,
                             shape=shape.value,
                             per_page=per_page,
                             epochs=epochs or 4, seed=seed, synthetic_pages=synthetic)
        with progress("pages", 0) as bar:
            def step(done: int, total: int) -> None:
                if bar is not None:
                    bar.update(bar.task_ids[0], completed=done, total=total)

            summary = train_refiner(data, out, exclude=exclude or (), config=config,
                                    progress=step)
    except (DocbinError, OSError, ValueError) as error:
        raise fail(error) from None
    typer.echo(f"docbin: wrote {out}: {summary['description']}; "
               f"{summary['parameters']} parameters, {summary['seconds']:.0f} s, "
               f"ONNX vs torch max difference {summary['export_error']:.1e}", err=True)


def _train_surface(data, out, exclude, synthetic: int, seed: int,
                   iterations: int | None) -> None:
    """``docbin train --model-kind surface``: docbin.training.surface.train."""
    from docbin.training.surface import TrainConfig
    from docbin.training.surface import train as train_surface  # needs torch

    config = TrainConfig(synthetic_pages=synthetic, seed=seed)
    if iterations is not None:
        config.steps = iterations
    summary = train_surface(data, out, exclude=exclude, config=config)
    typer.echo(f"docbin: wrote {out}: {summary['description']}; "
               f"{summary['parameters']} parameters, {summary['seconds']:.0f} s, "
               f"ONNX vs torch max difference {summary['export_error']:.1e}", err=True)


def _train_clean(data, out, exclude, synthetic: int, epochs: int, seed: int) -> None:
    """``docbin train --model-kind clean``: docbin.training.clean.train."""
    from docbin.training.clean import CleanConfig
    from docbin.training.clean import train as train_cleaner  # needs torch

    config = CleanConfig(epochs=epochs, seed=seed, synthetic_pages=synthetic)
    with progress("pages", 0) as bar:
        def step(done: int, total: int) -> None:
            if bar is not None:
                bar.update(bar.task_ids[0], completed=done, total=total)

        summary = train_cleaner(data, out, exclude=exclude, config=config, progress=step)
    typer.echo(f"docbin: wrote {out}: {summary['description']}; "
               f"{summary['parameters']} parameters, {summary['seconds']:.0f} s, "
               f"ONNX vs torch max difference {summary['export_error']:.1e}", err=True)
