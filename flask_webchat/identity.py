"""Who is reading: the host's identity, if any, and the browser session's reader key.

This is the only module that touches the Flask session. It stores one value there, a random
*reader key*, written once and never changed. Session backends save the whole session at the end
of every request, so a value that changes can be overwritten by an overlapping request that loaded
it earlier; a value that never changes cannot. Everything that moves (stream positions) lives in
the database, keyed by this reader key.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from flask import session

from .models import ChatMessage

SESSION_KEY = "webchat_reader"
_NAME_ATTRIBUTES = ("display_name", "name", "username")


@dataclass(frozen=True)
class Identity:
    """A host user as the chat sees them: a stable id and the name shown on their messages."""

    id: str
    name: str
    #: The object the host's identity loader returned, for the host's own permission hooks.
    user: Any = field(default=None, compare=False, repr=False)


#: What an identity loader may return: a user object, a string used as id and name, or ``None``.
IdentityLoader = Callable[[], Any]
#: ``(message, identity) -> bool``: may this identity delete this message it did not write?
DeletePermission = Callable[[ChatMessage, "Identity | None"], bool]
#: ``(room, identity) -> bool``: may this identity read, post to, or moderate this room?
RoomPermission = Callable[[str, "Identity | None"], bool]


@dataclass(frozen=True)
class Permissions:
    """The host's permission hooks, registered with the :class:`~flask_webchat.Webchat`
    decorators; a hook left out allows everything except moderation."""

    delete: DeletePermission | None = None
    read: RoomPermission | None = None
    post: RoomPermission | None = None
    moderate: RoomPermission | None = None


def to_identity(user: Any, name_attribute: str | None = None) -> Identity | None:
    """Turn what a host's identity loader returned into an :class:`Identity`.

    Accepts ``None``; a non-empty string, used as both id and name; an :class:`Identity`; or a
    user object with ``get_id()`` or ``id`` and a display name attribute (``name_attribute``, or
    the first of ``display_name``, ``name``, ``username``). Flask-Login's anonymous user
    (``is_authenticated`` false) counts as no identity, so a loader can return ``current_user``.
    """
    if user is None or isinstance(user, Identity):
        return user
    if isinstance(user, str):
        return Identity(user, user, user) if user.strip() else None
    if getattr(user, "is_authenticated", True) is False:
        return None
    get_id = getattr(user, "get_id", None)
    user_id = get_id() if callable(get_id) else getattr(user, "id", None)
    if user_id is None:
        raise TypeError(
            f"The webchat identity loader returned {user!r}, which has neither get_id() nor id."
        )
    names = (name_attribute,) if name_attribute else _NAME_ATTRIBUTES
    name = next((getattr(user, n) for n in names if getattr(user, n, None)), None)
    return Identity(str(user_id), str(name if name is not None else user_id), user)


def reader_key(*, create: bool) -> str | None:
    """This browser session's reader key; with ``create``, make one if there is none yet."""
    key = session.get(SESSION_KEY)
    if key is None and create:
        key = session[SESSION_KEY] = secrets.token_urlsafe(24)
    return key


@dataclass(frozen=True)
class Viewer:
    """The reader of the current request, and what they may do in a room and to a message."""

    identity: Identity | None
    reader_key: str | None
    permissions: Permissions = field(default_factory=Permissions)
    #: Whether the host's moderator hook lets this reader delete any message of the room that
    #: :meth:`in_room` was given.
    moderates: bool = False

    def with_reader_key(self) -> Viewer:
        """This viewer with a reader key, creating one in the session if it has none yet."""
        return self if self.reader_key else replace(self, reader_key=reader_key(create=True))

    def in_room(self, room: str) -> Viewer:
        """This viewer in ``room``: the moderator hook is asked once, for the whole room."""
        moderate = self.permissions.moderate
        return replace(self, moderates=moderate is not None and bool(moderate(room, self.identity)))

    def may_read(self, room: str) -> bool:
        """Whether the host's read hook lets this reader read ``room`` (yes, without a hook)."""
        read = self.permissions.read
        return read is None or bool(read(room, self.identity))

    def may_post(self, room: str) -> bool:
        """Whether the host's post hook lets this reader post to ``room`` (yes, without one)."""
        post = self.permissions.post
        return post is None or bool(post(room, self.identity))

    def is_author(self, message: ChatMessage) -> bool:
        """Whether this reader wrote the message: same host user, or same browser session."""
        if self.identity is not None and message.author_id == self.identity.id:
            return True
        return (
            message.author_id is None
            and self.reader_key is not None
            and message.author_session == self.reader_key
        )

    def may_delete(self, message: ChatMessage) -> bool:
        """Authors may delete their messages; the host's hooks may allow others (moderators)."""
        if self.is_author(message) or self.moderates:
            return True
        delete = self.permissions.delete
        return delete is not None and bool(delete(message, self.identity))
