"""Evaluation against ground truth: pairing files, benchmarking methods, reports.

The library side of ``docbin evaluate`` and ``docbin benchmark``; nothing here prints.

- :func:`match_pairs` pairs predictions with ground truths by file stem (any image
  suffix); what has no partner is returned, never dropped silently.
- :func:`evaluate_pairs` scores each pair with :func:`docbin.evaluation.metrics.evaluate`.
- :func:`find_collections` walks a data folder laid out as ``<collection>/img`` +
  ``<collection>/gt`` (the layout of the development data).
- :func:`run_benchmark` binarizes every page with docbin's methods and the baselines of
  :mod:`docbin.evaluation.baselines`, times the binarization, and scores it; :func:`summarise`
  averages per collection and overall; :func:`render_markdown` writes the report.
  With picture settings each page's pictures are made as it is scored, for the HTML
  report of :mod:`docbin.evaluation.report`.
- With OCR settings (``docbin benchmark --ocr``), Tesseract also reads each binarized page
  and the gray page itself (the row ``gray``: Tesseract's own thresholding), and the text
  is scored against the page's transcription ``<collection>/txt/<NAME>.txt`` by character
  error rate (:mod:`docbin.evaluation.ocr`); :func:`keep_transcribed` keeps the pages that have one.

Averages are means over pages (every page weighs the same, as in the DIBCO contests). A
metric that is infinite on some page (PSNR of a perfect page; DRD when the ground truth
has no non-uniform 8×8 block) makes its mean infinite.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from docbin import __version__
from docbin.errors import DocbinError, InputError
from docbin.evaluation import metrics
from docbin.evaluation.baselines import BASELINES, get_baseline
from docbin.evaluation.metrics import METRICS
from docbin.evaluation.ocr import (
    OCR_METRICS,
    ocr_scores,
    read_transcription,
    tesseract_text,
    transcription_path,
)
from docbin.evaluation.pictures import page_pictures
from docbin.io import IMAGE_SUFFIXES, read_image
from docbin.method.refine import load_refiner
from docbin.options import METHODS, Options
from docbin.pipeline import binarize

#: Metrics of ``docbin evaluate`` and its JSON/CSV, in display order.
EVALUATE_METRICS = ("fm", "pfm", "psnr", "drd", "nrm", "mpm")
#: Metrics of the benchmark tables.
BENCHMARK_METRICS = ("fm", "pfm", "psnr", "drd")
#: docbin's own methods; every other method name is a baseline.
DOCBIN_METHODS = METHODS  # docbin's own methods (the others are baselines)
#: The OCR reference row: Tesseract on the gray page, with its own thresholding.
GRAY = "gray"
#: Column titles.
TITLES = {"fm": "FM", "pfm": "p-FM", "psnr": "PSNR", "drd": "DRD", "nrm": "NRM",
          "mpm": "MPM", "mcc": "MCC", "cer": "CER", "cer_folded": "CER fold",
          "seconds_per_megapixel": "s/MP"}
_FORMATS = {"fm": "{:.2f}", "pfm": "{:.2f}", "psnr": "{:.2f}", "drd": "{:.2f}",
            "nrm": "{:.4f}", "mpm": "{:.5f}", "mcc": "{:.4f}", "cer": "{:.2f}",
            "cer_folded": "{:.2f}", "seconds_per_megapixel": "{:.3f}"}
# A ground truth may carry a "_gt" / "-GT" suffix (as in several DIBCO releases).
_GT_SUFFIX = re.compile(r"[_-]gt$", re.IGNORECASE)


def format_value(metric: str, value: float) -> str:
    """``value`` as shown in tables: fixed decimals per metric, ``inf``/``n/a``."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    return _FORMATS.get(metric, "{:.4f}").format(value)


# --- pairing ------------------------------------------------------------------------------

@dataclass(frozen=True)
class Pair:
    """A prediction and its ground truth; ``name`` is the shared stem."""

    name: str
    prediction: Path
    ground_truth: Path


