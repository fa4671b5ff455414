"""Headless Chromium for the browser tests: Debian's chromium driven by Playwright."""

from __future__ import annotations

import os
import shutil

import pytest

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--autoplay-policy=no-user-gesture-required",
]
VIDEO = "#video video"


def launch_chromium(playwright_api):
    if not shutil.which(CHROMIUM):
        if os.environ.get("CI"):
            pytest.fail("Debian's chromium is missing: .ci/run installs it with apt-get")
        pytest.skip("Debian's chromium is not installed (apt-get install chromium)")
    return playwright_api.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)


def open_page(browser, url: str, width: int = 1280, height: int = 1000):
    context = browser.new_context(viewport={"width": width, "height": height})
    page = context.new_page()
    page.goto(url)
    page.wait_for_selector("#generate")
    return context, page


def wait_until_playing(page, selector: str = VIDEO, timeout: int = 30_000) -> dict:
    page.wait_for_function(
        f"() => {{ const v = document.querySelector('{selector}'); return v && v.readyState >= 3 && !v.paused; }}",
        timeout=timeout,
    )
    return page.evaluate(
        f"() => {{ const v = document.querySelector('{selector}'); return {{loop: v.loop, src: v.src}}; }}"
    )
