"""What one app knows about its chat, kept in ``app.extensions["webchat"]``."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, cast

from flask import Flask, current_app
from sqlalchemy.orm import Session

from .config import Settings
from .messages import WriteContext
from .notifiers import Notifier
from .presence import PresenceHub
from .sharing import SharedReads

if TYPE_CHECKING:
    from flask_sqlalchemy import SQLAlchemy

    from .extension import Webchat


@dataclass
class WebchatState:
    """The extension, the host's ``db`` and the settings of one app."""

    extension: Webchat
    #: The app itself: the sender of the chat's signals.
    app: Flask
    db: SQLAlchemy
    settings: Settings
    #: Wakes the requests that wait for a room's next event (``WEBCHAT_NOTIFIER``).
    notifier: Notifier
    #: URL prefixes the blueprint is registered at, to answer routing errors there as JSON.
    mount_points: list[str] = field(default_factory=list)
    #: The names the blueprint is registered under (``webchat`` unless the host renamed it).
    blueprint_names: list[str] = field(default_factory=list)
    #: The OpenAPI document, built on first request, per mount point.
    openapi_documents: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: The Flask-Limiter ``Limiter`` counting posts and deletes, if rate limits are on.
    rate_limiter: Any = None
    #: Who is in each room, across processes, and who is typing (see :mod:`.presence`).
    presence: PresenceHub | None = None
    #: Reads of a room's range shared by the readers woken together (see :mod:`.sharing`).
    shared_reads: SharedReads = field(default_factory=SharedReads)

    @property
    def session(self) -> Session:
        """The host's ``db.session``, typed as the session the core takes.

        It stays Flask-SQLAlchemy's scoped proxy, which stands for the session of whatever app
        context is current: an event stream outlives its request's session, and each of its
        later reads must reach the session of its own moment, not the one closed at teardown.
        """
        return cast(Session, self.db.session)

    def write_context(self) -> WriteContext:
        """What the chat's writes need from this app: ``db.session``, the settings, the
        notifier, the host's filters and mention lookup, and the app as the signals' sender."""
        extension = self.extension
        return WriteContext(
            session=self.session,
            settings=self.settings,
            notifier=self.notifier,
            sender=self.app,
            filters=extension.filters,
            lookup=extension.lookup_mention,
        )

    def is_chat_path(self, path: str) -> bool:
        """Whether ``path`` falls under one of the blueprint's mount points."""
        return any(path == p or path.startswith(p.rstrip("/") + "/") for p in self.mount_points)


def find_state(app: Flask | None = None) -> WebchatState | None:
    """The chat state of ``app`` (by default the current app), or ``None`` without a chat."""
    return (app or current_app).extensions.get("webchat")


def get_state(app: Flask | None = None) -> WebchatState:
    """The chat state of ``app`` (by default the current app); fails clearly without one."""
    state = find_state(app)
    if state is None:
        raise RuntimeError("Webchat is not initialised on this app: call webchat.init_app(app).")
    return state
