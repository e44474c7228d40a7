"""What a reader sees of the host's own code in real Chromium: refusals and system notices."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from browsing import WAIT_MS, message, send, serving, wait_for_value
from example_app import create_app
from flask_webchat import Identity, MessageRejected
from hosts import Host, build_host

pytestmark = pytest.mark.browser


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[Host, str]]:
    """A host that refuses links, served on a free port."""
    host = build_host(tmp_path)

    @host.webchat.message_filter
    def no_links(content: str, room: str, identity: Identity | None) -> str:
        if "http://" in content or "https://" in content:
            raise MessageRejected("Links are not allowed here.")
        return content

    try:
        with serving(host.app) as url:
            yield host, url
    finally:
        host.close()


def open_page(chromium, url: str, errors: list[str]):  # type: ignore[no-untyped-def]
    page = chromium.new_context().new_page()
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(f"{url}/chat/")
    page.locator("[data-webchat][data-ready]").wait_for(timeout=WAIT_MS)
    page.get_by_label("Your name").fill("Ann")
    return page


def test_a_refused_message_shows_the_reason_and_keeps_the_draft(  # type: ignore[no-untyped-def]
    chromium, served: tuple[Host, str]
) -> None:
    host, url = served
    errors: list[str] = []
    page = open_page(chromium, url, errors)
    send(page, "see https://spam.example")
    status = page.locator(".webchat-status.is-error")
    status.wait_for(timeout=WAIT_MS)
    assert status.text_content() == "Links are not allowed here."
    box = page.get_by_label("Message", exact=True)
    assert box.input_value() == "see https://spam.example"
    assert host.stored_messages() == []
    box.fill("no link this time")
    box.press("Enter")
    message(page, "no link this time").wait_for(timeout=WAIT_MS)
    wait_for_value(box, "")
    assert errors == []


def test_a_system_message_is_a_notice_line_without_an_author(  # type: ignore[no-untyped-def]
    chromium, served: tuple[Host, str]
) -> None:
    host, url = served
    errors: list[str] = []
    page = open_page(chromium, url, errors)
    send(page, "said by Ann")
    message(page, "said by Ann").wait_for(timeout=WAIT_MS)
    with host.app.app_context():
        host.webchat.post_message("Deploy finished", system=True)
    notice = page.locator(".webchat-message.is-system", has_text="Deploy finished")
    notice.wait_for(timeout=WAIT_MS)
    assert notice.locator(".webchat-author").count() == 0
    assert notice.locator(".webchat-notice").text_content() == "Notice"
    assert page.locator(".webchat-message.is-system").count() == 1  # Ann's line is not one
    assert errors == []


def test_the_example_site_welcomes_and_signs_in_a_moderator_in_one_click(  # type: ignore[no-untyped-def]
    chromium, tmp_path: Path
) -> None:
    app = create_app(instance_path=str(tmp_path / "instance"))
    errors: list[str] = []
    with serving(app) as url:
        guest = chromium.new_context().new_page()
        guest.on("pageerror", lambda exc: errors.append(str(exc)))
        guest.goto(f"{url}/chat/")
        guest.locator("[data-webchat][data-ready]").wait_for(timeout=WAIT_MS)
        welcome = guest.locator(".webchat-message.is-system", has_text="Welcome to the example")
        welcome.wait_for(timeout=WAIT_MS)
        guest.get_by_label("Your name").fill("Visitor")
        send(guest, "a guest's message")
        message(guest, "a guest's message").wait_for(timeout=WAIT_MS)

        ana = chromium.new_context().new_page()
        ana.on("pageerror", lambda exc: errors.append(str(exc)))
        ana.goto(f"{url}/chat/")
        ana.get_by_role("button", name="Sign in as Ana (moderator)").click()
        ana.get_by_text("Posting as Ana").wait_for(timeout=WAIT_MS)
        ana.locator("[data-webchat][data-ready]").wait_for(timeout=WAIT_MS)
        theirs = message(ana, "a guest's message")
        theirs.get_by_role("button", name="Delete message from Visitor").click()
        theirs.wait_for(state="detached", timeout=WAIT_MS)
        message(guest, "a guest's message").wait_for(state="detached", timeout=WAIT_MS)
    assert errors == []
