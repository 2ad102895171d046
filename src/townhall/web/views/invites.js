// Invitations: what is left, invite by email or as a link, and friends on the waitlist.
import { enc, get, post, put } from "../api.js";
import { formatDate, t, tn } from "../i18n.js";
import { avatar, displayName, el, errorText, field, form } from "../ui.js";

async function sha256(text) {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

export function render(main) {
  let alive = true;
  const left = el("p", { class: "lead" });
  const result = el("div", { role: "status" });
  const sent = el("ul", { class: "invites" });
  const waiting = el("ul", { class: "people-list" });
  const waitingNote = el("p", { class: "muted small" }, t("invites.waitlisted_explain"));

  function invitedLine(i) {
    return el("li", {},
      el("span", {}, i.email || t("invites.a_link")),
      el("span", { class: "muted small" }, ` · ${t(`invites.status.${i.status}`)} · ${formatDate(i.created_at)}`));
  }

  async function load() {
    try {
      const data = await get("/api/invites");
      if (!alive) return;
      left.textContent = tn("invites.left", data.invites_left);
      sent.replaceChildren(...data.invites.map(invitedLine));
    } catch (error) {
      if (alive) left.textContent = errorText(error);
    }
    try {
      const page = await get("/api/me/contacts/waitlisted?limit=100");
      if (!alive) return;
      waiting.replaceChildren(...page.items.map((p) => el("li", {},
        avatar(p, "s"), el("span", {}, `${displayName(p)} @${p.username}`),
        el("button", {
          type: "button", class: "small", "data-key": `let-in-${p.username}`,
          "aria-label": t("invites.let_in_person", { name: displayName(p) }),
          onclick: async (event) => {
            try {
              await post(`/api/waitlist/${enc(p.username)}/let-in`);
              event.target.closest("li").replaceChildren(t("invites.let_in_done", { name: displayName(p) }));
            } catch (error) {
              result.textContent = errorText(error);
            }
          },
        }, t("invites.let_in")))));
      if (!page.items.length) waiting.replaceChildren(el("li", { class: "muted" }, t("invites.waitlisted_none")));
    } catch {
      // the list is a bonus; the page works without it
    }
  }

  const emailForm = form({ "aria-label": t("invites.by_email") }, async (data, node) => {
    const email = String(data.get("invite_email")).trim();
    await post("/api/invites", { email });
    node.reset();
    result.replaceChildren(el("p", {}, t("invites.sent", { email })));
    await load();
  },
  field("invite_email", "invites.email", { type: "email", required: true, autocomplete: "off" }),
  el("button", { type: "submit" }, t("invites.send")));

  // Contacts are matched as hashes (SPEC S2.3): addresses never leave the browser in clear.
  const canHash = Boolean(window.crypto && crypto.subtle);
  const contactsForm = canHash ? form({ "aria-label": t("invites.find_friends") }, async (data) => {
    const addresses = String(data.get("contacts")).split(/[\s,;]+/)
      .map((a) => a.trim().toLowerCase()).filter((a) => a.includes("@"));
    const hashes = await Promise.all([...new Set(addresses)].map(sha256));
    const { shared } = await put("/api/me/contacts", { hashes });
    result.replaceChildren(el("p", {}, tn("invites.shared", shared)));
    await load();
  },
  el("div", { class: "field" },
    el("label", { for: "contacts" }, t("invites.contacts")),
    el("textarea", { id: "contacts", name: "contacts", rows: "3", "aria-describedby": "contacts-help" })),
  el("p", { id: "contacts-help", class: "muted small" }, t("invites.contacts_help")),
  el("button", { type: "submit", class: "secondary" }, t("invites.find_friends"))) : null;

  const linkForm = form({ "aria-label": t("invites.by_link") }, async () => {
    const made = await post("/api/invites", {});
    const input = el("input", { id: "invite-link", readonly: true, value: made.link, "aria-label": t("invites.link_label") });
    result.replaceChildren(el("p", {}, t("invites.link_made")), input,
      el("button", {
        type: "button", class: "secondary small", onclick: async () => {
          try {
            await navigator.clipboard.writeText(made.link);
            result.append(el("p", {}, t("invites.copied")));
          } catch {
            input.select();
          }
        },
      }, t("invites.copy")));
    input.select();
    await load();
  }, el("button", { type: "submit", class: "secondary" }, t("invites.make_link")));

  main.replaceChildren(
    el("section", { class: "card" },
      el("h1", {}, t("invites.title")), left,
      el("h2", {}, t("invites.by_email")), emailForm,
      el("h2", {}, t("invites.by_link")), el("p", { class: "muted small" }, t("invites.link_explain")), linkForm,
      result,
      el("h2", {}, t("invites.sent_title")), sent),
    el("section", { class: "card" },
      el("h2", {}, t("invites.waitlisted_title")), waitingNote, waiting, contactsForm));
  load();
  return () => {
    alive = false;
  };
}
