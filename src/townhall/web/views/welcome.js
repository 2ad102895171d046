// Onboarding (#/welcome), shown once a new member is in: their name and a photo (cropped to a
// square in the page, then sent to PUT /api/me/avatar), the person who let them in (whom
// the server already made them follow), and people to follow. Every step can be skipped.
import { api, enc, get, patch } from "../api.js";
import { t } from "../i18n.js";
import { go, href } from "../router.js";
import { avatar, el, errorText, handle } from "../ui.js";
import { fillSuggestions, followButton } from "./search.js";

const VIEW = 280; // the crop square on screen, in CSS pixels
const OUT = 512; // the square sent to the server, which resizes it again
const STEP = 10; // pixels an arrow key moves the picture

/** Where onboarding ends: the page a share link or an invitation meant, else the hallway. */
function finish(ctx) {
  const next = ctx.next || "/";
  ctx.next = null;
  go(next);
}

export function render(main, ctx, route) {
  if (route.params[0] === "people") return people(main, ctx);
  return profileStep(main, ctx);
}

/** A square crop of an image file: drag (or arrow keys) to move, a slider to zoom. */
export async function cropper(file) {
  const url = URL.createObjectURL(file);
  const img = new Image();
  img.src = url;
  try {
    await img.decode();
  } finally {
    URL.revokeObjectURL(url);
  }
  const ratio = window.devicePixelRatio || 1;
  const canvas = el("canvas", {
    class: "crop", width: String(VIEW * ratio), height: String(VIEW * ratio), tabindex: "0",
    role: "img", "aria-label": t("welcome.crop_label"),
  });
  const zoom = el("input", {
    id: "crop-zoom", type: "range", min: "1", max: "3", step: "0.01", value: "1",
  });
  const cover = Math.max(VIEW / img.naturalWidth, VIEW / img.naturalHeight);
  let dx = 0;
  let dy = 0;

  function geometry(size) {
    const k = size / VIEW;
    const scale = cover * Number(zoom.value) * k;
    const w = img.naturalWidth * scale;
    const h = img.naturalHeight * scale;
    // Keep the square covered: the picture never leaves a gap at an edge.
    dx = Math.min(Math.max(dx, (VIEW - w / k) / 2), (w / k - VIEW) / 2);
    dy = Math.min(Math.max(dy, (VIEW - h / k) / 2), (h / k - VIEW) / 2);
    return { x: (size - w) / 2 + dx * k, y: (size - h) / 2 + dy * k, w, h };
  }

  function draw() {
    const g = geometry(canvas.width);
    const c = canvas.getContext("2d");
    c.clearRect(0, 0, canvas.width, canvas.height);
    c.drawImage(img, g.x, g.y, g.w, g.h);
  }

  let drag = null;
  canvas.addEventListener("pointerdown", (e) => {
    drag = { x: e.clientX - dx, y: e.clientY - dy };
    canvas.setPointerCapture(e.pointerId);
  });
  canvas.addEventListener("pointermove", (e) => {
    if (!drag) return;
    dx = e.clientX - drag.x;
    dy = e.clientY - drag.y;
    draw();
  });
  canvas.addEventListener("pointerup", () => {
    drag = null;
  });
  canvas.addEventListener("keydown", (e) => {
    const moves = { ArrowLeft: [-STEP, 0], ArrowRight: [STEP, 0], ArrowUp: [0, -STEP], ArrowDown: [0, STEP] };
    const move = moves[e.key];
    if (!move) return;
    e.preventDefault();
    dx += move[0];
    dy += move[1];
    draw();
  });
  zoom.addEventListener("input", draw);
  draw();

  return {
    node: el("div", { class: "cropper" }, canvas,
      el("div", { class: "field" }, el("label", { for: "crop-zoom" }, t("welcome.zoom")), zoom),
      el("p", { class: "muted small" }, t("welcome.crop_help"))),
    /** The square as it is shown, as a PNG of OUT × OUT pixels. */
    blob() {
      const out = el("canvas", { width: String(OUT), height: String(OUT) });
      const g = geometry(OUT);
      out.getContext("2d").drawImage(img, g.x, g.y, g.w, g.h);
      return new Promise((resolve) => out.toBlob(resolve, "image/png"));
    },
  };
}

