// The waitlist: the username is reserved; a member or an operator lets the person in.
import { post } from "../api.js";
import { t } from "../i18n.js";
import { el } from "../ui.js";

export function render(main, ctx) {
  const me = ctx.me;
  main.replaceChildren(el("section", { class: "card narrow waitlist" },
    el("h1", {}, t("waitlist.title")),
    el("p", { class: "lead" }, t("waitlist.reserved", { username: `@${me.username}` })),
    el("p", {}, t("waitlist.explain")),
    el("div", { class: "actions" },
    el("button", { type: "button", onclick: () => ctx.signedIn() }, t("waitlist.check")),
    el("button", {
      type: "button", class: "secondary", onclick: async () => {
        await post("/api/auth/signout").catch(() => {});
        await ctx.signedIn();
      },
    }, t("nav.signout")))));
  return null;
}
