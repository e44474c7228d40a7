"""Read positions and unread counts: how far each reader has read each room, and what is left.

A signed-in reader's position belongs to their identity, so it follows them from one device to
the next; an anonymous reader's belongs to their browser session (its reader key). A reader the
chat knows nothing about (no identity, no reader key) has read nothing, and counting for them
stores nothing.

A count is *exact* and *capped*: the messages after the reader's position that they did not
write, up to ``limit``. It is one index range on ``(room_id, seq)``, stopped by ``LIMIT`` after
``limit + 1`` rows, so it costs the same however long the history and however far behind the
reader is. Deleted messages are gone from the table, so they never count. Each count is read in
the same statement as the room's head, from one snapshot: the pair describes one moment of the
room, whatever posts and deletes run meanwhile.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from . import rooms
from .errors import ValidationFailed
from .i18n import N_
from .identity import Viewer
from .models import ChatMessage, ChatReadPosition, ChatRoom, utcnow
from .transactions import reading, rows_changed

if TYPE_CHECKING:
    from .config import Settings

__all__ = ["Unread", "listed_rooms", "mark_read", "reader_of", "unread_counts"]

_messages = ChatMessage.__table__
_positions = ChatReadPosition.__table__
_rooms = ChatRoom.__table__
# Rooms counted per statement: one UNION ALL of this many capped counts.
_ROOMS_PER_STATEMENT = 50


@dataclass(frozen=True)
class Unread:
    """A reader's unread count in one room, and the positions it was counted between."""

    room: str
    #: Messages after ``position`` that the reader did not write, at most the limit.
    count: int
    #: Whether there are more than ``count``: the count stopped at the limit.
    capped: bool
    #: The reader's read position: every message at or below it is read.
    position: int
    #: The room's newest position when the count was taken.
    head: int

    @property
    def label(self) -> str:
        """The count as a badge shows it: ``"3"``, or ``"100+"`` once capped."""
        return f"{self.count}+" if self.capped else str(self.count)


def reader_of(viewer: Viewer) -> str | None:
    """Whose read positions ``viewer`` reads and moves: the identity's, else the session's."""
    if viewer.identity is not None:
        return f"user:{viewer.identity.id}"
    if viewer.reader_key is not None:
        return f"session:{viewer.reader_key}"
    return None


def mark_read(session: Session, viewer: Viewer, room: str, cursor: int, *, limit: int) -> Unread:
    """Move ``viewer``'s read position in ``room`` forward to ``cursor``; never back.

    ``viewer`` must have a reader key unless signed in (see
    :meth:`~flask_webchat.identity.Viewer.remembered`). A cursor past the room's head raises
    :class:`~flask_webchat.errors.ValidationFailed`: nobody can have read what is not there yet.
    An older cursor than the stored one changes nothing. Returns the count from the new position.
    """
    reader = reader_of(viewer)
    if reader is None:
        raise ValueError("An anonymous viewer needs a reader key to keep a read position.")
    found = rooms.locate(session, room)
    head = 0 if found is None else found[1]
    if cursor > head:
        raise ValidationFailed({"cursor": [N_("This cursor is ahead of the room.")]})
    if found is None or cursor == 0:
        # Nothing to remember: position 0 is where every reader starts.
        return _counts(session, viewer, [room], limit=limit)[room]
    _move_forward(session, reader, found[0], cursor)
    return _counts(session, viewer, [room], limit=limit)[room]


def _move_forward(session: Session, reader: str, room_id: int, cursor: int) -> None:
    """Compare-and-set: two racing marks of one reader leave the greater position."""
    mine = (_positions.c.reader == reader) & (_positions.c.room_id == room_id)
    forward = sa.update(_positions).where(mine, _positions.c.position < cursor)
    for _ in range(2):
        if rows_changed(session.execute(forward.values(position=cursor, updated_at=utcnow()))):
            break
        if session.scalar(sa.select(_positions.c.position).where(mine)) is not None:
            break  # already there or further: a position never moves back
        try:
            session.execute(
                sa.insert(_positions).values(
                    reader=reader, room_id=room_id, position=cursor, updated_at=utcnow()
                )
            )
            break
        except IntegrityError:
            session.rollback()  # the same reader's other tab stored it first: move theirs
    session.commit()


