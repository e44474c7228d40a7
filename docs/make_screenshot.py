"""Make ``docs/_static/screenshot.png``: a lively conversation in the example app, in Chromium.

    python docs/make_screenshot.py

Needs the test extra (Playwright) and Debian's Chromium; CJK and emoji fonts make it look right
(``apt-get install fonts-noto-cjk fonts-noto-color-emoji``).
"""

from __future__ import annotations

import logging
import sys
import tempfile
from pathlib import Path

from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from browsing import CHROMIUM, CHROMIUM_ARGS, serving  # noqa: E402
from example_app import create_app  # noqa: E402

CONVERSATION = [
    ("Ana", "Morning! Did the release go out? ☕"),
    ("Bo", "It did, 0.1.0 is on the index 🎉"),
    ("Chen", "太好了！I'll update the docs site tonight."),  # noqa: RUF001
    ("Ana", "Two tabs, one reload, a delete in between…\nand nothing went missing."),
    ("Bo", "That's the point of cursors that can't be skipped 😄"),
    ("Chen", "Ship it 🚀"),
]


def main() -> None:
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    with tempfile.TemporaryDirectory() as tmp, sync_playwright() as playwright:
        app = create_app({"WEBCHAT_RATE_LIMIT": None}, instance_path=f"{tmp}/instance")
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        with serving(app) as site:
            pages = {}
            for name in ["Ana", "Bo", "Chen"]:
                context = browser.new_context(viewport={"width": 760, "height": 820})
                page = context.new_page()
                page.goto(f"{site}/chat/")
                page.locator("[data-webchat][data-ready]").wait_for()
                page.get_by_label("Your name").fill(name)
                pages[name] = page
            for name, text in CONVERSATION:
                box = pages[name].get_by_label("Message", exact=True)
                box.fill(text)
                box.press("Enter")
                pages["Ana"].locator(".webchat-message", has_text=text.split("\n")[0]).wait_for()
            pages["Ana"].get_by_label("Message", exact=True).fill("See you at the demo 👋")
            pages["Ana"].locator(".webchat-message", has_text="Ship it").wait_for()
            pages["Ana"].wait_for_timeout(300)
            target = ROOT / "docs" / "_static" / "screenshot.png"
            pages["Ana"].screenshot(path=str(target), full_page=True)
            print(f"wrote {target}")
        browser.close()


if __name__ == "__main__":
    main()
