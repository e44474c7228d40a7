"""Real-time delivery across real processes: the example app under gunicorn, twice.

Each test starts two gunicorn servers on their own loopback ports, sharing PostgreSQL. A reader
waiting on one server must get what is posted to the other, through the notifier.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from hosts import SERVICE_VARIABLES, database_url, reset_database
from processes import DELIVERED_WITHIN, wait_until
from servers import RemoteBrowser, gunicorn


def _services(*names: str) -> None:
    missing = [SERVICE_VARIABLES[n] for n in names if not os.environ.get(SERVICE_VARIABLES[n])]
    if missing:
        pytest.skip(f"needs {' and '.join(missing)} (see docs/contributing.rst)")


def _site_env(tmp_path: Path, **config: str) -> dict[str, str]:
    url = database_url("postgres", tmp_path)
    reset_database(url)
    env = {
        "FLASK_SQLALCHEMY_DATABASE_URI": url,
        "FLASK_SESSION_KEY_PREFIX": f"webchat-test:{secrets.token_hex(6)}:",
        "FLASK_WEBCHAT_HEARTBEAT": "1",
        "FLASK_WEBCHAT_RATE_LIMIT": "null",
    }
    env.update({f"FLASK_{key}": value for key, value in config.items()})
    return env


class Collector:
    """A reader that long-polls from its cursor in a thread and keeps every message id."""

    def __init__(self, browser: RemoteBrowser, site: str, cursor: str) -> None:
        self.ids: list[int] = []
        self.stopped = threading.Event()
        self.errors: list[BaseException] = []
        self.thread = threading.Thread(target=self._run, args=(browser, site, cursor), daemon=True)
        self.thread.start()

    def _run(self, browser: RemoteBrowser, site: str, cursor: str) -> None:
        try:
            while not self.stopped.is_set():
                batch = browser.poll(site, after=cursor, wait=2)
                self.ids.extend(message["id"] for message in batch["messages"])
                cursor = batch["cursor"]
        except BaseException as error:  # reported by the test, not lost in the thread
            self.errors.append(error)

    def stop(self) -> None:
        self.stopped.set()
        self.thread.join(10)
        assert not self.errors, self.errors


@pytest.mark.parametrize(
    ("notifier", "worker_class"),
    # Each notifier under gevent (the documented worker), and threads once: the two do not meet.
    [("redis", "gevent"), ("postgres", "gevent"), ("redis", "gthread")],
)
def test_a_reader_waiting_on_one_process_gets_what_is_posted_to_another(
    tmp_path: Path, notifier: str, worker_class: str
) -> None:
    _services("postgres", "redis")
    env = _site_env(
        tmp_path, REDIS_URL=os.environ[SERVICE_VARIABLES["redis"]], WEBCHAT_NOTIFIER=notifier
    )
    instance = tmp_path / "instance"
    with (
        gunicorn(instance, env, worker_class=worker_class) as site_a,
        gunicorn(instance, env, worker_class=worker_class) as site_b,
    ):
        ann, bo, chen = RemoteBrowser(), RemoteBrowser(), RemoteBrowser()
        stream = bo.open_page(site_b)
        assert bo.poll(site_b, stream=stream)["messages"] == []

        answer: dict[str, Any] = {}
        long_poll = threading.Thread(
            target=lambda: answer.update(bo.poll(site_b, stream=stream, wait=20)), daemon=True
        )
        long_poll.start()
        events = chen.events(site_b, after="0")
        time.sleep(0.5)
        assert long_poll.is_alive(), "the long-poll answered before anything was posted"

        first = ann.say(site_a, "from process A")
        long_poll.join(DELIVERED_WITHIN)
        assert not long_poll.is_alive(), "the long-poll on B was not woken"
        assert [m["id"] for m in answer["messages"]] == [first]
        (event,) = events.take(1, within=DELIVERED_WITHIN)
        assert event.data["id"] == first

        # Disconnect mid-stream, miss five messages, reconnect with Last-Event-ID: exactly those.
        events.close()
        missed = [ann.say(site_a, f"missed {n}") for n in range(5)]
        events = chen.events(site_b, last_event_id=events.last_event_id)
        assert [e.data["id"] for e in events.take(5)] == missed
        assert events.quiet_for(comments=1) == []
        events.close()


def test_readers_lose_nothing_while_redis_is_down_and_get_it_within_the_fallback(
    tmp_path: Path, private_redis: Callable[[], subprocess.Popen[bytes]]
) -> None:
    _services("postgres")
    redis = private_redis()
    redis_url = f"redis://127.0.0.1:{private_redis.port}/0"  # type: ignore[attr-defined]
    # Sessions stay in files shared by both servers: only the notifications go through Redis.
    env = _site_env(tmp_path, WEBCHAT_NOTIFIER="redis", WEBCHAT_NOTIFIER_URL=redis_url)
    instance = tmp_path / "instance"
    with gunicorn(instance, env) as site_a, gunicorn(instance, env) as site_b:
        ann = RemoteBrowser()
        cursor = RemoteBrowser().poll(site_b, after="0")["cursor"]
        collectors = [Collector(RemoteBrowser(), site, cursor) for site in (site_b, site_b, site_a)]
        watcher = RemoteBrowser()
        events = watcher.events(site_b, after=cursor)
        time.sleep(0.5)

        redis.terminate()
        redis.wait()
        during = ann.say(site_a, "while Redis is down")
        wait_until(lambda: all(c.ids == [during] for c in collectors), "delivery without Redis")
        assert [e.data["id"] for e in events.take(1)] == [during]

        private_redis()
        after = [ann.say(site_a, f"after Redis is back {n}") for n in range(3)]
        wait_until(
            lambda: all(c.ids == [during, *after] for c in collectors), "delivery with Redis back"
        )
        assert [e.data["id"] for e in events.take(3)] == after
        events.close()
        for collector in collectors:
            collector.stop()
            assert collector.ids == [during, *after]  # nothing lost, nothing twice


def test_the_example_apps_rate_limit_counts_across_its_processes(
    tmp_path: Path, private_redis: Callable[[], subprocess.Popen[bytes]]
) -> None:
    _services("postgres")
    private_redis()
    redis_url = f"redis://127.0.0.1:{private_redis.port}/0"  # type: ignore[attr-defined]
    env = _site_env(tmp_path, REDIS_URL=redis_url)
    env["FLASK_WEBCHAT_RATE_LIMIT"] = '"5/minute"'
    instance = tmp_path / "instance"
    with gunicorn(instance, env) as site_a, gunicorn(instance, env) as site_b:
        ann = RemoteBrowser()
        ann.open_page(site_a)  # a session the limit counts by, shared by both processes
        statuses = [
            ann.request("POST", f"{site}/chat/messages", {"content": "hi", "username": "ann"})[0]
            for site in [site_a, site_b] * 4
        ]
    assert statuses == [201] * 5 + [429] * 3, statuses


@pytest.mark.parametrize("notifier", ["redis", "postgres"])
def test_a_message_posted_by_the_flask_command_reaches_readers_waiting_on_gunicorn(
    tmp_path: Path, notifier: str
) -> None:
    _services("postgres", "redis")
    env = _site_env(
        tmp_path, REDIS_URL=os.environ[SERVICE_VARIABLES["redis"]], WEBCHAT_NOTIFIER=notifier
    )
    instance = tmp_path / "instance"
    with gunicorn(instance, env) as site:
        bo, chen = RemoteBrowser(), RemoteBrowser()
        stream = bo.open_page(site)
        assert bo.poll(site, stream=stream)["messages"] == []
        answer: dict[str, Any] = {}
        long_poll = threading.Thread(
            target=lambda: answer.update(bo.poll(site, stream=stream, wait=20)), daemon=True
        )
        long_poll.start()
        events = chen.events(site, after="0")
        time.sleep(0.5)
        assert long_poll.is_alive(), "the long-poll answered before anything was posted"

        command = [
            sys.executable, "-m", "flask",
            "--app", f"example_app:create_app(instance_path={str(instance)!r})",
            "webchat", "post", "--system", "Deploy finished",
        ]  # fmt: skip
        done = subprocess.run(
            command, env={**os.environ, **env}, capture_output=True, text=True, timeout=60
        )
        assert done.returncode == 0, done.stderr
        assert done.stdout.startswith("Posted message ")

        long_poll.join(DELIVERED_WITHIN)
        assert not long_poll.is_alive(), "the long-poll was not woken by the command"
        [message] = answer["messages"]
        assert (message["content"], message["system"]) == ("Deploy finished", True)
        (event,) = events.take(1, within=DELIVERED_WITHIN)
        assert event.data["id"] == message["id"]
        events.close()
