// The Townhall web app: boots the language, the session, the live connection and the routes.
import { ApiError, get } from "./api.js";
import { fillIcons } from "./icons.js";
import { LANGUAGES, onLanguageChange, preferredLanguage, setLanguage, t } from "./i18n.js";
import { live } from "./live.js";
import { MiniPlayer } from "./miniplayer.js";
import { bell } from "./notify.js";
import * as push from "./push.js";
import { RoomSession } from "./room-session.js";
import { currentRoute, go, href, onRoute } from "./router.js";
import { closeDialogs, displayName, el, errorText, toast } from "./ui.js";
import * as blocked from "./views/blocked.js";
import * as clubs from "./views/clubs.js";
import * as earnings from "./views/earnings.js";
import * as events from "./views/events.js";
import * as guide from "./views/guide.js";
import * as hallway from "./views/hallway.js";
import * as invites from "./views/invites.js";
import * as notifications from "./views/notifications.js";
import * as profile from "./views/profile.js";
import * as room from "./views/room.js";
import * as search from "./views/search.js";
import * as settings from "./views/settings.js";
import * as signin from "./views/signin.js";
import * as staff from "./views/staff.js";
import * as staffReport from "./views/staff-report.js";
import * as standing from "./views/standing.js";
import * as waitlist from "./views/waitlist.js";
import * as welcomeView from "./views/welcome.js";

const main = document.getElementById("app");
const mini = new MiniPlayer(document.getElementById("inroom"));
let cleanup = null;

const ctx = {
  me: null,
  session: null, // the RoomSession the user is in, if any
  inviteToken: location.pathname.startsWith("/invite/")
    ? decodeURIComponent(location.pathname.slice("/invite/".length))
    : null,
  linkToken: location.pathname.startsWith("/signin/")
    ? decodeURIComponent(location.pathname.slice("/signin/".length))
    : null,
  next: null, // where onboarding ends: the room, event or club a link pointed at
  /** After signing in or out; ``created`` for a brand-new account (docs/web.md, Onboarding). */
  async signedIn({ created = false } = {}) {
    if (ctx.inviteToken) {
      ctx.inviteToken = null;
      history.replaceState(null, "", `/${location.hash}`);
    }
    const wasWaiting = ctx.me?.status === "waitlisted";
    await start({ welcome: created || wasWaiting });
  },
  /** The waitlist screen heard that this person was let in. */
  async admitted() {
    // Heard twice as a rule (the notice, and the socket reopening after the change of
    // standing closed it): the first one shows the welcome, the others must not redraw.
    if (ctx.admitting || (ctx.me && ctx.me.status !== "waitlisted")) return;
    ctx.admitting = true;
    try {
      await start({ welcome: true });
    } finally {
      ctx.admitting = false;
    }
  },
  setMe(me) {
    ctx.me = me;
    document.getElementById("nav-profile").href = href(`/u/${me.username}`);
    // The console is for staff; the server refuses everyone else whatever the page shows.
    document.getElementById("nav-staff").hidden = !staff.isStaff(me);
  },
  /** The session for room id: the current one, or a new one (leaving the old quietly). */
  roomSession(id) {
    if (ctx.session && ctx.session.id === id && ctx.session.status === "in") return ctx.session;
    if (ctx.session) ctx.session.leave();
    ctx.session = new RoomSession(id, ctx.me.username);
    mini.follow(ctx.session);
    ctx.session.enter();
    return ctx.session;
  },
  show,
};

function languagePicker() {
  const select = document.getElementById("language");
  select.replaceChildren(
    ...LANGUAGES.map((code) => el("option", { value: code }, t(`language.${code}`))),
  );
  select.setAttribute("aria-label", t("nav.language"));
  select.value = document.documentElement.lang;
  select.onchange = () => setLanguage(select.value, true);
}

// Which tab of the navigation each route belongs to (marked aria-current="page").
const TABS = {
  hallway: "hallway", search: "search", suggestions: "search", clubs: "clubs", club: "clubs",
  events: "events", "event-new": "events", event: "events", invites: "invites",
  notifications: "notifications", staff: "staff", "staff-audit": "staff", "staff-report": "staff",
  "staff-person": "staff",
};

