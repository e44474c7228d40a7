"""Publishing committed events to a Pushpin edge (GRIP), and the channels readers hold there.

Unlike a notifier's wake-up, a publish carries the events themselves, because the readers it
reaches are held by Pushpin, not by this process. The events are read back from the database
after the commit, so what is published is what every later read returns: the database stays the
only truth, and a publish that is lost is recovered from it (see ``docs/design.rst``).

Channels, per room:

* ``<site>.<room>``: everyone who may not delete others' messages gets the events here;
* ``<site>.<room>.mod``: moderators of the room, for whom every message shows ``can_delete``;
* ``<site>.<room>.@<tag>``: one viewer's own messages, with ``mine`` and ``can_delete``;
* ``<site>.<room>.wake``: a hint per event, for long-polls that only the app can answer.

A room's two shared channels carry every position of the room, each publish naming the one
before it (GRIP's ``prev-id``), so Pushpin notices a gap. A message is published to the shared
channels *without* its author (Pushpin's ``skip-users`` filter, by tag) and to the author's own
channel with the author's view. The tag is a keyed hash of the author's identity (or, for an
anonymous author, of their browser's reader key): Pushpin sees only tags, never who posted.
"""

from __future__ import annotations

import hashlib
import hmac
import http.client
import json
import logging
import urllib.parse
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .. import rooms
from ..batches import Batch, read_range
from ..transactions import reading

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

logger = logging.getLogger("flask_webchat.edge")
# A publish is a few kilobytes to a process next door: a slow one means Pushpin is in trouble.
_TIMEOUT = 2.0
_ATTEMPTS = 2


@dataclass(frozen=True)
class Channels:
    """The names of a site's channels and the tags of its viewers."""

    #: Sets this site's channels apart from other sites behind the same Pushpin.
    site: str
    key: bytes

    def shared(self, room: str, *, moderator: bool = False) -> str:
        """The channel of everyone in ``room`` (or of its moderators)."""
        return f"{self.site}.{room}.mod" if moderator else f"{self.site}.{room}"

    def wake(self, room: str) -> str:
        """The channel of long-polls that the app answers when woken (a stream's polls)."""
        return f"{self.site}.{room}.wake"

    def own(self, room: str, tag: str) -> str:
        """The channel of one viewer's own messages in ``room``."""
        return f"{self.site}.{room}.@{tag}"

    def tag(self, author_id: str | None, reader_key: str | None) -> str | None:
        """The opaque tag of a host user (by id) or, without one, of a browser (reader key)."""
        if author_id is not None:
            principal = "user:" + author_id
        elif reader_key is not None:
            principal = "reader:" + reader_key
        else:
            return None
        return hmac.new(self.key, principal.encode(), hashlib.sha256).hexdigest()[:24]


#: ``(room, batch, first) -> items``: the GRIP items that publish one batch (see ``web.grip``).
Render = Callable[[str, Batch, int], list[dict[str, Any]]]


class EdgePublisher:
    """Publishes each committed event to Pushpin's publish endpoint (``WEBCHAT_GRIP_URL``).

    Plain HTTP: one ``POST /publish/`` with every item of a commit, so the items of one event
    arrive together or not at all. A failed publish is logged, never raised: the event is
    committed, and Pushpin recovers it from the database at the next publish or idle check.
    """

    def __init__(self, url: str, channels: Channels, render: Render, *, item_events: int) -> None:
        parsed = urllib.parse.urlsplit(url)
        self.channels = channels
        self.render = render
        #: Events per item: a commit with more (a big purge) is published as several items,
        #: each no bigger than a poll's answer (``WEBCHAT_POLL_LIMIT``).
        self.item_events = item_events
        self._https = parsed.scheme == "https"
        self._netloc = parsed.netloc
        self._path = parsed.path.rstrip("/") + "/publish/"

    def published(self, session: Session, room: str, first: int, last: int) -> None:
        """Publish the events at positions ``first`` to ``last`` of ``room``, just committed."""
        with reading(session) as reader:
            found = rooms.locate(reader, room)
            if found is None:
                return
            items: list[dict[str, Any]] = []
            start = first - 1
            while start < last:
                batch = read_range(reader, found[0], start, last, self.item_events)
                items += self.render(room, batch, start)
                start = batch.cursor
        self.send(items)

    def send(self, items: Sequence[dict[str, Any]]) -> bool:
        """POST ``items`` to Pushpin; whether it took them."""
        if not items:
            return True
        body = json.dumps({"items": list(items)}, ensure_ascii=False).encode()
        problem = ""
        for _ in range(_ATTEMPTS):
            connection_class = (
                http.client.HTTPSConnection if self._https else http.client.HTTPConnection
            )
            connection = connection_class(self._netloc, timeout=_TIMEOUT)
            try:
                connection.request("POST", self._path, body, {"Content-Type": "application/json"})
                response = connection.getresponse()
                response.read()
                if response.status == 200:
                    return True
                problem = f"Pushpin answered {response.status}"
            except OSError as error:
                problem = str(error)
            finally:
                connection.close()
        logger.warning("webchat: publishing to the edge failed (%s); readers recover", problem)
        return False
