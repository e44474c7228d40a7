"""The host's own code posts, deletes and reads through the extension, as the HTTP API would."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask import request, session

from flask_webchat import Identity, MessageRejected, WebchatError
from flask_webchat.errors import Forbidden, MessageNotFound, UnknownRoom, ValidationFailed
from flask_webchat.models import ChatMessage, ChatRoom
from flask_webchat.signals import message_posted
from hosts import EVERY_DATABASE, SAMPLE_STACKS, Host, MakeHost, Stack
from processes import ROOT
from test_realtime import LONG_WAIT, Waiting, contents

# The session backend changes nothing here: each database runs it once.
pytestmark = pytest.mark.stacks(*EVERY_DATABASE)

TYPED_HOST = ROOT / "docs" / "examples" / "typed_host.py"


def user(host: Host, name: str) -> object:
    """The host's user object called ``name`` (made if needed), as its identity loader returns."""
    with host.app.app_context():
        found = host.db.session.scalar(
            sa.select(host.user_model).where(host.user_model.name == name)
        )
        if found is None:
            found = host.user_model(name=name, is_moderator=False)
            host.db.session.add(found)
            host.db.session.commit()
        host.db.session.refresh(found)  # loaded, so that it still reads once detached
        host.db.session.expunge(found)
        return found


def test_a_system_message_posted_with_only_an_app_context_reaches_readers(host: Host) -> None:
    reader = host.browser()
    with host.app.app_context():
        message = host.webchat.post_message("Deploy finished", system=True)
    assert (message.content, message.system, message.username) == ("Deploy finished", True, "")
    [shown] = reader.poll(after="0")["messages"]
    assert shown["system"] is True and shown["anonymous"] is False
    assert (shown["id"], shown["content"], shown["username"]) == (message.id, "Deploy finished", "")
    [stored] = host.stored_messages()
    assert (stored.system, stored.author_id, stored.author_session) == (True, None, None)


def test_a_post_from_a_worker_thread_wakes_a_waiting_long_poll(host: Host) -> None:
    bo = host.browser()
    stream = bo.open_page()
    bo.poll(stream)
    waiting = Waiting(bo, stream=stream, wait=LONG_WAIT)
    assert waiting.still_waiting()

    def job() -> None:
        with host.app.app_context():
            host.webchat.post_message("from a job", system=True, room=None)

    worker = threading.Thread(target=job)
    worker.start()
    worker.join(10)
    assert contents(waiting.result()) == ["from a job"]


def test_a_host_view_posts_as_its_signed_in_user_within_the_request(host: Host) -> None:
    ann = user(host, "ann")
    heard: list[tuple[str, str, str | None, int]] = []

    def receiver(sender: object, *, message: ChatMessage, room: str, identity: Any) -> None:
        # Counted with a connection of its own: only what has committed.
        with host.db.engine.connect() as connection:
            stored = connection.scalar(sa.select(sa.func.count()).select_from(ChatMessage))
        heard.append((message.content, room, identity.name if identity else None, stored))

    @host.app.post("/tickets")
    def open_ticket() -> tuple[dict[str, object], int]:
        # What a host's own form does: store its row, then tell the support room.
        signed_in = host.db.session.get(host.user_model, session["user_id"])
        message = host.webchat.post_message(
            f"Opened ticket: {request.json['title']}", user=signed_in, room="support"
        )
        return {"message": message.id}, 201

    browser, reader = host.browser(), host.browser()
    browser.login("ann")
    with message_posted.connected_to(receiver, sender=host.app):
        answer = browser.client.post("/tickets", json={"title": "Printer on fire"})
    assert answer.status_code == 201
    [stored] = host.stored_messages()
    assert (stored.id, stored.content, stored.username) == (
        answer.json["message"],
        "Opened ticket: Printer on fire",
        "ann",
    )
    assert (stored.author_id, stored.author_session, stored.system) == (
        str(ann.id),  # type: ignore[attr-defined]
        None,
        False,
    )
    assert heard == [("Opened ticket: Printer on fire", "support", "ann", 1)]
    shown = reader.client.get("/chat/rooms/support/messages", query_string={"after": "0"}).json
    assert [(m["id"], m["username"], m["anonymous"]) for m in shown["messages"]] == [
        (stored.id, "ann", False)
    ]


