"""What a reader sees of a message besides its row: its reactions, and the quote it answers.

Both are read when the message is read, never stored with it, so a reply always quotes its
parent as the parent is now: edited text once edited, and nothing once deleted (a reply never
shows deleted text). A change to either reaches readers as an update event of the message (see
:mod:`flask_webchat.editing`). :func:`attach` loads them for many messages in two queries, and
hangs them on each message as ``message.details``, which the schemas read.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from .models import ChatMessage, ChatReaction

if TYPE_CHECKING:
    from .identity import Viewer

#: How much of the parent a reply quotes, in characters.
EXCERPT_LENGTH = 100

_messages = ChatMessage.__table__
_reactions = ChatReaction.__table__


@dataclass(frozen=True)
class Reaction:
    """One emoji on a message: how many reacted with it, and who (reactor keys)."""

    emoji: str
    reactors: tuple[str, ...]

    @property
    def count(self) -> int:
        """How many readers reacted with this emoji."""
        return len(self.reactors)


@dataclass(frozen=True)
class Quote:
    """The message a reply answers, as it is now; ``username`` and ``excerpt`` are ``None``
    once it is deleted."""

    id: int
    username: str | None
    excerpt: str | None


@dataclass(frozen=True)
class Details:
    """A message's reactions, in first-reacted order, and its quote (``None``: no reply)."""

    reactions: tuple[Reaction, ...] = ()
    reply_to: Quote | None = None


NONE = Details()


def excerpt(content: str) -> str:
    """The start of ``content`` on one line, cut at :data:`EXCERPT_LENGTH` with an ellipsis."""
    line = " ".join(content.split())
    return line if len(line) <= EXCERPT_LENGTH else line[: EXCERPT_LENGTH - 1] + "…"


def quote_of(parent: Any) -> Quote:
    """How a reply quotes ``parent`` (a message, or a row with its ``id, username, content``)."""
    return Quote(parent.id, parent.username, excerpt(parent.content))


def reactor_key(viewer: Viewer) -> str | None:
    """Who reacts for this viewer: the host user, else the browser session; ``None``: nobody."""
    if viewer.identity is not None:
        return "u:" + viewer.identity.id
    return None if viewer.reader_key is None else "s:" + viewer.reader_key


def details_of(message: ChatMessage) -> Details:
    """The details :func:`attach` hung on the message (none for a message it never saw)."""
    found = message.details
    return found if isinstance(found, Details) else NONE


def mentions_of(message: ChatMessage) -> list[dict[str, Any]]:
    """The message's resolved mentions, ``[{"name", "id"}]``."""
    return json.loads(message.mentions_json) if message.mentions_json else []


def attach(session: Session, messages: Iterable[ChatMessage]) -> None:
    """Load the reactions and quotes of ``messages`` and set each one's ``details``."""
    messages = list(messages)
    if not messages:
        return
    ids = {message.id for message in messages}
    reactions: dict[int, dict[str, list[str]]] = {}
    rows = session.execute(
        sa.select(_reactions.c.message_id, _reactions.c.emoji, _reactions.c.reactor)
        .where(_reactions.c.message_id.in_(ids))
        .order_by(_reactions.c.id)
    )
    for message_id, emoji, reactor in rows:
        # Dicts keep insertion order: an emoji ranks by its first reaction still standing.
        reactions.setdefault(message_id, {}).setdefault(emoji, []).append(reactor)
    parent_ids = {m.reply_to_id for m in messages if m.reply_to_id is not None}
    parents = {}
    if parent_ids:
        found = session.execute(
            sa.select(_messages.c.id, _messages.c.username, _messages.c.content).where(
                _messages.c.id.in_(parent_ids)
            )
        )
        parents = {row.id: quote_of(row) for row in found}
    for message in messages:
        by_emoji = reactions.get(message.id, {})
        quote = None
        if message.reply_to_id is not None:
            quote = parents.get(message.reply_to_id, Quote(message.reply_to_id, None, None))
        message.details = Details(
            reactions=tuple(Reaction(e, tuple(who)) for e, who in by_emoji.items()),
            reply_to=quote,
        )


def reactor_tags(message: ChatMessage) -> set[tuple[str | None, str | None]]:
    """Every reactor of the message as ``(user id, reader key)``, as the edge tags viewers."""
    found: set[tuple[str | None, str | None]] = set()
    for reaction in details_of(message).reactions:
        for reactor in reaction.reactors:
            kind, _, key = reactor.partition(":")
            found.add((key, None) if kind == "u" else (None, key))
    return found
