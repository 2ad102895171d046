// Profiles: someone's page, their followers and following, and editing one's own.
import { api, del, enc, get, patch, post, put } from "../api.js";
import { formatDate, t, tn } from "../i18n.js";
import { go, href } from "../router.js";
import { block, reportDialog, unblock } from "../safety.js";
import { avatar, backArrow, displayName, el, errorText, field, form } from "../ui.js";

export function render(main, ctx, route) {
  if (route.name === "edit") return edit(main, ctx);
  if (route.name === "people") return people(main, ctx, route.params[0], route.params[1]);
  return view(main, ctx, route.params[0]);
}

function loading(main) {
  main.replaceChildren(el("p", { class: "muted", role: "status" }, t("common.loading")));
}

function failed(main, error) {
  main.replaceChildren(el("p", { class: "error", role: "alert" }, errorText(error)));
}

function view(main, ctx, username) {
  let alive = true;
  loading(main);
  get(`/api/users/${enc(username)}`).then((p) => alive && show(p), (e) => alive && failed(main, e));

  function show(p) {
    const self = p.username === ctx.me.username;
    const joined = p.joined_at ? t("profile.joined", { date: formatDate(p.joined_at) }) : null;
    const nominated = p.nominated_by
      ? [" · ", t("profile.nominated_by"), " ", el("a", { href: href(`/u/${p.nominated_by.username}`) }, `@${p.nominated_by.username}`)]
      : null;
    const followButton = self || p.you_blocked ? null : el("button", {
      type: "button", "data-key": "follow", "aria-pressed": p.you_follow ? "true" : "false",
      class: p.you_follow ? "secondary" : "",
      onclick: async () => {
        try {
          const rel = p.you_follow
            ? await del(`/api/users/${enc(p.username)}/follow`)
            : await put(`/api/users/${enc(p.username)}/follow`);
          p.followers_count += rel.you_follow === p.you_follow ? 0 : rel.you_follow ? 1 : -1;
          p.you_follow = rel.you_follow;
          show(p);
          main.querySelector("[data-key=follow]").focus();
        } catch (error) {
          problem.textContent = errorText(error);
        }
      },
    }, p.you_follow ? t("profile.unfollow") : t("profile.follow"));
    const problem = el("p", { class: "error", role: "alert" });
    const name = displayName(p);
    const safety = self ? null : el("div", { class: "actions" },
      el("button", {
        type: "button", class: "secondary", "data-key": "report", "aria-haspopup": "dialog",
        onclick: () => reportDialog({ user: p.username, name }),
      }, t("report.person")),
      el("button", {
        type: "button", class: "secondary", "data-key": "block",
        "aria-haspopup": p.you_blocked ? null : "dialog",
        onclick: async () => {
          try {
            const changed = p.you_blocked ? await unblock(p.username, name) : await block(p.username, name);
            if (!changed) return;
            // A block ends follows both ways: read the profile again.
            const fresh = await get(`/api/users/${enc(p.username)}`);
            if (!alive) return;
            show(fresh);
            main.querySelector("[data-key=block]")?.focus();
          } catch (error) {
            problem.textContent = errorText(error);
          }
        },
      }, p.you_blocked ? t("block.unblock") : t("block.block")));
    main.replaceChildren(el("section", { class: "card profile" },
      el("div", { class: "profile-head" }, avatar(p, "xl"),
        el("div", {},
          el("h1", { dir: "auto" }, displayName(p)),
          el("p", { class: "muted", dir: "ltr" }, `@${p.username}`),
          p.verified ? el("p", { class: "badge verified" }, t("profile.verified")) : null,
          p.shield ? el("p", { class: "badge shield" }, "🛡 ", t("profile.shield")) : null,
          p.you_blocked ? el("p", { class: "badge" }, t("block.you_blocked")) : null,
          p.follows_you && !self ? el("p", { class: "badge" }, t("profile.follows_you")) : null)),
      p.bio ? el("p", { class: "bio" }, p.bio) : null,
      el("p", { class: "counts" },
        el("a", { href: href(`/u/${p.username}/followers`) }, tn("profile.followers", p.followers_count)),
        " · ",
        el("a", { href: href(`/u/${p.username}/following`) }, tn("profile.following", p.following_count))),
      joined || nominated ? el("p", { class: "muted small" }, joined, nominated) : null,
      p.status === "waitlisted" ? el("p", { class: "muted" }, t("profile.on_waitlist")) : null,
      el("div", { class: "actions" },
        followButton,
        self ? el("a", { class: "button secondary", href: href("/me/edit") }, t("profile.edit")) : null,
        self ? el("a", { class: "button secondary", href: href("/settings") }, t("settings.title")) : null,
        self ? el("button", {
          type: "button", class: "secondary", onclick: async () => {
            await post("/api/auth/signout").catch(() => {});
            await ctx.signedIn();
          },
        }, t("nav.signout")) : null),
      safety,
      problem));
  }
  return () => {
    alive = false;
  };
}

