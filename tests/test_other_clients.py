"""The examples of docs/clients.rst that run outside a browser: httpx with httpx-sse, and curl.

Each imports or runs the file the docs page includes, against the example app under gunicorn.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import threading
from collections.abc import Callable
from types import ModuleType

import httpx
import pytest
from httpx_sse import connect_sse

from flask_webchat.config import DEFAULTS
from processes import ROOT

EXAMPLES = ROOT / "docs" / "examples"


def example(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, EXAMPLES / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_httpx_example_follows_a_room_and_resumes(live_site: str) -> None:
    chat = example("httpx_client")
    with chat.connect(f"{live_site}/chat") as reader, chat.connect(f"{live_site}/chat") as writer:
        first = chat.say(writer, "support", "before", "Ann")["id"]
        stream = chat.open_stream(reader, "support")
        events = chat.follow(reader, "support", stream)
        backlog = next(events)
        assert (backlog.event, backlog.json()["id"]) == ("message", first)
        threading.Timer(0.3, lambda: chat.say(writer, "support", "live", "Ann")).start()
        live = next(events)
        assert live.json()["content"] == "live"
        events.close()  # the connection is cut; two messages come meanwhile

        missed = [chat.say(writer, "support", f"missed {n}", "Ann")["id"] for n in range(2)]
        resumed = chat.follow(reader, "support", stream, last_event_id=live.id)
        assert [next(resumed).json()["id"] for _ in missed] == missed
        # An edit made after loading comes as an update, with the message's new content.
        chat.edit(writer, "support", missed[0], "missed 0, edited")
        update = next(resumed)
        assert (update.event, update.json()["id"]) == ("update", missed[0])
        assert update.json()["content"] == "missed 0, edited"
        resumed.close()


def test_a_quiet_room_outlasts_httpx_defaults_only_with_the_documented_timeout(
    live_site_with: Callable[..., str],
) -> None:
    # The default heartbeat (15 s) is longer than httpx's default read timeout (5 s).
    site = live_site_with()  # default settings
    assert DEFAULTS["WEBCHAT_HEARTBEAT"] > httpx.Timeout(5.0).read  # type: ignore[operator]
    chat = example("httpx_client")
    assert chat.TIMEOUT.read > DEFAULTS["WEBCHAT_HEARTBEAT"]
    assert chat.TIMEOUT.read > DEFAULTS["WEBCHAT_MAX_WAIT"]
    with (
        httpx.Client(base_url=f"{site}/chat") as default,
        connect_sse(default, "GET", "/events", params={"after": "0"}) as source,
    ):
        events = source.iter_sse()
        assert next(events).event == "cursor"
        with pytest.raises(httpx.ReadTimeout):
            # The room stays quiet for longer than httpx waits by default: who is here (the
            # reader itself, within a second) is all it says.
            while True:
                assert next(events).event == "presence"
    with chat.connect(f"{site}/chat") as client:
        stream = chat.open_stream(client, "lobby")
        events = chat.follow(client, "lobby", stream)
        threading.Timer(6.0, lambda: chat.say(client, "lobby", "after a quiet 6 s", "A")).start()
        assert next(events).json()["content"] == "after a quiet 6 s"
        events.close()


def test_the_curl_example_opens_a_stream_posts_reads_and_deletes(live_site: str) -> None:
    if shutil.which("curl") is None or shutil.which("jq") is None:
        pytest.skip("needs curl and jq (apt-get install curl jq)")
    ran = subprocess.run(
        ["sh", str(EXAMPLES / "curl.sh")],
        capture_output=True,
        text=True,
        env={**os.environ, "CHAT": f"{live_site}/chat"},
        timeout=60,
    )
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.splitlines() == ["sh: Hello from curl", "204"]
    assert httpx.get(f"{live_site}/chat/messages?after=0").json()["messages"] == []
