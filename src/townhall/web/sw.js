// The service worker: keeps the public app shell (the files below, nothing else) for offline
// starts. Never touches the API, files, calendar feeds, share pages or sign-in links, and
// never stores a page it was not told to: whatever is not in SHELL goes straight to the
// network. Online, the network always wins, so a deploy shows at once. It also shows Web
// Push notifications (at the end).
const CACHE = "townhall-shell-v7";
const SHELL = [
  "/", "/index.html", "/style.css", "/app.js", "/api.js", "/live.js", "/i18n.js", "/router.js",
  "/audio.js", "/ui.js", "/room-session.js", "/notify.js", "/push.js", "/safety.js",
  "/icons.js", "/miniplayer.js", "/money.js",
  "/views/signin.js", "/views/waitlist.js", "/views/hallway.js", "/views/room.js",
  "/views/profile.js", "/views/invites.js", "/views/clubs.js", "/views/events.js",
  "/views/notifications.js", "/views/search.js", "/views/settings.js", "/views/welcome.js", "/views/blocked.js", "/views/guide.js", "/views/standing.js",
  "/views/staff.js", "/views/staff-report.js", "/views/earnings.js",
  "/i18n/en.json", "/i18n/ru.json", "/i18n/ro.json", "/i18n/it.json", "/i18n/ko.json", "/i18n/ar.json",
  "/manifest.webmanifest", "/icons/icon-192.png", "/icons/icon-32.png",
];
const SHELL_PATHS = new Set(SHELL);
// Navigations the worker leaves alone: the browser loads these straight from the server.
const NEVER = /^\/(api|files|r|e|signin|calendar)(\/|$)/;

self.addEventListener("install", (event) => {
  event.waitUntil(caches.open(CACHE).then((cache) => cache.addAll(SHELL)).then(() => self.skipWaiting()));
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    caches.keys()
      .then((keys) => Promise.all(keys.filter((k) => k !== CACHE).map((k) => caches.delete(k))))
      .then(() => self.clients.claim()),
  );
});

function keep(path, response) {
  // Stored by path, never with the query: an address may carry a token there.
  if (response.ok) {
    const copy = response.clone();
    caches.open(CACHE).then((cache) => cache.put(path, copy));
  }
  return response;
}

self.addEventListener("fetch", (event) => {
  const request = event.request;
  const url = new URL(request.url);
  if (request.method !== "GET" || url.origin !== self.location.origin) return;
  const shell = SHELL_PATHS.has(url.pathname);
  if (request.mode === "navigate") {
    if (NEVER.test(url.pathname)) return;
    // A page of the app: from the network; offline, the cached shell starts the app.
    event.respondWith(
      fetch(request)
        .then((response) => (shell ? keep(url.pathname, response) : response))
        .catch(async () => (await caches.match("/")) || Response.error()),
    );
    return;
  }
  if (!shell) return;
  event.respondWith(
    // Revalidate with the server (cheap 304s).
    fetch(request, { cache: "no-cache" })
      .then((response) => keep(url.pathname, response))
      .catch(async () => (await caches.match(url.pathname)) || Response.error()),
  );
});

// --- Web Push (docs/notifications.md, "Web Push") --------------------------------------------
// A push carries the live notification and the language to word it in; the words come from
// the same catalogues as the app's (cached with the shell). Every push shows a notification
// (browsers require it); its tag is the notification's id, so one said twice shows once.

async function words(lang) {
  const read = async (code) => {
    const path = `/i18n/${code}.json`;
    const cached = await caches.match(path);
    const response = cached || (await fetch(path));
    return response.ok ? response.json() : {};
  };
  const english = await read("en").catch(() => ({}));
  const chosen = lang && lang !== "en" ? await read(lang).catch(() => ({})) : {};
  return { chosen, english, lang: lang || "en" };
}

function say(w, key, params = {}) {
  const text = w.chosen[key] ?? w.english[key] ?? key;
  return text.replace(/\{(\w+)\}/g, (whole, name) => (params[name] === undefined ? whole : String(params[name])));
}

