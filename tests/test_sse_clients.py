"""The event stream as common SSE clients read it: httpx-sse and sseclient-py, over a socket.

Every block they hand over must be well-formed (a JSON body for ``json()``), and a stream cut
before its first message must still resume exactly, from the ``id`` such a client saw.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator

import httpx
import pytest
import sseclient
from httpx_sse import ServerSentEvent, connect_sse

from eventstream import EPHEMERAL

TIMEOUT = httpx.Timeout(10.0)  # more than the test server's 1 s heartbeat: a quiet room is fine


def say(client: httpx.Client, content: str) -> int:
    answer = client.post("/chat/messages", json={"content": content, "username": "Ann"})
    assert answer.status_code == 201, answer.text
    return int(answer.json()["id"])


def shown(events: Iterator[ServerSentEvent], count: int) -> tuple[list[ServerSentEvent], str]:
    """The next ``count`` message events, with the last ``id`` seen; each body is JSON."""
    found, last_id = [], ""
    for sse in events:
        body = sse.json()  # raised on the id-only block this stream used to open with
        assert isinstance(body, dict)
        if sse.event in EPHEMERAL:  # who is here, who types: outside the history, no cursor
            assert "cursor" not in body
            continue
        assert sse.event in ("message", "delete", "cursor")
        assert body["cursor"] == sse.id
        last_id = sse.id
        if sse.event == "message":
            found.append(sse)
            if len(found) == count:
                break
    return found, last_id


def test_httpx_sse_gets_only_well_formed_events(live_site: str) -> None:
    with (
        httpx.Client(base_url=live_site, timeout=TIMEOUT) as client,
        connect_sse(client, "GET", "/chat/events", params={"after": "0"}) as source,
    ):
        events = source.iter_sse()
        opening = next(events)
        assert (opening.event, opening.json(), opening.retry) == ("cursor", {"cursor": "0"}, 2000)
        # A quiet room first: heartbeats (every second here) must not surface as events.
        posting = threading.Timer(2.5, lambda: say(client, "hello"))
        posting.start()
        (message,), _ = shown(events, 1)
        posting.join()
        assert message.json()["content"] == "hello"


def test_httpx_sse_resumes_a_stream_cut_before_its_first_message(live_site: str) -> None:
    with (
        httpx.Client(base_url=live_site, timeout=TIMEOUT) as reader,
        httpx.Client(base_url=live_site, timeout=TIMEOUT) as writer,
    ):
        say(writer, "already read")
        stream = reader.post("/chat/streams").json()["stream"]
        assert [
            m["content"] for m in reader.get(f"/chat/messages?stream={stream}").json()["messages"]
        ] == ["already read"]
        with connect_sse(reader, "GET", "/chat/events", params={"stream": stream}) as source:
            opening = next(source.iter_sse())  # then the connection is cut: no message yet
        assert opening.event == "cursor"
        missed = [say(writer, f"missed {n}") for n in range(3)]
        headers = {"Last-Event-ID": opening.id}
        with connect_sse(reader, "GET", "/chat/events", headers=headers) as source:
            found, _ = shown(source.iter_sse(), 3)
        assert [sse.json()["id"] for sse in found] == missed


@pytest.mark.parametrize("resume", [False, True])
def test_sseclient_py_reads_and_resumes_the_stream(live_site: str, resume: bool) -> None:
    with httpx.Client(base_url=live_site, timeout=TIMEOUT) as client:
        with client.stream("GET", "/chat/events", params={"after": "0"}) as response:
            events = sseclient.SSEClient(response.iter_bytes()).events()
            opening = next(events)
            assert (opening.event, json.loads(opening.data)) == ("cursor", {"cursor": "0"})
        sent = [say(client, f"m{n}") for n in range(2)]
        headers = {"Last-Event-ID": opening.id} if resume else {}
        params = {} if resume else {"after": "0"}
        with client.stream("GET", "/chat/events", params=params, headers=headers) as response:
            seen = []
            for event in sseclient.SSEClient(response.iter_bytes()).events():
                body = json.loads(event.data)
                if event.event in EPHEMERAL:
                    continue
                assert body["cursor"] == event.id
                if event.event == "message":
                    seen.append(body["id"])
                if len(seen) == len(sent):
                    break
        assert seen == sent
