// Being in a room: its state kept from the snapshot and the live events (docs/rooms.md),
// the commands, and the audio. Outlives the room's view so the user can look around the app.
import { command, enc, get, post } from "./api.js";
import { RoomAudio } from "./audio.js";
import { live } from "./live.js";

const ON_STAGE = new Set(["moderator", "speaker"]);
const AUDIENCE_PAGE = 100;

export class RoomSession {
  constructor(id, me) {
    this.id = id;
    this.me = me; // my username
    this.room = null;
    this.status = "joining"; // joining | in | ended | removed | left | failed
    this.error = null;
    this.levels = new Map();
    this.audioState = "off";
    this.handlers = new Set();
    this.levelHandlers = new Set();
    this.audio = null;
  }

  onChange(handler) {
    this.handlers.add(handler);
    return () => this.handlers.delete(handler);
  }

  onLevels(handler) {
    this.levelHandlers.add(handler);
    return () => this.levelHandlers.delete(handler);
  }

  changed(what = {}) {
    for (const handler of this.handlers) handler(what);
  }

  get myRole() {
    return this.room && this.room.me ? this.room.me.role : null;
  }

  get onStage() {
    return ON_STAGE.has(this.myRole);
  }

  async enter() {
    const handler = (message) => this.receive(message);
    let followed = false;
    try {
      // Over the socket when it is open: the snapshot and the room's stream start together,
      // with nothing to catch up on. Over HTTP otherwise, then following the room resumes it.
      const joined = await live.join(this.id, handler);
      followed = joined !== null;
      this.room = joined || (await post(`/api/rooms/${enc(this.id)}/join`));
    } catch (error) {
      this.status = "failed";
      this.error = error;
      this.changed();
      return;
    }
    this.status = this.room.status === "live" ? "in" : "ended";
    this.changed();
    if (this.status !== "in") return;
    this.unNotice = live.onNotice((notice) => {
      if (notice.name === "room.removed" && notice.data.room === this.id) this.gone("removed");
    });
    if (!followed) await live.follow(this.id, this.room.seq, handler);
    this.audio = new RoomAudio(this.id, (state) => {
      this.audioState = state;
      this.changed({ audio: true });
    });
    this.audio.setMuted(this.room.me.muted);
    this.audio.connect(this.onStage);
  }

  /** Fetch the snapshot again (for what events do not carry, such as the hand queue a new
   * moderator needs). A snapshot older than the events already applied is not used. */
  async refresh(tries = 3) {
    try {
      const snapshot = await get(`/api/rooms/${enc(this.id)}`);
      if (this.status !== "in") return;
      if (!live.accept(this.id, snapshot.seq)) {
        if (tries > 1) await this.refresh(tries - 1);
        return;
      }
      this.room = snapshot;
      this.changed();
    } catch {
      // the live stream tells us if we are out
    }
  }

  receive(message) {
    if (message.type === "snapshot") {
      const wasOnStage = this.onStage;
      this.room = message.snapshot;
      this.afterMyChange(wasOnStage);
      this.changed();
      return;
    }
    if (message.type === "lost") {
      this.gone(message.code === "room_ended" ? "ended" : "removed");
      return;
    }
    if (message.name === "audience.changed") {
      this.digest(message.data || {});
      return;
    }
    if (message.name === "audio.reconnect") {
      // The room's audio moved to another media worker (or, naming connections, the
      // worker holding those stopped): a new connection goes to a live one.
      const sessions = (message.data || {}).sessions;
      if (this.audio && (!sessions || sessions.includes(this.audio.session))) {
        this.audio.connect(this.onStage);
      }
      return;
    }
    if (message.name === "audio.levels") {
      this.levels = new Map(Object.entries(message.data.levels || {}));
      for (const handler of this.levelHandlers) handler(this.levels);
      return;
    }
    this.apply(message.name, message.data || {});
  }

  /** An audience digest (docs/rooms.md): the count, who came in or changed, who left. It
   * only touches the audience; the stage follows the numbered events. */
  digest(data) {
    const room = this.room;
    if (typeof data.listeners === "number") room.listeners = data.listeners;
    const left = new Set(data.left || []);
    room.audience = room.audience.filter((m) => !left.has(m.username));
    const onStage = new Set(room.stage.map((m) => m.username));
    for (const member of data.members || []) {
      if (onStage.has(member.username)) continue;
      const i = room.audience.findIndex((m) => m.username === member.username);
      if (i >= 0) room.audience[i] = member;
      else room.audience.push(member);
    }
    if (data.complete === false) this.reloadAudience();
    this.changed({ event: "audience.changed", data });
  }

