// flask-webchat client: reads a room from a cursor, posts, edits, reacts and deletes. No
// dependencies, no DOM.
//
//   import { WebchatClient } from "/chat/static/webchat/client.js";
//   const chat = new WebchatClient({ url: "/chat/messages" });  // transport: "sse" by default
//   chat.addEventListener("message", (event) => show(event.detail));
//   chat.addEventListener("update", (event) => replace(event.detail));  // its whole state
//   chat.addEventListener("delete", (event) => hide(event.detail.id));
//   chat.start();
//   await chat.send({ content: "Hello!", username: "Ann" });
//
// Events: "message" (detail: a message), "update" (detail: a message's whole current state: an
// edit, a reaction, its parent's change), "delete" (detail: {id}), "state" (detail: {state,
// error, retryIn}) where state is "live" or "reconnecting". Every message, update and deletion
// is dispatched exactly once, in the room's order; after a network error the client retries with backoff
// and resumes from its cursor, so nothing is missed.
//
// Ephemeral events, never replayed: "presence" (detail: {users, guests}: who is in the room,
// at start and at each change) and "typing" (detail: {name, typing}: someone else started or
// stopped; show it for TYPING_SHOWN ms at most). Call typing() while the composer has text.
//
// Transports: "sse" reads the first batch with one poll, then listens on GET /events (the
// browser's EventSource, which resumes by itself with Last-Event-ID); "long-poll" asks
// GET /messages?wait=… again as soon as each answer arrives; "poll" asks every pollInterval.
//
// Given neither `stream` (our page passes its own) nor `after`, the client opens a stream of its
// own with POST /streams before its first read, so that every tab of a browser gets every event.

/** How long a "typing" event is worth showing, in ms, unless a newer one says otherwise. */
export const TYPING_SHOWN = 6000;
/** The shortest gap between two typing() calls that reach the server, in ms. */
export const TYPING_EVERY = 3000;

/** Fill `%(name)s` placeholders from `params`: the default translator, which keeps English. */
function english(text, params = {}) {
  return text.replace(/%\((\w+)\)s/g, (whole, name) => (name in params ? String(params[name]) : whole));
}

/** An answer the server refused: its status, code, message and per-field messages. */
/** A fresh Idempotency-Key for one draft: 128 random bits, hex. */
export function newPostKey() {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (byte) => byte.toString(16).padStart(2, "0")).join("");
}

export class WebchatError extends Error {
  constructor(message, { status = 0, code = "network_error", fields = null, retryAfter = null } = {}) {
    super(message);
    this.name = "WebchatError";
    this.status = status;
    this.code = code;
    this.fields = fields;
    this.retryAfter = retryAfter;
  }
}

async function refusal(response, _) {
  let error = {};
  try {
    error = (await response.json()).error || {};
  } catch {
    // not our JSON (a proxy's page, say): the status says enough
  }
  const fields = error.fields ? Object.values(error.fields).flat().join(" ") : "";
  const retryAfter = Number(response.headers.get("Retry-After")) || null;
  const fallback = _("The server answered %(status)s.", { status: response.status });
  return new WebchatError(fields || error.message || fallback, {
    status: response.status,
    code: error.code || "http_error",
    fields: error.fields || null,
    retryAfter,
  });
}

