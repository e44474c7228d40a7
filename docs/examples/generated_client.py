"""A first program with a client generated from the chat's OpenAPI document.

Generated with ``openapi-python-client generate --url https://example.com/chat/openapi.json``
(here, as the test suite does, into a package called ``webchat_api``). Run it as
``python generated_client.py https://example.com/chat``; it type-checks with ``mypy --strict``.
"""

from __future__ import annotations

import sys

from webchat_api import Client
from webchat_api.api.default import open_stream, poll_messages, post_message
from webchat_api.models import Message, NewMessage, Poll, Stream


def main(base_url: str) -> None:
    # One Client keeps one cookie jar: the chat session that owns the stream.
    with Client(base_url=base_url) as client:
        opened = open_stream.sync(client=client)
        if not isinstance(opened, Stream):  # else an Error, or None for an undocumented answer
            raise SystemExit(f"could not open a stream: {opened}")
        posted = post_message.sync(client=client, body=NewMessage(content="Hello!", username="Bot"))
        if not isinstance(posted, Message):
            raise SystemExit(f"refused: {posted}")
        print(f"posted {posted.id} at cursor {posted.cursor}")
        poll = poll_messages.sync(client=client, stream=opened.stream, after=opened.cursor)
        if not isinstance(poll, Poll):
            raise SystemExit(f"refused: {poll}")
        for message in poll.messages:  # every field is there: no Unset to guard against
            print(f"{message.created_at:%H:%M} {message.username}: {message.content}")
        print(f"next: ?stream={poll.stream}&after={poll.cursor}")


if __name__ == "__main__":
    main(sys.argv[1])
