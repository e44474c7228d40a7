// flask-webchat page: read state. Marks messages read once they have been on screen while the
// tab is visible, puts a "New" divider above the first unread message on load, keeps the room
// switcher's unread badges up to date and shows "(3)" in the document title while the tab is
// hidden. No dependencies; used by webchat.js.

// How long to gather messages coming on screen before one POST /read marks them all.
const MARK_DELAY_MS = 300;
// Half a message on screen counts as seen (or half the screen, for a message taller than it).
const SEEN_RATIO = 0.5;
// The count this script puts in front of the document title.
const COUNTED = /^\(\d+\) /;

/**
 * Track what the reader has read in the page's room.
 *
 * `root` is the [data-webchat] element (data-read-cursor: where the reader had stopped),
 * `list` the message list, `client` the page's WebchatClient, `_` the page's translator, and
 * `roomsEvery` how often (ms) to re-read the other rooms' counts for the switcher's badges.
 * Returns the hooks webchat.js calls: shown(item, message) once a message is in the list,
 * removed(id, item) once it is gone, loaded() once the first batch is shown, remembered() once
 * the browser posted (and so has a session the chat knows).
 */
export function trackReading({ root, list, client, _, roomsEvery }) {
  const room = root.dataset.room;
  let titled = false; // whether the title starts with a count of ours
  // Where the reader had stopped when the page loaded: the divider goes above what follows.
  const stoppedAt = BigInt(root.dataset.readCursor || "0");
  let readTo = stoppedAt; // what the server has (or is being sent): only ever grows
  let sending = null;
  let divided = false;
  // A browser the chat does not know yet (a first visit, not signed in) has nothing stored for
  // it, and reading alone stores nothing: its reading is marked once it is known (it posted).
  let known = Boolean(root.dataset.stream || root.dataset.identityName);
  const cursors = new Map(); // message id -> cursor (BigInt), of every message shown
  const unread = new Set(); // ids of shown messages after readTo that others wrote
  const onScreen = new Set(); // ids of messages on screen now
  const badges = new Map(
    [...document.querySelectorAll(".webchat-unread[data-room]")].map((badge) => [badge.dataset.room, badge])
  );

  const hidden = () => document.visibilityState !== "visible";

  function badge(name, count, capped = false) {
    const shown = badges.get(name);
    if (!shown) return;
    const label = capped ? `${count}+` : String(count);
    shown.textContent = label;
    shown.setAttribute("aria-label", _("%(count)s unread", { count: label }));
    shown.hidden = count === 0;
  }

  function update() {
    // The title counts this room's unread messages, and only while the reader looks elsewhere.
    // Only a count this script put there is taken off: the host may change its title meanwhile.
    const base = titled ? document.title.replace(COUNTED, "") : document.title;
    titled = hidden() && unread.size > 0;
    const wanted = titled ? `(${unread.size}) ${base}` : base;
    if (document.title !== wanted) document.title = wanted;
    badge(room, unread.size);
    root.dataset.unread = String(unread.size);
  }

  function markedTo(cursor) {
    if (cursor > readTo) readTo = cursor;
    for (const id of unread) if (cursors.get(id) <= readTo) unread.delete(id);
    update();
  }

  function send() {
    sending = null;
    client.markRead(readTo).then(
      (state) => markedTo(BigInt(state.cursor)),
      () => {} // marked again with the next message seen; the counts stay as they were
    );
  }

  function consider() {
    if (!known || hidden() || !onScreen.size) return;
    const seen = [...onScreen].reduce((best, id) => (cursors.get(id) > best ? cursors.get(id) : best), 0n);
    if (seen <= readTo) return;
    markedTo(seen);
    sending ??= setTimeout(send, MARK_DELAY_MS);
  }

  const observer = new IntersectionObserver(
    (entries) => {
      for (const entry of entries) {
        const id = Number(entry.target.dataset.id);
        const tall = entry.rootBounds && entry.intersectionRect.height >= entry.rootBounds.height * SEEN_RATIO;
        if (entry.isIntersecting && (entry.intersectionRatio >= SEEN_RATIO || tall)) onScreen.add(id);
        else onScreen.delete(id);
      }
      consider();
    },
    { threshold: [0, SEEN_RATIO, 1] }
  );

  async function refreshRooms() {
    if (hidden() || badges.size < 2) return;
    try {
      const page = await client.rooms({ limit: 500 });
      for (const other of page.rooms) {
        if (other.name !== room) badge(other.name, other.unread, other.unread_capped);
      }
    } catch {
      // the next refresh tries again; the badges keep their last counts meanwhile
    }
  }

  document.addEventListener("visibilitychange", () => {
    update();
    consider();
    refreshRooms();
  });
  if (badges.size > 1) setInterval(refreshRooms, roomsEvery);

  return {
    shown(item, message) {
      const cursor = BigInt(message.cursor);
      cursors.set(message.id, cursor);
      if (cursor > readTo && !message.mine) unread.add(message.id);
      observer.observe(item);
      update();
    },
    removed(id, item) {
      if (item) observer.unobserve(item);
      cursors.delete(id);
      unread.delete(id);
      onScreen.delete(id);
      update();
    },
    remembered() {
      // The browser posted, so the chat now has a session for it: what it saw can be marked.
      known = true;
      consider();
    },
    loaded() {
      if (divided) return;
      divided = true;
      const first = [...list.querySelectorAll(".webchat-message")].find((item) => {
        const id = Number(item.dataset.id);
        return cursors.get(id) > stoppedAt && !item.classList.contains("is-mine");
      });
      if (first) {
        const divider = document.createElement("li");
        divider.className = "webchat-divider";
        divider.setAttribute("role", "separator");
        divider.textContent = _("New");
        first.before(divider);
      }
      update();
    },
  };
}