@dataclass
class Matching:
    """The outcome of pairing files by stem."""

    pairs: list[Pair] = field(default_factory=list)
    unmatched_predictions: list[Path] = field(default_factory=list)
    unmatched_ground_truths: list[Path] = field(default_factory=list)
    #: One message per stem that names several files on one side (e.g. a.png and a.tif).
    ambiguous: list[str] = field(default_factory=list)


def image_files(folder: Path) -> list[Path]:
    """The image files directly inside ``folder`` (hidden ones left out), sorted by name.

    Image files are those with a suffix of :data:`docbin.io.IMAGE_SUFFIXES`.
    """

    folder = Path(folder)
    if not folder.is_dir():
        raise InputError(f"{folder} is not a folder")
    return sorted((path for path in folder.iterdir()
                   if path.is_file() and not path.name.startswith(".")
                   and path.suffix.lower() in IMAGE_SUFFIXES), key=lambda path: path.name)


def _by_stem(paths: Iterable[Path], side: str, matching: Matching,
             ground_truth: bool) -> dict[str, Path]:
    found: dict[str, list[Path]] = {}
    for path in paths:
        found.setdefault(path.stem, []).append(path)
    if ground_truth:  # H01_gt.png also answers to H01, unless H01.* exists as well
        for stem, group in list(found.items()):
            short = _GT_SUFFIX.sub("", stem)
            if short != stem and short not in found:
                found[short] = group
    keyed = {}
    for stem, group in found.items():
        if len(group) > 1:
            names = ", ".join(path.name for path in group)
            matching.ambiguous.append(f"{side} {stem!r} is ambiguous: {names}; keep one")
        else:
            keyed[stem] = group[0]
    return keyed


def match_pairs(predictions: Sequence[Path], ground_truths: Sequence[Path]) -> Matching:
    """Pair predictions and ground truths whose file stems are equal.

    A ground truth named ``<stem>_gt`` or ``<stem>-GT`` (any case) also pairs with a
    prediction ``<stem>``. Pairs come out sorted by name.

    Returns
    -------
    Matching
        The pairs, the files of each side without a partner, and the stems that name
        several files on one side (left unpaired).
    """
    matching = Matching()
    preds = _by_stem(predictions, "prediction", matching, ground_truth=False)
    truths = _by_stem(ground_truths, "ground truth", matching, ground_truth=True)
    used: set[Path] = set()
    for stem in sorted(preds):
        truth = truths.get(stem)
        if truth is None:
            matching.unmatched_predictions.append(preds[stem])
        else:
            matching.pairs.append(Pair(stem, preds[stem], truth))
            used.add(truth)
    matching.unmatched_ground_truths = sorted(set(truths.values()) - used,
                                              key=lambda path: path.name)
    return matching


def pair_paths(prediction: Path, ground_truth: Path) -> Matching:
    """Pairs for ``docbin evaluate PRED GT``, each a file or a folder.

    - file + file: one pair (named after the prediction), whatever the stems;
    - file + folder: the ground truth with the prediction's stem;
    - folder + folder: :func:`match_pairs` of their image files.

    Raises
    ------
    InputError
        A path does not exist, or PRED is a folder while GT is a file.
    """
    prediction, ground_truth = Path(prediction), Path(ground_truth)
    for path, what in ((prediction, "PRED"), (ground_truth, "GT")):
        if not path.exists():
            raise InputError(f"{path} does not exist ({what} must be an image file or a "
                             "folder of images)")
    if prediction.is_dir():
        if not ground_truth.is_dir():
            raise InputError(f"PRED {prediction} is a folder, so GT must be a folder too, "
                             f"not the file {ground_truth}")
        return match_pairs(image_files(prediction), image_files(ground_truth))
    if ground_truth.is_dir():
        matching = match_pairs([prediction], image_files(ground_truth))
        matching.unmatched_ground_truths = []  # only the prediction's partner was asked for
        return matching
    return Matching(pairs=[Pair(prediction.stem, prediction, ground_truth)])


# --- scoring ------------------------------------------------------------------------------

def read_binary(path: Path):
    """A page read as 2-D uint8 gray (text where < 128), via :func:`docbin.io.read_image`."""

    return read_image(path).image


