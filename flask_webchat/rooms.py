"""Rooms: their names, and the counter where every event gets its position.

:func:`take_positions` is the whole ordering guarantee. It increments the room's counter with an
``UPDATE``, which locks the room row until the caller's transaction ends. A second writer in the
same room waits on that lock, so positions commit in the order they were handed out and a reader
can never see position *n + 1* while *n* is still in flight. The lock is per room and held only
for the few statements of a post or a delete; :func:`commit_event` ends it and wakes the readers.
The same statement keeps the room's message count and last activity, so listing rooms reads one
row per room.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from . import signals
from .errors import UnknownRoom
from .i18n import N_
from .models import ROOM_NAME_MAX_LENGTH, ChatMessage, ChatRoom, utcnow
from .transactions import after_host_commit, current, reading, rows_changed

if TYPE_CHECKING:
    from .config import Settings
    from .notifiers import Notifier
    from .signals import Change

#: The rule a room name follows, as people read it.
NAME_RULE = (
    f"1 to {ROOM_NAME_MAX_LENGTH} lowercase letters, digits, '-' or '_',"
    " starting with a letter or digit"
)
#: The same rule for machines (the OpenAPI document uses it too).
NAME_PATTERN = re.compile(rf"[a-z0-9][a-z0-9_-]{{0,{ROOM_NAME_MAX_LENGTH - 1}}}")

_rooms = ChatRoom.__table__


def is_valid_name(name: object) -> bool:
    """Whether ``name`` follows :data:`NAME_RULE`."""
    return isinstance(name, str) and NAME_PATTERN.fullmatch(name) is not None


def require_room(name: str | None, settings: Settings) -> str:
    """The room ``name`` names (``None``: the default room), if it may exist.

    Raises :class:`~flask_webchat.errors.UnknownRoom` for a name that breaks the rule or that
    ``WEBCHAT_ROOMS`` does not allow.
    """
    if name is None:
        return settings.default_room
    _require_name(name)
    allowed = settings.rooms
    if allowed is None or (allowed(name) if callable(allowed) else name in allowed):
        return name
    raise UnknownRoom(N_("There is no room '%(name)s'.", name=name))


def require_stored(session: Session, name: str) -> ChatRoom:
    """The stored room called ``name``, whatever ``WEBCHAT_ROOMS`` allows now.

    For commands that manage what is stored (a purge of a room since dropped from the list).
    Raises :class:`~flask_webchat.errors.UnknownRoom` for a name that breaks the rule or that
    no room has.
    """
    _require_name(name)
    room = find_room(session, name)
    if room is None:
        raise UnknownRoom(N_("There is no room '%(name)s'.", name=name))
    return room


def _require_name(name: str) -> None:
    if not is_valid_name(name):
        raise UnknownRoom(
            N_(
                "A room name is 1 to %(max)s lowercase letters, digits, '-' or '_', starting"
                " with a letter or digit.",
                max=ROOM_NAME_MAX_LENGTH,
            )
        )


@dataclass(frozen=True)
class RoomSummary:
    """A room as ``GET /rooms`` lists it."""

    name: str
    message_count: int
    last_event_at: datetime | None
    cursor: int


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


def create_room_apart(session: Session, name: str) -> None:
    """Create the room in a transaction of its own, leaving the session's transaction alone.

    For a write that joins the host's transaction, which creating the room must not commit.
    """
    own = Session(bind=current(session).get_bind())
    try:
        get_or_create_room(own, name)
    finally:
        own.close()


def is_configured(name: str, settings: Settings) -> bool:
    """Whether the configuration names this room: the default room, or one of a fixed list."""
    listed = settings.rooms
    return name == settings.default_room or (isinstance(listed, tuple) and name in listed)


def open_room(session: Session, name: str, settings: Settings) -> ChatRoom | None:
    """The room, for a reader: created only if the configuration names it.

    Any other room is created by its first post, never by reading, so that reading arbitrary
    names (``WEBCHAT_ROOMS = None``) stores nothing; its readers start from cursor 0.
    """
    found = find_room(session, name)
    if found is None and is_configured(name, settings):
        found = get_or_create_room(session, name)
    return found


def list_rooms(
    session: Session, settings: Settings, *, after: str | None = None, limit: int = 100
) -> tuple[list[RoomSummary], str | None]:
    """A page of the rooms there are, by name, after the name ``after``; and the next page's.

    The rooms are every configured one (``WEBCHAT_ROOMS`` as a list), or every stored one that
    ever had an event (a stream opened in a room creates it, and must not list it for everyone);
    the default and the configured rooms show as empty until created. The second value is the
    ``after`` of the next page, ``None`` on the last.
    """
    query = sa.select(
        _rooms.c.name, _rooms.c.message_count, _rooms.c.last_event_at, _rooms.c.last_seq
    ).order_by(_rooms.c.name)
    listed = settings.rooms
    shown = sorted(listed) if isinstance(listed, tuple) else [settings.default_room]
    shown = [name for name in shown if after is None or name > after][: limit + 1]
    if isinstance(listed, tuple):
        query = query.where(_rooms.c.name.in_(shown))
    else:
        query = query.where(_rooms.c.last_seq > 0)
        if after is not None:
            query = query.where(_rooms.c.name > after)
        query = query.limit(limit + 1)
    found = {row.name: RoomSummary(*row) for row in session.execute(query)}
    for name in shown:
        found.setdefault(name, RoomSummary(name, 0, None, 0))
    page = sorted(found.values(), key=lambda room: room.name)[: limit + 1]
    if len(page) > limit:
        return page[:limit], page[limit - 1].name
    return page, None


def statistics(session: Session) -> list[tuple[str, int, datetime | None, datetime | None]]:
    """Every room's name, message count, and oldest and newest message's time, by name."""
    spans = (
        sa.select(
            ChatMessage.room_id,
            sa.func.min(ChatMessage.created_at).label("oldest"),
            sa.func.max(ChatMessage.created_at).label("newest"),
        )
        .group_by(ChatMessage.room_id)
        .subquery()
    )
    rows = session.execute(
        sa.select(ChatRoom.name, ChatRoom.message_count, spans.c.oldest, spans.c.newest)
        .outerjoin(spans, spans.c.room_id == ChatRoom.id)
        .order_by(ChatRoom.name)
    )
    return [(row[0], row[1], row[2], row[3]) for row in rows]


def room_name(session: Session, room_id: int) -> str:
    """The name of the room with this id."""
    return session.execute(sa.select(_rooms.c.name).where(_rooms.c.id == room_id)).scalar_one()


# Every poll runs it: built once, as building costs about as much as running it.
_LOCATE = sa.select(_rooms.c.id, _rooms.c.last_seq).where(_rooms.c.name == sa.bindparam("name"))


def locate(session: Session, name: str) -> tuple[int, int] | None:
    """The room's id and head, read together; ``None`` for a room that does not exist yet."""
    row = session.execute(_LOCATE, {"name": name}).first()
    return None if row is None else (row.id, row.last_seq)


