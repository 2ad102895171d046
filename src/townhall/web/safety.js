// Safety for everyone (docs/safety.md): reporting a person or a room, blocking and
// unblocking, and what this server keeps of a live room's audio for reports.
import { del, enc, get, post, put } from "./api.js";
import { t, tn } from "./i18n.js";
import { announce, confirmDialog, el, form, isolate, modal, toast } from "./ui.js";

/** The categories of POST /api/reports, in the order the form offers them. */
export const REPORT_CATEGORIES = [
  "harassment", "hate", "threats", "sexual_content", "spam_or_scam", "impersonation",
  "self_harm", "illegal", "other",
];
const TEXT_MAX = 2000;

let policyPromise = null;

/** GET /api/safety, asked once: {report_categories, incident_audio: {buffer_seconds,
 * retention_days}}; null while it cannot be read. */
export function safetyPolicy() {
  if (!policyPromise) {
    policyPromise = get("/api/safety").catch(() => {
      policyPromise = null; // ask again next time
      return null;
    });
  }
  return policyPromise;
}

/**
 * The room's notice about its audio, worded from the server's settings: {summary, text}.
 * With no buffer (buffer_seconds 0) nothing at all is kept; before the settings are known
 * only the summary, which is true either way, is given.
 */
export function audioNotice(policy) {
  const audio = policy && policy.incident_audio;
  if (audio && audio.buffer_seconds === 0) {
    return { summary: t("room.not_recorded"), text: t("room.not_recorded_detail") };
  }
  if (!audio) return { summary: t("room.recorded_only_on_report"), text: "" };
  const minutes = Math.max(1, Math.round(audio.buffer_seconds / 60));
  return {
    summary: t("room.recorded_only_on_report"),
    text: t("room.incident_buffer", {
      minutes: tn("room.buffer_minutes", minutes),
      days: tn("room.retention_days", audio.retention_days),
    }),
  };
}

/**
 * The report form in a dialog: a person ({user}), a room ({room}) or a person in a room
 * (both). `name` is how the person or the room is shown. Resolves when the dialog closes.
 */
export function reportDialog({ user = null, room = null, name = "" }) {
  return new Promise((resolve) => {
    const node = modal((id, close) => {
      const title = t(user ? "report.title_person" : "report.title_room", { name: isolate(name) });
      const category = el("select", { id: "report-category", name: "category", required: true },
        el("option", { value: "" }, t("report.choose")),
        REPORT_CATEGORIES.map((c) => el("option", { value: c }, t(`report.category_${c}`))));
      // Said only when this server does keep a live room's audio for reports.
      const audioLine = el("p", { class: "muted small" });
      safetyPolicy().then((p) => {
        if (p && p.incident_audio.buffer_seconds > 0) audioLine.textContent = t("report.room_audio");
      });
      const body = form({ class: "report-form", "aria-labelledby": id }, async (data) => {
        // The select is required: the browser does not submit the form without a category.
        const payload = { category: String(data.get("category")), text: String(data.get("text") || "").trim() };
        if (user) payload.user = user;
        if (room) payload.room = room;
        await post("/api/reports", payload);
        node.replaceChildren(
          el("h2", { id }, t("report.sent_title")),
          el("p", { role: "status" }, t("report.sent")),
          el("div", { class: "actions" },
            el("button", { type: "button", "data-key": "report-done", onclick: close }, t("common.close"))));
        node.querySelector("[data-key=report-done]").focus();
        announce(t("report.sent_title"));
      },
      el("div", { class: "field" }, el("label", { for: "report-category" }, t("report.category")), category),
      el("div", { class: "field" },
        el("label", { for: "report-text" }, t("report.text")),
        el("textarea", { id: "report-text", name: "text", rows: "4", maxlength: String(TEXT_MAX) })),
      el("p", { class: "muted small" }, t("report.anonymous")),
      room ? audioLine : null,
      el("div", { class: "actions" },
        el("button", { type: "submit", "data-key": "report-send" }, t("report.send")),
        el("button", { type: "button", class: "secondary", onclick: close }, t("common.cancel"))));
      return [el("h2", { id }, title), body];
    });
    node.addEventListener("close", () => resolve());
  });
}

/** Block someone after asking; true once blocked. */
export async function block(username, name) {
  const yes = await confirmDialog({
    title: t("block.title", { name: isolate(name) }), text: t("block.explain"), confirm: t("block.confirm"), danger: true,
  });
  if (!yes) return false;
  await put(`/api/users/${enc(username)}/block`);
  toast(t("block.done", { name: isolate(name) }));
  return true;
}

/** Lift a block; true once lifted. */
export async function unblock(username, name) {
  await del(`/api/users/${enc(username)}/block`);
  toast(t("block.lifted", { name: isolate(name) }));
  return true;
}
