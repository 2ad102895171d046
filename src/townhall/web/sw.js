// The service worker: keeps the app shell for offline starts. Never touches the API, files,
// share pages or sign-in links. Online, the network always wins, so a deploy shows at once.
const CACHE = "townhall-shell-v2";
const SHELL = [
  "/", "/index.html", "/style.css", "/app.js", "/api.js", "/live.js", "/i18n.js", "/router.js",
  "/audio.js", "/ui.js", "/room-session.js", "/notify.js",
  "/views/signin.js", "/views/waitlist.js", "/views/hallway.js", "/views/room.js",
  "/views/profile.js", "/views/invites.js", "/views/clubs.js", "/views/events.js",
  "/views/notifications.js",
  "/i18n/en.json", "/i18n/ru.json", "/i18n/ro.json", "/i18n/it.json", "/i18n/ko.json", "/i18n/ar.json",
  "/manifest.webmanifest", "/icons/icon-192.png", "/icons/icon-32.png",
];
const NEVER = /^\/(api|files|r|signin|invite)(\/|$)/;

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

self.addEventListener("fetch", (event) => {
  const request = event.request;
  const url = new URL(request.url);
  if (request.method !== "GET" || url.origin !== self.location.origin) return;
  if (NEVER.test(url.pathname) && request.mode !== "navigate") return;
  if (NEVER.test(url.pathname) && !url.pathname.startsWith("/invite/")) return;
  event.respondWith(
    // Revalidate with the server (cheap 304s); navigations cannot take options.
    (request.mode === "navigate" ? fetch(request) : fetch(request, { cache: "no-cache" }))
      .then((response) => {
        if (response.ok && !NEVER.test(url.pathname)) {
          const copy = response.clone();
          caches.open(CACHE).then((cache) => cache.put(request, copy));
        }
        return response;
      })
      .catch(async () => {
        const cached = await caches.match(request, { ignoreSearch: true });
        if (cached) return cached;
        if (request.mode === "navigate") return caches.match("/");
        return Response.error();
      }),
  );
});
