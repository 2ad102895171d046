// The staff console (docs/safety.md, docs/web.md): the report queue and the audit log, and
// what its pages share (the action form, labels). Only staff see it; the server refuses
// everyone else whatever this page does.
import { get } from "../api.js";
import { formatFullDateTime, formatNumber, has, t, tn } from "../i18n.js";
import { go, href, withQuery } from "../router.js";
import { REPORT_CATEGORIES } from "../safety.js";
import { confirmDialog, el, errorText, form, handle } from "../ui.js";

export const STAFF_ROLES = new Set(["admin", "trust_safety"]);
const STATUSES = ["open", "closed", "all"];
const AUDIT_ACTIONS = [
  "report.dismiss", "report.resolve", "report.warn", "report.suspend", "report.ban",
  "user.warn", "user.suspend", "user.ban", "user.reinstate", "user.verify", "user.unverify",
  "room.end", "room.remove", "waitlist.approve", "invites.grant", "invite.cancel",
  "invite_tree.cancel", "user.demote",
];
// How long a suspension lasts, in hours.
const DURATIONS = [1, 24, 72, 168, 720, 2160, 8760];

export function isStaff(me) {
  return Boolean(me && STAFF_ROLES.has(me.staff_role));
}

export function render(main, ctx, route) {
  if (!isStaff(ctx.me)) {
    main.replaceChildren(el("section", { class: "card narrow" },
      el("h1", {}, t("staff.title")),
      el("p", { role: "alert" }, t("error.not_staff"))));
    return null;
  }
  if (route.name === "staff-audit") return audit(main, route.query);
  return queue(main, route.query);
}

// --- shared with the report and person pages -------------------------------------------

export const when = (iso) => (iso ? formatFullDateTime(iso) : "");

export function categoryLabel(category) {
  return has(`report.category_${category}`) ? t(`report.category_${category}`) : category;
}

function label(prefix, value) {
  return has(`${prefix}.${value}`) ? t(`${prefix}.${value}`) : value;
}

export const outcomeLabel = (outcome) => label("staff.outcome", outcome);
export const sanctionLabel = (kind) => label("staff.sanction", kind);
export const auditActionLabel = (action) => label("staff.audit", action.replace(".", "_"));

export function statusLine(report) {
  return report.status === "open"
    ? t("staff.status.open")
    : t("staff.status.closed_as", { outcome: outcomeLabel(report.outcome) });
}

/** The console's own navigation, on each of its pages. */
export function staffNav(current) {
  const link = (key, path, text) => el("a", {
    href: href(path), class: `button small${current === key ? "" : " secondary"}`,
    "aria-current": current === key ? "page" : null,
  }, text);
  return el("nav", { class: "staff-nav actions", "aria-label": t("staff.title") },
    link("queue", "/staff", t("staff.queue")),
    link("audit", "/staff/audit", t("staff.audit_log")));
}

export function personLink(person) {
  if (!person) return el("span", { class: "muted" }, t("staff.account_gone"));
  return el("a", { href: href(`/staff/person/${person.username}`), dir: "ltr" }, `@${person.username}`);
}

/** Is the person suspended or banned now? */
export function restricted(record) {
  return Boolean(record && (record.banned ||
    (record.suspended_until && new Date(record.suspended_until) > new Date())));
}

export function standingLine(record) {
  const parts = [];
  if (record.banned) parts.push(t("staff.standing.banned"));
  else if (restricted(record)) parts.push(t("staff.standing.suspended", { time: when(record.suspended_until) }));
  else parts.push(t("staff.standing.good"));
  if (record.verified) parts.push(t("profile.verified"));
  if (record.staff_role) parts.push(t(`staff.role.${record.staff_role}`));
  return parts.join(" · ");
}