function markTab(route) {
  const mine = ctx.me && route.name === "profile" && route.params[0] === ctx.me.username;
  const tab = mine || route.name === "edit" ? "profile" : TABS[route.name];
  for (const link of document.querySelectorAll("#nav a[data-tab]")) {
    if (link.dataset.tab === tab) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
}

function connectionLine(state) {
  const line = document.getElementById("connection");
  line.hidden = state !== "reconnecting";
  line.textContent = state === "reconnecting" ? t("live.reconnecting") : "";
}

function show(route = currentRoute()) {
  if (cleanup) cleanup();
  cleanup = null;
  closeDialogs();
  const me = ctx.me;
  mini.paint();
  markTab(route);
  if (ctx.linkToken) {
    cleanup = signin.renderLink(main, ctx);
    return;
  }
  if (!me) {
    cleanup = signin.render(main, ctx);
    return;
  }
  if (standing.restricted(me)) {
    cleanup = standing.render(main, ctx);
    return;
  }
  if (me.status === "waitlisted") {
    cleanup = waitlist.render(main, ctx);
    return;
  }
  const views = {
    hallway, room, profile, people: profile, edit: profile, invites,
    clubs, club: clubs, events, "event-new": events, event: events,
    notifications, settings: notifications, blocked, guide,
    "settings-account": settings, "settings-language": settings, earnings,
    search, suggestions: search, welcome: welcomeView,
    staff, "staff-audit": staff, "staff-report": staffReport, "staff-person": staffReport,
  };
  cleanup = views[route.name].render(main, ctx, route);
  if (!main.contains(document.activeElement)) main.focus({ preventScroll: true });
}

function onNotice(notice) {
  if (notice.name === "room.pinged") {
    const d = notice.data;
    const by = typeof d.by === "string" ? `@${d.by}` : displayName(d.by || {});
    toast([
      t("notice.pinged", { by, title: d.title || t("room.untitled") }),
      " ",
      el("a", { href: href(`/room/${d.room}`) }, t("notice.join")),
    ], { timeout: 20000 });
  } else if (notice.name === "room.removed") {
    const route = currentRoute();
    const looking = route.name === "room" && route.params[0] === notice.data.room;
    if (!looking) toast(t("room.removed"));
  }
}

/** Send a new member to the welcome screen, keeping where they were going for after it. */
function welcome() {
  if (currentRoute().name === "welcome") return false;
  const path = location.hash.replace(/^#/, "");
  ctx.next = path && path !== "/" ? path : null;
  go("/welcome"); // the hash change shows it
  return true;
}

async function start({ welcome: offer = false } = {}) {
  try {
    ctx.setMe(await get("/api/me"));
  } catch (error) {
    if (!(error instanceof ApiError) || error.code !== "not_signed_in") {
      main.replaceChildren(el("p", { class: "error", role: "alert" }, errorText(error)));
      return;
    }
    ctx.me = null;
    if (ctx.session) ctx.session.close();
    ctx.session = null;
    mini.follow(null);
  }
  if (ctx.me && ctx.inviteToken) {
    // Already signed in: the invitation is for someone else.
    ctx.inviteToken = null;
    history.replaceState(null, "", `/${location.hash}`);
  }
  const able = ctx.me && !standing.restricted(ctx.me);
  const nav = document.getElementById("nav");
  nav.hidden = !able || ctx.me.status !== "member";
  document.body.classList.toggle("has-tabs", !nav.hidden); // room for the phone's tab bar
  // A suspended or banned account's socket is refused: do not keep knocking.
  if (able) live.start();
  else live.stop();
  if (able && ctx.me.status === "member") bell.start(ctx.me.username);
  else bell.stop();
  if (offer && able && ctx.me.status === "member" && welcome()) return;
  show();
}

async function boot() {
  fillIcons();
  await setLanguage(preferredLanguage());
  languagePicker();
  onLanguageChange(() => {
    languagePicker();
    show();
    if (ctx.me) push.relabel().catch(() => {});
  });
  live.onState(connectionLine);
  live.onNotice(onNotice);
  onRoute(show);
  await start();
  if ("serviceWorker" in navigator) {
    navigator.serviceWorker.register("/sw.js").catch(() => {});
  }
}

boot();
