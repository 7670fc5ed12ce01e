"""The manifest of a batch: one JSON line per page as it finishes.

Each line is a record with the fields of :data:`FIELDS`::

    {"input": "scans/a.png", "output": "clean/a.png", "page": 1, "pages": 1,
     "status": "ok", "error": null, "rows": 3508, "cols": 2480,
     "ink_intensity": 61.0, "contour_intensity": 118.0, "window_radius": 9, "f": 0.87, "seconds": 1.92, "worker": "tcp://10.0.0.5:40117",
     "finished": 1767312000.5, "run": "20260101T120000-3f9a"}

``status`` is ``ok`` (written), ``skipped`` (the output existed) or ``failed`` (``error``
says why, in one line; a file that cannot be read gives one record with ``page`` null).
``ink_intensity`` (T_I), ``contour_intensity`` (B_I), ``window_radius`` (K) and ``f`` are
the page's statistics and decision factor, under the names ``--explain`` and
``result.info`` give them; ``seconds`` the time to read, binarize and write the page;
``bytes`` the size of the output written; ``run`` names the command run that wrote the
line.

The file is only appended to, a line at a time, flushed as each page finishes, so a run
stopped at any point leaves every finished page in it. A run with the same manifest
resumes: a file whose latest records are all ``ok`` or ``skipped`` is not touched again
as long as its outputs are still there with the size recorded, failed files are tried
again (:func:`completed`). Inputs are matched by their resolved path, however they were
typed. A line cut short by a crash is ignored.
"""

from __future__ import annotations

import json
import os
import statistics
from dataclasses import dataclass, field
from pathlib import Path

from docbin.batch.storage import canonical
from docbin.errors import InputError, OutputError
from docbin.io import json_safe

FIELDS = ("input", "output", "page", "pages", "status", "error", "rows", "cols",
          "ink_intensity", "contour_intensity", "window_radius", "f", "seconds", "bytes",
          "worker", "finished", "run")
STATUSES = ("ok", "skipped", "failed")


def record(**values) -> dict:
    """A manifest record with every field of :data:`FIELDS` (missing ones None)."""
    unknown = set(values) - set(FIELDS)
    if unknown:
        raise ValueError(f"unknown manifest fields: {', '.join(sorted(unknown))}")
    if values.get("status") not in STATUSES:
        raise ValueError(f"status must be one of {', '.join(STATUSES)}, "
                         f"got {values.get('status')!r}")
    return {name: values.get(name) for name in FIELDS}


def read_records(path: str | os.PathLike) -> list[dict]:
    """Every record of the manifest at ``path``, in file order.

    A line that is not a JSON object (the last line of a run killed while writing it) is
    left out.

    Raises
    ------
    InputError
        The file is missing or cannot be read.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as error:
        raise InputError(f"{path}: cannot read: {error}") from error
    records = []
    for line in text.splitlines():
        try:
            value = json.loads(line)
        except ValueError:
            continue
        if isinstance(value, dict) and value.get("status") in STATUSES and "input" in value:
            records.append({name: value.get(name) for name in FIELDS})
    return records


def latest(records: list[dict]) -> dict[str, list[dict]]:
    """Per input (by its resolved name, :func:`docbin.batch.storage.canonical`), the
    records of the latest run that processed it (file order)."""
    runs: dict[str, str] = {}
    by_input: dict[str, list[dict]] = {}
    for item in records:
        key = canonical(item["input"])
        if key not in by_input or runs[key] != item["run"]:
            runs[key] = item["run"]
            by_input[key] = []
        by_input[key].append(item)
    return by_input


def completed(records: list[dict]) -> dict[str, list[dict]]:
    """Inputs whose latest records are all ``ok`` or ``skipped``, with those records."""
    return {key: items for key, items in latest(records).items()
            if items and all(item["status"] != "failed" for item in items)}


class ManifestWriter:
    """Appends records to a manifest file, one flushed line each. The file is opened at
    the first record, so a batch that stops before any page (a cluster that cannot be
    used) leaves no empty manifest behind.

    Raises
    ------
    OutputError
        The folder does not exist, or the file cannot be opened or written.
    """

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)
        if not self.path.parent.is_dir():
            raise OutputError(f"--manifest {self.path}: the folder {self.path.parent} "
                              "does not exist")
        self._stream = None

    def _open(self) -> None:
        try:
            self._stream = open(self.path, "a", encoding="utf-8")  # noqa: SIM115
            if self._stream.tell() > 0:
                self._end_cut_line()
        except OSError as error:
            raise OutputError(f"cannot write {self.path}: {error.strerror or error}") \
                from error

    def _end_cut_line(self) -> None:
        # A run killed in the middle of a line leaves it without its newline: end it, so
        # the next record starts on a line of its own.
        with open(self.path, "rb") as stream:
            stream.seek(-1, os.SEEK_END)
            if stream.read(1) != b"\n":
                self._stream.write("\n")

    def write(self, records: list[dict]) -> None:
        if self._stream is None:
            self._open()
        text = "".join(json.dumps(json_safe(item), separators=(", ", ": ")) + "\n"
                       for item in records)
        try:
            self._stream.write(text)
            self._stream.flush()
        except OSError as error:
            raise OutputError(f"cannot write {self.path}: {error.strerror or error}") \
                from error

    def close(self) -> None:
        if self._stream is not None:
            self._stream.close()


@dataclass
class ManifestSummary:
    """What :func:`summarise` finds in a manifest (latest record of each page)."""

    pages: int = 0
    status: dict = field(default_factory=dict)  # status -> pages
    runs: int = 0
    pages_per_second: float | None = None  # ok pages over the wall time of the runs
    seconds_per_page: float | None = None  # median over ok pages
    slowest: list = field(default_factory=list)  # records, slowest first
    failures: list = field(default_factory=list)  # records
    workers: int = 0


def summarise(records: list[dict], slowest: int = 5) -> ManifestSummary:
    """Pages per status, throughput, the slowest pages and every failure.

    Throughput is the ``ok`` pages over the wall time of the runs, each run from its first
    page's start (``finished − seconds``) to its last page's end; the pauses between runs
    do not count.
    """
    pages = [item for items in latest(records).values() for item in items]
    summary = ManifestSummary(pages=len(pages))
    for status in STATUSES:
        summary.status[status] = sum(item["status"] == status for item in pages)
    ok = [item for item in records if item["status"] == "ok"
          and isinstance(item.get("seconds"), (int, float))
          and isinstance(item.get("finished"), (int, float))]
    spans: dict[str, list[float]] = {}
    for item in ok:
        start, end = item["finished"] - item["seconds"], item["finished"]
        span = spans.setdefault(item["run"], [start, end])
        span[0], span[1] = min(span[0], start), max(span[1], end)
    summary.runs = len({item["run"] for item in records})
    wall = sum(end - start for start, end in spans.values())
    if ok and wall > 0:
        summary.pages_per_second = len(ok) / wall
    latest_ok = [item for item in pages if item["status"] == "ok"
                 and isinstance(item.get("seconds"), (int, float))]
    if latest_ok:
        summary.seconds_per_page = statistics.median(item["seconds"] for item in latest_ok)
    summary.slowest = sorted(latest_ok, key=lambda item: -item["seconds"])[:slowest]
    summary.failures = [item for item in pages if item["status"] == "failed"]
    summary.workers = len({item["worker"] for item in pages if item.get("worker")})
    return summary
