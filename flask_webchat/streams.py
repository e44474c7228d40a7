"""Reading a room from a cursor, and the reader streams that remember cursors between polls.

What a read returns is a :class:`~flask_webchat.batches.Batch`. A *stream* is a cursor kept on
the server for one reader. Each page load opens one for its tab; a session that polls without
naming a stream gets one of its own, its *default* stream, which no tab shares. A stream's
position moves forward only, and only through a compare-and-set, so two overlapping polls of one
stream cannot both deliver the same batch.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.orm import Session, scoped_session

from .batches import Batch, read_range
from .errors import UnknownStream, ValidationFailed
from .models import ChatMessage, ChatRoom, ChatStream, utcnow
from .rooms import get_or_create_room

if TYPE_CHECKING:
    from .sharing import SharedReads

_streams = ChatStream.__table__
_rooms = ChatRoom.__table__
# Overlapping polls of one stream are rare (a client normally waits for its previous poll);
# a few retries settle them, and a poll that still loses answers empty without moving.
_CLAIM_ATTEMPTS = 5


@dataclass(frozen=True)
class StreamPolicy:
    """How streams are opened and kept: from the ``WEBCHAT_*`` settings."""

    backlog: int
    max_streams: int
    ttl: int


def read_events(
    session: Session,
    *,
    owner: str | None,
    token: str | None,
    room_name: str,
    after: int | None,
    limit: int,
    policy: StreamPolicy,
    shared: SharedReads | None = None,
    known: int | None = None,
) -> Batch:
    """The next batch of a reader, by whichever of a cursor and a stream the request names.

    With ``after`` alone, read statelessly from that cursor. With a stream ``token``, read the
    stream, from ``after`` if given (the client knows best what it has received), and move the
    stream past the batch. With neither, read the session's default stream. A reader woken from
    waiting passes ``shared`` and its signal's ``known`` position, to share the read of the
    room's range with the other readers of this process (see :mod:`flask_webchat.sharing`).
    """
    if after is not None and token is None:
        return read_room(
            session, room_name=room_name, after=after, limit=limit, shared=shared, known=known
        )
    return poll_stream(
        session,
        owner=owner,
        token=token,
        room_name=room_name,
        limit=limit,
        policy=policy,
        after=after,
        shared=shared,
        known=known,
    )


def read_room(
    session: Session,
    *,
    room_name: str,
    after: int,
    limit: int,
    shared: SharedReads | None = None,
    known: int | None = None,
) -> Batch:
    """The events after cursor ``after`` in a room, without any stream (a stateless poll)."""
    if shared is None or known is None:
        return _read_room(session, room_name, after, limit)
    return shared.read(
        (room_name, after, limit), known, lambda: _read_room(session, room_name, after, limit)
    )


def _read_room(session: Session, room_name: str, after: int, limit: int) -> Batch:
    with _poll_session(session) as reader:
        room = reader.execute(
            sa.select(_rooms.c.id, _rooms.c.last_seq).where(_rooms.c.name == room_name)
        ).first()
        head = room.last_seq if room else 0
        if after > head:
            raise ValidationFailed({"after": ["This cursor is ahead of the room."]})
        batch = read_range(reader, room.id, after, head, limit) if room else Batch(cursor=after)
        batch.room = room_name
        return batch


def poll_stream(
    session: Session,
    *,
    owner: str | None,
    token: str | None,
    room_name: str,
    limit: int,
    policy: StreamPolicy,
    after: int | None = None,
    shared: SharedReads | None = None,
    known: int | None = None,
) -> Batch:
    """Deliver a stream's next batch and move the stream past it.

    ``token`` names a tab's stream, which must belong to ``owner`` (the session's reader key).
    Without it the session's default stream is used, opened on the spot if it has none. With
    ``after``, the batch starts there instead of at the stream's position: a client that lost
    an answer on the way says where it really is.
    """
    if owner is None:
        raise UnknownStream()  # a session without a reader key has opened no stream
    state = None
    with _poll_session(session) as reader:
        for _ in range(_CLAIM_ATTEMPTS):
            state = _stream_state(reader, owner=owner, token=token, room_name=room_name)
            if state is None:
                if token is not None:
                    raise UnknownStream()
                # Opening is several statements that belong together: the host's session,
                # in a transaction of its own.
                open_stream(session, owner=owner, room_name=room_name, policy=policy, default=True)
                continue
            start = state.position if after is None else after
            if start > state.head:
                raise ValidationFailed({"after": ["This cursor is ahead of the room."]})
            batch = _shared_read(reader, state, start, limit, shared, known)
            batch.stream, batch.room = state.token, state.room
            if batch.cursor == state.position:
                return batch
            move = sa.update(_streams).where(_streams.c.id == state.id)
            if after is None:
                # Compare-and-set: of two overlapping polls, one delivers the batch.
                move = move.where(_streams.c.position == state.position)
            claimed = reader.execute(move.values(position=batch.cursor, active_at=utcnow()))
            reader.commit()
            if claimed.rowcount:
                return batch
    return Batch(
        cursor=state.position if state else 0,
        stream=state.token if state else None,
        room=state.room if state else None,
    )


def _shared_read(
    reader: Session,
    state: sa.Row[Any],
    start: int,
    limit: int,
    shared: SharedReads | None,
    known: int | None,
) -> Batch:
    def read() -> Batch:
        return read_range(reader, state.room_id, start, state.head, limit)

    if shared is None or known is None:
        return read()
    return shared.read((state.room, start, limit), known, read)


def room_head(session: Session, room_name: str) -> int:
    """The position of the room's newest event (0 for a room that does not exist yet)."""
    with _poll_session(session) as reader:
        head = reader.scalar(sa.select(_rooms.c.last_seq).where(_rooms.c.name == room_name))
        return head or 0


