// Scheduled events (docs/events.md): "upcoming for you" and "my events", scheduling one (in
// the browser's time zone), an event's page with its calendar file, reminders and, for its
// hosts, starting, editing and cancelling.
import { ApiError, del, enc, get, patch, post, put } from "../api.js";
import { formatDateTime, t } from "../i18n.js";
import { ticketSection } from "../money.js";
import { go, href } from "../router.js";
import { avatar, backArrow, confirmDialog, displayName, el, errorText, field, form, toast } from "../ui.js";

const HOSTS = new Set(["founder", "admin", "leader"]);

export function render(main, ctx, route) {
  if (route.name === "event") return eventPage(main, ctx, route.params[0]);
  if (route.name === "event-new") return schedule(main, ctx, route.params[0] || null);
  return lists(main);
}

/** The browser's IANA time zone (what the server needs with a wall-clock time). */
export function browserZone() {
  return Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";
}

/** "2026-03-10T20:00" for a datetime-local input, in the browser's zone. */
function localInput(date) {
  const pad = (n) => String(n).padStart(2, "0");
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}T${pad(date.getHours())}:${pad(date.getMinutes())}`;
}

function usernames(text) {
  return String(text || "").split(/[\s,]+/).map((u) => u.replace(/^@/, "")).filter(Boolean);
}

function when(event) {
  return formatDateTime(event.starts_at);
}

function statusLine(event) {
  if (event.status === "cancelled") return el("span", { class: "badge cancelled" }, t("event.cancelled"));
  if (event.status === "started") return el("span", { class: "badge live" }, t("event.live"));
  return null;
}

function eventItem(event) {
  return el("li", { class: "event" },
    el("a", { href: href(`/event/${event.id}`), "data-key": `event-${event.id}` },
      el("time", { datetime: event.starts_at }, when(event)),
      el("strong", { dir: "auto" }, event.name),
      event.club ? el("span", { class: "muted small" }, event.club.name) : null,
      statusLine(event)));
}

function pagedList(path, emptyKey) {
  const items = el("ul", { class: "events", "aria-busy": "true" });
  const more = el("button", { type: "button", class: "secondary small", hidden: true }, t("common.more"));
  let cursor = null;
  async function load() {
    try {
      const query = cursor ? `&cursor=${enc(cursor)}` : "";
      const pageOf = await get(`${path}?limit=20${query}`);
      items.append(...pageOf.items.map(eventItem));
      if (!items.children.length) items.append(el("li", { class: "muted" }, t(emptyKey)));
      cursor = pageOf.next_cursor;
      more.hidden = !cursor;
    } catch (error) {
      items.append(el("li", { class: "error", role: "alert" }, errorText(error)));
    }
    items.setAttribute("aria-busy", "false");
  }
  more.onclick = load;
  load();
  return [items, more];
}

function lists(main) {
  main.replaceChildren(el("section", { class: "card" },
    el("h1", {}, t("events.title")),
    el("div", { class: "actions" },
      el("a", { class: "button", href: href("/events/new"), "data-key": "schedule" }, t("events.schedule")),
      el("a", { class: "button secondary", href: href("/settings") }, t("events.calendar_settings"))),
    el("h2", {}, t("events.upcoming")),
    ...pagedList("/api/events/upcoming", "events.none_upcoming"),
    el("h2", {}, t("events.mine")),
    ...pagedList("/api/events/mine", "events.none_mine")));
  return null;
}

/** The fields shared by scheduling and editing. */
function eventFields(event = null) {
  const start = event ? event.local_start.slice(0, 16) : localInput(new Date(Date.now() + 3600_000));
  const zone = event ? event.time_zone : browserZone();
  return [
    field("name", "event.name", { maxlength: "60", required: true, value: event?.name }),
    el("div", { class: "field" },
      el("label", { for: "description" }, t("event.description")),
      el("textarea", { id: "description", name: "description", rows: "3", maxlength: "200" }, event?.description || "")),
    el("div", { class: "field" },
      el("label", { for: "starts_at" }, t("event.starts_at")),
      el("input", { id: "starts_at", name: "starts_at", type: "datetime-local", required: true, value: start,
        "aria-describedby": "zone-line" }),
      el("p", { id: "zone-line", class: "muted small" }, t("event.time_zone", { zone }))),
    field("cohosts", "event.cohosts", {
      value: event ? [...event.hosts.slice(1), ...(event.invited || [])].map((h) => h.username).join(" ") : "",
      autocomplete: "off", dir: "ltr", "aria-describedby": "cohosts-help",
    }),
    el("p", { id: "cohosts-help", class: "muted small" }, t("event.cohosts_help")),
  ];
}

function schedule(main, ctx, clubId) {
  let alive = true;
  const clubField = el("div", { class: "field" },
    el("label", { for: "club" }, t("event.club")),
    el("select", { id: "club", name: "club" }, el("option", { value: "" }, t("event.no_club"))));
  // Only a club event can be for the club's members only.
  const membersOnlyBox = el("input", { type: "checkbox", id: "members_only", name: "members_only", disabled: true });
  const membersOnly = el("div", { class: "field check" },
    membersOnlyBox, el("label", { for: "members_only" }, t("event.members_only")));
  clubField.querySelector("select").onchange = (e) => {
    membersOnlyBox.disabled = !e.target.value;
    if (!e.target.value) membersOnlyBox.checked = false;
  };
  main.replaceChildren(el("section", { class: "card narrow" },
    el("h1", {}, t("events.schedule")),
    form({ "aria-label": t("events.schedule") }, async (data) => {
      const club = data.get("club") ? Number(data.get("club")) : null;
      const created = await post("/api/events", {
        name: String(data.get("name") || "").trim(),
        description: String(data.get("description") || "").trim(),
        starts_at: data.get("starts_at"),
        time_zone: browserZone(),
        cohosts: usernames(data.get("cohosts")),
        club,
        members_only: club !== null && data.get("members_only") === "on",
      });
      go(`/event/${created.id}`);
    },
    ...eventFields(),
    clubField, membersOnly,
    el("button", { type: "submit" }, t("event.schedule_submit")))));
  main.querySelector("#name").focus();
  // The clubs where you may schedule events.
  get("/api/clubs/mine?limit=100").then((mine) => {
    if (!alive) return;
    const select = clubField.querySelector("select");
    for (const c of mine.items.filter((c) => HOSTS.has(c.my_role))) {
      select.append(el("option", { value: c.id, selected: String(c.id) === clubId }, c.name));
    }
    membersOnlyBox.disabled = !select.value;
  }, () => {});
  return () => {
    alive = false;
  };
}

function eventPage(main, ctx, id) {
  let alive = true;
  let event = null;
  const problem = el("p", { class: "error", role: "alert" });
  main.replaceChildren(el("p", { class: "muted", role: "status" }, t("common.loading")));

  async function act(request, focusKey) {
    problem.textContent = "";
    try {
      event = await request();
      if (alive) show(focusKey);
    } catch (error) {
      problem.textContent = errorText(error);
    }
  }

  async function share() {
    try {
      if (navigator.share) {
        await navigator.share({ title: event.name, url: event.url });
        return;
      }
    } catch {
      // Dismissed, or not allowed here: copy the link instead.
    }
    try {
      await navigator.clipboard.writeText(event.url);
      toast(t("event.link_copied"));
    } catch {
      toast(event.url);
    }
  }

  async function start() {
    problem.textContent = "";
    try {
      const room = await post(`/api/events/${enc(id)}/start`);
      go(`/room/${room.id}`);
    } catch (error) {
      if (error instanceof ApiError && error.code === "event_already_started" && error.extra.room_id) {
        go(`/room/${error.extra.room_id}`);
        return;
      }
      problem.textContent = errorText(error);
    }
  }

  function editSection() {
    return el("details", { class: "settings", "data-key": "edit-event" },
      el("summary", {}, t("event.edit")),
      form({ "aria-label": t("event.edit") }, async (data) => {
        event = await patch(`/api/events/${enc(id)}`, {
          name: String(data.get("name") || "").trim(),
          description: String(data.get("description") || "").trim(),
          starts_at: data.get("starts_at"),
          time_zone: event.time_zone,
          cohosts: usernames(data.get("cohosts")),
        });
        show("edit-event");
      },
      ...eventFields(event),
      el("button", { type: "submit" }, t("profile.save"))));
  }

  function show(focusKey) {
    const base = `/api/events/${enc(id)}`;
    const scheduled = event.status === "scheduled";
    const creator = event.hosts[0]?.username === ctx.me.username;
    const zone = event.time_zone !== browserZone() ? t("event.in_zone", { time: event.local_start.replace("T", " ").slice(0, 16), zone: event.time_zone }) : null;
    main.replaceChildren(el("section", { class: "card event-page" },
      el("p", {}, el("a", { href: href("/events") }, `${backArrow()} ${t("events.title")}`)),
      el("h1", { dir: "auto" }, event.name),
      el("p", { class: "lead" }, el("time", { datetime: event.starts_at }, when(event)), " ", statusLine(event)),
      zone ? el("p", { class: "muted small" }, zone) : null,
      event.club ? el("p", {}, t("event.in_club"), " ", el("a", { href: href(`/club/${event.club.id}`) }, event.club.name),
        event.members_only ? ` · ${t("event.members_only")}` : "") : null,
      event.description ? el("p", { class: "bio", dir: "auto" }, event.description) : null,
      event.invitation ? el("div", { class: "notice", "data-key": "cohost-invitation" },
        el("p", {}, t("event.invitation")),
        el("div", { class: "actions" },
          el("button", { type: "button", "data-key": "accept-cohost", onclick: () => act(() => post(`${base}/cohost/accept`), "start") },
            t("event.accept_cohost")),
          el("button", { type: "button", class: "secondary", "data-key": "decline-cohost", onclick: () => act(() => post(`${base}/cohost/decline`), "ics") },
            t("event.decline_cohost")))) : null,
      el("h2", {}, t("event.hosts")),
      el("ul", { class: "people-list" }, event.hosts.map((h) => el("li", {},
        el("a", { href: href(`/u/${h.username}`) }, avatar(h, "s"), el("span", { dir: "auto" }, displayName(h)))))),
      event.invited?.length ? el("p", { class: "muted small", "data-key": "invited" }, t("event.invited"), " ",
        event.invited.map((h) => `@${h.username}`).join(" ")) : null,
      el("div", { class: "actions" },
        event.status === "started" && event.room_id
          ? el("a", { class: "button", href: href(`/room/${event.room_id}`), "data-key": "join" }, t("event.join_room"))
          : null,
        event.is_host && scheduled
          ? el("button", { type: "button", "data-key": "start", onclick: start }, t("event.start_room"))
          : null,
        scheduled ? el("button", {
          type: "button", class: "secondary", "data-key": "remind", "aria-pressed": event.reminded ? "true" : "false",
          onclick: () => act(() => (event.reminded ? del(`${base}/reminder`) : put(`${base}/reminder`)), "remind"),
        }, event.reminded ? t("event.reminder_on") : t("event.remind_me")) : null,
        el("a", {
          class: "button secondary", href: `${base}/calendar.ics`, download: `event-${event.id}.ics`, "data-key": "ics",
        }, t("event.add_to_calendar")),
        el("button", { type: "button", class: "secondary", "data-key": "share", onclick: share }, t("event.share"))),
      problem,
      event.status !== "cancelled" ? ticketSection(id, { creator, scheduled }) : null,
      el("p", { class: "muted small" }, t("event.share_link"), " ", el("a", { href: event.url, dir: "ltr" }, event.url)),
      creator && scheduled ? editSection() : null,
      creator && scheduled ? el("div", { class: "actions" },
        el("button", {
          type: "button", class: "danger", "data-key": "cancel", "aria-haspopup": "dialog", onclick: async () => {
            const yes = await confirmDialog({
              title: t("event.cancel_confirm", { name: event.name }), confirm: t("event.cancel"), danger: true,
            });
            if (yes) act(() => post(`${base}/cancel`), "ics");
          },
        }, t("event.cancel"))) : null));
    if (focusKey) main.querySelector(`[data-key="${CSS.escape(focusKey)}"]`)?.focus();
  }

  get(`/api/events/${enc(id)}`).then((e) => {
    event = e;
    if (alive) show();
  }, (error) => {
    if (alive) main.replaceChildren(el("p", { class: "error", role: "alert" }, errorText(error)));
  });
  return () => {
    alive = false;
  };
}
