"""Who gets GRIP instructions: only requests that Pushpin signed with ``WEBCHAT_GRIP_KEY``.

In process, without a Pushpin: the app must answer an unsigned or forged request directly, as
if there were no edge, so a client cannot make it hand out holds or recovery links. The edge
itself is tested against a real Pushpin in ``test_edge.py``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from pushpin import signature as sign

from example_app import create_app
from processes import free_port

KEY = "signing-test-key"


def signature(key: str = KEY, **options: Any) -> str:
    """A ``Grip-Sig`` as Pushpin makes it, with this module's key unless told otherwise."""
    return sign(key, **options)


@pytest.fixture
def app(tmp_path: Path) -> Iterator[Flask]:
    # Nothing listens at the publish endpoint: publishing fails, and must not fail a post.
    config = {
        "WEBCHAT_GRIP_URL": f"http://127.0.0.1:{free_port()}",
        "WEBCHAT_GRIP_KEY": KEY,
        "WEBCHAT_RATE_LIMIT": None,
        "TESTING": True,
        "EXAMPLE_WELCOME": None,
    }
    yield create_app(config, instance_path=str(tmp_path / "instance"))


def _events(client: Any, signed: str | None, query: str = "after=0") -> Any:
    headers = {} if signed is None else {"Grip-Sig": signed}
    return client.get(f"/chat/events?{query}", headers=headers, buffered=False)


@pytest.mark.parametrize(
    "forged",
    [
        None,
        signature("another-key"),
        signature(expires_in=-60),
        signature(alg="none"),
        "not.a.jwt",
        "garbage",
    ],
    ids=["unsigned", "wrong-key", "expired", "wrong-alg", "bad-base64", "not-a-token"],
)
def test_a_request_without_a_valid_signature_is_served_directly(app: Flask, forged: Any) -> None:
    client = app.test_client()
    answer = _events(client, forged)
    try:
        assert answer.status_code == 200
        assert not [name for name, _ in answer.headers if name.startswith("Grip-")]
        assert next(answer.response).decode().startswith("retry:")  # the app streams it
    finally:
        answer.close()
    poll = client.get("/chat/messages?after=0&wait=0.1", headers={"Grip-Sig": forged or ""})
    assert poll.status_code == 200 and "Grip-Hold" not in poll.headers
    # A recovery link is only followed for Pushpin: forged, it is an unknown query parameter.
    answer = _events(client, forged, "after=0&grip=anything")
    try:
        assert "Grip-Hold" not in answer.headers
    finally:
        answer.close()


def test_a_signed_request_gets_a_hold_and_what_it_missed(
    app: Flask, caplog: pytest.LogCaptureFixture
) -> None:
    client = app.test_client()
    with caplog.at_level(logging.WARNING, "flask_webchat.edge"):
        posted = client.post("/chat/messages", json={"content": "hi", "username": "ann"})
    assert posted.status_code == 201  # committed, though nobody took the publish
    assert "publishing to the edge failed" in caplog.text
    answer = _events(client, signature())
    body = answer.get_data(as_text=True)
    assert answer.headers["Grip-Hold"] == "stream"
    assert "; prev-id=1; filter=skip-users" in answer.headers["Grip-Channel"]
    assert "rel=next" in answer.headers["Grip-Link"]
    opening = 'retry: 2000\nid: 0\nevent: cursor\ndata: {"cursor":"0"}\n\n'
    assert body.startswith(opening) and '"content":"hi"' in body
    poll = client.get("/chat/messages?after=1&wait=5", headers={"Grip-Sig": signature()})
    assert poll.headers["Grip-Hold"] == "response"
    assert poll.json == {
        "messages": [],
        "deleted": [],
        "updated": [],
        "cursor": "1",
        "more": False,
        "stream": None,
    }


def test_a_forged_recovery_link_through_the_edge_is_refused(app: Flask) -> None:
    client = app.test_client()
    answer = client.get("/chat/events?grip=forged.link", headers={"Grip-Sig": signature()})
    assert answer.status_code == 422
    assert answer.json["error"]["fields"] == {"grip": ["Not a valid recovery link."]}


def test_with_a_delete_hook_readers_are_served_directly(tmp_path: Path) -> None:
    app = create_app(
        {"WEBCHAT_GRIP_URL": "http://127.0.0.1:9", "WEBCHAT_GRIP_KEY": KEY, "TESTING": True},
        instance_path=str(tmp_path / "instance"),
    )
    extension = app.extensions["webchat"].extension
    permissions = extension.permissions  # the example app's extension is the module's one
    extension.delete_permission(lambda message, identity: False)
    answer = _events(app.test_client(), signature())
    try:
        assert "Grip-Hold" not in answer.headers
    finally:
        answer.close()
        extension.permissions = permissions


@pytest.mark.parametrize(
    ("config", "complaint"),
    [
        ({"WEBCHAT_GRIP_URL": "http://127.0.0.1:5561"}, "WEBCHAT_GRIP_URL needs WEBCHAT_GRIP_KEY"),
        ({"WEBCHAT_GRIP_URL": "127.0.0.1:5561", "WEBCHAT_GRIP_KEY": KEY}, "WEBCHAT_GRIP_URL"),
        ({"WEBCHAT_GRIP_URL": "http://127.0.0.1:5561", "WEBCHAT_GRIP_KEY": 5}, "GRIP_KEY"),
    ],
)
def test_edge_settings_are_checked_at_start_up(
    tmp_path: Path, config: dict[str, Any], complaint: str
) -> None:
    with pytest.raises(ValueError, match=complaint):
        create_app(config, instance_path=str(tmp_path / "instance"))


def test_readers_asking_again_from_one_cursor_through_the_edge_share_one_read(
    app: Flask,
) -> None:
    # Readers this browser knows (each has posted, so each has its reader key).
    readers = [app.test_client() for _ in range(5)]
    for number, reader in enumerate(readers):
        reader.post("/chat/messages", json={"content": f"hi {number}", "username": "ann"})
    statements: list[str] = []
    with app.app_context():
        engine = app.extensions["sqlalchemy"].engine

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement)

    def ask_again(reader: Any) -> Any:
        # A reader the publish reached asks again from its new cursor, and is held there.
        poll = reader.get("/chat/messages?after=5&wait=5", headers={"Grip-Sig": signature()})
        assert poll.headers.get("Grip-Hold") == "response"
        assert "prev-id=5" in poll.headers["Grip-Channel"]
        return poll

    sa.event.listen(engine, "before_cursor_execute", record)
    try:
        ask_again(readers[0])
        read_once = len(statements)
        assert read_once > 0
        for reader in readers[1:]:
            ask_again(reader)
        assert len(statements) == read_once  # the four after the first read nothing
        readers[0].post("/chat/messages", json={"content": "again", "username": "ann"})
        poll = readers[1].get("/chat/messages?after=5&wait=5", headers={"Grip-Sig": signature()})
        assert [m["content"] for m in poll.json["messages"]] == ["again"]  # the room moved: read
    finally:
        sa.event.remove(engine, "before_cursor_execute", record)
