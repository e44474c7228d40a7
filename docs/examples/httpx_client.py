"""Follow a chat room from Python with httpx and httpx-sse: open a stream, post, read events."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
from httpx_sse import ServerSentEvent, connect_sse

# httpx gives up on a read after 5 s by default. A quiet room sends only a heartbeat every
# WEBCHAT_HEARTBEAT seconds (15 by default), and a long-poll may wait up to WEBCHAT_MAX_WAIT
# (25): allow more than both between two bytes.
TIMEOUT = httpx.Timeout(10.0, read=60.0)


def connect(base_url: str) -> httpx.Client:
    """A client for the chat at ``base_url`` (e.g. ``https://example.com/chat``).

    Keep one per user: its cookie jar is the chat session that owns streams and messages.
    """
    return httpx.Client(base_url=base_url, timeout=TIMEOUT)


def open_stream(client: httpx.Client, room: str) -> str:
    """A stream of this client's own in ``room``."""
    answer = client.post(f"/rooms/{room}/streams")
    answer.raise_for_status()
    return str(answer.json()["stream"])


def say(client: httpx.Client, room: str, content: str, username: str) -> dict[str, Any]:
    answer = client.post(f"/rooms/{room}/messages", json={"content": content, "username": username})
    answer.raise_for_status()
    return dict(answer.json())


def edit(client: httpx.Client, room: str, message_id: int, content: str) -> dict[str, Any]:
    """Edit one of this client's own messages; its readers get an ``update`` event."""
    answer = client.patch(f"/rooms/{room}/messages/{message_id}", json={"content": content})
    answer.raise_for_status()
    return dict(answer.json())


def follow(
    client: httpx.Client, room: str, stream: str, last_event_id: str | None = None
) -> Iterator[ServerSentEvent]:
    """Each ``message``, ``update`` and ``delete`` event, for as long as the connection lasts.

    An ``update`` carries a message's whole current state (an edit, a reaction): replace yours.

    Pass the ``id`` of the last event you handled as ``last_event_id`` to resume after it.
    """
    headers = {"Last-Event-ID": last_event_id} if last_event_id else {}
    params = {"stream": stream}
    with connect_sse(client, "GET", f"/rooms/{room}/events", params=params, headers=headers) as s:
        for event in s.iter_sse():
            # A "cursor" event only moves the cursor (its id is still a place to resume from).
            if event.event in ("message", "update", "delete"):
                yield event