export function sanctionsList(sanctions) {
  if (!sanctions.length) return el("p", { class: "muted" }, t("staff.no_sanctions"));
  return el("ul", { class: "records sanctions" }, sanctions.map((s) => el("li", {},
    el("strong", {}, sanctionLabel(s.kind)),
    s.until ? ` · ${t("staff.until", { time: when(s.until) })}` : "",
    ` · ${when(s.created_at)}`,
    s.staff ? ` · ${handle(s.staff)}` : "",
    s.report ? [" · ", el("a", { href: href(`/staff/report/${s.report}`) }, t("staff.report_number", { id: s.report }))] : null,
    el("div", { class: "small" }, t("staff.reason"), ": ", el("span", { dir: "auto" }, s.reason)),
    s.message ? el("div", { class: "small muted" }, t("staff.message"), ": ", el("span", { dir: "auto" }, s.message)) : null)));
}

export function reportsList(reports, emptyKey) {
  if (!reports.length) return el("p", { class: "muted" }, t(emptyKey));
  return el("ul", { class: "records" }, reports.map((r) => el("li", {},
    el("a", { href: href(`/staff/report/${r.id}`) }, t("staff.report_number", { id: r.id })),
    ` · ${categoryLabel(r.category)} · ${statusLine(r)} · ${when(r.created_at)}`)));
}

/**
 * The form for staff actions: one select of what may be done here, a required reason, the
 * suspension's length and the words for the person when they apply. Each action is
 * {value, label, until?, message?, confirm?: {title, text}, run(reason, until, message)}.
 */
export function actionForm(actions, done) {
  if (!actions.length) return null;
  const byValue = new Map(actions.map((a) => [a.value, a]));
  const select = el("select", { id: "staff-action", name: "action", required: true },
    actions.map((a) => el("option", { value: a.value }, a.label)));
  const duration = el("select", { id: "staff-duration", name: "duration" },
    DURATIONS.map((h) => el("option", { value: String(h), selected: h === 168 },
      h < 24 ? tn("staff.hours", h) : tn("staff.days", h / 24))));
  const durationField = el("div", { class: "field" }, el("label", { for: "staff-duration" }, t("staff.duration")), duration);
  const messageField = el("div", { class: "field" },
    el("label", { for: "staff-message" }, t("staff.message_label")),
    el("textarea", { id: "staff-message", name: "message", rows: "2", maxlength: "1000" }),
    el("p", { class: "muted small" }, t("staff.message_help")));
  const status = el("p", { role: "status", class: "small" });
  function fit() {
    const chosen = byValue.get(select.value);
    durationField.hidden = !chosen.until;
    messageField.hidden = !chosen.message;
  }
  select.onchange = fit;
  const node = form({ class: "staff-act", "aria-labelledby": "act-title" }, async (data) => {
    status.textContent = "";
    const chosen = byValue.get(String(data.get("action")));
    const reason = String(data.get("reason") || "").trim();
    const until = chosen.until
      ? new Date(Date.now() + Number(data.get("duration")) * 3600 * 1000).toISOString()
      : null;
    const message = chosen.message ? String(data.get("message") || "").trim() : "";
    if (chosen.confirm) {
      const text = chosen.confirm.text ?? (until ? t("staff.until", { time: when(until) }) : "");
      const yes = await confirmDialog({ title: chosen.confirm.title, text, confirm: chosen.label, danger: true });
      if (!yes) return;
    }
    await chosen.run(reason, until, message);
    status.textContent = t("staff.done", { action: chosen.label });
    await done(status.textContent);
  },
  el("h2", { id: "act-title" }, t("staff.act")),
  el("div", { class: "field" }, el("label", { for: "staff-action" }, t("staff.action")), select),
  el("div", { class: "field" },
    el("label", { for: "staff-reason" }, t("staff.reason_label")),
    el("textarea", { id: "staff-reason", name: "reason", rows: "3", required: true, maxlength: "1000" }),
    el("p", { class: "muted small" }, t("staff.reason_help"))),
  durationField, messageField,
  el("button", { type: "submit", "data-key": "act" }, t("staff.apply")),
  status);
  fit();
  return node;
}

// --- the queue ---------------------------------------------------------------------------

