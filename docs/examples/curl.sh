#!/bin/sh
# The chat from a shell with curl: one cookie jar is one chat session. Needs jq.
set -eu
CHAT=${CHAT:-http://127.0.0.1:5000/chat}
JAR=${JAR:-$(mktemp)}

# A stream of this reader's own (the jar keeps the session that owns it).
stream=$(curl -sSf -c "$JAR" -b "$JAR" -X POST "$CHAT/streams" | jq -r .stream)

# Post. A script sends no Origin header, so the cross-site check lets it through.
id=$(curl -sSf -c "$JAR" -b "$JAR" -H 'Content-Type: application/json' \
  -d '{"content": "Hello from curl", "username": "sh"}' "$CHAT/messages" | jq -r .id)

# What is new for this stream; with wait=25, the answer comes as soon as there is news.
curl -sSf -b "$JAR" "$CHAT/messages?stream=$stream&wait=25" | jq -r '.messages[] | "\(.username): \(.content)"'

# Delete the message again (-w prints the status: 204).
curl -sS -b "$JAR" -X DELETE -o /dev/null -w '%{http_code}\n' "$CHAT/messages/$id"
