"""What ``webchat.post_message`` costs, next to the same post over HTTP.

One writer posts to one room, one message at a time, through each path in turn, on the same host
app and database: the Python API (``post_message``, committing), the Python API joined to the
host's transaction (``commit=False``, then ``db.session.commit()``), and ``POST /chat/messages``
through Flask's test client (the whole request, without a network). Each path runs ``--posts``
times after a warm-up; the medians and posts per second print side by side::

    python bench/host_api.py                       # every configured database, 500 posts each
    python bench/host_api.py --database postgres --posts 2000
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from harness import DATABASES, available_databases, print_machine
from hosts import Host, Stack, build_host


def measure(posts: int, post: Callable[[int], None]) -> list[float]:
    """Seconds each of ``posts`` calls of ``post(n)`` took, after ten unmeasured ones."""
    for n in range(10):
        post(n)
    times = []
    for n in range(posts):
        began = time.perf_counter()
        post(n)
        times.append(time.perf_counter() - began)
    return times


def paths(host: Host) -> dict[str, Callable[[int], None]]:
    """Post one message each way; every call checks that the message was stored."""
    webchat, client = host.webchat, host.app.test_client()

    def python_api(n: int) -> None:
        with host.app.app_context():
            webchat.post_message(f"message {n}", username="bench")

    def joined(n: int) -> None:
        with host.app.app_context():
            webchat.post_message(f"message {n}", username="bench", commit=False)
            host.db.session.commit()

    def http(n: int) -> None:
        answer = client.post("/chat/messages", json={"content": f"message {n}", "username": "b"})
        assert answer.status_code == 201, answer.json

    return {"post_message": python_api, "commit=False": joined, "HTTP POST": http}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--database", choices=DATABASES, action="append")
    parser.add_argument("--posts", type=int, default=500, help="posts per path")
    args = parser.parse_args()
    databases = available_databases(args.database or list(DATABASES))

    with tempfile.TemporaryDirectory() as tmp:
        print_machine(databases, Path(tmp))
        print(f"# {args.posts} posts per path, one writer, one room; lower ms is better")
        print(f"{'database':<10} {'path':<14} {'median ms':>10} {'p90 ms':>8} {'posts/s':>8}")
        for database in databases:
            (Path(tmp) / database).mkdir()
            host = build_host(Path(tmp) / database, Stack(database, "signed-cookie"))
            try:
                results = {name: measure(args.posts, post) for name, post in paths(host).items()}
            finally:
                host.close()
            for name, times in results.items():
                median = statistics.median(times) * 1000
                p90 = statistics.quantiles(times, n=10)[-1] * 1000
                rate = len(times) / sum(times)
                print(f"{database:<10} {name:<14} {median:>10.2f} {p90:>8.2f} {rate:>8.0f}")
            http = statistics.median(results["HTTP POST"])
            ours = statistics.median(results["post_message"])
            print(f"{database:<10} {'ratio':<14} {ours / http:>10.2f}  (post_message / HTTP)")


if __name__ == "__main__":
    main()
