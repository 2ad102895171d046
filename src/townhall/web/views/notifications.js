// The inbox (docs/notifications.md): notifications newest first, read and unread, marking
// them read; and the settings: kinds on/off, "fewer notifications", pausing, the calendar feed.
import { del, enc, get, patch, post, put } from "../api.js";
import { formatDateTime, formatRelative, t, tn } from "../i18n.js";
import { live } from "../live.js";
import { bell, bellIcon, describe } from "../notify.js";
import * as push from "../push.js";
import { href } from "../router.js";
import { avatar, backArrow, displayName, el, errorText, isolate } from "../ui.js";

// Every kind a person may turn on or off, with its label.
const KINDS = [
  ["room.started", "settings.kind.room_started"],
  ["room.speaking", "settings.kind.room_speaking"],
  ["room.pinged", "settings.kind.room_pinged"],
  ["event.scheduled", "settings.kind.event_scheduled"],
  ["event.cohost_invited", "settings.kind.event_cohost_invited"],
  ["event.starting", "settings.kind.event_starting"],
  ["event.cancelled", "settings.kind.event_cancelled"],
  ["user.followed", "settings.kind.user_followed"],
  ["invitee.joined", "settings.kind.invitee_joined"],
  ["contact.waitlisted", "settings.kind.contact_waitlisted"],
  ["club.invited", "settings.kind.club_invited"],
  ["club.nominated", "settings.kind.club_nominated"],
  ["club.approved", "settings.kind.club_approved"],
  ["report.outcome", "settings.kind.report_outcome"],
];
const PAUSES = [1, 2, 4, 8, 24, 72, 168];

export function render(main, ctx, route) {
  if (route.name === "settings") return settings(main);
  return inbox(main);
}

function inbox(main) {
  let alive = true;
  let cursor = null;
  const list = el("ul", { class: "inbox", "aria-busy": "true" });
  const more = el("button", { type: "button", class: "secondary", hidden: true, onclick: () => load() }, t("common.more"));
  const problem = el("p", { class: "error", role: "alert" });
  const markAll = el("button", {
    type: "button", class: "secondary small", "data-key": "mark-all", onclick: async () => {
      try {
        await post("/api/notifications/read");
        for (const item of list.querySelectorAll(".unread")) setRead(item);
        bell.read();
      } catch (error) {
        problem.textContent = errorText(error);
      }
    },
  }, t("inbox.mark_all"));

  function setRead(item) {
    item.classList.remove("unread");
    item.querySelector(".mark-read")?.remove();
    item.querySelector(".unread-dot")?.remove();
  }

  async function markRead(n, item) {
    if (!item.classList.contains("unread")) return;
    setRead(item);
    bell.read(1);
    try {
      await post(`/api/notifications/${enc(n.id)}/read`);
    } catch (error) {
      problem.textContent = errorText(error);
    }
  }

  function row(n) {
    const { text, link } = describe(n);
    const item = el("li", { class: n.read ? "notification" : "notification unread", "data-id": n.id });
    // A room that ended is no longer something to join (room_live, docs/notifications.md).
    const ended = n.room_live === false;
    const body = [
      n.actor ? avatar(n.actor, "s") : bellIcon(),
      el("span", { class: "notification-text" },
        n.read ? null : el("span", { class: "unread-dot visually-hidden" }, `${t("inbox.unread")}: `),
        el("span", { dir: "auto" }, text),
        ended ? el("span", { class: "badge" }, t("inbox.room_ended")) : null,
        el("time", { class: "muted small", datetime: n.at, title: formatDateTime(n.at) }, formatRelative(n.at))),
    ];
    const target = ended ? (n.actor ? href(`/u/${n.actor.username}`) : null) : link;
    item.append(target
      ? el("a", { href: target, "data-key": `n-${n.id}`, onclick: () => markRead(n, item) }, ...body)
      : el("div", { class: "notification-body" }, ...body));
    if (n.name === "user.followed" && n.actor && n.you_follow_actor !== true) {
      item.append(followBack(n.actor));
    }
    if (n.name === "event.cohost_invited" && n.data?.event_id) item.append(answer(n, item));
    if (!n.read) {
      item.append(el("button", {
        type: "button", class: "link small mark-read", "data-key": `read-${n.id}`,
        "aria-label": t("inbox.mark_read_label", { text }),
        onclick: () => markRead(n, item),
      }, t("inbox.mark_read")));
    }
    return item;
  }

  function followBack(actor) {
    const button = el("button", {
      type: "button", class: "small", "data-key": `follow-back-${actor.username}`,
      "aria-label": t("inbox.follow_back_person", { name: isolate(displayName(actor)) }),
      onclick: async () => {
        try {
          await put(`/api/users/${enc(actor.username)}/follow`);
          button.replaceWith(el("span", { class: "muted small", role: "status" }, t("inbox.following")));
        } catch (error) {
          problem.textContent = errorText(error);
        }
      },
    }, t("inbox.follow_back"));
    return button;
  }

  // An invitation to co-host is answered here too; the event page shows the same choice.
  function answer(n, item) {
    const box = el("span", { class: "actions" });
    const reply = (choice) => async () => {
      try {
        await post(`/api/events/${enc(n.data.event_id)}/cohost/${choice}`);
        box.replaceChildren(el("span", { class: "muted small", role: "status" },
          t(choice === "accept" ? "event.cohost_accepted" : "event.cohost_declined")));
        markRead(n, item);
      } catch (error) {
        problem.textContent = errorText(error);
      }
    };
    box.append(
      el("button", { type: "button", class: "small", "data-key": `accept-${n.id}`, onclick: reply("accept") },
        t("event.accept_cohost")),
      el("button", { type: "button", class: "secondary small", "data-key": `decline-${n.id}`, onclick: reply("decline") },
        t("event.decline_cohost")));
    return box;
  }

  async function load() {
    try {
      const query = cursor ? `&cursor=${enc(cursor)}` : "";
      const pageOf = await get(`/api/notifications?limit=30${query}`);
      if (!alive) return;
      list.append(...pageOf.items.map(row));
      if (!list.children.length) list.append(el("li", { class: "muted empty-inbox" }, t("inbox.empty")));
      cursor = pageOf.next_cursor;
      more.hidden = !cursor;
    } catch (error) {
      if (alive) problem.textContent = errorText(error);
    }
    list.setAttribute("aria-busy", "false");
  }

  main.replaceChildren(el("section", { class: "card" },
    el("div", { class: "inbox-head" },
      el("h1", {}, t("inbox.title")),
      el("div", { class: "actions" },
        markAll,
        el("a", { class: "button secondary small", href: href("/settings") }, t("inbox.settings")))),
    problem, list, more));
  // New ones arrive at the top while the inbox is open.
  const off = live.onNotification((n) => {
    list.querySelector(".empty-inbox")?.remove();
    list.prepend(row(n));
  });
  load();
  return () => {
    alive = false;
    off();
  };
}

