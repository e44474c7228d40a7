"""Presence and typing over HTTP: ``GET /presence``, ``POST /typing``, and what readers count.

The core (:mod:`flask_webchat.presence`) keeps who is here; this module decides who a request
is (a signed-in user by id, a guest by the browser's reader key or the stream it names) and what
the host's presence hooks allow it.
"""

from __future__ import annotations

import logging
import math
import secrets
from typing import Any, NamedTuple

from flask import Response, jsonify

from ..errors import Forbidden, RateLimited
from ..i18n import N_
from ..identity import Viewer
from ..presence import Member, PresenceHub, Summary
from ..schemas import HereSchema, PresenceSchema, TypingSchema, load
from ..state import WebchatState, get_state
from .errors import error_response
from .requests import json_body
from .session import enter_room

logger = logging.getLogger("flask_webchat.presence")
_PRESENCE = PresenceSchema()
_HERE = HereSchema()
_TYPING = TypingSchema()
_TOO_OFTEN = N_("Wait a moment before saying again that you are typing.")


def hub(state: WebchatState) -> PresenceHub:
    """The app's presence hub (made by ``init_app``)."""
    assert state.presence is not None
    return state.presence


def may_see(state: WebchatState, room: str, viewer: Viewer) -> bool:
    """Whether the host's hook lets ``viewer`` see who is in ``room`` (and who types)."""
    return state.extension.presence_rules.may_see(room, viewer.identity)


def member(
    state: WebchatState, room: str, viewer: Viewer, *, token: str | None = None
) -> Member | None:
    """Who ``viewer`` counts as in ``room``; ``None``: not counted (hidden, or unknowable).

    A signed-in user is one member however many tabs; a guest is one per browser (reader key)
    or, without one, per stream token. A reader with neither is counted only while it holds an
    event stream (see :func:`connection_member`).
    """
    if state.extension.presence_rules.hidden(room, viewer.identity):
        return None
    presence = hub(state)
    if viewer.identity is not None:
        return Member(presence.key("user:" + viewer.identity.id), viewer.identity.name)
    if viewer.reader_key is not None:
        return Member(presence.key("reader:" + viewer.reader_key), None)
    if token is not None:
        return Member(presence.key("stream:" + token), None)
    return None


class Seat(NamedTuple):
    """Who an event stream counts as (``None``: nobody), the key it replaces, if any, and
    whether it stays present for the grace period once closed (a one-connection key does not:
    nobody can come back under it)."""

    member: Member | None
    replaces: str | None = None
    lingers: bool = True


def connection_member(
    state: WebchatState, room: str, viewer: Viewer, presence_id: str | None = None
) -> Seat:
    """Who an event stream counts as: a cookie-less guest is one per ``presence_id`` (the
    client's own random name for itself while it has no session), or else per connection.

    A stream with a session that gives the ``presence_id`` it used before replaces that guest:
    the client's first post made the session and it reopened its stream, and its old stream,
    which the server notices closed only when it next writes to it, would count it twice.
    """
    if viewer.identity is None and viewer.reader_key is None:
        if state.extension.presence_rules.hidden(room, None):
            return Seat(None)
        if presence_id:
            return Seat(Member(hub(state).key("client:" + presence_id), None))
        return Seat(Member(hub(state).key("connection:" + secrets.token_hex(8)), None), None, False)
    return Seat(member(state, room, viewer), replaced_guest(state, viewer, presence_id))


def replaced_guest(state: WebchatState, viewer: Viewer, presence_id: str | None) -> str | None:
    """The guest a request with a session replaces: the one its ``presence_id`` named while
    the client had no session (``None``: none). A poll between the first post and the
    reopened stream replaces it too, or it would count the reader a second time meanwhile."""
    if not presence_id or (viewer.identity is None and viewer.reader_key is None):
        return None
    return hub(state).key("client:" + presence_id)


def touch(state: WebchatState, room: str, viewer: Viewer, token: str | None) -> None:
    """Count a poll's reader present for the grace period."""
    found = member(state, room, viewer, token=token)
    if found is not None:
        hub(state).touch(room, found)


def poll_field(state: WebchatState, room: str, viewer: Viewer) -> dict[str, Any] | None:
    """The ``presence`` a poll answer carries, or ``None`` if the hook says no."""
    if not may_see(state, room, viewer):
        return None
    return _PRESENCE.dump(hub(state).summary(room))  # type: ignore[no-any-return]


def get_presence(room: str | None) -> Response:
    """Who is in the room now: signed-in users by name, and the number of guests."""
    state = get_state()
    name, viewer = enter_room(room)
    if not may_see(state, name, viewer):
        raise Forbidden(N_("You may not see who is in this room."))
    summary: Summary = hub(state).summary(name)
    return jsonify(_HERE.dump({"room": name, **summary.as_dict()}))


def post_typing(room: str | None) -> Response | tuple[str, int]:
    """Tell the room's other readers that this one is typing; stored nowhere."""
    state = get_state()
    settings = state.settings
    name, viewer = enter_room(room)
    viewer.require_post(name, allow_anonymous=settings.allow_anonymous)
    body = load(_TYPING, json_body(settings.max_body))
    if viewer.identity is not None:
        shown = viewer.identity.name
    else:
        # A guest types under the name they post under; a browser is known by its reader key,
        # kept in the session (never in the database), so that its own streams skip its typing.
        viewer = viewer.remembered()
        shown = body.get("username") or ""
    typist = member(state, name, viewer)
    if typist is None:
        return "", 204  # hidden from the room's presence: typing would show them
    presence = hub(state)
    wait = presence.may_type(f"{name} {typist.key}", settings.typing_interval)
    if wait:
        response = error_response(RateLimited.status, RateLimited.code, _TOO_OFTEN)
        response.headers["Retry-After"] = str(max(1, math.ceil(wait)))
        return response
    presence.typing(name, typist, shown)
    return "", 204


def stopped_typing(state: WebchatState, room: str, viewer: Viewer, name: str) -> None:
    """After a post: its author, shown as ``name``, is no longer typing there.

    Never raises: the post has committed, and a failing hook must not turn it into an error.
    """
    try:
        typist = member(state, room, viewer)
        if typist is not None:
            hub(state).typing(room, typist, name, on=False)
    except Exception:
        logger.exception("webchat: could not clear the author's typing")
