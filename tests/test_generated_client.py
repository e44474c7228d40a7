"""A client generated from our OpenAPI document, used as a first-time user would use it.

openapi-python-client generates a package from the document a live server serves; every
operation that does not stream is called with it against the example app under gunicorn, and a
small program that uses it (``docs/examples/generated_client.py``) must pass ``mypy --strict``
with one ``isinstance`` check per answer and no guard on any field.
"""

from __future__ import annotations

import importlib
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import httpx
import pytest

from processes import ROOT

pytest.importorskip("openapi_python_client", reason="needs openapi-python-client (test extra)")
EXAMPLE = ROOT / "docs" / "examples" / "generated_client.py"
PACKAGE = "webchat_api"
# Operations a generated client cannot use: the endless event stream.
STREAMING = {"stream_events", "room_stream_events"}


@pytest.fixture
def generated(live_site: str, tmp_path: Path) -> Iterator[Path]:
    """The package generated from the live server's document, importable from a folder."""
    document = tmp_path / "openapi.json"
    document.write_bytes(httpx.get(f"{live_site}/chat/openapi.json").content)
    config = tmp_path / "config.yaml"
    config.write_text(f"post_hooks: []\npackage_name_override: {PACKAGE}\n")
    where = tmp_path / "generated"
    where.mkdir()
    command = [
        sys.executable, "-m", "openapi_python_client", "generate", "--path", str(document),
        "--meta", "none", "--output-path", str(where / PACKAGE), "--config", str(config),
    ]  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Warning" not in result.stdout, result.stdout  # every part of the document understood
    sys.path.insert(0, str(where))
    yield where
    sys.path.remove(str(where))
    for name in [name for name in sys.modules if name.split(".")[0] == PACKAGE]:
        del sys.modules[name]


def operation(name: str) -> ModuleType:
    return importlib.import_module(f"{PACKAGE}.api.default.{name}")


def test_every_operation_works_through_the_generated_client(
    generated: Path, live_site: str
) -> None:
    api = importlib.import_module(PACKAGE)
    models = importlib.import_module(f"{PACKAGE}.models")
    called = set()

    def call(name: str, **arguments: object) -> object:
        called.add(name)
        return operation(name).sync(client=client, **arguments)

    with api.Client(base_url=f"{live_site}/chat", raise_on_unexpected_status=True) as client:
        for scoped in (False, True):
            prefix, room = ("room_", {"room": "support"}) if scoped else ("", {})
            opened = call(f"{prefix}open_stream", **room)
            assert isinstance(opened, models.Stream) and opened.stream and opened.cursor
            # A signed-in poster sends no name: the model must not demand one.
            assert models.NewMessage(content="hi").to_dict() == {"content": "hi"}
            body = models.NewMessage(content="from a generated client", username="Gen")
            posted = call(f"{prefix}post_message", body=body, **room)
            assert isinstance(posted, models.Message) and posted.anonymous is True
            poll = call(f"{prefix}poll_messages", stream=opened.stream, **room)
            assert isinstance(poll, models.Poll) and poll.stream == opened.stream
            assert [m.id for m in poll.messages] == [posted.id]
            page = call(f"{prefix}message_history", limit=10, **room)
            assert isinstance(page, models.History) and page.next_ is None
            again = call(f"{prefix}get_message", message_id=posted.id, **room)
            assert isinstance(again, models.Message) and again.content == posted.content
            fixed = models.MessageEdit(content="edited by a generated client")
            edited = call(f"{prefix}edit_message", message_id=posted.id, body=fixed, **room)
            assert isinstance(edited, models.Message) and edited.edited_at is not None
            liked = call(f"{prefix}add_reaction", message_id=posted.id, emoji="👍", **room)
            assert isinstance(liked, models.Message)
            assert [(r.emoji, r.count, r.mine) for r in liked.reactions] == [("👍", 1, True)]
            unliked = call(f"{prefix}remove_reaction", message_id=posted.id, emoji="👍", **room)
            assert isinstance(unliked, models.Message) and unliked.reactions == []
            updated = call(f"{prefix}poll_messages", stream=opened.stream, **room)
            assert isinstance(updated, models.Poll)
            assert [m.content for m in updated.updated][-1] == "edited by a generated client"
            marked = call(f"{prefix}mark_read", body=models.Read(cursor=posted.cursor), **room)
            assert isinstance(marked, models.ReadState)
            assert (marked.cursor, marked.unread, marked.unread_capped) == (posted.cursor, 0, False)
            assert call(f"{prefix}delete_message", message_id=posted.id, **room) is None
            gone = call(f"{prefix}get_message", message_id=posted.id, **room)
            assert isinstance(gone, models.Error) and gone.error.code == "message_not_found"
            here = call(f"{prefix}get_presence", **room)
            assert isinstance(here, models.Here) and here.room == room.get("room", "lobby")
            typing = models.Typing(username="Gen")
            assert call(f"{prefix}post_typing", body=typing, **room) is None
            response = operation(f"{prefix}chat_page").sync_detailed(client=client, **room)
            called.add(f"{prefix}chat_page")
            assert response.status_code == 200 and b"data-stream" in response.content
        rooms = call("list_rooms")
        assert isinstance(rooms, models.RoomList)
        assert {room.name for room in rooms.rooms} == {"lobby", "support"}
        assert {room.unread for room in rooms.rooms} == {0}  # read, then deleted
        assert operation("openapi").sync_detailed(client=client).status_code == 200
        called.add("openapi")
    every = {path.stem for path in (generated / PACKAGE / "api" / "default").glob("[!_]*.py")}
    assert called == every - STREAMING


def test_a_first_program_with_it_passes_mypy_strict_and_runs(
    generated: Path, live_site: str, mypy_cache: Path
) -> None:
    pytest.importorskip("mypy", reason="needs mypy (test extra)")
    # The generated package is the generator's code, not the user's: openapi-python-client
    # 0.29 reuses one local name in Error.from_dict (our `Error` schema has an `error` field),
    # which mypy reports there. Our program is checked strictly against the package's types.
    config = generated / "mypy.ini"
    config.write_text(f"[mypy]\nstrict = True\n\n[mypy-{PACKAGE}.*]\nignore_errors = True\n")
    mypy = [sys.executable, "-m", "mypy", "--config-file", str(config)]
    mypy += ["--cache-dir", str(mypy_cache)]
    checked = subprocess.run(
        [*mypy, "--strict", str(EXAMPLE)],
        capture_output=True,
        text=True,
        env={"MYPYPATH": str(generated), "PATH": "/usr/bin:/bin"},
        timeout=300,
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    ran = subprocess.run(
        [sys.executable, str(EXAMPLE), f"{live_site}/chat"],
        capture_output=True,
        text=True,
        env={"PYTHONPATH": str(generated)},
        timeout=60,
    )
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert "Bot: Hello!" in ran.stdout
