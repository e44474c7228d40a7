"""The Python API host code calls: the same core functions as the HTTP routes.

:class:`~flask_webchat.Webchat` inherits these methods; :doc:`host-api` documents them with
examples. Each needs only an app context, and raises the HTTP API's errors.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from flask import has_request_context

from . import details, editing, messages, rooms, unread
from . import rooms as chat_rooms
from .batches import Batch
from .errors import ValidationFailed
from .identity import Permissions, Viewer, to_identity
from .models import ChatMessage
from .state import get_state
from .streams import Reader
from .unread import Unread
from .web.session import current_viewer


class HostApi:
    """Posting, editing, deleting and reading from host code, as a user or as the site."""

    #: Set by :class:`~flask_webchat.Webchat`: its permission hooks, which every call obeys
    #: (its filters and mention lookup come with the app's write context).
    permissions: Permissions

    def post_message(
        self,
        content: str,
        *,
        room: str | None = None,
        user: Any = None,
        system: bool = False,
        username: str | None = None,
        commit: bool = True,
    ) -> ChatMessage:
        """Post a message from host code, exactly as ``POST /messages`` would, and return it.

        As the host ``user`` (anything the identity loader may return; the post permission
        hook is asked), as a system message (``system=True``: no author, shown as a notice),
        or anonymously under ``username``. Needs only an app context: a CLI command, a worker
        thread or a task-queue job can post. Waiting readers on any process get the message at
        once with the ``'redis'`` or ``'postgres'`` notifier; with ``'memory'``, those of other
        processes within ``WEBCHAT_FALLBACK_POLL``. ``room`` defaults to ``WEBCHAT_DEFAULT_ROOM``::

            webchat.post_message("Deploy finished", system=True)
            webchat.post_message("I'm on it", user=current_user, room="support")

        By default the post commits ``db.session`` (with whatever the host had added to it),
        as an HTTP post does. With ``commit=False`` it joins the host's transaction instead:
        the room stays locked until the host commits, and readers and signal receivers hear of
        the message only then; a rollback discards it unannounced.

        Raises a :class:`~flask_webchat.WebchatError` (the HTTP API's code and fields) and
        stores nothing when the input is invalid, a filter refuses it, or the user may not post.
        """
        if system and (user is not None or username is not None):
            raise TypeError("A system message has no author: pass neither user nor username.")
        state = get_state()
        name = rooms.require_room(room, state.settings)
        identity = to_identity(user, state.settings.user_name_attribute)
        body: dict[str, Any] = {"content": content}
        if username is not None:
            body["username"] = username
        return messages.post_message(
            state.write_context(),
            room=name,
            viewer=Viewer(identity=identity, reader_key=None, permissions=self.permissions),
            body=body,
            check=identity is not None,  # a guest's name or a notice: the host posts as itself
            system=system,
            join=not commit,
        )

    def delete_message(self, message_id: int, *, user: Any = None) -> ChatMessage:
        """Delete a message from host code, as ``DELETE /messages/<id>`` would; return it as
        it was.

        With a ``user``, only if that user may delete it (author, moderator, delete hook);
        without one, the host deletes as itself and nothing is asked. Every reader sees the
        message go. Raises :class:`~flask_webchat.errors.MessageNotFound` for an unknown id and
        :class:`~flask_webchat.errors.Forbidden` when the user may not.
        """
        viewer = None if user is None else self._viewer_for(user)
        return messages.delete_message(
            get_state().write_context(), message_id=message_id, viewer=viewer
        )

    def edit_message(self, message_id: int, content: str, *, user: Any = None) -> ChatMessage:
        """Edit a message from host code, as ``PATCH /messages/<id>`` would; return it edited.

        With a ``user``, only if that user may edit it (its author within
        ``WEBCHAT_EDIT_WINDOW``, or as :meth:`edit_permission` decides); without one, the host
        edits as itself. Every reader gets the message's new state as an update event, and
        :data:`~flask_webchat.signals.message_edited` is sent after the commit.
        """
        viewer = None if user is None else self._viewer_for(user)
        return editing.edit_message(
            get_state().write_context(),
            message_id=message_id,
            viewer=viewer,
            body={"content": content},
        )

    def get_message(self, message_id: int) -> ChatMessage:
        """The message with this id; :class:`~flask_webchat.errors.MessageNotFound` if none.

        Its reactions and quote come with it, so ``MessageSchema().dump()`` shows them.
        """
        session = get_state().session
        message = messages.get_message(session, message_id)
        details.attach(session, [message])
        return message

    def read_messages(
        self, room: str | None = None, *, after: int | None = None, limit: int | None = None
    ) -> Batch:
        """The room's events after cursor ``after`` (default: from the start), as a poll
        gets them.

        A :class:`~flask_webchat.batches.Batch`: ``messages``, ``deleted`` ids, ``updated``
        messages (edited, reacted to, their parent changed; each in its current state), and the
        ``cursor`` to pass as ``after`` next time, so that host code relaying the chat elsewhere
        sees every event exactly once. At most ``limit`` events (default and ceiling:
        ``WEBCHAT_POLL_LIMIT``); ``more`` says when others already wait::

            batch = webchat.read_messages("support", after=saved_cursor)
            for message in batch.messages:
                relay(message.username, message.content)
            saved_cursor = batch.cursor
        """
        state = get_state()
        ceiling = state.settings.poll_limit
        if limit is not None and limit < 1:
            raise ValidationFailed({"limit": ["Must be greater than or equal to 1."]})
        if after is not None and after < 0:
            raise ValidationFailed({"after": ["Not a valid cursor."]})
        reader = Reader(
            session=state.session,
            settings=state.settings,
            room=rooms.require_room(room, state.settings),
            limit=min(limit or ceiling, ceiling),
        )
        return reader.read(after or 0)

    def unread_counts(
        self, user: Any = None, *, rooms: Iterable[str] | None = None
    ) -> dict[str, Unread]:
        """How many messages wait unread for ``user`` in each room, by room name.

        For the host's own navigation, such as a "Chat (3)" link::

            counts = webchat.unread_counts(current_user)
            waiting = sum(unread.count for unread in counts.values())

        Each :class:`~flask_webchat.unread.Unread` has the ``count`` (messages after the
        user's read position that others wrote), ``capped`` (there are more than
        ``WEBCHAT_UNREAD_LIMIT``) and a ``label`` ("3", "100+"). ``user`` is anything the
        identity loader may return; without one, in a request, the current reader (signed in
        or by browser session). ``rooms`` defaults to every room ``GET /rooms`` lists; rooms the
        user may not read are left out either way. Nothing is written.
        """
        state = get_state()
        if user is not None:
            viewer = self._viewer_for(user)
        elif has_request_context():
            viewer = current_viewer()
        else:
            raise TypeError("Outside a request, unread_counts() needs the user to count for.")
        if rooms is None:
            names = unread.listed_rooms(state.session, state.settings)
        else:
            names = [chat_rooms.require_room(name, state.settings) for name in rooms]
        readable = [name for name in names if viewer.may_read(name)]
        return unread.unread_counts(
            state.session, viewer, readable, limit=state.settings.unread_limit
        )

    def _viewer_for(self, user: Any) -> Viewer:
        """The chat's view of a host ``user`` (anything the identity loader may return)."""
        identity = to_identity(user, get_state().settings.user_name_attribute)
        return Viewer(identity=identity, reader_key=None, permissions=self.permissions)
