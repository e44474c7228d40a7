"""Exact delivery under load: writers post and delete while readers poll; lost and repeated counts.

Runs the stress test's workload (``tests/workload.py``) with larger numbers, on every configured
database, and prints one row per database::

    python bench/stress.py                       # 8 writers x 1000 posts, 4 readers
    python bench/stress.py --posts 5000 --readers 8 --database postgres

PostgreSQL, MariaDB/MySQL and Redis come from the same variables as the tests
(``WEBCHAT_TEST_POSTGRES_URL`` …); their test databases are emptied first.
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path

from harness import DATABASES, available_databases, print_machine
from hosts import Stack, build_host
from workload import run_stress

# The session backend paired with each database, as in the test matrix.
SESSIONS = {"sqlite": "cachelib", "postgres": "redis", "mysql": "sqlalchemy"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--database", choices=DATABASES, action="append")
    parser.add_argument("--writers", type=int, default=8)
    parser.add_argument("--readers", type=int, default=4)
    parser.add_argument("--posts", type=int, default=1000, help="posts per writer")
    parser.add_argument("--delete-every", type=int, default=4)
    parser.add_argument("--edit-every", type=int, default=0, help="0: no edits")
    parser.add_argument("--react-every", type=int, default=0, help="0: no reactions")
    parser.add_argument(
        "--reader-pause", type=float, default=0.0, help="seconds between a reader's polls"
    )
    args = parser.parse_args()
    databases = available_databases(args.database or list(DATABASES))
    if "postgres" in databases and not os.environ.get("WEBCHAT_TEST_REDIS_URL"):
        SESSIONS["postgres"] = "signed-cookie"

    with tempfile.TemporaryDirectory() as tmp:
        print_machine(databases, Path(tmp))
        print(
            f"# {args.writers} writers x {args.posts} posts (every {args.delete_every}th followed"
            f" by a delete, every {args.edit_every}th by an edit, every {args.react_every}th by"
            f" a reaction; 0: never), {args.readers} readers (tab stream, session, own cursor),"
            f" {args.reader_pause:g} s between a reader's polls"
        )
        print(
            f"{'database':<10} {'sessions':<14} {'events':>7} {'readers':>7} {'lost':>5}"
            f" {'dup':>5} {'order':>5} {'stale':>5} {'503s':>5} {'seconds':>8} {'events/s':>9}"
        )
        for database in databases:
            stack = Stack(database, SESSIONS[database])
            (Path(tmp) / database).mkdir()
            host = build_host(
                Path(tmp) / database,
                stack,
                WEBCHAT_BACKLOG=0,
                SQLALCHEMY_ENGINE_OPTIONS={"pool_size": args.writers + args.readers},
            )
            try:
                report = run_stress(
                    host,
                    writers=args.writers,
                    readers=args.readers,
                    posts_per_writer=args.posts,
                    delete_every=args.delete_every,
                    edit_every=args.edit_every,
                    react_every=args.react_every,
                    timeout=3600,
                    reader_pause=args.reader_pause,
                )
            finally:
                host.close()
            print(
                f"{database:<10} {stack.sessions:<14} {report.events:>7} {report.readers:>7}"
                f" {sum(report.lost):>5} {sum(report.duplicates):>5}"
                f" {sum(report.out_of_order):>5} {sum(report.stale):>5} {report.retried:>5}"
                f" {report.seconds:>8.1f}"
                f" {report.events_per_second:>9.0f}"
            )


if __name__ == "__main__":
    main()
