"""The HTML report of ``docbin benchmark --html``: look at the pages, not only the means.

One self-contained HTML file (no server, no network): the summary tables, sortable by
clicking a header, and one panel per page with the input, each method's output and its
error overlay, each with its metrics. Small thumbnails are inlined as ``data:`` URIs;
the full-resolution pictures shown on click go to a folder beside the report,
``<report stem>_files/``. The pictures are made by :mod:`docbin.evaluation.pictures`;
:func:`render_html` fills the Jinja2 template ``templates/report.html.j2``.
"""

from __future__ import annotations

import math

from docbin import __version__
from docbin.evaluation.benchmark import (
    BENCHMARK_METRICS,
    DOCBIN_METHODS,
    GRAY,
    TITLES,
    format_value,
    summary_table,
)
from docbin.evaluation.ocr import OCR_METRICS
from docbin.evaluation.pictures import (
    CORRECT_INK,
    DROPPED_INK,
    FALSE_INK,
    MADE_BACKGROUND,
    MADE_TEXT,
    MISSED_INK,
    THUMBNAIL_WIDTH,
)


def fm_spread(runs, methods) -> float:
    """max FM − min FM over ``runs`` of ``methods`` (NaN FMs left out; 0 for < 2 runs)."""
    values = [run.scores["fm"] for run in runs
              if run.method in methods and not math.isnan(run.scores.get("fm", math.nan))]
    return max(values) - min(values) if len(values) > 1 else 0.0


def _sort_value(value: float) -> str:
    """A number for the table sort in JavaScript (infinities as ±1e308, NaN as empty)."""
    if value is None or math.isnan(value):
        return ""
    if math.isinf(value):
        return "1e308" if value > 0 else "-1e308"
    return repr(float(value))


def _table(rows) -> dict:
    """A summary table for the template: header, and per cell (text, sort value)."""
    header, cells = summary_table(rows)
    keys = ["method", "pages", *BENCHMARK_METRICS,
            *[k for k in OCR_METRICS if rows and all(k in r.means for r in rows)],
            "seconds_per_megapixel"]
    values = [[row.method, str(row.pages),
               *[_sort_value(row.means[k]) for k in keys[2:-1]],
               _sort_value(row.seconds_per_megapixel)] for row in rows]
    return {"header": header,
            "rows": [list(zip(texts, sort_values)) for texts, sort_values
                     in zip(cells, values)]}


def _page_entries(outcomes, methods, spread_of, metric_keys) -> list[dict]:
    """One entry per page for the template, largest FM spread first."""
    pages = []
    for outcome in outcomes:
        runs = {run.method: run for run in outcome.runs}
        pictures = getattr(outcome, "pictures", None)
        cells = []
        for method in methods:
            run = runs.get(method)
            if run is None:
                continue
            cells.append({
                "method": method,
                "metrics": [(TITLES[k], format_value(k, run.scores[k])) for k in metric_keys
                            if k in run.scores],
                "fm": _sort_value(run.scores.get("fm", math.nan)),
                "views": pictures.methods.get(method, {}) if pictures else {}})
        pages.append({"collection": outcome.collection, "name": outcome.name,
                      "error": outcome.error, "input": pictures.input if pictures else None,
                      "size": pictures.size if pictures else None,
                      "gray": runs.get(GRAY),
                      "spread": fm_spread(outcome.runs, spread_of), "cells": cells})
    pages.sort(key=lambda page: (-page["spread"], page["collection"], page["name"]))
    return pages


def render_html(summary, outcomes, *, data: str | None = None, jobs: int = 1) -> str:
    """The report as HTML text.

    Parameters
    ----------
    summary : docbin.evaluation.benchmark.Summary
        Means per collection and overall.
    outcomes : sequence of docbin.evaluation.benchmark.PageOutcome
        The pages, with their ``pictures`` (pages without are listed without pictures).
    data : str, optional
        The data folder, named in the heading.

    Notes
    -----
    Pages are sorted by the spread of FM (max − min) between docbin's own methods when
    at least two of them ran, else between all methods: the pages where the choice of
    method matters most come first. The report can re-sort them by name or by one
    method's FM.
    """
    from jinja2 import Environment, PackageLoader, select_autoescape  # --html only

    methods = [m for m in summary.methods if m != GRAY]
    own = [m for m in methods if m in DOCBIN_METHODS]
    spread_of = own if len(own) > 1 else methods
    metric_keys = [key for key in ("fm", "pfm", "psnr", "drd", "cer", "cer_folded")
                   if any(key in row.means for row in summary.overall)]

    pages = _page_entries(outcomes, methods, spread_of, metric_keys)
    environment = Environment(loader=PackageLoader("docbin.evaluation", "templates"),
                              autoescape=select_autoescape(["html", "j2"]),
                              trim_blocks=True, lstrip_blocks=True)
    template = environment.get_template("report.html.j2")
    return template.render(
        version=__version__, data=data, thumbnail_width=THUMBNAIL_WIDTH, jobs=jobs,
        methods=methods, spread_of=spread_of,
        overall=_table(summary.overall),
        collections=[(name, _table(rows)) for name, rows in summary.collections.items() if rows],
        pages=pages, failures=summary.failures,
        colours={"missed": MISSED_INK, "false": FALSE_INK, "correct": CORRECT_INK,
                 "made_text": MADE_TEXT, "made_background": MADE_BACKGROUND,
                 "dropped": DROPPED_INK},
        gray_cer=[(TITLES[k], k) for k in ("cer", "cer_folded")], format_value=format_value)
