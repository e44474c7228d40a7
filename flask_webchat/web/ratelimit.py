"""Rate limits on posting and deleting, through Flask-Limiter.

The host's own :class:`flask_limiter.Limiter` is used when it has one (so its storage, e.g.
Redis shared by every process, counts the chat too); otherwise the chat makes one of its own
with :data:`WEBCHAT_RATE_LIMIT_STORAGE`. Flask-Limiter is an extra:
``pip install flask-webchat[ratelimit]``.
"""

from __future__ import annotations

import math
import time
from typing import TYPE_CHECKING, Any

from flask import Blueprint, Flask, Response, request

from .. import rooms
from ..errors import RateLimited
from ..state import get_state
from .session import current_viewer, upcoming_reader_key

if TYPE_CHECKING:
    from flask_limiter import Limiter

    from ..config import Settings

_LIMITED_METHODS = ["POST", "DELETE", "PATCH", "PUT"]


def limit_writes(app: Flask, blueprint: Blueprint, settings: Settings) -> Limiter | None:
    """Limit writes (posts, edits, reactions, deletes) per identity; ``None`` when off."""
    if settings.rate_limit is None:
        return None
    try:
        from flask_limiter import Limiter
    except ImportError:
        app.logger.warning(
            "webchat: posts are not rate limited because Flask-Limiter is not installed"
            " (pip install flask-webchat[ratelimit]; or set WEBCHAT_RATE_LIMIT = None)."
        )
        return None
    from limits import parse_many

    hosts = [limiter for limiter in app.extensions.get("limiter", ()) if limiter.enabled]
    limiter = hosts[0] if hosts else None
    if limiter is None:
        # No headers of its own: the chat's 429 handler sets Retry-After, never below 1.
        limiter = Limiter(
            writer_key, app=app, storage_uri=settings.rate_limit_storage, key_prefix="webchat"
        )
        # It limits writes only: a read skips the whole evaluation, which cost about a sixth
        # of an edge re-hold's CPU in process.
        limiter.request_filter(_not_a_write)
    common: dict[str, Any] = {
        "methods": _LIMITED_METHODS,
        "error_message": RateLimited.default_message,
        # Only what was stored counts: a refused request (403, 415, 422 …) changed nothing.
        "deduct_when": lambda response: response.status_code < 400,
        "exempt_when": lambda: _not_a_write() or _opening_stream(),
    }
    # One count for every write together, per writer.
    limiter.shared_limit(settings.rate_limit, "webchat-writes", key_func=writer_key, **common)(
        blueprint
    )
    # A client that keeps no cookie would be a new writer at every post: such posts share one
    # count per address.
    limiter.shared_limit(
        settings.rate_limit,
        "webchat-sessionless-writes",
        key_func=_address,
        **{**common, "exempt_when": lambda: _not_a_write() or _opening_stream() or _remembered()},
    )(blueprint)
    # A new browser session is a new writer, so anonymous writers also share a count per
    # address: larger, as people behind one address (a school, an office) share it.
    per_address = ";".join(
        f"{item.amount * ADDRESS_SHARE} per {item.multiples} {item.GRANULARITY.name}"
        for item in parse_many(settings.rate_limit)
    )
    limiter.shared_limit(
        per_address,
        "webchat-anonymous-writes",
        key_func=_address,
        **{**common, "exempt_when": lambda: _not_a_write() or _opening_stream() or _signed_in()},
    )(blueprint)
    return limiter


#: How many anonymous writers' worth of posts one address may make together.
ADDRESS_SHARE = 5


def writer_key() -> str:
    """Whom a limit counts: the host's user, else the browser session.

    A browser without a session yet (a first visit's first post) counts as the session that the
    post gives it, so that its next posts share the count. Posts without a session also share
    one count per address, so a client that drops its cookie gains nothing.
    """
    viewer = current_viewer()
    if viewer.identity is not None:
        return f"user:{viewer.identity.id}"
    return f"reader:{viewer.reader_key or upcoming_reader_key()}"


def _address() -> str:
    return f"address:{request.remote_addr}"


def _not_a_write() -> bool:
    # Flask-Limiter asks whether a limit is exempt before whether it applies to the method: a
    # read must not load the session (or the host's user) just to be told it is not limited.
    return request.method not in _LIMITED_METHODS


def _opening_stream() -> bool:
    # Opening a stream is what a page load does, which no limit counts; WEBCHAT_MAX_STREAMS
    # already bounds what a session can keep. Typing stores nothing and has a limit of its own
    # (WEBCHAT_TYPING_INTERVAL), and marking read is what reading does, one row per reader and
    # room: neither may use up a writer's posts.
    endpoint = request.endpoint or ""
    if endpoint.endswith(".open_stream"):
        return not _creates_room()
    return endpoint.endswith((".typing", ".read"))


def _creates_room() -> bool:
    # A stream opened in a room nobody posted to creates the room, a row that stays: that
    # counts as a write, so that creating rooms stays bounded by the limit, as posts are.
    state = get_state()
    name = (request.view_args or {}).get("room") or state.settings.default_room
    if rooms.is_configured(name, state.settings):
        return False
    return rooms.find_room(state.session, name) is None


def _signed_in() -> bool:
    return get_state().extension.current_identity() is not None


def _remembered() -> bool:
    viewer = current_viewer()
    return viewer.identity is not None or viewer.reader_key is not None


def add_retry_after(response: Response, limiter: Any) -> Response:
    """Make sure a 429 says when to retry, even under a host limiter without headers."""
    if "Retry-After" not in response.headers:
        limit = limiter.current_limit if limiter is not None else None
        reset_at = limit.reset_at if limit is not None else time.time() + 1
        response.headers["Retry-After"] = str(max(1, math.ceil(reset_at - time.time())))
    return response
