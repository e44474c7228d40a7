"""The chat page, its static files, template overrides and the example app."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from flask import render_template_string

from example_app import create_app
from hosts import SAMPLE_STACKS, Browser, Host, MakeHost

# Behaviour decided before storage, the same on every database and session backend.
pytestmark = pytest.mark.stacks(*SAMPLE_STACKS)


def test_the_page_carries_its_stream_and_needs_no_inline_script(browser: Browser) -> None:
    response = browser.client.get("/chat/")
    assert response.status_code == 200
    assert response.mimetype == "text/html"
    assert response.headers["Cache-Control"] == "no-store"
    html = response.text
    root = re.search(r"<section[^>]*data-webchat[^>]*>", html)
    assert root, "the chat's root element"
    assert 'data-stream="' in root.group(0)
    assert 'data-messages-url="/chat/messages"' in root.group(0)
    scripts = re.findall(r"<script[^>]*>", html)
    assert scripts and all("src=" in tag for tag in scripts), "no inline script (strict CSP)"
    assert "<style" not in html and " style=" not in html, "no inline style (strict CSP)"
    label = re.search(r'<label class="webchat-label" for="([^"]+)"', html)
    assert label and f'<textarea id="{label.group(1)}"' in html, "the message box is labelled"


def test_the_static_client_is_served(browser: Browser) -> None:
    for name in ["webchat.js", "client.js", "conversation.js", "unread.js", "presence.js"]:
        script = browser.client.get(f"/chat/static/webchat/{name}")
        assert script.status_code == 200
        assert script.mimetype in {"text/javascript", "application/javascript"}
        assert "innerHTML" not in script.text
    assert browser.client.get("/chat/static/webchat/webchat.css").mimetype == "text/css"


def test_an_anonymous_reader_is_asked_for_a_name(browser: Browser) -> None:
    html = browser.client.get("/chat/").text
    assert 'name="username"' in html


def test_a_signed_in_reader_sees_their_name_and_is_not_asked(host: Host) -> None:
    host.add_user("alice")
    browser = host.browser()
    browser.login("alice")
    html = browser.client.get("/chat/").text
    assert "Posting as <strong><bdi>alice</bdi></strong>" in html  # isolated: any script
    assert 'name="username"' not in html
    assert 'data-identity-name="alice"' in html


def test_without_anonymous_posting_a_signed_out_reader_is_told_to_sign_in(
    make_host: MakeHost,
) -> None:
    host = make_host(WEBCHAT_ALLOW_ANONYMOUS=False)
    html = host.browser().client.get("/chat/").text
    assert "Sign in to post messages." in html
    assert 'name="username"' not in html


def test_names_in_the_page_are_escaped(host: Host) -> None:
    host.add_user('<img src=x onerror="alert(1)">')
    browser = host.browser()
    browser.login('<img src=x onerror="alert(1)">')
    html = browser.client.get("/chat/").text
    assert "<img src=x" not in html
    assert "&lt;img src=x" in html


def test_a_host_overrides_the_page_template(make_host: MakeHost, tmp_path: Path) -> None:
    templates = tmp_path / "templates" / "webchat"
    templates.mkdir(parents=True)
    (templates / "chat.html").write_text(
        '{% extends "webchat/base.html" %}{% block title %}Support desk{% endblock %}'
        '{% block body %}<h1>Talk to us</h1>{% include "webchat/widget.html" %}{% endblock %}'
    )
    host = make_host(template_folder=str(tmp_path / "templates"))
    browser = host.browser()
    response = browser.client.get("/chat/")
    assert "<title>Support desk</title>" in response.text
    assert "<h1>Talk to us</h1>" in response.text
    stream = browser.open_page()
    browser.say("still works")
    assert browser.poll(stream)["messages"][0]["content"] == "still works"


def test_the_example_app_links_its_home_page_to_a_working_chat(tmp_path: Path) -> None:
    app = create_app(
        {"TESTING": True, "EXAMPLE_WELCOME": None}, instance_path=str(tmp_path / "instance")
    )
    client = app.test_client()
    home = client.get("/")
    assert home.status_code == 200
    assert 'href="/chat/"' in home.text
    assert (tmp_path / "instance" / "webchat.sqlite3").exists()

    browser = Browser(client)
    tab = browser.open_page()
    browser.say("hello from the example", username="Guest")
    assert browser.poll(tab)["messages"][0]["content"] == "hello from the example"
    assert list((tmp_path / "instance" / "sessions").iterdir()), "sessions are server-side files"


def test_a_host_page_embeds_the_widget_with_one_call(make_host: MakeHost) -> None:
    host = make_host(WEBCHAT_URL_PREFIX="/talk")

    @host.app.get("/help")
    def help_page() -> str:
        return render_template_string("<main><h1>Help</h1>{{ webchat_widget() }}</main>")

    browser = host.browser()
    browser.prefix = "/talk"
    browser.open_page()  # a browser the chat knows: the widget opens its page a stream
    html = browser.client.get("/help").text
    stream = re.search(r'data-stream="([^"]+)"', html)
    assert stream, "the widget opened a stream for this page"
    assert 'data-messages-url="/talk/messages"' in html
    assert 'href="/talk/static/webchat/webchat.css"' in html
    assert 'src="/talk/static/webchat/webchat.js"' in html
    browser.say("from the help page")
    assert [m["content"] for m in browser.poll(stream.group(1))["messages"]] == [
        "from the help page"
    ]
