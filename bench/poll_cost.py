"""P1: what an empty poll costs as history grows, next to the original design's OFFSET query.

The original answered a poll with ``SELECT … ORDER BY id OFFSET <rows seen>``, which reads past
every row already seen. flask-webchat reads from a position with an index, so an empty poll should
cost the same with 1,000 or 1,000,000 stored messages. Median latency of an empty poll, measured
three ways on the same data::

    python bench/poll_cost.py                # 1k, 100k, 1M messages; SQLite and PostgreSQL
    python bench/poll_cost.py --sizes 1000 100000 --database sqlite

- ``poll``: the service call a poll makes (stream, head, events), in the database session;
- ``HTTP poll``: ``GET /chat/messages?stream=…`` through Flask, the session and the route;
- ``OFFSET``: the original design's query on a table of the same size;
- ``history``: the deepest page of ``GET /chat/messages/history`` (the 50 oldest messages),
  which pages along the room's index: it should cost the same at any depth;
- ``unread``: one reader's unread count in the room (the service call ``GET /rooms`` makes per
  page of rooms), for a reader who has read nothing, as far behind as a reader can be: it stops
  at ``WEBCHAT_UNREAD_LIMIT`` (100) and should cost the same at any size.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path

import sqlalchemy as sa

from flask_webchat import unread
from flask_webchat.identity import Identity, Viewer
from flask_webchat.models import ChatMessage, ChatRoom, ChatStream
from flask_webchat.state import get_state
from flask_webchat.streams import Reader
from harness import ORIGINAL_MESSAGES, available_databases, print_machine
from hosts import Host, Stack, build_host

_CHUNK = 20_000


def median_ms(run: Callable[[], object], repeat: int) -> float:
    for _ in range(min(20, repeat)):  # warm caches and the connection pool
        run()
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        run()
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1000


def grow_to(host: Host, room_id: int, have: int, want: int) -> None:
    """Store messages ``have + 1 … want`` in the chat and in the original design's table."""
    now = datetime.now(timezone.utc).replace(tzinfo=None)
    with host.app.app_context(), host.db.engine.begin() as connection:
        for start in range(have + 1, want + 1, _CHUNK):
            seqs = range(start, min(start + _CHUNK, want + 1))
            connection.execute(
                sa.insert(ChatMessage),
                [
                    {"room_id": room_id, "seq": seq, "username": "bench",
                     "content": f"message {seq}", "created_at": now}
                    for seq in seqs
                ],
            )  # fmt: skip
            connection.execute(
                ORIGINAL_MESSAGES.insert(),
                [{"content": f"message {seq}", "username": "bench", "date": now} for seq in seqs],
            )
        connection.execute(sa.update(ChatRoom).values(last_seq=want))
    with host.app.app_context():
        dialect = host.db.engine.dialect.name
    if dialect == "postgresql":
        # Settle the bulk insert now, or autovacuum does it while the polls are being timed.
        with host.app.app_context(), host.db.engine.connect() as connection:
            connection.execution_options(isolation_level="AUTOCOMMIT").execute(
                sa.text("VACUUM ANALYZE")
            )
            connection.execute(sa.text("CHECKPOINT"))


