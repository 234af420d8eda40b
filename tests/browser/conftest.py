"""A real headless Chromium, driven by Playwright's sync API: `make setup` unpacks npm's
@sparticuz/chromium into .browser/chromium and writes .browser/fonts.conf (Noto Sans KR from
@embedpdf/fonts-kr, so Hangul is glyphs and not boxes). Nothing is downloaded here.

Fixtures: `browser` (one for the tests of this folder), `page` (a new context per test; parametrize it
indirectly with context options), `phone_page` (390x844, 2x, mobile, touch), `no_js_page`
(JavaScript off), `new_page(**context_options)` for any other context. `screenshot(page, name)`
saves test-artifacts/screenshots/<name>.png. A test that takes any of them is marked `browser`.

A missing browser fails the tests that need it (run `make setup`); it never skips them."""

import os
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, sync_playwright

from devstack.template import REPO_ROOT
from tests.integration.conftest import (  # noqa: F401 - the stack on DynamoDB Local, for pages
    api,
    coupon_table,
    gateway_url,
    local_dynamodb,
)

BROWSER_DIR = REPO_ROOT / ".browser"
CHROMIUM = BROWSER_DIR / "chromium"
FONTS_CONF = BROWSER_DIR / "fonts.conf"
SCREENSHOTS = REPO_ROOT / "test-artifacts" / "screenshots"
# An iPhone 12-15's CSS viewport.
PHONE: dict[str, Any] = {
    "viewport": {"width": 390, "height": 844},
    "device_scale_factor": 2,
    "is_mobile": True,
    "has_touch": True,
}
# Fail fast: everything here is on 127.0.0.1.
TIMEOUT_MS = 10_000

NewPage = Callable[..., Page]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """`-m browser` selects (and `-m "not browser"` leaves out) every test that opens Chromium."""
    for item in items:
        if "browser" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.browser)


def screenshot(page: Page, name: str) -> Path:
    """Saves the whole page as test-artifacts/screenshots/<name>.png, for a person to look at."""
    safe = re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-.") or "page"
    path = SCREENSHOTS / f"{safe}.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=path, full_page=True)
    return path


def _missing() -> list[str]:
    missing = [str(p) for p in (CHROMIUM, FONTS_CONF) if not p.is_file()]
    if not missing and not os.access(CHROMIUM, os.X_OK):
        missing.append(f"{CHROMIUM} (not executable)")
    return missing


# Per package, not per session: while Playwright's sync API runs, its event loop counts as
# running on this thread (asyncio.run() would fail), so it stops after the last test here.
@pytest.fixture(scope="package")
def browser() -> Iterator[Browser]:
    if missing := _missing():
        pytest.fail(
            f"the test browser is not installed: missing {', '.join(missing)}. Run `make setup`: "
            "it unpacks node_modules/@sparticuz/chromium/bin/chromium.br into .browser/",
            pytrace=False,
        )
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=["--disable-gpu"],
            # Chromium's own fontconfig reads this; the rest of the environment as it is.
            env={**os.environ, "FONTCONFIG_FILE": str(FONTS_CONF)},
        )
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def new_page(browser: Browser) -> Iterator[NewPage]:
    """new_page(**options) -> a Page in a new context made with Browser.new_context(**options);
    all closed after the test."""
    contexts: list[BrowserContext] = []

    def make(**options: Any) -> Page:
        context = browser.new_context(**options)
        contexts.append(context)
        context.set_default_timeout(TIMEOUT_MS)
        return context.new_page()

    yield make
    for context in contexts:
        context.close()


@pytest.fixture
def page(request: pytest.FixtureRequest, new_page: NewPage) -> Page:
    """A desktop page (1280x720). Other context options by indirect parametrization:
    @pytest.mark.parametrize("page", [{"viewport": {...}}], indirect=True)."""
    options: dict[str, Any] = getattr(request, "param", {})
    return new_page(**options)


@pytest.fixture
def phone_page(new_page: NewPage) -> Page:
    return new_page(**PHONE)


@pytest.fixture
def no_js_page(new_page: NewPage) -> Page:
    """JavaScript off: what a page does with plain HTML (forms post, links navigate)."""
    return new_page(java_script_enabled=False)
