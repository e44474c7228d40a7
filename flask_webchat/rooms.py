"""Rooms and their counters: where every event gets its position.

:func:`take_position` and :func:`next_position` are the whole ordering guarantee. They increment
the room's counter with an ``UPDATE``, which locks the room row until the caller's transaction
ends. A second writer in the same room waits on that lock, so positions commit in the order they
were handed out and a reader can never see position *n + 1* while *n* is still in flight. The
lock is per room and held only for the few statements of a post or a delete.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from .models import ChatRoom

_rooms = ChatRoom.__table__


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
    session.add(ChatRoom(name=name, last_seq=0))
    try:
        session.commit()
    except IntegrityError:
        session.rollback()  # another request created it first: use theirs
    room = find_room(session, name)
    assert room is not None
    return room


def next_position(session: Session, room_id: int) -> tuple[str, int]:
    """Take the room's next position, locking the room's row until the transaction ends.

    Returns the room's name with the position: notifiers announce events by room name.
    """
    taken = _take(session, _rooms.c.id == room_id)
    assert taken is not None
    return taken[2], taken[1]


def take_position(session: Session, room_name: str) -> tuple[int, int]:
    """Take the next position in the room called ``room_name``: its id and the position.

    The room is created (and committed) on its first event. Otherwise this is one statement
    where the database can return what it updated, which matters: it runs under the lock.
    """
    taken = _take(session, _rooms.c.name == room_name)
    if taken is None:
        get_or_create_room(session, room_name)
        taken = _take(session, _rooms.c.name == room_name)
    assert taken is not None
    return taken[0], taken[1]


def _take(session: Session, which: sa.ColumnElement[bool]) -> tuple[int, int, str] | None:
    increment = sa.update(_rooms).where(which).values(last_seq=_rooms.c.last_seq + 1)
    taken = (_rooms.c.id, _rooms.c.last_seq, _rooms.c.name)
    if session.get_bind().dialect.update_returning:
        row = session.execute(increment.returning(*taken)).first()
    elif session.execute(increment).rowcount == 1:
        # The row is ours until commit, and a transaction reads its own writes.
        row = session.execute(sa.select(*taken).where(which)).first()
    else:
        row = None
    return None if row is None else (row[0], row[1], row[2])