def release_connection(session: Session) -> None:
    """Hand the host session's connection back to the pool before a request waits.

    A waiting request must hold no connection: a pool sized for short requests would run dry
    with a few hundred waiting readers. The host's session is in a transaction when the host
    read something in this request (its user, say); that transaction is committed, as the
    chat's writes do, and the host's objects load again if used.
    """
    current = session() if isinstance(session, scoped_session) else session
    if current.in_transaction():
        current.commit()


@contextmanager
def _poll_session(session: Session) -> Iterator[Session]:
    """The session a poll reads with: its own, in autocommit mode, unless the host's is busy.

    A poll needs no transaction: the head bound and the compare-and-set keep it exact statement
    by statement. Without one, each statement is a single round trip to the database, instead of
    ``BEGIN``, the statement and ``ROLLBACK``, which makes an empty poll about twice as cheap.
    The poll uses a short-lived session of its own for that, so the host's session, and every
    object the host loaded with it, stays as it was. When the host has already begun a
    transaction in this request (Flask-SQLAlchemy sessions, say), the poll joins it instead and
    adds no connection.
    """
    # Flask-SQLAlchemy's db.session is a scoped_session: ask the request's own Session.
    current = session() if isinstance(session, scoped_session) else session
    if current.in_transaction():
        yield current
        return
    reader = Session(bind=current.get_bind(), expire_on_commit=False)
    try:
        reader.connection(execution_options={"isolation_level": "AUTOCOMMIT"})
        yield reader
    finally:
        reader.close()


def open_stream(
    session: Session, *, owner: str, room_name: str, policy: StreamPolicy, default: bool = False
) -> str:
    """Open a stream whose first poll returns the room's newest ``backlog`` messages.

    Opening a tab's stream also ends the session's default stream in the room, so that, as in a
    page reload, the next poll without a stream starts again from the backlog. The owner keeps
    at most ``max_streams`` streams (the oldest go), and streams idle past ``ttl`` seconds are
    removed.
    """
    room = get_or_create_room(session, room_name)
    session.execute(
        sa.delete(_streams).where(_streams.c.active_at < utcnow() - timedelta(seconds=policy.ttl))
    )
    if not default:
        session.execute(
            sa.delete(_streams).where(
                _streams.c.owner == owner,
                _streams.c.room_id == room.id,
                _streams.c.is_default.is_(True),
            )
        )
    token = secrets.token_urlsafe(16)
    session.add(
        ChatStream(
            token=token,
            owner=owner,
            room_id=room.id,
            position=_backlog_start(session, room, policy.backlog),
            is_default=default,
        )
    )
    session.flush()
    dropped = session.scalars(
        sa.select(ChatStream.id)
        .where(ChatStream.owner == owner)
        .order_by(ChatStream.id.desc())
        .offset(policy.max_streams)
    ).all()
    if dropped:
        session.execute(sa.delete(_streams).where(_streams.c.id.in_(dropped)))
    session.commit()
    return token


def _backlog_start(session: Session, room: ChatRoom, backlog: int) -> int:
    if backlog == 0:
        return room.last_seq
    oldest_shown = session.scalar(
        sa.select(ChatMessage.seq)
        .where(ChatMessage.room_id == room.id)
        .order_by(ChatMessage.seq.desc())
        .offset(backlog - 1)
        .limit(1)
    )
    return 0 if oldest_shown is None else oldest_shown - 1


def _stream_state(
    session: Session, *, owner: str, token: str | None, room_name: str
) -> sa.Row[Any] | None:
    """The stream's position and its room's head, read together in one query."""
    if token is not None:
        # A tab's stream reads its own room: a token used under another room is unknown there.
        parameters = {"owner": owner, "token": token, "room": room_name}
        return session.execute(_STREAM_BY_TOKEN, parameters).first()
    return session.execute(_DEFAULT_STREAM, {"owner": owner, "room": room_name}).first()


# Built once: these run on every poll, and building a statement costs more than running it.
_STREAM_STATE = (
    sa.select(
        _streams.c.id,
        _streams.c.token,
        _streams.c.room_id,
        _streams.c.position,
        _rooms.c.last_seq.label("head"),
        _rooms.c.name.label("room"),
    )
    .join(_rooms, _rooms.c.id == _streams.c.room_id)
    .where(_streams.c.owner == sa.bindparam("owner"))
)
_STREAM_BY_TOKEN = _STREAM_STATE.where(
    _streams.c.token == sa.bindparam("token"), _rooms.c.name == sa.bindparam("room")
)
_DEFAULT_STREAM = (
    _STREAM_STATE.where(_rooms.c.name == sa.bindparam("room"), _streams.c.is_default.is_(True))
    .order_by(_streams.c.id.desc())
    .limit(1)
)
