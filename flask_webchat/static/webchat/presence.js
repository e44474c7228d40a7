// flask-webchat page: who is here ("Here: Ana, Bo and 2 guests") and who is typing, from the
// client's presence and typing events. Names are isolated (<bdi>) so that an Arabic or Hebrew
// name never reorders the sentence around it. No dependencies; used by webchat.js.

import { TYPING_SHOWN } from "./client.js";
import { fillWith, isolated } from "./conversation.js";

/**
 * Show the room's presence in `presence` and its typists in `typingLine`, in language `lang`.
 *
 * `client` is the page's WebchatClient and `_` the page's translator.
 */
export function showWhoIsHere({ client, presence, typingLine, _, lang }) {
  // A list as the language writes one: "Ana, Bo and 2 guests", "Ana、Bo和2 位访客".
  const listFormat = Intl.ListFormat ? new Intl.ListFormat(lang, { type: "conjunction" }) : null;
  const typists = new Map(); // name -> the timer that forgets them

  /** `items` (isolated names, the chat's own text) listed as the page's language lists things. */
  function listOf(items) {
    if (!listFormat) return items.flatMap((item, index) => (index ? [", ", item] : [item]));
    const texts = items.map((item) => (typeof item === "string" ? item : item.textContent));
    let next = 0; // the items come back in their order, between the language's words
    return listFormat.formatToParts(texts).map((part) => (part.type === "element" ? items[next++] : part.value));
  }

  function showPresence({ users, guests }) {
    const who = users.map(isolated);
    if (guests === 1) who.push(_("1 guest"));
    else if (guests > 1) who.push(_("%(count)s guests", { count: guests }));
    presence.replaceChildren(...fillWith(_("Here: %(who)s"), { who: listOf(who) }));
    presence.hidden = who.length === 0;
  }

  function showTyping() {
    const names = [...typists.keys()].map(isolated);
    let parts = [];
    if (names.length === 1) parts = fillWith(_("%(name)s is typing…"), { name: names[0] });
    else if (names.length === 2) {
      parts = fillWith(_("%(name)s and %(other)s are typing…"), { name: names[0], other: names[1] });
    } else if (names.length > 2) {
      const count = String(names.length - 1);
      parts = fillWith(_("%(name)s and %(count)s others are typing…"), { name: names[0], count });
    }
    typingLine.replaceChildren(...parts);
  }

  function typing({ name, typing: on }) {
    const shownAs = name || _("A guest");
    clearTimeout(typists.get(shownAs));
    typists.delete(shownAs);
    if (on) typists.set(shownAs, setTimeout(() => typing({ name, typing: false }), TYPING_SHOWN));
    showTyping();
  }

  client.addEventListener("presence", (event) => showPresence(event.detail));
  client.addEventListener("typing", (event) => typing(event.detail));
  client.addEventListener("message", (event) => {
    // Whoever posted has stopped typing that message.
    const { username, system } = event.detail;
    if (!system && typists.has(username)) typing({ name: username, typing: false });
  });
}
