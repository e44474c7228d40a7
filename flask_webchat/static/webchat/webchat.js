// flask-webchat page client: polls this tab's stream, posts, deletes. No dependencies.
// Message text is only ever placed with textContent, never parsed as HTML.

const NAME_KEY = "webchat.username";

function start(root) {
  const config = {
    stream: root.dataset.stream,
    messagesUrl: root.dataset.messagesUrl,
    pollInterval: Number(root.dataset.pollInterval || 2) * 1000,
    maxLength: Number(root.dataset.maxLength || 1024),
    identityName: root.dataset.identityName || "",
    // The host's CSRF token (Flask-WTF's CSRFProtect), sent with every post and delete.
    writeHeaders: root.dataset.csrfToken ? { "X-CSRFToken": root.dataset.csrfToken } : {},
  };
  const list = root.querySelector(".webchat-messages");
  const status = root.querySelector(".webchat-status");
  const form = root.querySelector(".webchat-composer");
  const content = form.elements.content;
  const nameInput = form.elements.username || null;
  const sendButton = form.querySelector("button[type=submit]");
  const shown = new Map(); // message id -> list item
  let cursor = null; // the last cursor received: enough to carry on if the stream goes away
  let pollTimer = null;
  let polling = false;
  let pollAgain = false;
  let sending = false;

  if (nameInput) {
    nameInput.value = localStorage.getItem(NAME_KEY) || "";
    nameInput.addEventListener("change", () => localStorage.setItem(NAME_KEY, nameInput.value.trim()));
  }

  function say(text, isError = false) {
    status.textContent = text;
    status.classList.toggle("is-error", isError);
  }

  async function errorText(response) {
    try {
      const body = await response.json();
      const fields = body.error.fields ? Object.values(body.error.fields).flat().join(" ") : "";
      return fields || body.error.message;
    } catch {
      return `The server answered ${response.status}.`;
    }
  }

  function render(message) {
    if (shown.has(message.id)) return;
    const item = document.createElement("li");
    item.className = "webchat-message";
    item.dataset.id = String(message.id);
    item.classList.toggle("is-mine", Boolean(message.mine));
    const meta = document.createElement("div");
    meta.className = "webchat-meta";
    const author = document.createElement("span");
    author.className = "webchat-author";
    author.textContent = message.username;
    if (message.anonymous) {
      const guest = document.createElement("span");
      guest.className = "webchat-guest";
      guest.textContent = "guest";
      author.append(" ", guest);
    }
    const time = document.createElement("time");
    time.className = "webchat-time";
    time.dateTime = message.created_at;
    time.textContent = new Date(message.created_at).toLocaleTimeString([], {
      hour: "2-digit",
      minute: "2-digit",
    });
    meta.append(author, time);
    if (message.can_delete) {
      const remove = document.createElement("button");
      remove.type = "button";
      remove.className = "webchat-delete";
      remove.textContent = "Delete";
      remove.setAttribute("aria-label", `Delete message from ${message.username}`);
      remove.addEventListener("click", () => deleteMessage(message.id));
      meta.append(remove);
    }
    const text = document.createElement("p");
    text.className = "webchat-content";
    text.textContent = message.content;
    item.append(meta, text);
    const atBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 40;
    list.append(item);
    shown.set(message.id, item);
    if (atBottom) list.scrollTop = list.scrollHeight;
  }

  function forget(id) {
    const item = shown.get(id);
    if (item) item.remove();
    shown.delete(id);
  }

  // One poll at a time per tab; asking while one is in flight repeats it once it ends.
  function pollNow() {
    if (polling) {
      pollAgain = true;
      return;
    }
    clearTimeout(pollTimer);
    poll();
  }

  function pollUrl() {
    const query = config.stream
      ? `stream=${encodeURIComponent(config.stream)}`
      : `after=${encodeURIComponent(cursor)}`;
    return `${config.messagesUrl}?${query}`;
  }

  async function poll() {
    polling = true;
    let more = false;
    try {
      const response = await fetch(pollUrl(), { headers: { Accept: "application/json" } });
      if (response.status === 404 && config.stream && cursor !== null) {
        // The server dropped this tab's stream (idle too long): read on from our own cursor.
        config.stream = null;
        pollAgain = true;
      } else if (!response.ok) {
        throw new Error(await errorText(response));
      } else {
        const batch = await response.json();
        batch.messages.forEach(render);
        batch.deleted.forEach(forget);
        cursor = batch.cursor;
        more = batch.more;
      }
      if (status.dataset.offline) {
        delete status.dataset.offline;
        say("");
      }
    } catch (error) {
      status.dataset.offline = "1";
      say(`Reconnecting… (${error.message})`, true);
    }
    polling = false;
    if (pollAgain || more) {
      pollAgain = false;
      poll();
    } else {
      pollTimer = setTimeout(poll, config.pollInterval);
    }
  }

  async function send() {
    const text = content.value.trim();
    if (!text || sending) return;
    const body = { content: text };
    if (nameInput) {
      body.username = nameInput.value.trim();
      localStorage.setItem(NAME_KEY, body.username);
    }
    sending = true;
    sendButton.disabled = true;
    try {
      const response = await fetch(config.messagesUrl, {
        method: "POST",
        headers: {
          ...config.writeHeaders,
          "Content-Type": "application/json",
          Accept: "application/json",
        },
        body: JSON.stringify(body),
      });
      if (!response.ok) {
        say(await errorText(response), true); // the draft stays in the box
        return;
      }
      content.value = "";
      say("");
      pollNow(); // shows the message in its place among any others that came first
    } catch (error) {
      say(`Not sent: ${error.message}`, true);
    } finally {
      sending = false;
      updateButton();
    }
  }

  async function deleteMessage(id) {
    const response = await fetch(`${config.messagesUrl}/${id}`, {
      method: "DELETE",
      headers: config.writeHeaders,
    });
    if (response.ok || response.status === 404) forget(id);
    else say(await errorText(response), true);
  }

  function updateButton() {
    sendButton.disabled = sending || content.disabled || content.value.trim() === "";
  }

  content.addEventListener("input", updateButton);
  content.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      send();
    }
  });
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    send();
  });
  updateButton();
  poll();
  root.dataset.ready = ""; // handlers attached: tests and host scripts can wait for this
}

document.querySelectorAll("[data-webchat]").forEach(start);
