"""A database error while posting or deleting stores nothing, answers 503, and can be retried."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import sqlalchemy as sa

from hosts import Host, MakeHost, Stack, kill_connection

# How long each database waits for a lock before giving up with an error, kept short here.
SHORT_LOCK_WAIT = {
    "sqlite": {"connect_args": {"timeout": 0.3}},
    "postgres": {"connect_args": {"options": "-c lock_timeout=300"}},
    "mysql": {"connect_args": {"init_command": "SET SESSION innodb_lock_wait_timeout = 1"}},
}


@contextmanager
def room_locked_by_another_transaction(host: Host) -> Iterator[None]:
    """Hold the lobby's row lock (on SQLite, the database's write lock) from elsewhere."""
    engine = sa.create_engine(host.app.config["SQLALCHEMY_DATABASE_URI"])
    try:
        with engine.connect() as connection:
            connection.execute(sa.text("UPDATE webchat_rooms SET last_seq = last_seq"))
            yield
            connection.rollback()
    finally:
        engine.dispose()


def assert_unavailable(response: Any) -> None:
    assert response.status_code == 503, response.json
    assert response.json["error"]["code"] == "database_unavailable"
    assert int(response.headers["Retry-After"]) > 0


def test_a_lock_timeout_while_posting_or_deleting_is_503_and_stores_nothing(
    make_host: MakeHost, stack: Stack
) -> None:
    host = make_host(SQLALCHEMY_ENGINE_OPTIONS=SHORT_LOCK_WAIT[stack.database])
    author, reader = host.browser(), host.browser()
    before = author.say("before")
    tab = reader.open_page()

    with room_locked_by_another_transaction(host):
        assert_unavailable(author.post("during"))
        assert_unavailable(author.delete(before))

    assert [m.content for m in host.stored_messages()] == ["before"]
    retried = author.say("during")  # the client tries again once the database answers
    batch = reader.poll(tab)
    assert [m["content"] for m in batch["messages"]] == ["before", "during"]
    assert [m["id"] for m in batch["messages"]] == [before, retried]
    assert author.delete(before).status_code == 204
    assert reader.poll(tab)["deleted"] == [before]


def test_a_connection_lost_in_the_middle_of_a_post_is_503_and_stores_nothing(
    make_host: MakeHost, stack: Stack
) -> None:
    if stack.database == "sqlite":
        pytest.skip("SQLite has no server connection to lose")
    host = make_host()
    author, reader = host.browser(), host.browser()
    tab = reader.open_page()
    killed: list[str] = []

    def kill_before_the_insert(connection: Any, cursor: Any, statement: str, *args: Any) -> None:
        if statement.startswith("INSERT INTO webchat_messages") and not killed:
            killed.append(statement)
            kill_connection(host, connection.connection.dbapi_connection)

    with host.app.app_context():
        engine = host.db.engine
    sa.event.listen(engine, "before_cursor_execute", kill_before_the_insert)
    try:
        assert_unavailable(author.post("lost with its connection"))
    finally:
        sa.event.remove(engine, "before_cursor_execute", kill_before_the_insert)

    assert killed and host.stored_messages() == []
    assert author.say("sent again") > 0
    assert [m["content"] for m in reader.poll(tab)["messages"]] == ["sent again"]
