// The room: the stage, the audience in its two groups, hands, invitations to speak, the
// moderators' menu, and the audio. Every rule is the server's; this page only reflects it.
import { enc, get } from "../api.js";
import { t, tn } from "../i18n.js";
import { icon } from "../icons.js";
import { iconButton } from "../miniplayer.js";
import { href } from "../router.js";
import { tipLine, tipSheet } from "../money.js";
import { audioNotice, block, reportDialog, safetyPolicy, unblock } from "../safety.js";
import {
  announce, avatar, confirmDialog, displayName, el, errorText, replaceKeepingFocus, toast,
} from "../ui.js";

const SPEAKING = 0.08;

function personLabel(m) {
  const parts = [displayName(m)];
  if (m.role === "moderator") parts.push(t("room.moderator"));
  else if (m.role === "speaker") parts.push(t("room.speaker"));
  if (m.role !== "listener" && m.muted) parts.push(t("room.muted"));
  if (m.away) parts.push(t("room.away"));
  if (m.verified) parts.push(t("profile.verified"));
  if (m.shield) parts.push(t("profile.shield"));
  return parts.join(", ");
}

export function render(main, ctx, route) {
  const id = route.params[0];
  const session = ctx.roomSession(id);
  const body = el("div", { class: "room-body" });
  const problem = el("p", { class: "error", role: "alert" });
  const personDialog = el("dialog", { class: "sheet", "aria-labelledby": "person-name" });
  const pingDialog = el("dialog", { class: "sheet", "aria-labelledby": "ping-title" });
  const moreDialog = el("dialog", { class: "sheet room-sheet", "aria-labelledby": "more-title" });
  let menuFor = null;
  let policy = null;
  const blocked = new Map(); // username -> whether I blocked them, once asked
  main.replaceChildren(el("section", { class: "room" }, body, personDialog, pingDialog, moreDialog));

  async function run(name, args = {}) {
    problem.textContent = "";
    try {
      await session.run(name, args);
      return true;
    } catch (error) {
      problem.textContent = errorText(error);
      return false;
    }
  }

  function button(key, label, onclick, attrs = {}) {
    return el("button", { type: "button", "data-key": key, onclick, ...attrs }, label);
  }

  // --- people -----------------------------------------------------------------------------

  function tile(m) {
    const level = session.levels.get(m.username) ?? 0;
    return el("li", {
      class: `person${m.away ? " away" : ""}${level > SPEAKING ? " speaking" : ""}`,
      "data-username": m.username,
    },
    el("button", {
      type: "button", class: "person-button", "data-key": `person-${m.username}`,
      "aria-label": personLabel(m), "aria-haspopup": "dialog", onclick: () => openMenu(m.username),
    },
    el("span", { class: "ring" }, avatar(m, m.role === "listener" ? "m" : "l")),
    m.role === "moderator" ? el("span", { class: "mark star", "aria-hidden": "true" }, "★") : null,
    m.role !== "listener" && m.muted ? el("span", { class: "mark muted-mark", "aria-hidden": "true" }, icon("mic-off", 16)) : null,
    m.shield ? el("span", { class: "mark shield-mark", "aria-hidden": "true", title: t("profile.shield") }, "🛡") : null,
    el("span", { class: "person-name", "aria-hidden": "true", dir: "auto" }, displayName(m))));
  }

  function moderatorActions(m) {
    const room = session.room;
    const mine = m.username === ctx.me.username;
    const actions = [];
    if (session.myRole !== "moderator" || mine) return actions;
    const act = (key, label, name, ask) => actions.push(button(`menu-${key}`, label, async () => {
      if (ask) {
        personDialog.close();
        if (!(await confirmDialog(ask))) return;
        await run(name, { target: m.username });
      } else if (await run(name, { target: m.username })) {
        personDialog.close();
      }
    }, { class: key === "remove" ? "danger" : "secondary" }));
    if (m.role !== "listener" && !m.muted) act("mute", t("room.action.mute"), "mute_speaker");
    if (m.role === "listener" && room.status === "live") act("invite", t("room.action.invite"), "invite_to_speak");
    if (m.role === "speaker") {
      act("make_mod", t("room.action.make_moderator"), "make_moderator");
      act("to_audience", t("room.action.move_to_audience"), "move_to_audience");
    }
    if (m.role === "moderator") act("remove_mod", t("room.action.remove_moderator"), "remove_moderator");
    if (m.role !== "moderator") {
      act("remove", t("room.action.remove"), "remove", {
        title: t("room.remove_confirm", { name: displayName(m) }),
        text: t("room.remove_explain"),
        confirm: t("room.action.remove"),
        danger: true,
      });
    }
    return actions;
  }

  /** Report and block, for anyone but oneself. */
  function safetyActions(m) {
    if (m.username === ctx.me.username) return [];
    const name = displayName(m);
    const isBlocked = blocked.get(m.username) === true;
    return [
      button("menu-report", t("report.person"), () => {
        personDialog.close();
        reportDialog({ user: m.username, room: session.id, name });
      }, { class: "secondary", "aria-haspopup": "dialog" }),
      isBlocked
        ? button("menu-unblock", t("block.unblock"), async () => {
          try {
            await unblock(m.username, name);
            blocked.set(m.username, false);
            fillMenu();
          } catch (error) {
            problem.textContent = errorText(error);
          }
        }, { class: "secondary" })
        : button("menu-block", t("block.block"), async () => {
          personDialog.close();
          try {
            if (await block(m.username, name)) blocked.set(m.username, true);
          } catch (error) {
            problem.textContent = errorText(error);
          }
        }, { class: "secondary", "aria-haspopup": "dialog" }),
    ];
  }

  /** Whether I blocked them is on their profile; the sheet asks once per person. */
  async function learnBlocked(username) {
    if (blocked.has(username) || username === ctx.me.username) return;
    try {
      const profile = await get(`/api/users/${enc(username)}`);
      blocked.set(username, profile.you_blocked === true);
      if (menuFor === username && personDialog.open) fillMenu();
    } catch {
      // They may have blocked me (no profile): the sheet still offers to block them.
    }
  }

  function fillMenu() {
    const m = menuFor && session.room && session.find(menuFor);
    if (!m) {
      if (personDialog.open) personDialog.close();
      return;
    }
    personDialog.replaceChildren(
      el("div", { class: "sheet-head" }, avatar(m, "l"),
        el("div", {}, el("h2", { id: "person-name", dir: "auto" }, displayName(m)),
          el("p", { class: "muted" }, `@${m.username} · ${personLabel(m)}`))),
      el("div", { class: "sheet-actions" },
        el("a", { class: "button secondary", href: href(`/u/${m.username}`) }, t("room.action.profile")),
        m.role !== "listener" && m.username !== ctx.me.username && session.room.status === "live"
          ? button("menu-tip", t("tip.action"), () => {
            personDialog.close();
            tipSheet(session.id, m.username, displayName(m));
          }, { "aria-haspopup": "dialog" })
          : null,
        moderatorActions(m),
        safetyActions(m),
        button("menu-close", t("common.close"), () => personDialog.close(), { class: "link" })),
    );
  }

  function openMenu(username) {
    menuFor = username;
    fillMenu();
    if (!personDialog.open) personDialog.showModal();
    learnBlocked(username);
  }

  async function openPing() {
    const list = el("ul", { class: "ping-list" }, el("li", { class: "muted" }, t("common.loading")));
    const done = el("p", { role: "status" });
    pingDialog.replaceChildren(
      el("h2", { id: "ping-title" }, t("room.ping_title")),
      el("p", { class: "muted" }, t("room.ping_explain")),
      list, done,
      button("ping-close", t("common.close"), () => pingDialog.close(), { class: "link" }));
    pingDialog.showModal();
    try {
      const page = await get(`/api/users/${enc(ctx.me.username)}/followers?limit=100`);
      const inRoom = new Set([...session.room.stage, ...session.room.audience].map((m) => m.username));
      const people = page.items.filter((p) => !inRoom.has(p.username));
      list.replaceChildren(...people.map((p) => el("li", {},
        avatar(p, "s"), el("span", {}, displayName(p)),
        button(`ping-${p.username}`, t("room.ping"), async (event) => {
          done.textContent = "";
          try {
            await session.run("ping", { target: p.username });
            event.target.disabled = true;
            done.textContent = t("room.pinged", { name: displayName(p) });
          } catch (error) {
            done.textContent = errorText(error);
          }
        }, { class: "secondary small", "aria-label": t("room.ping_person", { name: displayName(p) }) }))));
      if (!people.length) list.replaceChildren(el("li", { class: "muted" }, t("room.ping_nobody")));
    } catch (error) {
      list.replaceChildren(el("li", { class: "error" }, errorText(error)));
    }
  }

  async function share() {
    const link = `${location.origin}/r/${session.id}`;
    const title = session.room.title || t("room.untitled");
    if (navigator.share) {
      try {
        await navigator.share({ title, url: link });
        return;
      } catch {
        // cancelled, or not allowed here: fall back to copying
      }
    }
    try {
      await navigator.clipboard.writeText(link);
      toast(t("room.link_copied", { link }));
    } catch {
      toast(t("room.link_is", { link }));
    }
  }

  // --- parts of the page ------------------------------------------------------------------

  function audioLine() {
    const state = session.audioState;
    if (state === "blocked") {
      return el("div", { class: "audio-line" },
        button("audio-start", t("audio.tap"), () => session.audio && session.audio.unblock(), { class: "big" }));
    }
    const text = {
      connecting: t("audio.connecting"), failed: t("audio.reconnecting"),
      unavailable: t("audio.unavailable"), mic_denied: t("audio.mic_denied"),
    }[state];
    return text ? el("p", { class: "audio-line muted small", role: "status" }, text) : null;
  }

  function invitation() {
    const me = session.room.me;
    if (!me || !me.invited_to_speak || me.role !== "listener") return null;
    return el("div", { class: "invitation", role: "alertdialog", "aria-labelledby": "invite-text" },
      el("p", { id: "invite-text" }, t("room.invited")),
      el("div", { class: "actions" },
        button("accept", t("room.accept"), () => run("accept_speak")),
        button("decline", t("room.decline"), () => run("decline_speak"), { class: "secondary" })));
  }

  function hands() {
    const room = session.room;
    if (session.myRole !== "moderator" || !room.hands || !room.hands.length) return null;
    const queue = room.hands.map((u) => session.find(u) || { username: u, display_name: "", avatar_url: null });
    return el("section", { class: "hands", "aria-labelledby": "hands-title" },
      el("h2", { id: "hands-title" }, tn("room.hands_title", queue.length)),
      el("ol", {}, queue.map((m) => el("li", {}, avatar(m, "s"), el("span", {}, displayName(m)),
        button(`invite-${m.username}`, t("room.action.invite"), () => run("invite_to_speak", { target: m.username }),
          { class: "small", "aria-label": t("room.invite_person", { name: displayName(m) }) })))));
  }

  /** A button of the bottom bar: an icon, and its name under it for sighted people. */
  function control(key, iconName, label, onclick, attrs = {}, wrap = "") {
    return el("div", { class: `control ${wrap}` },
      iconButton(key, iconName, label, onclick, attrs),
      el("span", { class: "control-label", "aria-hidden": "true" }, label));
  }

  /** A lone moderator is not offered to leave the stage: the room would have nobody to run it. */
  function mayStepDown() {
    const room = session.room;
    if (room.me.role === "listener") return false;
    if (room.me.role !== "moderator") return true;
    return room.stage.filter((m) => m.role === "moderator").length > 1;
  }

  function controls() {
    const room = session.room;
    const me = room.me;
    const parts = [control("leave", "leave", t("room.leave"), () => session.leave(), { class: "icon-button leave" }, "leave-control")];
    if (me.role === "listener" && room.hand_raise !== "off") {
      parts.push(me.hand_raised
        ? control("hand", "hand", t("room.lower_hand"), () => run("lower_hand"), { "aria-pressed": "true" })
        : control("hand", "hand", t("room.raise_hand"), () => run("raise_hand"), { "aria-pressed": "false" }));
    }
    if (me.role !== "listener") {
      parts.push(me.muted
        ? control("mic", "mic-off", t("room.unmute"), () => run("unmute"), { class: "icon-button off" })
        : control("mic", "mic", t("room.mute"), () => run("mute"), { class: "icon-button live" }));
    }
    parts.push(control("ping", "ping", t("room.ping_follower"), openPing, { "aria-haspopup": "dialog" }));
    parts.push(control("share", "share", t("room.share"), share));
    if (me.role === "moderator" || mayStepDown()) {
      parts.push(control("more", "more", t("room.more"), openMore, { "aria-haspopup": "dialog" }));
    }
    return el("div", { class: "controls", role: "toolbar", "aria-label": t("room.controls") }, parts);
  }

  /** The overflow sheet: leaving the stage, and what only moderators do. */
  function fillMore() {
    const room = session.room;
    const moderator = session.myRole === "moderator";
    if (!moderator && !mayStepDown()) {
      moreDialog.close();
      return;
    }
    replaceKeepingFocus(moreDialog,
      el("h2", { id: "more-title" }, t("room.controls")),
      el("div", { class: "sheet-actions" },
        mayStepDown()
          ? button("step-down", t("room.step_down"), async () => {
            if (await run("step_down")) moreDialog.close();
          }, { class: "secondary" })
          : null,
        moderator ? settings(room) : null,
        moderator
          ? button("end", t("room.end"), async () => {
            moreDialog.close();
            const yes = await confirmDialog({
              title: t("room.end_confirm"), text: t("room.end_explain"), confirm: t("room.end"), danger: true,
            });
            if (yes) await run("end");
          }, { class: "danger", "aria-haspopup": "dialog" })
          : null,
        button("more-close", t("common.close"), () => moreDialog.close(), { class: "link" })));
  }

  function openMore() {
    fillMore();
    if (!moreDialog.open) moreDialog.showModal();
  }

  function settings(room) {
    const select = el("select", {
      id: "room-hands", "data-key": "room-hands", onchange: () => run("set_hand_raise", { mode: select.value }),
    }, ["everyone", "followed", "off"].map((k) => el("option", { value: k, selected: room.hand_raise === k }, t(`room.hands.${k}`))));
    const wider = { closed: "social", social: "open" }[room.kind];
    return el("section", { class: "settings", "aria-labelledby": "settings-title" },
      el("h3", { id: "settings-title" }, t("room.settings")),
      el("div", { class: "field" }, el("label", { for: "room-hands" }, t("room.hand_raise_setting")), select),
      wider ? button("open-room", t(`room.open_to.${wider}`), () => run("set_kind", { kind: wider }), { class: "secondary" }) : null,
      el("p", { class: "small" }, el("a", { href: href("/help/moderators") }, t("guide.link"))));
  }

  /** What this room keeps of its audio, in the server's own figures (docs/safety.md). */
  function notice() {
    const { summary, text } = audioNotice(policy);
    return el("details", { class: "notice", "data-key": "notice" },
      el("summary", {}, summary),
      text ? el("p", {}, text) : null,
      el("p", {}, el("a", { href: href("/help/moderators") }, t("guide.link"))));
  }

  function group(key, titleKey, people) {
    if (!people.length) return null;
    return el("section", { class: "audience-group", "aria-labelledby": `${key}-title` },
      el("h2", { id: `${key}-title` }, t(titleKey)),
      el("ul", { class: "people" }, people.map(tile)));
  }

  function paint(what = {}) {
    if (what.audio) {
      const line = body.querySelector(".audio-slot");
      if (line) replaceKeepingFocus(line, audioLine() || "");
      return;
    }
    if (session.status === "joining") {
      body.replaceChildren(el("p", { class: "muted", role: "status" }, t("room.joining")));
      return;
    }
    if (session.status !== "in") {
      if (personDialog.open) personDialog.close();
      if (pingDialog.open) pingDialog.close();
      if (moreDialog.open) moreDialog.close();
      const text = {
        failed: session.error ? errorText(session.error) : t("error.generic"),
        ended: t("room.ended"),
        removed: t("room.removed"),
        left: t("room.left"),
      }[session.status];
      body.replaceChildren(el("div", { class: "card narrow gone" },
        el("p", { role: "alert", class: session.status === "failed" ? "error" : "" }, text),
        el("a", { class: "button", href: href("/") }, t("room.back_to_hallway"))));
      return;
    }
    const room = session.room;
    const followed = room.audience.filter((m) => m.group === "followed_by_speakers");
    const others = room.audience.filter((m) => m.group !== "followed_by_speakers");
    replaceKeepingFocus(body,
      el("header", { class: "room-head" },
        el("h1", {}, room.title || t("room.untitled")),
        el("p", { class: "muted small" },
          t(`room.kind.${room.kind}`), " · ", tn("room.listeners", room.listeners),
          room.club_id ? [" · ", el("a", { href: href(`/club/${room.club_id}`) }, t("room.club_room"))] : null,
          room.members_only ? ` · ${t("event.members_only")}` : null),
        button("report-room", t("report.room"), () => reportDialog({
          room: session.id, name: session.room.title || t("room.untitled"),
        }), { class: "link small", "aria-haspopup": "dialog" })),
      notice(),
      el("div", { class: "audio-slot" }, audioLine()),
      invitation(),
      problem,
      el("section", { class: "stage", "aria-labelledby": "stage-title" },
        el("h2", { id: "stage-title", class: "visually-hidden" }, t("room.stage")),
        el("ul", { class: "people stage-people" }, room.stage.map(tile))),
      hands(),
      group("followed", "room.followed_by_speakers", followed),
      group("others", "room.others", others),
      controls());
    if (personDialog.open) fillMenu();
    if (moreDialog.open) fillMore();
    describe(what);
  }

  /** Tell screen readers what just changed in the room. */
  function describe({ event, data }) {
    if (!event) return;
    const mine = data.username === ctx.me.username;
    const who = data.display_name || (data.username ? `@${data.username}` : "");
    if (event === "tip.sent") toast(tipLine(data));
    else if (event === "speak.invited" && mine) announce(t("room.invited"));
    else if (event === "hand.raised" && !mine) announce(t("room.announce.hand", { name: who }));
    else if (event === "member.updated" && mine) announce(personLabel({ ...data, display_name: t("room.you") }));
    else if (event === "member.updated" && data.role !== "listener") announce(personLabel(data));
  }

  function light(levels) {
    for (const node of body.querySelectorAll(".person[data-username]")) {
      const level = levels.get(node.dataset.username) ?? 0;
      node.classList.toggle("speaking", level > SPEAKING);
    }
  }

  document.body.classList.add("room-page");
  const offChange = session.onChange(paint);
  const offLevels = session.onLevels(light);
  let alive = true;
  safetyPolicy().then((p) => {
    policy = p;
    if (alive && p && session.status === "in") paint();
  });
  paint();
  return () => {
    alive = false;
    document.body.classList.remove("room-page");
    offChange();
    offLevels();
    if (personDialog.open) personDialog.close();
    if (pingDialog.open) pingDialog.close();
    if (moreDialog.open) moreDialog.close();
  };
}