def head(session: Session, name: str) -> int:
    """The position of the room's newest event (0 for a room that does not exist yet)."""
    with reading(session) as reader:
        found = locate(reader, name)
    return 0 if found is None else found[1]


def settled_head(session: Session, name: str, *, settle: float) -> tuple[int, bool]:
    """The room's head, and whether its last event is older than ``settle`` seconds.

    A reader behind an edge who has not received the head yet either has it on the way (a
    recent event) or lost it (an older one): the edge asks which.
    """
    with reading(session) as reader:
        row = reader.execute(
            sa.select(_rooms.c.last_seq, _rooms.c.last_event_at).where(_rooms.c.name == name)
        ).first()
    if row is None or row.last_event_at is None:
        return (0 if row is None else row.last_seq), True
    return row.last_seq, (utcnow() - row.last_event_at).total_seconds() > settle


def take_positions(
    session: Session, room: int | str, count: int = 1, *, added: int = 0, removed: int = 0
) -> tuple[int, int]:
    """Take the room's next ``count`` positions, locking its row until the transaction ends.

    ``room`` is the room's id, or its name; a room named for the first time is created (and
    committed) first. ``added`` and ``removed`` messages change the room's count. Returns the
    room's id and the last position taken. This is one statement where the database can return
    what it updated, which matters: it runs under the lock.
    """
    taken = _take(session, room, count, added - removed)
    if taken is None and isinstance(room, str):
        get_or_create_room(session, room)
        taken = _take(session, room, count, added - removed)
    if taken is None:
        raise LookupError(f"There is no room {room!r}.")
    return taken


