"""Signals: once per committed change, after the commit, whichever way the change was made."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from flask_webchat.models import ChatMessage, utcnow
from flask_webchat.signals import message_deleted, message_posted
from hosts import EVERY_DATABASE, Host

# The session backend changes nothing here: each database runs it once.
pytestmark = pytest.mark.stacks(*EVERY_DATABASE)


class Heard:
    """What a receiver was sent, and whether the change was visible to others when it was."""

    def __init__(self, host: Host) -> None:
        self.host = host
        self.calls: list[tuple[str, int, str, str | None, bool]] = []

    def __call__(self, sender: Any, *, message: ChatMessage, room: str, identity: Any) -> None:
        assert sender is self.host.app
        # A connection of its own: sees only what has committed.
        with self.host.db.engine.connect() as connection:
            stored = connection.scalar(
                sa.select(sa.func.count()).where(ChatMessage.__table__.c.id == message.id)
            )
        self.calls.append(
            (message.content, message.id, room, identity.name if identity else None, bool(stored))
        )


@contextmanager
def listening(host: Host) -> Iterator[tuple[Heard, Heard]]:
    posted, deleted = Heard(host), Heard(host)
    with (
        host.app.app_context(),
        message_posted.connected_to(posted, sender=host.app),
        message_deleted.connected_to(deleted, sender=host.app),
    ):
        yield posted, deleted


def test_http_posts_and_deletes_signal_once_after_the_commit(host: Host) -> None:
    host.add_user("ann")
    ann = host.browser()
    ann.login("ann")
    with listening(host) as (posted, deleted):
        first = ann.say("hello", username=None)
        assert ann.post("", username=None).status_code == 422
        assert ann.delete(first).status_code == 204
        assert ann.delete(first).status_code == 404
    assert posted.calls == [("hello", first, "lobby", "ann", True)]
    # Deleted: the row is gone by the time the receiver looks.
    assert deleted.calls == [("hello", first, "lobby", "ann", False)]


def test_the_python_api_the_cli_and_purge_signal_too(host: Host) -> None:
    with listening(host) as (posted, deleted):
        kept = host.webchat.post_message("notice", system=True, room="ops").id
        gone = host.webchat.post_message("by a guest", username="guest").id
        host.webchat.delete_message(gone)
        old = host.webchat.post_message("old", username="guest").id
        host.db.session.execute(
            sa.update(ChatMessage)
            .where(ChatMessage.id == old)
            .values(created_at=utcnow() - timedelta(days=40))
        )
        host.db.session.commit()
        result = host.app.test_cli_runner().invoke(args=["webchat", "purge", "--older-than", "30d"])
        assert result.exit_code == 0, result.output
        result = host.app.test_cli_runner().invoke(args=["webchat", "post", "from the shell"])
        assert result.exit_code == 0, result.output
        refused = host.app.test_cli_runner().invoke(args=["webchat", "post", " "])
        assert refused.exit_code == 2
    [shell] = [m.id for m in host.stored_messages() if m.content == "from the shell"]
    assert posted.calls == [
        ("notice", kept, "ops", None, True),
        ("by a guest", gone, "lobby", None, True),
        ("old", old, "lobby", None, True),
        ("from the shell", shell, "lobby", None, True),
    ]
    assert deleted.calls == [
        ("by a guest", gone, "lobby", None, False),
        ("old", old, "lobby", None, False),
    ]


def test_a_joined_post_signals_when_the_host_commits_and_never_on_rollback(host: Host) -> None:
    with listening(host) as (posted, _):
        host.webchat.post_message("undone", system=True, commit=False)
        host.db.session.rollback()
        savepoint = host.db.session.begin_nested()
        host.webchat.post_message("undone in a savepoint", system=True, commit=False)
        savepoint.rollback()
        host.webchat.post_message("undone by closing the session", system=True, commit=False)
        host.db.session.close()
        message = host.webchat.post_message("done", system=True, commit=False)
        assert posted.calls == []
        host.db.session.commit()
        assert posted.calls == [("done", message.id, "lobby", None, True)]
        host.db.session.commit()  # a later commit sends nothing again
    assert posted.calls == [("done", message.id, "lobby", None, True)]
    assert [m.content for m in host.stored_messages()] == ["done"]


def test_a_receiver_that_raises_is_logged_and_breaks_nothing(
    host: Host, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(sender: Any, **kwargs: Any) -> None:
        raise RuntimeError("the mail server is down")

    ann = host.browser()
    with (
        listening(host) as (posted, _),
        message_posted.connected_to(broken, sender=host.app),
        caplog.at_level(logging.ERROR, logger="flask_webchat.signals"),
    ):
        response = ann.post("still posted")
    assert response.status_code == 201
    assert [call[0] for call in posted.calls] == ["still posted"]
    assert "the mail server is down" in caplog.text
    assert [m.content for m in host.stored_messages()] == ["still posted"]


def test_a_receiver_may_write_to_the_database_with_the_hosts_session(host: Host) -> None:
    """The audit-log use: after the commit, ``db.session`` is free for the receiver's writes."""

    def audit(sender: Any, *, message: ChatMessage, room: str, identity: Any) -> None:
        host.db.session.add(host.user_model(name=f"audit-{message.id}"))
        host.db.session.commit()

    with host.app.app_context(), message_posted.connected_to(audit, sender=host.app):
        joined = host.webchat.post_message("joined", system=True, commit=False)
        host.db.session.commit()
        direct = host.webchat.post_message("direct", system=True)
        http = host.browser().say("over http")
    with host.app.app_context():
        names = set(host.db.session.scalars(sa.select(host.user_model.name)))
    assert names == {f"audit-{joined.id}", f"audit-{direct.id}", f"audit-{http}"}
