// Earnings and payments (#/earnings, docs/creators.md): what one may be paid out, each line
// of one's earnings account, payouts, and what one paid.
import { get, post } from "../api.js";
import { formatDateTime, t } from "../i18n.js";
import { href } from "../router.js";
import { backArrow, el, errorText, form, toast } from "../ui.js";
import { money, newKey } from "../money.js";

export function render(main) {
  let alive = true;
  main.replaceChildren(el("p", { class: "muted", role: "status" }, t("common.loading")));

  function kind(k) {
    return t(`earnings.kind.${["tip", "ticket", "subscription", "refund", "payout", "payout_failed", "grant"].includes(k) ? k : "misc"}`);
  }

  async function load() {
    let earnings;
    let paid;
    try {
      [earnings, paid] = await Promise.all([get("/api/me/earnings"), get("/api/me/payments")]);
    } catch (error) {
      if (alive) main.replaceChildren(el("p", { class: "error", role: "alert" }, errorText(error)));
      return;
    }
    if (!alive) return;
    const currencies = Object.keys(earnings.balances);
    const key = newKey();
    main.replaceChildren(el("section", { class: "card narrow earnings" },
      el("p", {}, el("a", { href: href("/settings") }, `${backArrow()} ${t("settings.title")}`)),
      el("h1", {}, t("earnings.title")),
      el("p", { class: "lead", "data-key": "balance" }, currencies.length
        ? currencies.map((c) => money(earnings.balances[c], c)).join(" · ")
        : money(0, "EUR")),
      el("p", { class: "muted small" }, t("earnings.explain")),
      currencies.length && Object.values(earnings.balances).some((b) => b >= earnings.payout_min)
        ? form({ "aria-label": t("earnings.payout") }, async (data) => {
          const currency = currencies[0];
          const amount = Math.round(Number(String(data.get("amount") || "").replace(",", ".")) * 100);
          if (!Number.isFinite(amount) || amount < 1) throw { code: "bad_amount" };
          const payout = await post("/api/me/payouts", { amount, currency, idempotency_key: key });
          toast(t("earnings.payout_done", { amount: money(payout.amount, payout.currency) }));
          load();
        },
        el("div", { class: "field" }, el("label", { for: "payout-amount" }, t("earnings.payout_amount")),
          el("input", { id: "payout-amount", name: "amount", inputmode: "decimal", required: true })),
        el("button", { type: "submit", "data-key": "payout" }, t("earnings.payout")))
        : el("p", { class: "muted small" }, t("earnings.payout_min", { amount: money(earnings.payout_min, currencies[0] || "EUR") })),
      el("h2", {}, t("earnings.history")),
      earnings.history.length
        ? el("ul", { class: "link-list history", "data-key": "history" }, earnings.history.map((h) => el("li", {},
          el("span", {}, kind(h.kind)), " ",
          el("strong", { class: h.amount < 0 ? "negative" : "" }, money(h.amount, h.currency)), " ",
          el("time", { class: "muted small", datetime: h.at }, formatDateTime(h.at)))))
        : el("p", { class: "muted" }, t("earnings.nothing")),
      earnings.payouts.length ? [el("h2", {}, t("earnings.payouts")),
        el("ul", { class: "link-list" }, earnings.payouts.map((p) => el("li", {},
          money(p.amount, p.currency), " · ", t(`earnings.payout_status.${p.status}`), " ",
          el("time", { class: "muted small", datetime: p.created_at }, formatDateTime(p.created_at)))))] : null,
      el("h2", {}, t("earnings.paid")),
      paid.payments.length
        ? el("ul", { class: "link-list", "data-key": "paid" }, paid.payments.map((p) => el("li", {},
          kind(p.purpose), p.to ? ` @${p.to}` : "", " · ", money(p.total, p.currency), " · ",
          t(`earnings.status.${p.status}`), " ",
          el("time", { class: "muted small", datetime: p.created_at }, formatDateTime(p.created_at)))))
        : el("p", { class: "muted" }, t("earnings.nothing_paid"))));
  }

  load();
  return () => {
    alive = false;
  };
}