def score_pair(pair: Pair) -> dict[str, float]:
    """Every metric of :func:`docbin.evaluation.metrics.evaluate` for one pair of files.

    Raises
    ------
    InputError
        A file cannot be read, or the two images differ in size.
    """

    prediction = read_binary(pair.prediction)
    truth = read_binary(pair.ground_truth)
    if prediction.shape != truth.shape:
        raise InputError(f"{pair.prediction} is {prediction.shape[0]}x{prediction.shape[1]} "
                         f"(rows x cols) but its ground truth {pair.ground_truth} is "
                         f"{truth.shape[0]}x{truth.shape[1]}; compare images of one size")
    return metrics.evaluate(prediction, truth)


@dataclass
class Scored:
    """The scores of one pair, or why it could not be scored."""

    name: str
    scores: dict[str, float] | None = None
    error: str | None = None


def evaluate_pairs(pairs: Iterable[Pair]) -> Iterator[Scored]:
    """Score each pair; a pair that fails gives a :class:`Scored` with its ``error``."""
    for pair in pairs:
        try:
            yield Scored(pair.name, scores=score_pair(pair))
        except (InputError, ValueError, OSError) as error:
            yield Scored(pair.name, error=str(error))


def mean_scores(rows: Sequence[dict[str, float]],
                keys: Sequence[str] = EVALUATE_METRICS) -> dict[str, float]:
    """The mean of each metric over ``rows`` (NaN for no rows)."""
    if not rows:
        return {key: math.nan for key in keys}
    return {key: math.fsum(row[key] for row in rows) / len(rows)
            if not any(math.isinf(row[key]) for row in rows)
            else _infinite_mean([row[key] for row in rows]) for key in keys}


def _infinite_mean(values: list[float]) -> float:
    if any(v == math.inf for v in values) and any(v == -math.inf for v in values):
        return math.nan
    return math.inf if any(v == math.inf for v in values) else -math.inf


def evaluation_record(scored: Sequence[Scored]) -> dict:
    """The JSON document of ``docbin evaluate``:
    ``{"images": [{"name", "fm", "pfm", "psnr", "drd", "nrm", "mpm"}, ...], "mean": {...}}``
    over the pairs that were scored."""
    rows = [s for s in scored if s.scores is not None]
    images = [{"name": s.name, **{key: s.scores[key] for key in EVALUATE_METRICS}}
              for s in rows]
    return {"images": images, "mean": mean_scores([s.scores for s in rows])}


def evaluation_csv(scored: Sequence[Scored]) -> str:
    """CSV text: a header ``name,fm,pfm,psnr,drd,nrm,mpm`` and one row per scored pair."""
    import csv
    import io

    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["name", *EVALUATE_METRICS])
    for s in scored:
        if s.scores is not None:
            writer.writerow([s.name, *(repr(float(s.scores[key])) for key in EVALUATE_METRICS)])
    return buffer.getvalue()


# --- benchmark ----------------------------------------------------------------------------

@dataclass
class Collection:
    """A collection of pages with ground truth: ``<folder>/img`` and ``<folder>/gt``."""

    name: str
    folder: Path
    matching: Matching


def _is_collection(folder: Path) -> bool:
    return (folder / "img").is_dir() and (folder / "gt").is_dir()


def find_collections(data: Path, names: Sequence[str] | None = None) -> list[Collection]:
    """The collections of a data folder, sorted by name.

    ``data`` holds collections ``<name>/img`` + ``<name>/gt`` (images and ground truths
    paired by stem), or is one collection itself.

    Parameters
    ----------
    data : Path
        The data folder.
    names : sequence of str, optional
        Keep only these collections.

    Raises
    ------
    InputError
        ``data`` is not a folder, holds no collection, or a requested name is missing.
    """
    data = Path(data)
    if not data.is_dir():
        raise InputError(f"{data} is not a folder; give a folder of collections laid out as "
                         "<collection>/img and <collection>/gt")
    if _is_collection(data):
        folders = [data]
    else:
        folders = sorted((path for path in data.iterdir()
                          if path.is_dir() and not path.name.startswith(".")
                          and _is_collection(path)), key=lambda path: path.name)
    if not folders:
        raise InputError(f"{data} holds no collection: expected sub-folders "
                         "<collection>/img and <collection>/gt")
    if names:
        available = {path.name: path for path in folders}
        missing = [name for name in names if name not in available]
        if missing:
            raise InputError(f"no collection {', '.join(missing)} in {data}; available: "
                             f"{', '.join(available)}")
        folders = [available[name] for name in names]
    return [Collection(folder.name, folder,
                       match_pairs(image_files(folder / "img"), image_files(folder / "gt")))
            for folder in folders]


