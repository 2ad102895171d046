// Clubs (docs/clubs.md): your clubs, search, founding one; a club's page with joining,
// following, its members and, for its admins and founder, requests, roles and editing.
import { api, del, enc, get, patch, post, put } from "../api.js";
import { t, tn } from "../i18n.js";
import { go, href } from "../router.js";
import { avatar, backArrow, confirmDialog, displayName, el, errorText, field, form } from "../ui.js";
import { startForm } from "./hallway.js";

const POLICIES = ["open", "approval", "invitation"];
const MANAGERS = new Set(["founder", "admin"]);
const HOSTS = new Set(["founder", "admin", "leader"]);
const MEMBERS = new Set(["founder", "admin", "leader", "member"]);

export function render(main, ctx, route) {
  if (route.name === "club") return page(main, ctx, route.params[0]);
  return list(main);
}

/** A club's icon, or its initials on a colour of its own. */
export function clubIcon(club, size = "m") {
  return avatar({ username: `club${club.id}`, display_name: club.name, avatar_url: club.icon_url }, size);
}

function clubItem(club) {
  return el("li", {},
    el("a", { href: href(`/club/${club.id}`), "data-key": `club-${club.id}` },
      clubIcon(club, "s"),
      el("span", { dir: "auto" }, club.name),
      club.my_role ? el("span", { class: "muted small" }, ` · ${t(`club.role.${club.my_role}`)}`) : null));
}

function rulesFrom(text) {
  return String(text || "").split("\n").map((line) => line.trim()).filter(Boolean);
}

function policySelect(id, value = "open") {
  return el("div", { class: "field" },
    el("label", { for: id }, t("club.policy")),
    el("select", { id, name: "policy" },
      POLICIES.map((p) => el("option", { value: p, selected: p === value }, t(`club.policy.${p}`)))));
}

function list(main) {
  let alive = true;
  let cursor = null;
  const mine = el("ul", { class: "people-list clubs-list", "aria-busy": "true" });
  const more = el("button", { type: "button", class: "secondary", hidden: true, onclick: () => load() }, t("common.more"));
  const results = el("ul", { class: "people-list clubs-list", "aria-live": "polite" });
  const search = form({ role: "search", class: "search", "aria-label": t("clubs.search") }, async (data) => {
    const q = String(data.get("q") || "").trim();
    if (!q) return;
    const found = await get(`/api/clubs/search?q=${enc(q)}`);
    results.replaceChildren(...found.items.map(clubItem));
    if (!found.items.length) results.append(el("li", { class: "muted" }, t("clubs.no_results")));
  },
  field("q", "clubs.search", { type: "search", maxlength: "100" }),
  el("button", { type: "submit", class: "secondary" }, t("clubs.search_button")));

  const found = el("details", { class: "start" },
    el("summary", { class: "button", "data-key": "found-club" }, t("clubs.found")),
    form({ class: "card", "aria-label": t("clubs.found") }, async (data) => {
      const club = await post("/api/clubs", {
        name: String(data.get("name") || "").trim(),
        description: String(data.get("description") || "").trim(),
        rules: rulesFrom(data.get("rules")),
        policy: data.get("policy"),
      });
      go(`/club/${club.id}`);
    },
    el("p", { class: "muted small" }, t("clubs.found_explain")),
    field("name", "club.name", { maxlength: "50", required: true }),
    field("description", "club.description", { tag: "textarea", rows: "3", maxlength: "300" }),
    field("rules", "club.rules_one_per_line", { tag: "textarea", rows: "3" }),
    policySelect("policy"),
    el("button", { type: "submit" }, t("clubs.found_submit"))));

  main.replaceChildren(el("section", { class: "card" },
    el("h1", {}, t("clubs.title")),
    found,
    search, results,
    el("h2", {}, t("clubs.mine")),
    mine, more));

  async function load() {
    try {
      const query = cursor ? `&cursor=${enc(cursor)}` : "";
      const pageOf = await get(`/api/clubs/mine?following=true${query}`);
      if (!alive) return;
      mine.append(...pageOf.items.map(clubItem));
      if (!mine.children.length) mine.append(el("li", { class: "muted" }, t("clubs.none")));
      mine.setAttribute("aria-busy", "false");
      cursor = pageOf.next_cursor;
      more.hidden = !cursor;
    } catch (error) {
      if (alive) mine.replaceChildren(el("li", { class: "error", role: "alert" }, errorText(error)));
    }
  }
  load();
  return () => {
    alive = false;
  };
}

