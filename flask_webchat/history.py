"""Older messages, a page at a time, newest first: for scrolling back through a room.

Paging walks the room's ``(room_id, seq)`` index from a cursor, never with ``OFFSET``, so the
hundredth page costs what the first does. Reading history moves no reader's cursor.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import sqlalchemy as sa
from sqlalchemy.orm import Session

from .models import ChatMessage, ChatRoom


@dataclass
class HistoryPage:
    """Messages older than a cursor, newest first, and where the next page starts."""

    messages: list[ChatMessage] = field(default_factory=list)
    #: Pass as ``before`` for the next (older) page; ``None`` once the oldest message is shown.
    next: int | None = None


def read_history(
    session: Session, *, room_name: str, before: int | None, limit: int
) -> HistoryPage:
    """Up to ``limit`` messages of the room posted before cursor ``before`` (or the newest)."""
    query = (
        sa.select(ChatMessage)
        .join(ChatRoom, ChatRoom.id == ChatMessage.room_id)
        .where(ChatRoom.name == room_name)
        .order_by(ChatMessage.seq.desc())
        .limit(limit + 1)  # one more, to know whether there is a next page
    )
    if before is not None:
        query = query.where(ChatMessage.seq < before)
    messages = list(session.scalars(query))
    page = HistoryPage(messages=messages[:limit])
    if len(messages) > limit:
        page.next = page.messages[-1].seq
    return page