export class WebchatClient extends EventTarget {
  /**
   * @param {object} options
   * @param {string} options.url The messages URL, e.g. "/chat/messages".
   * @param {string} [options.stream] A tab's stream id (the page's data-stream).
   * @param {string} [options.after] Read statelessly from this cursor instead ("0": everything).
   * @param {boolean} [options.openStream] Without `stream` and `after`: open a stream of this
   *   client's own (the default), or, if false, read the browser session's one default stream.
   * @param {string} [options.streamsUrl] Where streams are opened; by default next to `url`.
   * @param {number} [options.pollInterval] Milliseconds between polls when nothing is new.
   * @param {object} [options.headers] Sent with posts and deletes, e.g. a CSRF token.
   * @param {string} [options.transport] "sse" (the default), "long-poll" or "poll".
   * @param {string} [options.eventsUrl] The events URL; by default next to `url`.
   * @param {string} [options.historyUrl] The history URL; by default `url` + "/history".
   * @param {number} [options.wait] Seconds a long-poll may wait (the server caps it).
   * @param {function} [options.translate] `(english, params) => text` for the client's own
   *   sentences; the page passes its strings (the server's messages come translated).
   * @param {string} [options.language] Sent as Accept-Language, so that the server's error
   *   messages are in the page's language.
   * @param {string} [options.readUrl] Where read positions move; by default next to `url`.
   * @param {string} [options.roomsUrl] The room list (with unread counts); by default at the
   *   mount point `url` is under.
   * @param {string} [options.typingUrl] Where typing() posts; by default next to `url`.
   * @param {boolean} [options.presence] Ask polls for the room's presence (the default).
   */
  constructor({
    url,
    stream = null,
    after = null,
    openStream = true,
    streamsUrl = url.replace(/\/messages$/, "/streams"),
    pollInterval = 2000,
    headers = {},
    transport = "sse",
    eventsUrl = url.replace(/\/messages$/, "/events"),
    historyUrl = `${url}/history`,
    wait = 25,
    translate = english,
    language = null,
    readUrl = url.replace(/\/messages$/, "/read"),
    roomsUrl = url.replace(/(\/rooms\/[^/]+)?\/messages$/, "/rooms"),
    typingUrl = url.replace(/\/messages$/, "/typing"),
    presence = true,
  }) {
    super();
    this.url = url;
    this.stream = stream;
    this.cursor = after;
    // A stream of our own is opened before the first read, once (see _openStream).
    this._mustOpen = openStream && !stream && after === null;
    // Reading by cursor, the browser may have no session yet (a first visit): see _write.
    this._sessionless = !stream && !this._mustOpen;
    this._writing = Promise.resolve(); // the sessionless writes, one after another
    // Our name in the room's presence while sessionless: the stream reopened after the first
    // write gives it again, so the server replaces that guest instead of counting us twice.
    this._presenceId = this._sessionless ? newPostKey() : null;
    this.streamsUrl = streamsUrl;
    this.pollInterval = pollInterval;
    this.headers = headers;
    // Without EventSource (an old browser, a test runner), long-polls deliver just as fast.
    this.transport = transport === "sse" && typeof EventSource !== "function" ? "long-poll" : transport;
    this.eventsUrl = eventsUrl;
    this.historyUrl = historyUrl;
    this.wait = wait;
    this._ = translate;
    this.language = language;
    this.readUrl = readUrl;
    this.roomsUrl = roomsUrl;
    this.state = "idle";
    this._source = null; // the EventSource, while the "sse" transport listens
    this._timer = null;
    this._polling = false;
    this._again = false;
    this._failures = 0;
    this._generation = 0; // bumped by stop(), so that a poll still in flight schedules nothing
    this.typingUrl = typingUrl;
    this.presence = presence;
    this._present = ""; // the last presence dispatched, as JSON, to dispatch changes only
    this._typedAt = 0;
  }

  /** Start polling; events follow. */
  start() {
    if (this.state === "idle") {
      this.state = "starting";
      this.refresh();
    }
  }

  /** Stop listening and polling. */
  stop() {
    clearTimeout(this._timer);
    this._closeSource();
    this._generation += 1;
    this._polling = false;
    this.state = "idle";
  }

  /** Poll now (e.g. after posting), or straight after the poll in flight. */
  refresh() {
    if (this._source) return; // events arrive as they happen
    if (this._polling) {
      this._again = true;
      return;
    }
    clearTimeout(this._timer);
    this._poll();
  }

