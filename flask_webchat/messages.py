"""Posting, fetching and deleting messages, with every rule that applies to them.

Posting and deleting are one transaction each, which takes a room position (see
:mod:`flask_webchat.rooms`), so both reach every reader in order, exactly once. The checks
(who may post where, who may delete what) are the :class:`~flask_webchat.identity.Viewer`'s,
and run here, whoever calls: a route, the CLI or host code.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from marshmallow import ValidationError
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, make_transient_to_detached

from . import details, mentions, rooms, signals, updates
from .errors import AlreadyDeleted, MessageNotFound, ValidationFailed
from .i18n import N_
from .identity import Identity, Viewer
from .models import (
    USERNAME_MAX_LENGTH,
    ChatDeletion,
    ChatMessage,
    ChatPostKey,
    ChatReaction,
    utcnow,
)
from .notifiers import Notifier
from .schemas import NewMessageSchema, load
from .text import CONTENT_RULE
from .transactions import inserted_id, rows_changed

if TYPE_CHECKING:
    from .config import Settings

_messages = ChatMessage.__table__
_post_keys = ChatPostKey.__table__
# Ids are signed 64-bit; a larger one cannot exist, and the database would fail to convert it.
_LARGEST_ID = 2**63 - 1
# Expired idempotency keys are swept after one keyed post in this many (by message id): often
# enough to keep the table at about a TTL's worth of keys, rarely enough to cost nothing.
_FORGET_KEYS_EVERY = 64
# By whether the poster is anonymous; built once, since building a schema costs a post more
# than loading with it.
_NEW_MESSAGE = {anonymous: NewMessageSchema(anonymous=anonymous) for anonymous in (True, False)}
_INSERT_MESSAGE = sa.insert(_messages)
_INSERT_KEY = sa.insert(_post_keys)
_KEY_LOOKUP = sa.select(_post_keys.c.message_id, _post_keys.c.created_at).where(
    _post_keys.c.scope == sa.bindparam("scope")
)
# The model's attribute for each column (``mentions_json`` for the ``mentions`` column).
_ATTRIBUTES = {prop.columns[0].name: prop.key for prop in sa.inspect(ChatMessage).column_attrs}


#: ``(content, room, identity) -> str``: the text to store, or raise
#: :class:`~flask_webchat.errors.MessageRejected` (see
#: :meth:`flask_webchat.Webchat.message_filter`).
MessageFilter = Callable[[str, str, "Identity | None"], str]


@dataclass(frozen=True)
class WriteContext:
    """What every write needs besides its own arguments: the app's wiring and the host's hooks.

    The web layer and the host API build it in one place
    (:meth:`~flask_webchat.state.WebchatState.write_context`); a script may build its own.
    """

    session: Session
    settings: Settings
    #: Wakes the room's readers once the write commits; ``None`` wakes nobody.
    notifier: Notifier | None = None
    #: The sender of the chat's signals (the app); ``None`` sends none.
    sender: Any = None
    #: The host's content filters, in order (see :func:`filter_content`).
    filters: Sequence[MessageFilter] = ()
    #: Resolves ``@names`` to host users (see :mod:`flask_webchat.mentions`).
    lookup: mentions.Lookup | None = None

    def commit(
        self,
        room: str,
        position: int,
        changes: Sequence[signals.Change],
        *,
        join: bool = False,
        first: int | None = None,
    ) -> None:
        """:func:`flask_webchat.rooms.commit_event` with this context's notifier and sender."""
        rooms.commit_event(
            self.session,
            self.notifier,
            room,
            position,
            changes=changes,
            sender=self.sender,
            join=join,
            first=first,
        )


