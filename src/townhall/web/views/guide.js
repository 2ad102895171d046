// The moderator's guide (#/help/moderators): how to run a room, in a few short sections.
import { t, tn } from "../i18n.js";
import { audioNotice, safetyPolicy } from "../safety.js";
import { el } from "../ui.js";

const SECTIONS = ["stage", "mute", "roles", "remove", "block", "report", "buffer", "end"];

export function render(main) {
  let alive = true;
  const buffer = el("p", { "data-key": "guide-buffer" });

  // In the server's own figures; until they are known, only what is true whatever they are.
  function fill(policy) {
    const audio = policy && policy.incident_audio;
    if (!audio) {
      buffer.textContent = audioNotice(null).summary;
    } else if (audio.buffer_seconds === 0) {
      buffer.textContent = t("guide.buffer.off");
    } else {
      buffer.textContent = t("guide.buffer.text", {
        minutes: tn("room.buffer_minutes", Math.max(1, Math.round(audio.buffer_seconds / 60))),
        days: tn("room.retention_days", audio.retention_days),
      });
    }
  }

  main.replaceChildren(el("article", { class: "card guide" },
    el("h1", {}, t("guide.title")),
    el("p", { class: "lead" }, t("guide.intro")),
    SECTIONS.map((key) => el("section", { "aria-labelledby": `guide-${key}` },
      el("h2", { id: `guide-${key}` }, t(`guide.${key}.title`)),
      key === "buffer" ? buffer : el("p", {}, t(`guide.${key}.text`))))));
  fill(null);
  safetyPolicy().then((p) => alive && fill(p));
  return () => {
    alive = false;
  };
}
