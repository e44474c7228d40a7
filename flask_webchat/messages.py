"""Posting, fetching and deleting messages.

Each function is one transaction. Posting and deleting take a room position (see
:mod:`flask_webchat.rooms`), so both reach every reader in order, exactly once.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from .errors import Forbidden, NotFound
from .identity import Viewer
from .models import USERNAME_MAX_LENGTH, ChatDeletion, ChatMessage
from .notifiers import Notifier
from .rooms import next_position, room_name, take_position

_messages = ChatMessage.__table__
# Ids are signed 64-bit; a larger one cannot exist, and the database would fail to convert it.
_LARGEST_ID = 2**63 - 1


def require_poster(viewer: Viewer, *, allow_anonymous: bool) -> None:
    """Refuse to let an anonymous reader post when the host asked for identified authors."""
    if viewer.identity is None and not allow_anonymous:
        raise Forbidden("Sign in to post messages.", code="identity_required")


def post_message(
    session: Session,
    *,
    room_name: str,
    viewer: Viewer,
    data: dict[str, Any],
    notifier: Notifier | None = None,
) -> ChatMessage:
    """Store a message validated by :class:`~flask_webchat.schemas.NewMessageSchema`.

    The author is the host's identity when there is one (the body cannot override it), else the
    name typed in the body, remembered with the browser session's reader key.
    """
    if viewer.identity is not None:
        username = viewer.identity.name[:USERNAME_MAX_LENGTH]
        author_id, author_session = viewer.identity.id, None
    else:
        username, author_id, author_session = data["username"], None, viewer.reader_key
    room_id, position = take_position(session, room_name)
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
    _commit(session, notifier, room_name, position)
    return message


def get_message(session: Session, message_id: int) -> ChatMessage:
    """The message with this id; :class:`~flask_webchat.errors.NotFound` if there is none."""
    message = session.get(ChatMessage, message_id) if message_id <= _LARGEST_ID else None
    if message is None:
        raise NotFound(f"There is no message {message_id}.")
    return message


def delete_message(
    session: Session, *, message_id: int, viewer: Viewer, notifier: Notifier | None = None
) -> None:
    """Delete a message the viewer may delete, and record the deletion for every reader."""
    message = get_message(session, message_id)
    room = room_name(session, message.room_id)
    if not viewer.may_read(room):  # a site-wide delete hook stops at rooms the viewer cannot see
        raise Forbidden("You may not read this room.")
    if not viewer.in_room(room).may_delete(message):
        raise Forbidden("You may only delete your own messages.")
    position = next_position(session, message.room_id, removed=1)
    # Holding the room lock, only one of two racing deletes still finds the row.
    gone = session.execute(sa.delete(_messages).where(_messages.c.id == message_id))
    if gone.rowcount != 1:
        session.rollback()
        raise NotFound(f"There is no message {message_id}.")
    session.add(ChatDeletion(room_id=message.room_id, seq=position, message_id=message_id))
    _commit(session, notifier, room, position)


def _commit(session: Session, notifier: Notifier | None, room_name: str, position: int) -> None:
    # Readers waiting on the room are woken once the event is visible to them, never before.
    if notifier is not None:
        notifier.before_commit(session, room_name, position)
    session.commit()
    if notifier is not None:
        notifier.after_commit(room_name, position)
