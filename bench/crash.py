"""Posts under faults: workers killed with SIGKILL mid-burst, the session store restarted.

Several clients post at once to the example app (two gunicorn workers, PostgreSQL, sessions and
notifications in a Redis of this script's own) and retry every post until it is answered 201, as
the page does. Meanwhile a worker is killed with ``kill -9`` and Redis is restarted (keeping its
data, as a session store does). Then every post is looked up in the database: *lost* posts were
never stored, *doubled* ones twice or more. Run once with an ``Idempotency-Key`` per post, once
without, side by side::

    WEBCHAT_TEST_POSTGRES_URL=postgresql://postgres@127.0.0.1:5432/test python bench/crash.py
"""

from __future__ import annotations

import argparse
import contextlib
import http.cookiejar
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from pathlib import Path

import sqlalchemy as sa

from harness import print_machine
from live import bench_postgres_url, raise_open_files
from processes import free_port, gunicorn


class PrivateRedis:
    """A Redis of our own that keeps its data across a restart."""

    def __init__(self, folder: Path) -> None:
        self.folder, self.port = folder, free_port()
        self.server: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        binary = shutil.which("redis-server") or "redis-server"
        command = [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--dir",
                   str(self.folder), "--save", "", "--appendonly", "no"]  # fmt: skip
        self.server = subprocess.Popen(command, stdout=subprocess.DEVNULL)
        for _ in range(100):
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", self.port)) == 0:
                    return
            time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def restart(self, down_for: float) -> None:
        """Save, stop, stay down ``down_for`` seconds, start again with the saved data."""
        subprocess.run(["redis-cli", "-p", str(self.port), "shutdown", "save"], check=False)
        assert self.server is not None
        self.server.wait(10)
        time.sleep(down_for)
        self.start()

    def stop(self) -> None:
        if self.server is not None:
            self.server.terminate()
            self.server.wait(10)


class Client:
    """One browser: a cookie jar, posting each of its messages until it is answered 201."""

    def __init__(self, site: str, name: str, use_keys: bool) -> None:
        self.site, self.name, self.use_keys = site, name, use_keys
        jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
        self.attempts = 0

    def open_page(self) -> None:
        while True:
            try:
                self.opener.open(f"{self.site}/chat/", timeout=10).close()
                return
            except OSError:
                time.sleep(0.2)

    def post(self, content: str) -> None:
        headers = {"Content-Type": "application/json"}
        if self.use_keys:
            headers["Idempotency-Key"] = content
        body = json.dumps({"content": content, "username": self.name}).encode()
        pause = 0.05
        while True:
            self.attempts += 1
            request = urllib.request.Request(f"{self.site}/chat/messages", body, headers)
            try:
                with self.opener.open(request, timeout=10) as answer:
                    if answer.status == 201:
                        return
            except urllib.error.HTTPError as error:
                if error.code < 500:
                    raise RuntimeError(f"refused: {error.code} {error.read()!r}") from None
            except OSError:
                pass  # the connection broke: the post may or may not be stored
            time.sleep(pause)
            pause = min(pause * 2, 1.0)


def run(database_url: str, tmp: Path, *, use_keys: bool, clients: int, posts: int) -> dict:
    redis = PrivateRedis(tmp)
    redis.start()
    instance = tmp / "instance"
    env = {
        "FLASK_SQLALCHEMY_DATABASE_URI": database_url,
        "FLASK_REDIS_URL": f"redis://127.0.0.1:{redis.port}/0",
        "FLASK_WEBCHAT_RATE_LIMIT": "null",
        "FLASK_SQLALCHEMY_ENGINE_OPTIONS": '{"pool_pre_ping": true}',
    }
    try:
        with gunicorn(instance, env, workers=2) as site:
            people = [Client(site.url, f"client-{n}", use_keys) for n in range(clients)]
            for person in people:
                person.open_page()
            threads = [
                threading.Thread(
                    target=lambda p=person, n=n: [p.post(f"{n}-{i}") for i in range(posts)]
                )
                for n, person in enumerate(people)
            ]
            for thread in threads:
                thread.start()
            kills = 0
            while any(thread.is_alive() for thread in threads):
                time.sleep(0.2)
                workers = site.worker_pids()
                if workers:  # mid-burst; gunicorn starts another worker
                    with contextlib.suppress(ProcessLookupError):  # gone already
                        os.kill(workers[kills % len(workers)], signal.SIGKILL)
                        kills += 1
                if kills == 5:
                    redis.restart(down_for=0.5)
            for thread in threads:
                thread.join(300)
            attempts = sum(person.attempts for person in people)
    finally:
        redis.stop()
    engine = sa.create_engine(database_url)
    with engine.connect() as connection:
        stored = Counter(connection.scalars(sa.text("SELECT content FROM webchat_messages")).all())
    engine.dispose()
    sent = [f"{n}-{i}" for n in range(clients) for i in range(posts)]
    return {
        "posts": len(sent),
        "attempts": attempts,
        "kills": kills,
        "lost": sum(1 for content in sent if stored[content] == 0),
        "doubled": sum(1 for content in sent if stored[content] > 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--posts", type=int, default=150, help="posts per client")
    args = parser.parse_args()
    raise_open_files()
    with tempfile.TemporaryDirectory() as folder:
        print_machine(["postgres"], Path(folder))
    print(f"{args.clients} clients x {args.posts} posts; a worker killed every 0.2 s,", end=" ")
    print("Redis restarted once")
    print(f"\n{'client':<24} {'posts':>6} {'attempts':>9} {'kills':>6} {'lost':>5} {'doubled':>8}")
    for use_keys in (True, False):
        with tempfile.TemporaryDirectory() as folder:
            tmp = Path(folder)
            figures = run(
                bench_postgres_url(tmp), tmp, use_keys=use_keys,
                clients=args.clients, posts=args.posts,
            )  # fmt: skip
        label = "with Idempotency-Key" if use_keys else "retries without a key"
        print(
            f"{label:<24} {figures['posts']:>6} {figures['attempts']:>9} {figures['kills']:>6}"
            f" {figures['lost']:>5} {figures['doubled']:>8}"
        )


if __name__ == "__main__":
    main()
