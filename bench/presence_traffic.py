"""Presence heartbeat traffic: what each process publishes, however many readers it holds.

Two gunicorn servers (one gevent worker each) share one notifier. Guests open the chat page and
hold an event stream, spread over both servers; this script listens on the notifier's ephemeral
channel itself and counts every presence message and its bytes, per publishing process: while
readers join (changes are published at most once a second), then for ``--seconds`` of a still
room, where only the periodic heartbeat (``WEBCHAT_PRESENCE_HEARTBEAT``) remains::

    python bench/presence_traffic.py --notifier redis --readers 200
    python bench/presence_traffic.py --notifier postgres --readers 200 \\
        --database-url postgresql+psycopg://postgres@127.0.0.1/test

Expected: a flat rate of one message per process per heartbeat in the still phase, whatever
``--readers`` is; its size grows by about 20 bytes per guest held by that process.
"""

from __future__ import annotations

import argparse
import http.cookiejar
import json
import os
import tempfile
import threading
import time
import urllib.request
from collections import defaultdict
from pathlib import Path
from typing import Any

from harness import print_machine
from hosts import SERVICE_VARIABLES, reset_database
from live import raise_open_files, site_env
from processes import gunicorn


class Counter:
    """Presence messages heard on the notifier, per publishing process."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.messages: dict[str, int] = defaultdict(int)
        self.bytes: dict[str, int] = defaultdict(int)

    def heard(self, payload: bytes | str) -> None:
        raw = payload.encode() if isinstance(payload, str) else payload
        message = json.loads(raw)
        if message.get("k") != "p":
            return
        with self.lock:
            self.messages[message["p"]] += 1
            self.bytes[message["p"]] += len(raw)

    def take(self) -> tuple[dict[str, int], dict[str, int]]:
        with self.lock:
            taken = (dict(self.messages), dict(self.bytes))
            self.messages.clear()
            self.bytes.clear()
        return taken


def listen_redis(url: str, counter: Counter, stop: threading.Event) -> None:
    import redis

    pubsub = redis.Redis.from_url(url).pubsub(ignore_subscribe_messages=True)
    pubsub.psubscribe("webchat:*:ephemeral")
    while not stop.is_set():
        message = pubsub.get_message(timeout=0.5)
        if message is not None and message["type"] == "pmessage":
            counter.heard(message["data"])


def listen_postgres(url: str, counter: Counter, stop: threading.Event) -> None:
    import psycopg
    import sqlalchemy as sa

    conninfo = sa.make_url(url).set(drivername="postgresql").render_as_string(False)
    with psycopg.connect(conninfo, autocommit=True) as connection:
        connection.execute("LISTEN webchat_ephemeral")
        while not stop.is_set():
            for notice in connection.notifies(timeout=0.5):
                counter.heard(notice.payload)


#: Page loads at once: more would wait for the database pool (503 on PostgreSQL).
LOADING = threading.Semaphore(8)


def hold_reader(site: str, stop: threading.Event, ready: threading.Semaphore) -> None:
    """A guest: load the page (a reader key and a stream), then hold its event stream."""
    opener = urllib.request.build_opener(
        urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar())
    )
    with LOADING, opener.open(f"{site}/chat/", timeout=60) as page:
        stream = page.read().decode().split('data-stream="', 1)[1].split('"', 1)[0]
    request = urllib.request.Request(
        f"{site}/chat/events?stream={stream}", headers={"Accept": "text/event-stream"}
    )
    with opener.open(request, timeout=60) as events:
        events.readline()
        ready.release()
        while not stop.is_set() and events.readline():
            pass


def report(phase: str, seconds: float, counts: tuple[dict[str, int], dict[str, int]]) -> None:
    messages, sizes = counts
    print(f"\n{phase} ({seconds:.0f} s):")
    print(f"  {'process':<22}{'messages':>9}{'per min':>9}{'bytes':>9}{'bytes/min':>11}")
    for process in sorted(messages):
        n, b = messages[process], sizes[process]
        per_minute = 60 / seconds
        print(f"  {process:<22}{n:>9}{n * per_minute:>9.1f}{b:>9}{b * per_minute:>11.0f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--notifier", choices=["redis", "postgres"], default="redis")
    parser.add_argument("--readers", type=int, default=200, help="guests per server")
    parser.add_argument("--seconds", type=float, default=60.0, help="the still phase")
    parser.add_argument("--heartbeat", default="10")
    parser.add_argument("--database-url", default=os.environ.get(SERVICE_VARIABLES["postgres"]))
    args = parser.parse_args()
    raise_open_files()
    tmp = Path(tempfile.mkdtemp(prefix="webchat-presence-"))
    print_machine(["postgres"] if args.notifier == "postgres" else [], tmp)
    config: dict[str, Any] = {"WEBCHAT_PRESENCE_HEARTBEAT": args.heartbeat}
    database_url = args.database_url
    if args.notifier == "postgres" or database_url:
        assert database_url, "PostgreSQL needed: --database-url or WEBCHAT_TEST_POSTGRES_URL"
        if "+" not in database_url.split("://", 1)[0]:
            database_url = database_url.replace("postgresql://", "postgresql+psycopg://", 1)
        reset_database(database_url)
        config["SQLALCHEMY_DATABASE_URI"] = database_url
    env = site_env("sqlite", args.notifier, tmp, **config)
    counter, stop = Counter(), threading.Event()
    if args.notifier == "redis":
        target: Any = listen_redis
        where = os.environ[SERVICE_VARIABLES["redis"]]
    else:
        target, where = listen_postgres, database_url
    threading.Thread(target=target, args=(where, counter, stop), daemon=True).start()
    instance = tmp / "instance"
    with gunicorn(instance, env) as site_a, gunicorn(instance, env) as site_b:
        ready = threading.Semaphore(0)
        started = time.monotonic()
        for n in range(args.readers * 2):
            site = (site_a, site_b)[n % 2].url
            threading.Thread(target=hold_reader, args=(site, stop, ready), daemon=True).start()
        for _ in range(args.readers * 2):
            assert ready.acquire(timeout=120), "a reader did not get its stream"
        joined = time.monotonic() - started
        time.sleep(2)  # the last change's heartbeat
        report(f"{args.readers * 2} readers joining", joined + 2, counter.take())
        time.sleep(args.seconds)
        report(f"still, {args.readers} readers per process", args.seconds, counter.take())
        stop.set()


if __name__ == "__main__":
    main()
