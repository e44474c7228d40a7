"""What a reaction costs a writer, next to a post.

A reaction is an update event: the room's next position under the room's lock, a reaction row and
an update row, then the message's current state (its reactions) read back for the answer. This
measures reactions per second through ``flask_webchat.reactions.react`` (each writer toggling
its own 👍 on and off one message, so every call changes something) against posts per second
through ``flask_webchat.messages.post_message``, with the same threads and database::

    python bench/reaction_cost.py                    # 1 and 8 writers, 500 of each
    python bench/reaction_cost.py --writers 16 --count 2000 --database postgres
"""

from __future__ import annotations

import argparse
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from write_cost import timed

from flask_webchat.identity import Viewer
from flask_webchat.messages import WriteContext, post_message
from flask_webchat.reactions import react
from flask_webchat.state import get_state
from harness import DATABASES, available_databases, print_machine
from hosts import Host, Stack, build_host


def quiet(host: Host) -> WriteContext:
    """Writes that wake nobody and send no signal, in an app context: the writes' cost alone."""
    return WriteContext(session=host.db.session, settings=get_state().settings)


def writing_functions(
    host: Host, target: int
) -> tuple[Callable[[int, int], None], Callable[[int, int], None]]:
    """Post one message, and toggle one reaction on ``target``, as writer ``writer``."""

    def post(writer: int, n: int) -> None:
        with host.app.app_context():
            post_message(
                quiet(host),
                room="lobby",
                viewer=Viewer(identity=None, reader_key=f"bench-{writer}"),
                body={"content": f"message {n}", "username": f"writer {writer}"},
            )

    def reaction(writer: int, n: int) -> None:
        with host.app.app_context():
            react(
                quiet(host),
                message_id=target,
                emoji="👍",
                viewer=Viewer(identity=None, reader_key=f"bench-{writer}"),
                add=n % 2 == 0,
            )

    return post, reaction


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--database", choices=DATABASES, action="append")
    parser.add_argument("--writers", type=int, action="append", help="default: 1 and 8")
    parser.add_argument("--count", type=int, default=500, help="posts, then reactions, per writer")
    args = parser.parse_args()
    databases = available_databases(args.database or list(DATABASES))
    writer_counts = args.writers or [1, 8]

    with tempfile.TemporaryDirectory() as tmp:
        print_machine(databases, Path(tmp))
        print(f"# {args.count} of each per writer, one room; per second, higher is better")
        print(f"{'database':<10} {'writers':>7} {'posts':>9} {'reactions':>9} {'ratio':>6}")
        for database in databases:
            (Path(tmp) / database).mkdir()
            options: dict[str, Any] = {"pool_size": max(writer_counts) + 1}
            if database == "sqlite":
                # One writer at a time: queued writers wait past SQLite's default 5 s.
                options["connect_args"] = {"timeout": 60}
            host = build_host(
                Path(tmp) / database,
                Stack(database, "signed-cookie"),
                SQLALCHEMY_ENGINE_OPTIONS=options,
            )
            with host.app.app_context():
                target = post_message(
                    quiet(host),
                    room="lobby",
                    viewer=Viewer(identity=None, reader_key="bench"),
                    body={"content": "react to me", "username": "bench"},
                ).id
            post, reaction = writing_functions(host, target)
            try:
                for writers in writer_counts:
                    posts = timed(writers, args.count, post)
                    reactions = timed(writers, args.count, reaction)
                    print(
                        f"{database:<10} {writers:>7} {posts:>9.0f} {reactions:>9.0f}"
                        f" {reactions / posts:>6.2f}"
                    )
            finally:
                host.close()


if __name__ == "__main__":
    main()
