"""The batch runner: many image files binarized, with a manifest, on one of two executors.

A batch is a list of :class:`Task` (one input file and its output), run by an executor:

- :class:`LocalExecutor`, the process pool of ``--jobs``: this process and N − 1 spawned
  worker processes, a page per core, outcomes in input order;
- :class:`docbin.batch.cluster.DaskExecutor`, a Dask cluster (``--cluster``): one Dask task per
  file, outcomes as they finish, a worker that dies has its page run again elsewhere.

Both run the same function, :func:`run_task`, on the same :class:`Settings`, and
:func:`run_batch` turns their outcomes into manifest records, resumes from a manifest, and
reports each outcome to a callback (the CLI's progress bar). :func:`binarize_urls` is the
Python API over the same runner. Inputs and outputs are local paths or fsspec URLs
(:mod:`docbin.batch.storage`). Nothing here prints: errors are raised or recorded.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import secrets
import socket
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

from docbin.errors import DocbinError, InputError, MissingDependencyError, ModelError, OutputError
from docbin.batch.manifest import ManifestWriter, completed, read_records, record
from docbin.options import Options
from docbin.batch.storage import LocalLocation, RemoteLocation, location

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


@dataclass
class Outcome:
    """What happened to one input file of a batch."""

    label: str
    index: int = -1
    written: list = field(default_factory=list)
    skipped: list = field(default_factory=list)
    error: str | None = None
    fatal: BaseException | None = None  # stops the batch (model or dependency missing)
    traceback: str | None = None
    records: list = field(default_factory=list)  # manifest records, one per page


# --- one file ---------------------------------------------------------------------------

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


def _explain_picture_name(name: Location, options) -> Location | None:
    """The --explain picture beside ``page.png``: ``page.f.png`` (the regional f map) or
    ``page.refined.png`` (the pixels the hybrid re-decided); None for the classical
    method per page."""
    if options.method == "hybrid":
        return name.with_name(f"{name.stem}.refined.png")
    if options.resolved_scope == "region":
        return name.with_name(f"{name.stem}.f.png")
    return None


def _check_not_input(source, output: Location) -> None:
    """Refuse to write an output over its own input."""
    if not isinstance(source, (bytes, bytearray, memoryview)) and source.same_file(output):
        raise OutputError(f"{output} is the input itself; choose another output")


def binarize_source(source, label: str, target: Location, settings: Settings,
                    skip_existing: bool, make_folders: bool = False) -> Outcome:
    """Read every page of ``source``, binarize it and write it next to ``target``.

    ``source`` is a location or the bytes of an image file. One page goes to ``target``;
    page N of a multi-page file goes to ``<stem>-pN<suffix>``. Existing outputs are
    skipped when ``skip_existing``, an error otherwise (unless ``settings.overwrite``).
    ``make_folders`` creates the folder of ``target`` when a page is written (batches
    mirror trees). The outcome carries a manifest record per page.
    """
    from docbin.io import output_format

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
    if isinstance(source, (bytes, bytearray, memoryview)):
        from docbin.io import read_pages

        pages = read_pages(source, settings.options.max_megapixels, name=label)
    else:
        pages = source.read_pages(settings.options.max_megapixels, label)
    reading = (time.perf_counter() - start) / len(pages)
    folder_made = False
    for page in pages:
        start = time.perf_counter()
        name = _page_name(target, page.index, page.count)
        sidecar = name.with_name(f"{name.stem}.json") if settings.explain else None
        picture = _explain_picture_name(name, settings.options) if sidecar is not None \
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


def _record(label: str, output: Location, status: str, *, page=None, info=None,
            seconds=None, error=None) -> dict:
    values = {"input": label, "output": str(output), "status": status, "error": error,
              "seconds": seconds, "worker": worker_name(), "finished": time.time()}
    if page is not None:
        values.update(page=page.index + 1, pages=page.count, rows=page.image.shape[0],
                      cols=page.image.shape[1])
    if info is not None:
        values.update(T_I=info["ink_intensity"], B_I=info["contour_intensity"],
                      K=info["window_radius"], f=info["f"])
    return record(**values)


def _write_page(page, name: Location, sidecar: Location | None, format: str,
                settings: Settings, picture: Location | None = None) -> dict:
    """Binarize ``page``, write it (and its --explain sidecar and picture); its info."""
    import json
    from pathlib import PurePosixPath

    from docbin.io import encode_binary, json_safe
    from docbin.pipeline import binarize as binarize_page

    result = binarize_page(page.image, settings.options.method, options=settings.options,
                           record_refined=picture is not None)
    dpi = settings.dpi if settings.dpi is not None else page.dpi
    name.write_bytes(encode_binary(result.image, format, dpi), settings.overwrite)
    extra = {}
    if picture is not None and result.refined is not None:
        from docbin.plotting import refined_overlay

        hybrid = result.info["hybrid"]
        png = refined_overlay(page.image, result.refined, title=(
            f"{PurePosixPath(page.source).name}: band {hybrid['refined_pixels']} px, "
            f"{hybrid['to_text']} made text (blue), {hybrid['to_background']} made "
            f"background (red)"))
        picture.write_bytes(png, settings.overwrite)
        extra["refined_picture"] = str(picture)
    if picture is not None and "regional" in result.info:
        import numpy as np

        from docbin.plotting import factor_map_overlay
        from docbin.method.regional import upsample_tiles

        regional = result.info["regional"]
        f_map = upsample_tiles(np.asarray(regional["f"], np.float32), page.image.shape,
                               regional["tile_size"])
        png = factor_map_overlay(page.image, f_map, title=(
            f"{PurePosixPath(page.source).name}: f(row, col), {result.info['method']} per "
            "region"))
        picture.write_bytes(png, settings.overwrite)
        extra["factor_map_picture"] = str(picture)
    if sidecar is not None:
        info = {"input": page.source, "page": page.index + 1, "pages": page.count,
                "output": str(name), "rows": page.image.shape[0],
                "cols": page.image.shape[1], "dpi": dpi, **extra, **result.info}
        text = json.dumps(json_safe(info), indent=2) + "\n"
        sidecar.write_bytes(text.encode("utf-8"), settings.overwrite)
    return result.info


def failed_outcome(task: Task, message: str, traceback: str | None = None) -> Outcome:
    """The outcome of a file that could not be binarized: one ``failed`` record."""
    return Outcome(task.label, task.index, error=message, traceback=traceback,
                   records=[_record(task.label, task.target, "failed", error=message)])


def run_task(task: Task, settings: Settings) -> Outcome:
    """Binarize one file of a batch; errors become the outcome (runs in workers)."""
    try:
        outcome = binarize_source(task.source, task.label, task.target, settings,
                                  skip_existing=True, make_folders=True)
    except (ModelError, MissingDependencyError) as error:
        return Outcome(task.label, task.index, fatal=error)
    except DocbinError as error:
        return failed_outcome(task, str(error))
    except Exception as error:  # noqa: BLE001 - a bug: report it, keep the batch going
        import traceback

        return failed_outcome(task, f"{task.label}: internal error ({type(error).__name__}: "
                              f"{error}); run docbin -v for the traceback",
                              "".join(traceback.format_exception(error)))
    outcome.index = task.index
    return outcome


def _run_job(job: tuple) -> Outcome:
    return run_task(*job)


# --- planning ---------------------------------------------------------------------------

def collect_images(folder: Location, recursive: bool, exclude: Location | None = None) -> list:
    """Image files of ``folder`` as (location, relative posix path), sorted; hidden files
    and folders, and ``exclude`` (the output folder) when it lies inside ``folder``, left
    out."""
    from docbin.io import IMAGE_SUFFIXES

    found = []
    for item, relative in folder.list_files(recursive):
        suffix = relative.rpartition(".")[2].lower()
        if "." not in relative or f".{suffix}" not in IMAGE_SUFFIXES:
            continue
        if any(part.startswith(".") for part in relative.split("/")):
            continue
        if exclude is not None and exclude.contains(item):
            continue
        found.append((item, relative))
    return sorted(found, key=lambda pair: pair[1])


def plan(pairs: Iterable[tuple[Location, str]], output: Location,
         format: str | None = None) -> list:
    """Tasks for (input, relative name) pairs: the output is ``output/<relative stem>``
    with the format's suffix. An output claimed twice (``page.png`` and ``page.jpg``)
    gives a failed :class:`Outcome` in place of the second task."""
    from docbin.io import OUTPUT_SUFFIXES

    suffix = OUTPUT_SUFFIXES[format or "png"]
    entries, claimed = [], {}
    for index, (source, relative) in enumerate(pairs):
        folder, _, name = relative.rpartition("/")
        stem = name.rpartition(".")[0] if "." in name else name
        target = output.child(f"{folder}/{stem}{suffix}" if folder else f"{stem}{suffix}")
        task = Task(index, source, target, str(source))
        if str(target) in claimed:  # e.g. page.png and page.jpg
            entries.append(failed_outcome(task, f"{source}: its output {target} is also the "
                                          f"output of {claimed[str(target)]}; rename one of "
                                          "them"))
            continue
        claimed[str(target)] = source
        entries.append(task)
    return entries


def plan_folder(folder: Location, output: Location, *, recursive: bool,
                format: str | None = None) -> list:
    """Tasks for every image of ``folder`` into the folder ``output`` (tree mirrored).

    Raises
    ------
    OutputError
        ``output`` is a file, or the input folder itself.
    InputError
        ``folder`` holds no image.
    """
    from docbin.io import IMAGE_SUFFIXES

    if output.exists() and not output.is_dir():
        raise OutputError(f"{output} is a file; with a folder INPUT, OUTPUT must be a folder")
    if output.exists() and output.contains(folder) and folder.contains(output):
        raise OutputError(f"{output} is the input folder; choose another output folder so "
                          "the inputs stay untouched")
    sources = collect_images(folder, recursive, exclude=output)
    if not sources:
        hint = "" if recursive else "; pass --recursive to look in sub-folders"
        raise InputError(f"{folder}: no images found (looked for "
                         f"{', '.join(IMAGE_SUFFIXES)}){hint}")
    output.make_folder()
    return plan(sources, output, format)


# --- executors --------------------------------------------------------------------------

def _init_worker() -> None:
    # Ctrl-C reaches the whole process group: this process stops taking pages, and the
    # worker finishes (and writes whole) the page it has while the pool shuts down. First
    # thing: the sooner it is ignored, the shorter the time in which a Ctrl-C can still
    # interrupt the worker's start-up.
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # Parallelism is across files: one OpenCV thread per worker avoids oversubscription.
    import cv2

    cv2.setNumThreads(1)


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
            outcomes = _shared_map(executor, job_list, workers - 1)
            try:
                yield outcomes
            finally:
                outcomes.close()  # its helper threads stop before the pool shuts down
    finally:
        executor.shutdown(wait=True, cancel_futures=True)


def _shared_map(executor, job_list: list, helpers: int):
    """Outcomes of ``job_list`` in order. Pages are handed out one at a time, in order, to
    ``helpers`` threads that each run their page in ``executor`` (a worker process) and to
    this process whenever the next outcome is not ready, so nobody idles while pages are
    left and none waits in a queue at the end."""
    import threading
    from concurrent.futures import CancelledError
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
                task = job[0]
                outcome = failed_outcome(task, f"{task.label}: the worker process died while "
                                         "binarizing it (out of memory?)")
            except (RuntimeError, CancelledError):  # after BrokenProcessPool, a RuntimeError
                # the pool is shut down (Ctrl-C in this process): hand the page back (this
                # process runs it, unless it is stopping) and stop quietly
                with ready:
                    pending.append((index, job))
                    ready.notify_all()
                return
            with ready:
                done[index] = outcome
                ready.notify_all()
            if broken or outcome.fatal is not None:
                return

    threads = []
    try:
        for _ in range(helpers):
            threads.append(threading.Thread(target=helper, daemon=True))
            threads[-1].start()
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


class LocalExecutor:
    """The process pool of ``--jobs``: ``jobs`` pages at a time on this machine (0: one
    per CPU core), outcomes in input order. Files on storage that only this process sees
    (``memory://``) run in this process."""

    def __init__(self, jobs: int = 0) -> None:
        if jobs < 0:
            raise ValueError(f"jobs must be >= 0, got {jobs!r}")
        if jobs == 0:
            from docbin.method.bands import cpu_count

            jobs = cpu_count()
        self.jobs = jobs

    dashboard_link = None

    @contextlib.contextmanager
    def outcomes(self, tasks: list[Task], settings: Settings) -> Iterator[Iterator[Outcome]]:
        shared = all(task.source.shared and task.target.shared for task in tasks)
        with _mapped([(task, settings) for task in tasks],
                     self.jobs if shared else 1) as results:
            yield results

    def close(self) -> None:
        pass


# --- the runner -------------------------------------------------------------------------

@dataclass
class BatchResult:
    """The outcomes of a batch (input order), and the records of the files a manifest
    already had done (not run again)."""

    outcomes: list = field(default_factory=list)
    done_before: list = field(default_factory=list)  # records
    run: str = ""

    @property
    def written(self) -> int:
        return sum(len(outcome.written) for outcome in self.outcomes)

    @property
    def skipped(self) -> int:
        return sum(len(outcome.skipped) for outcome in self.outcomes)

    @property
    def failures(self) -> list:
        return [outcome for outcome in self.outcomes if outcome.error is not None]

    @property
    def records(self) -> list[dict]:
        """One record per page: the manifest's for files done before, then this run's."""
        return [*self.done_before,
                *(item for outcome in self.outcomes for item in outcome.records)]


def _done_here(items: list[dict], task: Task) -> bool:
    """The manifest's records of a file went to this task's outputs (the same command)."""
    stem = task.target.with_name(f"{task.target.stem}-p")
    return all(item["output"] == str(task.target) or
               str(item["output"]).startswith(str(stem)) for item in items)


def run_batch(entries: list, settings: Settings, executor, *,
              manifest: str | os.PathLike | None = None,
              on_outcome: Callable[[Outcome], None] | None = None,
              on_start: Callable[[int], None] | None = None) -> BatchResult:
    """Run the tasks of ``entries`` on ``executor``; outcomes in input order.

    ``entries`` are :class:`Task` and, for files that failed while planning, their
    :class:`Outcome`. With ``manifest``, each file's records are appended to it as the
    file finishes, and files that the manifest already has done (every page ``ok`` or
    ``skipped``, to the same outputs) are not run again unless ``settings.overwrite``.
    ``on_outcome`` is called in this process for each outcome as it arrives, after
    ``on_start`` with the number of outcomes to come (files not done before).

    Raises
    ------
    ModelError, MissingDependencyError
        A file met an error that every file would meet; the batch stops.
    """
    run = time.strftime("%Y%m%dT%H%M%S") + "-" + secrets.token_hex(2)
    if settings.options.threads == 0:
        # One onnxruntime thread per page: parallelism is across pages.
        settings = dataclasses.replace(
            settings, options=dataclasses.replace(settings.options, threads=1))
    previous = {}
    if manifest is not None and not settings.overwrite and os.path.exists(manifest):
        previous = completed(read_records(manifest))
    result = BatchResult(run=run)
    tasks, planned_failures = [], []
    for entry in entries:
        if isinstance(entry, Outcome):
            planned_failures.append(entry)
        elif entry.label in previous and _done_here(previous[entry.label], entry):
            result.done_before.extend(previous[entry.label])
        else:
            tasks.append(entry)
    writer = ManifestWriter(manifest) if manifest is not None else None
    outcomes = []
    if on_start is not None:
        on_start(len(tasks) + len(planned_failures))

    def finish(outcome: Outcome) -> None:
        for item in outcome.records:
            item["run"] = run
        if writer is not None:
            writer.write(outcome.records)
        outcomes.append(outcome)
        if on_outcome is not None:
            on_outcome(outcome)

    try:
        for outcome in planned_failures:
            finish(outcome)
        if tasks:
            with executor.outcomes(tasks, settings) as results:
                for outcome in results:
                    if outcome.fatal is not None:
                        raise outcome.fatal
                    finish(outcome)
    finally:
        if writer is not None:
            writer.close()
    result.outcomes = sorted(outcomes, key=lambda outcome: outcome.index)
    return result


# --- the Python API ---------------------------------------------------------------------

def _relative(source: Location, base: Location) -> str:
    """The posix path of ``source`` inside the folder ``base``."""
    if isinstance(source, LocalLocation):
        return source.path.resolve().relative_to(base.path.resolve()).as_posix()
    return source.path[len(base.path.rstrip("/")):].strip("/")


def binarize_urls(inputs: Iterable[str], output: str, *, root: str | None = None,
                  options: Options | None = None, client=None, jobs: int = 1,
                  manifest: str | os.PathLike | None = None, overwrite: bool = False,
                  format: str | None = None, explain: bool = False,
                  dpi: float | None = None,
                  on_outcome: Callable[[Outcome], None] | None = None) -> list[dict]:
    """Binarize image files named by paths or fsspec URLs into the folder ``output``.

    Parameters
    ----------
    inputs : iterable of str
        Image files: local paths or URLs (``s3://bucket/scans/a.tif``, ``memory://...``).
    output : str
        The output folder (path or URL). A file goes to ``output/<stem>.png`` (``.tif``
        with ``format="tiff"``); with ``root``, to its path relative to ``root``, so a tree
        is mirrored.
    options : Options, optional
        The binarization options (method, balance, scope, model, max_megapixels).
    client : distributed.Client, optional
        Run one Dask task per file on this client's cluster (each worker loads the ONNX
        model once); default: ``jobs`` processes on this machine.
    manifest : path, optional
        A JSON-lines file to append a record per page to; files it has done already are
        not run again (see :mod:`docbin.batch.manifest`).
    overwrite, format, explain, dpi
        As the ``docbin binarize`` flags of the same names.

    Returns
    -------
    list of dict
        The manifest records, one per page (:data:`docbin.batch.manifest.FIELDS`): status
        ``ok``, ``skipped`` (the output existed) or ``failed`` (with ``error``).

    Raises
    ------
    ModelError, MissingDependencyError, SetupError
        A problem that no file would get past (the batch stops).
    """
    out = location(output)
    sources = [location(item) for item in inputs]
    if root is not None:
        base = location(root)
        pairs = []
        for source in sources:
            if not base.contains(source):
                raise InputError(f"{source} is not inside root {base}")
            pairs.append((source, _relative(source, base)))
    else:
        pairs = [(source, source.name) for source in sources]
    settings = Settings(options=options or Options(), format=format, overwrite=overwrite,
                        explain=explain, dpi=dpi)
    entries = plan(pairs, out, format)
    if client is not None:
        from docbin.batch.cluster import DaskExecutor

        executor = DaskExecutor(client)
    else:
        executor = LocalExecutor(jobs)
    try:
        return run_batch(entries, settings, executor, manifest=manifest,
                         on_outcome=on_outcome).records
    finally:
        executor.close()