def post_message(
    context: WriteContext,
    *,
    room: str,
    viewer: Viewer,
    body: Any,
    check: bool = True,
    system: bool = False,
    join: bool = False,
    idempotency_key: str | None = None,
) -> ChatMessage:
    """Store the message ``body`` describes (see :class:`~flask_webchat.schemas.NewMessageSchema`).

    The author is the host's identity when there is one (the body cannot override it), else the
    name typed in the body, remembered with the browser's reader key, which is made only once
    the post is allowed and valid. The host's filters then see the content, in order.
    ``check=False`` skips the permission checks (the host posting as itself); ``system`` makes
    a message without an author, which only host code posts; the context's sender is sent
    :data:`~flask_webchat.signals.message_posted`; ``join`` leaves the commit to the host (see
    :func:`flask_webchat.rooms.commit_event`).

    With an ``idempotency_key``, a repeat by the same author within ``WEBCHAT_IDEMPOTENCY_TTL``
    returns the message the first post stored, and stores nothing; so does a repeat racing the
    first. (A post that joins the host's transaction takes no key: its commit is the host's.)

    ``reply_to`` in the body names a message of the same room that this one answers; the
    context's lookup resolves ``@names`` to host users, each sent
    :data:`~flask_webchat.signals.user_mentioned` once the post commits.
    """
    session, settings = context.session, context.settings
    if join and idempotency_key is not None:
        raise ValueError("A post that joins the host's transaction takes no idempotency key.")
    if check:
        viewer.require_post(room, allow_anonymous=settings.allow_anonymous)
    if system and viewer.identity is not None:
        raise ValueError("A system message has no author.")
    data = load(_NEW_MESSAGE[viewer.identity is None and not system], body)
    content = filter_content(data["content"], room, viewer.identity, context.filters)
    parent_id = data.get("reply_to")
    parent = None if parent_id is None else _require_parent(session, parent_id, room)
    mentioned = mentions.resolve(content, context.lookup)
    # Host code posting as itself has no browser to remember.
    author = viewer if viewer.make_reader_key is None else viewer.as_author()
    scope = None if idempotency_key is None else _key_scope(author, idempotency_key)
    key_ttl = settings.idempotency_ttl
    if scope is not None:
        # Looked up in the post's own transaction, before the room's lock: one round trip, and
        # none while other writers queue for the lock.
        earlier = _posted_with(session, scope, key_ttl)
        if earlier is not None:
            session.commit()
            return earlier
    if system:
        username, author_id, author_session = "", None, None
    elif author.identity is not None:
        username = author.identity.name[:USERNAME_MAX_LENGTH]
        author_id, author_session = author.identity.id, None
    else:
        username, author_id, author_session = data["username"], None, author.reader_key
    if join and rooms.locate(session, room) is None:
        rooms.create_room_apart(session, room)
    room_id, position = rooms.take_positions(session, room, added=1)
    row = {
        "room_id": room_id,
        "seq": position,
        "username": username,
        "content": content,
        "author_id": author_id,
        "author_session": author_session,
        "system": system,
        "reply_to_id": parent_id,
        "mentions": mentions.stored(mentioned),
        "created_at": utcnow(),
        "edited_at": None,
    }
    # In SQLAlchemy Core: the ORM's unit of work around these INSERTs was a tenth of a post's
    # CPU (see "P5" in the performance docs).
    message_id = inserted_id(session.execute(_INSERT_MESSAGE, row))
    message = _detached_message(message_id, row)
    if scope is not None:
        try:
            session.execute(_INSERT_KEY, {"scope": scope, "message_id": message_id})
        except IntegrityError:
            # The same post, sent twice at once: the other one stored it.
            session.rollback()
            earlier = _posted_with(session, scope, key_ttl)
            session.commit()
            if earlier is None:
                raise
            return earlier
    # New, it has no reactions yet, and its parent was just read: nothing to ask under the lock.
    message.details = details.Details(reply_to=None if parent is None else details.quote_of(parent))
    posted = signals.Change(signals.message_posted, message, room, viewer.identity)
    told = [
        signals.Change(signals.user_mentioned, message, room, viewer.identity, {"user": who})
        for _, who in mentioned
    ]
    context.commit(room, position, (posted, *told), join=join)
    if scope is not None and message.id % _FORGET_KEYS_EVERY == 0:
        _forget_expired_keys(session, key_ttl)
    return message


def _detached_message(message_id: int, row: dict[str, Any]) -> ChatMessage:
    """The message just inserted, as if loaded and then detached: no session expires it."""
    message = ChatMessage(id=message_id, **{_ATTRIBUTES[name]: row[name] for name in row})
    make_transient_to_detached(message)
    return message


def _require_parent(session: Session, parent: int, room: str) -> ChatMessage:
    """The message of ``room`` a reply answers; refused (422, naming the field) if none."""
    found = session.get(ChatMessage, parent) if 0 < parent <= _LARGEST_ID else None
    if found is None or rooms.room_name(session, found.room_id) != room:
        refusal = N_("There is no message %(id)s in this room to reply to.", id=parent)
        raise ValidationFailed({"reply_to": [refusal]})
    return found


def _key_scope(author: Viewer, key: str) -> str:
    """The key as this author's: the same key from someone else is another post."""
    who = f"user:{author.identity.id}" if author.identity else f"reader:{author.reader_key}"
    return hashlib.sha256(f"{who}\n{key}".encode()).hexdigest()


def _posted_with(session: Session, scope: str, ttl: float) -> ChatMessage | None:
    """The message a live key stored, in the caller's transaction; an expired key is dropped
    (with the transaction) so that it can be taken again."""
    found = session.execute(_KEY_LOOKUP, {"scope": scope}).first()
    if found is None:
        return None
    message_id, created_at = found
    if created_at < _expired_before(ttl):
        session.execute(sa.delete(ChatPostKey).where(ChatPostKey.scope == scope))
        return None
    message = session.get(ChatMessage, message_id)
    if message is None:
        raise AlreadyDeleted()
    session.expunge(message)
    return message


