// flask-webchat page: renders every [data-webchat] element with a WebchatClient. No dependencies.
// Message text is only ever placed with textContent, never parsed as HTML.

import { newPostKey, WebchatClient } from "./client.js";
import {
  element,
  fillWith,
  isolated,
  messageTools,
  quoteOf,
  reactions,
  toggleEmojiPicker,
} from "./conversation.js";
import { showWhoIsHere } from "./presence.js";
import { trackReading } from "./unread.js";

const NAME_KEY = "webchat.username";
// Within this many pixels of the end, the reader counts as "at the bottom".
const BOTTOM_SLACK = 40;

/** Characters as the server counts them: code points, after trimming, with CRLF as one. */
export function countCharacters(text) {
  return [...text.replace(/\r\n/g, "\n").trim()].length;
}

/** Fill `%(name)s` placeholders, the catalogs' format, from `params`. */
export function fill(text, params = {}) {
  return text.replace(/%\((\w+)\)s/g, (whole, name) => (name in params ? String(params[name]) : whole));
}

/** A translator from the page's strings (English id -> the reader's language). */
export function translator(strings) {
  return (text, params) => fill(strings[text] || text, params);
}

function start(root) {
  const data = root.dataset;
  // The page hands over the scripts' strings in the reader's language (see web/locale.py).
  const _ = translator(JSON.parse(data.strings || "{}"));
  const lang = data.lang || document.documentElement.lang || undefined;
  // Dates and times in the reader's language and time zone (the browser's).
  const shortTime = new Intl.DateTimeFormat(lang, { hour: "2-digit", minute: "2-digit" });
  const fullTime = new Intl.DateTimeFormat(lang, { dateStyle: "full", timeStyle: "medium" });
  const relative = new Intl.RelativeTimeFormat(lang, { numeric: "auto" });
  const maxLength = Number(data.maxLength || 1024);
  const list = root.querySelector(".webchat-messages");
  const status = root.querySelector(".webchat-status");
  const announcer = root.querySelector(".webchat-announcer");
  const jump = root.querySelector(".webchat-jump");
  const form = root.querySelector(".webchat-composer");
  const content = form.elements.content;
  const counter = root.querySelector(".webchat-counter");
  const nameInput = form.elements.username || null;
  const sendButton = form.querySelector("button[type=submit]");
  const older = root.querySelector(".webchat-older");
  const context = root.querySelector(".webchat-context");
  const contextText = root.querySelector(".webchat-context-text");
  const myId = data.identityId || null;
  const mayPost = !content.disabled;
  const presence = root.querySelector(".webchat-presence");
  const typingLine = root.querySelector(".webchat-typing");
  const shown = new Map(); // message id -> list item
  const states = new Map(); // message id -> the message as last received
  let replyTo = null; // the message the next post answers
  let editing = null; // the message the composer is editing
  let announced = null; // the id of the message the announcer last read out
  let oldest = null; // the cursor of the oldest message shown, where history continues
  let sending = false;
  // One key per draft, kept across its retries, so a post whose answer was lost is stored once.
  let draftKey = null;
  let loaded = false; // the first batch (the backlog) is shown, not announced

  const client = new WebchatClient({
    url: data.messagesUrl,
    stream: data.stream || null,
    // A first visit has no stream (nothing is stored for it): it reads on by cursor instead.
    after: data.stream ? null : data.after || null,
    pollInterval: Number(data.pollInterval || 2) * 1000,
    headers: data.csrfToken ? { "X-CSRFToken": data.csrfToken } : {},
    translate: _,
    ...(lang ? { language: lang } : {}),
    ...(data.eventsUrl ? { eventsUrl: data.eventsUrl } : {}),
    ...(data.historyUrl ? { historyUrl: data.historyUrl } : {}),
    ...(data.wait ? { wait: Number(data.wait) } : {}),
    ...(data.transport ? { transport: data.transport } : {}),
    ...(data.readUrl ? { readUrl: data.readUrl } : {}),
    ...(data.roomsUrl ? { roomsUrl: data.roomsUrl } : {}),
  });
  // The switcher's other rooms are counted again every few polls' worth of time.
  const pollMs = Number(data.pollInterval || 2) * 1000;
  const reading = trackReading({ root, list, client, _, roomsEvery: 5 * pollMs });
  showWhoIsHere({ client, presence, typingLine, _, lang });

  if (nameInput) {
    nameInput.value = localStorage.getItem(NAME_KEY) || "";
    nameInput.addEventListener("change", () => localStorage.setItem(NAME_KEY, nameInput.value.trim()));
  }

  let reconnecting = false; // whether the status shows the connection's trouble
  function say(text, isError = false) {
    status.textContent = text;
    status.classList.toggle("is-error", isError);
  }

  const atBottom = () => list.scrollHeight - list.scrollTop - list.clientHeight < BOTTOM_SLACK;

  function toBottom() {
    list.scrollTop = list.scrollHeight;
    jump.hidden = true;
  }

  function build(message) {
    const item = element("li", "webchat-message");
    item.dataset.id = String(message.id);
    item.classList.toggle("is-mine", Boolean(message.mine));
    // A notice from the site itself: no author to show, set apart from what people say.
    item.classList.toggle("is-system", Boolean(message.system));
    const meta = element("div", "webchat-meta");
    let author;
    if (message.system) {
      author = element("span", "webchat-notice", _("Notice"));
    } else {
      author = element("span", "webchat-author");
      // Isolated, so that a name's or a message's own direction never reorders its neighbours.
      const name = isolated(message.username);
      name.className = "webchat-username";
      author.append(name);
    }
    if (message.anonymous) author.append(" ", element("span", "webchat-guest", _("guest")));
    if (message.mine) author.append(" ", element("span", "webchat-you", _("you")));
    const when = new Date(message.created_at);
    const time = element("time", "webchat-time", shortTime.format(when));
    time.dateTime = message.created_at;
    time.title = fullTime.format(when);
    meta.append(author, time);
    if (message.edited_at) meta.append(element("span", "webchat-edited", _("(edited)")));
    meta.append(tools(message));
    item.classList.toggle("is-mention", Boolean(myId && (message.mentions || []).some((m) => m.id === myId)));
    if (message.reply_to) item.append(quote(message.reply_to));
    // Content is the author's, never translated; dir="auto" lays out Arabic or Hebrew right to
    // left inside a left-to-right page (and the reverse).
    const content = element("p", "webchat-content", message.content);
    content.dir = "auto";
    item.append(meta, content, reactionBar(message));
    shown.set(message.id, item);
    states.set(message.id, message);
    if (oldest === null || BigInt(message.cursor) < BigInt(oldest)) oldest = message.cursor;
    return item;
  }

  const parts = { _, mayPost, shown, onReply: startReply, onEdit: startEdit, onDelete: deleteMessage };
  const tools = (message) => messageTools(message, { ...parts, onReact: togglePicker });
  const quote = (reply) => quoteOf(reply, parts);
  const reactionBar = (message) => reactions(message, { ...parts, onToggle: react });

  function togglePicker(id, opener) {
    toggleEmojiPicker(shown.get(id), opener, { _, onPick: (emoji) => react(id, emoji, true) });
  }

  async function react(id, emoji, add) {
    try {
      update(await client.react(id, emoji, add));
    } catch (error) {
      say(error.message, true);
    }
  }

  function setContext(parts) {
    context.hidden = parts === null;
    contextText.replaceChildren(...(parts || []));
  }

  function startReply(id, focus = true) {
    const message = states.get(id);
    if (!message) return;
    editing = null;
    replyTo = id;
    const from = message.system ? _("the site") : isolated(message.username);
    const parts = { name: from, text: isolated(message.content) };
    setContext(fillWith(_("Replying to %(name)s: %(text)s"), parts));
    if (focus) content.focus();
  }

  function startEdit(id) {
    const message = states.get(id);
    if (!message) return;
    replyTo = null;
    editing = id;
    setContext([_("Editing your message")]);
    content.value = message.content;
    updateComposer();
    content.focus();
  }

  function cancelContext() {
    if (editing !== null) content.value = "";
    editing = null;
    replyTo = null;
    setContext(null);
    updateComposer();
  }

  function update(message) {
    // A message's new state: rebuilt in place, where the reader already sees it.
    const item = shown.get(message.id);
    if (!item) return;
    const picker = item.querySelector(".webchat-picker") !== null;
    const focused = item.contains(document.activeElement) ? document.activeElement.className : null;
    const rebuilt = build(message);
    item.replaceWith(rebuilt);
    // The live region read the old text out: it keeps no text the message no longer has.
    if (announced === message.id) announcer.textContent = "";
    if (picker) togglePicker(message.id, rebuilt.querySelector(".webchat-react"));
    if (focused) rebuilt.querySelector(`.${focused.split(" ")[0]}`)?.focus();
    if (replyTo === message.id) startReply(message.id, false); // the quote as it is now
  }

  function render(message) {
    if (shown.has(message.id)) return;
    const pinned = atBottom();
    const item = build(message);
    list.append(item);
    reading.shown(item, message);
    if (pinned || message.mine) toBottom();
    else jump.hidden = false; // the reader is reading back: say there is more, do not jump
    if (loaded && !message.mine) {
      const from = message.system ? _("Notice") : message.username;
      announcer.textContent = _("%(name)s: %(text)s", { name: from, text: message.content });
      announced = message.id;
    }
  }

  async function loadOlder() {
    older.disabled = true;
    try {
      const page = await client.history({ before: oldest });
      const height = list.scrollHeight;
      for (const message of page.messages) {
        if (shown.has(message.id)) continue;
        const item = build(message);
        list.prepend(item); // newest first: each goes on top
        reading.shown(item, message);
      }
      list.scrollTop += list.scrollHeight - height; // keep what the reader was looking at
      older.hidden = page.next === null;
      if (page.next !== null) oldest = page.next;
    } catch (error) {
      say(error.message, true);
    } finally {
      older.disabled = false;
    }
  }

  function forget(id) {
    const item = shown.get(id);
    item?.remove();
    shown.delete(id);
    states.delete(id);
    // Nothing of a deleted message may stay on the page, not even for screen readers.
    if (announced === id) {
      announcer.textContent = "";
      announced = null;
    }
    if (replyTo === id || editing === id) cancelContext();
    reading.removed(id, item);
  }

  async function deleteMessage(id) {
    try {
      await client.delete(id);
      forget(id);
    } catch (error) {
      say(error.message, true);
    }
  }

  function updateComposer() {
    const count = countCharacters(content.value);
    counter.textContent = `${count} / ${maxLength}`;
    counter.classList.toggle("is-over", count > maxLength);
    sendButton.disabled = sending || content.disabled || count === 0;
  }

  async function saveEdit() {
    const text = content.value;
    if (countCharacters(text) === 0 || sending) return;
    sending = true;
    updateComposer();
    try {
      update(await client.edit(editing, text));
      if (content.value === text) cancelContext();
      say("");
    } catch (error) {
      say(error.message, true);
    } finally {
      sending = false;
      updateComposer();
    }
  }

  async function send() {
    if (editing !== null) return saveEdit();
    const text = content.value;
    if (countCharacters(text) === 0 || sending) return;
    const message = { content: text };
    if (replyTo !== null) message.replyTo = replyTo;
    if (nameInput) {
      message.username = nameInput.value.trim();
      localStorage.setItem(NAME_KEY, message.username);
    }
    sending = true;
    updateComposer();
    draftKey ??= newPostKey();
    try {
      await client.send(message, { key: draftKey });
      draftKey = null;
      if (content.value === text) content.value = ""; // keep anything typed meanwhile
      if (message.replyTo === replyTo) cancelContext();
      say("");
      reading.remembered(); // posting gave this browser a session: its reading can be marked
    } catch (error) {
      say(error.message, true); // the draft stays in the box
    } finally {
      sending = false;
      updateComposer();
    }
  }

  client.addEventListener("message", (event) => render(event.detail));
  client.addEventListener("update", (event) => update(event.detail));
  client.addEventListener("delete", (event) => forget(event.detail.id));
  client.addEventListener("state", (event) => {
    const { state, error, retryIn } = event.detail;
    root.dataset.state = state;
    if (state === "reconnecting") {
      const when = relative.format(Math.ceil(retryIn / 1000), "second");
      say(_("Reconnecting… next try %(when)s (%(reason)s)", { when, reason: error.message }), true);
      reconnecting = true;
    } else {
      // Back, or live (again): clear the connection notice, never a refusal the reader has
      // yet to read (a first post refused while reading restarted with its session).
      if (reconnecting) say("");
      reconnecting = false;
      loaded = true;
      reading.loaded(); // the backlog is shown: the "New" divider goes above what is unread
    }
  });
  list.addEventListener("scroll", () => {
    if (atBottom()) jump.hidden = true;
  });
  jump.addEventListener("click", toBottom);
  older?.addEventListener("click", loadOlder);
  content.addEventListener("input", () => {
    draftKey = null; // an edited draft is another message
    updateComposer();
    if (countCharacters(content.value) > 0) {
      const username = nameInput ? nameInput.value.trim() : "";
      client.typing(username ? { username } : {}); // at most every few seconds
    }
  });
  content.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      send();
    } else if (event.key === "Escape" && (editing !== null || replyTo !== null)) {
      event.preventDefault();
      cancelContext();
    } else if (event.key === "ArrowUp" && content.value === "" && editing === null) {
      // Up in an empty composer edits the reader's newest message, as in most chats.
      const mine = [...states.values()].filter((m) => m.mine && !m.system);
      const last = mine.sort((a, b) => (BigInt(a.cursor) < BigInt(b.cursor) ? -1 : 1)).pop();
      if (last) {
        event.preventDefault();
        startEdit(last.id);
      }
    }
  });
  root.querySelector(".webchat-context-cancel").addEventListener("click", () => {
    cancelContext();
    content.focus();
  });
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    send();
  });
  updateComposer();
  client.start();
  root.webchat = client; // for host scripts: the same events, e.g. to show a badge
  root.dataset.ready = ""; // handlers attached: tests and host scripts can wait for this
}

document.querySelectorAll("[data-webchat]").forEach(start);