def keep_transcribed(collections: Sequence[Collection]) -> tuple[list[Collection], int]:
    """The collections with only their pages that have a transcription
    (:func:`docbin.evaluation.ocr.transcription_path`), and how many pages were left out.

    A collection left with no page is dropped.
    """
    from dataclasses import replace


    kept, skipped = [], 0
    for collection in collections:
        pairs = [pair for pair in collection.matching.pairs
                 if transcription_path(pair.prediction).is_file()]
        skipped += len(collection.matching.pairs) - len(pairs)
        if pairs:
            kept.append(replace(collection, matching=replace(collection.matching, pairs=pairs)))
    return kept, skipped


@dataclass
class PageRun:
    """One page binarized by one method: scores, binarization time and page size."""

    collection: str
    method: str
    name: str
    scores: dict[str, float]
    seconds: float
    megapixels: float


@dataclass
class PageOutcome:
    """Everything done on one page: a run per method, or the page's error."""

    collection: str
    name: str
    runs: list[PageRun] = field(default_factory=list)
    error: str | None = None
    #: With picture settings: the page's thumbnails and full-resolution files
    #: (:class:`docbin.evaluation.report.PagePictures`) for the HTML report.
    pictures: object | None = None


def method_function(method: str, options=None) -> Callable:
    """A function ``gray page → binary page (text 0)`` for a method name: a docbin method
    (:data:`DOCBIN_METHODS`) or a baseline (:data:`docbin.evaluation.baselines.BASELINES`)."""
    if method in DOCBIN_METHODS:
        from dataclasses import replace


        options = options or Options()
        options = replace(options, method=method,
                          steps=options.steps if method == "hybrid" else None)
        return lambda image: binarize(image, method, options=options).image

    return get_baseline(method)


def check_methods(methods: Sequence[str], options=None) -> None:
    """Fail early on an unknown method name or a hybrid model that does not load.

    Raises
    ------
    ValueError
        An unknown method.
    docbin.errors.ModelError
        ``hybrid`` is asked for and the model is missing or does not match.
    """

    for method in methods:
        if method not in DOCBIN_METHODS and method not in BASELINES:
            raise ValueError(f"unknown method {method!r}; choose from "
                             f"{', '.join(DOCBIN_METHODS + BASELINES)}")
    if "hybrid" in methods:

        load_refiner(getattr(options, "model", None))