  /**
   * Post a message; resolves to the stored message, rejects with a WebchatError. Send the same
   * `key` (see newPostKey) when retrying the same draft: the server then stores it once.
   */
  async send({ content, username, replyTo }, { key } = {}) {
    const body = username === undefined ? { content } : { content, username };
    if (replyTo !== undefined && replyTo !== null) body.reply_to = replyTo;
    const headers = { ...this.headers, "Content-Type": "application/json", Accept: "application/json" };
    if (key) headers["Idempotency-Key"] = key;
    const response = await this._write(this.url, {
      method: "POST",
      headers,
      body: JSON.stringify(body),
    });
    if (!response.ok) throw await refusal(response, this._);
    this.refresh(); // the message arrives in order, through the poll
    return response.json();
  }

  /**
   * Older messages, newest first, a page at a time (it moves no cursor). Resolves to
   * {messages, next}; pass `next` as `before` for the page after, until it is null.
   */
  async history({ before = null, limit = 50 } = {}) {
    const params = new URLSearchParams({ limit: String(limit) });
    if (before !== null) params.set("before", before);
    const response = await this._fetch(`${this.historyUrl}?${params}`, {
      headers: { Accept: "application/json" },
    });
    if (!response.ok) throw await refusal(response, this._);
    return response.json();
  }

  /** Edit a message's content; resolves to the message as edited (the update event follows). */
  async edit(id, content) {
    const response = await this._write(`${this.url}/${id}`, {
      method: "PATCH",
      headers: { ...this.headers, "Content-Type": "application/json", Accept: "application/json" },
      body: JSON.stringify({ content }),
    });
    if (!response.ok) throw await refusal(response, this._);
    this.refresh();
    return response.json();
  }

  /** Add (`add` true) or remove this reader's `emoji` on a message; resolves to the message. */
  async react(id, emoji, add = true) {
    const response = await this._write(`${this.url}/${id}/reactions/${encodeURIComponent(emoji)}`, {
      method: add ? "PUT" : "DELETE",
      headers: { ...this.headers, Accept: "application/json" },
    });
    if (!response.ok) throw await refusal(response, this._);
    this.refresh();
    return response.json();
  }

  /**
   * Say that this reader is typing (call it on each keystroke while the composer has text): at
   * most one request per TYPING_EVERY ms reaches the server. Resolves to whether one was sent;
   * a refusal is not an error worth showing, and is ignored.
   */
  async typing({ username } = {}) {
    const now = Date.now();
    if (now - this._typedAt < TYPING_EVERY) return false;
    this._typedAt = now;
    const body = username ? { username } : {};
    try {
      // A write like any other: it may be what gives this browser its session.
      const response = await this._write(this.typingUrl, {
        method: "POST",
        headers: { ...this.headers, "Content-Type": "application/json" },
        body: JSON.stringify(body),
      });
      return response.ok;
    } catch {
      return false;
    }
  }

  _presenceSeen(presence) {
    // Polls carry presence in every answer: dispatch it when it changed.
    const text = JSON.stringify(presence);
    if (text === this._present) return;
    this._present = text;
    this._emit("presence", presence);
  }

  /** Delete a message; one that is already gone counts as deleted (a wrong URL does not). */
  async delete(id) {
    const response = await this._write(`${this.url}/${id}`, {
      method: "DELETE",
      headers: this.headers,
    });
    if (!response.ok) {
      const error = await refusal(response, this._);
      if (error.code !== "message_not_found") throw error;
    }
    this.refresh();
  }

  /**
   * A write. A client reading by cursor may have no session yet, and its first write makes one,
   * which changes how events show this reader (`mine`, `can_delete`, its own reactions). So
   * reading pauses while that write is in flight and goes on from the same cursor with the
   * session: no event crosses the old connection after it. Until then, writes go one at a time,
   * so that two of them never make two sessions.
   */
  _write(url, options) {
    if (!this._sessionless) return this._fetch(url, options);
    const write = async () => {
      if (!this._sessionless) return this._fetch(url, options);
      const reading = this.state !== "idle";
      if (reading) this.stop();
      try {
        const response = await this._fetch(url, options);
        if (response.ok) this._sessionless = false;
        return response;
      } finally {
        if (reading) this.start();
      }
    };
    this._writing = this._writing.catch(() => {}).then(write);
    return this._writing;
  }

