"""The Pushpin edge (GRIP): event streams and long-polls held by Pushpin instead of the app.

A request that comes through Pushpin carries a ``Grip-Sig`` signed with ``WEBCHAT_GRIP_KEY``.
For such a request, ``GET /events`` and a long-poll answer with GRIP instructions: what the
reader missed, read from the database as for any reader, then *hold me on the room's channel*.
The connection then stays in Pushpin, costing the app nothing, and
:class:`~flask_webchat.notifiers.edge.EdgePublisher` publishes each committed event to it. A
request without a valid signature is served directly, as without an edge.

Exactness rests on the room's positions. Every shared channel carries each position once, and
each publish names the one before it (``prev-id``). When Pushpin sees a gap (a lost publish),
when a new hold may have raced a publish, when an author's own message needs the author's view,
or when a stream idles past :data:`IDLE_RECOVERY`, it asks the stream's *recovery link* for what
follows the last position it delivered (``Grip-Last``); the app answers from the database, for
that viewer, and holds again. A long-poll is woken by a *hint*: Pushpin repeats the client's own
request, which reads from the database like any poll. ``docs/design.rst`` explains it all.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import math
import secrets
import time
from typing import Any

from flask import Response, request
from itsdangerous import BadSignature, URLSafeSerializer

from ..batches import Batch
from ..config import Settings
from ..errors import ValidationFailed
from ..identity import Identity, Viewer
from ..notifiers.edge import Channels, EdgePublisher
from ..schemas import MessageSchema
from ..state import WebchatState
from ..streams import Reader
from .sse import encode_batch, opening

#: Seconds a held stream may go without a publish before Pushpin asks the recovery link
#: whether it missed one (a lost last publish in a room that then went quiet).
IDLE_RECOVERY = 120
_LINK_SALT = "webchat.grip.link"
# GRIP's "wake up and ask the origin again", for a stream (its recovery link) or a long-poll
# (the client's own request, repeated).
_HINT = {"action": "hint"}
# Views of an event as the classes of viewers see it (see render_items).
_EVERYONE = Viewer(identity=None, reader_key=None)
_MODERATOR = Viewer(identity=None, reader_key=None, moderates=True)


def create_publisher(settings: Settings, *, database_url: Any) -> EdgePublisher:
    """The publisher for ``WEBCHAT_GRIP_URL``, its channels named after the site's database,
    so that the processes of one site share them and other sites behind the same Pushpin don't.
    """
    assert settings.grip_url is not None and settings.grip_key is not None
    database = database_url.render_as_string(hide_password=True)
    site = "webchat-" + hashlib.sha1(database.encode()).hexdigest()[:10]
    channels = Channels(site=site, key=settings.grip_key.encode())
    return EdgePublisher(settings.grip_url, channels, renderer(channels))


def through_edge(state: WebchatState) -> bool:
    """Whether this request came through the configured Pushpin (its ``Grip-Sig`` verifies)."""
    key = state.settings.grip_key
    if state.notifier.edge is None or key is None:
        return False
    return verify_signature(request.headers.get("Grip-Sig", ""), key)


def verify_signature(token: str, key: str) -> bool:
    """Whether ``token`` is a current HS256 JWT signed with ``key``, as Pushpin signs."""
    try:
        header, claims, signature = token.split(".")
        expected = hmac.new(key.encode(), f"{header}.{claims}".encode(), hashlib.sha256).digest()
        if not hmac.compare_digest(_unpad(signature), expected):
            return False
        if json.loads(_unpad(header)).get("alg") != "HS256":
            return False
        expires = json.loads(_unpad(claims)).get("exp")
    except (ValueError, AttributeError, TypeError):
        return False
    return isinstance(expires, (int, float)) and expires > time.time()


def _unpad(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def may_hold(viewer: Viewer) -> bool:
    """Whether the edge can show this viewer exactly what the app would.

    A host delete hook decides ``can_delete`` per message *and* viewer, which only the app can
    answer: with one, readers are served directly.
    """
    return viewer.permissions.delete is None


def hold_stream(state: WebchatState, room: str, viewer: Viewer, first: Batch) -> Response:
    """An event stream's answer through the edge: ``first``, then a hold on the room."""
    channels = _channels(state)
    link = {
        "r": room,
        "i": _identity_id(viewer),
        "k": viewer.reader_key,
        "m": viewer.moderates,
        "t": channels.tag(_identity_id(viewer), viewer.reader_key),
        # A channel of this connection alone, never published to: Pushpin shares a recovery
        # request between connections whose recovery links and Grip-Last agree, and this
        # makes every connection's Grip-Last its own.
        "u": secrets.token_urlsafe(12),
    }
    retry = opening(first, int(state.settings.poll_interval * 1000))
    return _stream_answer(state, link, viewer, first, retry)


