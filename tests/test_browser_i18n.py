"""In Chromium: a Chinese reader's page, states and refusals; dates in their zone; mixed scripts."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from babel.messages.frontend import CommandLineInterface
from flask_babel import Babel

from browsing import WAIT_MS, message, serving
from example_app import create_app
from flask_webchat.i18n import TRANSLATIONS
from hosts import build_host
from test_browser_page import post_over_http

pytestmark = pytest.mark.browser


def open_chinese_chat(chromium, site: str, signed_in_as: str | None = None, **context):  # type: ignore[no-untyped-def]
    errors: list[str] = []
    browser_context = chromium.new_context(locale="zh-CN", **context)  # Accept-Language: zh-CN
    if signed_in_as is not None:  # one of the example's demo users
        form = {"next": "/"}
        assert browser_context.request.post(f"{site}/sign-in/{signed_in_as}", form=form).ok
    page = browser_context.new_page()
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(f"{site}/chat/")
    page.locator("[data-webchat][data-ready]").wait_for(timeout=WAIT_MS)
    return page, errors


def send(page, text: str) -> None:  # type: ignore[no-untyped-def]
    box = page.get_by_label("消息", exact=True)
    box.fill(text)
    box.press("Enter")


def test_a_chinese_reader_gets_the_page_states_and_refusals_in_chinese(chromium, site_with) -> None:  # type: ignore[no-untyped-def]
    site = site_with(WEBCHAT_TRANSPORT="long-poll", WEBCHAT_MAX_WAIT=1)
    page, errors = open_chinese_chat(chromium, site, timezone_id="Asia/Shanghai")
    assert page.locator("html").get_attribute("lang") == "zh-Hans"
    assert page.get_by_role("button", name="发送").is_disabled()
    page.get_by_label("你的昵称").fill("小明")
    box = page.get_by_label("消息", exact=True)

    box.fill("你好，世界")
    box.press("Enter")
    shown = page.locator(".webchat-message", has_text="你好")
    shown.wait_for(timeout=WAIT_MS)
    assert shown.locator(".webchat-you").text_content() == "我"
    # The time in the reader's zone (UTC+8), the full date in Chinese in its title.
    stamp = shown.locator("time")
    posted = datetime.fromisoformat(stamp.get_attribute("datetime").replace("Z", "+00:00"))
    beijing = posted.astimezone(timezone(timedelta(hours=8)))
    assert stamp.text_content() == beijing.strftime("%H:%M")
    assert re.search(r"\d{4}年\d{1,2}月\d{1,2}日星期.", stamp.get_attribute("title"))
    assert shown.get_by_role("button", name="删除 小明 的消息").is_visible()

    box.fill("长" * 1025)  # over the limit: the server refuses it, in Chinese
    box.press("Enter")
    status = page.get_by_role("status")
    status.get_by_text("消息最多 1024 个字。").wait_for(timeout=WAIT_MS)
    assert box.input_value() == "长" * 1025  # the draft stays

    page.route("**/chat/messages?*", lambda route: route.abort())
    status.get_by_text("正在重新连接……").wait_for(timeout=WAIT_MS)
    assert re.fullmatch(
        r"正在重新连接……将于\d+秒钟后重试（无法连接服务器（.*）。）", status.text_content()
    )
    page.unroute("**/chat/messages?*")
    page.locator("[data-webchat][data-state=live]").wait_for(timeout=3 * WAIT_MS)
    assert errors == []


def test_presence_typing_replies_and_edits_read_in_chinese_names_isolated(chromium, site) -> None:  # type: ignore[no-untyped-def]
    layla, layla_errors = open_chinese_chat(chromium, site)
    layla.get_by_label("你的昵称").fill("ليلى")
    ana, errors = open_chinese_chat(chromium, site, signed_in_as="Ana")
    isolated = "e => [...e.querySelectorAll('bdi')].map(b => b.textContent)"
    direction = "e => getComputedStyle(e).direction"
    presence = ana.locator(".webchat-presence", has_text="在线：Ana和1 位访客")
    presence.wait_for(timeout=WAIT_MS)  # the names listed as Chinese lists them
    assert presence.evaluate(isolated) == ["Ana"]

    box = layla.get_by_label("消息", exact=True)
    box.press_sequentially("مرحبا بالجميع")
    typing = ana.locator(".webchat-typing", has_text="ليلى 正在输入…")
    typing.wait_for(timeout=WAIT_MS)
    # The Arabic name in its own <bdi>, so it never swallows the Chinese around it.
    assert typing.locator("bdi").evaluate(direction) == "rtl"
    box.press("Enter")
    hers = message(ana, "مرحبا")
    hers.wait_for(timeout=WAIT_MS)

    reply = hers.get_by_role("button", name="回复 ليلى")
    assert reply.text_content() == "回复"
    reply.click()
    bar = ana.locator(".webchat-context-text")
    assert bar.text_content() == "正在回复 ليلى：مرحبا بالجميع"
    assert bar.evaluate(isolated) == ["ليلى", "مرحبا بالجميع"]
    send(ana, "大家好")
    mine = message(ana, "大家好")
    quote = mine.locator(".webchat-quote")
    quote.wait_for(timeout=WAIT_MS)
    assert quote.text_content() == "ليلى：مرحبا بالجميع"
    assert quote.evaluate(isolated) == ["ليلى", "مرحبا بالجميع"]

    edit = mine.get_by_role("button", name="编辑你的消息")
    assert edit.text_content() == "编辑"
    edit.click()
    assert bar.text_content() == "正在编辑你的消息"
    send(ana, "大家好！")
    mine.get_by_text("（已编辑）").wait_for(timeout=WAIT_MS)
    assert errors == [] and layla_errors == []


def test_a_notice_is_announced_to_a_chinese_reader_in_chinese(chromium, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    host = build_host(tmp_path)
    try:
        with serving(host.app) as site:
            page, errors = open_chinese_chat(chromium, site)
            page.locator("[data-webchat][data-state=live]").wait_for(timeout=WAIT_MS)
            with host.app.app_context():
                host.webchat.post_message("今晚维护", system=True)
            announced = "() => document.querySelector('.webchat-announcer').textContent"
            page.wait_for_function(f"{announced} === '通知：今晚维护'", timeout=WAIT_MS)
            assert errors == []
    finally:
        host.close()


def test_right_to_left_messages_read_right_inside_a_left_to_right_page(chromium, site) -> None:  # type: ignore[no-untyped-def]
    post_over_http(site, "مرحبا بالجميع! Release 1.0", name="ليلى")
    post_over_http(site, "Hello from the left-to-right side", name="Ann")
    page, errors = open_chinese_chat(chromium, site)
    arabic = page.locator(".webchat-message", has_text="مرحبا")
    arabic.wait_for(timeout=WAIT_MS)
    direction = "e => getComputedStyle(e).direction"
    assert page.locator("html").evaluate(direction) == "ltr"
    assert arabic.locator(".webchat-content").evaluate(direction) == "rtl"
    assert arabic.locator(".webchat-author bdi").text_content() == "ليلى"
    english = page.locator(".webchat-message", has_text="Hello from")
    assert english.locator(".webchat-content").evaluate(direction) == "ltr"
    assert errors == []


def test_a_visitor_switches_the_example_between_english_and_chinese(chromium, site) -> None:  # type: ignore[no-untyped-def]
    page = chromium.new_context(locale="en-US").new_page()
    page.goto(f"{site}/chat/")
    page.get_by_role("button", name="Send").wait_for(timeout=WAIT_MS)
    page.get_by_role("link", name="中文").click()
    page.get_by_role("button", name="发送").wait_for(timeout=WAIT_MS)
    assert page.url == f"{site}/chat/"
    page.goto(f"{site}/chat/rooms/support/")  # the choice is kept for the visit
    page.get_by_label("你的昵称").wait_for(timeout=WAIT_MS)
    page.get_by_role("link", name="English").click()
    page.get_by_role("button", name="Send").wait_for(timeout=WAIT_MS)


def test_a_host_with_flask_babel_decides_the_chats_language(chromium, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    app = create_app(instance_path=str(tmp_path / "instance"))
    Babel(app, locale_selector=lambda: "zh_Hans_CN")  # say, the signed-in user's setting
    with serving(app) as site:
        page = chromium.new_context(locale="en-US").new_page()
        page.goto(f"{site}/chat/")
        page.get_by_role("button", name="发送").wait_for(timeout=WAIT_MS)
        assert page.locator("html").get_attribute("lang") == "zh-Hans"


def test_left_to_right_messages_read_right_inside_a_right_to_left_page(chromium, tmp_path) -> None:  # type: ignore[no-untyped-def]
    # An Arabic catalog of the host's own, made with the documented recipe.
    translations = tmp_path / "translations"
    pybabel = CommandLineInterface().run
    template = str(TRANSLATIONS / "webchat.pot")
    pybabel(
        [
            "pybabel",
            "-q",
            "init",
            "-D",
            "webchat",
            "-i",
            template,
            "-d",
            str(translations),
            "-l",
            "ar",
        ]
    )
    po = translations / "ar" / "LC_MESSAGES" / "webchat.po"
    po.write_text(
        po.read_text(encoding="utf-8").replace(
            'msgid "Send"\nmsgstr ""', 'msgid "Send"\nmsgstr "إرسال"'
        ),
        encoding="utf-8",
    )
    pybabel(["pybabel", "-q", "compile", "-D", "webchat", "-d", str(translations)])
    host = build_host(tmp_path)
    host.app.root_path = str(tmp_path)
    try:
        with serving(host.app) as site:
            post_over_http(site, "Hello, release 1.0 is out", name="Ann")
            post_over_http(site, "مرحبا بالجميع", name="ليلى")
            page = chromium.new_context(locale="ar").new_page()
            page.goto(f"{site}/chat/")
            page.get_by_role("button", name="إرسال").wait_for(timeout=WAIT_MS)
            direction = "e => getComputedStyle(e).direction"
            assert page.locator("html").get_attribute("dir") == "rtl"
            english = page.locator(".webchat-message", has_text="Hello, release")
            english.wait_for(timeout=WAIT_MS)
            assert english.locator(".webchat-content").evaluate(direction) == "ltr"
            arabic = page.locator(".webchat-message", has_text="مرحبا")
            assert arabic.locator(".webchat-content").evaluate(direction) == "rtl"
    finally:
        host.close()
