"""The HTML report opened in a real headless browser: Chromium (Debian's package) driven
by Playwright. Skips without them, except in CI, where .ci/run installs both."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import require_module, require_program
from PIL import Image
from typer.testing import CliRunner

from docbin import synth
from docbin.cli import app

CHROMIUM = require_program("chromium", "chromium")
playwright_api = require_module("playwright.sync_api", "dev")

#: No sandbox (containers, root), nothing fetched by the browser itself.
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
METHODS = ["classical", "hybrid", "otsu", "wolf"]


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    """A report over three synthetic degraded pages with their true ink."""
    root = tmp_path_factory.mktemp("report")
    for index in range(3):
        collection = "alpha" if index < 2 else "beta"
        page, ink = synth.degraded_page(160, 400, seed=60 + index)
        for folder, image in (("img", page), ("gt", np.where(ink, 0, 255).astype(np.uint8))):
            (root / "data" / collection / folder).mkdir(parents=True, exist_ok=True)
            Image.fromarray(image).save(root / "data" / collection / folder / f"p{index}.png")
    html = root / "report.html"
    result = CliRunner().invoke(app, ["benchmark", str(root / "data"), "--method",
                                      "classical,hybrid", "--baseline", "otsu,wolf",
                                      "--html", str(html)])
    assert result.exit_code == 0, result.output
    return html


@pytest.fixture(scope="module")
def page(report):
    """The report open in Chromium, with the console errors and failed requests seen."""
    with playwright_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            tab = browser.new_page()
            tab.problems = []
            tab.on("console", lambda message: tab.problems.append(message.text)
                   if message.type == "error" else None)
            tab.on("pageerror", lambda error: tab.problems.append(str(error)))
            tab.on("requestfailed", lambda request: tab.problems.append(
                f"request failed: {request.url}"))
            tab.goto(report.as_uri(), wait_until="load")
            yield tab
        finally:
            browser.close()


def test_renders_without_console_errors(page):
    assert page.title().startswith("docbin benchmark")
    assert page.problems == []


def test_summary_has_one_row_per_method(page):
    methods = page.eval_on_selector_all("#summary tbody tr",
                                        "rows => rows.map(row => row.cells[0].textContent)")
    assert methods == METHODS


def test_one_panel_per_page_with_loaded_pictures(page):
    assert page.locator("section.page").count() == 3
    widths = page.eval_on_selector_all(
        "section.page figure img", "images => images.map(image => image.naturalWidth)")
    # input + (output, errors) per method + the hybrid's steps, on every page
    assert len(widths) == 3 * (1 + 2 * len(METHODS) + 1)
    assert all(width > 0 for width in widths)


def test_sorting_the_summary_by_a_header(page):
    page.click("#summary th:nth-child(3)")  # FM, ascending
    fms = page.eval_on_selector_all(
        "#summary tbody tr", "rows => rows.map(row => parseFloat(row.cells[2].dataset.value))")
    assert fms == sorted(fms)
    page.click("#summary th:nth-child(3)")  # descending
    fms = page.eval_on_selector_all(
        "#summary tbody tr", "rows => rows.map(row => parseFloat(row.cells[2].dataset.value))")
    assert fms == sorted(fms, reverse=True)


def test_views_order_and_zoom(page):
    first = page.locator("section.page figure.view-output img").first
    assert first.is_visible()
    page.select_option("#view", "errors")
    assert not first.is_visible()
    assert page.locator("section.page figure.view-errors img").first.is_visible()
    page.select_option("#order", "name")
    names = page.eval_on_selector_all("section.page", "pages => pages.map(p => p.dataset.name)")
    assert names == ["alpha/p0", "alpha/p1", "beta/p2"]
    page.locator("section.page figure.view-errors img").first.click()
    assert page.locator("#zoom").is_visible()
    page.wait_for_function("document.getElementById('zoom-image').naturalWidth > 0")
    width = page.evaluate("document.getElementById('zoom-image').naturalWidth")
    assert width == 400  # the full-resolution page, not the 320-pixel thumbnail
    page.click("#zoom-close")
    assert not page.locator("#zoom").is_visible()
    assert page.problems == []
