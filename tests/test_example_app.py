"""The example app is a signed-in site: demo users, a moderator, a members' room, a welcome."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from flask import Flask

from example_app import create_app
from example_app.accounts import WELCOME
from hosts import Browser

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def app(tmp_path: Path) -> Flask:
    return create_app({"TESTING": True}, instance_path=str(tmp_path / "instance"))


def sign_in(browser: Browser, name: str) -> None:
    answer = browser.client.post(f"/sign-in/{name}", data={"next": "/chat/"})
    assert answer.status_code == 302 and answer.headers["Location"] == "/chat/"


def test_the_welcome_notice_is_posted_once_when_the_database_is_made(
    app: Flask, tmp_path: Path
) -> None:
    create_app({"TESTING": True}, instance_path=str(tmp_path / "instance"))  # a restart
    messages = Browser(app.test_client()).poll(after="0")["messages"]
    assert [(m["content"], m["system"], m["username"]) for m in messages] == [(WELCOME, True, "")]


def test_a_signed_in_user_posts_under_their_name_and_guests_still_can(app: Flask) -> None:
    bo, guest = Browser(app.test_client()), Browser(app.test_client())
    sign_in(bo, "Bo")
    page = bo.client.get("/chat/").text
    assert "Posting as <strong><bdi>Bo</bdi></strong>" in page
    assert "Signed in as <strong>Bo</strong>" in page
    posted = bo.client.post("/chat/messages", json={"content": "hi", "username": "Spoof"}).json
    assert (posted["username"], posted["anonymous"]) == ("Bo", False)
    assert guest.post("hello", username="Guest").status_code == 201
    assert "Sign in as Ana (moderator)" in guest.client.get("/").text


def test_the_moderator_may_delete_anyone_and_others_only_their_own(app: Flask) -> None:
    ana, bo, guest = (Browser(app.test_client()) for _ in range(3))
    sign_in(ana, "Ana")
    sign_in(bo, "Bo")
    from_guest = guest.say("from a guest", username="Guest")
    from_ana = ana.say("from Ana", username=None)
    assert bo.delete(from_ana).status_code == 403
    assert bo.delete(from_guest).status_code == 403
    shown = {m["id"]: m["can_delete"] for m in ana.poll(after="0")["messages"]}
    assert shown[from_guest] is True
    assert ana.delete(from_guest).status_code == 204
    bo.client.post("/sign-out", data={"next": "/"})
    assert bo.client.get("/").text.count("Sign in as") == 3


def test_only_signed_in_users_may_read_the_members_room(app: Flask) -> None:
    chen, guest = Browser(app.test_client()), Browser(app.test_client())
    assert guest.client.get("/chat/rooms/members/").status_code == 403
    assert guest.client.get("/chat/rooms/members/messages?after=0").status_code == 403
    listed = [room["name"] for room in guest.client.get("/chat/rooms").json["rooms"]]
    assert listed == ["lobby", "support"]
    sign_in(chen, "Chen")
    assert chen.client.get("/chat/rooms/members/").status_code == 200
    answer = chen.client.post("/chat/rooms/members/messages", json={"content": "members only"})
    assert answer.status_code == 201


def test_an_unknown_demo_user_cannot_sign_in(app: Flask) -> None:
    assert app.test_client().post("/sign-in/Mallory").status_code == 404


def test_without_flask_login_the_site_runs_with_guests_only(tmp_path: Path) -> None:
    """The package alone runs the example: ``pip install .`` has no Flask-Login."""
    check = (
        "import sys\n"
        "sys.modules['flask_login'] = None  # as if it were not installed\n"
        "from example_app import create_app\n"
        f"app = create_app({{'TESTING': True}}, instance_path={str(tmp_path / 'i')!r})\n"
        "client = app.test_client()\n"
        "assert 'pip install Flask-Login' in client.get('/').text\n"
        "posted = client.post('/chat/messages', json={'content': 'hi', 'username': 'G'})\n"
        "assert posted.status_code == 201, posted.data\n"
        "welcome = client.get('/chat/messages?after=0').json['messages'][0]\n"
        "assert welcome['system'], welcome\n"
        "assert client.post('/sign-in/Ana').status_code == 404\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", check], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr


def test_the_sites_own_link_to_the_chat_counts_what_waits_unread(app: Flask) -> None:
    bo, guest = Browser(app.test_client()), Browser(app.test_client())
    sign_in(bo, "Bo")
    assert ">Open the chat (1)</a>" in bo.client.get("/").text  # the welcome notice
    guest.say("hi Bo", username="Guest")
    assert ">Open the chat (2)</a>" in bo.client.get("/").text
    head = guest.poll(after="0")["cursor"]
    assert bo.client.post("/chat/read", json={"cursor": head}).status_code == 200
    assert ">Open the chat</a>" in bo.client.get("/").text
