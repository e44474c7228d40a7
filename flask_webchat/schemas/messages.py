"""Messages on the wire: a message as readers see it, and what posting, editing, deleting send."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from marshmallow import EXCLUDE, Schema, fields, pre_load, validate

from ..details import details_of, mentions_of, reactor_key
from ..i18n import N_
from ..identity import Viewer
from ..models import ChatMessage
from ..text import AUTHOR_NAME_RULE, CONTENT_RULE
from .fields import Cursor, UTCDateTime

#: What a client may send as ``Idempotency-Key``: 1 to 64 visible ASCII characters.
IDEMPOTENCY_KEY = fields.String(
    validate=validate.Regexp(
        r"^[\x21-\x7e]{1,64}\Z", error=N_("1 to 64 visible ASCII characters, without spaces.")
    )
)


# Who a schema built without a viewer dumps for (see seen_by): building a schema deep-copies its
# fields, which costs more than the dump of a small batch, so hot paths build theirs once.
_VIEWER: ContextVar[Viewer | None] = ContextVar("webchat_viewer", default=None)


@contextmanager
def seen_by(viewer: Viewer | None) -> Iterator[None]:
    """Dump with schemas built without a viewer as ``viewer`` sees the messages.

    ``with seen_by(viewer): POLL.dump(batch)`` is ``PollSchema(viewer=viewer).dump(batch)``
    without building a schema; a schema built with a viewer keeps its own.
    """
    token = _VIEWER.set(viewer)
    try:
        yield
    finally:
        _VIEWER.reset(token)


def dump_for(viewer: Viewer | None, schema: Schema, obj: Any) -> Any:
    """``schema.dump(obj)`` as ``viewer`` sees it (see :func:`seen_by`)."""
    with seen_by(viewer):
        return schema.dump(obj)


class QuoteSchema(Schema):
    """The message a reply answers, as a reply carries it: enough to show the quote."""

    id = fields.Integer(required=True)
    #: ``null`` once the parent is deleted.
    username = fields.String(allow_none=True, required=True)
    #: The start of the parent's current text, on one line; ``null`` once it is deleted.
    excerpt = fields.String(allow_none=True, required=True)


class ReactionSchema(Schema):
    """One emoji on a message (documentation of the items of ``reactions``)."""

    emoji = fields.String(required=True)
    count = fields.Integer(required=True)
    mine = fields.Boolean(required=True)


class MentionSchema(Schema):
    """One resolved ``@mention`` (documentation of the items of ``mentions``)."""

    name = fields.String(required=True)
    id = fields.String(required=True)


class MessageSchema(Schema):
    """A message as clients see it.

    ``cursor`` is the message's position in its room: reading ``after`` it continues just past this
    message, which is what a client that stops mid-batch needs. ``anonymous`` tells a name typed by
    an anonymous poster from one the host vouches for, so a page can set them apart. ``system``
    marks a notice the site itself posted (no author, an empty ``username``). Pass the
    current :class:`~flask_webchat.identity.Viewer` to fill ``mine`` and ``can_delete``; without
    one both are ``false``.
    """

    id = fields.Integer(dump_only=True, required=True)
    cursor = Cursor(attribute="seq", dump_only=True, required=True)
    username = fields.String(dump_only=True, required=True)
    content = fields.String(dump_only=True, required=True)
    created_at = UTCDateTime(dump_only=True, required=True)
    #: True when a name was typed by an anonymous poster rather than vouched for by the host.
    anonymous = fields.Function(
        lambda message: message.author_id is None and not message.system,
        dump_only=True,
        required=True,
        metadata={"type": "boolean"},
    )
    #: True for a notice the site posted itself ("Deploy finished"); never posted over HTTP.
    system = fields.Boolean(dump_only=True, required=True)
    mine = fields.Method("_is_mine", dump_only=True, metadata={"type": "boolean"}, required=True)
    can_delete = fields.Method(
        "_can_delete", dump_only=True, metadata={"type": "boolean"}, required=True
    )
    #: When the content was last edited; ``null`` if never.
    edited_at = UTCDateTime(dump_only=True, allow_none=True, required=True)
    #: The message this one answers, as it is now (``username`` and ``excerpt`` are ``null``
    #: once it is deleted); ``null`` for a message that answers none.
    reply_to = fields.Nested(QuoteSchema, dump_only=True, allow_none=True, required=True)
    #: Reactions in first-reacted order; ``mine``: the current reader's own.
    reactions = fields.List(fields.Nested(ReactionSchema), dump_only=True, required=True)
    #: The host users the text ``@mentions``, as the host's mention lookup resolved them.
    mentions = fields.List(fields.Nested(MentionSchema), dump_only=True, required=True)

    def __init__(self, *, viewer: Viewer | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.own_viewer = viewer

    @property
    def viewer(self) -> Viewer | None:
        """The viewer given, else the one of :func:`seen_by`."""
        return self.own_viewer if self.own_viewer is not None else _VIEWER.get()

    @property
    def _reactor(self) -> str | None:
        viewer = self.viewer
        return None if viewer is None else reactor_key(viewer)

    def view_of(self, message: ChatMessage) -> tuple[bool, ...]:
        """What of ``message``'s dump depends on the viewer: equal views dump alike."""
        reactor = self._reactor
        mine = (reactor in r.reactors for r in details_of(message).reactions)
        return (self._is_mine(message), self._can_delete(message), *mine)

    def _is_mine(self, message: ChatMessage) -> bool:
        return self.viewer is not None and self.viewer.is_author(message)

    def _can_delete(self, message: ChatMessage) -> bool:
        return self.viewer is not None and self.viewer.may_delete(message)

    def _reactions(self, message: ChatMessage) -> list[dict[str, Any]]:
        reactor = self._reactor
        return [
            {"emoji": r.emoji, "count": r.count, "mine": reactor in r.reactors}
            for r in details_of(message).reactions
        ]

    def get_attribute(self, obj: Any, attr: str, default: Any) -> Any:
        # What readers see besides the row comes from the details read with it.
        if attr == "reply_to":
            return details_of(obj).reply_to
        if attr == "reactions":
            return self._reactions(obj)
        if attr == "mentions":
            return mentions_of(obj)
        return super().get_attribute(obj, attr, default)