  /**
   * Mark the room read up to `cursor` (a message's, or any answer's); the server keeps the
   * greater of this and what was marked before. Resolves to {room, cursor, unread,
   * unread_capped}: the stored position and what is left unread after it.
   */
  async markRead(cursor) {
    const response = await this._fetch(this.readUrl, {
      method: "POST",
      headers: { ...this.headers, "Content-Type": "application/json", Accept: "application/json" },
      body: JSON.stringify({ cursor: String(cursor) }),
    });
    if (!response.ok) throw await refusal(response, this._);
    return response.json();
  }

  /** The rooms the reader may read, with `unread` and `unread_capped`: GET /rooms (one page). */
  async rooms({ after = null, limit = 100 } = {}) {
    const params = new URLSearchParams({ limit: String(limit) });
    if (after !== null) params.set("after", after);
    const response = await this._fetch(`${this.roomsUrl}?${params}`, {
      headers: { Accept: "application/json" },
    });
    if (!response.ok) throw await refusal(response, this._);
    return response.json();
  }

  async _fetch(url, options) {
    // The page's language, so that refusals come back in it whatever the browser's settings.
    const language = this.language ? { "Accept-Language": this.language } : {};
    try {
      return await fetch(url, { ...options, headers: { ...language, ...options.headers } });
    } catch (error) {
      const reason = error.message;
      throw new WebchatError(this._("Could not reach the server (%(reason)s).", { reason }));
    }
  }

  _query(extra = {}) {
    // With a stream, the cursor too: if an answer was lost on the way, the stream goes back.
    const params = new URLSearchParams(extra);
    if (this.stream) params.set("stream", this.stream);
    if (this.cursor !== null) params.set("after", this.cursor);
    const query = params.toString();
    return query ? `?${query}` : ""; // neither: the session's own stream
  }

  _pollUrl() {
    // A long-poll waits only once the first batch is shown: an empty room must not hold it.
    const waiting = this.transport === "long-poll" && this.state === "live";
    const extra = {
      ...(waiting ? { wait: this.wait } : {}),
      ...(this.presence ? { presence: "true" } : {}),
      // Once our first write made a session, a poll replaces the guest our old stream was.
      ...(this._presenceId ? { presence_id: this._presenceId } : {}),
    };
    return this.url + this._query(extra);
  }

  _listen() {
    const generation = this._generation;
    const named = this._presenceId ? { presence_id: this._presenceId } : {};
    const source = new EventSource(this.eventsUrl + this._query(named));
    this._source = source;
    const receive = (type) => (event) => {
      if (generation !== this._generation) return;
      const data = JSON.parse(event.data);
      // The stream starts from our cursor, so this only guards against a server mistake.
      if (this.cursor !== null && BigInt(event.lastEventId) <= BigInt(this.cursor)) return;
      this._emit(type, type === "delete" ? { id: data.id } : data);
      this.cursor = event.lastEventId;
    };
    source.addEventListener("message", receive("message"));
    source.addEventListener("update", receive("update"));
    source.addEventListener("delete", receive("delete"));
    // No id: these move no cursor (EventSource keeps the last id it had).
    source.addEventListener("presence", (event) => {
      if (generation === this._generation) this._presenceSeen(JSON.parse(event.data));
    });
    source.addEventListener("typing", (event) => {
      if (generation === this._generation) this._emit("typing", JSON.parse(event.data));
    });
    source.addEventListener("revoked", () => {
      // Access ended while listening: poll once, which answers why (403) and stops there.
      if (generation !== this._generation) return;
      this._closeSource();
      this._poll();
    });
    // The stream moved past positions that hold nothing to show: so does our cursor.
    source.addEventListener("cursor", (event) => {
      if (generation !== this._generation) return;
      if (this.cursor === null || BigInt(event.lastEventId) > BigInt(this.cursor)) {
        this.cursor = event.lastEventId;
      }
    });
    source.addEventListener("open", () => {
      if (generation !== this._generation) return;
      this._failures = 0;
      this._setState("live");
    });
    source.addEventListener("error", () => {
      if (generation !== this._generation) return;
      if (source.readyState === EventSource.CONNECTING) {
        // The browser reconnects by itself and resumes with Last-Event-ID.
        this._setState("reconnecting", {
          error: new WebchatError(this._("The event stream was interrupted.")),
          retryIn: this.pollInterval,
        });
        return;
      }
      // Refused (the stream expired, the server is down): poll, which knows why, then listen.
      this._closeSource();
      this._poll();
    });
  }

