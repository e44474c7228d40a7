"""The chat page, and the widget a host drops into its own pages."""

from __future__ import annotations

import secrets
from typing import Any

from flask import Response, make_response, render_template, request, url_for
from markupsafe import Markup

from .. import i18n, streams
from ..identity import Viewer
from ..models import CONTENT_MAX_LENGTH
from ..state import WebchatState, get_state
from .locale import client_strings, current_locale
from .locale import template_gettext as gettext
from .reading import unread_on_page
from .session import enter_room


def chat_page(room: str | None) -> Response:
    """The chat page of a room; a load opens a reader stream for the tab of a known browser."""
    assert request.blueprint is not None
    context = widget_context(request.blueprint, room)
    response = make_response(render_template("webchat/chat.html", webchat=context, _=gettext))
    response.headers["Content-Language"] = context["lang"]
    response.vary.add("Accept-Language")
    return response


def render_widget(room: str | None = None) -> Markup:
    """The chat, ready to drop into a host's own page: ``{{ webchat_widget() }}``.

    ``room`` names the room (``{{ webchat_widget("support") }}``); by default, the default
    room. Like a load of the chat page, each call opens a reader stream for that page when the
    browser is one the chat knows, which commits ``db.session``: render it after the view's own
    changes are committed. A first visit stores nothing (the page reads by cursor). The widget
    brings its style sheet and script; under a Content-Security-Policy they are same-origin files.
    """
    state = get_state()
    if not state.blueprint_names:
        raise RuntimeError("webchat_widget() needs the chat's blueprint to be registered.")
    context = widget_context(state.blueprint_names[0], room)
    return Markup(render_template("webchat/widget.html", webchat=context, _=gettext))


def widget_context(blueprint_name: str, room: str | None = None) -> dict[str, Any]:
    """What the widget template needs: a new stream for the page, or the cursor it reads from."""
    state = get_state()
    name, viewer = enter_room(room)
    token = None
    after = None
    # A browser the chat knows gets its tab's stream with the page. Any other (a first visit, a
    # bot) is stored nothing: its page reads on by cursor, and posting gives it a session.
    if viewer.reader_key is not None:
        token = streams.open_stream(
            state.session, state.settings, owner=viewer.reader_key, room=name
        )
    if token is None:
        after = streams.backlog_cursor(state.session, state.settings, name)
    locale = current_locale()
    in_room: dict[str, Any] = {"room": room if room != state.settings.default_room else None}
    switcher = _switcher(state, viewer, blueprint_name, current=name)
    read = unread_on_page(viewer, name, switcher)
    return {
        "room": name,
        "rooms": switcher,
        **read,
        "read_url": url_for(f"{blueprint_name}.read", **in_room),
        "rooms_url": url_for(f"{blueprint_name}.rooms"),
        "stream": token or "",
        "after": "" if after is None else str(after),
        # Ids of the widget's own elements: unique on the page, with a stream or without.
        "widget_id": f"webchat-{secrets.token_hex(4)}",
        "messages_url": url_for(f"{blueprint_name}.poll", **in_room),
        "events_url": url_for(f"{blueprint_name}.events", **in_room),
        "history_url": url_for(f"{blueprint_name}.history", **in_room),
        "transport": state.settings.transport,
        "max_wait": state.settings.max_wait,
        "static_endpoint": f"{blueprint_name}.static",
        "identity_name": viewer.identity.name if viewer.identity else None,
        # The page highlights the messages whose mentions hold this id.
        "identity_id": viewer.identity.id if viewer.identity else None,
        "allow_anonymous": state.settings.allow_anonymous,
        "may_post": viewer.may_post(name),
        "poll_interval": state.settings.poll_interval,
        "max_length": CONTENT_MAX_LENGTH,
        # The reader's language: <html lang>, Intl's dates and times, and the scripts' strings.
        "lang": i18n.language_tag(locale),
        "dir": "rtl" if i18n.is_right_to_left(locale) else "ltr",
        "strings": client_strings(),
    }


def _switcher(
    state: WebchatState, viewer: Viewer, blueprint_name: str, *, current: str
) -> list[dict[str, Any]]:
    """Links to the other rooms for the page's room switcher: only with a fixed list of rooms."""
    names = state.settings.rooms
    if not isinstance(names, tuple) or len(names) < 2:
        return []
    default = state.settings.default_room
    return [
        {
            "name": name,
            "url": url_for(f"{blueprint_name}.chat", room=None if name == default else name),
            "current": name == current,
        }
        for name in names
        if viewer.may_read(name)
    ]