def lock(session: Session, room_id: int) -> None:
    """Lock the room's row until the transaction ends, taking no position (yet)."""
    session.execute(
        sa.update(_rooms).where(_rooms.c.id == room_id).values(last_seq=_rooms.c.last_seq)
    )


def commit_event(
    session: Session,
    notifier: Notifier | None,
    room: str,
    position: int,
    *,
    changes: Sequence[Change] = (),
    sender: Any = None,
    join: bool = False,
    first: int | None = None,
) -> None:
    """Commit the transaction that took positions ``first`` to ``position`` in ``room`` (by
    default just ``position``), then wake its readers, and publish it to the edge if there is one.

    Readers are woken once the event is visible to them, never before; then the ``changes``
    are sent as signals from ``sender`` (none without one). With ``join``, the write is part of
    the host's own transaction: nothing commits here, and readers are woken and signals sent
    only once the host commits (never if it rolls back).
    """
    if notifier is not None:
        # PostgreSQL's NOTIFY is itself transactional: a rollback discards it.
        notifier.before_commit(session, room, position)
    if join:
        session.flush()
        after_host_commit(
            session, lambda: announce(session, notifier, room, position, changes, sender, first)
        )
        return
    session.commit()
    announce(session, notifier, room, position, changes, sender, first)


def announce(
    session: Session,
    notifier: Notifier | None,
    room: str,
    position: int,
    changes: Sequence[Change],
    sender: Any,
    first: int | None = None,
) -> None:
    """Wake the room's readers for what committed up to ``position`` (publishing it to the edge,
    from ``first``, if there is one), then send ``changes``."""
    if notifier is not None:
        notifier.forget_quiet(room)  # this process knows at once; others when announced
        notifier.after_commit(room, position)
        if notifier.edge is not None:
            notifier.edge.published(session, room, position if first is None else first, position)
    if sender is not None:
        signals.send(sender, changes)


def take_during_flush(connection: sa.Connection, room_id: int) -> tuple[str, int]:
    """Take the next position of room ``room_id`` for a message being inserted right now.

    For a :class:`~flask_webchat.models.ChatMessage` the host added to its session itself:
    runs on the flush's connection, in the host's transaction, which then holds the room's
    lock like any post. Returns the room's name and the position.
    """
    taken = _take(connection, room_id, 1, 1)
    if taken is None:
        raise LookupError(f"There is no room with id {room_id!r}.")
    name = connection.execute(sa.select(_rooms.c.name).where(_rooms.c.id == room_id)).scalar_one()
    return name, taken[1]


def _take(
    session: Session | sa.Connection, room: int | str, step: int, change: int
) -> tuple[int, int] | None:
    which = _rooms.c.id == room if isinstance(room, int) else _rooms.c.name == room
    increment = (
        sa.update(_rooms)
        .where(which)
        .values(
            last_seq=_rooms.c.last_seq + step,
            message_count=_rooms.c.message_count + change,
            last_event_at=utcnow(),
        )
    )
    taken = (_rooms.c.id, _rooms.c.last_seq)
    dialect = session.dialect if isinstance(session, sa.Connection) else session.get_bind().dialect
    if dialect.update_returning:
        row = session.execute(increment.returning(*taken)).first()
    elif rows_changed(session.execute(increment)) == 1:
        # The row is ours until commit, and a transaction reads its own writes.
        row = session.execute(sa.select(*taken).where(which)).first()
    else:
        row = None
    return None if row is None else (row[0], row[1])