  async _openStream() {
    // Like a page load, POST /streams gives this client a stream no other tab reads. It is a
    // write, so it carries the same headers as posts (a CSRF token, say).
    const response = await this._fetch(this.streamsUrl, {
      method: "POST",
      headers: { ...this.headers, Accept: "application/json" },
    });
    // A refusal (503, 429, a CSRF failure …) is retried: reading without a stream or a cursor
    // would read the session's default stream, which every tab of this browser shares.
    if (!response.ok) throw await refusal(response, this._);
    const opened = await response.json();
    this.stream = opened.stream;
    this.cursor = opened.cursor;
    this._mustOpen = false;
  }

  _closeSource() {
    if (this._source) this._source.close();
    this._source = null;
  }

  _emit(type, detail) {
    this.dispatchEvent(new CustomEvent(type, { detail }));
  }

  _setState(state, detail = {}) {
    const changed = state !== this.state;
    this.state = state;
    if (changed || state === "reconnecting") this._emit("state", { state, ...detail });
  }

  async _poll() {
    if (this.state === "idle") return;
    const generation = this._generation;
    this._polling = true;
    let delay = this.pollInterval;
    try {
      if (this._mustOpen) await this._openStream();
      if (generation !== this._generation) return;
      const response = await this._fetch(this._pollUrl(), { headers: { Accept: "application/json" } });
      if (generation !== this._generation) return; // stopped meanwhile
      if (!response.ok) {
        const error = await refusal(response, this._);
        // Any other refusal (a wrong URL's unknown_route among them) is an error to retry.
        if (error.code !== "unknown_stream" || !this.stream) throw error;
        // The server dropped this tab's stream (idle too long, or its session is gone): read on
        // from our cursor, or, before the first batch, from the session's own stream.
        this.stream = null;
        this._again = true;
      } else {
        const batch = await response.json();
        if (generation !== this._generation) return;
        // New messages, then the current state of changed ones, then deletions: a message in
        // two lists ends in the state of the last (see "Merging a batch" in the docs).
        batch.messages.forEach((message) => this._emit("message", message));
        (batch.updated || []).forEach((message) => this._emit("update", message));
        batch.deleted.forEach((id) => this._emit("delete", { id }));
        if (batch.presence) this._presenceSeen(batch.presence);
        this.cursor = batch.cursor;
        if (batch.more) this._again = true;
      }
      this._failures = 0;
      this._setState("live");
    } catch (error) {
      if (generation !== this._generation) return;
      this._failures += 1;
      // 1 s, 2 s, 4 s … up to 30 s, with jitter so that many tabs do not retry in step.
      const backoff = Math.min(30000, 1000 * 2 ** (this._failures - 1));
      delay = Math.max(backoff * (0.8 + Math.random() * 0.4), (error.retryAfter || 0) * 1000);
      this._setState("reconnecting", { error, retryIn: delay });
    }
    if (generation !== this._generation) return;
    this._polling = false;
    if (this._again && this._failures === 0) {
      this._again = false;
      this._poll();
    } else if (this._failures === 0 && this.transport === "sse") {
      this._listen(); // caught up: the rest comes as events
    } else if (this._failures === 0 && this.transport === "long-poll") {
      this._poll(); // the server held the request until there was news
    } else {
      this._timer = setTimeout(() => this._poll(), delay);
    }
  }
}
