// "Blocked people" (#/settings/blocked): the people one blocked, most recent first, each
// with Unblock (GET /api/me/blocks, DELETE /api/users/{username}/block).
import { enc, get } from "../api.js";
import { formatDate, t } from "../i18n.js";
import { href } from "../router.js";
import { unblock } from "../safety.js";
import { avatar, backArrow, displayName, el, errorText, isolate } from "../ui.js";

export function render(main) {
  let alive = true;
  let cursor = null;
  const list = el("ul", { class: "people-list blocked-list", "aria-busy": "true" });
  const problem = el("p", { class: "error", role: "alert" });
  const more = el("button", { type: "button", class: "secondary", hidden: true, onclick: () => load() }, t("common.more"));

  function empty() {
    if (!list.querySelector("li[data-username]") && !list.querySelector(".empty")) {
      list.append(el("li", { class: "muted empty" }, t("blocked.none")));
    }
  }

  function row(p) {
    const name = displayName(p);
    const item = el("li", { "data-username": p.username },
      el("a", { href: href(`/u/${p.username}`) }, avatar(p, "s"),
        el("span", { dir: "auto" }, name),
        p.display_name ? el("span", { class: "muted", dir: "ltr" }, ` @${p.username}`) : null),
      el("span", { class: "muted small" }, t("blocked.since", { date: formatDate(p.since) })),
      el("button", {
        type: "button", class: "secondary small", "data-key": `unblock-${p.username}`,
        "aria-label": t("blocked.unblock_person", { name: isolate(name) }),
        onclick: async () => {
          problem.textContent = "";
          try {
            await unblock(p.username, name);
            item.remove();
            empty();
            main.querySelector("h1")?.focus();
          } catch (error) {
            problem.textContent = errorText(error);
          }
        },
      }, t("block.unblock")));
    return item;
  }

  async function load() {
    try {
      const query = cursor ? `&cursor=${enc(cursor)}` : "";
      const page = await get(`/api/me/blocks?limit=50${query}`);
      if (!alive) return;
      list.append(...page.items.map(row));
      empty();
      cursor = page.next_cursor;
      more.hidden = !cursor;
    } catch (error) {
      if (alive) problem.textContent = errorText(error);
    }
    list.setAttribute("aria-busy", "false");
  }

  main.replaceChildren(el("section", { class: "card narrow" },
    el("p", {}, el("a", { href: href("/settings") }, `${backArrow()} ${t("settings.title")}`)),
    el("h1", { tabindex: "-1" }, t("blocked.title")),
    el("p", { class: "muted small" }, t("blocked.explain")),
    problem, list, more));
  load();
  return () => {
    alive = false;
  };
}
