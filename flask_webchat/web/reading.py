"""The routes of read state: marking a room read, and the unread counts ``GET /rooms`` shows."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict
from typing import Any

from flask import Response, jsonify

from .. import unread
from ..identity import Viewer
from ..rooms import RoomSummary
from ..schemas import ReadSchema, ReadStateSchema, load
from ..state import get_state
from .requests import json_body
from .session import enter_room

_READ = ReadSchema()
_READ_STATE = ReadStateSchema()


def mark_read(room: str | None) -> Response:
    """Move the reader's read position in the room forward to the cursor in the body."""
    state = get_state()
    name, viewer = enter_room(room)
    cursor = load(_READ, json_body(state.settings.max_body))["cursor"]
    if viewer.identity is None:
        viewer = viewer.remembered()  # an anonymous position belongs to this browser session
    marked = unread.mark_read(
        state.session, viewer, name, cursor, limit=state.settings.unread_limit
    )
    return jsonify(_READ_STATE.dump(marked))


def with_unread(viewer: Viewer, listed: Iterable[RoomSummary]) -> list[dict[str, Any]]:
    """The rooms of a ``GET /rooms`` page with the viewer's unread counts; nothing is written."""
    state = get_state()
    listed = list(listed)
    counts = unread.unread_counts(
        state.session,
        viewer,
        (room.name for room in listed),
        limit=state.settings.unread_limit,
    )
    return [
        {
            **asdict(room),
            "unread": counts[room.name].count,
            "unread_capped": counts[room.name].capped,
        }
        for room in listed
    ]


def unread_on_page(viewer: Viewer, room: str, switcher: list[dict[str, Any]]) -> dict[str, Any]:
    """What the page shows of read state: where the reader stopped in ``room`` (the "new"
    divider goes above the first message after it), and a badge per room of the switcher,
    whose items get ``unread`` (a label, empty for none)."""
    state = get_state()
    names = [room, *(item["name"] for item in switcher)]
    counts = unread.unread_counts(state.session, viewer, names, limit=state.settings.unread_limit)
    for item in switcher:
        counted = counts[item["name"]]
        item["unread"] = counted.label if counted.count else ""
    here = counts[room]
    return {"read_cursor": str(here.position), "unread": here.count, "unread_capped": here.capped}
