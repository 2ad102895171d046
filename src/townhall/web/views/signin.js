// Sign in with an emailed code; first-timers choose a username; an invite link lets them in.
import { enc, get, post } from "../api.js";
import { t } from "../i18n.js";
import { el, field, form } from "../ui.js";

/** What is wrong with a username, as the server words it (problem), or null. */
export function usernameProblem(name) {
  if (/[^a-z0-9_]/.test(name)) return "characters";
  if (name.length < 3) return "too_short";
  if (name.length > 20) return "too_long";
  return null;
}

export function render(main, ctx) {
  let alive = true;
  const invited = el("p", { class: "invited" });
  if (ctx.inviteToken) {
    invited.textContent = t("signin.invite_link");
    get(`/api/invites/link/${enc(ctx.inviteToken)}`).then(
      ({ inviter }) => {
        if (alive) invited.textContent = t("signin.invited_by", { name: `@${inviter.username}` });
      },
      () => {
        if (alive) invited.textContent = t("signin.invite_unusable");
      },
    );
  }

  function emailStep(email = "") {
    main.replaceChildren(el("section", { class: "card narrow" },
      el("h1", {}, t("signin.title")),
      ctx.inviteToken ? invited : null,
      el("p", { class: "muted" }, t("signin.explain")),
      form({ "aria-label": t("signin.title") }, async (data) => {
        const address = String(data.get("email")).trim();
        await post("/api/auth/code", { email: address });
        codeStep(address, false);
      },
      field("email", "signin.email", { type: "email", required: true, autocomplete: "email", value: email }),
      el("button", { type: "submit" }, t("signin.send_code")))));
    main.querySelector("input").focus();
  }

  function codeStep(email, needUsername) {
    // No pattern attribute: the browser would say only "Please match the requested format".
    // The rule is checked here and by the server, and said in words (usernameProblem).
    const username = needUsername
      ? [field("username", "signin.username", {
          required: true, autocomplete: "username", autocapitalize: "none", spellcheck: "false",
          maxlength: "40", dir: "ltr", "aria-describedby": "username-help username-problem",
        }), el("p", { id: "username-help", class: "muted small" }, t("signin.username_help")),
        el("p", { id: "username-problem", class: "error small", role: "alert" })]
      : [];
    main.replaceChildren(el("section", { class: "card narrow" },
      el("h1", {}, t("signin.check_email")),
      el("p", {}, t("signin.code_sent", { email })),
      form({ "aria-label": t("signin.check_email") }, async (data) => {
        const body = { email, code: String(data.get("code")).trim(), session: "cookie" };
        if (needUsername) {
          body.username = String(data.get("username")).trim().replace(/^@/, "").toLowerCase();
          const wrong = usernameProblem(body.username);
          const line = main.querySelector("#username-problem");
          line.textContent = wrong ? t(`signin.username_${wrong}`, { min: 3, max: 20 }) : "";
          if (wrong) {
            main.querySelector("#username").setAttribute("aria-invalid", "true");
            main.querySelector("#username").focus();
            return;
          }
        }
        if (ctx.inviteToken) body.invite = ctx.inviteToken;
        let result;
        try {
          result = await post("/api/auth/verify", body);
        } catch (error) {
          if (error.code === "invalid_username" && error.extra?.problem && needUsername) {
            main.querySelector("#username-problem").textContent =
              t(`signin.username_${error.extra.problem}`, error.extra);
            main.querySelector("#username").focus();
            return;
          }
          if (error.code === "username_required") {
            codeStep(email, true);
            main.querySelector("#code").value = body.code;
            main.querySelector("#username").focus();
            return;
          }
          throw error;
        }
        await ctx.signedIn({ created: Boolean(result?.created) });
      },
      field("code", "signin.code", {
        required: true, inputmode: "numeric", autocomplete: "one-time-code", maxlength: "12",
      }),
      username,
      el("button", { type: "submit" }, t("signin.submit")),
      el("button", { type: "button", class: "link", onclick: () => emailStep(email) }, t("signin.other_email")))));
    main.querySelector("input").focus();
  }

  emailStep();
  return () => {
    alive = false;
  };
}

/** An operator's one-time sign-in link: following it signs no one in; the person confirms. */
export function renderLink(main, ctx) {
  const leave = () => {
    ctx.linkToken = null;
    history.replaceState(null, "", `/${location.hash}`);
  };
  main.replaceChildren(el("section", { class: "card narrow" },
    el("h1", {}, t("signin.link_title")),
    el("p", { class: "muted" }, t("signin.link_explain")),
    form({ "aria-label": t("signin.link_title") }, async () => {
      await post("/api/auth/link", { token: ctx.linkToken, session: "cookie" });
      leave();
      await ctx.signedIn();
    },
    el("button", { type: "submit" }, t("signin.link_confirm")),
    el("button", { type: "button", class: "link", onclick: () => { leave(); ctx.show(); } },
      t("signin.link_cancel")))));
  main.querySelector("button").focus();
  return () => {};
}
