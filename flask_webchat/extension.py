"""The :class:`Webchat` extension: configuration, the host's hooks, and wiring into an app."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING, Any, cast

from flask import Flask, g, has_app_context
from flask.sansio.blueprints import BlueprintSetupState
from sqlalchemy import event
from sqlalchemy.orm import object_session

from . import cli, messages, rooms
from .config import DEFAULTS, Settings
from .host_api import HostApi
from .identity import (
    DeletePermission,
    EditPermission,
    Identity,
    IdentityLoader,
    Permissions,
    PresenceHook,
    PresenceRules,
    RoomPermission,
    Viewer,
    to_identity,
)
from .messages import MessageFilter
from .models import ChatMessage, metadata
from .notifiers import Notifier, create_notifier
from .presence import PresenceHub
from .signals import Change, message_posted
from .state import WebchatState, find_state, get_state
from .transactions import after_host_commit
from .web import create_blueprint, render_widget
from .web.grip import create_publisher
from .web.ratelimit import limit_writes
from .web.session import current_viewer

if TYPE_CHECKING:
    from flask_sqlalchemy import SQLAlchemy


# Where the request's identity is kept once loaded (flask.g lives as long as the request).
_IDENTITY = "_webchat_identity"


class Webchat(HostApi):
    """The chat extension. Create it once, then call :meth:`init_app` in your app factory::

        db = SQLAlchemy()
        webchat = Webchat()

        def create_app():
            app = Flask(__name__)
            db.init_app(app)
            Session(app)
            webchat.init_app(app, db=db)
            return app

    ``Webchat(app, db=db)`` does both steps at once.
    """

    def __init__(self, app: Flask | None = None, *, db: SQLAlchemy | None = None) -> None:
        #: The chat's blueprint. It is mounted by :meth:`init_app` at ``WEBCHAT_URL_PREFIX``
        #: unless ``WEBCHAT_REGISTER_BLUEPRINT`` is false; then register it yourself.
        self.blueprint = create_blueprint()
        self.blueprint.record(_remember_mount_point)
        self._identity_loader: IdentityLoader | None = None
        #: The host's permission hooks, as the decorators below registered them.
        self.permissions = Permissions()
        #: The host's content filters, in the order :meth:`message_filter` registered them.
        self.filters: list[MessageFilter] = []
        self._mention_lookup: Callable[[str], Any] | None = None
        #: The host's presence hooks (:meth:`presence_permission`, :meth:`presence_hidden`).
        self.presence_rules = PresenceRules()
        if app is not None:
            self.init_app(app, db=db)

    def init_app(self, app: Flask, *, db: SQLAlchemy | None = None) -> None:
        """Configure ``app`` for the chat, using the host's Flask-SQLAlchemy ``db``.

        Reads the ``WEBCHAT_*`` keys (setting their defaults), makes ``db.create_all()`` and
        ``db.drop_all()`` include the chat's tables, adds the ``flask webchat`` commands and,
        unless ``WEBCHAT_REGISTER_BLUEPRINT`` is false, mounts the blueprint. Initialise the
        host's Flask-Limiter first, if it has one, so that the chat's rate limit uses it.
        """
        if db is None:
            raise TypeError("Webchat.init_app needs the app's Flask-SQLAlchemy object: db=db.")
        if "webchat" in app.extensions:
            raise RuntimeError("Webchat is already initialised on this app.")
        for key, value in DEFAULTS.items():
            app.config.setdefault(key, value)
        settings = Settings.from_config(app.config)
        notifier = create_notifier(
            settings.notifier,
            url=settings.notifier_url,
            database_url=lambda: _database_url(app, db),
        )
        if settings.grip_url is not None:
            notifier.edge = create_publisher(settings, database_url=_database_url(app, db))
        state = WebchatState(extension=self, app=app, db=db, settings=settings, notifier=notifier)
        state.presence = PresenceHub(
            notifier,
            grace=settings.presence_grace,
            interval=settings.presence_heartbeat,
            limit=settings.presence_limit,
            secret=_presence_secret(app),
        )
        app.extensions["webchat"] = state
        state.rate_limiter = limit_writes(app, self.blueprint, settings)
        _include_tables_in(db)
        if not event.contains(ChatMessage, "before_insert", _position_host_insert):
            event.listen(ChatMessage, "before_insert", _position_host_insert)
        app.cli.add_command(cli.webchat_group)
        app.add_template_global(render_widget, "webchat_widget")
        if settings.register_blueprint:
            app.register_blueprint(self.blueprint, url_prefix=settings.url_prefix)

    def identity_loader(self, callback: IdentityLoader) -> IdentityLoader:
        """Decorate the function that tells the chat who the current user is.

        It takes no arguments and returns ``None`` (nobody signed in), a user object with an
        ``id`` (or ``get_id()``) and a display name, or a string used as both. With Flask-Login,
        ``return current_user`` is enough. Messages posted by an identified user carry that
        user's name, whatever the request body says.
        """
        self._identity_loader = callback
        return callback

    def delete_permission(self, callback: DeletePermission) -> DeletePermission:
        """Decorate ``(message, identity) -> bool``, asked whether a non-author may delete.

        Authors may always delete their own messages; return ``True`` here to let others
        (moderators, say) delete too. ``identity.user`` is the object your identity loader
        returned. It is also asked for every message a reader receives, to fill
        ``can_delete``, so keep it cheap: decide from the identity, not with a query.
        """
        self.permissions = replace(self.permissions, delete=callback)
        return callback

    def read_permission(self, callback: RoomPermission) -> RoomPermission:
        """Decorate ``(room, identity) -> bool``: may this identity read this room?

        Asked on every page load, poll, event stream, history page and room listing; ``False``
        answers 403 ``forbidden`` (and leaves the room out of ``GET /rooms``). ``identity`` is
        ``None`` for someone not signed in. Without this hook everyone may read every room.
        """
        self.permissions = replace(self.permissions, read=callback)
        return callback

    def post_permission(self, callback: RoomPermission) -> RoomPermission:
        """Decorate ``(room, identity) -> bool``: may this identity post to this room?

        ``False`` answers 403 ``forbidden``. Without this hook everyone who may post at all
        (see :data:`WEBCHAT_ALLOW_ANONYMOUS`) may post to every room they may read.
        """
        self.permissions = replace(self.permissions, post=callback)
        return callback

    def moderator_permission(self, callback: RoomPermission) -> RoomPermission:
        """Decorate ``(room, identity) -> bool``: may this identity delete any message there?

        Asked once per request for the room at hand; a moderator sees ``can_delete`` on every
        message of the room and may delete each one.
        """
        self.permissions = replace(self.permissions, moderate=callback)
        return callback

    def edit_permission(self, callback: EditPermission) -> EditPermission:
        """Decorate ``(message, identity) -> bool | None``: may this identity edit this message?

        ``True`` allows (a moderator, say, or an author past ``WEBCHAT_EDIT_WINDOW``), ``False``
        refuses (403), ``None`` leaves it to the chat's rule: authors, within
        ``WEBCHAT_EDIT_WINDOW`` seconds of posting.
        """
        self.permissions = replace(self.permissions, edit=callback)
        return callback

    def mention_lookup(self, callback: Callable[[str], Any]) -> Callable[[str], Any]:
        """Decorate ``(name) -> user | None``: who ``@name`` in a posted message is.

        Return anything the identity loader may return (a user object, a string), or ``None``
        for nobody. A message carries the users found as ``mentions``, and each one is sent
        :data:`~flask_webchat.signals.user_mentioned` once the post commits, so that you can
        notify them. Asked once per distinct ``@name`` of each post and edit.
        """
        self._mention_lookup = callback
        return callback

    def lookup_mention(self, name: str) -> Identity | None:
        """The identity ``@name`` mentions, by the host's :meth:`mention_lookup` (``None``
        without one)."""
        if self._mention_lookup is None:
            return None
        return to_identity(self._mention_lookup(name), get_state().settings.user_name_attribute)

    def presence_permission(self, callback: PresenceHook) -> PresenceHook:
        """Decorate ``(room, identity) -> bool``: may this identity see who is in this room?

        ``False`` answers ``GET /presence`` with 403 ``forbidden`` and leaves ``presence`` out
        of polls and ``presence`` and ``typing`` events out of event streams. Asked only of
        readers who may read the room; without this hook, all of them may see it.
        """
        self.presence_rules = replace(self.presence_rules, see=callback)
        return callback

    def presence_hidden(self, callback: PresenceHook) -> PresenceHook:
        """Decorate ``(room, identity) -> bool``: leave this identity out of the room's
        presence?

        A hidden reader is neither listed nor counted, on any process (``identity`` is ``None``
        for a guest, to hide guests). Asked when a reader opens a stream or polls.
        """
        self.presence_rules = replace(self.presence_rules, hide=callback)
        return callback

    def message_filter(self, callback: MessageFilter) -> MessageFilter:
        """Decorate ``(content, room, identity) -> str``, which sees every message before it is
        stored.

        Return the text to store (masked words, say), or raise
        :class:`~flask_webchat.MessageRejected` with a reason to refuse the message: the HTTP
        API answers 422 ``message_rejected`` with that reason, and the Python API raises it.
        It runs for every way of posting (HTTP, :meth:`post_message`, ``flask webchat post``),
        after validation, before the room is locked; several filters run in the order they
        were registered, each given the previous one's text. ``identity`` is ``None`` for an
        anonymous or system message.
        """
        self.filters.append(callback)
        return callback

    def current_identity(self, *, reload: bool = False) -> Identity | None:
        """The identity of the current request's user, as the chat sees it.

        The host's loader runs once per request: the rate limit, the permission checks and the
        view all ask, and a loader may well query the database. ``reload`` runs it again, for
        a streamed answer, which outlives the ``db.session`` the first load used.
        """
        if self._identity_loader is None:
            return None
        if reload or _IDENTITY not in g:
            loaded = to_identity(self._identity_loader(), get_state().settings.user_name_attribute)
            setattr(g, _IDENTITY, loaded)
        return getattr(g, _IDENTITY)  # type: ignore[no-any-return]

    def current_viewer(self, *, reload: bool = False) -> Viewer:
        """The current reader: identity, browser session, and what they may delete.

        Reading never writes the session; :meth:`Viewer.remembered` makes the reader key when
        the chat must remember this browser. ``reload`` loads the identity again.
        """
        return current_viewer(reload=reload)


def _remember_mount_point(setup: BlueprintSetupState) -> None:
    state = find_state(cast(Flask, setup.app))
    if state is None:
        raise RuntimeError(
            "Call webchat.init_app(app, db=db) before registering the webchat blueprint."
        )
    state.mount_points.append(setup.url_prefix or "/")
    state.blueprint_names.append(setup.name)


def _presence_secret(app: Flask) -> bytes:
    # Member keys are a keyed hash of who is present: every process of a site must agree on
    # the key, so it comes from the site's secret (a site without one still gets stable keys).
    secret = app.secret_key or "webchat-presence"
    return (secret if isinstance(secret, bytes) else str(secret).encode()) + b"/presence"


def _database_url(app: Flask, db: SQLAlchemy) -> Any:
    with app.app_context():
        return db.engine.url


def _position_host_insert(mapper: Any, connection: Any, message: ChatMessage) -> None:
    # A ChatMessage the host added to db.session itself: take its room position now (or fail
    # the flush), and announce it once the host's transaction commits. Without an app here,
    # nobody is woken, but the readers' fallback check still finds it.
    room = messages.position_added_message(connection, message)
    state = find_state() if has_app_context() else None
    session = object_session(message)
    if state is None or session is None:
        return
    notifier, position = state.notifier, message.seq
    change = Change(message_posted, message, room)
    if type(notifier).before_commit is not Notifier.before_commit:
        # A transactional announcement (PostgreSQL's NOTIFY) cannot be made mid-flush: make it
        # in a transaction of its own once the message has committed.
        def announce() -> None:
            notifier.before_commit(session, room, position)
            session.commit()
            rooms.announce(session, notifier, room, position, (change,), state.app)
    else:

        def announce() -> None:
            rooms.announce(session, notifier, room, position, (change,), state.app)

    after_host_commit(session, announce)


def _include_tables_in(db: SQLAlchemy) -> None:
    # The chat's tables have their own MetaData (see models.py); following the host's create_all
    # and drop_all keeps "db.create_all()" the one call a host makes.
    if not event.contains(db.metadata, "after_create", _create_chat_tables):
        event.listen(db.metadata, "after_create", _create_chat_tables)
        event.listen(db.metadata, "before_drop", _drop_chat_tables)


def _create_chat_tables(target: Any, connection: Any, **kw: Any) -> None:
    metadata.create_all(connection, checkfirst=True)


def _drop_chat_tables(target: Any, connection: Any, **kw: Any) -> None:
    metadata.drop_all(connection, checkfirst=True)
