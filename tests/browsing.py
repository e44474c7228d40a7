"""Real Chromium for the browser tests: the browser, a served example app, and page helpers.

Loaded as a pytest plugin by ``conftest.py``. Debian's Chromium is driven through Playwright and
never downloaded; without it the browser tests skip, unless ``WEBCHAT_TEST_REQUIRE_BROWSER`` is set.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from werkzeug.serving import make_server

from example_app import create_app

CHROMIUM = os.environ.get("WEBCHAT_TEST_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# Generous: catches a hang, not a slow machine (CI shares two cores with four test workers,
# servers and browsers). The page polls every 2 s.
WAIT_MS = 10_000


@pytest.fixture(scope="session")
def chromium() -> Iterator[object]:
    if not Path(CHROMIUM).exists():
        reason = f"Chromium not found at {CHROMIUM} (apt-get install chromium)"
        if os.environ.get("WEBCHAT_TEST_REQUIRE_BROWSER"):
            pytest.fail(reason)
        pytest.skip(reason)
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@contextmanager
def serving(app: Flask, address: str = "127.0.0.1") -> Iterator[str]:
    """Serve ``app`` on a free port in a thread; yield its base URL."""
    server = make_server(address, 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://{address}:{server.server_port}"
    finally:
        server.shutdown()
        thread.join()


@pytest.fixture
def site(tmp_path: Path) -> Iterator[str]:
    # The tests start from an empty chat: no welcome notice.
    app = create_app({"EXAMPLE_WELCOME": None}, instance_path=str(tmp_path / "instance"))
    with serving(app) as url:
        yield url


@pytest.fixture(params=["sse", "long-poll", "poll"])
def transport(request: pytest.FixtureRequest) -> str:
    """Each way the page's client can receive events."""
    return request.param  # type: ignore[no-any-return]


@pytest.fixture
def site_with(tmp_path: Path) -> Iterator[Callable[..., str]]:
    """``site_with(**config)``: the example app with extra configuration, served."""
    with ExitStack() as servers:

        def serve(**config: Any) -> str:
            app = create_app(
                {"EXAMPLE_WELCOME": None, **config}, instance_path=str(tmp_path / "instance")
            )
            return servers.enter_context(serving(app))

        yield serve


def open_chat(chromium, site: str, name: str, errors: list[str]):  # type: ignore[no-untyped-def]
    context = chromium.new_context()
    page = context.new_page()
    page.on("console", lambda msg: msg.type == "error" and errors.append(msg.text))
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("dialog", lambda dialog: errors.append(f"dialog: {dialog.message}"))
    page.goto(f"{site}/")
    page.get_by_role("link", name="Open the chat").click()
    page.locator("[data-webchat][data-ready]").wait_for(timeout=WAIT_MS)
    page.get_by_label("Your name").fill(name)
    return page


def message(page, text: str):  # type: ignore[no-untyped-def]
    """The message in the page's list whose text contains ``text``."""
    return page.locator(".webchat-message", has_text=text)


def send(page, text: str) -> None:  # type: ignore[no-untyped-def]
    page.get_by_label("Message", exact=True).fill(text)
    page.get_by_label("Message", exact=True).press("Enter")


def wait_for_value(field, value: str) -> None:  # type: ignore[no-untyped-def]
    """Wait until an input holds ``value``: the page changes it once a request is answered."""
    from playwright.sync_api import expect

    expect(field).to_have_value(value, timeout=WAIT_MS)
