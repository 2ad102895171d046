// Hash routes: #/ (hallway), #/room/<id>, #/u/<username>[/followers|/following],
// #/me/edit, #/invites, #/clubs, #/club/<id>, #/events, #/events/new[/<club>], #/event/<id>,
// #/notifications, #/settings. The page itself is always "/" so it works from any static server.

const routes = [
  [/^\/$/, "hallway"],
  [/^\/room\/([A-Za-z0-9_-]{1,16})$/, "room"],
  [/^\/u\/([A-Za-z0-9_]{1,40})$/, "profile"],
  [/^\/u\/([A-Za-z0-9_]{1,40})\/(followers|following)$/, "people"],
  [/^\/me\/edit$/, "edit"],
  [/^\/invites$/, "invites"],
  [/^\/clubs$/, "clubs"],
  [/^\/club\/([0-9]{1,18})$/, "club"],
  [/^\/events$/, "events"],
  [/^\/events\/new(?:\/([0-9]{1,18}))?$/, "event-new"],
  [/^\/event\/([A-Za-z0-9_-]{1,64})$/, "event"],
  [/^\/notifications$/, "notifications"],
  [/^\/settings$/, "settings"],
];

export function currentRoute() {
  const path = decodeURIComponent(location.hash.replace(/^#/, "")) || "/";
  for (const [pattern, name] of routes) {
    const match = path.match(pattern);
    if (match) return { name, params: match.slice(1) };
  }
  return { name: "hallway", params: [] };
}

export function go(path) {
  if (location.hash === `#${path}`) window.dispatchEvent(new HashChangeEvent("hashchange"));
  else location.hash = path;
}

export function onRoute(handler) {
  window.addEventListener("hashchange", () => handler(currentRoute()));
}

export const href = (path) => `#${path}`;
