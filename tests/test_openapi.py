"""The OpenAPI document describes every route, and the real answers match it."""

from __future__ import annotations

import json
import re
import shutil
import subprocess

import pytest
from openapi_core import OpenAPI
from openapi_core.contrib.werkzeug import WerkzeugOpenAPIRequest, WerkzeugOpenAPIResponse
from openapi_spec_validator import validate
from werkzeug.test import EnvironBuilder, TestResponse
from werkzeug.wrappers import Request

from flask_webchat import MessageRejected
from flask_webchat.errors import error_classes
from flask_webchat.schemas import ErrorSchema
from hosts import SAMPLE_STACKS, Browser, Host, MakeHost

# Behaviour decided before storage, the same on every database and session backend.
pytestmark = pytest.mark.stacks(*SAMPLE_STACKS)


def document(host: Host, prefix: str = "/chat") -> dict:
    response = host.browser().client.get(f"{prefix}/openapi.json")
    assert response.status_code == 200
    return response.json  # type: ignore[return-value]


def test_the_document_is_valid_openapi_for_its_mount_point(make_host: MakeHost) -> None:
    spec = document(make_host())
    validate(spec)
    assert [server["url"] for server in spec["servers"]] == ["/chat"]
    moved = make_host(WEBCHAT_URL_PREFIX="/talk")
    assert [server["url"] for server in document(moved, "/talk")["servers"]] == ["/talk"]


def _patterns(node: object) -> list[str]:
    if isinstance(node, dict):
        found = [node["pattern"]] if isinstance(node.get("pattern"), str) else []
        return found + [p for value in node.values() for p in _patterns(value)]
    if isinstance(node, list):
        return [p for value in node for p in _patterns(value)]
    return []


# JSON Schema patterns are ECMA-262 regular expressions: JavaScript's, in Unicode mode.
_JS_MATCH = """
const {patterns, samples} = JSON.parse(require("fs").readFileSync(0, "utf8"));
console.log(JSON.stringify(patterns.map((p) => samples.map((s) => new RegExp(p, "u").test(s)))));
"""


def test_every_pattern_in_the_document_means_the_same_in_javascript(host: Host) -> None:
    node = shutil.which("node")
    if node is None:
        pytest.skip("needs Node.js (apt-get install nodejs)")
    patterns = sorted(set(_patterns(document(host))))
    assert len(patterns) >= 3  # content, username, cursor at least
    samples = ["Ada", " Ada ", "a\u202eb", "\U000e0041x", "x\U000110bd", "🎉 ok", "", "42"]
    samples += ["a\r\nb"]  # none ends in a line break, where Python's $ differs
    run = subprocess.run(
        [node, "-e", _JS_MATCH],
        input=json.dumps({"patterns": patterns, "samples": samples}),
        capture_output=True,
        text=True,
        check=False,
    )
    assert run.returncode == 0, run.stderr  # a pattern JavaScript cannot compile fails here
    python = [[re.search(p, s) is not None for s in samples] for p in patterns]
    assert json.loads(run.stdout) == python


def test_every_route_is_documented_and_every_documented_route_exists(host: Host) -> None:
    spec = document(host)
    routes = {
        (
            rule.rule.removeprefix("/chat")
            .replace("<int:message_id>", "{message_id}")
            .replace("<room>", "{room}")
            .replace("<emoji>", "{emoji}")
            or "/",
            m,
        )
        for rule in host.app.url_map.iter_rules()
        if rule.endpoint.startswith("webchat.") and rule.endpoint != "webchat.static"
        for m in rule.methods - {"HEAD", "OPTIONS"}
    }
    documented = {(path, m.upper()) for path, ops in spec["paths"].items() for m in ops}
    assert documented == routes


