// The live connection (docs/protocol.md): one WebSocket for room events and personal notices.
// It reconnects by itself and resumes every followed room from the last seq it saw.

const MAX_BACKOFF_MS = 15000;
// The server is restarting (docs/protocol.md, 1012): reconnect at once, within this spread
// so that a whole process's clients do not arrive at the next one in the same instant.
const MOVE_CLOSE_CODES = new Set([1001, 1012]);
const MOVE_SPREAD_MS = 1000;

export class Live {
  constructor() {
    this.socket = null;
    this.nextId = 1;
    this.pending = new Map(); // id -> {resolve, reject}
    this.rooms = new Map(); // room id -> {seq, handler}
    this.noticeHandlers = new Set();
    this.notificationHandlers = new Set();
    this.stateHandlers = new Set();
    this.backoff = 500;
    this.closed = false;
    this.state = "connecting";
  }

  url() {
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    return `${scheme}//${location.host}/api/ws`;
  }

  start() {
    const open = this.socket && this.socket.readyState <= WebSocket.OPEN;
    if (open && !this.closed) return; // already connected or connecting
    this.closed = false;
    this.connect();
  }

  stop() {
    this.closed = true;
    if (this.socket) this.socket.close(1000);
  }

  setState(state) {
    this.state = state;
    for (const handler of this.stateHandlers) handler(state);
  }

  onState(handler) {
    this.stateHandlers.add(handler);
    return () => this.stateHandlers.delete(handler);
  }

  onNotice(handler) {
    this.noticeHandlers.add(handler);
    return () => this.noticeHandlers.delete(handler);
  }

  /** Notifications (docs/notifications.md): the inbox item, as it is stored. */
  onNotification(handler) {
    this.notificationHandlers.add(handler);
    return () => this.notificationHandlers.delete(handler);
  }

  connect() {
    const socket = new WebSocket(this.url());
    this.socket = socket;
    this.ready = new Promise((resolve) => {
      socket.addEventListener("open", () => {
        this.backoff = 500;
        this.setState("open");
        resolve();
        this.resumeAll();
      });
    });
    socket.addEventListener("message", (message) => this.receive(message.data));
    socket.addEventListener("close", (event) => {
      for (const { reject } of this.pending.values()) {
        const error = new Error("connection lost");
        // A drained socket (1012) leaves unanswered only commands that did not run.
        if (event.code === 1012) error.code = "server_draining";
        reject(error);
      }
      this.pending.clear();
      if (this.closed || event.code === 4401) {
        this.setState("closed");
        return;
      }
      this.setState("reconnecting");
      if (MOVE_CLOSE_CODES.has(event.code)) {
        this.backoff = 500;
        setTimeout(() => this.connect(), Math.random() * MOVE_SPREAD_MS);
        return;
      }
      setTimeout(() => this.connect(), this.backoff);
      this.backoff = Math.min(this.backoff * 2, MAX_BACKOFF_MS);
    });
  }

  async request(type, fields = {}) {
    for (;;) {
      await this.ready;
      const socket = this.socket;
      try {
        return await this.send(socket, type, fields);
      } catch (error) {
        // The server is restarting and did not run it: send it again on the next socket.
        if (error.code !== "server_draining") throw error;
        await this.nextSocket(socket);
      }
    }
  }

  send(socket, type, fields) {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      if (socket.readyState !== WebSocket.OPEN) {
        reject(new Error("connection lost"));
        return;
      }
      this.pending.set(id, { resolve, reject });
      socket.send(JSON.stringify({ id, type, ...fields }));
    });
  }

  /** Resolves once a socket other than this one is open (rejects if the live connection
   * is stopped for good first). */
  nextSocket(socket) {
    return new Promise((resolve, reject) => {
      const off = this.onState((state) => {
        if (state === "open" && this.socket !== socket) {
          off();
          resolve();
        } else if (state === "closed") {
          off();
          reject(new Error("connection lost"));
        }
      });
    });
  }

  receive(text) {
    let message;
    try {
      message = JSON.parse(text);
    } catch {
      return;
    }
    if (message.type === "ping") {
      this.socket.send(JSON.stringify({ type: "pong" }));
    } else if (message.type === "result") {
      const waiting = this.pending.get(message.id);
      if (!waiting) return;
      this.pending.delete(message.id);
      if (message.success) waiting.resolve(message.result);
      else {
        const error = new Error(message.error?.message || "refused");
        error.code = message.error?.code;
        waiting.reject(error);
      }
    } else if (message.type === "notice") {
      for (const handler of this.noticeHandlers) handler(message);
    } else if (message.type === "notification") {
      const { type, ...item } = message;
      for (const handler of this.notificationHandlers) handler(item);
    } else if (message.type === "hallway.changed") {
      // A hint without data: the hallway is worth fetching again.
      for (const handler of this.noticeHandlers) handler({ type: "notice", name: "hallway.changed", data: {} });
    } else if (message.type === "event" || message.type === "snapshot") {
      const room = (message.stream || "").replace(/^room:/, "");
      this.deliver(room, message);
    }
  }

  deliver(room, message) {
    const follow = this.rooms.get(room);
    if (!follow) return;
    if (message.type === "snapshot") {
      follow.seq = message.snapshot.seq;
      follow.handler({ type: "snapshot", snapshot: message.snapshot });
      return;
    }
    if (typeof message.seq === "number") {
      if (message.seq <= follow.seq) return; // already seen (replayed after a resume)
      follow.seq = message.seq;
    }
    follow.handler(message);
  }

  /** A snapshot of seq arrived by other means: true if it is not older than the events
   * already seen (those up to seq are then skipped), false if it is stale. */
  accept(room, seq) {
    const follow = this.rooms.get(room);
    if (!follow) return true;
    if (seq < follow.seq) return false;
    follow.seq = seq;
    return true;
  }

  /** Join a room over the socket (room.join): its snapshot, and its events from then on
   * to handler, in one step. Null when the socket is not open or drops meanwhile (join over
   * HTTP and follow then); a refusal is thrown with the server's code. */
  async join(room, handler) {
    if (!this.socket || this.socket.readyState !== WebSocket.OPEN) return null;
    let result;
    try {
      result = await this.request("room.join", { room });
    } catch (error) {
      if (error.code) throw error;
      return null;
    }
    // Before the next message is read: the room's events follow its result.
    if (result.snapshot.status === "live") this.rooms.set(room, { seq: result.snapshot.seq, handler });
    return result.snapshot;
  }

  /** Follow a room's events from seq on; handler gets events, snapshots and {type:"lost"}. */
  async follow(room, seq, handler) {
    this.rooms.set(room, { seq, handler });
    await this.subscribe(room);
  }

  unfollow(room) {
    if (!this.rooms.delete(room)) return;
    if (this.socket && this.socket.readyState === WebSocket.OPEN) {
      this.request("unsubscribe", { room }).catch(() => {});
    }
  }

  async subscribe(room) {
    const follow = this.rooms.get(room);
    if (!follow) return;
    try {
      const result = await this.request("subscribe", { room, after: follow.seq });
      if (result.snapshot) this.deliver(room, { type: "snapshot", snapshot: result.snapshot });
      for (const event of result.events || []) this.deliver(room, { type: "event", ...event });
    } catch (error) {
      if (error.code) {
        // The room ended, or we are no longer in it: the server said so.
        this.rooms.delete(room);
        follow.handler({ type: "lost", code: error.code });
      }
      // A dropped connection is retried by resumeAll after reconnecting.
    }
  }

  resumeAll() {
    for (const room of this.rooms.keys()) this.subscribe(room);
  }
}

export const live = new Live();
