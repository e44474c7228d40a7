"""A reader of ``text/event-stream`` that parses the way the browser's ``EventSource`` does.

It reads lines from the test client's streamed answer or from a real socket, so the same
assertions run in process and against real servers.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

#: Events that move the cursor and show nothing; readers that show messages skip them.
SILENT = frozenset({"comment", "cursor"})
#: Events outside the room's history (no ``id:``): who is here, who is typing.
EPHEMERAL = frozenset({"presence", "typing"})


@dataclass
class Event:
    """One dispatched event (``message``, ``delete``, ``cursor``), or a comment (``comment``)."""

    type: str
    id: str | None = None
    data: Any = None


class EventStream:
    """Events from an iterator of text lines; ``close`` ends the connection."""

    def __init__(self, lines: Iterator[str], close: Callable[[], None]) -> None:
        self._lines = lines
        self._close = close
        #: The last ``id:`` seen, as EventSource would send it in ``Last-Event-ID``.
        self.last_event_id: str | None = None
        self.retry: int | None = None
        self.closed = False

    def next(self) -> Event | None:
        """The next event or comment; ``None`` when the server ended the stream."""
        data: list[str] = []
        kind, event_id = "message", None
        for raw in self._lines:
            line = raw.rstrip("\r\n")
            if line.startswith(":"):
                return Event("comment", data=line[1:].strip())
            if line:
                name, _, value = line.partition(":")
                value = value[1:] if value.startswith(" ") else value
                if name == "data":
                    data.append(value)
                elif name == "event":
                    kind = value
                elif name == "id":
                    event_id = value
                elif name == "retry":
                    self.retry = int(value)
                continue
            if event_id is not None:
                self.last_event_id = event_id
            if data:
                return Event(kind, event_id, json.loads("\n".join(data)))
            kind, event_id = "message", None
        self.closed = True
        return None

    def take(
        self, count: int, *, within: float = 5.0, kinds: frozenset[str] | None = None
    ) -> list[Event]:
        """The next ``count`` events of the history (or of ``kinds``), others skipped; fails
        after ``within`` seconds."""
        events: list[Event] = []
        deadline = time.monotonic() + within
        while len(events) < count:
            assert time.monotonic() < deadline, f"only {len(events)} of {count} events arrived"
            event = self.next()
            assert event is not None, f"the stream ended after {len(events)} of {count} events"
            keep = event.type not in SILENT | EPHEMERAL if kinds is None else event.type in kinds
            if keep:
                events.append(event)
        return events

    def quiet_for(self, comments: int) -> list[Event]:
        """Read until ``comments`` heartbeats have passed; return the events seen meanwhile."""
        seen: list[Event] = []
        while comments:
            event = self.next()
            assert event is not None, "the stream ended"
            if event.type == "comment":
                comments -= 1
            elif event.type not in EPHEMERAL | {"cursor"}:
                seen.append(event)
        return seen

    def close(self) -> None:
        self._close()


def chunk_lines(chunks: Iterator[bytes]) -> Iterator[str]:
    """Lines from chunks of bytes (a streamed WSGI answer)."""
    pending = ""
    for chunk in chunks:
        pending += chunk.decode()
        *lines, pending = pending.split("\n")
        yield from (line + "\n" for line in lines)