function page(main, ctx, id) {
  let alive = true;
  let club = null;
  const problem = el("p", { class: "error", role: "alert" });
  main.replaceChildren(el("p", { class: "muted", role: "status" }, t("common.loading")));

  async function act(request, focusKey) {
    problem.textContent = "";
    try {
      const answer = await request();
      if (answer === null) return; // the person thought better of it
      if (answer.id === club.id) club = answer;
      else club = await get(`/api/clubs/${enc(id)}`);
      if (alive) show(focusKey);
    } catch (error) {
      problem.textContent = errorText(error);
    }
  }

  function button(key, label, request, cls = "") {
    return el("button", { type: "button", class: cls, "data-key": key, onclick: () => act(request, key) }, label);
  }

  function standing() {
    const role = club.my_role;
    if (club.my_request === "invited") return t("club.you_are_invited");
    if (club.my_request === "applied") return t("club.you_applied");
    if (club.my_request === "nominated") return t("club.you_are_nominated");
    if (role) return t("club.your_role", { role: t(`club.role.${role}`) });
    return null;
  }

  function actions() {
    const role = club.my_role;
    const base = `/api/clubs/${enc(id)}`;
    const buttons = [];
    if (!MEMBERS.has(role)) {
      if (club.my_request === "invited") {
        buttons.push(button("join", t("club.accept"), () => post(`${base}/join`)));
        buttons.push(button("withdraw", t("club.decline"), () => del(`${base}/request`), "secondary"));
      } else if (club.my_request) {
        buttons.push(button("withdraw", club.my_request === "applied" ? t("club.withdraw") : t("club.decline"),
          () => del(`${base}/request`), "secondary"));
      } else if (club.policy === "open") {
        buttons.push(button("join", t("club.join"), () => post(`${base}/join`)));
      } else if (club.policy === "approval") {
        buttons.push(button("join", t("club.apply"), () => post(`${base}/join`)));
      }
      buttons.push(role === "follower"
        ? button("follow", t("club.unfollow"), () => del(`${base}/follow`), "secondary")
        : button("follow", t("club.follow"), () => put(`${base}/follow`), "secondary"));
    } else if (role !== "founder") {
      buttons.push(button("leave", t("club.leave"), async () => {
        const yes = await confirmDialog({ title: t("club.leave_confirm", { name: club.name }), confirm: t("club.leave") });
        return yes ? post(`${base}/leave`) : null;
      }, "secondary"));
    }
    if (HOSTS.has(role)) {
      buttons.push(el("a", { class: "button secondary", href: href(`/events/new/${club.id}`) }, t("club.schedule_event")));
    }
    return el("div", { class: "actions" }, buttons);
  }

  function usernameForm(key, labelKey, buttonKey, path, done) {
    const status = el("p", { role: "status", class: "muted small" });
    return form({ class: "inline-form", "aria-label": t(labelKey) }, async (data, node) => {
      const username = String(data.get(key) || "").trim().replace(/^@/, "");
      if (!username) return;
      await post(path, { username });
      node.reset();
      status.textContent = t(done, { name: `@${username}` });
    },
    field(key, labelKey, { autocomplete: "off", maxlength: "64", dir: "ltr" }),
    el("button", { type: "submit", class: "secondary" }, t(buttonKey)),
    status);
  }

  async function requestsSection() {
    const box = el("section", { "aria-labelledby": "club-requests" },
      el("h2", { id: "club-requests" }, t("club.requests")));
    const items = el("ul", { class: "people-list" });
    box.append(items);
    try {
      const pending = await get(`/api/clubs/${enc(id)}/requests?limit=50`);
      for (const r of pending.items) {
        const base = `/api/clubs/${enc(id)}/requests/${enc(r.username)}`;
        items.append(el("li", {},
          el("a", { href: href(`/u/${r.username}`) }, avatar(r, "s"), el("span", {}, displayName(r))),
          el("span", { class: "muted small" }, t(`club.request.${r.kind}`)),
          r.kind === "invited" ? null : button(`approve-${r.username}`, t("club.approve"), () => post(`${base}/approve`), "small"),
          button(`reject-${r.username}`, r.kind === "invited" ? t("club.take_back") : t("club.reject"),
            () => post(`${base}/reject`), "secondary small")));
      }
      if (!pending.items.length) items.append(el("li", { class: "muted" }, t("club.no_requests")));
    } catch (error) {
      items.append(el("li", { class: "error" }, errorText(error)));
    }
    return box;
  }

  async function membersSection() {
    const box = el("section", { "aria-labelledby": "club-members" },
      el("h2", { id: "club-members" }, t("club.members")));
    const items = el("ul", { class: "people-list members" });
    const more = el("button", { type: "button", class: "secondary", hidden: true }, t("common.more"));
    box.append(items, more);
    const manager = MANAGERS.has(club.my_role);
    let cursor = null;
    async function load() {
      const query = cursor ? `&cursor=${enc(cursor)}` : "";
      const pageOf = await get(`/api/clubs/${enc(id)}/members?limit=50${query}`);
      for (const m of pageOf.items) {
        const editable = manager && m.role !== "founder" && m.username !== ctx.me.username;
        const roleId = `role-${m.username}`;
        items.append(el("li", { "data-username": m.username },
          el("a", { href: href(`/u/${m.username}`) }, avatar(m, "s"), el("span", { dir: "auto" }, displayName(m))),
          editable
            ? el("span", { class: "member-tools" },
              el("label", { for: roleId, class: "visually-hidden" }, t("club.role_of", { name: displayName(m) })),
              el("select", {
                id: roleId, "data-key": roleId,
                onchange: (e) => act(() => patch(`/api/clubs/${enc(id)}/members/${enc(m.username)}`, { role: e.target.value }), roleId),
              }, ["admin", "leader", "member"].map((r) => el("option", { value: r, selected: r === m.role }, t(`club.role.${r}`)))),
              button(`remove-${m.username}`, t("club.remove"), async () => {
                const yes = await confirmDialog({
                  title: t("club.remove_confirm", { name: displayName(m) }), confirm: t("club.remove"), danger: true,
                });
                return yes ? del(`/api/clubs/${enc(id)}/members/${enc(m.username)}`) : null;
              }, "secondary small"))
            : el("span", { class: "muted small" }, t(`club.role.${m.role}`))));
      }
      cursor = pageOf.next_cursor;
      more.hidden = !cursor;
    }
    more.onclick = () => load().catch((error) => (problem.textContent = errorText(error)));
    try {
      await load();
    } catch (error) {
      items.append(el("li", { class: "error" }, errorText(error)));
    }
    return box;
  }

  function editSection() {
    const status = el("p", { role: "status", class: "muted small" });
    const iconForm = form({ "aria-label": t("club.icon") }, async (data) => {
      const file = data.get("icon");
      if (!file || !file.size) return;
      const body = new FormData();
      body.append("file", file);
      club = await api("PUT", `/api/clubs/${enc(id)}/icon`, body);
      show("edit-club");
    },
    field("icon", "club.icon", { type: "file", accept: "image/png,image/jpeg,image/webp" }),
    el("button", { type: "submit", class: "secondary" }, t("profile.upload")));
    const details = form({ "aria-label": t("club.edit") }, async (data) => {
      club = await patch(`/api/clubs/${enc(id)}`, {
        name: String(data.get("name") || "").trim(),
        description: String(data.get("description") || "").trim(),
        rules: rulesFrom(data.get("rules")),
        policy: data.get("policy"),
      });
      show("edit-club");
    },
    field("name", "club.name", { maxlength: "50", value: club.name, required: true }),
    el("div", { class: "field" },
      el("label", { for: "description" }, t("club.description")),
      el("textarea", { id: "description", name: "description", rows: "3", maxlength: "300" }, club.description)),
    el("div", { class: "field" },
      el("label", { for: "rules" }, t("club.rules_one_per_line")),
      el("textarea", { id: "rules", name: "rules", rows: "4" }, club.rules.join("\n"))),
    policySelect("policy", club.policy),
    el("button", { type: "submit" }, t("profile.save")));
    return el("details", { class: "settings", "data-key": "edit-club" },
      el("summary", {}, t("club.edit")), iconForm, details, status);
  }

  async function show(focusKey) {
    const role = club.my_role;
    const sections = [];
    if (MANAGERS.has(role)) sections.push(await requestsSection());
    sections.push(await membersSection());
    if (!alive) return;
    main.replaceChildren(el("section", { class: "card club" },
      el("p", {}, el("a", { href: href("/clubs") }, `${backArrow()} ${t("clubs.title")}`)),
      el("div", { class: "profile-head" }, clubIcon(club, "xl"),
        el("div", {},
          el("h1", { dir: "auto" }, club.name),
          el("p", { class: "muted small" },
            tn("club.members_count", club.members), " · ", tn("club.followers_count", club.followers),
            " · ", t(`club.policy.${club.policy}`)))),
      club.description ? el("p", { class: "bio", dir: "auto" }, club.description) : null,
      club.rules.length ? el("section", { "aria-labelledby": "club-rules" },
        el("h2", { id: "club-rules" }, t("club.rules")),
        el("ol", { class: "rules" }, club.rules.map((r) => el("li", { dir: "auto" }, r)))) : null,
      club.founder ? el("p", { class: "muted small" }, t("club.founded_by"), " ",
        el("a", { href: href(`/u/${club.founder.username}`) }, `@${club.founder.username}`)) : null,
      standing() ? el("p", { class: "badge" }, standing()) : null,
      actions(),
      problem,
      HOSTS.has(role) ? startForm({ club }) : null,
      MANAGERS.has(role)
        ? usernameForm("invite_username", "club.invite", "club.invite_button", `/api/clubs/${enc(id)}/invitations`, "club.invited")
        : MEMBERS.has(role)
          ? usernameForm("nominate_username", "club.nominate", "club.nominate_button", `/api/clubs/${enc(id)}/nominations`, "club.nominated")
          : null,
      role === "founder" ? editSection() : null,
      ...sections,
      el("p", { class: "muted small" }, t("club.share"), " ", el("a", { href: club.url, dir: "ltr" }, club.url))));
    if (focusKey) main.querySelector(`[data-key="${CSS.escape(focusKey)}"]`)?.focus();
  }

  get(`/api/clubs/${enc(id)}`).then((c) => {
    club = c;
    if (alive) show();
  }, (error) => {
    if (alive) main.replaceChildren(el("p", { class: "error", role: "alert" }, errorText(error)));
  });
  return () => {
    alive = false;
  };
}

