// The live channel (WebSocket /api/v1/ws): authenticate with the in-memory token, subscribe, and on a
// drop reconnect with `since` = the last event id seen, so nothing is missed and nothing repeated.
import { accessToken, renew, sessionEnded } from "./api.js";

export class Live {
  constructor(topics, { onEvent, onSubscribed, onStatus }) {
    this.topics = topics;
    this.onEvent = onEvent;
    this.onSubscribed = onSubscribed;
    this.onStatus = onStatus;
    this.since = null;
    this.socket = null;
    this.stopped = false;
    this.delay = 500;
  }

  start() {
    this.stopped = false;
    this.connect();
  }

  stop() {
    this.stopped = true;
    clearTimeout(this.retry);
    if (this.socket) this.socket.close(1000, "signed out");
    this.socket = null;
  }

  connect() {
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    const socket = new WebSocket(`${scheme}//${location.host}/api/v1/ws`);
    this.socket = socket;
    this.onStatus("connecting");
    socket.addEventListener("open", () => socket.send(JSON.stringify({ op: "auth", token: accessToken() })));
    socket.addEventListener("message", (message) => this.received(socket, message.data));
    socket.addEventListener("close", (closed) => this.closed(socket, closed.code));
  }

  received(socket, text) {
    let message;
    try { message = JSON.parse(text); } catch { return; }
    // Subscribed with batch: what waited for us comes as one frame of frames, in order.
    for (const frame of Array.isArray(message.frames) ? message.frames : [message]) this.handle(socket, frame);
  }

  handle(socket, message) {
    if (!message || typeof message !== "object") return;
    if (message.op === "ready") {
      socket.send(JSON.stringify({ op: "subscribe", topics: this.topics, since: this.since, batch: true }));
    } else if (message.op === "subscribed") {
      const first = this.since === null;
      this.since = message.since;
      this.delay = 500;
      this.onStatus("live");
      this.onSubscribed(first);
    } else if (message.op === "ping") {
      socket.send('{"op":"pong"}');
    } else if (message.id === undefined && message.topic && message.type === "marked") {
      this.onEvent(message);  // live marks: not an event (no id), nothing to resume
    } else if (typeof message.id === "number" && message.topic) {
      if (this.since !== null && message.id <= this.since) return;  // already applied
      this.since = message.id;
      this.onEvent(message);
    }
  }

  async closed(socket, code) {
    if (socket !== this.socket || this.stopped) return;
    this.onStatus("offline");
    if (code === 4401) {
      // The token expired, or the session ended (signed out elsewhere): renew, or sign in again.
      try { await renew(); } catch { sessionEnded(); return; }
    }
    this.retry = setTimeout(() => this.connect(), this.delay);
    this.delay = Math.min(this.delay * 2, 15000);
  }
}
