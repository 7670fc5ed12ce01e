"""Many pages: a folder, a list of paths or fsspec URLs, on this machine or a Dask cluster.

- :mod:`docbin.batch.task`: one file (Settings, Task, Outcome, :func:`run_job`), the
  per-file worker every executor runs;
- :mod:`docbin.batch.plan`: which files, and the output of each;
- :mod:`docbin.batch.runner`: the ``--jobs`` process pool and :func:`run_batch` (manifest,
  resume, progress);
- :mod:`docbin.batch.cluster`: the Dask executor (``--cluster``);
- :mod:`docbin.batch.storage`: local paths and fsspec URLs; :mod:`docbin.batch.manifest`:
  the JSON-lines records; :mod:`docbin.batch.explain`: what ``--explain`` writes.

:func:`binarize_urls` is the Python API over the same runner as ``docbin binarize``.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable

from docbin.batch.cluster import DaskExecutor
from docbin.batch.plan import _relative, plan
from docbin.batch.runner import LocalExecutor, run_batch
from docbin.batch.storage import location
from docbin.batch.task import Outcome, Settings
from docbin.errors import InputError
from docbin.options import Options

__all__ = ["binarize_urls"]


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

        executor = DaskExecutor(client)
    else:
        executor = LocalExecutor(jobs)
    try:
        return run_batch(entries, settings, executor, manifest=manifest,
                         on_outcome=on_outcome).records
    finally:
        executor.close()
