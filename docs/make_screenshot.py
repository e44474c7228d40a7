"""Make ``docs/_static/screenshot.png``: a lively conversation in the example app, in Chromium.

    python docs/make_screenshot.py          # screenshot.png, in English
    python docs/make_screenshot.py zh-CN    # screenshot-zh.png: a Chinese reader's page

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
    ("Chen", "太好了！I'll update the docs site tonight."),
    ("Ana", "Two tabs, one reload, a delete in between…\nand nothing went missing."),
    ("Bo", "That's the point of cursors that can't be skipped 😄"),
    ("Chen", "Ship it 🚀"),
]


# The Chinese page's conversation; the browser asks for zh-CN, so the chat answers in Chinese.
CONVERSATION_ZH = [
    ("小安", "早上好！新版本发布了吗？☕"),
    ("阿博", "发了，0.1.0 已经上架 🎉"),
    ("Chen", "Great, I'll update the English docs tonight."),
    ("小安", "两个标签页、一次刷新，中间还删了一条……\n一条消息都没丢。"),
    ("阿博", "游标不会跳过任何消息，这正是它的用处 😄"),
    ("Chen", "مرحبا! Ship it 🚀"),
]
LAST_WORDS = {"en": "See you at the demo 👋", "zh-CN": "演示时见 👋"}


def main() -> None:
    locale = sys.argv[1] if len(sys.argv) > 1 else "en"
    conversation = CONVERSATION_ZH if locale.startswith("zh") else CONVERSATION
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    with tempfile.TemporaryDirectory() as tmp, sync_playwright() as playwright:
        app = create_app({"WEBCHAT_RATE_LIMIT": None}, instance_path=f"{tmp}/instance")
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        with serving(app) as site:
            pages = {}
            for name in dict.fromkeys(name for name, _text in conversation):
                context = browser.new_context(viewport={"width": 760, "height": 820}, locale=locale)
                page = context.new_page()
                page.goto(f"{site}/chat/")
                page.locator("[data-webchat][data-ready]").wait_for()
                page.locator("input[name=username]").fill(name)
                pages[name] = page
            first = pages[conversation[0][0]]
            for name, text in conversation:
                box = pages[name].locator("textarea[name=content]")
                box.fill(text)
                box.press("Enter")
                first.locator(".webchat-message", has_text=text.split("\n")[0]).wait_for()
            first.locator("textarea[name=content]").fill(LAST_WORDS.get(locale, LAST_WORDS["en"]))
            first.locator(".webchat-message", has_text="Ship it").wait_for()
            first.wait_for_timeout(300)
            name = "screenshot.png" if locale == "en" else f"screenshot-{locale.split('-')[0]}.png"
            target = ROOT / "docs" / "_static" / name
            first.screenshot(path=str(target), full_page=True)
            print(f"wrote {target}")
        browser.close()


if __name__ == "__main__":
    main()
