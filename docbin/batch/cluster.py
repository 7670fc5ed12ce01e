"""The Dask executor of the batch runner (``--cluster``; the ``cluster`` extra).

One Dask task per input file runs :func:`docbin.batch.task.run_task` on a worker. The task
reads its page from storage, binarizes it and writes the output itself, so only file
names and manifest records cross the network, and a worker holds only the pages it is
working on (Dask's scheduler queues tasks and hands a worker about as many as it has
threads). The hybrid's network (an onnxruntime session) is loaded once per worker process
(:func:`docbin.method.refine.load_refiner` keeps it) and OpenCV runs one thread per task.

A worker that dies (killed, out of memory) has its task run again on another worker by
the scheduler; a file whose task kills a worker twice is recorded as failed rather than
retried forever (``distributed.scheduler.allowed-failures`` = 1 on the local clusters
docbin starts; a cluster started elsewhere uses its own setting, Dask's default is 3).

Every worker must have docbin installed and see the inputs and outputs: object storage
URLs, or a file system mounted at the same path everywhere.
"""

from __future__ import annotations

import contextlib
import logging
import re
import secrets
import threading
import time
from collections.abc import Iterator

from docbin.batch.storage import EXTRA_HINT
from docbin.batch.task import Outcome, Settings, Task, failed_outcome, run_job
from docbin.errors import SetupError

#: Worker deaths a task may cause before it is failed: the second death fails it.
ALLOWED_FAILURES = 1
#: Seconds to wait for a scheduler to answer, and for a first worker to join it, before
#: giving up (``--cluster-timeout``).
CONNECT_TIMEOUT = 10.0
#: Seconds after which a wait for workers is reported (and goes on).
WORKERS_NOTICE = 5.0
_LOCAL = re.compile(r"^local(?::(\d+))?$")


def _import_distributed():
    try:
        import distributed
    except ImportError:
        raise SetupError(f"--cluster needs Dask: {EXTRA_HINT}") from None
    return distributed


@contextlib.contextmanager
def _sigint_ignored_by_children():
    """Processes started in the block ignore SIGINT (Python keeps an inherited SIG_IGN).

    Ctrl-C reaches the whole process group: this process stops the batch and closes the
    cluster, instead of every worker printing its own KeyboardInterrupt traceback.
    """
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def _worker_setup() -> None:
    # Each worker thread binarizes its own page: one OpenCV thread each.
    import cv2

    cv2.setNumThreads(1)


def _connect(distributed, spec: str, timeout: float):
    """A client of the scheduler at ``spec``, within ``timeout`` seconds wall time.

    The connection runs in a thread so that a server that accepts and never answers (an
    HTTP server, a dashboard port) cannot hold the command past ``timeout``; a server that
    answers with something else than Dask's protocol is the same one-line error.
    """
    outcome: dict = {}

    def attempt() -> None:
        try:
            outcome["client"] = distributed.Client(spec, timeout=timeout, set_as_default=False)
        except BaseException as error:  # noqa: BLE001 - reported below as one line
            outcome["error"] = error

    thread = threading.Thread(target=attempt, daemon=True, name="docbin-dask-connect")
    thread.start()
    thread.join(timeout + 2.0)
    hint = ("is it a Dask scheduler (dask scheduler; port 8786 by default, not the "
            "dashboard's), and is the address right?")
    if thread.is_alive():
        raise SetupError(f"--cluster {spec}: no Dask scheduler answered within {timeout:g} s; "
                         f"{hint} (--cluster-timeout waits longer)")
    error = outcome.get("error")
    if error is not None:
        message = " ".join(str(error).split())[:200] or type(error).__name__
        if isinstance(error, MemoryError):
            message = "it answered with something else than Dask's protocol"
        raise SetupError(f"--cluster {spec}: cannot reach the Dask scheduler ({message}); "
                         f"{hint}")
    return outcome["client"]