function queue(main, query) {
  let alive = true;
  let cursor = null;
  const status = STATUSES.includes(query.get("status")) ? query.get("status") : "open";
  const category = REPORT_CATEGORIES.includes(query.get("category")) ? query.get("category") : "";
  const user = (query.get("user") || "").replace(/^@/, "");
  const list = el("ul", { class: "reports", "aria-busy": "true" });
  const problem = el("p", { class: "error", role: "alert" });
  const more = el("button", { type: "button", class: "secondary", hidden: true, onclick: () => load() }, t("common.more"));
  const filters = el("div", { class: "staff-filters" });

  function apply(values) {
    go(withQuery("/staff", { status, category, user, ...values }));
  }

  function drawFilters(counts) {
    const byStatus = counts ? counts.by_status : {};
    const byCategory = counts ? counts.by_category : {};
    const sum = (o) => Object.values(o).reduce((a, b) => a + b, 0);
    const count = (n) => (counts ? ` (${formatNumber(n || 0)})` : "");
    const statusSelect = el("select", {
      id: "queue-status", "data-key": "queue-status", onchange: (e) => apply({ status: e.target.value }),
    }, STATUSES.map((s) => el("option", { value: s, selected: s === status },
      t(`staff.filter.${s}`) + count(s === "all" ? sum(byStatus) : byStatus[s]))));
    const categorySelect = el("select", {
      id: "queue-category", "data-key": "queue-category", onchange: (e) => apply({ category: e.target.value }),
    }, el("option", { value: "" }, t("staff.filter.any_category") + count(sum(byCategory))),
    REPORT_CATEGORIES.map((c) => el("option", { value: c, selected: c === category },
      categoryLabel(c) + count(byCategory[c]))));
    const person = form({ class: "search" }, async (data) => {
      apply({ user: String(data.get("user") || "").trim().replace(/^@/, "") });
    },
    el("div", { class: "field" },
      el("label", { for: "queue-user" }, t("staff.filter.person")),
      el("input", { id: "queue-user", name: "user", value: user, dir: "ltr", autocomplete: "off", placeholder: "@username" })),
    el("button", { type: "submit", class: "secondary" }, t("staff.filter.apply")),
    user ? el("a", { class: "button secondary", href: href(withQuery("/staff", { status, category })) }, t("staff.filter.clear")) : null);
    filters.replaceChildren(
      el("div", { class: "search" },
        el("div", { class: "field" }, el("label", { for: "queue-status" }, t("staff.filter.status")), statusSelect),
        el("div", { class: "field" }, el("label", { for: "queue-category" }, t("staff.filter.category")), categorySelect)),
      person);
  }

  function row(r) {
    const about = r.user ? `@${r.user.username}` : t("staff.about_room");
    return el("li", { class: `report-row${r.status === "open" ? " open" : ""}`, "data-id": r.id },
      el("a", { href: href(`/staff/report/${r.id}`), "data-key": `report-${r.id}` },
        el("span", { class: "report-head" },
          el("strong", {}, t("staff.report_number", { id: r.id })), " ",
          el("span", {}, categoryLabel(r.category)), " · ",
          el("span", { dir: "ltr" }, about),
          r.room_live ? el("span", { class: "badge live" }, t("staff.in_live_room")) : null),
        r.text ? el("span", { class: "report-text", dir: "auto" }, r.text.length > 140 ? `${r.text.slice(0, 140)}…` : r.text) : null,
        el("span", { class: "muted small" }, statusLine(r), " · ", when(r.created_at),
          r.reporter ? ` · ${t("staff.filed_by", { name: handle(r.reporter.username) })}` : "")));
  }

  async function load() {
    problem.textContent = "";
    try {
      const page = await get(withQuery("/api/admin/reports", {
        status: status === "all" ? "" : status, category, user, cursor, limit: "30",
      }));
      if (!alive) return;
      if (!cursor) drawFilters(page.counts);
      list.append(...page.items.map(row));
      if (!list.children.length) list.append(el("li", { class: "muted" }, t("staff.no_reports")));
      cursor = page.next_cursor;
      more.hidden = !cursor;
    } catch (error) {
      if (alive) problem.textContent = errorText(error);
    }
    list.setAttribute("aria-busy", "false");
  }

  drawFilters(null);
  main.replaceChildren(el("section", { class: "card staff" },
    el("h1", {}, t("staff.queue")),
    staffNav("queue"),
    filters, problem, list, more));
  load();
  return () => {
    alive = false;
  };
}