def test_posting_as_a_host_user_names_them_and_asks_the_post_hook(host: Host) -> None:
    ann = user(host, "ann")
    asked: list[tuple[str, str | None]] = []

    @host.webchat.post_permission
    def only_in_lobby(room: str, identity: Identity | None) -> bool:
        asked.append((room, identity.name if identity else None))
        return room == "lobby"

    with host.app.app_context():
        message = host.webchat.post_message("hi", user=ann, username="spoofed")
        with pytest.raises(Forbidden):
            host.webchat.post_message("elsewhere", user=ann, room="team")
    assert (message.username, message.author_id) == ("ann", str(ann.id))  # type: ignore[attr-defined]
    assert asked == [("lobby", "ann"), ("team", "ann")]
    assert [m.content for m in host.stored_messages()] == ["hi"]
    [shown] = host.browser().poll(after="0")["messages"]
    assert (shown["username"], shown["anonymous"], shown["system"]) == ("ann", False, False)


def test_posting_under_a_typed_name_is_anonymous(host: Host) -> None:
    with host.app.app_context():
        message = host.webchat.post_message("  hello  ", username=" Guest ", room="side")
    assert (message.content, message.username, message.author_id) == ("hello", "Guest", None)
    read = host.browser().client.get("/chat/rooms/side/messages", query_string={"after": "0"})
    [shown] = read.json["messages"]
    assert (shown["username"], shown["anonymous"], shown["mine"]) == ("Guest", True, False)
    stored = host.stored_messages()
    assert [(m.username, m.system, m.author_session) for m in stored] == [("Guest", False, None)]


def test_a_post_under_a_name_is_the_host_speaking_even_where_guests_may_not(
    make_host: MakeHost,
) -> None:
    host = make_host(WEBCHAT_ALLOW_ANONYMOUS=False)
    refused = host.browser().client.post("/chat/messages", json={"content": "hi", "username": "x"})
    assert (refused.status_code, refused.json["error"]["code"]) == (403, "identity_required")
    with host.app.app_context():
        host.webchat.post_message("Back in five minutes", username="Ops")
    stored = host.stored_messages()
    assert [(m.content, m.username, m.author_id) for m in stored] == [
        ("Back in five minutes", "Ops", None)
    ]


@pytest.mark.stacks(*SAMPLE_STACKS)  # refused before anything is stored
@pytest.mark.parametrize(
    ("content", "username"),
    [("", "ann"), ("x" * 1025, "ann"), ("bell\x07", "ann"), ("hi", None), ("hi", "n" * 65)],
)
def test_bad_input_raises_the_http_apis_error_and_stores_nothing(
    host: Host, content: str, username: str | None
) -> None:
    body = {"content": content} | ({"username": username} if username is not None else {})
    answer = host.browser().client.post("/chat/messages", json=body)
    assert answer.status_code == 422
    with host.app.app_context(), pytest.raises(ValidationFailed) as raised:
        host.webchat.post_message(content, username=username)
    error = raised.value
    assert isinstance(error, WebchatError)
    assert (error.status, error.code, error.fields) == (
        422,
        "invalid_fields",
        answer.json["error"]["fields"],
    )
    assert host.stored_messages() == []


def test_an_unknown_room_and_contradictory_arguments_are_refused(make_host: MakeHost) -> None:
    host = make_host(WEBCHAT_ROOMS=["lobby"])
    with host.app.app_context():
        with pytest.raises(UnknownRoom):
            host.webchat.post_message("hi", system=True, room="elsewhere")
        with pytest.raises(TypeError):
            host.webchat.post_message("hi", system=True, username="ann")
    assert host.stored_messages() == []


def test_http_clients_cannot_post_a_system_message(host: Host) -> None:
    answer = host.browser().client.post(
        "/chat/messages", json={"content": "I am the site", "username": "x", "system": True}
    )
    assert answer.status_code == 201 and answer.json["system"] is False
    assert [m.system for m in host.stored_messages()] == [False]