def test_real_answers_match_the_document(host: Host) -> None:
    openapi = OpenAPI.from_dict(document(host))
    answers: list[tuple[Request, TestResponse]] = []
    author, other = host.browser(), host.browser()

    def call(browser: Browser, method: str, path: str, **request: object) -> TestResponse:
        answer = browser.client.open(path, method=method, **request)
        # The answer's own request has had its body read; validate a replay of it.
        answers.append(
            (Request(EnvironBuilder(path, method=method, **request).get_environ()), answer)
        )
        return answer

    @host.webchat.message_filter
    def refuse(content: str, room: str, identity: object) -> str:
        if content == "refuse me":
            raise MessageRejected("Refused.")
        return content

    tab = author.open_page()
    call(author, "GET", "/chat/")
    message = call(author, "POST", "/chat/messages", json={"content": "hi", "username": "A"}).json
    call(author, "POST", "/chat/streams")
    call(author, "POST", "/chat/rooms/support/streams")
    call(author, "POST", "/chat/streams", headers={"Sec-Fetch-Site": "cross-site"})
    call(author, "GET", "/chat/messages", query_string={"stream": tab})
    call(author, "GET", "/chat/messages")
    call(author, "GET", "/chat/messages", query_string={"after": "0", "limit": "1"})
    call(author, "GET", "/chat/messages", query_string={"stream": "no-such-stream"})
    call(author, "GET", "/chat/messages", query_string={"after": "x"})
    call(author, "GET", "/chat/messages", query_string={"after": "0", "wait": "0.1"})
    call(author, "GET", "/chat/messages", query_string={"after": "0", "wait": "-1"})
    call(author, "GET", "/chat/events", query_string={"stream": "no-such-stream"})
    call(author, "GET", "/chat/events", headers={"Last-Event-ID": "x"})
    call(author, "POST", "/chat/messages", data="{", content_type="application/json")
    call(author, "POST", "/chat/messages", data="hi", content_type="text/plain")
    call(author, "POST", "/chat/messages", json={"content": ""})
    refused = {"content": "refuse me", "username": "A"}
    rejected = call(author, "POST", "/chat/messages", json=refused)
    assert rejected.json["error"]["code"] == "message_rejected"
    assert "`message_rejected`" in json.dumps(document(host)["paths"]["/messages"]["post"])
    call(author, "POST", "/chat/messages", json={"content": "x" * 20000})
    call(author, "PUT", "/chat/messages")
    call(author, "GET", f"/chat/messages/{message['id']}")
    call(author, "GET", "/chat/messages/999999")
    call(other, "DELETE", f"/chat/messages/{message['id']}")
    call(author, "DELETE", f"/chat/messages/{message['id']}")
    call(author, "DELETE", f"/chat/messages/{message['id']}")
    call(author, "GET", "/chat/openapi.json")
    call(author, "GET", "/chat/rooms")
    call(author, "POST", "/chat/read", json={"cursor": message["cursor"]})
    call(other, "POST", "/chat/rooms/support/read", json={"cursor": "0"})
    call(author, "POST", "/chat/read", json={"cursor": "999"})
    call(author, "POST", "/chat/read", data="0", content_type="text/plain")

    statuses = sorted({answer.status_code for _, answer in answers})
    assert statuses == [200, 201, 204, 400, 403, 404, 405, 413, 415, 422]
    for request, answer in answers:
        if answer.status_code == 405:  # no operation to check against: only the error's shape
            ErrorSchema().load(answer.json)
            continue
        openapi.validate_response(WerkzeugOpenAPIRequest(request), WerkzeugOpenAPIResponse(answer))


def test_every_error_code_is_in_the_document(host: Host) -> None:
    text = json.dumps(document(host))
    assert [cls.code for cls in error_classes() if f"`{cls.code}`" not in text] == []


def test_the_document_is_served_as_json_and_not_stored_by_caches(host: Host) -> None:
    response = host.browser().client.get("/chat/openapi.json")
    assert response.mimetype == "application/json"
    assert response.headers["Cache-Control"] == "no-store"
    assert response.json["info"]["title"] == "flask-webchat"