// --- the audit log -----------------------------------------------------------------------

function auditTarget(entry) {
  const [kind, id] = entry.target.split(":", 2);
  if (kind === "report") return el("a", { href: href(`/staff/report/${id}`) }, t("staff.report_number", { id }));
  if (kind === "user" && entry.data.username) {
    return el("a", { href: href(`/staff/person/${entry.data.username}`), dir: "ltr" }, `@${entry.data.username}`);
  }
  return el("code", { dir: "ltr" }, entry.target);
}

function audit(main, query) {
  let alive = true;
  let cursor = null;
  const actor = (query.get("actor") || "").replace(/^@/, "");
  const action = AUDIT_ACTIONS.includes(query.get("action")) ? query.get("action") : "";
  const target = query.get("target") || "";
  const list = el("ul", { class: "records audit", "aria-busy": "true" });
  const problem = el("p", { class: "error", role: "alert" });
  const more = el("button", { type: "button", class: "secondary", hidden: true, onclick: () => load() }, t("common.more"));

  const filters = form({ class: "search staff-filters", "aria-label": t("staff.audit_filters") }, async (data) => {
    go(withQuery("/staff/audit", {
      actor: String(data.get("actor") || "").trim().replace(/^@/, ""),
      action: String(data.get("action") || ""),
      target: String(data.get("target") || "").trim(),
    }));
  },
  el("div", { class: "field" },
    el("label", { for: "audit-actor" }, t("staff.audit_actor")),
    el("input", { id: "audit-actor", name: "actor", value: actor, dir: "ltr", autocomplete: "off" })),
  el("div", { class: "field" },
    el("label", { for: "audit-action" }, t("staff.audit_action")),
    el("select", { id: "audit-action", name: "action" },
      el("option", { value: "" }, t("staff.audit_any_action")),
      AUDIT_ACTIONS.map((a) => el("option", { value: a, selected: a === action }, auditActionLabel(a))))),
  el("div", { class: "field" },
    el("label", { for: "audit-target" }, t("staff.audit_target")),
    el("input", { id: "audit-target", name: "target", value: target, dir: "ltr", autocomplete: "off", placeholder: "user:12, report:3, room:abc" })),
  el("button", { type: "submit", class: "secondary" }, t("staff.filter.apply")),
  actor || action || target ? el("a", { class: "button secondary", href: href("/staff/audit") }, t("staff.filter.clear")) : null);

  function row(e) {
    const { reason, ...rest } = e.data || {};
    const extra = Object.entries(rest).filter(([k, v]) => v !== null && v !== "" && k !== "username");
    return el("li", { "data-id": e.id },
      el("div", {},
        el("strong", {}, auditActionLabel(e.action)), " · ", auditTarget(e),
        el("span", { class: "muted small" }, ` · ${e.actor === "cli" ? t("staff.audit_cli") : handle(e.actor)} · ${when(e.created_at)}`)),
      reason ? el("div", { class: "small" }, t("staff.reason"), ": ", el("span", { dir: "auto" }, reason)) : null,
      extra.length ? el("div", { class: "small muted", dir: "ltr" },
        extra.map(([k, v]) => `${k}: ${typeof v === "object" ? JSON.stringify(v) : v}`).join(" · ")) : null);
  }

  async function load() {
    problem.textContent = "";
    try {
      const page = await get(withQuery("/api/admin/audit", { actor, action, target, cursor, limit: "50" }));
      if (!alive) return;
      list.append(...page.items.map(row));
      if (!list.children.length) list.append(el("li", { class: "muted" }, t("staff.audit_empty")));
      cursor = page.next_cursor;
      more.hidden = !cursor;
    } catch (error) {
      if (alive) problem.textContent = errorText(error);
    }
    list.setAttribute("aria-busy", "false");
  }

  main.replaceChildren(el("section", { class: "card staff" },
    el("h1", {}, t("staff.audit_log")),
    staffNav("audit"),
    el("p", { class: "muted small" }, t("staff.audit_explain")),
    filters, problem, list, more));
  load();
  return () => {
    alive = false;
  };
}
