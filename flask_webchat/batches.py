"""Batches: every event in a range of a room's positions, read in one go.

A batch holds the messages posted in the range that still exist, the ids of the messages
deleted there, and the messages changed there (edited, reacted to, their parent changed), each
in its whole current state. Batches never overlap and never leave a gap, so a reader that always
continues from the last batch's cursor sees every event exactly once, whichever transport carries
them. A batch never changes once read, so readers woken together can share one (see
:mod:`.sharing`).
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from . import details
from .models import ChatDeletion, ChatMessage, ChatUpdate


@dataclass(frozen=True)
class Deletion:
    """The event "message *message_id* was deleted", at room position ``cursor``."""

    cursor: int
    message_id: int


@dataclass(frozen=True)
class Update:
    """The event "this message changed", at room position ``cursor``: its state as read.

    The state is read with the batch, so it may already include later changes; those have
    events of their own further on, so a reader that applies every batch in order ends at the
    server's state.
    """

    cursor: int
    message: ChatMessage


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
    #: The changed messages, at most once each (at the last of their positions in the batch).
    updates: tuple[Update, ...] = ()
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
    def updated(self) -> list[ChatMessage]:
        """The messages changed in this batch, in their current state."""
        return [update.message for update in self.updates]

    @property
    def empty(self) -> bool:
        """Whether the batch holds no event (its cursor may still have moved past gaps)."""
        return not (self.messages or self.deletions or self.updates)

    def events(self) -> list[tuple[int, ChatMessage | Deletion | Update]]:
        """Every event with its position, in room order."""
        return list(
            heapq.merge(
                ((m.seq, m) for m in self.messages),
                ((d.cursor, d) for d in self.deletions),
                ((u.cursor, u) for u in self.updates),
                key=lambda event: event[0],
            )
        )


def _in_range(table: type[ChatMessage | ChatDeletion | ChatUpdate], *columns: Any) -> Any:
    """Events of ``table`` in positions ``(after, head]`` of a room, at most ``limit``.

    Built once: building a statement costs about as much as running it on a warm connection.
    """
    return (
        sa.select(*columns)
        .where(
            table.room_id == sa.bindparam("room"),
            table.seq > sa.bindparam("after"),
            table.seq <= sa.bindparam("head"),
        )
        .order_by(table.seq)
        .limit(sa.bindparam("limit", type_=sa.Integer))
    )


_MESSAGES_IN_RANGE = _in_range(ChatMessage, ChatMessage)
_DELETIONS_IN_RANGE = _in_range(ChatDeletion, ChatDeletion.seq, ChatDeletion.message_id)
_UPDATES_IN_RANGE = _in_range(ChatUpdate, ChatUpdate.seq, ChatUpdate.message_id)


def read_range(session: Session, room_id: int, after: int, head: int, limit: int) -> Batch:
    """Events in positions ``(after, head]``, at most ``limit`` of them.

    ``head`` was read from the room counter first. Every position up to it has committed (see
    :mod:`flask_webchat.rooms`), and bounding both queries by it keeps them consistent with each
    other even though each sees the database at its own moment.
    """
    if head <= after:
        return Batch.at(after)
    window = {"room": room_id, "after": after, "head": head, "limit": limit}
    messages = session.scalars(_MESSAGES_IN_RANGE, window).all()
    deletions = session.execute(_DELETIONS_IN_RANGE, window).all()
    changes = session.execute(_UPDATES_IN_RANGE, window).all()
    # Each change's event counts towards the limit, whether or not its message still exists.
    found: list[tuple[int, object]] = sorted(
        [(m.seq, m) for m in messages]
        + [(d.seq, Deletion(d.seq, d.message_id)) for d in deletions]
        + [(seq, ("update", message_id)) for seq, message_id in changes],
        key=lambda event: event[0],
    )
    cursor = head
    if len(found) >= limit:
        # A list may have been cut short at the limit: stop at the last event surely complete.
        found = found[:limit]
        cursor = found[-1][0]
    kept_messages = [e for _, e in found if isinstance(e, ChatMessage)]
    # The last position of each changed message in the batch, and its state now: a message
    # deleted since is left out (its deletion is an event of its own, in this batch or later).
    last_change = {e[1]: seq for seq, e in found if isinstance(e, tuple)}
    current = {}
    if last_change:
        current = {
            m.id: m
            for m in session.scalars(
                sa.select(ChatMessage).where(ChatMessage.id.in_(list(last_change)))
            )
        }
    updates = sorted(
        (Update(seq, current[mid]) for mid, seq in last_change.items() if mid in current),
        key=lambda update: update.cursor,
    )
    posted = {m.id for m in kept_messages}
    shown = kept_messages + [u.message for u in updates if u.message.id not in posted]
    details.attach(session, shown)
    for message in shown:
        session.expunge(message)  # keep loaded values past the claim's commit
    return Batch(
        start=after,
        cursor=cursor,
        head=head,
        messages=tuple(kept_messages),
        deletions=tuple(e for _, e in found if isinstance(e, Deletion)),
        updates=tuple(updates),
        more=cursor < head,
    )
