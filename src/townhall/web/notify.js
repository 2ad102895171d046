// Notifications (docs/notifications.md): the bell with the unread count in the top bar, kept
// current from the live socket, a short toast when one arrives, and the words and link for
// each kind (used by the inbox too).
import { get } from "./api.js";
import { icon } from "./icons.js";
import { formatDateTime, onLanguageChange, t, tn } from "./i18n.js";
import { live } from "./live.js";
import { href } from "./router.js";
import { displayName, el, toast } from "./ui.js";

let unread = 0;
let enabled = false;
let me = null; // the signed-in username
const listeners = new Set();

function who(n) {
  return n.actor ? displayName(n.actor) : t("notif.someone");
}

/** The bell drawn in the top bar, for notifications without a person. */
export function bellIcon() {
  return el("span", { class: "avatar avatar-s bell-avatar", "aria-hidden": "true" }, icon("bell", 22));
}

/** {text, link} for a notification: what happened, and where it leads. */
export function describe(n) {
  const d = n.data || {};
  const by = who(n);
  const title = d.title || t("room.untitled");
  const room = d.room ? href(`/room/${d.room}`) : null;
  const event = d.event_id ? href(`/event/${d.event_id}`) : null;
  const club = d.club_id ? href(`/club/${d.club_id}`) : null;
  const person = n.actor ? href(`/u/${n.actor.username}`) : null;
  const when = d.starts_at ? formatDateTime(d.starts_at) : "";
  switch (n.name) {
    case "room.started":
      return { text: t("notif.room_started", { by, title }), link: room };
    case "room.speaking":
      return { text: t("notif.room_speaking", { by, title }), link: room };
    case "room.pinged":
      return { text: t("notif.room_pinged", { by, title }), link: room };
    case "event.scheduled":
      return { text: t("notif.event_scheduled", { by, name: d.name || "", when }), link: event };
    case "event.cohost_invited":
      return { text: t("notif.event_cohost_invited", { by, name: d.name || "", when }), link: event };
    case "event.starting":
      return {
        text: t("notif.event_starting", { name: d.name || "" }),
        link: d.room_id ? href(`/room/${d.room_id}`) : event,
      };
    case "event.cancelled":
      return { text: t("notif.event_cancelled", { name: d.name || "" }), link: event };
    case "user.followed":
      return { text: t("notif.user_followed", { by }), link: person };
    case "invitee.joined":
      return { text: t("notif.invitee_joined", { by }), link: person };
    case "contact.waitlisted":
      return { text: tn("notif.contact_waitlisted", d.count || 1), link: href("/invites") };
    case "club.invited":
      return { text: t("notif.club_invited", { by, club: d.club_name || "" }), link: club };
    case "club.nominated":
      // To the nominee, or (with data.username) to the club's admins, who decide.
      if (d.username && d.username !== me) {
        return { text: t("notif.club_nominated_other", { by, name: `@${d.username}`, club: d.club_name || "" }), link: club };
      }
      return { text: t("notif.club_nominated", { by, club: d.club_name || "" }), link: club };
    case "club.applied":
      return { text: t("notif.club_applied", { by, club: d.club_name || "" }), link: club };
    case "club.approved":
      return { text: t("notif.club_approved", { club: d.club_name || "" }), link: club };
    case "report.outcome":
      return {
        text: d.outcome === "action_taken" ? t("notif.report_acted_on") : d.outcome === "no_action"
          ? t("notif.report_no_action") : t("notif.report_outcome"),
        link: null,
      };
    case "account.warned": {
      // What staff chose to tell the person; never who reported them.
      const base = d.sanction === "ban" ? t("notif.account_banned")
        : d.sanction === "suspend" ? t("notif.account_suspended", { time: d.until ? formatDateTime(d.until) : "" })
          : t("notif.account_warned");
      return { text: d.message ? t("notif.with_message", { text: base, message: d.message }) : base, link: null };
    }
    case "waitlist.admitted":
      return {
        text: n.actor ? t("notif.waitlist_admitted_by", { by }) : t("notif.waitlist_admitted"),
        link: href("/welcome"),
      };
    case "summary":
      return { text: tn("notif.summary", d.count || 0), link: href("/notifications") };
    default:
      return { text: t("notif.unknown"), link: href("/notifications") };
  }
}

function render() {
  const bell = document.getElementById("nav-bell");
  const count = document.getElementById("bell-count");
  if (!bell || !count) return;
  count.hidden = unread === 0;
  count.textContent = unread > 99 ? "99+" : String(unread);
  bell.setAttribute("aria-label", unread ? tn("bell.unread", unread) : t("bell.label"));
  for (const listener of listeners) listener(unread);
}

function set(n) {
  unread = Math.max(0, n);
  render();
}

export const bell = {
  get unread() {
    return unread;
  },
  /** Ask the server for the count (after signing in, reconnecting, reading). */
  async refresh() {
    if (!enabled) return;
    try {
      set((await get("/api/notifications/unread")).unread);
    } catch {
      // The bell is a convenience: the inbox shows the truth.
    }
  },
  /** Some were read here (-n), or all (null). */
  read(n = null) {
    set(n === null ? 0 : unread - n);
  },
  onChange(listener) {
    listeners.add(listener);
    return () => listeners.delete(listener);
  },
  start(username) {
    enabled = true;
    me = username;
    bell.refresh();
  },
  stop() {
    enabled = false;
    set(0);
  },
};

live.onNotification((n) => {
  if (!enabled) return;
  if (!n.read) set(unread + 1);
  // A ping also comes as the room.pinged notice, which app.js shows with a Join link.
  if (n.name === "room.pinged") return;
  const { text, link } = describe(n);
  toast(link ? el("a", { href: link }, text) : text);
});
live.onState((state) => {
  if (state === "open") bell.refresh();
});
onLanguageChange(render);
