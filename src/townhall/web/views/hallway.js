// The hallway: live rooms the user may join, who is on stage, how many listen; start a room.
import { get, post } from "../api.js";
import { formatDateTime, t, tn } from "../i18n.js";
import { live } from "../live.js";
import { go, href } from "../router.js";
import { avatar, displayName, el, field, form, replaceKeepingFocus } from "../ui.js";

// The server sends a hint when the hallway changes; polling is only a safety net.
const POLL_MS = 30000;

async function fetchHallway() {
  const data = await get("/api/hallway");
  return { rooms: data.rooms || [], events: data.events || [], hidden: data.hidden_rooms || 0 };
}

function eventItem(event) {
  const link = href(`/event/${event.id}`);
  return el("li", { class: "event" },
    el("a", { href: link, "data-key": `event-${event.id}` },
      el("time", { datetime: event.starts_at }, formatDateTime(event.starts_at)),
      el("strong", {}, event.name),
      event.club ? el("span", { class: "muted small" }, event.club.name) : null));
}

function roomCard(room) {
  const stage = room.stage || [];
  const title = room.title || t("room.untitled");
  const names = stage.map(displayName).join(", ");
  return el("li", { class: "room-card" },
    el("a", {
      href: href(`/room/${room.id}`),
      "data-key": `room-${room.id}`,
      "aria-label": t("hallway.room_label", {
        title, speakers: names, listeners: tn("room.listeners", room.listeners || 0),
      }),
    },
    el("h3", {}, title),
    el("div", { class: "card-stage" },
      el("span", { class: "faces" }, stage.slice(0, 3).map((p) => avatar(p, "s"))),
      el("ul", { class: "names" }, stage.slice(0, 6).map((p) => el("li", { dir: "auto" },
        displayName(p), p.role === "moderator" ? el("span", { class: "star", title: t("room.moderator") }, " ★") : null)))),
    el("p", { class: "muted small" },
      tn("room.listeners", room.listeners || 0),
      room.kind && room.kind !== "open" ? ` · ${t(`room.kind.${room.kind}`)}` : "")));
}

/** "Start a room": in the hallway, or on a club's page with {club} (then it may be for the
 * club's members only). */
export function startForm({ club = null } = {}) {
  const details = el("details", { class: "start" },
    el("summary", { class: "button", "data-key": "start-room" }, club ? t("club.start_room") : t("hallway.start")),
    form({ class: "card", "aria-label": club ? t("club.start_room") : t("hallway.start") }, async (data) => {
      const body = {
        title: String(data.get("title") || "").trim(),
        kind: data.get("kind"),
        hand_raise: data.get("hand_raise"),
      };
      if (club) {
        body.club = club.id;
        body.members_only = data.get("members_only") === "on";
      }
      const created = await post("/api/rooms", body);
      go(`/room/${created.id}`);
    },
    field("title", "hallway.room_title", { maxlength: "60", placeholder: t("hallway.title_placeholder") }),
    el("div", { class: "field" },
      el("label", { for: "kind" }, t("hallway.room_type")),
      el("select", { id: "kind", name: "kind" },
        ["open", "social", "closed"].map((k) => el("option", { value: k }, t(`room.kind.${k}_long`))))),
    el("div", { class: "field" },
      el("label", { for: "hand_raise" }, t("room.hand_raise_setting")),
      el("select", { id: "hand_raise", name: "hand_raise" },
        ["everyone", "followed", "off"].map((k) => el("option", { value: k }, t(`room.hands.${k}`))))),
    club ? el("div", { class: "field check" },
      el("input", { type: "checkbox", id: "members_only", name: "members_only" }),
      el("label", { for: "members_only" }, t("club.members_only_room"))) : null,
    el("button", { type: "submit" }, t("hallway.start_now"))));
  return details;
}

/** No live room: where to go instead (search, people to follow, upcoming events). */
function emptyState(events) {
  return [
    el("p", { class: "muted" }, t("hallway.empty")),
    el("ul", { class: "link-list" },
      el("li", {}, el("a", { href: href("/search"), "data-key": "empty-search" }, t("hallway.empty_search"))),
      el("li", {}, el("a", { href: href("/people/suggested"), "data-key": "empty-suggested" }, t("hallway.empty_people"))),
      el("li", {}, el("a", { href: href("/events"), "data-key": "empty-events" },
        events ? t("hallway.empty_events_above") : t("hallway.empty_events")))),
  ];
}

export function render(main) {
  const list = el("ul", { class: "rooms", "aria-live": "off", "aria-busy": "true" });
  const events = el("ul", { class: "events" });
  const eventsBox = el("section", { class: "upcoming", "aria-labelledby": "upcoming-title", hidden: true },
    el("h2", { id: "upcoming-title" }, t("hallway.upcoming")), events);
  const hidden = el("p", { class: "muted small hidden-rooms" });
  const empty = el("div", { class: "empty hallway-empty" });
  const problem = el("p", { class: "error", role: "alert" });
  main.replaceChildren(
    el("section", { class: "hallway" },
      el("h1", {}, t("hallway.title")),
      startForm(),
      eventsBox,
      el("h2", { class: "visually-hidden" }, t("hallway.live_rooms")),
      problem, list, empty, hidden),
  );

  let timer = null;
  let stopped = false;
  async function refresh() {
    try {
      const feed = await fetchHallway();
      if (stopped) return;
      problem.textContent = "";
      replaceKeepingFocus(list, ...feed.rooms.map(roomCard));
      list.setAttribute("aria-busy", "false");
      replaceKeepingFocus(events, ...feed.events.map(eventItem));
      eventsBox.hidden = !feed.events.length;
      if (feed.rooms.length) empty.replaceChildren();
      else if (!empty.childNodes.length) empty.replaceChildren(...emptyState(feed.events.length));
      hidden.textContent = feed.hidden ? tn("hallway.hidden", feed.hidden) : "";
      schedule();
    } catch (error) {
      if (!stopped) problem.textContent = t("hallway.unavailable");
    }
  }
  function schedule() {
    clearInterval(timer);
    timer = setInterval(() => {
      if (document.visibilityState === "visible") refresh();
    }, POLL_MS);
  }
  const onVisible = () => {
    if (document.visibilityState === "visible") refresh();
  };
  document.addEventListener("visibilitychange", onVisible);
  // A hint from the server that the hallway changed (docs/web.md).
  const offNotice = live.onNotice((notice) => {
    if (String(notice.name).startsWith("hallway.")) refresh();
  });
  const offState = live.onState((state) => {
    if (state === "open") refresh();
  });
  refresh();
  return () => {
    stopped = true;
    clearInterval(timer);
    document.removeEventListener("visibilitychange", onVisible);
    offNotice();
    offState();
  };
}
