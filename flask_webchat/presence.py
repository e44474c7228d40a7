"""Who is here, and who is typing: ephemeral, bounded, shared by every process of a site.

Nothing here touches the database. Each process keeps the readers it serves (an event stream
held open, a long-poll waiting, a poll seen within the grace period) and, through the site's
notifier, publishes **one heartbeat per interval**: the set of its present readers, per room,
bounded. Every process keeps the latest heartbeat of every process it hears and forgets a
process not heard from within the grace period, so the readers of a process that died vanish by
themselves. A change (a join, a leave) is published at most once a second, as a fresh heartbeat.

Readers are published as opaque keys (a keyed hash: neither a user id nor a browser's reader key
ever travels) and, for signed-in users, their display name; guests are only counted. A user with
several tabs, on one process or several, is one key, so one name.

Typing is just a published message: the room, the typist's key and name, on or off. Streams of
this process get it as an ``event: typing``, except the typist's own.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import secrets
import threading
import time
from dataclasses import dataclass
from typing import Any

from . import heartbeats
from .heartbeats import Member
from .inbox import Inbox
from .notifiers import Notifier

logger = logging.getLogger("flask_webchat.presence")

#: A change is published at most this often (seconds), however many readers come and go.
MIN_GAP = 1.0
#: How long a page shows "… is typing" after the last ``POST /typing`` (seconds).
TYPING_SHOWN = 6.0


@dataclass(frozen=True)
class Summary:
    """Who is in a room: signed-in users by name (once each), and the number of guests."""

    users: tuple[str, ...] = ()
    guests: int = 0

    def as_dict(self) -> dict[str, Any]:
        """The wire form: ``{"users": ["Ana", …], "guests": 2}``."""
        return {"users": list(self.users), "guests": self.guests}


def member_key(secret: bytes, principal: str) -> str:
    """The opaque key of a principal (``"user:<id>"``, ``"reader:<key>"``), for heartbeats."""
    return hashlib.blake2b(principal.encode(), key=secret[:64], digest_size=8).hexdigest()


@dataclass
class _Heard:
    """What one process last said about one room, and until when it counts."""

    expires: float
    users: dict[str, str]
    guests: frozenset[str]
    more_guests: int


class PresenceHub:
    """This process's readers, every process's heartbeats, and the streams to tell of changes.

    :param notifier: Carries heartbeats and typing between processes (and wakes streams).
    :param grace: Seconds a poll keeps its reader present, and a silent process is believed.
    :param interval: Seconds between two heartbeats of this process.
    :param limit: The most readers of a room one heartbeat lists; more guests are counted.
    :param secret: The key that makes member keys opaque (the app's secret).
    """

    def __init__(
        self, notifier: Notifier, *, grace: float, interval: float, limit: int, secret: bytes
    ) -> None:
        self.notifier, self.grace, self.interval, self.limit = notifier, grace, interval, limit
        self.secret = secret
        self._lock = threading.Lock()
        self._holds: dict[int, tuple[str, Member]] = {}
        self._touches: dict[tuple[str, str], tuple[Member, float]] = {}
        # Keys replaced in a room, until when: their old connection may still register late.
        self._replaced: dict[tuple[str, str], float] = {}
        self._heard: dict[tuple[str, str], _Heard] = {}
        self._summaries: dict[str, Summary] = {}
        self._inboxes: dict[str, set[Inbox]] = {}
        self._typed: dict[str, float] = {}
        self._typing: dict[tuple[str, str], float] = {}
        self._published_rooms: set[str] = set()
        self._dirty = threading.Event()
        self._started_in: int | None = None
        self.process = ""
        #: Heartbeat messages and bytes this process published (read by the benchmark).
        self.sent_messages = 0
        self.sent_bytes = 0

    # Readers come and go.

    def key(self, principal: str) -> str:
        """The opaque key of ``"user:<id>"`` or ``"reader:<key>"``."""
        return member_key(self.secret, principal)

    def hold(self, room: str, member: Member, *, replaces: str | None = None) -> int:
        """Count ``member`` present in ``room`` until :meth:`release` (a stream, a long-poll),
        instead of the key ``replaces`` (see :meth:`drop`)."""
        self._start()
        token = secrets.randbits(63)
        with self._lock:
            news = self._is_news(room, member.key, replaces)
            if news:
                self._drop(room, member.key, replaces)
            if not self._was_replaced(room, member.key):
                self._holds[token] = (room, member)
        self._dirty.set()
        if news:
            self._tell_gone(room, replaces)
        return token

    def release(self, token: int, *, linger: bool = True) -> None:
        """End a :meth:`hold`; the reader stays present for the grace period, as after a poll,
        unless not ``linger`` (a key nobody comes back under: one connection's)."""
        with self._lock:
            held = self._holds.pop(token, None)
            if held is not None and linger:
                room, member = held
                self._touches[(room, member.key)] = (member, time.monotonic() + self.grace)
        if held is not None and not linger:
            self._dirty.set()

    def touch(self, room: str, member: Member, *, replaces: str | None = None) -> None:
        """Count ``member`` present in ``room`` for the grace period (a poll, a long-poll)."""
        self._start()
        with self._lock:
            news = self._is_news(room, member.key, replaces)
            dropped = news and self._drop(room, member.key, replaces)
            known = (room, member.key) in self._touches
            late = self._was_replaced(room, member.key)  # its old connection: not counted
            if not late:
                self._touches[(room, member.key)] = (member, time.monotonic() + self.grace)
        if (not known and not late) or dropped:
            self._dirty.set()
        if news:
            self._tell_gone(room, replaces)

    def drop(self, room: str, key: str) -> None:
        """Count the reader ``key`` no longer in ``room``, on this process: it came back under
        another key (a guest's first post made a session), and its old connection, noticed
        closed only when next written to, would count it twice."""
        with self._lock:
            dropped = self._drop(room, "", key)
        if dropped:
            self._dirty.set()

    def _drop(self, room: str, keep: str, key: str | None) -> bool:  # with the lock held
        if key is None or key == keep:
            return False
        self._replaced[(room, key)] = time.monotonic() + self.grace
        held = [t for t, (r, m) in self._holds.items() if r == room and m.key == key]
        for token in held:
            del self._holds[token]
        return bool(held) | (self._touches.pop((room, key), None) is not None)

    def _was_replaced(self, room: str, key: str) -> bool:  # with the lock held
        return self._replaced.get((room, key), 0.0) >= time.monotonic()

    def _is_news(self, room: str, keep: str, key: str | None) -> bool:  # with the lock held
        # A client keeps sending the key it replaces (each poll): drop it and tell the others
        # once, not at every poll (a drop looks through every hold of the process).
        return key is not None and key != keep and not self._was_replaced(room, key)

    def _tell_gone(self, room: str, key: str | None) -> None:
        # The old connection may be held by another process: it drops it when it hears this.
        if key is not None:
            self._publish(heartbeats.gone(room, key))

    def summary(self, room: str) -> Summary:
        """Who is in ``room`` now, across every process heard from."""
        self._start()
        with self._lock:
            return self._summaries.get(room, Summary())

    # Typing.

    def may_type(self, key: str, every: float) -> float:
        """``0`` if ``key`` may announce typing now (and count it), else seconds to wait."""
        now = time.monotonic()
        with self._lock:
            last = self._typed.get(key)
            if last is not None and now - last < every:
                return every - (now - last)
            self._typed[key] = now
        return 0.0

    def typing(self, room: str, member: Member, name: str, *, on: bool = True) -> None:
        """Tell every stream of ``room``, on every process, that ``name`` is typing (or not).

        Stopping is told only of a typist heard typing there within :data:`TYPING_SHOWN`.
        """
        self._start()
        if not on:
            with self._lock:
                if self._typing.pop((room, member.key), 0.0) < time.monotonic():
                    return
        self._publish(heartbeats.typing_message(room, member.key, name, on=on))

    # Streams.

    def subscribe(self, room: str, key: str, *, presence: bool, typing: bool = True) -> Inbox:
        """An inbox for one stream of ``room`` (the reader ``key``), until :meth:`unsubscribe`.

        With ``presence``, it gets the room's presence now and at each change; with ``typing``
        (a stream, not a long-poll), who starts and stops typing.
        """
        self._start()
        box = Inbox(room, key, presence=presence, typing=typing)
        if presence and typing:
            box.put("presence", self.summary(room).as_dict())
        with self._lock:
            self._inboxes.setdefault(room, set()).add(box)
        return box

    def unsubscribe(self, box: Inbox) -> None:
        """Stop filling ``box`` (its stream ended)."""
        with self._lock:
            boxes = self._inboxes.get(box.room)
            if boxes is not None:
                boxes.discard(box)
                if not boxes:
                    del self._inboxes[box.room]

    # Between processes.

    def receive(self, payload: str) -> None:
        """Take one message another process (or this one) published."""
        try:
            message = json.loads(payload)
            kind = message["k"]
        except (ValueError, KeyError, TypeError):
            logger.warning("webchat: ignored a malformed presence message")
            return
        if kind == "t":
            self._deliver_typing(message)
        elif kind == "h":
            self._dirty.set()  # a process started: let it hear from us soon
        elif kind == "p":
            self._hear(message)
        elif kind == "g":
            self.drop(str(message.get("r")), str(message.get("m")))

    def _deliver_typing(self, message: dict[str, Any]) -> None:
        room, key = str(message.get("r")), str(message.get("m"))
        data = {"name": str(message.get("n", "")), "typing": bool(message.get("on"))}
        with self._lock:
            if data["typing"]:
                self._typing[(room, key)] = time.monotonic() + TYPING_SHOWN
            else:
                self._typing.pop((room, key), None)
            boxes = [b for b in self._inboxes.get(room, ()) if b.typing and b.key != key]
        for box in boxes:
            box.put("typing", data)
        if boxes:
            self.notifier.nudge(room)

    def _hear(self, message: dict[str, Any]) -> None:
        process = str(message.get("p"))
        expires = time.monotonic() + self.grace
        changed: set[str] = set()
        with self._lock:
            for room, said in dict(message.get("r", {})).items():
                users = {str(k): str(v) for k, v in dict(said.get("u", {})).items()}
                guests = frozenset(
                    str(g) for g in said.get("g", ()) if not self._was_replaced(room, str(g))
                )
                more = int(said.get("n", 0))
                if users or guests or more:
                    self._heard[(process, room)] = _Heard(expires, users, guests, more)
                elif self._heard.pop((process, room), None) is None:
                    continue
                changed.add(room)
        self._resummarise(changed)

    def _resummarise(self, rooms: set[str]) -> None:
        """Recompute the summaries of ``rooms``; tell their streams of those that changed."""
        news: list[tuple[str, Summary]] = []
        with self._lock:
            for room in rooms:
                users: dict[str, str] = {}
                guests: set[str] = set()
                more = 0
                for (_, heard_room), heard in self._heard.items():
                    if heard_room == room:
                        users.update(heard.users)
                        guests |= heard.guests
                        more += heard.more_guests
                summary = Summary(tuple(sorted(set(users.values()), key=str.casefold)),
                                  len(guests) + more)  # fmt: skip
                if summary != self._summaries.get(room, Summary()):
                    news.append((room, summary))
                if summary == Summary():
                    self._summaries.pop(room, None)
                else:
                    self._summaries[room] = summary
            deliveries = [
                (room, summary, [b for b in self._inboxes.get(room, ()) if b.presence])
                for room, summary in news
            ]
        for room, summary, boxes in deliveries:
            for box in boxes:
                box.put("presence", summary.as_dict())
            if boxes:
                self.notifier.nudge(room)

    # The heartbeat.

    def _start(self) -> None:
        if self._started_in == os.getpid():
            return
        with self._lock:
            if self._started_in == os.getpid():
                return
            # A thread started before a server forked its workers does not survive the fork.
            self._started_in = os.getpid()
            self.process = f"{os.getpid()}.{secrets.token_hex(4)}"
            self._holds.clear()
            self._touches.clear()
            self._heard.clear()
            self._summaries.clear()
            self._inboxes.clear()
        self.notifier.on_ephemeral = self.receive
        self.notifier.listen_here()
        thread = threading.Thread(target=self._beat, name="webchat-presence", daemon=True)
        thread.start()
        self._publish(heartbeats.hello(self.process))

    def _beat(self) -> None:
        pid = os.getpid()
        last = 0.0
        while not self.notifier.closed and self._started_in == pid:
            self._dirty.wait(min(MIN_GAP, self.interval))
            gap = last + MIN_GAP - time.monotonic()
            if gap > 0:
                # A change soon after the last heartbeat waits out the gap asleep: the wait
                # above returns at once while the change is pending, and looping on it spun
                # (half the worker's CPU while readers joined).
                time.sleep(gap)
            now = time.monotonic()
            self._expire(now)
            if now - last >= self.interval or self._dirty.is_set():
                self._dirty.clear()
                last = now
                for payload in self.heartbeat():
                    self._publish(payload)

    def _expire(self, now: float) -> None:
        with self._lock:
            gone = [k for k, (_, until) in self._touches.items() if until < now]
            for key in gone:
                del self._touches[key]
            stale = [k for k, heard in self._heard.items() if heard.expires < now]
            for key in stale:
                del self._heard[key]
            self._typed = {k: t for k, t in self._typed.items() if now - t < self.grace}
            self._replaced = {k: t for k, t in self._replaced.items() if t >= now}
            self._typing = {k: t for k, t in self._typing.items() if t >= now}
        if gone:
            self._dirty.set()
        self._resummarise({room for _, room in stale})

    def heartbeat(self) -> list[str]:
        """This process's present readers, as the messages of one heartbeat (each bounded)."""
        now = time.monotonic()
        rooms: dict[str, dict[str, Member]] = {}
        with self._lock:
            for room, member in self._holds.values():
                rooms.setdefault(room, {})[member.key] = member
            for (room, key), (member, until) in self._touches.items():
                if until >= now:
                    rooms.setdefault(room, {})[key] = member
            # A room left since the last heartbeat is said to be empty once, so that others
            # forget it now rather than at the end of the grace period.
            for room in self._published_rooms - rooms.keys():
                rooms[room] = {}
            self._published_rooms = {room for room, members in rooms.items() if members}
        return heartbeats.heartbeat(self.process, rooms, self.limit)

    def _publish(self, payload: str) -> None:
        self.sent_messages += 1
        self.sent_bytes += len(payload.encode())
        self.notifier.publish_ephemeral(payload)