def test_deleting_from_host_code_checks_the_user_or_nobody(host: Host) -> None:
    ann, bo = user(host, "ann"), user(host, "bo")
    reader = host.browser()
    with host.app.app_context():
        first = host.webchat.post_message("one", user=ann).id
        second = host.webchat.post_message("two", user=ann).id
    cursor = reader.poll(after="0")["cursor"]
    with host.app.app_context():
        with pytest.raises(Forbidden):
            host.webchat.delete_message(first, user=bo)
        gone = host.webchat.delete_message(first, user=ann)
        assert (gone.id, gone.content) == (first, "one")
        host.webchat.delete_message(second)  # the host itself: no one is asked
        with pytest.raises(MessageNotFound):
            host.webchat.delete_message(second)
        with pytest.raises(MessageNotFound):
            host.webchat.get_message(second)
    assert host.stored_messages() == []
    assert reader.poll(after=cursor)["deleted"] == [first, second]


def test_read_messages_returns_the_batches_a_poll_gets(host: Host) -> None:
    ann = host.browser()
    ids = [ann.say(f"m{n}") for n in range(5)]
    ann.delete(ids[1])
    with host.app.app_context():
        first = host.webchat.read_messages(limit=3)
        rest = host.webchat.read_messages(after=first.cursor)
        assert host.webchat.get_message(ids[0]).content == "m0"
        with pytest.raises(ValidationFailed):
            host.webchat.read_messages(limit=0)
    polled = ann.poll(after="0", limit=3)
    assert [m.id for m in first.messages] == [m["id"] for m in polled["messages"]]
    assert (str(first.cursor), first.more) == (polled["cursor"], polled["more"])
    polled_rest = ann.poll(after=polled["cursor"])
    assert [m.id for m in rest.messages] == [m["id"] for m in polled_rest["messages"]]
    assert rest.deleted == polled_rest["deleted"] == [ids[1]]
    assert str(rest.cursor) == polled_rest["cursor"] and not rest.more


def test_a_post_that_joins_the_host_transaction_rolls_back_with_it(host: Host) -> None:
    reader = host.browser()
    with host.app.app_context():
        host.webchat.post_message("kept", system=True)
        cursor = reader.poll(after="0")["cursor"]
        host.db.session.add(host.user_model(name="carl"))
        host.webchat.post_message("undone", system=True, commit=False)
        host.db.session.rollback()
        host.webchat.post_message("with the user", system=True, commit=False)
        host.db.session.add(host.user_model(name="dora"))
        host.db.session.commit()
        names = host.db.session.scalars(sa.select(host.user_model.name)).all()
    assert names == ["dora"]
    assert [m.content for m in host.stored_messages()] == ["kept", "with the user"]
    assert contents(reader.poll(after=cursor)) == ["with the user"]


def test_a_joined_post_wakes_readers_only_when_the_host_commits(host: Host) -> None:
    bo = host.browser()
    stream = bo.open_page()
    bo.poll(stream)
    waiting = Waiting(bo, stream=stream, wait=LONG_WAIT)
    assert waiting.still_waiting()
    with host.app.app_context():
        host.webchat.post_message("rolled back", system=True, commit=False)
        host.db.session.rollback()
        assert waiting.still_waiting()
        host.webchat.post_message("committed", system=True, commit=False)
        host.db.session.commit()
    assert contents(waiting.result()) == ["committed"]


def test_message_rejected_is_a_webchat_error_with_its_own_code() -> None:
    error = MessageRejected("No links, please.")
    assert (error.status, error.code, error.message) == (
        422,
        "message_rejected",
        "No links, please.",
    )
    assert isinstance(error, WebchatError) and not isinstance(error, ValidationFailed)


def test_a_message_added_straight_to_the_session_gets_its_position(host: Host) -> None:
    bo = host.browser()
    stream = bo.open_page()
    bo.say("first")
    assert contents(bo.poll(stream)) == ["first"]
    waiting = Waiting(bo, stream=stream, wait=LONG_WAIT)
    assert waiting.still_waiting()
    heard: list[str] = []

    def receiver(sender: object, *, message: ChatMessage, **kwargs: object) -> None:
        heard.append(message.content)

    with host.app.app_context(), message_posted.connected_to(receiver, sender=host.app):
        lobby = host.db.session.scalar(sa.select(ChatRoom).where(ChatRoom.name == "lobby"))
        host.db.session.add(ChatMessage(room_id=lobby.id, username="bot", content="added"))
        host.db.session.commit()
    assert contents(waiting.result()) == ["added"]
    assert heard == ["added"]
    assert [r["messages"] for r in bo.client.get("/chat/rooms").json["rooms"]] == [2]
    assert [m.seq for m in host.stored_messages()] == [1, 2]


