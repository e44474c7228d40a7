// flask-webchat page: the parts of a message that make a conversation: its tools (reply, react,
// edit, delete), the quote of the message it answers, its reactions and the emoji picker.
// DOM only, no state of its own: the page (webchat.js) passes what each part needs and acts on
// the callbacks. Text is only ever placed with textContent.

// The picker's emoji: a few that say most of what "+1" and "thanks!" messages say.
const COMMON_EMOJI = ["👍", "❤️", "😂", "🎉", "😮", "😢"];

/** A new element of `tag` with a class and text. */
export function element(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

/** `text` (a name, an excerpt: someone's words) isolated, so its direction never reorders ours. */
export function isolated(text) {
  const node = element("bdi", "", text);
  node.dir = "auto";
  return node;
}

/**
 * A translated `template`'s `%(name)s` placeholders filled from `parts`: text, a node (an
 * isolated name) or a list of them. Returns what to append(), in the catalog's word order.
 */
export function fillWith(template, parts) {
  return template
    .split(/%\((\w+)\)s/)
    .flatMap((piece, index) => (index % 2 === 0 ? piece : (parts[piece] ?? `%(${piece})s`)))
    .filter((piece) => piece !== "");
}

/** The buttons of one message: Reply and React (for posters), Edit (own), Delete (if allowed). */
export function messageTools(message, { _, mayPost, onReply, onReact, onEdit, onDelete }) {
  const box = element("span", "webchat-tools");
  const from = message.system ? _("the site") : message.username;
  const button = (className, text, label, action) => {
    const node = element("button", className, text);
    node.type = "button";
    node.setAttribute("aria-label", label);
    node.addEventListener("click", action);
    box.append(node);
    return node;
  };
  if (mayPost) {
    button("webchat-reply", _("Reply"), _("Reply to %(name)s", { name: from }), () => onReply(message.id));
    const react = button("webchat-react", "☺", _("React to the message from %(name)s", { name: from }), () =>
      onReact(message.id, react),
    );
    react.setAttribute("aria-expanded", "false");
  }
  if (message.mine && !message.system) {
    button("webchat-edit", _("Edit"), _("Edit your message"), () => onEdit(message.id));
  }
  if (message.can_delete) {
    button("webchat-delete", _("Delete"), _("Delete message from %(name)s", { name: from }), () =>
      onDelete(message.id),
    );
  }
  return box;
}

/** The quote above a reply; clicking it shows the parent, if the page holds it. */
export function quoteOf(reply, { _, shown }) {
  const node = element("button", "webchat-quote");
  node.type = "button";
  if (reply.username === null) {
    // The parent was deleted: its text is gone from the reply as well.
    node.textContent = _("Deleted message");
    node.classList.add("is-gone");
    node.disabled = true;
    return node;
  }
  const parts = { name: isolated(reply.username), text: isolated(reply.excerpt) };
  node.append(...fillWith(_("%(name)s: %(text)s"), parts));
  node.setAttribute("aria-label", _("Show the message from %(name)s", { name: reply.username }));
  node.addEventListener("click", () => {
    const parent = shown.get(reply.id);
    if (!parent) return;
    parent.scrollIntoView({ block: "center" });
    parent.classList.add("is-flash");
    setTimeout(() => parent.classList.remove("is-flash"), 1500);
  });
  return node;
}

/** A message's reactions: one toggle per emoji, pressed where the reader reacted. */
export function reactions(message, { _, mayPost, onToggle }) {
  const bar = element("div", "webchat-reactions");
  for (const reaction of message.reactions || []) {
    const node = element("button", "webchat-reaction", `${reaction.emoji} ${reaction.count}`);
    node.type = "button";
    node.dataset.emoji = reaction.emoji;
    node.setAttribute("aria-pressed", String(reaction.mine));
    node.setAttribute("aria-label", _("%(emoji)s: %(count)s", { emoji: reaction.emoji, count: reaction.count }));
    node.disabled = !mayPost;
    node.addEventListener("click", () => onToggle(message.id, reaction.emoji, !reaction.mine));
    bar.append(node);
  }
  return bar;
}

/** Open (or close) the emoji picker after `opener`, in `item`; Escape closes it. */
export function toggleEmojiPicker(item, opener, { _, onPick }) {
  const open = item.querySelector(".webchat-picker");
  if (open) {
    open.remove();
    opener.setAttribute("aria-expanded", "false");
    return;
  }
  const picker = element("span", "webchat-picker");
  picker.setAttribute("role", "group");
  picker.setAttribute("aria-label", _("Reactions"));
  for (const emoji of COMMON_EMOJI) {
    const node = element("button", "", emoji);
    node.type = "button";
    node.addEventListener("click", () => {
      picker.remove();
      onPick(emoji);
    });
    picker.append(node);
  }
  picker.addEventListener("keydown", (event) => {
    if (event.key === "Escape") {
      picker.remove();
      opener.setAttribute("aria-expanded", "false");
      opener.focus();
    }
  });
  opener.setAttribute("aria-expanded", "true");
  opener.after(picker);
  picker.firstChild.focus();
}
