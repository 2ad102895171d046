// The service worker: keeps the public app shell (the files below, nothing else) for offline
// starts. Never touches the API, files, calendar feeds, share pages or sign-in links, and
// never stores a page it was not told to: whatever is not in SHELL goes straight to the
// network. Online, the network always wins, so a deploy shows at once.
const CACHE = "townhall-shell-v4";
const SHELL = [
  "/", "/index.html", "/style.css", "/app.js", "/api.js", "/live.js", "/i18n.js", "/router.js",
  "/audio.js", "/ui.js", "/room-session.js", "/notify.js", "/safety.js",
  "/views/signin.js", "/views/waitlist.js", "/views/hallway.js", "/views/room.js",
  "/views/profile.js", "/views/invites.js", "/views/clubs.js", "/views/events.js",
  "/views/notifications.js", "/views/blocked.js", "/views/guide.js", "/views/standing.js",
  "/views/staff.js", "/views/staff-report.js",
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
