"""Editing a message, and the update events that tell every reader a message changed.

An update is an event like a post or a deletion: a :class:`~flask_webchat.models.ChatUpdate`
row at the room's next position, taken in the transaction that makes the change, so it reaches
every reader in order, exactly once, on every transport; readers then get the message's whole
current state. Replies quote their parent as it is when read (see :mod:`flask_webchat.details`),
so a change to a parent (an edit, a deletion) is also an update of each of its replies.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from . import details, mentions, rooms, signals
from .errors import MessageNotFound
from .identity import Viewer
from .messages import MessageFilter, filter_content, get_message
from .models import ChatMessage, ChatUpdate, utcnow
from .notifiers import Notifier
from .schemas import EditSchema, load

_messages = ChatMessage.__table__


def replies_to(session: Session, room_id: int, message_id: int) -> list[int]:
    """The ids of the room's replies to ``message_id``, oldest first.

    Run it holding the room's lock: a locking read sees every reply committed before it, even
    where a transaction's reads otherwise keep to an older snapshot (MariaDB).
    """
    return list(
        session.scalars(
            sa.select(_messages.c.id)
            .where(_messages.c.room_id == room_id, _messages.c.reply_to_id == message_id)
            .order_by(_messages.c.seq)
            .with_for_update()
        )
    )


def record_updates(session: Session, room_id: int, first: int, message_ids: Sequence[int]) -> None:
    """Add an update event for each message, at positions ``first``, ``first + 1``, …"""
    session.add_all(
        ChatUpdate(room_id=room_id, seq=first + offset, message_id=message_id)
        for offset, message_id in enumerate(message_ids)
    )


def current_state(session: Session, message_id: int) -> ChatMessage:
    """The message as readers see it now (details attached), detached; or ``MessageNotFound``."""
    message = get_message(session, message_id)
    details.attach(session, [message])
    session.expunge(message)
    return message


def edit_message(
    session: Session,
    *,
    message_id: int,
    viewer: Viewer | None,
    body: Any,
    window: float | None,
    filters: Sequence[MessageFilter] = (),
    lookup: mentions.Lookup | None = None,
    notifier: Notifier | None = None,
    sender: Any = None,
    room: str | None = None,
) -> ChatMessage:
    """Replace a message's content, as its author (or whom the edit hook allows) may.

    ``body`` is ``{"content": "…"}``, validated and filtered as a post's content, and its
    mentions resolved again (no :data:`~flask_webchat.signals.user_mentioned` is sent for an
    edit). ``viewer=None`` is the host editing as itself. Sends
    :data:`~flask_webchat.signals.message_edited` after the commit; returns the message as
    edited, detached.
    """
    data = load(EditSchema(), body)
    message = get_message(session, message_id, room=room)
    name = rooms.room_name(session, message.room_id)
    identity = None if viewer is None else viewer.identity
    if viewer is not None:
        viewer.in_room(name).require_edit(message, name, window=window, now=utcnow())
    content = filter_content(data["content"], name, identity, filters)
    mentioned = mentions.stored(mentions.resolve(content, lookup))
    room_id = message.room_id
    rooms.lock(session, room_id)
    replies = replies_to(session, room_id, message_id)
    _, last = rooms.take_positions(session, room_id, 1 + len(replies))
    first = last - len(replies)
    changed = session.execute(
        sa.update(_messages)
        .where(_messages.c.id == message_id)
        .values(content=content, edited_at=utcnow(), mentions=mentioned)
    )
    if changed.rowcount != 1:
        session.rollback()  # deleted meanwhile
        raise MessageNotFound(message_id)
    record_updates(session, room_id, first, [message_id, *replies])
    session.flush()
    session.expire(message)
    edited = current_state(session, message_id)
    change = signals.Change(signals.message_edited, edited, name, identity)
    rooms.commit_event(session, notifier, name, last, changes=(change,), sender=sender, first=first)
    return edited
