// Account settings: the devices signed in (#/settings/account: sign one out, or all the
// others), the data export and deleting the account; and the language (#/settings/language).
import { del, enc, get } from "../api.js";
import { formatRelative, LANGUAGES, setLanguage, t, currentLanguage } from "../i18n.js";
import { href } from "../router.js";
import { backArrow, confirmDialog, el, errorText, isolate, toast } from "../ui.js";

export function render(main, ctx, route) {
  if (route.name === "settings-language") return language(main);
  return account(main, ctx);
}

function back() {
  return el("p", {}, el("a", { href: href("/settings") }, `${backArrow()} ${t("settings.title")}`));
}

function sessionRow(s, reload, problem, ctx) {
  const label = s.name || t(s.kind === "token" ? "account.api_token" : "account.unknown_device");
  const when = t("account.session_times", {
    created: formatRelative(s.created_at), used: formatRelative(s.last_used_at),
  });
  return el("li", { class: "session", "data-current": s.current ? "true" : "false" },
    el("span", { class: "who" },
      el("span", { dir: "auto" }, label),
      s.current ? el("span", { class: "badge" }, t("account.this_device")) : null,
      el("span", { class: "muted small" }, when)),
    el("button", {
      type: "button", class: "secondary small", "data-key": `revoke-${s.id}`,
      "aria-label": t("account.sign_out_device", { name: isolate(label) }),
      onclick: async () => {
        problem.textContent = "";
        try {
          await del(`/api/me/sessions/${enc(s.id)}`);
          if (s.current) await ctx.signedIn();
          else await reload();
        } catch (error) {
          problem.textContent = errorText(error);
        }
      },
    }, t("account.sign_out")));
}

function account(main, ctx) {
  let alive = true;
  const problem = el("p", { class: "error", role: "alert" });
  const status = el("p", { class: "muted small", role: "status" });
  const list = el("ul", { class: "sessions", "aria-busy": "true" });

  async function reload() {
    const sessions = await get("/api/me/sessions");
    if (!alive) return;
    list.replaceChildren(...sessions.map((s) => sessionRow(s, reload, problem, ctx)));
    list.setAttribute("aria-busy", "false");
    others.hidden = sessions.every((s) => s.current);
  }

  const others = el("button", {
    type: "button", class: "secondary", "data-key": "sign-out-others", hidden: true,
    onclick: async () => {
      problem.textContent = "";
      try {
        await del("/api/me/sessions?keep_current=true");
        status.textContent = t("account.others_signed_out");
        await reload();
      } catch (error) {
        problem.textContent = errorText(error);
      }
    },
  }, t("account.sign_out_others"));

  const confirmField = el("input", {
    id: "delete-confirm", autocomplete: "off", autocapitalize: "none", spellcheck: "false", dir: "ltr",
  });
  const remove = el("button", {
    type: "submit", class: "danger", "data-key": "delete-account",
  }, t("account.delete"));
  const deleteForm = el("form", {
    "aria-label": t("account.delete_title"),
    onsubmit: async (event) => {
      event.preventDefault();
      problem.textContent = "";
      const sure = await confirmDialog({
        title: t("account.delete_confirm_title"), text: t("account.delete_confirm_text"),
        confirm: t("account.delete"), danger: true,
      });
      if (!sure) return;
      try {
        await del("/api/me", { confirm: confirmField.value.trim() });
        await ctx.signedIn();
        toast(t("account.deleted"));
      } catch (error) {
        problem.textContent = errorText(error);
      }
    },
  },
  el("div", { class: "field" },
    el("label", { for: "delete-confirm" }, t("account.delete_type", { username: isolate(ctx.me.username) })),
    confirmField),
  remove);

  main.replaceChildren(el("section", { class: "card narrow settings-account" },
    back(),
    el("h1", {}, t("account.title")),
    el("h2", {}, t("account.devices")),
    el("p", { class: "muted small" }, t("account.devices_explain")),
    list, el("div", { class: "actions" }, others),
    el("h2", {}, t("account.export_title")),
    el("p", { class: "muted small" }, t("account.export_explain")),
    el("p", {}, el("a", { class: "button secondary", href: "/api/me/export", download: "", "data-key": "export" },
      t("account.export"))),
    el("h2", {}, t("account.delete_title")),
    el("p", { class: "muted small" }, t("account.delete_explain")),
    deleteForm,
    problem, status));
  reload().catch((error) => {
    if (alive) problem.textContent = errorText(error);
  });
  return () => {
    alive = false;
  };
}

function language(main) {
  const status = el("p", { class: "muted small", role: "status" });
  const choices = el("fieldset", { class: "languages" }, el("legend", {}, t("settings.language")),
    ...LANGUAGES.map((code) => el("div", { class: "field check" },
      el("input", {
        type: "radio", name: "language", id: `lang-${code}`, value: code,
        checked: code === currentLanguage(), "data-key": `lang-${code}`,
        onchange: () => setLanguage(code, true),
      }),
      // Each language's name is written in that language, whatever the page's.
      el("label", { for: `lang-${code}`, lang: code }, t(`language.${code}`)))));
  main.replaceChildren(el("section", { class: "card narrow" },
    back(), el("h1", {}, t("settings.language")),
    el("p", { class: "muted small" }, t("settings.language_explain")),
    choices, status));
  return null;
}
