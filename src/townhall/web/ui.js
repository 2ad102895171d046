// Small DOM helpers shared by the views.
import { has, t } from "./i18n.js";

/** el("button", {class: "x", onclick: fn, "aria-label": "..."}, child, ...) */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on") && typeof value === "function") {
      node.addEventListener(key.slice(2), value);
    } else if (key === "class") {
      node.className = value;
    } else if (value === true) {
      node.setAttribute(key, "");
    } else {
      node.setAttribute(key, value);
    }
  }
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    node.append(child instanceof Node ? child : String(child));
  }
  return node;
}

/** Say something to screen readers through the page's polite live region. */
export function announce(text) {
  const region = document.getElementById("announcer");
  if (!region) return;
  region.textContent = "";
  // A fresh text node after a tick is read even when the text repeats.
  setTimeout(() => {
    region.textContent = text;
  }, 50);
}

/** The user-facing text for an API error: its code's translation, or a generic line. */
export function errorText(error) {
  const code = error && error.code;
  if (code && has(`error.${code}`)) return t(`error.${code}`, error.extra || {});
  return t("error.generic");
}

/** A short-lived message at the bottom of the screen (also announced). */
export function toast(content, { timeout = 6000 } = {}) {
  const box = document.getElementById("toasts");
  const item = el("div", { class: "toast", role: "status" }, content);
  box.append(item);
  setTimeout(() => item.remove(), timeout);
}

export function initials(person) {
  const name = (person.display_name || person.username || "?").trim();
  const parts = name.split(/\s+/).filter(Boolean);
  const letters = parts.length > 1 ? parts[0][0] + parts[1][0] : name.slice(0, 2);
  return letters.toUpperCase();
}

/** A round picture, or initials on a colour derived from the username. */
export function avatar(person, size = "m") {
  const hue = [...(person.username || "")].reduce((h, c) => (h * 31 + c.charCodeAt(0)) % 360, 7);
  const node = el("span", { class: `avatar avatar-${size}`, "aria-hidden": "true" });
  // Through the CSSOM: the content security policy refuses style="" attributes.
  node.style.setProperty("--hue", String(hue));
  if (person.avatar_url) node.append(el("img", { src: person.avatar_url, alt: "" }));
  else node.append(initials(person));
  return node;
}

const RTL_CHARS = /[\u0590-\u08ff\ufb1d-\ufdff\ufe70-\ufefc]/;

/**
 * A name or handle to put inside a translated sentence, kept in its own direction: in a
 * right-to-left page (or for a right-to-left name) it is wrapped in Unicode isolates, so
 * "@tess" does not come out as "tess@" and punctuation stays where the sentence put it.
 */
export function isolate(text) {
  const value = String(text);
  if (document.documentElement.dir !== "rtl" && !RTL_CHARS.test(value)) return value;
  return `\u2068${value}\u2069`;
}

/** The arrow of a "back" link: it points the way the page reads from. */
export function backArrow() {
  return document.documentElement.dir === "rtl" ? "→" : "←";
}

/** "@username", isolated for use inside a sentence. */
export const handle = (username) => isolate(`@${username}`);

export function displayName(person) {
  return person.display_name || `@${person.username}`;
}

/** A form whose submit handler's errors land in its alert line. */
export function form(attrs, onSubmit, ...children) {
  const errorLine = el("p", { class: "error", role: "alert" });
  const node = el("form", {
    ...attrs,
    onsubmit: async (event) => {
      event.preventDefault();
      errorLine.textContent = "";
      const buttons = node.querySelectorAll("button[type=submit]");
      buttons.forEach((b) => (b.disabled = true));
      try {
        await onSubmit(new FormData(node), node);
      } catch (error) {
        errorLine.textContent = errorText(error);
      } finally {
        buttons.forEach((b) => (b.disabled = false));
      }
    },
  }, ...children, errorLine);
  return node;
}

/** A labelled input: [label, input]. */
export function field(id, labelKey, attrs = {}) {
  return el("div", { class: "field" },
    el("label", { for: id }, t(labelKey)),
    el(attrs.tag || "input", { id, name: id, type: "text", ...attrs, tag: undefined }));
}

/**
 * Re-render a container with as little churn as possible: children equal to what is shown
 * are kept (so a button being clicked is not swapped under the pointer), open <details>
 * stay open, and keyboard focus returns to the element with the same data-key.
 */
export function replaceKeepingFocus(container, ...nodes) {
  const next = nodes.filter((n) => n !== null && n !== undefined && n !== false)
    .map((n) => (n instanceof Node ? n : document.createTextNode(String(n))));
  for (const details of container.querySelectorAll("details[data-key][open]")) {
    for (const fresh of next) {
      const twin = fresh.matches?.(`details[data-key="${CSS.escape(details.dataset.key)}"]`)
        ? fresh
        : fresh.querySelector?.(`details[data-key="${CSS.escape(details.dataset.key)}"]`);
      if (twin) twin.open = true;
    }
  }
  const active = document.activeElement;
  const key = active && container.contains(active) ? active.dataset.key : null;
  const old = [...container.childNodes];
  const aligned = old.length === next.length &&
    next.every((node, i) => node === old[i] || node.parentNode !== container);
  if (aligned) {
    next.forEach((node, i) => {
      if (node !== old[i] && !old[i].isEqualNode(node)) container.replaceChild(node, old[i]);
    });
  } else {
    container.replaceChildren(...next);
  }
  if (key && !container.contains(active)) {
    const again = container.querySelector(`[data-key="${CSS.escape(key)}"]`);
    if (again) again.focus();
  }
}

let dialogs = 0;

/**
 * A modal dialog of its own, opened at once: focus moves into it, Escape closes it, and it
 * is removed when closed. Every such dialog closes when the page changes (closeDialogs).
 */
export function modal(build) {
  const id = `dialog-${++dialogs}`;
  const node = el("dialog", { class: "sheet transient", "aria-labelledby": id });
  node.append(...[build(id, () => node.close())].flat().filter(Boolean));
  node.addEventListener("close", () => node.remove());
  document.body.append(node);
  node.showModal();
  return node;
}

/** Close every dialog opened with modal() (the page is changing). */
export function closeDialogs() {
  for (const node of document.querySelectorAll("dialog.transient")) node.close();
}

/**
 * Ask before doing something that matters, in the page (never the browser's confirm()):
 * resolves true when the person confirms, false when they cancel or press Escape. The
 * safe answer has the focus.
 */
export function confirmDialog({ title, text = "", confirm, danger = false }) {
  return new Promise((resolve) => {
    let answer = false;
    const node = modal((id, close) => [
      el("h2", { id }, title),
      text ? el("p", {}, text) : null,
      el("div", { class: "actions" },
        el("button", {
          type: "button", class: danger ? "danger" : "", "data-key": "confirm-yes",
          onclick: () => {
            answer = true;
            close();
          },
        }, confirm),
        el("button", { type: "button", class: "secondary", "data-key": "confirm-no", autofocus: true, onclick: close },
          t("common.cancel"))),
    ]);
    node.addEventListener("close", () => resolve(answer));
  });
}
