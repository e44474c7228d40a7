"""Update events: "this message changed", each at its own position in the room's ordering.

An update is a :class:`~flask_webchat.models.ChatUpdate` row written in the same transaction as
the change (an edit, a reaction, its parent's edit or deletion), at a position taken from the
room's counter like any post or deletion; readers then get the message's whole current state
(see :func:`flask_webchat.batches.read_range`). Replies quote their parent as it is when read, so
a parent's change is also an update of each of its replies: :func:`replies_to` finds them.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence

import sqlalchemy as sa
from sqlalchemy.orm import Session

from .models import ChatMessage, ChatUpdate

_messages = ChatMessage.__table__


def replies_to(session: Session, room_id: int, parents: Collection[int]) -> list[int]:
    """The ids of the room's replies to any of ``parents`` (not among them), oldest first.

    Run it holding the room's lock: a locking read sees every reply committed before it, even
    where a transaction's reads otherwise keep to an older snapshot (MariaDB).
    """
    if not parents:
        return []
    return list(
        session.scalars(
            sa.select(_messages.c.id)
            .where(
                _messages.c.room_id == room_id,
                _messages.c.reply_to_id.in_(list(parents)),
                _messages.c.id.not_in(list(parents)),
            )
            .order_by(_messages.c.seq)
            .with_for_update()
        )
    )


def record(session: Session, room_id: int, first: int, message_ids: Sequence[int]) -> None:
    """Add an update event for each message, at positions ``first``, ``first + 1``, …"""
    session.add_all(
        ChatUpdate(room_id=room_id, seq=first + offset, message_id=message_id)
        for offset, message_id in enumerate(message_ids)
    )
