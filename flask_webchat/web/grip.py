"""The Pushpin edge (GRIP): event streams and long-polls held by Pushpin instead of the app.

A request that comes through Pushpin carries a ``Grip-Sig`` signed with ``WEBCHAT_GRIP_KEY``.
For such a request, ``GET /events`` and a long-poll answer with GRIP instructions: what the
reader missed, read from the database as for any reader, then *hold me on the room's channel*.
The connection then stays in Pushpin, costing the app nothing, and
:class:`~flask_webchat.notifiers.edge.EdgePublisher` publishes each committed event to it. A
request without a valid signature is served directly, as without an edge.

Exactness rests on the room's positions. Every shared channel carries each position once, and
each publish names the one before it (``prev-id``). When Pushpin sees a gap (a lost publish),
when a new hold may have raced a publish, or when a stream idles past :data:`IDLE_RECOVERY`,
it asks the stream's *recovery link*, saying in ``Grip-Last`` the last position it delivered;
the app holds the stream again if nothing is missing, and otherwise ends it, so that the client
resumes with ``Last-Event-ID`` and reads what it missed from the database. A long-poll from a
bare cursor is answered by Pushpin itself, with the published answer; one that reads a stream
(whose cursor only the app moves) is woken by a *hint*: Pushpin repeats the client's own
request, which reads from the database like any poll. ``docs/design.rst`` explains it all.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import math
import time
from typing import Any

from flask import Response, request

from .. import details, rooms
from ..batches import Batch
from ..config import Settings
from ..errors import ValidationFailed
from ..identity import Viewer
from ..notifiers.edge import Channels, EdgePublisher
from ..schemas import MessageSchema, PollSchema, seen_by
from ..state import WebchatState
from .sse import encode_batch, opening

#: Seconds a held stream may go without a publish before Pushpin asks the recovery link
#: whether it missed one (a lost last publish in a room that then went quiet).
IDLE_RECOVERY = 120
# Seconds after which an event a stream has not received is taken as lost, not on its way:
# longer than a publish takes, and than Pushpin waits for one that arrived out of order.
_SETTLE = 3.0
# The position an author's own channel always stands at (see _hold).
_OWN_ID = "0"
# GRIP's "wake up and ask the origin again": a long-poll's own request, repeated.
_HINT = {"action": "hint"}
_WAKE = {"http-response": _HINT}
# Views of an event as the classes of viewers see it (see render_items).
_EVERYONE = Viewer(identity=None, reader_key=None)
_MODERATOR = Viewer(identity=None, reader_key=None, moderates=True)
# Built once: building a schema costs more than dumping a batch.
_MESSAGE = MessageSchema()
_CLASS_VIEWS = [
    (moderator, MessageSchema(viewer=viewer), PollSchema(viewer=viewer))
    for moderator, viewer in ((False, _EVERYONE), (True, _MODERATOR))
]


def create_publisher(settings: Settings, *, database_url: Any) -> EdgePublisher:
    """The publisher for ``WEBCHAT_GRIP_URL``, its channels named after the site's database,
    so that the processes of one site share them and other sites behind the same Pushpin don't.
    """
    assert settings.grip_url is not None and settings.grip_key is not None
    database = database_url.render_as_string(hide_password=True)
    site = "webchat-" + hashlib.sha1(database.encode()).hexdigest()[:10]
    channels = Channels(site=site, key=settings.grip_key.encode())
    return EdgePublisher(
        settings.grip_url, channels, renderer(channels), item_events=settings.poll_limit
    )


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
    body = opening(first, int(state.settings.poll_interval * 1000))
    with seen_by(viewer):
        body += encode_batch(first, _MESSAGE)
    response = Response(body, mimetype="text/event-stream")
    if first.more:
        return response  # more is waiting: the client reconnects from its last id for it
    channels = _channels(state)
    tag = channels.tag(_identity_id(viewer), viewer.reader_key)
    shared = channels.shared(room, moderator=viewer.moderates)
    _hold(state, response, shared, first.cursor, None if tag is None else channels.own(room, tag))
    return response


def recover_stream(state: WebchatState, room: str, link: str) -> Response:
    """Pushpin following a stream's recovery link: hold again, or end the stream.

    Pushpin asks when a new hold may have raced a publish, when it saw a gap, and when a stream
    idled. ``Grip-Last`` says which channels the stream holds and the last position delivered.
    If that is the room's head, or the newest event was committed a moment ago and its publish
    may still be on its way, the answer is the same hold again, from that position. Otherwise
    the stream ends and the client reconnects with ``Last-Event-ID``, reading what it missed
    from the database, in its own view, with its own cookies.

    Pushpin shares one recovery request among streams whose link and ``Grip-Last`` agree, so the
    answer depends on nothing else: the author's own channel and the moderators' channel are in
    ``Grip-Last``, and streams that differ in them never share an answer.
    """
    if not hmac.compare_digest(link, _link_secret(state)):
        raise ValidationFailed({"grip": ["Not a valid recovery link."]})
    channels = _channels(state)
    last = _last_ids(request.headers.get("Grip-Last", ""))
    shared = next((c for c in (channels.shared(room), channels.shared(room, moderator=True))
                   if c in last), None)  # fmt: skip
    response = Response("", mimetype="text/event-stream")
    if shared is None:
        return response  # ends the stream: the client resumes from its last id
    head, settled = rooms.settled_head(state.session, room, settle=_SETTLE)
    if last[shared] != head and settled:
        return response  # the stream missed an event that is no longer on its way: resume
    # Nothing missed, or the newest event is still on its way: hold on from where it is, and
    # if something is missing, look again once it has had time to arrive.
    own_prefix = channels.own(room, "")
    own = next((c for c in last if c.startswith(own_prefix)), None)
    check = IDLE_RECOVERY if last[shared] == head else math.ceil(_SETTLE)
    _hold(state, response, shared, last[shared], own, check=check)
    return response


def _hold(
    state: WebchatState,
    response: Response,
    shared: str,
    cursor: int,
    own: str | None,
    *,
    check: int = IDLE_RECOVERY,
) -> None:
    """Hold ``response``'s stream on the room's ``shared`` channel from ``cursor``.

    ``own`` is the viewer's own channel: a message they post is skipped on the shared channel
    and a *close* on their own one ends their stream, so that it resumes in their view. Its
    ``prev-id`` never changes; it is there to put the channel in ``Grip-Last``.
    """
    subscribe = [f"{shared}; prev-id={cursor}; filter=skip-users"]
    if own is not None:
        subscribe.append(f"{own}; prev-id={_OWN_ID}")
        response.headers["Grip-Set-Meta"] = f"user={own.rpartition('@')[2]}"
    heartbeat = math.ceil(state.settings.heartbeat)
    link = f"{request.path}?grip={_link_secret(state)}"
    response.headers.update(
        {
            "Grip-Hold": "stream",
            "Grip-Channel": ", ".join(subscribe),
            "Grip-Keep-Alive": f": heartbeat\\n; format=cstring; timeout={heartbeat}",
            "Grip-Link": f"<{link}>; rel=next; timeout={check}",
        }
    )


def hold_poll(
    state: WebchatState,
    room: str,
    viewer: Viewer,
    batch: Batch,
    empty: dict[str, Any],
    wait: float,
    *,
    answered: bool,
) -> Response:
    """An empty long-poll's answer through the edge: held until the room's next event.

    With ``answered`` (a poll from a bare cursor: what it reads next depends on nothing but the
    cursor), Pushpin answers it with the next publish itself, in the view of the viewer's class,
    and the app never sees it again. Otherwise (a stream's poll, whose cursor only the app
    moves, or one that asked for presence) the next publish wakes it with a hint, and Pushpin
    repeats the client's request, which reads from the database as any poll does. Either way
    the hold names the cursor it is at (``prev-id``): Pushpin asks the app again when a publish
    does not follow from it, and when the hold comes after a publish it did not get.

    ``empty`` is the answer Pushpin gives when the wait ends with nothing published.
    """
    response = Response(json.dumps(empty), mimetype="application/json")
    channels = _channels(state)
    if answered:
        subscribe = [f"{channels.shared(room, moderator=viewer.moderates)}; prev-id={batch.cursor}"]
        tag = channels.tag(_identity_id(viewer), viewer.reader_key)
        if tag is not None:
            # Its author (or reactor) skips a publish there, and its own channel's hint has the
            # app answer the poll in their view.
            subscribe[0] += "; filter=skip-users"
            subscribe.append(channels.own(room, tag))
            response.headers["Grip-Set-Meta"] = f"user={tag}"
    else:
        subscribe = [f"{channels.wake(room)}; prev-id={batch.cursor}"]
    response.headers.update(
        {
            "Grip-Hold": "response",
            "Grip-Channel": ", ".join(subscribe),
            "Grip-Timeout": str(max(1, math.ceil(wait))),
        }
    )
    return response


def renderer(channels: Channels) -> Any:
    """The function that turns one committed batch into GRIP items, for the publisher."""

    def render_items(room: str, batch: Batch, start: int) -> list[dict[str, Any]]:
        # Everyone whose view of a message in the batch differs from the shared one: its
        # author (``mine``), and its reactors (their reactions' ``mine``).
        shown = [*batch.messages, *batch.updated]
        people = {(m.author_id, m.author_session) for m in shown}
        people.update(who for m in shown for who in details.reactor_tags(m))
        authors = sorted(
            {tag for user, key in people if (tag := channels.tag(user, key)) is not None}
        )
        # The shared items skip the authors; their own channels end their streams, which
        # resume from their last id, and wake their long-polls: both read the batch in their
        # own view.
        sequenced = {"id": str(batch.cursor), "prev-id": str(start)}
        items: list[dict[str, Any]] = [
            {
                "channel": channels.own(room, tag),
                "id": str(batch.cursor),
                "prev-id": _OWN_ID,
                "formats": {"http-stream": {"action": "close"}, "http-response": _HINT},
            }
            for tag in authors
        ]
        items.append({"channel": channels.wake(room), **sequenced, "formats": _WAKE})
        for moderator, stream_schema, poll_schema in _CLASS_VIEWS:
            item: dict[str, Any] = {
                "channel": channels.shared(room, moderator=moderator),
                **sequenced,
                "formats": {
                    "http-stream": {"content": encode_batch(batch, stream_schema)},
                    "http-response": {
                        "headers": {"Content-Type": "application/json"},
                        "body": json.dumps(poll_schema.dump(batch)),
                    },
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


def _link_secret(state: WebchatState) -> str:
    """What the recovery link carries: the same for every stream (so that Pushpin can batch
    their recoveries), and unknown to clients, who never see the link."""
    key = (state.settings.grip_key or "").encode()
    return hmac.new(key, b"webchat recovery link", hashlib.sha256).hexdigest()[:32]


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
