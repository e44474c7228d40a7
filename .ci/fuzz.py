"""Fuzz the example app's chat API against its own OpenAPI document, then check what it stored.

Starts the example app (fresh instance folder, rate limit off so every generated post reaches the
validation it is meant to test, any room name allowed, long-polls cut to a moment), runs
schemathesis against ``/chat/openapi.json`` with every
check but ``positive_data_acceptance`` (which expects any schema-valid request to succeed, while
a cursor ahead of the room is a valid-looking request the API rightly refuses with 422), and
fails unless there were at least ``--min-requests`` requests, over every operation, with no
failure, and every stored message is one the schemas accept as it is. The event streams are left
out: each answer is endless by design, and their own tests cover them.
"""

from __future__ import annotations

import argparse
import json
import logging
import re
import subprocess
import sys
import tempfile
import threading
from collections import Counter
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from werkzeug.serving import make_server

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the example app's folder

from example_app import create_app, db
from flask_webchat.models import ChatMessage
from flask_webchat.schemas import NewMessageSchema


def interactions(event: Any) -> Any:
    """Every recorded request/response pair inside one schemathesis event."""
    if isinstance(event, dict):
        if isinstance(event.get("request"), dict) and "uri" in event["request"]:
            yield event
        for value in event.values():
            yield from interactions(value)
    elif isinstance(event, list):
        for value in event:
            yield from interactions(value)


def operation(method: str, uri: str) -> str:
    path = uri.split("?", 1)[0].split("/chat", 1)[-1] or "/"
    path = re.sub(r"^/rooms/[^/]+(?=/)", "/rooms/{room}", path)
    path = re.sub(
        r"^((?:/rooms/\{room\})?)/messages/(?!history$)[^/]+$", r"\1/messages/{message_id}", path
    )
    path = re.sub(
        r"^((?:/rooms/\{room\})?)/messages/[^/]+/reactions/[^/]+$",
        r"\1/messages/{message_id}/reactions/{emoji}",
        path,
    )
    return f"{method} {path}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--max-examples", type=int, default=300)
    parser.add_argument("--min-requests", type=int, default=2000)
    args = parser.parse_args()

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one line per request is too many
    with tempfile.TemporaryDirectory() as tmp:
        config = {"WEBCHAT_RATE_LIMIT": None, "WEBCHAT_ROOMS": None, "WEBCHAT_MAX_WAIT": 0.05}
        app = create_app(config, instance_path=f"{tmp}/instance")
        server = make_server("127.0.0.1", 0, app, threaded=True)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        url = f"http://127.0.0.1:{server.server_port}/chat/openapi.json"
        run = subprocess.run(
            [
                *(sys.executable, "-m", "schemathesis.cli", "run", url),
                *("--checks", "all", "--exclude-checks", "positive_data_acceptance"),
                *("--exclude-path-regex", "/events$"),
                *("--max-examples", str(args.max_examples), "--seed", "1"),
                *("--report", "ndjson", "--report-dir", tmp, "--no-color"),
            ],
            capture_output=True,
            text=True,
        )
        server.shutdown()
        with app.app_context():
            query = sa.select(ChatMessage.content, ChatMessage.username)
            # What HTTP clients stored; a system notice (the welcome) is the host's own.
            rows = db.session.execute(query.where(ChatMessage.system.is_(False))).all()
        report = next(Path(tmp).glob("*.ndjson")).read_text().splitlines()

    statuses: Counter[int] = Counter()
    operations: Counter[str] = Counter()
    for line in report:
        for pair in interactions(json.loads(line)):
            operations[operation(pair["request"]["method"], pair["request"]["uri"])] += 1
            if pair.get("response"):
                statuses[pair["response"]["status_code"]] += 1
    invalid = [
        row
        for row in rows
        if NewMessageSchema().validate({"content": row.content, "username": row.username})
        or NewMessageSchema().load({"content": row.content, "username": row.username})
        != {"content": row.content, "username": row.username}
    ]
    server_errors = sum(n for status, n in statuses.items() if status >= 500)
    paths = app.test_client().get("/chat/openapi.json").json["paths"]
    documented = {f"{method.upper()} {path}" for path, ops in paths.items() for method in ops}
    summary = re.search(r"Test cases:\s*\n\s*(.+)", run.stdout)
    print(f"requests: {sum(operations.values())}; schemathesis: {summary and summary.group(1)}")
    for name in sorted(documented):
        print(f"  {operations[name]:>6}  {name}")
    others = sum(n for name, n in operations.items() if name not in documented)
    print(f"  {others:>6}  other methods and paths (probes for 404/405)")
    print(f"statuses: {dict(sorted(statuses.items()))}")
    print(f"server errors: {server_errors}; stored messages: {len(rows)}, invalid: {len(invalid)}")

    problems = []
    if run.returncode != 0:
        problems.append(f"schemathesis failed (exit {run.returncode}):\n{run.stdout[-4000:]}")
    if sum(operations.values()) < args.min_requests:
        problems.append(f"only {sum(operations.values())} requests")
    documented = {
        f"{m.upper()} {p}"
        for p, ops in app.test_client().get("/chat/openapi.json").json["paths"].items()
        for m in ops
    }
    # Schemathesis reads the document itself rather than testing it as an operation.
    skipped = {"GET /openapi.json", "GET /events", "GET /rooms/{room}/events"}
    if missing := documented - set(operations) - skipped:
        problems.append(f"operations never called: {sorted(missing)}")
    if server_errors or invalid:
        problems.append(f"{server_errors} server errors, invalid rows: {invalid[:5]}")
    for problem in problems:
        print(f"FAIL: {problem}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