function sayCount(w, key, n, params = {}) {
  const rule = new Intl.PluralRules(w.lang).select(n);
  const chosen = [`${key}.${rule}`, `${key}.other`].find((k) => k in w.chosen || k in w.english);
  return say(w, chosen || `${key}.other`, { n, ...params });
}

/** {title, body, url} of a pushed notification, as notify.js words it in the app. */
function describePush(item, w) {
  const d = item.data || {};
  const by = item.actor ? item.actor.display_name || `@${item.actor.username}` : say(w, "notif.someone");
  const title = d.title || say(w, "room.untitled");
  const room = d.room ? `/#/room/${d.room}` : "/#/notifications";
  const event = d.event_id ? `/#/event/${d.event_id}` : "/#/notifications";
  const club = d.club_id ? `/#/club/${d.club_id}` : "/#/notifications";
  const when = d.starts_at
    ? new Intl.DateTimeFormat(w.lang, { weekday: "short", hour: "numeric", minute: "2-digit" }).format(new Date(d.starts_at))
    : "";
  const person = item.actor ? `/#/u/${item.actor.username}` : "/#/notifications";
  const cases = {
    "room.started": [say(w, "notif.room_started", { by, title }), room],
    "room.speaking": [say(w, "notif.room_speaking", { by, title }), room],
    "room.pinged": [say(w, "notif.room_pinged", { by, title }), room],
    "event.scheduled": [say(w, "notif.event_scheduled", { by, name: d.name || "", when }), event],
    "event.cohost_invited": [say(w, "notif.event_cohost_invited", { by, name: d.name || "", when }), event],
    "event.starting": [say(w, "notif.event_starting", { name: d.name || "" }), d.room_id ? `/#/room/${d.room_id}` : event],
    "event.cancelled": [say(w, "notif.event_cancelled", { name: d.name || "" }), event],
    "user.followed": [say(w, "notif.user_followed", { by }), person],
    "invitee.joined": [say(w, "notif.invitee_joined", { by }), person],
    "contact.waitlisted": [sayCount(w, "notif.contact_waitlisted", d.count || 1), "/#/invites"],
    "club.invited": [say(w, "notif.club_invited", { by, club: d.club_name || "" }), club],
    "club.approved": [say(w, "notif.club_approved", { club: d.club_name || "" }), club],
    "waitlist.admitted": [item.actor ? say(w, "notif.waitlist_admitted_by", { by }) : say(w, "notif.waitlist_admitted"), "/#/welcome"],
    summary: [sayCount(w, "notif.summary", d.count || 0), "/#/notifications"],
  };
  const [body, url] = cases[item.name] || [say(w, "notif.unknown"), "/#/notifications"];
  return { title: say(w, "app.name"), body, url };
}

/** Show one pushed notification (also called by the browser tests). */
async function showPush(item) {
  const w = await words(item.lang);
  const { title, body, url } = describePush(item, w);
  await self.registration.showNotification(title, {
    body,
    tag: `townhall-${item.id ?? "push"}`,
    lang: w.lang,
    dir: w.lang === "ar" ? "rtl" : "ltr",
    icon: "/icons/icon-192.png",
    badge: "/icons/icon-32.png",
    data: { url },
  });
}
self.showPush = showPush;

self.addEventListener("push", (event) => {
  let item = {};
  try {
    item = event.data ? event.data.json() : {};
  } catch {
    item = {};
  }
  event.waitUntil(showPush(item));
});

self.addEventListener("notificationclick", (event) => {
  event.notification.close();
  const target = new URL(event.notification.data?.url || "/", self.location.origin).href;
  event.waitUntil((async () => {
    const windows = await self.clients.matchAll({ type: "window", includeUncontrolled: true });
    for (const client of windows) {
      if (new URL(client.url).origin !== self.location.origin) continue;
      await client.focus();
      if ("navigate" in client) await client.navigate(target).catch(() => {});
      return;
    }
    await self.clients.openWindow(target);
  })());
});
