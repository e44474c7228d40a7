"""What the room counter costs a writer, next to the original design's plain INSERT.

Every post takes the room's next position under the room's row lock (see ``docs/design.rst``),
so writers in one room queue for a moment. This measures posts per second through
``flask_webchat.messages.post_message`` against an ``INSERT`` into the original one-table design
(``id, content, username, date``), with the same threads, connections and database, side by side::

    python bench/write_cost.py                    # 1 and 8 writers, 500 posts each
    python bench/write_cost.py --writers 16 --posts 2000 --database postgres
"""

from __future__ import annotations

import argparse
import tempfile
import threading
import time
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path

from flask_webchat.identity import Viewer
from flask_webchat.messages import WriteContext, post_message
from flask_webchat.state import get_state
from harness import DATABASES, ORIGINAL_MESSAGES, available_databases, print_machine
from hosts import Host, Stack, build_host


def timed(writers: int, posts: int, post: Callable[[int, int], None]) -> float:
    """Posts per second: ``writers`` threads each call ``post(writer, n)`` ``posts`` times."""
    start = threading.Barrier(writers + 1)

    def run(writer: int) -> None:
        start.wait()
        for n in range(posts):
            post(writer, n)

    threads = [threading.Thread(target=run, args=(w,)) for w in range(writers)]
    for thread in threads:
        thread.start()
    start.wait()
    began = time.perf_counter()
    for thread in threads:
        thread.join()
    return writers * posts / (time.perf_counter() - began)


def posting_functions(host: Host) -> tuple[Callable[[int, int], None], Callable[[int, int], None]]:
    """Post one message the original way, and one through flask-webchat's service."""
    viewer = Viewer(identity=None, reader_key="bench")

    def original(writer: int, n: int) -> None:
        with host.app.app_context():
            session = host.db.session
            session.execute(
                ORIGINAL_MESSAGES.insert().values(
                    content=f"message {n}",
                    username=f"writer {writer}",
                    date=datetime.now(timezone.utc).replace(tzinfo=None),
                )
            )
            session.commit()

    def webchat(writer: int, n: int) -> None:
        with host.app.app_context():
            # No notifier and no signals: the room counter's cost alone.
            context = WriteContext(session=host.db.session, settings=get_state().settings)
            post_message(
                context,
                room="lobby",
                viewer=viewer,
                body={"content": f"message {n}", "username": f"writer {writer}"},
            )

    return original, webchat


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--database", choices=DATABASES, action="append")
    parser.add_argument("--writers", type=int, action="append", help="default: 1 and 8")
    parser.add_argument("--posts", type=int, default=500, help="posts per writer")
    args = parser.parse_args()
    databases = available_databases(args.database or list(DATABASES))
    writer_counts = args.writers or [1, 8]

    with tempfile.TemporaryDirectory() as tmp:
        print_machine(databases, Path(tmp))
        print(f"# {args.posts} posts per writer, one room; posts/s, higher is better")
        print(f"{'database':<10} {'writers':>7} {'original':>9} {'webchat':>9} {'ratio':>6}")
        for database in databases:
            (Path(tmp) / database).mkdir()
            host = build_host(
                Path(tmp) / database,
                Stack(database, "signed-cookie"),
                SQLALCHEMY_ENGINE_OPTIONS={"pool_size": max(writer_counts) + 1},
            )
            with host.app.app_context():
                ORIGINAL_MESSAGES.create(host.db.engine)
            original, webchat = posting_functions(host)
            webchat(0, 0)  # create the room outside the timing
            try:
                for writers in writer_counts:
                    base = timed(writers, args.posts, original)
                    ours = timed(writers, args.posts, webchat)
                    print(
                        f"{database:<10} {writers:>7} {base:>9.0f} {ours:>9.0f} {ours / base:>6.2f}"
                    )
            finally:
                host.close()


if __name__ == "__main__":
    main()
