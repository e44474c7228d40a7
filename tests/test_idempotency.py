"""A post sent again with its Idempotency-Key is stored once, whatever failed in between."""

from __future__ import annotations

import subprocess
import threading
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import redis as redis_client
import sqlalchemy as sa

from flask_webchat.models import ChatPostKey, utcnow
from hosts import SAMPLE_STACKS, Host, MakeHost, Stack, build_host, kill_connection


def test_a_repeated_key_returns_the_first_message_and_stores_nothing(host: Host) -> None:
    author, reader = host.browser(), host.browser()
    tab = reader.open_page()
    first = author.post("hello", key="draft-1")
    again = author.post("hello", key="draft-1")
    assert first.status_code == again.status_code == 201
    assert again.json == first.json
    assert again.headers["Location"] == first.headers["Location"]
    assert [m.content for m in host.stored_messages()] == ["hello"]
    assert [m["content"] for m in reader.poll(tab)["messages"]] == ["hello"]


def test_the_same_key_from_someone_else_is_another_message(host: Host) -> None:
    ann, bo = host.browser(), host.browser()
    assert ann.post("from ann", key="k").json["content"] == "from ann"
    assert bo.post("from bo", key="k").json["content"] == "from bo"
    assert [m.content for m in host.stored_messages()] == ["from ann", "from bo"]


def test_a_signed_in_author_is_known_by_identity_on_every_device(host: Host) -> None:
    host.add_user("alice")
    laptop, phone = host.browser(), host.browser()
    laptop.login("alice")
    phone.login("alice")
    posted = laptop.post("once", key="same-draft")
    assert phone.post("once", key="same-draft").json["id"] == posted.json["id"]
    assert len(host.stored_messages()) == 1


@pytest.mark.stacks(*SAMPLE_STACKS)  # refused before anything is stored
@pytest.mark.parametrize("key", ["", "has space", "x" * 65, "naïve", "tab\there"])
def test_an_invalid_key_is_422_and_stores_nothing(host: Host, key: str) -> None:
    refused = host.browser().post("hi", key=key)
    assert refused.status_code == 422, refused.json
    assert "Idempotency-Key" in refused.json["error"]["fields"]
    assert host.stored_messages() == []


def test_a_key_is_forgotten_after_the_configured_time(make_host: MakeHost) -> None:
    host = make_host(WEBCHAT_IDEMPOTENCY_TTL=60)
    author = host.browser()
    first = author.post("one", key="k").json["id"]
    with host.app.app_context():
        keys = sa.update(ChatPostKey).values(created_at=utcnow() - timedelta(hours=1))
        host.db.session.execute(keys)
        host.db.session.commit()
    second = author.post("one", key="k").json["id"]
    assert second != first
    assert len(host.stored_messages()) == 2
    with host.app.app_context():  # the expired key is gone, the new one remembered
        assert host.db.session.scalar(sa.select(sa.func.count()).select_from(ChatPostKey)) == 1


def test_expired_keys_of_other_posts_are_swept_as_posting_goes_on(make_host: MakeHost) -> None:
    host = make_host(WEBCHAT_IDEMPOTENCY_TTL=60)
    author = host.browser()
    author.post("remembered for a minute", key="old")

    def remembered() -> int:
        with host.app.app_context():
            count = sa.select(sa.func.count()).select_from(ChatPostKey)
            return host.db.session.scalar(count) or 0

    with host.app.app_context():
        keys = sa.update(ChatPostKey).values(created_at=utcnow() - timedelta(hours=1))
        host.db.session.execute(keys)
        host.db.session.commit()
    # Not at every post (that would cost each one a statement), but within a few dozen.
    for number in range(100):
        author.post(f"new {number}", key=f"new-{number}")
        if remembered() == number + 1:
            break
    assert remembered() == number + 1, "the expired key is still stored"
    assert number < 70
    assert (
        author.post("remembered for a minute", key="old").json["content"]
        == "remembered for a minute"
    )
    assert len(host.stored_messages()) == number + 3


def _send_at_once(host: Host, cookie: str, body: dict[str, str], key: str) -> list[Any]:
    """One browser's post, sent from three connections at the same moment with one key (the
    page retrying while its first try is still in flight)."""
    clients = [host.app.test_client() for _ in range(3)]
    start = threading.Barrier(len(clients))
    answers: list[Any] = []

    def send(client: Any) -> None:
        client.set_cookie("session", cookie)
        start.wait()
        answers.append(client.post("/chat/messages", json=body, headers={"Idempotency-Key": key}))

    threads = [threading.Thread(target=send, args=(client,)) for client in clients]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    return answers


