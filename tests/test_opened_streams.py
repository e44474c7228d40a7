"""``POST /streams``: a client that is not our page opens a stream per tab, as a page load does."""

from __future__ import annotations

from hosts import Host, MakeHost


def ids(batch: dict) -> list[int]:
    return [m["id"] for m in batch["messages"]]


def test_two_tabs_of_one_cookie_jar_each_get_every_message(host: Host) -> None:
    reader, writer = host.browser(), host.browser()
    backlog = writer.say("before")
    answer = reader.client.post("/chat/streams")
    assert answer.status_code == 201
    assert set(answer.json) == {"stream", "cursor"}
    assert isinstance(answer.json["cursor"], str)
    assert answer.headers["Location"] == f"/chat/messages?stream={answer.json['stream']}"
    first_tab, second_tab = answer.json["stream"], reader.open_stream()
    assert first_tab != second_tab

    sent = [writer.say("one"), writer.say("two")]
    assert ids(reader.poll(first_tab)) == [backlog, *sent]  # the backlog, as a page load shows
    assert ids(reader.poll(second_tab)) == [backlog, *sent]
    third = writer.say("three")
    assert ids(reader.poll(second_tab)) == [third]
    assert ids(reader.poll(first_tab)) == [third]
    events = reader.events(stream=first_tab, after=reader.poll(first_tab)["cursor"])
    fourth = writer.say("four")
    assert [event.data["id"] for event in events.take(1)] == [fourth]
    events.close()
    assert ids(reader.poll(second_tab)) == [fourth]


def test_the_cursor_it_answers_reads_the_streams_first_batch_statelessly(
    make_host: MakeHost,
) -> None:
    host = make_host(WEBCHAT_BACKLOG=2)
    writer, reader = host.browser(), host.browser()
    posted = [writer.say(f"m{n}") for n in range(4)]
    opened = reader.client.post("/chat/streams").json
    assert ids(reader.poll(after=opened["cursor"])) == posted[-2:]
    assert ids(reader.poll(opened["stream"])) == posted[-2:]


def test_a_rooms_stream_reads_that_room_only(host: Host) -> None:
    reader, writer = host.browser(), host.browser()
    first = writer.client.post(
        "/chat/rooms/support/messages", json={"content": "first", "username": "a"}
    )
    answer = reader.client.post("/chat/rooms/support/streams")
    assert answer.status_code == 201
    stream = answer.json["stream"]
    assert answer.headers["Location"] == f"/chat/rooms/support/messages?stream={stream}"
    writer.say("in the lobby")
    here = writer.client.post(
        "/chat/rooms/support/messages", json={"content": "hi", "username": "a"}
    )
    batch = reader.client.get("/chat/rooms/support/messages", query_string={"stream": stream}).json
    assert ids(batch) == [first.json["id"], here.json["id"]]
    elsewhere = reader.poll_response(stream)
    assert elsewhere.status_code == 404
    assert elsewhere.json["error"]["code"] == "unknown_stream"


def test_opened_streams_are_bounded_per_session_like_page_loads(make_host: MakeHost) -> None:
    host = make_host(WEBCHAT_MAX_STREAMS=3)
    reader = host.browser()
    tabs = [reader.open_page(), *(reader.open_stream() for _ in range(3))]
    assert reader.poll_response(tabs[0]).json["error"]["code"] == "unknown_stream"
    for tab in tabs[1:]:
        assert reader.poll_response(tab).status_code == 200


def test_another_site_cannot_open_a_stream_with_the_users_cookie(host: Host) -> None:
    reader = host.browser()
    tab = reader.open_page()
    refused = reader.client.post("/chat/streams", headers={"Sec-Fetch-Site": "cross-site"})
    assert refused.status_code == 403
    assert refused.json["error"]["code"] == "cross_site_request"
    assert reader.poll_response(tab).status_code == 200  # nothing was opened, nothing dropped
    with host.app.app_context():
        from flask_webchat.models import ChatStream

        assert host.db.session.query(ChatStream).count() == 1


def test_opening_streams_counts_against_no_rate_limit(make_host: MakeHost) -> None:
    host = make_host(WEBCHAT_RATE_LIMIT="2 per minute")
    reader = host.browser()
    for _ in range(5):
        assert reader.client.post("/chat/streams").status_code == 201
    reader.say("still allowed")


def test_a_room_that_may_not_be_read_opens_no_stream(make_host: MakeHost) -> None:
    host = make_host(WEBCHAT_ROOMS=["lobby"])
    answer = host.browser().client.post("/chat/rooms/elsewhere/streams")
    assert answer.status_code == 404
    assert answer.json["error"]["code"] == "unknown_room"


def test_a_stream_opened_in_a_room_nobody_posted_to_gets_its_first_post(host: Host) -> None:
    reader, writer = host.browser(), host.browser()
    answer = reader.client.post("/chat/rooms/fresh/streams")
    assert answer.status_code == 201
    assert answer.json["cursor"] == "0"
    stream = answer.json["stream"]
    assert (
        reader.client.get("/chat/rooms/fresh/messages", query_string={"stream": stream}).json[
            "messages"
        ]
        == []
    )
    first = writer.client.post(
        "/chat/rooms/fresh/messages", json={"content": "first", "username": "a"}
    ).json["id"]
    batch = reader.client.get("/chat/rooms/fresh/messages", query_string={"stream": stream}).json
    assert ids(batch) == [first]
    # The room its stream created is listed only once something happened in it.
    reader.client.post("/chat/rooms/unused/streams")
    listed = [room["name"] for room in reader.client.get("/chat/rooms").json["rooms"]]
    assert "fresh" in listed and "unused" not in listed


def test_opening_a_stream_that_creates_a_room_counts_as_a_write(make_host: MakeHost) -> None:
    host = make_host(WEBCHAT_RATE_LIMIT="2 per minute")
    reader = host.browser()
    for name in ("a", "b"):
        assert reader.client.post(f"/chat/rooms/{name}/streams").status_code == 201
    assert reader.client.post("/chat/rooms/c/streams").status_code == 429
    assert reader.client.post("/chat/rooms/a/streams").status_code == 201  # exists: not counted
