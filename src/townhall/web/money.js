// Money in the web app (docs/creators.md): amounts shown in the page's language, the tip
// sheet (the provider's fee shown before paying), and an event's tickets. Every paying
// request carries an idempotency key made once per sheet, so a double tap or a retry after
// a lost answer pays once.
import { enc, get, post, put } from "./api.js";
import { currentLanguage, t } from "./i18n.js";
import { el, errorText, form, modal, toast } from "./ui.js";

const CURRENCY = "currency"; // the number format's style

/** How many minor units a currency's major unit has (2 for EUR, 0 for JPY). */
function digits(currency) {
  return new Intl.NumberFormat("en", { style: CURRENCY, currency }).resolvedOptions().maximumFractionDigits;
}

/** An amount in minor units, as people read it: "€5.00", "5,00 €". */
export function money(minor, currency) {
  const d = digits(currency);
  return new Intl.NumberFormat(currentLanguage(), { style: CURRENCY, currency }).format(minor / 10 ** d);
}

/** What someone typed ("5", "5.50", "5,50") in minor units, or null. */
function parseAmount(text, currency) {
  const cleaned = String(text || "").trim().replace(",", ".");
  if (!/^\d{1,7}(\.\d{0,3})?$/.test(cleaned)) return null;
  return Math.round(Number(cleaned) * 10 ** digits(currency));
}

export function newKey() {
  return crypto.randomUUID();
}

/** The sheet to tip someone on stage: the amount, the fee on top, whether the room hears
 *  the amount. */
export function tipSheet(roomId, person, name) {
  const key = newKey();
  let currency = "EUR";
  const quoteLine = el("p", { class: "muted", role: "status", "data-key": "tip-quote" });
  let timer = null;
  const amount = el("input", {
    id: "tip-amount", name: "amount", inputmode: "decimal", autocomplete: "off", required: true,
    oninput: () => {
      clearTimeout(timer);
      timer = setTimeout(quote, 250);
    },
  });

  async function quote() {
    const minor = parseAmount(amount.value, currency);
    if (!minor) {
      quoteLine.textContent = "";
      return null;
    }
    try {
      const q = await get(`/api/payments/quote?amount=${minor}`);
      currency = q.currency;
      quoteLine.textContent = t("tip.quote", {
        fee: money(q.fee, q.currency), total: money(q.total, q.currency), amount: money(q.amount, q.currency),
      });
      return q;
    } catch (error) {
      quoteLine.textContent = errorText(error);
      return null;
    }
  }

  modal((id, close) => [
    el("h2", { id }, t("tip.title", { name })),
    el("p", { class: "muted small" }, t("tip.explain")),
    form({ "aria-label": t("tip.title", { name }) }, async (data) => {
      const minor = parseAmount(data.get("amount"), currency);
      if (!minor) throw { code: "bad_amount" };
      const paid = await post(`/api/rooms/${enc(roomId)}/tips`, {
        to: person, amount: minor, show_amount: data.get("show") === "on", idempotency_key: key,
      });
      close();
      toast(paid.status === "succeeded"
        ? t("tip.sent", { amount: money(paid.amount, paid.currency), name })
        : t("tip.pending"));
    },
    el("div", { class: "field" }, el("label", { for: "tip-amount" }, t("tip.amount")), amount),
    quoteLine,
    el("label", { class: "check" }, el("input", { type: "checkbox", name: "show", id: "tip-show" }), " ", t("tip.show_amount")),
    el("div", { class: "actions" },
      el("button", { type: "submit", "data-key": "tip-send" }, t("tip.send")),
      el("button", { type: "button", class: "link", onclick: close }, t("common.cancel")))),
  ]);
  amount.focus();
}

/** What the room is told of a tip. */
export function tipLine(data) {
  const from = data.from ? `@${data.from}` : t("tip.someone");
  const to = data.to ? `@${data.to}` : t("tip.someone");
  return data.amount
    ? t("tip.heard_amount", { from, to, amount: money(data.amount, data.currency) })
    : t("tip.heard", { from, to });
}

/** An event's tickets: the price and seats, buying one (the fee shown first), and for its
 *  creator, setting the price. */
export function ticketSection(eventId, { creator, scheduled }) {
  const box = el("section", { class: "tickets", "data-key": "tickets", "aria-labelledby": "tickets-title" });
  const key = newKey();

  async function fill() {
    let info;
    try {
      info = await get(`/api/events/${enc(eventId)}/tickets`);
    } catch (error) {
      box.replaceChildren(el("p", { class: "error" }, errorText(error)));
      return;
    }
    const parts = [el("h2", { id: "tickets-title" }, t("tickets.title"))];
    if (info.price !== null) {
      const seats = info.capacity !== null
        ? t("tickets.seats", { sold: info.sold, capacity: info.capacity })
        : t("tickets.sold", { sold: info.sold });
      parts.push(el("p", { "data-key": "ticket-price" }, t("tickets.price", { price: money(info.price, info.currency) }), " · ", seats));
      if (info.mine === "valid") parts.push(el("p", { class: "notice", "data-key": "ticket-held" }, t("tickets.held")));
      else if (info.mine === "refunded") parts.push(el("p", { class: "muted" }, t("tickets.refunded")));
      else if (scheduled && !creator) {
        const problem = el("p", { class: "error", role: "alert" });
        let quoted = null;
        const buy = el("button", {
          type: "button", "data-key": "ticket-buy", onclick: async () => {
            problem.textContent = "";
            buy.disabled = true;
            try {
              const paid = await post(`/api/events/${enc(eventId)}/tickets`, { idempotency_key: key });
              toast(paid.status === "succeeded" ? t("tickets.bought") : t("tip.pending"));
              await fill();
            } catch (error) {
              problem.textContent = errorText(error);
              buy.disabled = false;
            }
          },
        }, t("tickets.buy"));
        try {
          quoted = await get(`/api/payments/quote?amount=${info.price}&currency=${info.currency}`);
        } catch {
          quoted = null;
        }
        parts.push(quoted ? el("p", { class: "muted small", "data-key": "ticket-quote" },
          t("tip.quote", { amount: money(quoted.amount, quoted.currency), fee: money(quoted.fee, quoted.currency), total: money(quoted.total, quoted.currency) })) : null,
        el("div", { class: "actions" }, buy), problem);
      }
    } else {
      parts.push(el("p", { class: "muted" }, t("tickets.free")));
    }
    if (creator && scheduled && !info.sold) {
      parts.push(form({ "aria-label": t("tickets.set") }, async (data) => {
        const minor = parseAmount(data.get("price"), info.currency || "EUR");
        if (!minor) throw { code: "bad_amount" };
        const capacity = String(data.get("capacity") || "").trim();
        await put(`/api/events/${enc(eventId)}/tickets`, {
          price: minor, ...(capacity ? { capacity: Number(capacity) } : {}),
        });
        await fill();
      },
      el("div", { class: "field" }, el("label", { for: "ticket-price-input" }, t("tickets.price_label")),
        el("input", { id: "ticket-price-input", name: "price", inputmode: "decimal", required: true })),
      el("div", { class: "field" }, el("label", { for: "ticket-capacity" }, t("tickets.capacity")),
        el("input", { id: "ticket-capacity", name: "capacity", inputmode: "numeric" })),
      el("button", { type: "submit", class: "secondary", "data-key": "ticket-set" }, t("tickets.set"))));
    }
    box.replaceChildren(...parts.filter(Boolean));
  }

  fill();
  return box;
}
