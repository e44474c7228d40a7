"""Presence and typing across real processes: two gunicorn servers, one of them killed.

Readers spread over two servers must all be seen from each, through the Redis or PostgreSQL
notifier, and the readers of a process that dies must vanish within the grace period.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path
from typing import Any

import pytest
from test_processes import _services, _site_env

import processes
from eventstream import EventStream
from hosts import SERVICE_VARIABLES
from processes import wait_until
from servers import RemoteBrowser

GRACE = 3.0
PRESENCE, TYPING = frozenset({"presence"}), frozenset({"typing"})


def sign_in(browser: RemoteBrowser, site: str, name: str) -> None:
    status, _ = browser.request("POST", f"{site}/sign-in/{name}", Origin=site)
    assert status == 200  # after the redirect home


def here(site: str) -> dict[str, Any]:
    status, body = RemoteBrowser().request("GET", f"{site}/chat/presence")
    assert status == 200, body
    return {"users": body["users"], "guests": body["guests"]}


def presence_event(events: EventStream, wanted: dict[str, Any]) -> None:
    """Read ``presence`` events until one says ``wanted``."""
    while events.take(1, kinds=PRESENCE)[0].data != wanted:
        pass


@pytest.mark.parametrize("notifier", ["redis", "postgres"])
def test_readers_on_two_processes_are_seen_from_both_and_a_dead_ones_vanish(
    tmp_path: Path, notifier: str
) -> None:
    _services("postgres", "redis")
    env = _site_env(
        tmp_path,
        REDIS_URL=os.environ[SERVICE_VARIABLES["redis"]],
        WEBCHAT_NOTIFIER=notifier,
        WEBCHAT_PRESENCE_GRACE=str(GRACE),
        WEBCHAT_PRESENCE_HEARTBEAT="1",
    )
    instance = tmp_path / "instance"
    with (
        processes.gunicorn(instance, env) as site_a,
        processes.gunicorn(instance, env) as site_b,
    ):
        a, b = site_a.url, site_b.url
        ana, bo, guest = RemoteBrowser(), RemoteBrowser(), RemoteBrowser()
        sign_in(ana, a, "Ana")
        sign_in(bo, b, "Bo")
        ana_events = ana.events(a, after="0")
        bo_events = bo.events(b, after="0")
        guest.poll(b, stream=guest.open_page(b))  # a guest polling process B

        everyone = {"users": ["Ana", "Bo"], "guests": 1}
        wait_until(lambda: here(a) == everyone and here(b) == everyone, "everyone, from both")
        presence_event(ana_events, everyone)  # Ana's stream on A heard of Bo and the guest on B

        status, _ = bo.request("POST", f"{b}/chat/typing", {}, Origin=b)
        assert status == 204
        (typing,) = ana_events.take(1, kinds=TYPING)
        assert (typing.id, typing.data) == (None, {"name": "Bo", "typing": True})

        # Process B dies without a word: its readers are gone from A within the grace period.
        (worker,) = site_b.worker_pids()
        os.kill(worker, signal.SIGKILL)
        bo_events.close()
        wait_until(
            lambda: here(a) == {"users": ["Ana"], "guests": 0}, "B's readers gone", within=GRACE + 5
        )
        presence_event(ana_events, {"users": ["Ana"], "guests": 0})
        ana_events.close()
        assert site_a.problems() == []
