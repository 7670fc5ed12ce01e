"""One file of a batch: read its pages, binarize them, write them (the per-file worker).

:func:`run_task` is what every executor runs, the ``--jobs`` process pool
(:mod:`docbin.batch.runner`) and the Dask cluster (:mod:`docbin.batch.cluster`) alike, on a
picklable :class:`Task` and :class:`Settings`; a single file on the command line goes
through the same :func:`binarize_source`, and stdout through :func:`binarize_to_stream`.
Errors become the :class:`Outcome` (a ``failed`` manifest record) so a batch goes on past
a bad file; an error every file would meet (model, dependency, storage credentials) is
marked ``fatal``.
"""

from __future__ import annotations

import dataclasses
import os
import socket
import sys
import time
import traceback
from dataclasses import dataclass, field
from typing import BinaryIO

from docbin.batch import explain as _explain
from docbin.batch.manifest import record
from docbin.batch.storage import LocalLocation, RemoteLocation
from docbin.errors import (
    DocbinError,
    MissingDependencyError,
    ModelError,
    OutputError,
    SetupError,
)
from docbin.io import encode_binary, encode_binary_pages, output_format, read_pages
from docbin.options import Options
from docbin.pipeline import binarize as binarize_page

Location = LocalLocation | RemoteLocation


@dataclass(frozen=True)
class Settings:
    """Everything a worker needs to binarize a file (picklable)."""

    options: Options = field(default_factory=Options)
    format: str | None = None
    overwrite: bool = False
    explain: bool = False
    dpi: float | None = None


@dataclass(frozen=True)
class Task:
    """One input file of a batch and the output it goes to (page N of a multi-page file
    goes to ``<stem>-pN<suffix>``)."""

    index: int
    source: Location
    target: Location
    label: str
    redo: bool = False  # a manifest's output of it is missing or damaged: replace it


@dataclass
class Outcome:
    """What happened to one input file of a batch."""

    label: str
    index: int = -1
    written: list = field(default_factory=list)
    skipped: list = field(default_factory=list)
    error: str | None = None
    fatal: BaseException | None = None  # stops the batch (model, dependency, credentials)
    traceback: str | None = None
    records: list = field(default_factory=list)  # manifest records, one per page


def worker_name() -> str:
    """The Dask worker's address inside a Dask task, else host:pid."""
    if "distributed" in sys.modules:
        try:
            from distributed import get_worker

            return get_worker().address
        except ValueError:  # not inside a Dask task
            pass
    return f"{socket.gethostname()}:{os.getpid()}"


def _page_name(target: Location, index: int, count: int) -> Location:
    if count == 1:
        return target
    return target.with_name(f"{target.stem}-p{index + 1}{target.suffix}")


def _check_not_input(source, output: Location) -> None:
    """Refuse to write an output over its own input."""
    if not isinstance(source, (bytes, bytearray, memoryview)) and source.same_file(output):
        raise OutputError(f"{output} is the input itself; choose another output")


def binarize_source(source, label: str, target: Location, settings: Settings,
                    skip_existing: bool, make_folders: bool = False) -> Outcome:
    """Read every page of ``source``, binarize it and write it next to ``target``.

    ``source`` is a location or the bytes of an image file. One page goes to ``target``;
    the pages of a multi-page file go to one multi-page TIFF when ``target`` is a TIFF (as
    OCRmyPDF and ScanTailor write them), else page N to ``<stem>-pN<suffix>``. Existing
    outputs are
    skipped when ``skip_existing``, an error otherwise (unless ``settings.overwrite``).
    ``make_folders`` creates the folder of ``target`` when a page is written (batches
    mirror trees). The outcome carries a manifest record per page.
    """
    outcome = Outcome(label)
    format = output_format(str(target), settings.format)
    _check_not_input(source, target)
    if not settings.overwrite and target.exists():
        if skip_existing:
            outcome.skipped.append(str(target))
            outcome.records.append(_record(label, target, "skipped"))
            return outcome
        raise OutputError(f"{target} exists; pass --overwrite to replace it")
    start = time.perf_counter()
    pages = read_source(source, label, settings)
    reading = (time.perf_counter() - start) / len(pages)
    if len(pages) > 1 and format == "tiff":
        if make_folders and not target.parent.exists():
            target.parent.make_folder()
        return _write_tiff_pages(pages, source, label, target, settings, reading, outcome)
    folder_made = False
    for page in pages:
        start = time.perf_counter()
        name = _page_name(target, page.index, page.count)
        sidecar = name.with_name(f"{name.stem}.json") if settings.explain else None
        picture = _explain.picture_name(name, settings.options) if sidecar is not None \
            else None
        _check_not_input(source, name)
        if not settings.overwrite:
            if name.exists():
                if skip_existing:
                    outcome.skipped.append(str(name))
                    outcome.records.append(_record(label, name, "skipped", page=page))
                    continue
                raise OutputError(f"{name} exists; pass --overwrite to replace it")
            for extra in (sidecar, picture):
                if extra is not None and extra.exists():
                    raise OutputError(f"{extra} exists; pass --overwrite to replace it")
        if make_folders and not folder_made and not target.parent.exists():
            target.parent.make_folder()
        folder_made = True
        info = _write_page(page, name, sidecar, format, settings, picture)
        outcome.written.append(str(name))
        outcome.records.append(_record(label, name, "ok", page=page, info=info,
                                       seconds=reading + time.perf_counter() - start))
    return outcome