class NewMessageSchema(Schema):
    """The body of ``POST /messages``: ``{"content": "…", "username": "…"}``.

    ``content`` is stripped, then must hold 1 to 1,024 characters; line breaks and tabs are kept.
    ``username`` is required when posting anonymously (``anonymous=True``) and ignored otherwise,
    since the host's identity names the author.
    """

    class Meta:
        unknown = EXCLUDE

    content = fields.String(
        required=True,
        validate=CONTENT_RULE,
        metadata={
            "pattern": CONTENT_RULE.pattern,
            "description": "1 to 1,024 characters once stripped; line breaks and tabs are kept.",
        },
    )
    reply_to = fields.Integer(
        allow_none=True,
        strict=True,
        metadata={"description": "The id of the message of the same room this one answers."},
    )
    username = fields.String(
        validate=AUTHOR_NAME_RULE,
        metadata={
            "pattern": AUTHOR_NAME_RULE.pattern,
            "description": "1 to 64 characters once stripped. Ignored for a signed-in author.",
        },
    )

    def __init__(self, *, anonymous: bool = True, **kwargs: Any) -> None:
        if not anonymous:
            kwargs["exclude"] = (*kwargs.get("exclude", ()), "username")
        super().__init__(**kwargs)
        if anonymous:
            self.fields["username"].required = True

    @pre_load
    def _normalise(self, data: Any, **kwargs: Any) -> Any:
        if not isinstance(data, dict):
            return data  # marshmallow reports the wrong type
        data = dict(data)
        if isinstance(data.get("content"), str):
            data["content"] = data["content"].replace("\r\n", "\n").strip()
        if isinstance(data.get("username"), str):
            data["username"] = data["username"].strip()
        return data


class EditSchema(Schema):
    """The body of ``PATCH /messages/<id>``: ``{"content": "…"}``, checked as a post's is."""

    class Meta:
        unknown = EXCLUDE

    content = NewMessageSchema._declared_fields["content"]

    @pre_load
    def _normalise(self, data: Any, **kwargs: Any) -> Any:
        if isinstance(data, dict) and isinstance(data.get("content"), str):
            data = {**data, "content": data["content"].replace("\r\n", "\n").strip()}
        return data


class DeletionSchema(Schema):
    """A ``delete`` event of ``GET /events``: which message, at which cursor."""

    id = fields.Integer(attribute="message_id", required=True)
    cursor = Cursor(required=True)
