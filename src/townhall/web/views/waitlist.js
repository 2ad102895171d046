// The waitlist: the username is reserved; a member or an operator lets the person in. Being
// let in arrives live (a waitlist.admitted notification), and the screen becomes the app by
// itself; after a reconnection it asks again, as a notification missed is not resent.
import { enc, post } from "../api.js";
import { t } from "../i18n.js";
import { live } from "../live.js";
import { el } from "../ui.js";

export function render(main, ctx) {
  const me = ctx.me;
  main.replaceChildren(el("section", { class: "card narrow waitlist" },
    el("h1", {}, t("waitlist.title")),
    el("p", { class: "lead" }, t("waitlist.reserved", { username: `@${me.username}` })),
    el("p", {}, t("waitlist.explain")),
    el("p", { class: "muted small" }, t("waitlist.live")),
    el("div", { class: "actions" },
    el("button", { type: "button", onclick: () => ctx.signedIn() }, t("waitlist.check")),
    el("button", {
      type: "button", class: "secondary", onclick: async () => {
        await post("/api/auth/signout").catch(() => {});
        await ctx.signedIn();
      },
    }, t("nav.signout")))));
  let first = true;
  const offNotification = live.onNotification(async (n) => {
    if (n.name !== "waitlist.admitted") return;
    // Seen here as it happens: it does not wait in the inbox as unread news.
    await post(`/api/notifications/${enc(n.id)}/read`).catch(() => {});
    ctx.admitted();
  });
  const offState = live.onState((state) => {
    if (state !== "open") return;
    if (!first) ctx.admitted();
    first = false;
  });
  if (live.state === "open") first = false;
  return () => {
    offNotification();
    offState();
  };
}