def _write_tiff_pages(pages, source, label: str, target: Location, settings: Settings,
                      reading: float, outcome: Outcome) -> Outcome:
    """Every page of a multi-page input binarized into one multi-page TIFF at ``target``
    (--explain: a sidecar, and a picture, per page: ``<stem>-pN.json``)."""
    start = time.perf_counter()
    extras = []
    for page in pages:
        name = _page_name(target, page.index, page.count)
        sidecar = name.with_name(f"{name.stem}.json") if settings.explain else None
        picture = _explain.picture_name(name, settings.options) if sidecar else None
        for extra in (sidecar, picture):
            if extra is not None and not settings.overwrite and extra.exists():
                raise OutputError(f"{extra} exists; pass --overwrite to replace it")
            if extra is not None:
                _check_not_input(source, extra)
        extras.append((sidecar, picture))
    results = [binarize_page(page.image, settings.options.method, options=settings.options,
                             record_refined=picture is not None)
               for page, (_, picture) in zip(pages, extras)]
    dpis = [settings.dpi if settings.dpi is not None else page.dpi for page in pages]
    data = encode_binary_pages([result.image for result in results], "tiff", dpis)
    target.write_bytes(data, settings.overwrite)
    seconds = reading + (time.perf_counter() - start) / len(pages)
    for page, result, dpi, (sidecar, picture) in zip(pages, results, dpis, extras):
        if sidecar is not None:
            _explain.write_explanation(page, result, target, sidecar, picture, dpi=dpi,
                                       overwrite=settings.overwrite)
        outcome.records.append(_record(label, target, "ok", page=page, seconds=seconds,
                                       info={**result.info, "bytes": len(data)}))
    outcome.written.append(str(target))
    return outcome


def _record(label: str, output: Location, status: str, *, page=None, info=None,
            seconds=None, error=None) -> dict:
    values = {"input": label, "output": str(output), "status": status, "error": error,
              "seconds": seconds, "worker": worker_name(), "finished": time.time()}
    if page is not None:
        values.update(page=page.index + 1, pages=page.count, rows=page.image.shape[0],
                      cols=page.image.shape[1])
    if info is not None:
        values.update(ink_intensity=info["ink_intensity"],
                      contour_intensity=info["contour_intensity"],
                      window_radius=info["window_radius"], f=info["f"], bytes=info.get("bytes"))
    return record(**values)


def _write_page(page, name: Location, sidecar: Location | None, format: str,
                settings: Settings, picture: Location | None = None) -> dict:
    """Binarize ``page``, write it (and its --explain sidecar and picture); its info."""
    result = binarize_page(page.image, settings.options.method, options=settings.options,
                           record_refined=picture is not None)
    dpi = settings.dpi if settings.dpi is not None else page.dpi
    data = encode_binary(result.image, format, dpi)
    name.write_bytes(data, settings.overwrite)
    if sidecar is not None:
        _explain.write_explanation(page, result, name, sidecar, picture, dpi=dpi,
                                   overwrite=settings.overwrite)
    return {**result.info, "bytes": len(data)}


def read_source(source, label: str, settings: Settings) -> list:
    """The pages of ``source``: a location, or the bytes of an image file."""
    if isinstance(source, (bytes, bytearray, memoryview)):
        return read_pages(source, settings.options.max_megapixels, name=label)
    return source.read_pages(settings.options.max_megapixels, label)


def binarize_to_stream(source, label: str, settings: Settings, stream: BinaryIO) -> None:
    """Binarize every page of ``source`` and write them to ``stream`` as one image: a PNG
    for a single page, a multi-page TIFF (``settings.format == "tiff"``) for several.

    Raises
    ------
    OutputError
        Several pages and a PNG format, or the stream closed before the image was written.
    """
    format = settings.format or "png"
    pages = read_source(source, label, settings)
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
        stream.write(data)
        stream.flush()
    except BrokenPipeError:
        raise OutputError("the output stream was closed before the image was written") \
            from None


def failed_outcome(task: Task, message: str, traceback: str | None = None) -> Outcome:
    """The outcome of a file that could not be binarized: one ``failed`` record."""
    return Outcome(task.label, task.index, error=message, traceback=traceback,
                   records=[_record(task.label, task.target, "failed", error=message)])


def run_task(task: Task, settings: Settings) -> Outcome:
    """Binarize one file of a batch; errors become the outcome (runs in workers)."""
    if task.redo:
        settings = dataclasses.replace(settings, overwrite=True)
    try:
        outcome = binarize_source(task.source, task.label, task.target, settings,
                                  skip_existing=True, make_folders=True)
    except (ModelError, MissingDependencyError, SetupError) as error:
        return Outcome(task.label, task.index, fatal=error)
    except DocbinError as error:
        return failed_outcome(task, str(error))
    except Exception as error:  # noqa: BLE001 - a bug: report it, keep the batch going
        return failed_outcome(task, f"{task.label}: internal error ({type(error).__name__}: "
                              f"{error}); run docbin -v for the traceback",
                              "".join(traceback.format_exception(error)))
    outcome.index = task.index
    return outcome


def run_job(job: tuple) -> Outcome:
    """:func:`run_task` on a ``(task, settings)`` pair: the one function executors map."""
    return run_task(*job)