def test_answers_fields_are_required_as_the_server_always_sends_them(host: Host) -> None:
    schemas = document(host)["components"]["schemas"]
    browser = host.browser()
    message = browser.client.post("/chat/messages", json={"content": "hi", "username": "A"}).json
    answers = {
        "Message": message,
        "Poll": browser.poll(after="0"),
        "History": browser.client.get("/chat/messages/history").json,
        "RoomList": browser.client.get("/chat/rooms").json,
        "Room": browser.client.get("/chat/rooms").json["rooms"][0],
        "Stream": browser.client.post("/chat/streams").json,
        "ReadState": browser.client.post("/chat/read", json={"cursor": "1"}).json,
    }
    for name, answer in answers.items():
        assert sorted(schemas[name]["required"]) == sorted(answer), name
    assert sorted(schemas["Deletion"]["required"]) == ["cursor", "id"]
    # The name is needed only from an anonymous poster, which the description says.
    assert schemas["NewMessage"]["required"] == ["content"]
    assert "anonymous" in schemas["NewMessage"]["properties"]["username"]["description"]


def test_the_event_stream_and_the_server_url_are_described(host: Host) -> None:
    spec = document(host)
    (server,) = spec["servers"]
    assert server["url"] == "/chat" and "relative" in server["description"]
    answer = spec["paths"]["/events"]["get"]["responses"]["200"]
    assert list(answer["content"]) == ["text/event-stream"]
    assert "Generated clients" in answer["description"]
    assert "cannot" in answer["description"]


def test_only_the_event_stream_says_last_event_id_takes_precedence(host: Host) -> None:
    paths = document(host)["paths"]

    def after(path: str) -> str:
        (parameter,) = [p for p in paths[path]["get"]["parameters"] if p.get("name") == "after"]
        return parameter["description"]  # type: ignore[no-any-return]

    assert "Last-Event-ID" not in after("/messages")
    assert "stateless" in after("/messages")
    assert "Last-Event-ID" in after("/events")


def test_cursors_sort_as_numbers_as_the_docs_say(host: Host) -> None:
    browser = host.browser()
    for n in range(11):
        browser.say(f"m{n}")
    messages = browser.poll(after="0")["messages"]
    cursors = [m["cursor"] for m in messages]
    assert sorted(cursors) != cursors  # "10" < "9" as strings
    assert sorted(messages, key=lambda m: int(m["cursor"])) == messages


# Clients are generated from these names (openapi-python-client makes modules and classes of
# them): each may be joined by new ones, never renamed or removed.
STABLE_OPERATION_IDS = {
    "addReaction", "chatPage", "deleteMessage", "editMessage", "getMessage", "getPresence",
    "listRooms", "markRead", "messageHistory", "openStream", "openapi", "pollMessages",
    "postMessage", "postTyping", "removeReaction", "roomAddReaction", "roomChatPage",
    "roomDeleteMessage", "roomEditMessage", "roomGetMessage", "roomGetPresence", "roomMarkRead",
    "roomMessageHistory", "roomOpenStream", "roomPollMessages", "roomPostMessage",
    "roomPostTyping", "roomRemoveReaction", "roomStreamEvents", "streamEvents",
}  # fmt: skip
STABLE_SCHEMA_NAMES = {
    "Deletion", "Error", "ErrorDetail", "Here", "History", "Mention", "Message", "MessageEdit",
    "NewMessage", "Poll", "Presence", "Quote", "Reaction", "Read", "ReadState", "Room",
    "RoomList", "Stream", "Typing",
}  # fmt: skip


def test_operation_ids_and_schema_names_stay_what_clients_were_generated_from(
    host: Host,
) -> None:
    spec = document(host)
    operation_ids = [
        operation["operationId"]
        for path in spec["paths"].values()
        for operation in path.values()
        if isinstance(operation, dict) and "operationId" in operation
    ]
    assert len(operation_ids) == len(set(operation_ids))
    assert STABLE_OPERATION_IDS - set(operation_ids) == set()
    assert STABLE_SCHEMA_NAMES - set(spec["components"]["schemas"]) == set()