def recover_stream(state: WebchatState, room: str, token: str) -> Response:
    """Pushpin following a stream's recovery link: what follows the last position delivered.

    Pushpin sends no cookie here; the signed link says who the viewer is, and ``Grip-Last``
    where the connection is. The answer is that viewer's events, then the same hold again.
    """
    try:
        link = _serializer(state).loads(token)
    except BadSignature:
        raise ValidationFailed({"grip": ["Not a valid recovery link."]}) from None
    if link.get("r") != room:
        raise ValidationFailed({"grip": ["Not a valid recovery link."]})
    shared = _channels(state).shared(room, moderator=link["m"])
    delivered = _last_ids(request.headers.get("Grip-Last", "")).get(shared)
    if delivered is None:
        return Response("", mimetype="text/event-stream")  # nothing to resume from: end it
    identity = None if link["i"] is None else Identity(link["i"], link["i"])
    viewer = Viewer(identity=identity, reader_key=link["k"], moderates=link["m"])
    reader = Reader(state.db.session, state.settings, room, limit=state.settings.poll_limit)
    return _stream_answer(state, link, viewer, reader.read(delivered), "")


def _stream_answer(
    state: WebchatState, link: dict[str, Any], viewer: Viewer, batch: Batch, prefix: str
) -> Response:
    body = prefix + encode_batch(batch, MessageSchema(viewer=viewer).dump)
    response = Response(body, mimetype="text/event-stream")
    channels = _channels(state)
    room, tag = link["r"], link["t"]
    url = f"{request.path}?grip={_serializer(state).dumps(link)}"
    if batch.more:
        # More is waiting: Pushpin follows the link at once, and holds with the last part.
        response.headers["Grip-Link"] = f"<{url}>; rel=next"
        return response
    shared = channels.shared(room, moderator=link["m"])
    subscribe = [
        f"{shared}; prev-id={batch.cursor}; filter=skip-users",
        f"{channels.site}.connection.{link['u']}; prev-id=0",
    ]
    if tag is not None:
        subscribe.append(channels.own(room, tag))
        response.headers["Grip-Set-Meta"] = f"user={tag}"
    heartbeat = math.ceil(state.settings.heartbeat)
    response.headers.update(
        {
            "Grip-Hold": "stream",
            "Grip-Channel": ", ".join(subscribe),
            "Grip-Keep-Alive": f": heartbeat\\n\\n; format=cstring; timeout={heartbeat}",
            "Grip-Link": f"<{url}>; rel=next; timeout={IDLE_RECOVERY}",
        }
    )
    return response


def hold_poll(state: WebchatState, room: str, answer: dict[str, Any], wait: float) -> Response:
    """An empty long-poll's answer through the edge: held until the room's next event.

    The next publish wakes it with a hint, and Pushpin repeats the client's request, which
    reads from the database as any poll does.
    """
    response = Response(json.dumps(answer), mimetype="application/json")
    response.headers.update(
        {
            "Grip-Hold": "response",
            "Grip-Channel": _channels(state).shared(room),
            "Grip-Timeout": str(max(1, math.ceil(wait))),
        }
    )
    return response


def renderer(channels: Channels) -> Any:
    """The function that turns one committed batch into GRIP items, for the publisher."""

    def render_items(room: str, batch: Batch, start: int) -> list[dict[str, Any]]:
        authors = sorted(
            {
                tag
                for message in batch.messages
                if (tag := channels.tag(message.author_id, message.author_session)) is not None
            }
        )
        # First the authors' own channels, with a hint: each author's streams ask for the
        # batch in their own view before the shared item (which skips them) moves them on.
        items: list[dict[str, Any]] = [
            {"channel": channels.own(room, tag), "formats": {"http-stream": _HINT}}
            for tag in authors
        ]
        for moderator, viewer in ((False, _EVERYONE), (True, _MODERATOR)):
            item: dict[str, Any] = {
                "channel": channels.shared(room, moderator=moderator),
                "id": str(batch.cursor),
                "prev-id": str(start),
                "formats": {
                    "http-stream": {
                        "content": encode_batch(batch, MessageSchema(viewer=viewer).dump)
                    },
                    "http-response": _HINT,
                },
            }
            if authors:
                item["meta"] = {"skip_users": ",".join(authors)}
            items.append(item)
        return items

    return render_items


def _channels(state: WebchatState) -> Channels:
    edge = state.notifier.edge
    assert edge is not None
    return edge.channels


def _serializer(state: WebchatState) -> URLSafeSerializer:
    return URLSafeSerializer(state.settings.grip_key, salt=_LINK_SALT)


def _identity_id(viewer: Viewer) -> str | None:
    return None if viewer.identity is None else viewer.identity.id


def _last_ids(header: str) -> dict[str, int]:
    """The last position Pushpin delivered on each channel, from ``Grip-Last``."""
    found = {}
    for entry in header.split(","):
        name, _, params = entry.strip().partition(";")
        for param in params.split(";"):
            key, _, value = param.strip().partition("=")
            if key == "last-id" and value.isdigit():
                found[name.strip()] = int(value)
    return found
