// A Backbone.js front end of one chat room, reading its own stream (needs Backbone with jQuery).
//
//   const room = new ChatRoom([], { room: "support" });
//   await room.open();   // POST /streams: this tab's own stream
//   await room.poll();   // call again every few seconds (or after each answer, with wait)
//   await room.say("Hello!", "Ann");
//   room.erase(room.last());
window.ChatRoom = Backbone.Collection.extend({
  initialize(models, { room, prefix = "/chat" }) {
    this.base = `${prefix}/rooms/${room}`;
    this.stream = null;
    this.cursor = null;
    this.deleted = [];
    this.updated = [];
  },

  // Models live at /chat/rooms/<room>/messages/<id>: GET, DELETE.
  url() {
    return `${this.base}/messages`;
  },

  // Cursors are strings: compare them as numbers, never as text ("10" < "9").
  comparator(message) {
    return Number(message.get("cursor"));
  },

  // Recipe 1: a poll answers an envelope, not an array. Keep its cursor, its deleted ids and
  // its updated messages (edits, reactions), and hand Backbone the new messages.
  parse(answer) {
    this.cursor = answer.cursor;
    this.deleted = answer.deleted;
    this.updated = answer.updated || [];
    return answer.messages;
  },

  // This tab's own stream; without it, every tab of the browser would share one and each
  // message would reach only one of them.
  async open() {
    const opened = await Backbone.$.ajax({
      url: `${this.base}/streams`,
      method: "POST",
      dataType: "json",
    });
    this.stream = opened.stream;
    this.cursor = opened.cursor;
  },

  // Recipe 3: fetch with remove: false (a poll brings what is new, not the whole room), then
  // give the models we hold their updated state, then remove the ids it says were deleted (in
  // this order: a message in several lists ends as the last says).
  async poll({ wait = 0 } = {}) {
    const data = { after: this.cursor };
    if (this.stream) data.stream = this.stream;
    if (wait) data.wait = wait;
    await this.fetch({ remove: false, data });
    this.updated.forEach((message) => {
      const model = this.get(message.id);
      if (model) model.set(message); // one we never showed (older than the backlog): skip it
    });
    this.remove(this.deleted);
  },

  // Recipe 2: { wait: true }, so that the message is added once, with its id, when the server
  // answers; an optimistic model without an id would be added again by the next poll.
  say(content, username) {
    return new Promise((resolve, reject) => {
      this.create(
        { content, username },
        { wait: true, success: resolve, error: (model, xhr) => reject(xhr.responseJSON.error) },
      );
    });
  },

  // Recipe 4: a destroy() the server refuses (403: someone else's message) has already taken
  // the model out of the collection: put it back. A message already deleted is gone anyway.
  erase(message) {
    return new Promise((resolve, reject) => {
      message.destroy({
        success: () => resolve(),
        error: (model, xhr) => {
          const error = (xhr.responseJSON || {}).error || { code: "network_error" };
          if (error.code === "message_not_found") return resolve();
          this.add(model);
          reject(error);
        },
      });
    });
  },
});