function settings(main) {
  let alive = true;
  const status = el("p", { role: "status", class: "muted small" });
  const problem = el("p", { class: "error", role: "alert" });
  const kinds = el("fieldset", { class: "kinds" }, el("legend", {}, t("settings.kinds")));
  // Disabled until the settings are read: a change made before would be undone by them.
  const fewer = el("input", { type: "checkbox", id: "fewer", "data-key": "fewer", disabled: true });
  const pauseLine = el("p", { class: "muted small" });
  const pause = el("select", { id: "pause", "data-key": "pause", disabled: true });
  const resume = el("button", { type: "button", class: "secondary small", hidden: true }, t("settings.resume"));

  async function change(body) {
    problem.textContent = "";
    try {
      fill(await patch("/api/notifications/settings", body));
      status.textContent = t("settings.saved");
    } catch (error) {
      problem.textContent = errorText(error);
    }
  }

  function fill(s) {
    kinds.replaceChildren(el("legend", {}, t("settings.kinds")), ...KINDS.map(([kind, label]) => {
      const id = `kind-${kind.replace(".", "-")}`;
      return el("div", { class: "field check" },
        el("input", {
          type: "checkbox", id, "data-key": id, checked: s.kinds[kind] !== false,
          onchange: (e) => change({ kinds: { [kind]: e.target.checked } }),
        }),
        el("label", { for: id }, t(label)));
    }));
    fewer.checked = s.fewer;
    fewer.disabled = pause.disabled = false;
    const paused = s.paused_until && new Date(s.paused_until) > new Date();
    pauseLine.textContent = paused
      ? t("settings.paused_until", { time: formatDateTime(s.paused_until) })
      : t("settings.not_paused");
    resume.hidden = !paused;
    pause.value = "";
  }

  fewer.onchange = () => change({ fewer: fewer.checked });
  pause.append(el("option", { value: "" }, t("settings.pause_choose")),
    ...PAUSES.map((h) => el("option", { value: String(h) }, tn("settings.pause_hours", h))));
  pause.onchange = () => {
    if (pause.value) change({ pause_hours: Number(pause.value) });
  };
  resume.onclick = () => change({ pause_hours: 0 });

  // The personal calendar feed (docs/events.md): its address is shown once, when made.
  const feedLine = el("p", { class: "muted small" });
  const feedUrl = el("div", { class: "feed-url" });
  const feedActions = el("div", { class: "actions" });
  function feedState(active, url = null) {
    feedLine.textContent = active ? t("settings.feed_active") : t("settings.feed_none");
    feedUrl.replaceChildren();
    if (url) {
      feedUrl.append(
        el("label", { for: "feed-address" }, t("settings.feed_address")),
        el("input", { id: "feed-address", readonly: true, value: url, dir: "ltr", onfocus: (e) => e.target.select() }),
        el("p", { class: "muted small" }, t("settings.feed_private")));
    }
    feedActions.replaceChildren(
      el("button", {
        type: "button", class: "secondary", "data-key": "feed-new", onclick: async () => {
          try {
            const made = await post("/api/me/calendar-feed");
            feedState(true, made.url);
            feedUrl.querySelector("input")?.focus();
          } catch (error) {
            problem.textContent = errorText(error);
          }
        },
      }, active ? t("settings.feed_rotate") : t("settings.feed_make")),
      active ? el("button", {
        type: "button", class: "secondary", "data-key": "feed-revoke", onclick: async () => {
          try {
            await del("/api/me/calendar-feed");
            feedState(false);
            status.textContent = t("settings.feed_revoked");
          } catch (error) {
            problem.textContent = errorText(error);
          }
        },
      }, t("settings.feed_revoke")) : "");
  }

  // Web Push on this device (push.js): shown where the browser and the server can do it.
  const pushLine = el("p", { class: "muted small", role: "status" });
  const pushButton = el("button", { type: "button", class: "secondary", "data-key": "push", hidden: true });
  const pushBox = el("div", { class: "push", hidden: true },
    el("h2", {}, t("settings.push")), el("p", { class: "muted small" }, t("settings.push_explain")),
    pushLine, pushButton);
  async function pushShow() {
    try {
      const now = await push.state();
      if (!alive || !now.supported || !now.enabled) return;
      pushBox.hidden = false;
      pushButton.hidden = now.permission === "denied" && !now.on;
      pushLine.textContent = now.on ? t("settings.push_on")
        : now.permission === "denied" ? t("settings.push_blocked") : t("settings.push_off");
      pushButton.textContent = now.on ? t("settings.push_turn_off") : t("settings.push_turn_on");
      pushButton.onclick = async () => {
        problem.textContent = "";
        pushButton.disabled = true;
        try {
          if (now.on) await push.turnOff();
          else if (!(await push.turnOn(now.publicKey))) pushLine.textContent = t("settings.push_blocked");
          await pushShow();
        } catch (error) {
          problem.textContent = error.code ? errorText(error) : t("settings.push_failed");
        } finally {
          pushButton.disabled = false;
        }
      };
    } catch {
      // No push here (an old browser, or the worker not ready): the section stays hidden.
    }
  }

  main.replaceChildren(el("section", { class: "card narrow" },
    el("p", {}, el("a", { href: href("/notifications") }, `${backArrow()} ${t("inbox.title")}`)),
    el("h1", {}, t("settings.title")),
    el("ul", { class: "link-list settings-menu" },
      el("li", {}, el("a", { href: href("/settings/account"), "data-key": "account" }, t("account.title"))),
      el("li", {}, el("a", { href: href("/settings/language"), "data-key": "language" }, t("settings.language"))),
      el("li", {}, el("a", { href: href("/earnings"), "data-key": "earnings" }, t("earnings.title")))),
    el("h2", {}, t("settings.safety")),
    el("ul", { class: "link-list" },
      el("li", {}, el("a", { href: href("/settings/blocked"), "data-key": "blocked" }, t("blocked.title"))),
      el("li", {}, el("a", { href: href("/help/moderators") }, t("guide.title")))),
    el("h2", {}, t("settings.notifications")),
    pushBox,
    el("div", { class: "field check" }, fewer, el("label", { for: "fewer" }, t("settings.fewer"))),
    el("p", { class: "muted small" }, t("settings.fewer_help")),
    el("div", { class: "field" }, el("label", { for: "pause" }, t("settings.pause")), pause),
    pauseLine, resume,
    kinds,
    el("h2", {}, t("settings.calendar")),
    el("p", { class: "muted small" }, t("settings.feed_explain")),
    feedLine, feedUrl, feedActions,
    problem, status));

  pushShow();
  get("/api/notifications/settings").then((s) => alive && fill(s), (error) => {
    if (alive) problem.textContent = errorText(error);
  });
  get("/api/me/calendar-feed").then((f) => alive && feedState(f.active), () => alive && feedState(false));
  return () => {
    alive = false;
  };
}
