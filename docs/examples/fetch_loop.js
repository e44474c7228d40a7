// Follow a chat room with fetch alone: a stream of this tab's own, then long-polls.
//
//   const stop = new AbortController();
//   followRoom("support", { onMessage: show, onUpdate: replace, onDelete: hide,
//                           signal: stop.signal });
//   await say("support", "Hello!", "Ann");
window.followRoom = async function followRoom(room, { onMessage, onUpdate, onDelete, signal }) {
  const base = `/chat/rooms/${room}`;
  const json = { Accept: "application/json" };
  let stream = null;
  let cursor = null;
  let failures = 0;
  while (!signal.aborted) {
    try {
      if (cursor === null) {
        // POST /streams: this tab's own stream, so that other tabs keep getting every message.
        const opened = await fetch(`${base}/streams`, { method: "POST", headers: json, signal });
        if (!opened.ok) throw new Error(`could not open a stream: ${opened.status}`);
        ({ stream, cursor } = await opened.json());
      }
      const query = new URLSearchParams({ after: cursor, wait: "25" });
      if (stream) query.set("stream", stream);
      const answer = await fetch(`${base}/messages?${query}`, { headers: json, signal });
      if (!answer.ok) {
        const { error } = await answer.json();
        if (error.code !== "unknown_stream") throw new Error(error.message);
        stream = null; // dropped by the server: read on from our cursor, statelessly
        continue;
      }
      const batch = await answer.json();
      // New messages, then the current state of changed ones (edits, reactions), then deletions.
      batch.messages.forEach(onMessage);
      batch.updated.forEach(onUpdate);
      batch.deleted.forEach(onDelete);
      cursor = batch.cursor;
      failures = 0;
    } catch (error) {
      if (signal.aborted) break;
      failures += 1; // back off: 2 s, 4 s … 30 s
      await new Promise((resolve) => setTimeout(resolve, Math.min(30000, 1000 * 2 ** failures)));
    }
  }
};

window.say = async function say(room, content, username) {
  const answer = await fetch(`/chat/rooms/${room}/messages`, {
    method: "POST",
    headers: { "Content-Type": "application/json", Accept: "application/json" },
    body: JSON.stringify({ content, username }),
  });
  const body = await answer.json();
  if (!answer.ok) throw new Error(body.error.message);
  return body;
};