class DaskExecutor:
    """Runs a batch on a Dask cluster through ``client``, outcomes as they finish.

    ``cluster`` (a cluster that :meth:`connect` started) is closed with :meth:`close`;
    a client given by the caller is left open.
    """

    def __init__(self, client, cluster=None, *, owns_client: bool = False) -> None:
        self.client = client
        self.cluster = cluster
        self._owns_client = owns_client
        self._ready = False

    @classmethod
    def connect(cls, spec: str, timeout: float = CONNECT_TIMEOUT,
                notice=None) -> DaskExecutor:
        """A client for ``spec``: ``local:N`` starts a local cluster of N one-thread worker
        processes (``local``: one per core), anything else is a scheduler address
        (``tcp://host:8786``, ``tls://...``).

        ``timeout`` bounds the wait for the scheduler's answer and for a first worker;
        ``notice(message)`` is told when the wait for workers goes on.

        Raises
        ------
        SetupError
            Dask is not installed, the address is malformed, nothing that speaks Dask's
            protocol answers there within ``timeout``, or no worker joins.
        """
        distributed = _import_distributed()
        import dask

        match = _LOCAL.match(spec)
        if match is not None:
            workers = int(match.group(1)) if match.group(1) else None
            if workers == 0:
                raise SetupError("--cluster local:N needs at least one worker")
            # worker-saturation 1.0: a worker is sent a page only when its thread is free,
            # so it holds one page at a time, and a worker's death touches only that page
            with dask.config.set({"distributed.scheduler.allowed-failures": ALLOWED_FAILURES,
                                  "distributed.scheduler.worker-saturation": 1.0}), \
                    _sigint_ignored_by_children():
                cluster = distributed.LocalCluster(
                    n_workers=workers, threads_per_worker=1, processes=True,
                    silence_logs=logging.ERROR)
            client = distributed.Client(cluster)
            return cls(client, cluster, owns_client=True)
        if "://" not in spec:
            raise SetupError(f"--cluster {spec}: give a scheduler address "
                             "(tcp://HOST:8786) or local:N")
        client = _connect(distributed, spec, timeout)
        executor = cls(client, owns_client=True)
        try:
            executor.wait_for_workers(timeout, notice)
        except BaseException:
            executor.close()
            raise
        return executor

    def wait_for_workers(self, timeout: float = CONNECT_TIMEOUT, notice=None) -> None:
        """Return once the scheduler has a worker; call ``notice(message)`` after
        :data:`WORKERS_NOTICE` seconds without one, and give up after ``timeout``.

        Raises
        ------
        SetupError
            No worker joined within ``timeout`` seconds.
        """
        deadline = time.monotonic() + timeout
        told = False
        while not self.client.scheduler_info().get("workers"):
            waited = timeout - (deadline - time.monotonic())
            if waited >= timeout:
                raise SetupError(f"the Dask scheduler has no worker after {timeout:g} s; "
                                 "start workers (dask worker ADDRESS) or wait longer with "
                                 "--cluster-timeout")
            if not told and waited >= WORKERS_NOTICE and notice is not None:
                notice("docbin: the Dask scheduler has no worker yet; waiting up to "
                       f"{timeout:g} s (--cluster-timeout)")
                told = True
            time.sleep(0.2)

    @property
    def dashboard_link(self) -> str | None:
        try:
            return self.client.dashboard_link
        except Exception:  # noqa: BLE001 - no dashboard (bokeh missing): nothing to show
            return None

    def _in_process(self) -> bool:
        cluster = self.cluster or getattr(self.client, "cluster", None)
        return cluster is not None and getattr(cluster, "processes", True) is False

    def _prepare(self) -> None:
        if self._ready:
            return
        try:
            self.client.run(_worker_setup)
        except ImportError as error:
            raise SetupError(f"the Dask workers cannot import docbin ({error}); install "
                             f"docbin on every worker: {EXTRA_HINT}") from None
        self._ready = True

    @contextlib.contextmanager
    def outcomes(self, tasks: list[Task], settings: Settings) -> Iterator[Iterator[Outcome]]:
        if not self._in_process():
            for task in tasks:
                for place in (task.source, task.target):
                    if not place.shared:
                        raise SetupError(f"{place}: {place.scheme}:// lives in this process "
                                         "and Dask workers cannot see it; use a shared "
                                         "file system or object storage")
        self._prepare()
        prefix = f"docbin-page-{secrets.token_hex(4)}"
        futures = self.client.map(run_job, [(task, settings) for task in tasks], pure=False,
                                  key=[f"{prefix}-{task.index}" for task in tasks])
        by_key = {future.key: task for future, task in zip(futures, tasks)}
        try:
            yield self._gather(futures, by_key)
        finally:
            self.client.cancel(futures)

    def _gather(self, futures, by_key) -> Iterator[Outcome]:
        from distributed import as_completed
        from distributed.scheduler import KilledWorker

        for future in as_completed(futures, loop=self.client.loop):
            task = by_key[future.key]
            try:
                outcome = future.result()
            except KilledWorker:
                outcome = failed_outcome(task, f"{task.label}: the Dask worker binarizing it "
                                         "died on every try (out of memory?)")
            except ImportError as error:
                raise SetupError(f"the Dask workers cannot import docbin ({error}); install "
                                 f"docbin on every worker: {EXTRA_HINT}") from None
            except Exception as error:  # noqa: BLE001 - lost task: record it, go on
                outcome = failed_outcome(task, f"{task.label}: the Dask task failed "
                                         f"({type(error).__name__}: {error})")
            future.release()
            yield outcome

    def close(self) -> None:
        if self._owns_client:
            with contextlib.suppress(Exception):
                self.client.close()
        if self.cluster is not None:
            with contextlib.suppress(Exception):
                self.cluster.close()
