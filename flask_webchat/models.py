"""The chat's tables, importable before any Flask app or ``SQLAlchemy`` object exists.

The models live on their own declarative base rather than on the host's ``db.Model`` so that
``from flask_webchat.models import ChatMessage`` works at import time, in any host. Queries still
go through the host's ``db.session`` and engine: Flask-SQLAlchemy routes a table without a bind key
to the default engine. :meth:`flask_webchat.Webchat.init_app` hooks these tables into the host's
``db.create_all()`` and ``db.drop_all()``.

Ordering is the heart of the design. Every change to a room (a message posted, a message deleted)
takes the next value of the room's counter, :attr:`ChatRoom.last_seq`, in the same transaction
that stores it. The counter row stays locked until that transaction commits, so positions become
visible strictly in order: a reader that has seen position *n* has necessarily been able to see
every position below *n*. A cursor is such a position, never a row count.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import TYPE_CHECKING, ClassVar

import sqlalchemy as sa
from sqlalchemy.dialects import mysql
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

if TYPE_CHECKING:
    from .details import Details

__all__ = [
    "ChatDeletion",
    "ChatMessage",
    "ChatPostKey",
    "ChatReaction",
    "ChatReadPosition",
    "ChatRoom",
    "ChatStream",
    "ChatUpdate",
    "WebchatModel",
    "metadata",
]

#: Longest message, in characters (Unicode code points), as in the original chat.
CONTENT_MAX_LENGTH = 1024
#: Widest stored author name; names typed by anonymous posters are held to a shorter limit.
USERNAME_MAX_LENGTH = 1024
ROOM_NAME_MAX_LENGTH = 64
#: Widest stored reaction, in code points: one grapheme cluster (a family emoji is 5 to 11).
EMOJI_MAX_LENGTH = 32

# SQLite only auto-increments a column declared exactly INTEGER PRIMARY KEY.
BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
# MySQL's DATETIME drops fractions of a second unless asked to keep them.
Timestamp = sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")
# utf8mb4 so that emoji and every CJK character round-trip on MySQL/MariaDB.
_MYSQL_TABLE = {"mysql_charset": "utf8mb4", "mysql_collate": "utf8mb4_bin"}


def utcnow() -> datetime:
    """Now in UTC, without tzinfo: every supported database stores it the same way."""
    return datetime.now(timezone.utc).replace(tzinfo=None)


class WebchatModel(DeclarativeBase):
    """Declarative base of the chat's tables; :data:`metadata` holds them all."""

    if TYPE_CHECKING:
        # Each model maps one table, which Core statements (update, delete, insert) take.
        __table__: ClassVar[sa.Table]  # type: ignore[misc]


metadata = WebchatModel.metadata


class ChatRoom(WebchatModel):
    """A conversation, and the counter that orders everything that happens in it."""

    __tablename__ = "webchat_rooms"
    __table_args__ = (_MYSQL_TABLE,)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(sa.String(ROOM_NAME_MAX_LENGTH), unique=True)
    #: Position of the room's newest event; bumped, under a row lock, by every post and delete.
    last_seq: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    created_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)
    #: How many messages the room holds, kept with the counter so that listing rooms counts
    #: nothing.
    message_count: Mapped[int] = mapped_column(sa.BigInteger, default=0, server_default="0")
    #: When the room's newest event happened; ``None`` until the first one.
    last_event_at: Mapped[datetime | None] = mapped_column(Timestamp)

    def __repr__(self) -> str:
        return f"<ChatRoom {self.name!r} at {self.last_seq}>"


class ChatMessage(WebchatModel):
    """A message as stored; deleting it removes the row and leaves a :class:`ChatDeletion`."""

    __tablename__ = "webchat_messages"
    __table_args__ = (
        sa.UniqueConstraint("room_id", "seq", name="uq_webchat_messages_room_seq"),
        # Without AUTOINCREMENT, SQLite hands a deleted newest message's id to the next message,
        # and readers told "id N was deleted" would drop the new one.
        {**_MYSQL_TABLE, "sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    room_id: Mapped[int] = mapped_column(sa.ForeignKey("webchat_rooms.id"))
    #: The room position at which the message was posted: what readers' cursors compare against.
    seq: Mapped[int] = mapped_column(sa.BigInteger)
    username: Mapped[str] = mapped_column(sa.String(USERNAME_MAX_LENGTH))
    content: Mapped[str] = mapped_column(sa.String(CONTENT_MAX_LENGTH))
    created_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)
    #: The host's user id when the host supplied an identity, else ``None``.
    author_id: Mapped[str | None] = mapped_column(sa.String(255), index=True)
    #: The posting browser session's reader key, so an anonymous author can delete their own.
    author_session: Mapped[str | None] = mapped_column(sa.String(64))
    #: A notice from the site itself ("Deploy finished"): no author, an empty ``username``.
    #: Only host code posts one (:meth:`flask_webchat.Webchat.post_message`), never HTTP.
    system: Mapped[bool] = mapped_column(sa.Boolean, default=False, server_default=sa.false())
    #: When the content was last edited; ``None`` if never.
    edited_at: Mapped[datetime | None] = mapped_column(Timestamp)
    #: The message this one answers, in the same room. No foreign key: the parent may be
    #: deleted, and the reply then shows that it was (see :mod:`flask_webchat.details`).
    reply_to_id: Mapped[int | None] = mapped_column(sa.BigInteger, index=True)
    #: The host users the text mentions, as JSON ``[{"name", "id"}]``; ``None``: nobody.
    mentions_json: Mapped[str | None] = mapped_column("mentions", sa.Text)

    # Not stored: what readers see besides the row, filled once per read by
    # flask_webchat.details.attach (reactions, and the quote of the parent).
    if TYPE_CHECKING:
        details: Details | None
    else:
        details = None

    def __repr__(self) -> str:
        return f"<ChatMessage {self.id} by {self.username!r}>"


class ChatDeletion(WebchatModel):
    """The event "message *message_id* was deleted", at its own position in the room."""

    __tablename__ = "webchat_deletions"
    __table_args__ = (_MYSQL_TABLE,)

    room_id: Mapped[int] = mapped_column(sa.ForeignKey("webchat_rooms.id"), primary_key=True)
    seq: Mapped[int] = mapped_column(sa.BigInteger, primary_key=True, autoincrement=False)
    # No foreign key: the message row is gone by the time anyone reads this.
    message_id: Mapped[int] = mapped_column(sa.BigInteger)
    deleted_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)


