// The mini player: while someone is in a room and looking at another page, a bar at the
// bottom of the screen keeps the room at hand (its title and the faces on stage, a way back,
// the microphone, the hand, leaving). A speaker who browses away can always mute.
import { t } from "./i18n.js";
import { icon } from "./icons.js";
import { currentRoute, href } from "./router.js";
import { avatar, el, errorText, replaceKeepingFocus, toast } from "./ui.js";

const FACES = 4;
const SPEAKING = 0.08;

/** An icon button whose name (and tooltip) is the catalogue's text. */
export function iconButton(key, name, label, onclick, attrs = {}) {
  return el("button", {
    type: "button", class: "icon-button", "data-key": key, "aria-label": label, title: label, onclick, ...attrs,
  }, icon(name));
}

export class MiniPlayer {
  constructor(bar) {
    this.bar = bar;
    this.session = null;
    this.off = [];
  }

  /** Follow this session (or none). */
  follow(session) {
    if (session === this.session) return;
    for (const off of this.off) off();
    this.session = session;
    this.off = session
      ? [session.onChange(() => this.paint()), session.onLevels((levels) => this.light(levels))]
      : [];
    this.paint();
  }

  get shown() {
    const s = this.session;
    if (!s || s.status !== "in" || !s.room) return false;
    const route = currentRoute();
    return !(route.name === "room" && route.params[0] === s.id);
  }

  async run(name) {
    try {
      await this.session.run(name);
    } catch (error) {
      toast(errorText(error));
    }
  }

  paint() {
    const bar = this.bar;
    const shown = this.shown;
    document.body.classList.toggle("has-mini", shown);
    if (!shown) {
      bar.hidden = true;
      bar.replaceChildren();
      return;
    }
    const s = this.session;
    const room = s.room;
    const me = room.me || {};
    const title = room.title || t("room.untitled");
    const controls = [];
    if (me.role === "listener" && room.hand_raise !== "off") {
      controls.push(me.hand_raised
        ? iconButton("mini-hand", "hand", t("room.lower_hand"), () => this.run("lower_hand"), { "aria-pressed": "true" })
        : iconButton("mini-hand", "hand", t("room.raise_hand"), () => this.run("raise_hand"), { "aria-pressed": "false" }));
    }
    if (me.role && me.role !== "listener") {
      controls.push(me.muted
        ? iconButton("mini-mic", "mic-off", t("room.unmute"), () => this.run("unmute"), { class: "icon-button off" })
        : iconButton("mini-mic", "mic", t("room.mute"), () => this.run("mute"), { class: "icon-button live" }));
    }
    controls.push(iconButton("mini-leave", "leave", t("room.leave"), () => s.leave(), { class: "icon-button leave" }));
    bar.hidden = false;
    bar.setAttribute("aria-label", t("inroom.label", { title }));
    replaceKeepingFocus(bar,
      el("a", { class: "mini-room", href: href(`/room/${s.id}`), "data-key": "mini-back", title: t("inroom.back") },
        el("span", { class: "faces", "aria-hidden": "true" },
          room.stage.slice(0, FACES).map((m) => {
            const face = el("span", { class: "face", "data-username": m.username }, avatar(m, "s"));
            if ((s.levels.get(m.username) ?? 0) > SPEAKING) face.classList.add("speaking");
            return face;
          })),
        el("span", { class: "mini-text" },
          el("span", { class: "mini-title", dir: "auto" }, title),
          el("span", { class: "mini-hint" }, t("inroom.back")))),
      el("div", { class: "mini-controls", role: "group", "aria-label": t("room.controls") }, controls));
  }

  light(levels) {
    for (const face of this.bar.querySelectorAll(".face[data-username]")) {
      face.classList.toggle("speaking", (levels.get(face.dataset.username) ?? 0) > SPEAKING);
    }
  }
}