@pytest.mark.parametrize(
    ("fields", "complaint"),
    [({"seq": 99}, "seq is its position"), ({"room_id": None}, "needs a room_id")],
)
def test_a_message_added_with_a_chosen_position_or_no_room_fails_at_flush(
    host: Host, fields: dict[str, object], complaint: str
) -> None:
    host.browser().say("first")
    with host.app.app_context():
        lobby = host.db.session.scalar(sa.select(ChatRoom).where(ChatRoom.name == "lobby"))
        values = {"room_id": lobby.id, "username": "bot", "content": "wrong"} | fields
        host.db.session.add(ChatMessage(**values))
        with pytest.raises(ValueError, match=complaint):
            host.db.session.flush()
        host.db.session.rollback()
    assert [m.content for m in host.stored_messages()] == ["first"]


def test_a_message_added_straight_to_the_session_is_announced_through_postgres(
    stack: Stack, make_host: MakeHost
) -> None:
    if stack.database != "postgres":
        pytest.skip("the postgres notifier needs PostgreSQL")
    host = make_host(WEBCHAT_NOTIFIER="postgres")
    bo = host.browser()
    stream = bo.open_page()
    bo.say("first")
    bo.poll(stream)
    waiting = Waiting(bo, stream=stream, wait=LONG_WAIT)
    assert waiting.still_waiting()
    with host.app.app_context():
        lobby = host.db.session.scalar(sa.select(ChatRoom).where(ChatRoom.name == "lobby"))
        host.db.session.add(ChatMessage(room_id=lobby.id, username="bot", content="added"))
        host.db.session.commit()
    assert contents(waiting.result()) == ["added"]


def test_a_typed_host_program_passes_mypy_strict_and_runs(tmp_path: Path, mypy_cache: Path) -> None:
    pytest.importorskip("mypy", reason="needs mypy (test extra)")
    # The package as a host's mypy finds it installed: on the path, where only its py.typed
    # marker makes mypy read its annotations (the editable install's import hook it cannot see).
    site = tmp_path / "site"
    site.mkdir()
    (site / "flask_webchat").symlink_to(ROOT / "flask_webchat", target_is_directory=True)
    mypy = [sys.executable, "-m", "mypy", "--strict", "--cache-dir", str(mypy_cache)]
    checked = subprocess.run(
        [*mypy, str(TYPED_HOST)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={"PYTHONPATH": str(site), "PATH": os.defpath},
        timeout=300,
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    ran = subprocess.run(
        [sys.executable, str(TYPED_HOST)], capture_output=True, text=True, cwd=tmp_path, timeout=60
    )
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert ran.stdout.splitlines() == [
        "refused: 422 message_rejected Sign in to post links.",
        "refused: 403 forbidden",
        "deleted: It's **** slow",
        "On it",
        "{'lobby': '1', 'support': '2'}",
        "lobby ['notice: Deploy finished at 14:02'] 2 False",
        "support ['Ann: On it', 'bot: Added', 'deleted 2'] 4 False",
        "posted 1 to lobby",
        "posted 2 to support",
        "posted 3 to support",
        "deleted in support",
        "posted 4 to support",
    ]


def test_the_posted_message_is_the_stored_one_in_the_hosts_session_too(host: Host) -> None:
    # Host code may keep what post_message returned and use it with its own session later (to
    # link it to one of its rows, say): that is the stored message, never a second one.
    with host.app.app_context():
        message = host.webchat.post_message("Deploy finished", system=True)
        assert sa.inspect(message).detached
        host.db.session.add(message)
        host.db.session.commit()
        assert message.content == "Deploy finished"
    assert [m.id for m in host.stored_messages()] == [message.id]
