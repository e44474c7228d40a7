"""``@name`` in a message's text, resolved to the host's users by the host's lookup hook.

The chat has no users of its own: :meth:`flask_webchat.Webchat.mention_lookup` says who
``@name`` is. A message keeps the users its text mentions, ``[{"name", "id"}]``, so that a page
can highlight a message that mentions its reader, and a post sends
:data:`~flask_webchat.signals.user_mentioned` once per mentioned user, after its commit.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable

from .identity import Identity

#: ``(name) -> Identity | None``: the host's lookup, its answer already made an identity.
Lookup = Callable[[str], "Identity | None"]

# "@" not glued to a word before it (an e-mail address is no mention), then a name of letters,
# digits, "_", "." or "-", not ending in a "." or "-" (the end of a sentence: "thanks @ann.").
MENTION = re.compile(r"(?<![\w@])@(\w(?:[\w.-]{0,62}\w)?)")
#: At most this many distinct names of one message are looked up.
MAX_MENTIONS = 20


def names_in(content: str) -> list[str]:
    """The distinct names ``@mentioned`` in ``content``, in order of first mention."""
    return list(dict.fromkeys(MENTION.findall(content)))[:MAX_MENTIONS]


def resolve(content: str, lookup: Lookup | None) -> list[tuple[str, Identity]]:
    """The mentioned names the lookup knows, with their identities, each user once."""
    if lookup is None:
        return []
    found: dict[str, tuple[str, Identity]] = {}
    for name in names_in(content):
        identity = lookup(name)
        if identity is not None and identity.id not in found:
            found[identity.id] = (name, identity)
    return list(found.values())


def stored(resolved: list[tuple[str, Identity]]) -> str | None:
    """What a message stores of its mentions (``None`` for none)."""
    if not resolved:
        return None
    return json.dumps([{"name": name, "id": who.id} for name, who in resolved])