function profileStep(main, ctx) {
  const me = ctx.me;
  let crop = null;
  const picture = el("div", { class: "avatar-edit" }, avatar(me, "xl"));
  const problem = el("p", { class: "error", role: "alert" });
  const name = el("input", {
    id: "welcome-name", name: "display_name", value: me.display_name || "", autocomplete: "name",
    maxlength: "50", required: true,
  });
  const file = el("input", { id: "welcome-photo", type: "file", accept: "image/png,image/jpeg,image/webp" });
  file.addEventListener("change", async () => {
    problem.textContent = "";
    const chosen = file.files && file.files[0];
    if (!chosen) return;
    try {
      crop = await cropper(chosen);
      picture.replaceChildren(crop.node);
      crop.node.querySelector("canvas").focus();
    } catch {
      crop = null;
      problem.textContent = t("welcome.photo_unreadable");
    }
  });

  const save = el("button", { type: "submit" }, t("welcome.continue"));
  const formNode = el("form", {
    "aria-label": t("welcome.title"),
    onsubmit: async (event) => {
      event.preventDefault();
      problem.textContent = "";
      save.disabled = true;
      try {
        const display = name.value.trim();
        if (display !== (me.display_name || "")) ctx.setMe(await patch("/api/me", { display_name: display }));
        if (crop) {
          const body = new FormData();
          body.append("file", await crop.blob(), "avatar.png");
          ctx.setMe(await api("PUT", "/api/me/avatar", body));
        }
        go("/welcome/people");
      } catch (error) {
        problem.textContent = errorText(error);
      } finally {
        save.disabled = false;
      }
    },
  },
  el("div", { class: "field" }, el("label", { for: "welcome-name" }, t("welcome.name")), name,
    el("p", { class: "muted small" }, t("welcome.name_help"))),
  el("div", { class: "field" }, el("label", { for: "welcome-photo" }, t("welcome.photo")), file),
  picture,
  problem,
  el("div", { class: "actions" }, save,
    el("button", { type: "button", class: "link", onclick: () => go("/welcome/people") }, t("welcome.skip"))));

  main.replaceChildren(el("section", { class: "card narrow welcome" },
    el("h1", {}, t("welcome.title")),
    el("p", { class: "lead" }, t("welcome.lead", { username: handle(me.username) })),
    formNode));
  name.focus();
  return null;
}

function people(main, ctx) {
  let alive = true;
  const inviter = el("div", { class: "inviter" });
  const list = el("ul", { class: "people-list", "aria-busy": "true" });
  const problem = el("p", { class: "error", role: "alert" });
  main.replaceChildren(el("section", { class: "card narrow welcome" },
    el("h1", {}, t("welcome.people_title")),
    inviter,
    el("h2", {}, t("welcome.suggested")),
    list, problem,
    el("div", { class: "actions" },
      el("button", { type: "button", "data-key": "welcome-done", onclick: () => finish(ctx) }, t("welcome.done")),
      el("a", { class: "button secondary", href: href("/search") }, t("welcome.search")))));
  main.querySelector("h1").focus?.();

  (async () => {
    try {
      const mine = await get(`/api/users/${enc(ctx.me.username)}`);
      if (!alive || !mine.nominated_by) return;
      const who = await get(`/api/users/${enc(mine.nominated_by.username)}`);
      if (!alive) return;
      const line = el("p", {}, "");
      const say = () => {
        line.textContent = who.you_follow
          ? t("welcome.following_inviter", { name: handle(who.username) })
          : t("welcome.inviter", { name: handle(who.username) });
      };
      say();
      inviter.replaceChildren(el("div", { class: "person-line" }, avatar(who, "m"), line, followButton(who, say)));
    } catch {
      // Who let them in is a nicety; the suggestions below are the point.
    }
  })();
  fillSuggestions(list, 10).then(
    () => alive && list.setAttribute("aria-busy", "false"),
    (error) => {
      if (alive) problem.textContent = errorText(error);
    },
  );
  return () => {
    alive = false;
  };
}
