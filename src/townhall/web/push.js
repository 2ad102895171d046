// Web Push on this device (docs/notifications.md, "Web Push"): the browser's subscription,
// made with the server's VAPID key and given to PUT /api/me/push with the chosen language.
import { del, enc, get, put } from "./api.js";
import { currentLanguage } from "./i18n.js";

function key(text) {
  const raw = atob((text + "=".repeat((4 - (text.length % 4)) % 4)).replace(/-/g, "+").replace(/_/g, "/"));
  return Uint8Array.from(raw, (c) => c.charCodeAt(0));
}

export function supported() {
  return "serviceWorker" in navigator && "PushManager" in window && "Notification" in window;
}

async function current() {
  const registration = await navigator.serviceWorker.ready;
  return { registration, subscription: await registration.pushManager.getSubscription() };
}

/** {supported, enabled (by the server), on (this device), permission}. */
export async function state() {
  if (!supported()) return { supported: false, enabled: false, on: false, permission: "default" };
  const { subscription } = await current();
  const query = subscription ? `?endpoint=${enc(subscription.endpoint)}` : "";
  const server = await get(`/api/me/push${query}`);
  return {
    supported: true,
    enabled: server.enabled,
    on: Boolean(subscription && server.subscribed),
    permission: Notification.permission,
    publicKey: server.public_key,
  };
}

/** Ask the browser for permission, subscribe, and tell the server; false when refused. */
export async function turnOn(publicKey) {
  if ((await Notification.requestPermission()) !== "granted") return false;
  const { registration, subscription } = await current();
  const made = subscription || await registration.pushManager.subscribe({
    userVisibleOnly: true, applicationServerKey: key(publicKey),
  });
  await put("/api/me/push", { ...made.toJSON(), lang: currentLanguage() });
  return true;
}

export async function turnOff() {
  const { subscription } = await current();
  if (!subscription) return;
  await del("/api/me/push", { endpoint: subscription.endpoint }).catch(() => {});
  await subscription.unsubscribe();
}

/** After the language changes: a subscribed device's pushes are worded in the new one. */
export async function relabel() {
  if (!supported()) return;
  const { subscription } = await current();
  if (subscription) await put("/api/me/push", { ...subscription.toJSON(), lang: currentLanguage() });
}
