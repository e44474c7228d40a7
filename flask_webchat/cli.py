"""The ``flask webchat`` command group: tables, posting, purging old messages, statistics.

Exit codes a script can rely on: 0 when the command did its work (including "nothing to
purge"), 2 for a bad argument (click's usage error), 1 when the database fails.
"""

from __future__ import annotations

import json
import re
import unicodedata
from datetime import timedelta
from typing import Any

import click
from flask.cli import AppGroup

from . import rooms
from .errors import WebchatError
from .models import metadata, utcnow
from .purging import purge_messages
from .state import get_state
from .web.locale import current_translations, localized
from .web.locale import gettext as _

webchat_group = AppGroup(
    "webchat", help="Manage the chat: tables, posting, old messages, statistics."
)

_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


class Duration(click.ParamType):
    """A duration such as ``30d``, ``12h``, ``90m``, ``2w`` or ``45s``."""

    name = "duration"

    def convert(self, value: Any, param: Any, ctx: Any) -> timedelta:
        if isinstance(value, timedelta):
            return value
        match = re.fullmatch(r"\s*(\d{1,6})\s*([smhdw])\s*", str(value))
        if match is None:
            complaint = _(
                "%(value)s is not a duration like 30d, 12h, 90m, 2w or 45s.", value=repr(value)
            )
            self.fail(complaint, param, ctx)
        duration = timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})
        try:
            utcnow() - duration
        except OverflowError:
            self.fail(_("%(value)s reaches back before the year 1.", value=repr(value)), param, ctx)
        return duration


@webchat_group.command("create-tables")
def create_tables() -> None:
    """Create the chat's tables in the app's database, leaving existing ones alone."""
    engine = get_state().db.engine
    metadata.create_all(engine, checkfirst=True)
    click.echo(_("Chat tables ready: %(tables)s.", tables=", ".join(sorted(metadata.tables))))


@webchat_group.command("post")
@click.option("--room", help="The room to post to (default: WEBCHAT_DEFAULT_ROOM).")
@click.option(
    "--system", "as_system", is_flag=True, help="Post a notice from the site (the default)."
)
@click.option("--as", "name", metavar="NAME", help="Post under this name, as a guest would.")
@click.argument("text")
def post(room: str | None, as_system: bool, name: str | None, text: str) -> None:
    """Post TEXT to the chat: every reader, on every process, gets it at once."""
    if as_system and name is not None:
        raise click.UsageError(_("Give --system or --as NAME, not both."))
    state = get_state()
    try:
        message = state.extension.post_message(text, room=room, system=name is None, username=name)
    except WebchatError as error:
        # The core wrote these in English with their ids: the reader gets them in their language;
        # field names stay the API's identifiers.
        details = "; ".join(
            f"{field}: {' '.join(map(str, localized(problems)))}"
            for field, problems in (error.fields or {}).items()
        )
        raise click.UsageError(f"{localized(error.message)} {details}".strip()) from None
    where = rooms.room_name(state.session, message.room_id)
    click.echo(_("Posted message %(id)s to %(room)s.", id=message.id, room=where))


@webchat_group.command("purge")
@click.option(
    "--older-than",
    type=Duration(),
    required=True,
    help="Remove messages posted longer ago than this, e.g. 30d.",
)
@click.option("--room", help="Only this room (default: every room).")
@click.option("--dry-run", is_flag=True, help="Count what would be removed; remove nothing.")
def purge(older_than: timedelta, room: str | None, dry_run: bool) -> None:
    """Remove old messages; readers still showing them see them go."""
    state = get_state()
    if room is not None:
        try:
            rooms.require_stored(state.session, room)
        except WebchatError as error:
            raise click.BadParameter(localized(error.message), param_hint="--room") from None
    removed = purge_messages(
        state.write_context(), older_than=utcnow() - older_than, room_name=room, dry_run=dry_run
    )
    total = sum(removed.values())
    touched = sum(1 for count in removed.values() if count)
    translations = current_translations()
    if dry_run:
        summary = translations.ngettext(
            "Would remove %(count)s message from %(rooms)s room(s).",
            "Would remove %(count)s messages from %(rooms)s room(s).",
            total,
        )
    else:
        summary = translations.ngettext(
            "Removed %(count)s message from %(rooms)s room(s).",
            "Removed %(count)s messages from %(rooms)s room(s).",
            total,
        )
    click.echo(summary % {"count": total, "rooms": touched})
    for name, count in removed.items():
        if count:
            click.echo(f"  {name}: {count}")


@webchat_group.command("stats")
@click.option("--json", "as_json", is_flag=True, help="Print JSON, for scripts.")
def stats(as_json: bool) -> None:
    """Rooms, their messages, and the oldest and newest message of each."""
    report: list[dict[str, Any]] = [
        {
            "room": name,
            "messages": count,
            "oldest": oldest.isoformat(timespec="seconds") + "Z" if oldest else None,
            "newest": newest.isoformat(timespec="seconds") + "Z" if newest else None,
        }
        for name, count, oldest, newest in rooms.statistics(get_state().session)
    ]
    if as_json:
        click.echo(json.dumps({"rooms": report, "messages": sum(r["messages"] for r in report)}))
        return
    headings = _("room"), _("messages"), _("oldest"), _("newest")
    click.echo(_row(*headings))
    for row in report:
        click.echo(
            _row(row["room"], str(row["messages"]), row["oldest"] or "-", row["newest"] or "-")
        )
    total = sum(r["messages"] for r in report)
    click.echo(_("%(rooms)s room(s), %(messages)s message(s).", rooms=len(report), messages=total))


def _row(room: str, messages: str, oldest: str, newest: str) -> str:
    return (
        f"{_pad(room, 20)} {_pad(messages, 9, right=True)}  {_pad(oldest, 20)}  {_pad(newest, 20)}"
    )


def _pad(text: str, width: int, *, right: bool = False) -> str:
    # Chinese characters take two columns of a terminal: pad by columns, not characters.
    columns = sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)
    space = " " * max(0, width - columns)
    return space + text if right else text + space
