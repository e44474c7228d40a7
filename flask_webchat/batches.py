"""Batches: every event in a range of a room's positions, read in one go.

A batch holds the messages posted in the range that still exist and the ids of the messages
deleted there. Batches never overlap and never leave a gap, so a reader that always continues from
the last batch's cursor sees every event exactly once, whichever transport carries them. A batch
never changes once read, so readers woken together can share one (see :mod:`.sharing`).
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.orm import Session

from .models import ChatDeletion, ChatMessage


@dataclass(frozen=True)
class Deletion:
    """The event "message *message_id* was deleted", at room position ``cursor``."""

    cursor: int
    message_id: int


@dataclass(frozen=True)
class Batch:
    """The events of one read, oldest first, and the cursor to continue from."""

    #: The cursor this batch continues from (its events are all past it).
    start: int
    #: Where the next read continues.
    cursor: int
    #: The room head the read was bounded by: every position up to it was considered.
    head: int
    messages: tuple[ChatMessage, ...] = ()
    deletions: tuple[Deletion, ...] = ()
    #: True when the read stopped at its limit and more events are already waiting.
    more: bool = False
    #: The stream that was read; ``None`` for a read from a bare cursor.
    stream: str | None = None

    @classmethod
    def at(cls, cursor: int, *, stream: str | None = None) -> Batch:
        """A batch with no event that leaves the reader at ``cursor``."""
        return cls(start=cursor, cursor=cursor, head=cursor, stream=stream)

    @property
    def deleted(self) -> list[int]:
        """The ids of the messages deleted in this batch."""
        return [deletion.message_id for deletion in self.deletions]

    @property
    def empty(self) -> bool:
        """Whether the batch holds no event (its cursor may still have moved past gaps)."""
        return not (self.messages or self.deletions)

    def events(self) -> list[tuple[int, ChatMessage | Deletion]]:
        """Every event with its position, in room order."""
        return list(
            heapq.merge(
                ((m.seq, m) for m in self.messages),
                ((d.cursor, d) for d in self.deletions),
                key=lambda event: event[0],
            )
        )


def read_range(session: Session, room_id: int, after: int, head: int, limit: int) -> Batch:
    """Events in positions ``(after, head]``, at most ``limit`` of them.

    ``head`` was read from the room counter first. Every position up to it has committed (see
    :mod:`flask_webchat.rooms`), and bounding both queries by it keeps them consistent with each
    other even though each sees the database at its own moment.
    """
    if head <= after:
        return Batch.at(after)
    messages = session.scalars(
        sa.select(ChatMessage)
        .where(ChatMessage.room_id == room_id, ChatMessage.seq > after, ChatMessage.seq <= head)
        .order_by(ChatMessage.seq)
        .limit(limit)
    ).all()
    deletions = session.execute(
        sa.select(ChatDeletion.seq, ChatDeletion.message_id)
        .where(ChatDeletion.room_id == room_id, ChatDeletion.seq > after, ChatDeletion.seq <= head)
        .order_by(ChatDeletion.seq)
        .limit(limit)
    ).all()
    for message in messages:
        session.expunge(message)  # keep loaded values past the claim's commit
    found = Batch(
        start=after,
        cursor=head,
        head=head,
        messages=tuple(messages),
        deletions=tuple(Deletion(d.seq, d.message_id) for d in deletions),
    )
    if len(messages) + len(deletions) < limit:
        return found  # neither list was cut short: the batch covers the whole range, gaps included
    kept = found.events()[:limit]
    cursor = kept[-1][0]
    return Batch(
        start=after,
        cursor=cursor,
        head=head,
        messages=tuple(event for _, event in kept if isinstance(event, ChatMessage)),
        deletions=tuple(event for _, event in kept if isinstance(event, Deletion)),
        more=cursor < head,
    )
