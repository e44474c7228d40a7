"""Rooms and their counters: where every event gets its position.

:func:`take_position` and :func:`next_position` are the whole ordering guarantee. They increment
the room's counter with an ``UPDATE``, which locks the room row until the caller's transaction
ends. A second writer in the same room waits on that lock, so positions commit in the order they
were handed out and a reader can never see position *n + 1* while *n* is still in flight. The
lock is per room and held only for the few statements of a post or a delete. The same statement
keeps the room's message count and last activity, so listing rooms reads one row per room.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from .config import ROOM_NAME
from .errors import NotFound
from .models import ChatRoom, utcnow

_rooms = ChatRoom.__table__


class UnknownRoom(NotFound):
    """The room named does not exist and may not be created, or its name is not valid."""

    code = "unknown_room"

    def __init__(self, name: str) -> None:
        if ROOM_NAME.fullmatch(name):
            super().__init__(f"There is no room {name!r}.")
        else:
            super().__init__(
                "A room name is 1 to 64 lowercase letters, digits, '-' or '_',"
                " starting with a letter or digit."
            )


@dataclass(frozen=True)
class RoomSummary:
    """A room as ``GET /rooms`` lists it."""

    name: str
    message_count: int
    last_event_at: datetime | None
    cursor: int


def require_room(name: str, allowed: tuple[str, ...] | Callable[[str], bool] | None) -> str:
    """``name`` if it may be a room (``WEBCHAT_ROOMS``), else :class:`UnknownRoom`."""
    if not ROOM_NAME.fullmatch(name):
        raise UnknownRoom(name)
    if allowed is None:
        return name
    if callable(allowed) and allowed(name):
        return name
    if not callable(allowed) and name in allowed:
        return name
    raise UnknownRoom(name)


def find_room(session: Session, name: str) -> ChatRoom | None:
    """The room called ``name``, or ``None``."""
    return session.scalar(sa.select(ChatRoom).where(ChatRoom.name == name))


def get_or_create_room(session: Session, name: str) -> ChatRoom:
    """The room called ``name``, created (and committed) if it does not exist yet.

    Call it before anything else in a transaction: creating the room commits, and losing a race
    against another request creating it rolls back.
    """
    room = find_room(session, name)
    if room is not None:
        return room
    session.add(ChatRoom(name=name, last_seq=0, message_count=0))
    try:
        session.commit()
    except IntegrityError:
        session.rollback()  # another request created it first: use theirs
    room = find_room(session, name)
    assert room is not None
    return room


def list_rooms(
    session: Session, names: list[str] | None = None, *, default: str | None = None
) -> list[RoomSummary]:
    """Every room (or those named), by name; the ``default`` room and the named ones show
    as empty until they are created."""
    query = sa.select(
        _rooms.c.name, _rooms.c.message_count, _rooms.c.last_event_at, _rooms.c.last_seq
    ).order_by(_rooms.c.name)
    if names is not None:
        query = query.where(_rooms.c.name.in_(names))
    found = {row.name: RoomSummary(*row) for row in session.execute(query)}
    shown_anyway = names if names is not None else [default] if default else []
    for name in shown_anyway:
        found.setdefault(name, RoomSummary(name, 0, None, 0))
    return sorted(found.values(), key=lambda room: room.name)


def room_name(session: Session, room_id: int) -> str:
    """The name of the room with this id."""
    return session.execute(sa.select(_rooms.c.name).where(_rooms.c.id == room_id)).scalar_one()


def next_position(session: Session, room_id: int, *, removed: int = 0) -> int:
    """Take the room's next position, locking the room's row until the transaction ends.

    ``removed`` messages are taken off the room's count (a delete).
    """
    taken = _take(session, _rooms.c.id == room_id, count=-removed)
    assert taken is not None
    return taken[1]


def take_positions(session: Session, room_id: int, count: int, *, removed: int) -> int:
    """Take ``count`` consecutive positions at once (a purge); returns the last of them."""
    taken = _take(session, _rooms.c.id == room_id, step=count, count=-removed)
    assert taken is not None
    return taken[1]


def take_position(session: Session, room_name: str) -> tuple[int, int]:
    """Take the next position in the room called ``room_name`` for a new message.

    The room is created (and committed) on its first event. Otherwise this is one statement
    where the database can return what it updated, which matters: it runs under the lock.
    Returns the room's id and the position.
    """
    taken = _take(session, _rooms.c.name == room_name, count=1)
    if taken is None:
        get_or_create_room(session, room_name)
        taken = _take(session, _rooms.c.name == room_name, count=1)
    assert taken is not None
    return taken


def _take(
    session: Session, which: sa.ColumnElement[bool], *, step: int = 1, count: int
) -> tuple[int, int] | None:
    increment = (
        sa.update(_rooms)
        .where(which)
        .values(
            last_seq=_rooms.c.last_seq + step,
            message_count=_rooms.c.message_count + count,
            last_event_at=utcnow(),
        )
    )
    taken = (_rooms.c.id, _rooms.c.last_seq)
    if session.get_bind().dialect.update_returning:
        row = session.execute(increment.returning(*taken)).first()
    elif session.execute(increment).rowcount == 1:
        # The row is ours until commit, and a transaction reads its own writes.
        row = session.execute(sa.select(*taken).where(which)).first()
    else:
        row = None
    return None if row is None else (row[0], row[1])