def unread_counts(
    session: Session, viewer: Viewer, names: Iterable[str], *, limit: int
) -> dict[str, Unread]:
    """``viewer``'s unread count in each room of ``names``, by name; nothing is written.

    A room that does not exist yet counts 0. The caller checks that the viewer may read them.
    """
    return _counts(session, viewer, list(dict.fromkeys(names)), limit=limit)


def _counts(
    session: Session, viewer: Viewer, names: Sequence[str], *, limit: int
) -> dict[str, Unread]:
    result = {name: Unread(name, 0, False, 0, 0) for name in names}
    if not names:
        return result
    reader = reader_of(viewer)
    # Each room's head and the reader's position in it, in one statement.
    position = sa.literal(0) if reader is None else sa.func.coalesce(_positions.c.position, 0)
    query = sa.select(_rooms.c.id, _rooms.c.name, _rooms.c.last_seq, position)
    if reader is not None:
        query = query.select_from(
            _rooms.outerjoin(
                _positions,
                (_positions.c.room_id == _rooms.c.id) & (_positions.c.reader == reader),
            )
        )
    with reading(session) as db:
        rows = db.execute(query.where(_rooms.c.name.in_(names))).all()
        found = {row[0]: (row[1], row[2]) for row in rows}
        positions = {row[0]: row[3] for row in rows}
        for room_id, (name, head) in found.items():
            result[name] = Unread(name, 0, False, positions.get(room_id, 0), head)
        # A room read to its head has nothing to count (its head may have moved since: the
        # counts below take it again, with the count).
        behind = [
            room_id for room_id, (_, head) in found.items() if head > positions.get(room_id, 0)
        ]
        for start in range(0, len(behind), _ROOMS_PER_STATEMENT):
            chunk = behind[start : start + _ROOMS_PER_STATEMENT]
            parts = [
                _count_one(room_id, positions.get(room_id, 0), viewer, limit) for room_id in chunk
            ]
            statement: Any = parts[0] if len(parts) == 1 else sa.union_all(*parts)
            for room_id, head, counted in db.execute(statement):
                name = found[room_id][0]
                result[name] = Unread(
                    name, min(counted, limit), counted > limit, positions.get(room_id, 0), head
                )
    return result


def listed_rooms(session: Session, settings: Settings) -> list[str]:
    """Every room ``GET /rooms`` lists, through all its pages, by name."""
    names: list[str] = []
    after: str | None = None
    while True:
        page, after = rooms.list_rooms(session, settings, after=after, limit=500)
        names.extend(room.name for room in page)
        if after is None:
            return names


def _count_one(room_id: int, position: int, viewer: Viewer, limit: int) -> Any:
    """``room id, head, count`` of one room, the count stopping after ``limit + 1`` rows."""
    after = (
        sa.select(_messages.c.seq)
        .where(_messages.c.room_id == room_id, _messages.c.seq > position, *_not_own(viewer))
        .order_by(_messages.c.seq)
        .limit(limit + 1)
        .subquery()
    )
    counted = sa.select(sa.func.count()).select_from(after).scalar_subquery()
    return sa.select(_rooms.c.id, _rooms.c.last_seq, counted).where(_rooms.c.id == room_id)


def _not_own(viewer: Viewer) -> list[Any]:
    """The condition that leaves out the viewer's own messages (as ``Viewer.is_author`` says,
    except that a signed-in reader is known by identity alone, on every device)."""
    m = _messages.c
    if viewer.identity is not None:
        return [sa.or_(m.author_id.is_(None), m.author_id != viewer.identity.id)]
    if viewer.reader_key is not None:
        return [
            sa.or_(
                m.author_id.is_not(None),
                m.author_session.is_(None),
                m.author_session != viewer.reader_key,
            )
        ]
    return []
