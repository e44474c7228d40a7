"""Removing old messages in bulk, as deletions every reader still receives.

A purge deletes in batches, each one transaction that holds its room's lock: it takes one room
position per removed message and records each removal as a deletion, exactly as a reader's
delete would. So a reader whose window still shows a purged message sees it go, and a reader who
never had it is told about an id it can ignore.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa

from . import rooms, signals, updates
from .messages import WriteContext
from .models import ChatDeletion, ChatMessage, ChatReaction, ChatRoom

_messages = ChatMessage.__table__
_reactions = ChatReaction.__table__
# Short transactions: writers to the room wait for the lock while a batch runs.
BATCH = 500


def purge_messages(
    context: WriteContext,
    *,
    older_than: datetime,
    room_name: str | None = None,
    dry_run: bool = False,
) -> dict[str, int]:
    """Remove the messages posted before ``older_than``; how many, by room name.

    With ``dry_run``, only count them. With the context's sender, each removal sends
    :data:`~flask_webchat.signals.message_deleted` (with no identity) after its batch commits.
    """
    session = context.session
    query = sa.select(ChatRoom.id, ChatRoom.name).order_by(ChatRoom.name)
    if room_name is not None:
        query = query.where(ChatRoom.name == room_name)
    removed: dict[str, int] = {}
    for room_id, name in session.execute(query).all():
        session.rollback()  # each room's batches are transactions of their own
        if dry_run:
            removed[name] = (
                session.scalar(
                    sa.select(sa.func.count())
                    .select_from(_messages)
                    .where(_messages.c.room_id == room_id, _messages.c.created_at < older_than)
                )
                or 0
            )
        else:
            removed[name] = _purge_room(context, room_id, name, older_than)
    return removed


def _purge_room(context: WriteContext, room_id: int, name: str, older_than: datetime) -> int:
    session, total = context.session, 0
    while True:
        # Lock the room first: then no delete can remove a message this batch is about to.
        rooms.lock(session, room_id)
        # Whole rows, not ids: the signal's receivers get each message as it was.
        found = session.scalars(
            sa.select(ChatMessage)
            .where(ChatMessage.room_id == room_id, ChatMessage.created_at < older_than)
            .order_by(ChatMessage.seq)
            .limit(BATCH)
        ).all()
        ids = [message.id for message in found]
        if not ids:
            session.rollback()
            return total
        # Replies that stay quote what goes: each gets an update, after the deletions.
        replies = updates.replies_to(session, room_id, ids)
        count = len(ids) + len(replies)
        _, last = rooms.take_positions(session, room_id, count, removed=len(ids))
        first = last - count + 1
        session.execute(sa.delete(_messages).where(_messages.c.id.in_(ids)))
        session.execute(sa.delete(_reactions).where(_reactions.c.message_id.in_(ids)))
        updates.record(session, room_id, first + len(ids), replies)
        session.add_all(
            ChatDeletion(room_id=room_id, seq=position, message_id=message_id)
            for position, message_id in zip(range(first, first + len(ids)), ids, strict=True)
        )
        for message in found:
            session.expunge(message)
        changes = [signals.Change(signals.message_deleted, message, name) for message in found]
        context.commit(name, last, changes, first=first)
        total += len(ids)