def measure(database: str, sizes: list[int], repeat: int, tmp: Path) -> list[tuple]:
    (tmp / database).mkdir()
    host = build_host(tmp / database, Stack(database, "signed-cookie"), WEBCHAT_BACKLOG=0)
    try:
        with host.app.app_context():
            ORIGINAL_MESSAGES.create(host.db.engine)
        browser = host.browser()
        writer = host.browser()
        writer.say("creates the room")
        stream = browser.open_page()
        with host.app.app_context():
            room_id = host.db.session.scalar(sa.select(ChatRoom.id))
        reader_key = _reader_key(host, browser)
        # Someone signed in who has never marked the room read.
        behind = Viewer(identity=Identity("reader", "Reader"), reader_key=None)
        rows, have = [], 1
        for size in sizes:
            grow_to(host, room_id, have, size)
            have = size
            with host.app.app_context(), host.db.engine.begin() as connection:
                # The reader has read everything: every poll measured is an empty one.
                connection.execute(sa.update(ChatStream).values(position=size))

            def service_poll() -> None:
                with host.app.app_context():
                    reader = Reader(
                        host.db.session,
                        get_state().settings,
                        room="lobby",
                        limit=200,
                        owner=reader_key,
                        token=stream,
                    )
                    assert not reader.read(None).messages

            def http_poll() -> None:
                assert browser.client.get(f"/chat/messages?stream={stream}").status_code == 200

            def deepest_history_page() -> None:
                page = browser.client.get("/chat/messages/history?before=51&limit=50").json
                assert len(page["messages"]) == 50

            def unread_count() -> None:
                with host.app.app_context():
                    counted = unread.unread_counts(host.db.session, behind, ["lobby"], limit=100)
                    assert counted["lobby"].capped and counted["lobby"].count == 100

            def original_poll(seen: int = size) -> None:
                with host.app.app_context():
                    query = (
                        sa.select(ORIGINAL_MESSAGES).order_by(ORIGINAL_MESSAGES.c.id).offset(seen)
                    )
                    assert host.db.session.execute(query).all() == []

            # Each measured twice, interleaved; the lower median is kept (noise only adds time).
            timings = [
                (
                    median_ms(service_poll, repeat),
                    median_ms(http_poll, repeat),
                    median_ms(original_poll, max(5, repeat // 10)),
                    median_ms(deepest_history_page, max(5, repeat // 10)),
                    median_ms(unread_count, repeat),
                )
                for _ in range(2)
            ]
            rows.append((database, size, *(min(pair) for pair in zip(*timings, strict=True))))
            print(_row(*rows[-1]), flush=True)
        return rows
    finally:
        host.close()


def _reader_key(host: Host, browser: object) -> str:
    """The reader key in the browser's session, as the views see it."""
    with host.app.test_request_context():
        cookie = browser.client.get_cookie("session")  # type: ignore[attr-defined]
        session = host.app.session_interface.get_signing_serializer(host.app).loads(cookie.value)
        return session["webchat_reader"]  # type: ignore[no-any-return]


def _row(
    database: str,
    size: int,
    poll: float,
    http: float,
    offset: float,
    history: float,
    unread: float,
) -> str:
    return (
        f"{database:<10} {size:>9,} {poll:>9.3f} {http:>10.3f} {offset:>10.3f} {history:>9.3f}"
        f" {unread:>8.3f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--database", choices=["sqlite", "postgres", "mysql"], action="append")
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000, 100_000, 1_000_000])
    parser.add_argument("--repeat", type=int, default=300)
    args = parser.parse_args()
    databases = available_databases(args.database or ["sqlite", "postgres"])
    with tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder)
        print_machine(databases, tmp)
        print(
            f"# median of {args.repeat} empty polls (OFFSET: of {max(5, args.repeat // 10)}),"
            " lower of two interleaved runs, ms"
        )
        print(
            f"{'database':<10} {'messages':>9} {'poll':>9} {'HTTP poll':>10} {'OFFSET':>10}"
            f" {'history':>9} {'unread':>8}"
        )
        results = [
            row for db in databases for row in measure(db, args.sizes, args.repeat, Path(tmp))
        ]
    print(f"# growth from {args.sizes[0]:,} to {args.sizes[-1]:,} messages (goal for poll: <= 1.2)")
    for database in databases:
        first, last = [r for r in results if r[0] == database][:: len(args.sizes) - 1][:2]
        print(
            f"{database:<10} poll x{last[2] / first[2]:.2f}   HTTP poll x{last[3] / first[3]:.2f}"
            f"   OFFSET x{last[4] / first[4]:.1f}   history x{last[5] / first[5]:.2f}"
            f"   unread x{last[6] / first[6]:.2f}"
        )


if __name__ == "__main__":
    main()
