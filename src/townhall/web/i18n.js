// Translations: catalogues in i18n/<lang>.json, the language from the browser or the user's
// choice (remembered), right-to-left for Arabic. Every visible string goes through t().

export const LANGUAGES = ["en", "ru", "ro", "it", "ko", "ar"];
const RTL = new Set(["ar"]);
const STORAGE_KEY = "townhall.lang";

let lang = "en";
let catalogue = {};
let fallback = {};
const listeners = new Set();

export function currentLanguage() {
  return lang;
}

/** The first of the browser's languages we speak, unless the user chose one. */
export function preferredLanguage() {
  const saved = localStorage.getItem(STORAGE_KEY);
  if (LANGUAGES.includes(saved)) return saved;
  for (const tag of navigator.languages || [navigator.language || "en"]) {
    const base = String(tag).toLowerCase().split("-")[0];
    if (LANGUAGES.includes(base)) return base;
  }
  return "en";
}

async function fetchCatalogue(code) {
  const response = await fetch(`/i18n/${code}.json`);
  if (!response.ok) throw new Error(`no catalogue for ${code}`);
  return response.json();
}

export async function setLanguage(code, remember = false) {
  if (!LANGUAGES.includes(code)) code = "en";
  if (!Object.keys(fallback).length) fallback = await fetchCatalogue("en");
  catalogue = code === "en" ? fallback : await fetchCatalogue(code);
  lang = code;
  if (remember) localStorage.setItem(STORAGE_KEY, code);
  const html = document.documentElement;
  html.lang = code;
  html.dir = RTL.has(code) ? "rtl" : "ltr";
  translateTree(document);
  for (const listener of listeners) listener(code);
}

export function onLanguageChange(listener) {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

function fill(text, params) {
  return text.replace(/\{(\w+)\}/g, (whole, name) =>
    params[name] === undefined ? whole : String(params[name]),
  );
}

export function has(key) {
  return key in catalogue || key in fallback;
}

/** The translation of key, with {name} placeholders filled from params. */
export function t(key, params = {}) {
  const text = catalogue[key] ?? fallback[key] ?? key;
  return fill(text, params);
}

/** A count-dependent string: key.one, key.few, key.other ... chosen by the language's rules. */
export function tn(key, count, params = {}) {
  const rule = new Intl.PluralRules(lang).select(count);
  const chosen = [`${key}.${rule}`, `${key}.other`].find((k) => k in catalogue) ||
    [`${key}.${new Intl.PluralRules("en").select(count)}`, `${key}.other`].find((k) => k in fallback);
  const text = catalogue[chosen] ?? fallback[chosen] ?? key;
  return fill(text, { n: formatNumber(count), ...params });
}

/**
 * The tag Intl formats with: the browser's own tag when it is of the chosen language (en-GB
 * gives a 24-hour clock and day-month order, ko-KR Korean dates), else the language alone.
 */
export function locale() {
  for (const tag of navigator.languages || [navigator.language || ""]) {
    const text = String(tag);
    if (text.toLowerCase().split("-")[0] === lang) {
      try {
        return Intl.getCanonicalLocales(text)[0];
      } catch {
        break;
      }
    }
  }
  return lang;
}

export function formatNumber(n) {
  return new Intl.NumberFormat(locale()).format(n);
}

export function formatDate(iso) {
  return new Intl.DateTimeFormat(locale(), { year: "numeric", month: "long", day: "numeric" }).format(
    new Date(iso),
  );
}

export function formatDateTime(iso) {
  return new Intl.DateTimeFormat(locale(), {
    weekday: "short", month: "short", day: "numeric", hour: "numeric", minute: "2-digit",
  }).format(new Date(iso));
}

export function formatTime(iso) {
  return new Intl.DateTimeFormat(locale(), { hour: "numeric", minute: "2-digit" }).format(new Date(iso));
}

/** "now", "5 minutes ago", "yesterday" for the last week; a date before that. */
export function formatRelative(iso, now = Date.now()) {
  const seconds = Math.round((new Date(iso).getTime() - now) / 1000);
  const abs = Math.abs(seconds);
  const words = new Intl.RelativeTimeFormat(locale(), { numeric: "auto" });
  if (abs < 45) return words.format(0, "second");
  if (abs < 45 * 60) return words.format(Math.round(seconds / 60), "minute");
  if (abs < 22 * 3600) return words.format(Math.round(seconds / 3600), "hour");
  if (abs < 7 * 86400) return words.format(Math.round(seconds / 86400), "day");
  return formatDate(iso);
}

/** A moment with its year, to the minute: for logs and records. */
export function formatFullDateTime(iso) {
  return new Intl.DateTimeFormat(lang, {
    year: "numeric", month: "short", day: "numeric", hour: "numeric", minute: "2-digit",
  }).format(new Date(iso));
}

/** Elements marked data-i18n (text), data-i18n-label (aria-label), data-i18n-title. */
export function translateTree(root) {
  for (const node of root.querySelectorAll("[data-i18n]")) node.textContent = t(node.dataset.i18n);
  for (const node of root.querySelectorAll("[data-i18n-label]")) {
    node.setAttribute("aria-label", t(node.dataset.i18nLabel));
  }
  for (const node of root.querySelectorAll("[data-i18n-title]")) {
    node.setAttribute("title", t(node.dataset.i18nTitle));
  }
}