def benchmark_page(job: tuple) -> PageOutcome:
    """Binarize one page with every method, time it and score it (runs in workers too).

    ``job`` is ``(collection name, Pair of image and ground truth, methods, options)``,
    optionally followed by :class:`docbin.evaluation.ocr.OcrSettings` (or None): then
    Tesseract reads each binarized page and the gray page (run :data:`GRAY`, DIBCO metrics
    NaN) and their CER against the page's transcription joins the scores; and optionally by
    :class:`docbin.evaluation.pictures.PictureSettings`: then the pictures of the HTML report
    are made from the binary pages (:func:`docbin.evaluation.pictures.page_pictures`; the
    hybrid records what its learned steps decided) into ``outcome.pictures``. Only the
    binarization is timed; reading, OCR, scoring and pictures are not.
    """

    collection, pair, methods, options, *rest = job
    ocr_settings = rest[0] if rest else None
    picture_settings = rest[1] if len(rest) > 1 else None
    binaries, refined, dropped = {}, None, None
    outcome = PageOutcome(collection, pair.name)
    try:

        image = read_image(pair.prediction).image
        truth = read_image(pair.ground_truth).image
        if image.shape != truth.shape:
            raise InputError(f"{pair.prediction} is {image.shape[0]}x{image.shape[1]} but "
                             f"its ground truth {pair.ground_truth} is "
                             f"{truth.shape[0]}x{truth.shape[1]}")
        megapixels = image.size / 1e6
        read_text = None
        if ocr_settings is not None:
            read_text = _ocr_reader(pair, ocr_settings)
            outcome.runs.append(PageRun(collection, GRAY, pair.name,
                                        {**dict.fromkeys(metrics.METRICS, math.nan),
                                         **read_text(image)}, math.nan, megapixels))
        for method in methods:
            recorded = picture_settings is not None and method == "hybrid"
            function = _recording_hybrid(options) if recorded else \
                method_function(method, options)
            start = time.perf_counter()
            binary = function(image)
            seconds = time.perf_counter() - start
            if recorded:
                binary, refined, dropped = binary.image, binary.refined, binary.dropped
            scores = metrics.evaluate(binary, truth)
            if read_text is not None:
                scores.update(read_text(binary))
            outcome.runs.append(PageRun(collection, method, pair.name, scores, seconds,
                                        megapixels))
            if picture_settings is not None:
                binaries[method] = binary
        if picture_settings is not None:
            outcome.pictures = page_pictures(collection, pair.name, image, truth, binaries,
                                             picture_settings, refined, dropped)
    except (DocbinError, ValueError, OSError) as error:
        outcome.runs = []
        outcome.error = f"{collection}/{pair.name}: {error}"
    return outcome


def _recording_hybrid(options) -> Callable:
    """The hybrid as ``gray page → BinarizationResult`` with what its steps decided."""
    from dataclasses import replace

    options = replace(options or Options(), method="hybrid")
    return lambda image: binarize(image, "hybrid", options=options, record_refined=True)


def _ocr_reader(pair: Pair, settings) -> Callable:
    """A function ``page → {"cer": …, "cer_folded": …}`` against ``pair``'s transcription."""

    reference = read_transcription(transcription_path(pair.prediction))
    return lambda page: ocr_scores(tesseract_text(page, settings), reference)


def _init_worker() -> None:
    import cv2

    cv2.setNumThreads(1)  # one OpenCV thread per worker process


def run_benchmark(collections: Sequence[Collection], methods: Sequence[str], *, options=None,
                  jobs: int = 1, ocr=None, pictures=None) -> Iterator[PageOutcome]:
    """Every page of ``collections`` through :func:`benchmark_page`, in order.

    With ``jobs`` > 1 pages run in that many worker processes (spawned); the per-page
    times then include the competition for CPU cores, so time with ``jobs = 1``.
    ``ocr`` (:class:`docbin.evaluation.ocr.OcrSettings`) adds the OCR scores; every page must then
    have a transcription (see :func:`keep_transcribed`). ``pictures``
    (:class:`docbin.evaluation.pictures.PictureSettings`) makes each page's pictures for the
    HTML report.
    """
    job_list = [(collection.name, pair, tuple(methods), options, ocr, pictures)
                for collection in collections for pair in collection.matching.pairs]
    if jobs <= 1 or len(job_list) <= 1:
        yield from map(benchmark_page, job_list)
        return
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(max_workers=min(jobs, len(job_list)),
                             mp_context=multiprocessing.get_context("spawn"),
                             initializer=_init_worker) as executor:
        yield from executor.map(benchmark_page, job_list)


@dataclass
class SummaryRow:
    """Means of one method over a set of pages."""

    method: str
    pages: int
    means: dict[str, float]
    seconds_per_megapixel: float


@dataclass
class Summary:
    """Per-collection and overall summaries of a benchmark."""

    methods: list[str]
    collections: dict[str, list[SummaryRow]]
    overall: list[SummaryRow]
    failures: list[str] = field(default_factory=list)


def _summary_rows(runs: Sequence[PageRun], methods: Sequence[str]) -> list[SummaryRow]:
    rows = []
    for method in methods:
        mine = [run for run in runs if run.method == method]
        if not mine:
            continue
        megapixels = math.fsum(run.megapixels for run in mine)
        seconds = math.fsum(run.seconds for run in mine)
        keys = [*METRICS, *(key for key in OCR_METRICS
                            if all(key in run.scores for run in mine))]
        rows.append(SummaryRow(method, len(mine), mean_scores([run.scores for run in mine], keys),
                               seconds / megapixels if megapixels else math.nan))
    return rows


