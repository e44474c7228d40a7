"""What a host's identity loader may return, including Flask-Login's ``current_user``."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from flask import request
from flask_login import LoginManager, UserMixin, current_user, login_user

from hosts import SAMPLE_STACKS, Host, MakeHost

# Behaviour decided before storage, the same on every database and session backend.
pytestmark = pytest.mark.stacks(*SAMPLE_STACKS)


@dataclass
class Member(UserMixin):
    id: str
    nickname: str


MEMBERS = {"7": Member("7", "Grace")}


def test_flask_login_current_user_is_an_identity(make_host: MakeHost) -> None:
    host = make_host(WEBCHAT_USER_NAME_ATTRIBUTE="nickname")
    login_manager = LoginManager(host.app)
    login_manager.user_loader(MEMBERS.get)
    host.webchat.identity_loader(lambda: current_user)

    @host.app.post("/flask-login")
    def sign_in() -> tuple[str, int]:
        login_user(MEMBERS[request.json["id"]])
        return "", 204

    anonymous, member = host.browser(), host.browser()
    member.client.post("/flask-login", json={"id": "7"})

    posted = member.post("hello", username="someone else")
    assert posted.status_code == 201
    assert (posted.json["username"], posted.json["anonymous"]) == ("Grace", False)
    # Flask-Login's anonymous user counts as nobody: the typed name is used.
    guest = anonymous.post("hi", username="Guest")
    assert (guest.json["username"], guest.json["anonymous"]) == ("Guest", True)
    assert anonymous.delete(posted.json["id"]).status_code == 403
    assert [m.author_id for m in host.stored_messages()] == ["7", None]


def test_a_string_identity_is_both_id_and_name(make_host: MakeHost) -> None:
    host = make_host()
    host.webchat.identity_loader(lambda: request.headers.get("X-Remote-User"))
    laptop, phone = host.browser(), host.browser()
    for client in (laptop.client, phone.client):
        client.environ_base["HTTP_X_REMOTE_USER"] = "ada"

    posted = laptop.post("from the laptop", username=None)
    assert posted.json["username"] == "ada"
    assert phone.delete(posted.json["id"]).status_code == 204


def test_a_signed_in_readers_first_poll_keeps_the_hosts_user_usable(host: Host) -> None:
    # The host's permission hook reads its user object after the poll has run its statements:
    # the poll must leave the host's session and the objects it loaded alone.
    host.add_user("mod", moderator=True)
    writer, moderator = host.browser(), host.browser()
    posted = writer.say("before the moderator arrives")
    moderator.login("mod")
    for _ in range(2):  # the first poll opens the session's stream, the second reads it
        batch = moderator.poll()
        assert [(m["id"], m["can_delete"]) for m in batch["messages"]] in ([(posted, True)], [])
    assert moderator.poll(after="0")["messages"][0]["can_delete"] is True


def test_the_hosts_identity_loader_runs_once_per_request(make_host: MakeHost) -> None:
    host = make_host(WEBCHAT_RATE_LIMIT="20/minute")  # the limit asks for the identity too
    calls: list[str] = []

    @host.webchat.identity_loader
    def counting_loader() -> str:
        calls.append(request.path)
        return "alice"

    browser = host.browser()
    message = browser.say("hello", None)
    assert calls == ["/chat/messages"]
    assert browser.delete(message).status_code == 204
    assert calls == ["/chat/messages", f"/chat/messages/{message}"]