function people(main, ctx, username, which) {
  let alive = true;
  let cursor = null;
  const list = el("ul", { class: "people-list" });
  const more = el("button", { type: "button", class: "secondary", hidden: true, onclick: () => load() }, t("common.more"));
  main.replaceChildren(el("section", { class: "card" },
    el("p", {}, el("a", { href: href(`/u/${username}`) }, `${backArrow()} @${username}`)),
    el("h1", {}, t(`profile.${which}_title`, { name: `@${username}` })),
    list, more));
  async function load() {
    try {
      const query = cursor ? `?cursor=${enc(cursor)}` : "";
      const page = await get(`/api/users/${enc(username)}/${which}${query}`);
      if (!alive) return;
      list.append(...page.items.map((p) => el("li", {},
        el("a", { href: href(`/u/${p.username}`) }, avatar(p, "s"), el("span", {}, displayName(p)),
          el("span", { class: "muted" }, ` @${p.username}`)))));
      if (!list.children.length) list.append(el("li", { class: "muted" }, t("profile.nobody")));
      cursor = page.next_cursor;
      more.hidden = !cursor;
    } catch (error) {
      if (alive) failed(main, error);
    }
  }
  load();
  return () => {
    alive = false;
  };
}

function edit(main, ctx) {
  const me = ctx.me;
  const picture = el("div", { class: "avatar-edit" }, avatar(me, "xl"));
  const status = el("p", { role: "status" });
  const avatarForm = form({ "aria-label": t("profile.avatar") }, async (data) => {
    const file = data.get("file");
    if (!file || !file.size) return;
    const body = new FormData();
    body.append("file", file);
    ctx.setMe(await api("PUT", "/api/me/avatar", body));
    picture.replaceChildren(avatar(ctx.me, "xl"));
    status.textContent = t("profile.avatar_saved");
  },
  field("file", "profile.avatar", { type: "file", accept: "image/png,image/jpeg,image/webp" }),
  el("button", { type: "submit", class: "secondary" }, t("profile.upload")));

  const details = form({ "aria-label": t("profile.edit") }, async (data) => {
    ctx.setMe(await patch("/api/me", {
      display_name: String(data.get("display_name")).trim(),
      bio: String(data.get("bio")),
      show_nominator: data.get("show_nominator") === "on",
    }));
    status.textContent = t("profile.saved");
    go(`/u/${ctx.me.username}`);
  },
  field("display_name", "profile.name", { value: me.display_name, autocomplete: "name" }),
  el("div", { class: "field" },
    el("label", { for: "bio" }, t("profile.bio")),
    el("textarea", { id: "bio", name: "bio", rows: "4" }, me.bio)),
  el("div", { class: "field check" },
    el("input", { type: "checkbox", id: "show_nominator", name: "show_nominator", checked: me.show_nominator }),
    el("label", { for: "show_nominator" }, t("profile.show_nominator"))),
  el("button", { type: "submit" }, t("profile.save")));

  main.replaceChildren(el("section", { class: "card narrow" },
    el("h1", {}, t("profile.edit")),
    picture, avatarForm, details, status));
  main.querySelector("#display_name").focus();
  return null;
}