class ChatUpdate(WebchatModel):
    """The event "message *message_id* changed" (an edit, a reaction, its parent's change), at
    its own position in the room. Readers get the message's whole current state there."""

    __tablename__ = "webchat_updates"
    __table_args__ = (_MYSQL_TABLE,)

    room_id: Mapped[int] = mapped_column(sa.ForeignKey("webchat_rooms.id"), primary_key=True)
    seq: Mapped[int] = mapped_column(sa.BigInteger, primary_key=True, autoincrement=False)
    # No foreign key: the message may be deleted later; its deletion is then a later event.
    message_id: Mapped[int] = mapped_column(sa.BigInteger)
    updated_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)


class ChatReaction(WebchatModel):
    """One reader's reaction (one emoji) to one message; the id orders the first reactions."""

    __tablename__ = "webchat_reactions"
    __table_args__ = (
        sa.UniqueConstraint("message_id", "emoji", "reactor", name="uq_webchat_reactions"),
        {**_MYSQL_TABLE, "sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    # No foreign key, as for deletions: deleting a message removes its reactions with it.
    message_id: Mapped[int] = mapped_column(sa.BigInteger)
    emoji: Mapped[str] = mapped_column(sa.String(EMOJI_MAX_LENGTH))
    #: ``u:<host user id>`` for a signed-in reader, ``s:<reader key>`` for a browser session.
    reactor: Mapped[str] = mapped_column(sa.String(300))
    created_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)


class ChatStream(WebchatModel):
    """One reader's position in a room: a browser tab, or a session polling without naming one.

    Positions live here, not in the Flask session, because a session backend saves the whole
    session at the end of each request: two overlapping requests of one browser would write an old
    position back. Here a position only moves forward, by a compare-and-set ``UPDATE``.
    """

    __tablename__ = "webchat_streams"
    __table_args__ = (
        sa.Index("ix_webchat_streams_owner", "owner", "id"),
        sa.Index("ix_webchat_streams_active_at", "active_at"),
        _MYSQL_TABLE,
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    #: The public, unguessable stream id that a page carries in ``data-stream``.
    token: Mapped[str] = mapped_column(sa.String(32), unique=True)
    #: Reader key of the browser session the stream belongs to.
    owner: Mapped[str] = mapped_column(sa.String(64))
    room_id: Mapped[int] = mapped_column(sa.ForeignKey("webchat_rooms.id"))
    #: Every event at or below this position has been delivered to this reader.
    position: Mapped[int] = mapped_column(sa.BigInteger)
    #: The session's stream for polls that name none (``curl -b cookies``), never a tab's.
    is_default: Mapped[bool] = mapped_column(sa.Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)
    #: When the stream was opened or last moved; streams idle past ``WEBCHAT_STREAM_TTL`` go.
    active_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)


class ChatPostKey(WebchatModel):
    """An ``Idempotency-Key`` a client posted with, and the message it stored.

    A repeat of the key by the same author returns that message instead of storing another, for
    ``WEBCHAT_IDEMPOTENCY_TTL`` seconds. ``scope`` hashes the author with the key, so the same
    key from someone else is another message, and no key or author is stored in the clear.
    """

    __tablename__ = "webchat_post_keys"
    __table_args__ = (sa.Index("ix_webchat_post_keys_created_at", "created_at"), _MYSQL_TABLE)

    scope: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    # No foreign key: the message may be deleted while its key is still remembered.
    message_id: Mapped[int] = mapped_column(sa.BigInteger)
    created_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)


#: Widest reader of a read position: ``user:`` or ``session:``, then a user id or a reader key.
READER_MAX_LENGTH = 300


class ChatReadPosition(WebchatModel):
    """How far one reader has read a room: every message at or below ``position`` is read.

    The reader is a signed-in user (``user:<id>``), so the position follows them from one
    device to the next, or an anonymous browser session (``session:<reader key>``). A position
    only moves forward, by a compare-and-set ``UPDATE`` (see :mod:`flask_webchat.unread`).
    """

    __tablename__ = "webchat_read_positions"
    __table_args__ = (_MYSQL_TABLE,)

    # The reader first: one reader's positions in every room are one range of the key.
    reader: Mapped[str] = mapped_column(sa.String(READER_MAX_LENGTH), primary_key=True)
    room_id: Mapped[int] = mapped_column(
        BigId, sa.ForeignKey("webchat_rooms.id"), primary_key=True, autoincrement=False
    )
    position: Mapped[int] = mapped_column(sa.BigInteger)
    #: When the position last moved, so that positions nobody uses any more can be found.
    updated_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)
