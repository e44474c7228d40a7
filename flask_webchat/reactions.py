"""Reactions: a reader's emoji on a message, each change an update event of the message.

An emoji is one user-perceived character: one extended grapheme cluster (Unicode's UAX #29, as
the ``regex`` module's ``\\X`` matches it), so 👍🏽 and 👨‍👩‍👧 are one each, and one that is
pictographic (or a flag, or a keycap), so that letters are not reactions. Signed-in readers react
as themselves, anonymous ones as their browser session. Adding a reaction the reader already
made, or removing one they did not, changes nothing and takes no position.
"""

from __future__ import annotations

from typing import Any

import regex  # type: ignore[import-untyped]
import sqlalchemy as sa

from . import rooms, signals, updates
from .details import reactor_key
from .editing import current_state
from .errors import ValidationFailed
from .i18n import N_
from .identity import Viewer
from .messages import WriteContext, get_message
from .models import EMOJI_MAX_LENGTH, ChatMessage, ChatReaction

#: Distinct emoji one message may carry; a further one is refused (422).
MAX_DISTINCT = 20

_ONE_CLUSTER = regex.compile(r"\X")
_PICTURE = regex.compile(r"[\p{Extended_Pictographic}\p{Regional_Indicator}\u20e3]")
_reactions = ChatReaction.__table__
_messages = ChatMessage.__table__


def is_emoji(text: object) -> bool:
    """Whether ``text`` is one emoji: one grapheme cluster, with a pictograph in it."""
    return (
        isinstance(text, str)
        and 0 < len(text) <= EMOJI_MAX_LENGTH
        and _ONE_CLUSTER.fullmatch(text) is not None
        and _PICTURE.search(text) is not None
    )


def react(
    context: WriteContext,
    *,
    message_id: int,
    emoji: str,
    viewer: Viewer,
    add: bool,
    room: str | None = None,
) -> Any:
    """Add (``add=True``) or remove the viewer's ``emoji`` on a message; return the message.

    Whoever may post in the message's room may react. Sends
    :data:`~flask_webchat.signals.reaction_changed` when something changed.
    """
    session = context.session
    if not is_emoji(emoji):
        raise ValidationFailed({"emoji": [N_("Not one emoji.")]})
    message = get_message(session, message_id, room=room)
    name = rooms.room_name(session, message.room_id)
    viewer.require_visible(message, name)
    viewer.require_post(name, allow_anonymous=context.settings.allow_anonymous)
    reactor = reactor_key(viewer.as_author())
    assert reactor is not None
    room_id = message.room_id
    rooms.lock(session, room_id)
    mine = sa.and_(
        _reactions.c.message_id == message_id,
        _reactions.c.emoji == emoji,
        _reactions.c.reactor == reactor,
    )
    held = session.execute(sa.select(_reactions.c.id).where(mine).with_for_update()).first()
    still_there = session.execute(
        sa.select(_messages.c.id).where(_messages.c.id == message_id).with_for_update()
    ).first()
    if still_there is None or (held is not None) == add:
        session.rollback()  # nothing to change (or the message went meanwhile)
        return current_state(session, message_id)
    if add:
        emoji_there = session.scalars(
            sa.select(_reactions.c.emoji).where(_reactions.c.message_id == message_id).distinct()
        ).all()
        if emoji not in emoji_there and len(emoji_there) >= MAX_DISTINCT:
            session.rollback()
            full = N_("A message has at most %(max)s different reactions.", max=MAX_DISTINCT)
            raise ValidationFailed({"emoji": [full]})
        session.add(ChatReaction(message_id=message_id, emoji=emoji, reactor=reactor))
    else:
        session.execute(sa.delete(_reactions).where(mine))
    _, position = rooms.take_positions(session, room_id)
    updates.record(session, room_id, position, [message_id])
    session.flush()
    state = current_state(session, message_id)
    change = signals.Change(
        signals.reaction_changed, state, name, viewer.identity, extra={"emoji": emoji, "added": add}
    )
    context.commit(name, position, (change,))
    return state
