"""Screenshots of each app tab on a real catalog, for the docs.

    .venv/bin/python scripts/app_screenshots.py --data-dir DATA_DIR [--out docs/images]

Serves the app on DATA_DIR (with the encoder that built its index) on a free loopback port
and drives Debian's Chromium through Playwright: a text search, then each tab (and the Trends
tab's glossary, opened).
"""

from __future__ import annotations

import argparse
import socket
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", required=True)
    parser.add_argument("--out", default=str(ROOT / "docs" / "images"))
    parser.add_argument("--query", default="red plaid skirt")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    from app.services import Services
    from app.ui import build_app, launch

    services = Services.open(Path(args.data_dir), None)
    blocks = build_app(services)
    url = launch(blocks, services, "127.0.0.1", free_port(), block=False, quiet=True)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.set_default_timeout(120_000)
            page.goto(url)
            page.locator("#query-text textarea").fill(args.query)
            page.locator("#search-button").click()
            page.locator("#search-gallery img").first.wait_for()
            time.sleep(2)
            page.screenshot(path=str(out / "app_search.png"), full_page=True)
            for tab, name in (("Upload videos", "upload"), ("Trends", "trends"),
                              ("Creators", "creators"), ("Model", "model")):
                page.get_by_role("tab", name=tab).click()
                time.sleep(6)
                if name == "trends":  # the colour trends below the styles, shown
                    page.get_by_role("button", name="Show").click()
                    time.sleep(8)
                page.screenshot(path=str(out / f"app_{name}.png"), full_page=True)
                if name == "trends":  # and the glossary of its states and columns, opened
                    page.get_by_text("Glossary: what the states and columns mean").click()
                    time.sleep(1)
                    page.locator("#trends-glossary").screenshot(path=str(out / "app_trends_glossary.png"))
            browser.close()
    finally:
        blocks.close()
        services.close()


if __name__ == "__main__":
    main()
