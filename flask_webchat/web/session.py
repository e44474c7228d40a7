"""The one place that touches the Flask session: the browser's reader key, and the viewer.

The chat stores one value in the host's session, a random *reader key*, written once and never
changed. Session backends save the whole session at the end of every request, so a value that
changes can be overwritten by an overlapping request that loaded it earlier; a value that never
changes cannot. Everything that moves (stream positions) lives in the database, keyed by it.
Reading never writes the session: the key is made only when the chat must remember the browser.

One overlap remains: the key's first write. A request that loaded the session before the key
existed (a long-poll, a host page) would save it back without it, and the browser would lose the
authorship of what it just posted. So a request that opened the session without the key takes
it from the store just before saving; and a chat request that changed nothing saves nothing, even
where the store saves every session on every request (Flask-Session's
``SESSION_REFRESH_EACH_REQUEST``), since between that look and that save the key can still come.
"""

from __future__ import annotations

import secrets
from typing import Any

from flask import Flask, Response, current_app, g, request, session

from .. import rooms
from ..identity import Viewer
from ..state import find_state, get_state

SESSION_KEY = "webchat_reader"


def reader_key(*, create: bool) -> str | None:
    """This browser session's reader key; with ``create``, make one if there is none yet."""
    key = session.get(SESSION_KEY)
    if key is None and create:
        key = session[SESSION_KEY] = upcoming_reader_key()
    return key


def upcoming_reader_key() -> str:
    """The reader key this request gives a browser it must remember, decided once per request.

    Nothing is stored until :func:`reader_key` creates it, but the rate limit can already count
    a first post for the writer it makes: the browser holding this key.
    """
    if "webchat_upcoming_reader" not in g:
        g.webchat_upcoming_reader = secrets.token_urlsafe(24)
    return str(g.webchat_upcoming_reader)


def _make_reader_key() -> str:
    key = reader_key(create=True)
    assert key is not None
    return key


def current_viewer(*, reload: bool = False) -> Viewer:
    """The current request's reader: identity, reader key, and the host's permission hooks.

    ``reload`` loads the identity again (for a streamed answer, which outlives ``db.session``).
    """
    extension = get_state().extension
    return Viewer(
        identity=extension.current_identity(reload=reload),
        reader_key=reader_key(create=False),
        permissions=extension.permissions,
        make_reader_key=_make_reader_key,
    )


def reload_session() -> None:
    """Load the current request's session again from the host's store (a long stream's view).

    With a server-side store (Flask-Session), a logout in another request shows here; a signed
    cookie session cannot change under a request that already has its cookie.
    """
    fresh = current_app.session_interface.open_session(current_app, request)
    if fresh is not None:
        # In place: the answer (and with it the session's save) went out long ago.
        session.clear()
        session.update(fresh)


def enter_room(room: str | None) -> tuple[str, Viewer]:
    """The room a URL names (``None``: the default room) and the current reader in it.

    Refuses a room that may not exist (404) and a reader who may not read it (403).
    """
    state = get_state()
    name = rooms.require_room(room, state.settings)
    viewer = current_viewer()
    viewer.require_read(name)
    return name, viewer.in_room(name)


class _SavesThatCannotUndoTheChat:
    """The host's session interface, except that a save neither fails a chat answer nor
    drops a reader key that an overlapping request wrote.

    Flask saves the session after the view, once the chat's work has committed: a session store
    that fails then (Redis down or full) would turn a stored and delivered post into a 500, which
    the sender retries. The chat's only session value is the reader key, so its answers stand
    without the save: the failure is logged, and the browser simply goes unremembered.
    """

    def __init__(self, host: Any) -> None:
        self.host = host

    def __getattr__(self, name: str) -> Any:
        return getattr(self.host, name)

    def open_session(self, app: Flask, request: Any) -> Any:
        opened = self.host.open_session(app, request)
        if opened is not None:
            g.webchat_opened_without_key = SESSION_KEY not in opened
        return opened

    def save_session(self, app: Flask, session: Any, response: Response) -> None:
        try:
            if SESSION_KEY not in session and g.get("webchat_opened_without_key"):
                if not getattr(session, "modified", True) and self._is_the_chats(app):
                    # Unchanged, yet saved by a store that refreshes each request: saving could
                    # only write back a session older than a key made meanwhile.
                    return
                if session:
                    self._keep_stored_key(app, session)
            self.host.save_session(app, session, response)
        except Exception:
            if not self._is_the_chats(app):
                raise
            app.logger.warning("webchat: the session was not saved", exc_info=True)

    @staticmethod
    def _is_the_chats(app: Flask) -> bool:
        return request.blueprint in find_state(app).blueprint_names  # type: ignore[union-attr]

    def _keep_stored_key(self, app: Flask, session: Any) -> None:
        # A server-side store has the key if another request made it meanwhile; with a signed
        # cookie this reads the request's own cookie again, which has none.
        stored = self.host.open_session(app, request)
        key = stored.get(SESSION_KEY) if stored is not None else None
        if key is not None:
            session[SESSION_KEY] = key


def guard_session_saves(app: Flask | None = None) -> None:
    """Wrap the app's session interface once: at registration, and again before each request,
    since the host may set its session backend after mounting the chat."""
    app = app or current_app
    if not isinstance(app.session_interface, _SavesThatCannotUndoTheChat):
        app.session_interface = _SavesThatCannotUndoTheChat(  # type: ignore[assignment]
            app.session_interface
        )
