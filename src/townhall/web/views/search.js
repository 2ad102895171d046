// Search (#/search?q=…): people, live rooms, clubs and upcoming events from one query
// (GET /api/search); and suggestions (#/people/suggested): people to follow, with why.
import { del, enc, get, put } from "../api.js";
import { formatDateTime, t, tn } from "../i18n.js";
import { go, href, withQuery } from "../router.js";
import { avatar, backArrow, displayName, el, errorText, isolate } from "../ui.js";

// Typing settles for this long before the query goes out; Enter sends at once.
const TYPING_MS = 250;

export function render(main, ctx, route) {
  if (route.name === "suggestions") return suggestions(main, ctx);
  return search(main, ctx, route.query?.get("q") || "");
}

/** A Follow / Unfollow toggle for a person in a list (aria-pressed says which). */
export function followButton(p, onChange = () => {}) {
  const button = el("button", { type: "button", class: "small", "data-key": `follow-${p.username}` });
  const paint = () => {
    button.textContent = p.you_follow ? t("profile.unfollow") : t("profile.follow");
    button.className = p.you_follow ? "small secondary" : "small";
    button.setAttribute("aria-pressed", p.you_follow ? "true" : "false");
    button.setAttribute("aria-label", t(p.you_follow ? "people.unfollow_person" : "people.follow_person",
      { name: isolate(displayName(p)) }));
  };
  button.onclick = async () => {
    button.disabled = true;
    try {
      const path = `/api/users/${enc(p.username)}/follow`;
      const rel = p.you_follow ? await del(path) : await put(path);
      p.you_follow = rel.you_follow;
      paint();
      onChange(p);
    } catch (error) {
      button.after(el("span", { class: "error small", role: "alert" }, ` ${errorText(error)}`));
    } finally {
      button.disabled = false;
    }
  };
  paint();
  return button;
}

export function personRow(p, extra = null) {
  return el("li", { class: "person-row", "data-username": p.username },
    el("a", { href: href(`/u/${p.username}`) }, avatar(p, "s"),
      el("span", { class: "who" },
        el("span", { dir: "auto" }, displayName(p)),
        p.display_name ? el("span", { class: "muted small", dir: "ltr" }, `@${p.username}`) : null,
        extra ? el("span", { class: "muted small why" }, extra) : null)),
    p.self ? null : followButton(p));
}

function roomRow(room) {
  const title = room.title || t("room.untitled");
  const names = (room.stage || []).map(displayName).join(", ");
  return el("li", {},
    el("a", { href: href(`/room/${room.id}`), "data-key": `found-room-${room.id}` },
      el("strong", { dir: "auto" }, title),
      el("span", { class: "muted small" }, ` · ${tn("room.listeners", room.listeners || 0)}`),
      names ? el("span", { class: "muted small", dir: "auto" }, ` · ${names}`) : null));
}

function clubRow(club) {
  return el("li", {},
    el("a", { href: href(`/club/${club.id}`) }, el("strong", { dir: "auto" }, club.name),
      club.description ? el("span", { class: "muted small", dir: "auto" }, ` · ${club.description}`) : null));
}

function eventRow(event) {
  return el("li", {},
    el("a", { href: href(`/event/${event.id}`) },
      el("time", { datetime: event.starts_at }, formatDateTime(event.starts_at)), " ",
      el("strong", { dir: "auto" }, event.name),
      event.status === "started" ? el("span", { class: "badge live" }, t("event.live")) : null));
}

function section(titleKey, items, row) {
  if (!items.length) return null;
  return el("section", { class: "found", "aria-label": t(titleKey) },
    el("h2", {}, t(titleKey)), el("ul", { class: "people-list found-list" }, items.map(row)));
}

