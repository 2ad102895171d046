// Hash routes: #/ (hallway), #/room/<id>, #/u/<username>[/followers|/following],
// #/me/edit, #/invites, #/clubs, #/club/<id>, #/events, #/events/new[/<club>], #/event/<id>,
// #/notifications, #/settings, #/earnings, #/settings/blocked, #/settings/account, #/settings/language,
// #/search[?q=], #/people/suggested, #/welcome[/people], #/help/moderators, and for staff #/staff
// (the report queue), #/staff/report/<id>, #/staff/person/<username>, #/staff/audit. A
// route may carry a query (#/staff?status=open) for its filters. The page itself is always
// "/" so it works from any static server.

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
  [/^\/settings\/blocked$/, "blocked"],
  [/^\/settings\/account$/, "settings-account"],
  [/^\/settings\/language$/, "settings-language"],
  [/^\/earnings$/, "earnings"],
  [/^\/search$/, "search"],
  [/^\/people\/suggested$/, "suggestions"],
  [/^\/welcome(?:\/(people))?$/, "welcome"],
  [/^\/help\/moderators$/, "guide"],
  [/^\/staff$/, "staff"],
  [/^\/staff\/report\/([0-9]{1,18})$/, "staff-report"],
  [/^\/staff\/person\/([A-Za-z0-9_]{1,40})$/, "staff-person"],
  [/^\/staff\/audit$/, "staff-audit"],
];

export function currentRoute() {
  const raw = location.hash.replace(/^#/, "");
  const cut = raw.indexOf("?");
  const path = decodeURIComponent(cut < 0 ? raw : raw.slice(0, cut)) || "/";
  const query = new URLSearchParams(cut < 0 ? "" : raw.slice(cut + 1));
  for (const [pattern, name] of routes) {
    const match = path.match(pattern);
    if (match) return { name, params: match.slice(1), query };
  }
  return { name: "hallway", params: [], query };
}

/** A path with a query from an object, leaving out empty values: withQuery("/staff", {status: "open"}). */
export function withQuery(path, values) {
  const query = new URLSearchParams();
  for (const [key, value] of Object.entries(values)) if (value) query.set(key, value);
  const text = query.toString();
  return text ? `${path}?${text}` : path;
}

export function go(path) {
  if (location.hash === `#${path}`) window.dispatchEvent(new HashChangeEvent("hashchange"));
  else location.hash = path;
}

export function onRoute(handler) {
  window.addEventListener("hashchange", () => handler(currentRoute()));
}

export const href = (path) => `#${path}`;