def test_the_same_post_sent_several_times_at_once_is_stored_once(host: Host) -> None:
    author = host.browser()
    author.say("first, so that the browser has its reader key", username="ann")
    cookie = author.client.get_cookie("session")
    assert cookie is not None
    for attempt in range(3):
        body = {"content": f"sent at once {attempt}", "username": "ann"}
        answers = _send_at_once(host, cookie.value, body, key=f"draft-{attempt}")
        assert [a.status_code for a in answers] == [201, 201, 201], [a.json for a in answers]
        assert len({a.json["id"] for a in answers}) == 1
    contents = [m.content for m in host.stored_messages()]
    assert contents[1:] == [f"sent at once {n}" for n in range(3)]


def test_a_repeat_of_a_deleted_post_is_409_and_stores_nothing(host: Host) -> None:
    author = host.browser()
    posted = author.post("regretted", key="k").json["id"]
    assert author.delete(posted).status_code == 204
    again = author.post("regretted", key="k")
    assert again.status_code == 409
    assert again.json["error"]["code"] == "already_deleted"
    assert host.stored_messages() == []


def test_a_session_store_failing_after_the_view_does_not_fail_the_post(
    private_redis: Callable[[], subprocess.Popen[bytes]], tmp_path: Path
) -> None:
    private_redis()
    url = f"redis://127.0.0.1:{private_redis.port}/0"  # type: ignore[attr-defined]
    host = build_host(tmp_path, Stack("sqlite", "redis"), redis_url=url)
    host.app.config["TESTING"] = False  # answer as in production, not by raising into the test
    author, reader = host.browser(), host.browser()
    tab = reader.open_page()
    author.open_page()
    store = redis_client.Redis.from_url(url)
    # Full: sessions still load, but saving one fails, after the chat has committed.
    store.config_set("maxmemory-policy", "noeviction")
    store.config_set("maxmemory", 1)
    try:
        posted = author.post("stored while the session store is full", key="draft")
        assert posted.status_code == 201, posted.data
        polled = reader.poll_response(tab)
        assert polled.status_code == 200, polled.data
        assert [m["id"] for m in polled.json["messages"]] == [posted.json["id"]]
        retried = author.post("stored while the session store is full", key="draft")
        assert retried.json["id"] == posted.json["id"]
    finally:
        store.config_set("maxmemory", 0)
        store.close()
    assert len(host.stored_messages()) == 1
    assert reader.poll(tab)["messages"] == []
    host.close()


@pytest.mark.parametrize("when", ["before", "after"])
def test_a_connection_killed_around_commit_leaves_one_message_for_the_retry(
    make_host: MakeHost, stack: Stack, when: str
) -> None:
    if stack.database == "sqlite":
        pytest.skip("SQLite has no server connection to kill")
    host = make_host()
    host.app.config["TESTING"] = False
    author, reader = host.browser(), host.browser()
    tab = reader.open_page()
    committing: list[Any] = []

    def kill_at_commit(connection: Any) -> None:
        if not committing:  # before COMMIT is sent: the transaction is lost with it
            committing.append(connection.connection.dbapi_connection)
            if when == "before":
                kill_connection(host, committing[0])

    def kill_after_commit(session: Any) -> None:
        if when == "after" and len(committing) == 1:  # committed; the answer may never arrive
            committing.append(True)
            kill_connection(host, committing[0])

    with host.app.app_context():
        engine = host.db.engine
    sa.event.listen(engine, "commit", kill_at_commit)
    sa.event.listen(host.db.session, "after_commit", kill_after_commit)
    try:
        answers = [author.post("sent once", key="draft")]
        if when == "after":  # the answer was lost with the connection: the client sends again
            answers.append(author.post("sent once", key="draft"))
        # The client retries until it gets an answer it trusts, as the page does.
        while answers[-1].status_code in (500, 503) and len(answers) < 5:
            answers.append(author.post("sent once", key="draft"))
    finally:
        sa.event.remove(engine, "commit", kill_at_commit)
        sa.event.remove(host.db.session, "after_commit", kill_after_commit)
    assert committing, "the post reached COMMIT"
    assert answers[-1].status_code == 201, [a.status_code for a in answers]
    [stored] = host.stored_messages()
    assert answers[-1].json["id"] == stored.id
    assert [m["id"] for m in reader.poll(tab)["messages"]] == [stored.id]
    assert reader.poll(tab)["messages"] == []
