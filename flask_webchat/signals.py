"""Signals host code connects to: a message was posted, a message was deleted.

Both are `blinker <https://blinker.readthedocs.io>`_ signals, the library Flask's own signals use.
The sender is the Flask app; receivers get keyword arguments ``message`` (the
:class:`~flask_webchat.models.ChatMessage`, detached: its columns are loaded, and for a deletion
they are the message as it was), ``room`` (the room's name) and ``identity`` (the
:class:`~flask_webchat.Identity` that posted or deleted, ``None`` for an anonymous reader, a
system message or the host acting as itself)::

    from flask_webchat.signals import message_posted

    @message_posted.connect_via(app)
    def tell_support(app, message, room, identity):
        if room == "support":
            send_mail("support@example.com", f"New message from {message.username}")

A signal is sent once per committed change, after the commit, whichever way the change was made:
the HTTP API, :class:`~flask_webchat.Webchat`'s Python API, the ``flask webchat`` commands, or a
purge. A change that rolls back sends nothing. A receiver that raises is logged (logger
``flask_webchat.signals``) and the other receivers still run; the write stands.

This module is part of the Flask-free core: the caller passes the sender.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from blinker import NamedSignal, Namespace

if TYPE_CHECKING:
    from .identity import Identity
    from .models import ChatMessage

__all__ = [
    "Change",
    "message_deleted",
    "message_edited",
    "message_posted",
    "reaction_changed",
    "send",
    "user_mentioned",
]

_signals = Namespace()
logger = logging.getLogger(__name__)

#: Sent after a message was posted and committed: ``(app, message=, room=, identity=)``.
message_posted: NamedSignal = _signals.signal(
    "webchat.message-posted", doc="A message was posted (sent after the commit)."
)
#: Sent after a message was deleted (by a reader, a moderator, host code or a purge) and the
#: deletion committed: ``(app, message=, room=, identity=)``.
message_deleted: NamedSignal = _signals.signal(
    "webchat.message-deleted", doc="A message was deleted (sent after the commit)."
)

#: Sent after a message's content was edited and committed: ``(app, message=, room=,
#: identity=)``, ``message`` as edited.
message_edited: NamedSignal = _signals.signal(
    "webchat.message-edited", doc="A message was edited (sent after the commit)."
)
#: Sent after a reaction was added or removed and committed: ``(app, message=, room=,
#: identity=, emoji=, added=)``.
reaction_changed: NamedSignal = _signals.signal(
    "webchat.reaction-changed", doc="A reaction was added or removed (sent after the commit)."
)
#: Sent once per user a committed post ``@mentions``, after the commit: ``(app, message=,
#: room=, identity=, user=)``, ``user`` the mentioned :class:`~flask_webchat.Identity` (its
#: ``.user`` is what the host's mention lookup returned), ``identity`` the poster's.
user_mentioned: NamedSignal = _signals.signal(
    "webchat.user-mentioned", doc="A post mentioned a user (sent after the commit)."
)


@dataclass(frozen=True)
class Change:
    """One committed change to announce: which signal, and its keyword arguments."""

    signal: NamedSignal
    message: ChatMessage
    room: str
    identity: Identity | None = None
    #: More keyword arguments for the receivers (``user=`` of a mention, say).
    extra: Mapping[str, Any] = field(default_factory=dict)


def send(sender: Any, changes: Iterable[Change]) -> None:
    """Send each change's signal from ``sender``, one receiver at a time.

    A receiver that raises is logged, and the next one still runs: the change has committed
    whatever a receiver does, so its failure must not turn a successful write into an error.
    """
    for change in changes:
        if not change.signal.receivers:
            continue
        for receiver in change.signal.receivers_for(sender):
            try:
                receiver(
                    sender,
                    message=change.message,
                    room=change.room,
                    identity=change.identity,
                    **change.extra,
                )
            except Exception:
                logger.exception("webchat: a %s receiver failed (%r)", change.signal.name, receiver)
