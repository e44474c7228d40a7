"""Posting, fetching and deleting messages, with every rule that applies to them.

Posting and deleting are one transaction each, which takes a room position (see
:mod:`flask_webchat.rooms`), so both reach every reader in order, exactly once. The checks
(who may post where, who may delete what) are the :class:`~flask_webchat.identity.Viewer`'s,
and run here, whoever calls: a route, the CLI or host code.
"""

from __future__ import annotations

import hashlib
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from . import rooms
from .errors import AlreadyDeleted, MessageNotFound
from .identity import Viewer
from .models import USERNAME_MAX_LENGTH, ChatDeletion, ChatMessage, ChatPostKey, utcnow
from .notifiers import Notifier
from .schemas import NewMessageSchema, load

_messages = ChatMessage.__table__
# Ids are signed 64-bit; a larger one cannot exist, and the database would fail to convert it.
_LARGEST_ID = 2**63 - 1


def post_message(
    session: Session,
    *,
    room: str,
    viewer: Viewer,
    body: Any,
    allow_anonymous: bool,
    notifier: Notifier | None = None,
    idempotency_key: str | None = None,
    key_ttl: float = 24 * 60 * 60,
) -> ChatMessage:
    """Store the message ``body`` describes (see :class:`~flask_webchat.schemas.NewMessageSchema`).

    The author is the host's identity when there is one (the body cannot override it), else the
    name typed in the body, remembered with the browser's reader key, which is made only once
    the post is allowed and valid.

    With an ``idempotency_key``, a repeat by the same author within ``key_ttl`` seconds returns
    the message the first post stored, and stores nothing; so does a repeat racing the first.
    """
    viewer.require_post(room, allow_anonymous=allow_anonymous)
    data = load(NewMessageSchema(anonymous=viewer.identity is None), body)
    author = viewer.as_author()
    scope = None if idempotency_key is None else _key_scope(author, idempotency_key)
    if scope is not None:
        posted = _posted_with(session, scope, key_ttl)
        if posted is not None:
            return posted
    if author.identity is not None:
        username = author.identity.name[:USERNAME_MAX_LENGTH]
        author_id, author_session = author.identity.id, None
    else:
        username, author_id, author_session = data["username"], None, author.reader_key
    room_id, position = rooms.take_positions(session, room, added=1)
    message = ChatMessage(
        room_id=room_id,
        seq=position,
        username=username,
        content=data["content"],
        author_id=author_id,
        author_session=author_session,
    )
    session.add(message)
    session.flush()
    if scope is not None:
        session.add(ChatPostKey(scope=scope, message_id=message.id))
        try:
            session.flush()
        except IntegrityError:
            # The same post, sent twice at once: the other one stored it.
            session.rollback()
            posted = _posted_with(session, scope, key_ttl)
            if posted is None:
                raise
            return posted
    # Detached, it keeps its loaded values: committing would expire them and cost a re-select.
    session.expunge(message)
    rooms.commit_event(session, notifier, room, position)
    return message


def _key_scope(author: Viewer, key: str) -> str:
    """The key as this author's: the same key from someone else is another post."""
    who = f"user:{author.identity.id}" if author.identity else f"reader:{author.reader_key}"
    return hashlib.sha256(f"{who}\n{key}".encode()).hexdigest()


def _posted_with(session: Session, scope: str, ttl: float) -> ChatMessage | None:
    """The message a live key stored; expired keys are forgotten on the way."""
    session.execute(
        sa.delete(ChatPostKey).where(ChatPostKey.created_at < utcnow() - timedelta(seconds=ttl))
    )
    message_id = session.scalar(sa.select(ChatPostKey.message_id).where(ChatPostKey.scope == scope))
    session.commit()
    if message_id is None:
        return None
    message = session.get(ChatMessage, message_id)
    if message is None:
        raise AlreadyDeleted()
    session.expunge(message)
    return message


def get_message(session: Session, message_id: int) -> ChatMessage:
    """The message with this id; :class:`~flask_webchat.errors.MessageNotFound` if none."""
    message = session.get(ChatMessage, message_id) if message_id <= _LARGEST_ID else None
    if message is None:
        raise MessageNotFound(message_id)
    return message


def read_message(session: Session, message_id: int, viewer: Viewer) -> tuple[ChatMessage, str]:
    """The message and its room's name, if ``viewer`` may see it; else ``MessageNotFound``."""
    message = get_message(session, message_id)
    room = rooms.room_name(session, message.room_id)
    viewer.require_visible(message, room)
    return message, room


def delete_message(
    session: Session, *, message_id: int, viewer: Viewer, notifier: Notifier | None = None
) -> None:
    """Delete a message the viewer may delete, and record the deletion for every reader."""
    message = get_message(session, message_id)
    room = rooms.room_name(session, message.room_id)
    viewer.in_room(room).require_delete(message, room)
    _, position = rooms.take_positions(session, message.room_id, removed=1)
    # Holding the room lock, only one of two racing deletes still finds the row.
    gone = session.execute(sa.delete(_messages).where(_messages.c.id == message_id))
    if gone.rowcount != 1:
        session.rollback()
        raise MessageNotFound(message_id)
    session.add(ChatDeletion(room_id=message.room_id, seq=position, message_id=message_id))
    rooms.commit_event(session, notifier, room, position)