  /** Read the audience's first page again, when a digest could not list everyone. */
  async reloadAudience() {
    if (this.reloading) return;
    this.reloading = true;
    // After a short random delay, so that a room of thousands does not ask all at once.
    await new Promise((resolve) => setTimeout(resolve, Math.random() * 1000));
    try {
      const page = await get(`/api/rooms/${enc(this.id)}/audience?limit=${AUDIENCE_PAGE}`);
      if (this.status !== "in") return;
      const onStage = new Set(this.room.stage.map((m) => m.username));
      const mine = this.room.audience.find((m) => m.username === this.me);
      const audience = page.items.filter((m) => !onStage.has(m.username));
      if (mine && !audience.some((m) => m.username === this.me)) audience.push(mine);
      this.room.audience = audience;
      this.changed();
    } catch {
      // the next digest, or the live stream, tells us more
    } finally {
      this.reloading = false;
    }
  }

  find(username) {
    const all = [...this.room.stage, ...this.room.audience];
    return all.find((m) => m.username === username);
  }

  drop(username) {
    const before = this.room.audience.length;
    this.room.stage = this.room.stage.filter((m) => m.username !== username);
    this.room.audience = this.room.audience.filter((m) => m.username !== username);
    return before !== this.room.audience.length;
  }

  put(member) {
    const wasListener = this.room.audience.some((m) => m.username === member.username);
    const existed = Boolean(this.find(member.username));
    this.drop(member.username);
    if (ON_STAGE.has(member.role)) {
      this.room.stage.push(member);
      if (wasListener) this.room.listeners = Math.max(0, this.room.listeners - 1);
    } else {
      this.room.audience.push(member);
      if (!wasListener) this.room.listeners += 1;
    }
    return existed;
  }

  apply(name, data) {
    const room = this.room;
    const mine = data.username === this.me;
    const wasOnStage = this.onStage;
    switch (name) {
      case "member.joined":
        this.put(data);
        break;
      case "member.updated": {
        const before = this.find(data.username);
        this.put(data);
        if (mine) {
          room.me = { ...room.me, role: data.role, muted: data.muted };
          if (before && before.role !== data.role) {
            room.me.hand_raised = false;
            room.me.invited_to_speak = false;
          }
        }
        if (mine && data.role === "moderator" && before && before.role !== "moderator") {
          this.refresh(); // a new moderator needs the hand queue
        }
        if (room.hands && data.role !== "listener") {
          room.hands = room.hands.filter((u) => u !== data.username);
        }
        break;
      }
      case "member.left":
        if (this.drop(data.username)) room.listeners = Math.max(0, room.listeners - 1);
        if (room.hands) room.hands = room.hands.filter((u) => u !== data.username);
        if (mine) {
          this.gone(data.reason === "removed" ? "removed" : "left");
          return;
        }
        break;
      case "member.away":
      case "member.back": {
        const member = this.find(data.username);
        if (member) member.away = name === "member.away";
        break;
      }
      case "audience.groups": {
        const followed = new Set(data.followed_by_speakers || []);
        for (const m of room.audience) m.group = followed.has(m.username) ? "followed_by_speakers" : "others";
        break;
      }
      case "hand.raised":
        if (mine) room.me.hand_raised = true;
        if (room.hands && !room.hands.includes(data.username)) room.hands.push(data.username);
        break;
      case "hand.lowered":
        if (mine) room.me.hand_raised = false;
        if (room.hands) room.hands = room.hands.filter((u) => u !== data.username);
        break;
      case "speak.invited":
        if (mine) room.me.invited_to_speak = true;
        break;
      case "speak.declined":
        if (mine) room.me.invited_to_speak = false;
        break;
      case "room.updated":
        Object.assign(room, data);
        break;
      case "room.ended":
        room.status = "ended";
        this.gone("ended");
        return;
      default:
        break;
    }
    this.afterMyChange(wasOnStage);
    this.changed({ event: name, data });
  }

  afterMyChange(wasOnStage) {
    if (!this.audio || !this.room.me) return;
    this.audio.setMuted(this.room.me.muted);
    if (wasOnStage !== this.onStage) this.audio.connect(this.onStage);
  }

  gone(status) {
    if (this.status !== "in") return;
    this.status = status;
    this.close();
    this.changed();
  }

  close() {
    live.unfollow(this.id);
    if (this.unNotice) this.unNotice();
    if (this.audio) this.audio.close();
    this.audio = null;
  }

  run(name, args = {}) {
    return command(this.id, name, args);
  }

  async leave() {
    if (this.status === "in") {
      this.status = "left";
      this.close();
      await post(`/api/rooms/${enc(this.id)}/leave`).catch(() => {});
    }
    this.changed();
  }
}
