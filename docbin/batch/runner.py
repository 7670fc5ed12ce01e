"""Running a batch: tasks on an executor, outcomes into manifest records.

A batch is a list of :class:`~docbin.batch.task.Task` (one input file and its output), run
by an executor:

- :class:`LocalExecutor`, the process pool of ``--jobs``: this process and N − 1 spawned
  worker processes, a page per core, outcomes in input order;
- :class:`docbin.batch.cluster.DaskExecutor`, a Dask cluster (``--cluster``): one Dask task
  per file, outcomes as they finish, a worker that dies has its page run again elsewhere.

Both map the same function, :func:`docbin.batch.task.run_job`, and :func:`run_batch` turns
their outcomes into manifest records, resumes from a manifest, and reports each outcome to
a callback (the CLI's progress bar). Nothing here prints: errors are raised or recorded.
"""

from __future__ import annotations

import contextlib
import dataclasses
import multiprocessing
import os
import secrets
import signal
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import CancelledError, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field

import cv2

from docbin.batch.manifest import ManifestWriter, completed, read_records
from docbin.batch.storage import canonical
from docbin.batch.task import Outcome, Settings, Task, failed_outcome, run_job
from docbin.method.bands import cpu_count


def _init_worker() -> None:
    # Ctrl-C reaches the whole process group: this process stops taking pages, and the
    # worker finishes (and writes whole) the page it has while the pool shuts down. First
    # thing: the sooner it is ignored, the shorter the time in which a Ctrl-C can still
    # interrupt the worker's start-up.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # SIGTERM to the whole process group (``kill -- -PGID``, service managers) likewise: a
    # spawned worker starts with the default action, which ends it at once, in the middle
    # of a page's write, leaving its temporary file. The batch process turns its own
    # SIGTERM into the same orderly stop as Ctrl-C and shuts the pool down.
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    # Parallelism is across files: one OpenCV thread per worker avoids oversubscription.
    cv2.setNumThreads(1)


@contextlib.contextmanager
def _single_core():
    """OpenCV on one thread in this process while the block runs."""
    previous = cv2.getNumThreads()
    cv2.setNumThreads(1)
    try:
        yield
    finally:
        cv2.setNumThreads(previous)


@contextlib.contextmanager
def _mapped(job_list: list, workers: int):
    """``run_job`` over ``job_list``, results in input order, every page on one core.

    With ``workers`` > 1 this process binarizes pages itself (its modules and model are
    already loaded) beside ``workers − 1`` worker processes (spawned: the same behaviour on
    every platform, no forked OpenCV state), which get the next pages while they are busy.
    """
    workers = min(workers, len(job_list))
    if workers <= 1:
        with _single_core():
            yield map(run_job, job_list)
        return
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
                outcome = executor.submit(run_job, job).result()
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
                done_here = run_job(job[1])
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


def _resume_state(items: list[dict], task: Task) -> str:
    """What a manifest's records of a file mean for this task: ``done`` (its outputs are
    there, with the size written), ``redo`` (the same outputs, but one is missing or has
    another size: made again, replacing it), or ``new`` (another command's records)."""
    target = canonical(str(task.target))
    stem = canonical(str(task.target.with_name(f"{task.target.stem}-p")))
    state = "done"
    for item in items:
        output = canonical(str(item["output"]))
        if output != target and not output.startswith(stem):
            return "new"
        name = output[len(canonical(str(task.target.parent))):].lstrip("/\\")
        size = task.target.with_name(name).size()
        if size is None or (item.get("bytes") is not None and size != item["bytes"]):
            state = "redo"
    return state


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
    ModelError, MissingDependencyError, SetupError
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
        else:
            items = previous.get(canonical(entry.label))
            state = "new" if items is None else _resume_state(items, entry)
            if state == "done":
                result.done_before.extend(items)
            else:
                tasks.append(dataclasses.replace(entry, redo=True) if state == "redo"
                             else entry)
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
