"""Readers of a room, and the streams that remember their cursors between reads.

A *stream* is a cursor kept on the server for one reader. Each page load opens one for its tab; a
session that reads without naming a stream gets one of its own, its *default* stream, which no tab
shares. A stream's position moves forward only, and only through a compare-and-set, so two
overlapping reads of one stream cannot both deliver the same batch.

A :class:`Reader` is what a request (or host code) reads with: it names the room, the stream if
any, and the limits, once, and each :meth:`Reader.read` returns the next
:class:`~flask_webchat.batches.Batch`.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from . import rooms
from .batches import Batch, read_range
from .errors import UnknownStream, ValidationFailed
from .i18n import N_
from .models import ChatMessage, ChatRoom, ChatStream, utcnow
from .transactions import reading, rows_changed

if TYPE_CHECKING:
    from .config import Settings
    from .sharing import SharedReads

_streams = ChatStream.__table__
# Overlapping reads of one stream are rare (a client normally waits for its previous poll);
# a few retries settle them, and a read that still loses answers empty without moving.
_CLAIM_ATTEMPTS = 5


@dataclass(frozen=True)
class Reader:
    """One reader of one room: by a tab's stream, the session's default stream, or a cursor.

    ``owner`` is the browser's reader key, which a stream must belong to. With ``shared``, reads
    made when a notification woke the reader (see :mod:`flask_webchat.waiting`) share the
    database read with the other readers of this process woken at once.
    """

    session: Session
    settings: Settings
    room: str
    limit: int
    owner: str | None = None
    token: str | None = None
    shared: SharedReads | None = None

    def read(self, after: int | None, known: int | None = None) -> Batch:
        """The reader's next batch, and its stream moved past it.

        With ``after`` and no stream token, read statelessly from that cursor. With a token,
        read the stream, from ``after`` if given (a client that lost an answer on the way says
        where it really is). With neither, read the session's default stream, opened on the
        spot if it has none. ``known`` is the position the reader's wake-up announced.
        """
        if after is not None and self.token is None:
            return self._read_cursor(after, known)
        return self._read_stream(after, known)

    def _read_cursor(self, after: int, known: int | None) -> Batch:
        def read() -> Batch:
            with reading(self.session) as reader:
                found = rooms.locate(reader, self.room)
                head = found[1] if found else 0
                if after > head:
                    raise ValidationFailed({"after": [N_("This cursor is ahead of the room.")]})
                if found is None:
                    return Batch.at(after)
                return read_range(reader, found[0], after, head, self.limit)

        if self.shared is None or known is None:
            return read()
        # The whole read is shared, the room's head with it: a reader woken with the others
        # takes their batch without a query, or a connection, of its own.
        return self.shared.read(self.room, after, self.limit, known, read)

    def _read_stream(self, after: int | None, known: int | None) -> Batch:
        if self.owner is None:
            if self.token is not None:
                raise UnknownStream()  # a browser without a reader key has opened no stream
            return self._read_backlog(known)  # nothing to remember this reader by: write nothing
        state = None
        with reading(self.session) as reader:
            for _ in range(_CLAIM_ATTEMPTS):
                state = self._stream_state(reader)
                if state is None:
                    if self.token is not None:
                        raise UnknownStream()
                    # Opening is several statements that belong together: the host's session,
                    # in a transaction of its own.
                    opened = open_stream(
                        self.session, self.settings, owner=self.owner, room=self.room, default=True
                    )
                    if opened is None:
                        return Batch.at(0)  # no room yet, and reading creates none
                    continue
                start = state.position if after is None else after
                if start > state.head:
                    raise ValidationFailed({"after": [N_("This cursor is ahead of the room.")]})
                batch = replace(
                    self._range(reader, state.room_id, start, state.head, known),
                    stream=state.token,
                )
                if batch.cursor == state.position:
                    return batch
                move = sa.update(_streams).where(_streams.c.id == state.id)
                if after is None:
                    # Compare-and-set: of two overlapping reads, one delivers the batch.
                    move = move.where(_streams.c.position == state.position)
                claimed = reader.execute(move.values(position=batch.cursor, active_at=utcnow()))
                reader.commit()
                if rows_changed(claimed):
                    return batch
        return Batch.at(state.position if state else 0, stream=state.token if state else None)

    def _read_backlog(self, known: int | None) -> Batch:
        """The room's newest ``WEBCHAT_BACKLOG`` events, read as from a bare cursor."""
        with reading(self.session) as reader:
            found = rooms.find_room(reader, self.room)
            start = 0 if found is None else _backlog_start(reader, found, self.settings.backlog)
        return self._read_cursor(start, known)

    def _range(
        self, reader: Session, room_id: int, start: int, head: int, known: int | None
    ) -> Batch:
        def read() -> Batch:
            return read_range(reader, room_id, start, head, self.limit)

        if self.shared is None or known is None:
            return read()
        return self.shared.read(self.room, start, self.limit, known, read)

    def _stream_state(self, session: Session) -> sa.Row[Any] | None:
        """The stream's position and its room's head, read together in one query."""
        if self.token is not None:
            # A tab's stream reads its own room: a token used under another room is unknown.
            parameters = {"owner": self.owner, "token": self.token, "room": self.room}
            return session.execute(_STREAM_BY_TOKEN, parameters).first()
        return session.execute(_DEFAULT_STREAM, {"owner": self.owner, "room": self.room}).first()


