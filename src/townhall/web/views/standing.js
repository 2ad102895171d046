// A suspended or banned account (docs/safety.md): the app says so and what staff told the
// person; everything else is refused by the server until the suspension ends.
import { post } from "../api.js";
import { formatFullDateTime, t } from "../i18n.js";
import { el } from "../ui.js";

/** Is the signed-in account suspended (until a time still to come) or banned? */
export function restricted(me) {
  return Boolean(me && (me.banned || (me.suspended_until && new Date(me.suspended_until) > new Date())));
}

export function render(main, ctx) {
  const me = ctx.me;
  main.replaceChildren(el("section", { class: "card narrow" },
    el("h1", {}, me.banned ? t("standing.banned_title") : t("standing.suspended_title")),
    el("p", { class: "lead" }, me.banned
      ? t("standing.banned")
      : t("standing.suspended", { time: formatFullDateTime(me.suspended_until) })),
    el("p", {}, t("standing.explain")),
    el("div", { class: "actions" },
      me.banned ? null : el("button", { type: "button", onclick: () => ctx.signedIn() }, t("waitlist.check")),
      el("button", {
        type: "button", class: "secondary", onclick: async () => {
          await post("/api/auth/signout").catch(() => {});
          await ctx.signedIn();
        },
      }, t("nav.signout")))));
  return null;
}