def _forget_expired_keys(session: Session, ttl: float) -> None:
    """Delete every expired key, in a transaction of its own that takes no room's lock."""
    session.execute(sa.delete(ChatPostKey).where(ChatPostKey.created_at < _expired_before(ttl)))
    session.commit()


def _expired_before(ttl: float) -> datetime:
    """When a key must have been taken to be still remembered."""
    return utcnow() - timedelta(seconds=ttl)


def filter_content(
    content: str, room: str, identity: Identity | None, filters: Sequence[MessageFilter]
) -> str:
    """``content`` as the host's filters leave it, checked again against the content rule.

    A filter refuses a message by raising :class:`~flask_webchat.errors.MessageRejected`; one
    that returns text the rule refuses (empty, too long) fails as invalid content.
    """
    for content_filter in filters:
        content = content_filter(content, room, identity)
        if not isinstance(content, str):
            raise TypeError(f"The message filter {content_filter!r} returned {content!r}.")
    if filters:
        try:
            CONTENT_RULE(content)
        except ValidationError as error:
            raise ValidationFailed({"content": error.messages}) from None
    return content


def position_added_message(connection: sa.Connection, message: ChatMessage) -> str:
    """Give a message the host added to its session itself its room position, at flush.

    Without one, readers whose cursors passed its position would never see it; with one the
    host chose, they might not either. So a message with a ``room_id`` and no ``seq`` gets
    the room's next position (and the room's lock, until the host's transaction ends), and
    any other message with a position fails the flush, loudly (the chat's own posts are
    inserted without the ORM, and never come here). Returns the room's name.
    """
    if message.seq is not None:
        raise ValueError(
            "A ChatMessage's seq is its position in the room and is taken for it: leave it"
            " unset, or post with webchat.post_message()."
        )
    if message.room_id is None:
        raise ValueError(
            "A ChatMessage added to the session needs a room_id; webchat.post_message()"
            " takes a room name."
        )
    room, message.seq = rooms.take_during_flush(connection, message.room_id)
    return room


def get_message(session: Session, message_id: int, *, room: str | None = None) -> ChatMessage:
    """The message with this id; :class:`~flask_webchat.errors.MessageNotFound` if none.

    With ``room``, a message of another room is not found either: a room's URL holds only that
    room's messages.
    """
    message = session.get(ChatMessage, message_id) if message_id <= _LARGEST_ID else None
    if message is None or (room is not None and rooms.room_name(session, message.room_id) != room):
        raise MessageNotFound(message_id)
    return message


def read_message(
    session: Session, message_id: int, viewer: Viewer, *, room: str | None = None
) -> tuple[ChatMessage, str]:
    """The message and its room's name, if ``viewer`` may see it; else ``MessageNotFound``.

    With ``room``, only a message of that room (see :func:`get_message`).
    """
    message = get_message(session, message_id, room=room)
    room = rooms.room_name(session, message.room_id)
    viewer.require_visible(message, room)
    details.attach(session, [message])
    return message, room


def delete_message(
    context: WriteContext, *, message_id: int, viewer: Viewer | None, room: str | None = None
) -> ChatMessage:
    """Delete a message the viewer may delete, and record the deletion for every reader.

    ``viewer=None`` is the host deleting as itself: no permission is asked. With ``room``, only
    a message of that room (see :func:`get_message`). Returns the message as it was, detached.
    """
    session = context.session
    message = get_message(session, message_id, room=room)
    room = rooms.room_name(session, message.room_id)
    if viewer is not None:
        viewer.in_room(room).require_delete(message, room)
    room_id = message.room_id
    rooms.lock(session, room_id)
    # Replies quote their parent as it is now: each one is updated, to quote it no more.
    replies = updates.replies_to(session, room_id, [message_id])
    _, position = rooms.take_positions(session, room_id, 1 + len(replies), removed=1)
    first = position - len(replies)
    # Holding the room lock, only one of two racing deletes still finds the row.
    gone = session.execute(sa.delete(_messages).where(_messages.c.id == message_id))
    if rows_changed(gone) != 1:
        session.rollback()
        raise MessageNotFound(message_id)
    session.execute(sa.delete(ChatReaction.__table__).where(ChatReaction.message_id == message_id))
    session.expunge(message)
    session.add(ChatDeletion(room_id=room_id, seq=first, message_id=message_id))
    updates.record(session, room_id, first + 1, replies)
    identity = viewer.identity if viewer is not None else None
    deleted = signals.Change(signals.message_deleted, message, room, identity)
    context.commit(room, position, (deleted,), first=first)
    return message