@dataclass(frozen=True)
class OpenedStream:
    """A stream just opened: its token, and the position its first read starts after."""

    token: str
    cursor: int


def open_stream(
    session: Session, settings: Settings, *, owner: str, room: str, default: bool = False
) -> str | None:
    """Open a stream whose first read returns the room's newest ``WEBCHAT_BACKLOG`` messages.

    Opening a tab's stream also ends the session's default stream in the room, so that, as in a
    page reload, the next read without a stream starts again from the backlog. The owner keeps
    at most ``WEBCHAT_MAX_STREAMS`` streams (the oldest go), and streams idle past
    ``WEBCHAT_STREAM_TTL`` seconds are removed. Returns the stream's token, or ``None`` for a
    room that does not exist yet and is not configured (see :func:`rooms.open_room`).
    """
    opened = open_stream_with_cursor(session, settings, owner=owner, room=room, default=default)
    return None if opened is None else opened.token


def open_stream_with_cursor(
    session: Session,
    settings: Settings,
    *,
    owner: str,
    room: str,
    default: bool = False,
    create: bool = False,
) -> OpenedStream | None:
    """:func:`open_stream`, also returning the position the stream's first read starts after.

    ``POST /streams`` answers both: a client that also keeps the cursor can read on with
    ``after`` should the server drop the stream. ``None`` for a room that does not exist yet,
    unless ``create``: a client that asks for a stream writes anyway, so its first stream in a
    room nobody posted to creates the room (empty, cursor 0) rather than having it read apart.
    """
    found = (
        rooms.get_or_create_room(session, room)
        if create
        else rooms.open_room(session, room, settings)
    )
    if found is None:
        return None
    idle_since = utcnow() - timedelta(seconds=settings.stream_ttl)
    session.execute(sa.delete(_streams).where(_streams.c.active_at < idle_since))
    if not default:
        session.execute(
            sa.delete(_streams).where(
                _streams.c.owner == owner,
                _streams.c.room_id == found.id,
                _streams.c.is_default.is_(True),
            )
        )
    token = secrets.token_urlsafe(16)
    position = _backlog_start(session, found, settings.backlog)
    session.add(
        ChatStream(
            token=token, owner=owner, room_id=found.id, position=position, is_default=default
        )
    )
    session.flush()
    dropped = session.scalars(
        sa.select(ChatStream.id)
        .where(ChatStream.owner == owner)
        .order_by(ChatStream.id.desc())
        .offset(settings.max_streams)
    ).all()
    if dropped:
        session.execute(sa.delete(_streams).where(_streams.c.id.in_(dropped)))
    session.commit()
    return OpenedStream(token, position)


def backlog_cursor(session: Session, settings: Settings, room: str) -> int:
    """The cursor a new reader of ``room`` starts after, for the newest ``WEBCHAT_BACKLOG``.

    It reads only: a reader the chat does not know yet (a first visit to the page) reads on
    from here by cursor, and nothing is stored for it. A room not created yet starts at 0.
    """
    found = rooms.find_room(session, room)
    return 0 if found is None else _backlog_start(session, found, settings.backlog)


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


# Built once: these run on every read, and building a statement costs more than running it.
_STREAM_STATE = (
    sa.select(
        _streams.c.id,
        _streams.c.token,
        _streams.c.room_id,
        _streams.c.position,
        ChatRoom.last_seq.label("head"),
    )
    .join(ChatRoom, ChatRoom.id == _streams.c.room_id)
    .where(_streams.c.owner == sa.bindparam("owner"), ChatRoom.name == sa.bindparam("room"))
)
_STREAM_BY_TOKEN = _STREAM_STATE.where(_streams.c.token == sa.bindparam("token"))
_DEFAULT_STREAM = (
    _STREAM_STATE.where(_streams.c.is_default.is_(True)).order_by(_streams.c.id.desc()).limit(1)
)
