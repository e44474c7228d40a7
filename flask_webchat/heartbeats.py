"""How presence travels between processes: heartbeats, typing and hellos, as JSON text.

Every message is one JSON object with a kind ``k``:

* ``{"k": "p", "p": <process>, "r": {<room>: {"u": {<key>: <name>}, "g": [<key>], "n": <more>}}}``:
  a heartbeat, the readers a process holds per room (users by key and name, guests by key, and
  how many guests more than the limit); a room with none says that the process left it;
* ``{"k": "t", "r": <room>, "m": <key>, "n": <name>, "on": true|false}``: typing;
* ``{"k": "h", "p": <process>}``: a process started, and asks to hear from the others soon;
* ``{"k": "g", "r": <room>, "m": <key>}``: the reader ``key`` has gone from the room: it came
  back under another key (a guest's first post gave it a session), so every process drops it now
  rather than when its old connection is noticed closed.

A message stays under :data:`MAX_PAYLOAD` bytes, below PostgreSQL's 8,000-byte ``NOTIFY``: a
heartbeat is cut into several messages of whole rooms, and a room too large for one message
lists fewer readers (its guests are still counted).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

#: The largest message, in bytes (PostgreSQL's NOTIFY takes at most 8000).
MAX_PAYLOAD = 7000
#: Room for the message's head (kind, process) around its rooms.
_HEAD = 100
#: The longest display name sent, in characters.
_NAME = 80


@dataclass(frozen=True)
class Member:
    """One present reader as the other processes see it: an opaque key, and a name if listed."""

    key: str
    #: The display name of a signed-in user; ``None`` for a guest, who is only counted.
    name: str | None


def dumps(message: dict[str, Any]) -> str:
    """One message as compact JSON text."""
    return json.dumps(message, ensure_ascii=False, separators=(",", ":"))


def typing_message(room: str, key: str, name: str, *, on: bool) -> str:
    """``name`` (the reader ``key``) started or stopped typing in ``room``."""
    return dumps({"k": "t", "r": room, "m": key, "n": name, "on": on})


def gone(room: str, key: str) -> str:
    """The reader ``key`` is no longer in ``room``: it is counted under another key now."""
    return dumps({"k": "g", "r": room, "m": key})


def hello(process: str) -> str:
    """A process started: the others publish their heartbeat soon, so that it learns theirs."""
    return dumps({"k": "h", "p": process})


def heartbeat(process: str, rooms: dict[str, dict[str, Member]], limit: int) -> list[str]:
    """The messages of one heartbeat: each room's readers (at most ``limit`` of each kind)."""
    head = {"k": "p", "p": process}
    messages: list[str] = []
    batch: dict[str, Any] = {}
    size = 0
    for room, members in sorted(rooms.items()):
        entry = room_entry(members, limit)
        length = len(dumps({room: entry}).encode())
        if batch and size + length > MAX_PAYLOAD - _HEAD:
            messages.append(dumps({**head, "r": batch}))
            batch, size = {}, 0
        batch[room], size = entry, size + length
    if batch:
        messages.append(dumps({**head, "r": batch}))
    return messages


def room_entry(members: dict[str, Member], limit: int) -> dict[str, Any]:
    """One room of a heartbeat, listing fewer readers until it fits one message."""
    users = [(m.key, m.name[:_NAME]) for m in members.values() if m.name is not None]
    guests = [m.key for m in members.values() if m.name is None]
    while True:
        entry: dict[str, Any] = {"u": dict(users[:limit]), "g": guests[:limit]}
        if len(guests) > limit:
            entry["n"] = len(guests) - limit
        if len(dumps(entry).encode()) <= MAX_PAYLOAD - 2 * _HEAD or limit == 0:
            return entry
        limit //= 2
