"""The :class:`Webchat` extension: configuration, the host's hooks, and wiring into an app."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Any

from flask import Flask, g
from flask.sansio.blueprints import BlueprintSetupState
from sqlalchemy import event

from . import cli
from .config import DEFAULTS, Settings
from .identity import (
    DeletePermission,
    Identity,
    IdentityLoader,
    Permissions,
    RoomPermission,
    Viewer,
    to_identity,
)
from .models import metadata
from .notifiers import create_notifier
from .state import WebchatState, get_state
from .web import create_blueprint, render_widget
from .web.grip import create_publisher
from .web.ratelimit import limit_writes
from .web.session import current_viewer

if TYPE_CHECKING:
    from flask_sqlalchemy import SQLAlchemy


# Where the request's identity is kept once loaded (flask.g lives as long as the request).
_IDENTITY = "_webchat_identity"


class Webchat:
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
        state = WebchatState(extension=self, db=db, settings=settings, notifier=notifier)
        app.extensions["webchat"] = state
        state.rate_limiter = limit_writes(app, self.blueprint, settings)
        _include_tables_in(db)
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
    state = setup.app.extensions.get("webchat")
    if state is None:
        raise RuntimeError(
            "Call webchat.init_app(app, db=db) before registering the webchat blueprint."
        )
    state.mount_points.append(setup.url_prefix or "/")
    state.blueprint_names.append(setup.name)


def _database_url(app: Flask, db: SQLAlchemy) -> Any:
    with app.app_context():
        return db.engine.url


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
