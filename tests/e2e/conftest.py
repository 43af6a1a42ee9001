"""The e2e fixtures: one local stack per module (SQLite, moto server, the gateway serving frontend/), Debian's chromium
driven by Python Playwright (its own browser download does not work here), a fresh browser context per test."""

from __future__ import annotations

import json
import os
import shutil
import time
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from labfolio_common.db.engine import dispose_engine

from local.stack import LocalConfig, LocalStack

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
VIEWPORT = {"width": 1280, "height": 800}
PASSWORD = "correct horse battery"


def chromium_path() -> str | None:
    return os.environ.get("CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")


def _json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=30) as response:
        return json.loads(response.read())


@pytest.fixture(scope="module")
def base_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The local stack whole, on free ports, with the factor data loaded (factor_update's first run)."""
    data_dir = tmp_path_factory.mktemp("e2e-stack")
    database_url = f"sqlite:///{data_dir / 'labfolio.db'}"
    # Port 0: the stack binds a free port before it builds the uploads bucket, whose CORS origin (FrontendOrigin) is
    # that address — the browser's presigned POST (with upload progress, so preflighted) comes from exactly there.
    config = LocalConfig(
        port=0,
        moto_port=0,
        data_dir=data_dir,
        database_url=database_url,
        max_instances=1,
        demo_portfolio=False,
    )
    stack = LocalStack(config).start()
    try:
        base = stack.start_http()
        deadline = time.monotonic() + 180
        while not any(f["observations"] > 0 for f in _json(f"{base}/api/factors")):
            if time.monotonic() > deadline:
                raise AssertionError("the factor data was not loaded within 180 s")
            time.sleep(0.5)
        yield base
    finally:
        stack.stop_http()
        stack.stop(save=False)
        dispose_engine(database_url)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Module-scoped, not session: Playwright's sync API runs an asyncio loop on this thread while it is open, which
    breaks the other suites' event loops (FastAPI/anyio, Mangum) if it outlives the e2e modules."""
    executable = chromium_path()
    if executable is None:
        pytest.fail("chromium is not installed: `make browser` (apt-get install -y chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=executable, headless=True, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture(scope="session")
def screenshots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where the screens are saved (LABFOLIO_E2E_ARTIFACTS, else a pytest temporary folder)."""
    given = os.environ.get("LABFOLIO_E2E_ARTIFACTS")
    folder = Path(given) if given else tmp_path_factory.mktemp("e2e-screens")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@dataclass
class Watch:
    """What the page said: JavaScript errors, console errors and dialogs (none is expected)."""

    errors: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)


@pytest.fixture
def watch() -> Watch:
    return Watch()


@pytest.fixture
def page(browser: Any, base_url: str, watch: Watch) -> Iterator[Any]:
    """A fresh context (no cookies) per test; console errors other than the API's expected 4xx answers fail it."""
    context = browser.new_context(viewport=VIEWPORT, base_url=base_url)
    context.set_default_timeout(30_000)
    opened = context.new_page()
    opened.on("pageerror", lambda error: watch.errors.append(f"page error: {error}"))

    def on_console(message: Any) -> None:
        if message.type == "error" and "the server responded with a status of 4" not in message.text:
            watch.errors.append(f"console: {message.text}")

    def on_dialog(dialog: Any) -> None:  # the app's confirmations are accepted; anything else is recorded
        watch.dialogs.append(f"{dialog.type}: {dialog.message}")
        if dialog.type == "confirm":
            dialog.accept()
        else:
            dialog.dismiss()

    opened.on("console", on_console)
    opened.on("dialog", on_dialog)
    try:
        yield opened
        assert watch.errors == [], watch.errors
    finally:
        context.close()


def unique(prefix: str = "user") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def sign_up(page: Any, username: str | None = None) -> str:
    name = username or unique()
    page.goto("/#/signup")
    page.fill("#f-username", name)
    page.fill("#f-password", PASSWORD)
    page.click("#signup-form button[type=submit]")
    page.wait_for_selector("#portfolio-table, .empty")
    return name