function search(main, ctx, initial) {
  let alive = true;
  let timer = null;
  let asked = 0;
  const input = el("input", {
    id: "search-q", type: "search", name: "q", value: initial, autocomplete: "off",
    enterkeyhint: "search", maxlength: "200", "aria-describedby": "search-help",
  });
  const results = el("div", { class: "results", "aria-live": "polite", "aria-busy": "false" });
  const problem = el("p", { class: "error", role: "alert" });

  async function run(q) {
    const mine = ++asked;
    problem.textContent = "";
    if (!/[\p{L}\p{N}]/u.test(q)) {
      results.replaceChildren(el("p", { class: "muted" }, t("search.prompt")));
      return;
    }
    results.setAttribute("aria-busy", "true");
    try {
      const found = await get(`/api/search?q=${enc(q)}`);
      if (!alive || mine !== asked) return;
      const me = ctx.me.username;
      const people = found.people.map((p) => ({ ...p, self: p.username === me }));
      const parts = [
        section("search.people", people, (p) => personRow(p)),
        section("search.rooms", found.rooms, roomRow),
        section("search.clubs", found.clubs, clubRow),
        section("search.events", found.events, eventRow),
      ].filter(Boolean);
      results.replaceChildren(...(parts.length ? parts
        : [el("p", { class: "muted", role: "status" }, t("search.nothing", { q: isolate(q) }))]));
    } catch (error) {
      if (alive && mine === asked) problem.textContent = errorText(error);
    } finally {
      if (mine === asked) results.setAttribute("aria-busy", "false");
    }
  }

  function remember(q) {
    // The query lives in the address, so Back returns to the same results.
    history.replaceState(null, "", `/${href(withQuery("/search", { q }))}`);
  }

  input.addEventListener("input", () => {
    clearTimeout(timer);
    timer = setTimeout(() => {
      remember(input.value);
      run(input.value);
    }, TYPING_MS);
  });
  const formNode = el("form", {
    role: "search", "aria-label": t("search.title"), onsubmit: (event) => {
      event.preventDefault();
      clearTimeout(timer);
      remember(input.value);
      run(input.value);
    },
  },
  el("label", { for: "search-q" }, t("search.label")),
  el("div", { class: "search-line" }, input, el("button", { type: "submit" }, t("search.go"))),
  el("p", { id: "search-help", class: "muted small" }, t("search.help")));

  main.replaceChildren(el("section", { class: "card search-page" },
    el("h1", {}, t("search.title")), formNode,
    el("p", {}, el("a", { href: href("/people/suggested") }, t("suggest.title"))),
    problem, results));
  input.focus();
  if (initial) run(initial);
  else results.replaceChildren(el("p", { class: "muted" }, t("search.prompt")));
  return () => {
    alive = false;
    clearTimeout(timer);
  };
}

/** Why a suggestion: "In your contacts" or "Followed by @a, @b and 3 others". */
export function reason(s) {
  if (s.reason === "contact") return t("suggest.contact");
  const names = (s.followed_by || []).map((u) => isolate(`@${u}`)).join(", ");
  const others = Math.max(0, (s.followed_by_count || 0) - (s.followed_by || []).length);
  return others ? tn("suggest.followed_by_more", others, { names }) : t("suggest.followed_by", { names });
}

/** The list of suggested people into container; resolves to how many there were. */
export async function fillSuggestions(list, limit = 20) {
  const { items } = await get(`/api/me/suggestions?limit=${limit}`);
  list.replaceChildren(...items.map((s) => personRow(s, reason(s))));
  if (!items.length) list.append(el("li", { class: "muted" }, t("suggest.none")));
  return items.length;
}

function suggestions(main) {
  let alive = true;
  const list = el("ul", { class: "people-list", "aria-busy": "true" });
  const problem = el("p", { class: "error", role: "alert" });
  main.replaceChildren(el("section", { class: "card" },
    el("p", {}, el("a", { href: href("/search") }, `${backArrow()} ${t("search.title")}`)),
    el("h1", {}, t("suggest.title")),
    el("p", { class: "muted" }, t("suggest.explain")),
    problem, list,
    el("div", { class: "actions" },
      el("a", { class: "button secondary", href: href("/invites") }, t("suggest.find_contacts")),
      el("button", { type: "button", class: "secondary", onclick: () => go("/") }, t("suggest.done")))));
  fillSuggestions(list).then(
    () => alive && list.setAttribute("aria-busy", "false"),
    (error) => {
      if (alive) problem.textContent = errorText(error);
    },
  );
  return () => {
    alive = false;
  };
}