def summarise(outcomes: Iterable[PageOutcome], methods: Sequence[str]) -> Summary:
    """Means per collection and method, and over all pages per method.

    Seconds per megapixel are the total binarization time over the total page area. The
    OCR reference :data:`GRAY`, when the outcomes have it, comes first.
    """
    runs: list[PageRun] = []
    failures: list[str] = []
    order: list[str] = []
    for outcome in outcomes:
        if outcome.collection not in order:
            order.append(outcome.collection)
        if outcome.error is not None:
            failures.append(outcome.error)
        runs.extend(outcome.runs)
    if GRAY not in methods and any(run.method == GRAY for run in runs):
        methods = [GRAY, *methods]
    collections = {name: _summary_rows([r for r in runs if r.collection == name], methods)
                   for name in order}
    return Summary(list(methods), collections, _summary_rows(runs, methods), failures)


def summary_table(rows: Sequence[SummaryRow], metrics: Sequence[str] | None = None
                  ) -> tuple[list[str], list[list[str]]]:
    """Header and formatted cells of a summary table (method, pages, metrics, s/MP).

    By default the metrics are :data:`BENCHMARK_METRICS`, then the :data:`OCR_METRICS`
    that every row has.
    """
    if metrics is None:
        metrics = [*BENCHMARK_METRICS, *(key for key in OCR_METRICS
                                         if rows and all(key in row.means for row in rows))]
    header = ["Method", "Pages", *(TITLES[m] for m in metrics), TITLES["seconds_per_megapixel"]]
    cells = [[row.method, str(row.pages), *(format_value(m, row.means[m]) for m in metrics),
              format_value("seconds_per_megapixel", row.seconds_per_megapixel)]
             for row in rows]
    return header, cells


def _markdown_table(header: Sequence[str], cells: Sequence[Sequence[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |",
             "|" + "|".join("---" if i == 0 else "---:" for i in range(len(header))) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in cells]
    return "\n".join(lines)


def render_markdown(summary: Summary, *, data: str | None = None, jobs: int = 1) -> str:
    """The benchmark report as Markdown: overall table, one table per collection, notes."""

    pages = sum(row.pages for row in summary.overall[:1])
    parts = ["# docbin benchmark", ""]
    if data:
        parts.append(f"Data: `{data}` · {len(summary.collections)} collection(s), "
                     f"{pages} page(s) · docbin {__version__}")
        parts.append("")
    parts += ["## Overall (mean over all pages)", "",
              _markdown_table(*summary_table(summary.overall)), ""]
    for name, rows in summary.collections.items():
        parts += [f"## {name}", "", _markdown_table(*summary_table(rows)), ""]
    parts += ["## Notes", "",
              ("- FM and p-FM in %, PSNR in dB, DRD as in the DIBCO tool (5×5 weights, "
              "complete 8×8 blocks for NUBN); means over pages."),
              "- p-FM: H-DIBCO 2010 pseudo-recall on the ground truth's skeleton.",
              "- s/MP: binarization seconds per megapixel (reading and scoring excluded)"
              + (f", measured with {jobs} worker processes sharing the CPU." if jobs > 1
                 else ", one page at a time."),
              ("- Baselines: Otsu; Niblack (15×15, k = −0.2); Sauvola (15×15, k = 0.5, "
              "R = 128); Wolf (40×40, k = 0.5).")]
    if any(GRAY == row.method for row in summary.overall):
        parts += [("- CER: character error rate of Tesseract's text against the page's "
                   "transcription, in % (edit distance / transcription length, whitespace "
                   "collapsed; lower is better); CER fold ignores case, punctuation and "
                   "symbols. Only pages with a transcription (txt/) are benchmarked."),
                  ("- gray: Tesseract on the page as it is, with its own thresholding "
                   "(no binarization, so no DIBCO metrics).")]
    if summary.failures:
        parts += ["", "## Pages that failed", ""]
        parts += [f"- {message}" for message in summary.failures]
    return "\n".join(parts) + "\n"
