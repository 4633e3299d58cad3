"""The app in a real browser: Chromium (Debian package) driven by Playwright's Python package.

Loads the page, runs a text search and an image search, uploads a video and waits for it
to show up in search results, opens the Trends tab and checks a plot is drawn, and visits
the Creators and Model tabs. Every request the page makes must stay on this machine (no
CDN, fonts or analytics). Screenshots of each tab go to ``artifacts/app/``.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import time
from pathlib import Path
from urllib.parse import urlparse

import pytest

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts" / "app"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
UPLOAD_DAY = "2026-04-25"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="Chromium is not installed at /usr/bin/chromium "
                       "(Debian package `chromium`; scripts/setup --dev installs it)"),
]


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    pytest.importorskip("gradio")
    from tests.app_fixtures import build_tiny_catalog, launch_app

    root = tmp_path_factory.mktemp("app_browser")
    catalog = build_tiny_catalog(root)
    blocks, services, url = launch_app(catalog.data_dir, catalog.config_file)
    yield {"url": url, "catalog": catalog, "services": services, "root": root}
    blocks.close()
    services.close()


@pytest.fixture(scope="module")
def page(served):
    playwright_api = pytest.importorskip("playwright.sync_api")
    os.environ.setdefault("PLAYWRIGHT_BROWSERS_PATH", "0")
    with playwright_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1400, "height": 1000})
        page = context.new_page()
        page.set_default_timeout(60_000)
        page.outside_requests = []  # type: ignore[attr-defined]
        local = urlparse(served["url"]).hostname

        def watch(request):
            host = urlparse(request.url).hostname
            if request.url.startswith(("http:", "https:", "ws:", "wss:")) and host != local:
                page.outside_requests.append(request.url)  # type: ignore[attr-defined]

        page.on("request", watch)
        page.goto(served["url"])
        yield page
        context.close()
        browser.close()


def shot(page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"app_{name}.png"), full_page=True)


def open_tab(page, name: str) -> None:
    page.get_by_role("tab", name=name).click()


def run_search(page, text: str) -> None:
    page.locator("#query-text textarea").fill(text)
    page.locator("#search-button").click()


def wait_for_text(page, selector: str, text: str, timeout_s: float = 60) -> str:
    locator = page.locator(selector)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        content = locator.inner_text() if locator.count() else ""
        if text in content:
            return content
        time.sleep(0.25)
    raise AssertionError(f"{selector} never showed {text!r}; it shows {content!r}")


def test_page_loads_offline(page):
    wait_for_text(page, "#header", "garments")
    assert page.title() == "stylescope"


def test_text_search_shows_results(page):
    run_search(page, "red plaid top")
    status = wait_for_text(page, "#search-status", "mode: text")
    assert "12 results" in status  # the configured default k
    page.locator("#search-gallery img").first.wait_for()
    assert page.locator("#search-gallery img").count() >= 12
    assert page.locator("#search-table tr").count() == 13  # header + 12 hits
    shot(page, "search")


def test_image_search_shows_results(page, served, tmp_path):
    import cv2

    from world.clips import walking_clip

    query = tmp_path / "look.png"
    frame = walking_clip(n=3, seed=7, top_colour=(240, 200, 20), bottom_colour=(20, 20, 20))[1]
    cv2.imwrite(str(query), cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    page.locator("#query-image input[type=file]").set_input_files(str(query))
    page.locator("#query-image img").first.wait_for()
    run_search(page, "")
    status = wait_for_text(page, "#search-status", "mode: image ")
    found = int(re.search(r"(\d+) results", status).group(1))  # near-duplicate frames are collapsed
    assert found >= 6
    page.locator("#search-gallery img").first.wait_for()
    assert page.locator("#search-gallery img").count() >= found
    shot(page, "search_image")  # the image stays: the next search is image + text


def test_uploaded_video_appears_in_search_results(page, served):
    open_tab(page, "Upload videos")
    page.locator("#upload-files input[type=file]").set_input_files(str(served["catalog"].spare_video))
    page.locator("#upload-creator textarea, #upload-creator input").first.fill("@browser.test")
    page.locator("#upload-followers textarea, #upload-followers input").first.fill("42k")
    page.locator("#upload-posted textarea, #upload-posted input").first.fill(UPLOAD_DAY)
    wait_for_text(page, "#upload-files", "KB")  # the file arrived (its size is listed)
    page.locator("#upload-button").click()
    summary = wait_for_text(page, "#upload-summary", "added", timeout_s=180)
    assert "**1 added**" not in summary and "1 added" in summary  # rendered Markdown, not raw
    assert "ingested" in page.locator("#upload-table").inner_text()
    shot(page, "upload")

    open_tab(page, "Search")
    page.get_by_text("Filters").click()
    page.get_by_label("Posted from").fill(UPLOAD_DAY)
    page.get_by_label("Posted to").fill(UPLOAD_DAY)
    deadline = time.monotonic() + 30
    while True:  # searchable once the searcher reloads the index (about a second)
        run_search(page, "a top")  # with the image still there: an image + text query
        status = wait_for_text(page, "#search-status", "results")
        if "@browser.test" in page.locator("#search-table").inner_text() or time.monotonic() > deadline:
            break
        time.sleep(1)
    table = page.locator("#search-table").inner_text()
    assert "@browser.test" in table and UPLOAD_DAY in table, status
    page.get_by_label("Posted from").fill("")
    page.get_by_label("Posted to").fill("")


def test_trends_tab_draws_a_plot(page):
    open_tab(page, "Trends")
    wait_for_text(page, "#trends-status", "styles")
    plot = page.locator("#trends-plot img").first
    plot.wait_for()
    page.wait_for_function("el => el.complete && el.naturalWidth > 300", arg=plot.element_handle())
    table = page.locator("#trends-table").inner_text()
    states = sum(table.count(word) for word in ("rising", "emerging", "peaked", "new", "steady", "fading"))
    assert states >= 2, table  # one verdict per style row
    shot(page, "trends")


def test_creators_and_model_tabs_render(page):
    open_tab(page, "Creators")
    page.locator("#leaderboard").wait_for()
    wait_for_text(page, "body", "Who started each style")
    shot(page, "creators")
    open_tab(page, "Model")
    wait_for_text(page, "#model-overview", "Live version")
    shot(page, "model")


def test_no_request_left_the_machine(page):
    assert page.outside_requests == []  # type: ignore[attr-defined]


def test_screenshots_were_written():
    names = {p.name for p in ARTIFACTS.glob("app_*.png")}
    assert {"app_search.png", "app_upload.png", "app_trends.png", "app_creators.png", "app_model.png"} <= names
    assert dt.date.fromisoformat(UPLOAD_DAY)  # the day used above is a real date
