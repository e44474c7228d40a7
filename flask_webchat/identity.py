"""Who is reading: the host's identity, if any, and what they may do.

A :class:`Viewer` is the reader of one request (or the host acting as someone), and every
permission rule of the chat is one of its methods: ``may_…`` answers, ``require_…`` raises the
error a client sees. The browser session's *reader key* arrives here as a plain string; only the
web layer knows where it is kept (see :mod:`flask_webchat.web.session`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from .errors import Forbidden, IdentityRequired, MessageNotFound
from .i18n import N_
from .models import ChatMessage

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
#: ``(message, identity) -> bool | None``: may this identity edit this message? ``None`` leaves
#: it to the chat's rule (authors, within ``WEBCHAT_EDIT_WINDOW``).
EditPermission = Callable[[ChatMessage, "Identity | None"], "bool | None"]
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
    edit: EditPermission | None = None


#: ``(room, identity) -> bool``: a presence hook of the host (see :class:`PresenceRules`).
PresenceHook = Callable[[str, Any], bool]


@dataclass(frozen=True)
class PresenceRules:
    """The host's presence hooks, registered with the :class:`~flask_webchat.Webchat`
    decorators ``presence_permission`` and ``presence_hidden``."""

    #: Who may see who is in a room (and who types there); everyone who may read, without it.
    see: PresenceHook | None = None
    #: Who is left out of a room's presence (never listed, never counted); nobody, without it.
    hide: PresenceHook | None = None

    def may_see(self, room: str, identity: Any) -> bool:
        """Whether ``identity`` (``None``: a guest) may see presence and typing in ``room``."""
        return self.see is None or bool(self.see(room, identity))

    def hidden(self, room: str, identity: Any) -> bool:
        """Whether ``identity`` is left out of the presence of ``room``."""
        return self.hide is not None and bool(self.hide(room, identity))


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


@dataclass(frozen=True)
class Viewer:
    """The reader of the current request, and what they may do in a room and to a message."""

    identity: Identity | None
    reader_key: str | None
    permissions: Permissions = field(default_factory=Permissions)
    #: Whether the host's moderator hook lets this reader delete any message of the room that
    #: :meth:`in_room` was given.
    moderates: bool = False
    #: Makes this browser a reader key when the chat must remember it (a post, a stream); the
    #: web layer passes one that writes the session. ``None``: this viewer cannot get one.
    make_reader_key: Callable[[], str] | None = field(default=None, compare=False, repr=False)

    def remembered(self) -> Viewer:
        """This viewer with a reader key, made now if it has none yet."""
        if self.reader_key is not None:
            return self
        if self.make_reader_key is None:
            raise RuntimeError("This viewer has no reader key and no way to make one.")
        return replace(self, reader_key=self.make_reader_key())

    def as_author(self) -> Viewer:
        """This viewer as the author of a post: anonymous authors are known by a reader key."""
        return self if self.identity is not None else self.remembered()

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

    def may_edit(self, message: ChatMessage, *, window: float | None, now: datetime) -> bool:
        """Authors may edit their messages within ``window`` seconds of posting (``None``:
        always); the host's edit hook may say otherwise either way."""
        edit = self.permissions.edit
        decided = None if edit is None else edit(message, self.identity)
        if decided is not None:
            return bool(decided)
        if not self.is_author(message):
            return False
        return window is None or (now - message.created_at).total_seconds() <= window

    def require_edit(
        self, message: ChatMessage, room: str, *, window: float | None, now: datetime
    ) -> None:
        """Raise unless this reader may edit ``message``, which is in ``room``."""
        self.require_visible(message, room)
        if not self.may_edit(message, window=window, now=now):
            if self.is_author(message):
                raise Forbidden(N_("This message can no longer be edited."))
            raise Forbidden(N_("You may only edit your own messages."))

    def require_read(self, room: str) -> None:
        """Raise :class:`~flask_webchat.errors.Forbidden` unless this reader may read ``room``."""
        if not self.may_read(room):
            raise Forbidden(N_("You may not read this room."))

    def require_post(self, room: str, *, allow_anonymous: bool) -> None:
        """Raise unless this reader may post to ``room`` (which implies reading it)."""
        if self.identity is None and not allow_anonymous:
            raise IdentityRequired()
        self.require_read(room)
        if not self.may_post(room):
            raise Forbidden(N_("You may not post to this room."))

    def require_visible(self, message: ChatMessage, room: str) -> None:
        """Raise :class:`~flask_webchat.errors.MessageNotFound` unless this reader may read
        ``room``, where ``message`` is: to them, a message they may not see does not exist, so
        that its id tells nothing about a room they cannot read."""
        if not self.may_read(room):
            raise MessageNotFound(message.id)

    def require_delete(self, message: ChatMessage, room: str) -> None:
        """Raise unless this reader may delete ``message``, which is in ``room``.

        Call it on the viewer :meth:`in_room` made for that room. A site-wide delete hook stops
        at rooms the reader cannot see: there, the message is not found.
        """
        self.require_visible(message, room)
        if not self.may_delete(message):
            raise Forbidden(N_("You may only delete your own messages."))
