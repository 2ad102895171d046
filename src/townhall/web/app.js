// The minimal Townhall client: sign in with an emailed code, the waitlist, invitations.
const app = document.getElementById("app");

async function api(method, path, body) {
  const response = await fetch(path, {
    method,
    headers: body ? { "Content-Type": "application/json" } : {},
    body: body ? JSON.stringify(body) : undefined,
    credentials: "same-origin",
  });
  const data = await response.json().catch(() => ({}));
  if (!response.ok) {
    const error = new Error(data.error?.message || `HTTP ${response.status}`);
    error.code = data.error?.code;
    throw error;
  }
  return data;
}

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value);
  }
  for (const child of children) node.append(child);
  return node;
}

function field(id, label, type = "text", extra = {}) {
  return [el("label", { for: id }, label), el("input", { id, name: id, type, ...extra })];
}

function form(onSubmit, ...children) {
  const errorLine = el("p", { class: "error", role: "alert" });
  const node = el("form", {
    onsubmit: async (event) => {
      event.preventDefault();
      errorLine.textContent = "";
      try { await onSubmit(new FormData(node)); } catch (error) { errorLine.textContent = error.message; }
    },
  }, ...children, errorLine);
  return node;
}

const inviteToken = location.pathname.startsWith("/invite/") ? location.pathname.slice(8) : null;

function showEmail() {
  app.replaceChildren(el("section", {},
    el("h1", {}, "Sign in"),
    el("p", { class: "muted" }, "We email you a one-time code. No password."),
    form(async (data) => {
      const email = data.get("email");
      await api("POST", "/api/auth/code", { email });
      showCode(email, false);
    }, ...field("email", "Email", "email", { required: "", autocomplete: "email" }),
      el("button", { type: "submit" }, "Send me a code"))));
  app.querySelector("input").focus();
}

function showCode(email, needUsername) {
  const extra = needUsername
    ? field("username", "Choose a username", "text", { required: "", pattern: "[a-z0-9_]{3,20}" })
    : [];
  app.replaceChildren(el("section", {},
    el("h1", {}, "Check your email"),
    el("p", {}, `We sent a code to ${email}.`),
    form(async (data) => {
      const body = { email, code: data.get("code"), session: "cookie" };
      if (needUsername) body.username = data.get("username");
      if (inviteToken) body.invite = inviteToken;
      try {
        await api("POST", "/api/auth/verify", body);
      } catch (error) {
        if (error.code === "username_required") return showCode(email, true);
        throw error;
      }
      history.replaceState(null, "", "/");
      await start();
    }, ...field("code", "Code", "text", { required: "", inputmode: "numeric", autocomplete: "one-time-code" }),
      ...extra, el("button", { type: "submit" }, "Sign in"))));
  app.querySelector("input").focus();
}

async function showHome(me) {
  const parts = [el("section", {},
    el("h1", {}, me.display_name || `@${me.username}`),
    el("p", { class: "muted" }, `@${me.username} · ${me.email}`),
    el("button", { class: "secondary", onclick: async () => { await api("POST", "/api/auth/signout"); start(); } }, "Sign out"))];
  if (me.status === "waitlisted") {
    parts.push(el("section", {}, el("h2", {}, "You're on the list"),
      el("p", {}, `Your username @${me.username} is reserved. A member can let you in, or an operator will approve you.`)));
  } else {
    parts.push(await invitesSection());
  }
  app.replaceChildren(...parts);
}

async function invitesSection() {
  const { invites_left: left, invites } = await api("GET", "/api/invites");
  const result = el("p", { role: "status" });
  const list = el("ul", {}, ...invites.map((i) => el("li", {}, `${i.email || "link"} — ${i.status}`)));
  return el("section", {},
    el("h2", {}, "Invitations"),
    el("p", {}, `You have ${left} invite${left === 1 ? "" : "s"} left.`),
    form(async (data) => {
      const email = data.get("email") || null;
      const sent = await api("POST", "/api/invites", { email });
      result.replaceChildren(email ? `Invite sent to ${email}.` : "Share this link once: ", email ? "" : el("code", {}, sent.link));
      list.prepend(el("li", {}, `${email || "link"} — pending`));
    }, ...field("email", "Invite by email (leave empty for a link)", "email"),
      el("button", { type: "submit" }, "Invite")),
    result, list);
}

async function start() {
  try {
    await showHome(await api("GET", "/api/me"));
  } catch (error) {
    if (error.code === "not_signed_in") showEmail();
    else app.replaceChildren(el("p", { class: "error" }, error.message));
  }
}

start();
