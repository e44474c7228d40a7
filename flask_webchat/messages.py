"""Posting, fetching and deleting messages, with every rule that applies to them.

Posting and deleting are one transaction each, which takes a room position (see
:mod:`flask_webchat.rooms`), so both reach every reader in order, exactly once. The checks
(who may post where, who may delete what) are the :class:`~flask_webchat.identity.Viewer`'s,
and run here, whoever calls: a route, the CLI or host code.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from . import rooms
from .errors import MessageNotFound
from .identity import Viewer
from .models import USERNAME_MAX_LENGTH, ChatDeletion, ChatMessage
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
    body: Mapping[str, Any],
    allow_anonymous: bool,
    notifier: Notifier | None = None,
) -> ChatMessage:
    """Store the message ``body`` describes (see :class:`~flask_webchat.schemas.NewMessageSchema`).

    The author is the host's identity when there is one (the body cannot override it), else the
    name typed in the body, remembered with the browser's reader key, which is made only once
    the post is allowed and valid.
    """
    viewer.require_post(room, allow_anonymous=allow_anonymous)
    data = load(NewMessageSchema(anonymous=viewer.identity is None), body)
    author = viewer.as_author()
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
    # Detached, it keeps its loaded values: committing would expire them and cost a re-select.
    session.expunge(message)
    rooms.commit_event(session, notifier, room, position)
    return message


def get_message(session: Session, message_id: int, *, room: str | None = None) -> ChatMessage:
    """The message with this id; :class:`~flask_webchat.errors.MessageNotFound` if none.

    With ``room``, a message of another room is not found either: a room's URL holds only that
    room's messages.
    """
    message = session.get(ChatMessage, message_id) if message_id <= _LARGEST_ID else None
    if message is None or (room is not None and rooms.room_name(session, message.room_id) != room):
        raise MessageNotFound(message_id)
    return message


def delete_message(
    session: Session,
    *,
    message_id: int,
    viewer: Viewer,
    notifier: Notifier | None = None,
    room: str | None = None,
) -> None:
    """Delete a message the viewer may delete, and record the deletion for every reader.

    With ``room``, only a message of that room (see :func:`get_message`).
    """
    message = get_message(session, message_id, room=room)
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
