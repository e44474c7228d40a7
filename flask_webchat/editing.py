"""Editing a message: one transaction that changes it and records its update events.

The edit, and the update events of the message and of every reply quoting it (see
:mod:`flask_webchat.updates`), take their positions under the room's lock, so every reader gets
the new state in order, exactly once, on every transport.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from . import details, mentions, rooms, signals, updates
from .errors import MessageNotFound
from .identity import Viewer
from .messages import WriteContext, filter_content, get_message
from .models import ChatMessage, utcnow
from .schemas import EditSchema, load
from .transactions import rows_changed

_messages = ChatMessage.__table__


def current_state(session: Session, message_id: int) -> ChatMessage:
    """The message as readers see it now (details attached), detached; or ``MessageNotFound``."""
    message = get_message(session, message_id)
    details.attach(session, [message])
    session.expunge(message)
    return message


def edit_message(
    context: WriteContext,
    *,
    message_id: int,
    viewer: Viewer | None,
    body: Any,
    room: str | None = None,
) -> ChatMessage:
    """Replace a message's content, as its author (or whom the edit hook allows) may.

    ``body`` is ``{"content": "…"}``, validated and filtered as a post's content, and its
    mentions resolved again (no :data:`~flask_webchat.signals.user_mentioned` is sent for an
    edit). ``viewer=None`` is the host editing as itself; authors may edit within
    ``WEBCHAT_EDIT_WINDOW``. Sends :data:`~flask_webchat.signals.message_edited` after the
    commit; returns the message as edited, detached.
    """
    session, window = context.session, context.settings.edit_window
    data = load(EditSchema(), body)
    message = get_message(session, message_id, room=room)
    name = rooms.room_name(session, message.room_id)
    identity = None if viewer is None else viewer.identity
    if viewer is not None:
        viewer.in_room(name).require_edit(message, name, window=window, now=utcnow())
    content = filter_content(data["content"], name, identity, context.filters)
    mentioned = mentions.stored(mentions.resolve(content, context.lookup))
    room_id = message.room_id
    rooms.lock(session, room_id)
    replies = updates.replies_to(session, room_id, [message_id])
    _, last = rooms.take_positions(session, room_id, 1 + len(replies))
    first = last - len(replies)
    changed = session.execute(
        sa.update(_messages)
        .where(_messages.c.id == message_id)
        .values(content=content, edited_at=utcnow(), mentions=mentioned)
    )
    if rows_changed(changed) != 1:
        session.rollback()  # deleted meanwhile
        raise MessageNotFound(message_id)
    updates.record(session, room_id, first, [message_id, *replies])
    session.flush()
    session.expire(message)
    edited = current_state(session, message_id)
    change = signals.Change(signals.message_edited, edited, name, identity)
    context.commit(name, last, (change,), first=first)
    return edited
