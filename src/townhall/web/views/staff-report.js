// The staff console's pages for one report and for one person: what was reported, the room
// at the time, its sealed audio and who spoke when, the person's history, and the actions.
import { ApiError, del, enc, get, post, put } from "../api.js";
import { t, tn } from "../i18n.js";
import { href, withQuery } from "../router.js";
import { backArrow, displayName, el, errorText, handle } from "../ui.js";
import {
  actionForm, categoryLabel, isStaff, personLink, reportsList, restricted, sanctionsList,
  staffNav, standingLine, statusLine, when,
} from "./staff.js";

export function render(main, ctx, route) {
  if (!isStaff(ctx.me)) {
    main.replaceChildren(el("section", { class: "card narrow" },
      el("h1", {}, t("staff.title")), el("p", { role: "alert" }, t("error.not_staff"))));
    return null;
  }
  if (route.name === "staff-person") return person(main, route.params[0]);
  return report(main, Number(route.params[0]));
}

function loading(main) {
  main.replaceChildren(el("p", { class: "muted", role: "status" }, t("common.loading")));
}

function failed(main, error) {
  main.replaceChildren(el("section", { class: "card staff" }, staffNav(null),
    el("p", { class: "error", role: "alert" }, errorText(error))));
}

/** Seconds into the audio as m:ss. */
function clock(seconds) {
  const s = Math.max(0, Math.floor(seconds));
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`;
}

// --- person actions, on both pages -------------------------------------------------------

function personActions(record) {
  const u = record.username;
  const name = handle(u);
  const act = (action) => (reason, until, message) =>
    post(`/api/admin/users/${enc(u)}/actions`, { action, reason, until, message });
  const actions = [
    { value: "warn", label: t("staff.action.warn", { name }), message: true, run: act("warn") },
    {
      value: "suspend", label: t("staff.action.suspend", { name }), until: true, message: true,
      confirm: { title: t("staff.confirm.suspend", { name }) }, run: act("suspend"),
    },
    {
      value: "ban", label: t("staff.action.ban", { name }), message: true,
      confirm: { title: t("staff.confirm.ban", { name }), text: t("staff.confirm.ban_text") }, run: act("ban"),
    },
  ];
  if (restricted(record)) {
    actions.push({ value: "reinstate", label: t("staff.action.reinstate", { name }), run: act("reinstate") });
  }
  actions.push(record.verified
    ? { value: "unverify", label: t("staff.action.unverify"), run: (reason) => del(`/api/admin/users/${enc(u)}/verified`, { reason }) }
    : { value: "verify", label: t("staff.action.verify"), run: (reason) => put(`/api/admin/users/${enc(u)}/verified`, { reason }) });
  return actions;
}

// --- one report --------------------------------------------------------------------------

function report(main, id) {
  let alive = true;
  let audioUrl = null;

  function forget() {
    if (audioUrl) URL.revokeObjectURL(audioUrl);
    audioUrl = null;
  }

  async function load(status = "") {
    const detail = await get(`/api/admin/reports/${id}`);
    const record = detail.user ? await get(`/api/admin/users/${enc(detail.user.username)}`).catch(() => null) : null;
    if (!alive) return;
    forget();
    show(detail, record, status);
  }

  function snapshot(d) {
    const snap = d.room_snapshot;
    if (!d.room) return el("p", { class: "muted" }, t("staff.no_room"));
    if (!snap) return el("p", { class: "muted" }, t("staff.room_not_live", { room: d.room }));
    return el("div", { class: "snapshot" },
      el("p", {}, el("strong", { dir: "auto" }, snap.title || t("room.untitled")), " · ",
        t(`room.kind.${snap.kind}`), " · ", when(snap.at), " · ",
        el("code", { dir: "ltr" }, d.room)),
      el("h3", {}, t("room.stage")),
      el("ul", { class: "records" }, snap.stage.map((m) => el("li", {},
        el("a", { href: href(`/staff/person/${m.username}`), dir: "ltr" }, `@${m.username}`), " · ",
        t(m.role === "moderator" ? "room.moderator" : "room.speaker"), " · ",
        m.muted ? t("room.muted") : t("staff.unmuted")))),
      el("p", {}, tn("staff.listeners_then", snap.listeners)));
  }

  function audioSection(d) {
    const box = el("div", { class: "incident-audio" });
    if (!d.audio) {
      box.append(el("p", { class: "muted", "data-key": "no-audio" }, t("staff.no_audio")));
      return box;
    }
    const tl = d.audio.timeline;
    const player = el("div", { class: "player" });
    const listen = el("button", {
      type: "button", "data-key": "listen", onclick: async () => {
        listen.disabled = true;
        player.replaceChildren(el("p", { class: "muted", role: "status" }, t("common.loading")));
        try {
          const response = await fetch(d.audio.url, { credentials: "same-origin" });
          if (response.status === 404) {
            player.replaceChildren(el("p", { class: "muted", "data-key": "no-audio" }, t("staff.no_audio")));
            return;
          }
          if (!response.ok) throw new ApiError(response.status, `http_${response.status}`, "");
          const blob = await response.blob();
          if (!alive) return;
          forget();
          audioUrl = URL.createObjectURL(blob);
          player.replaceChildren(el("audio", {
            controls: true, preload: "metadata", src: audioUrl, "aria-label": t("staff.audio_label", { id: d.id }),
          }));
          listen.hidden = true;
        } catch (error) {
          player.replaceChildren(el("p", { class: "error", role: "alert" }, errorText(error)));
          listen.disabled = false;
        }
      },
    }, t("staff.listen"));
    const seek = (seconds) => {
      const audio = player.querySelector("audio");
      if (!audio) return;
      audio.currentTime = seconds;
      audio.play().catch(() => {});
    };
    const spans = (key, items, clickable) => el("div", { class: "timeline-group" },
      el("h3", {}, t(`staff.timeline.${key}`)),
      items.length
        ? el("ul", { class: "records timeline" }, items.map((s) => el("li", {},
          clickable
            ? el("button", {
              type: "button", class: "link small", onclick: () => seek(s.from),
              "aria-label": t("staff.play_from", { name: handle(s.username), time: clock(s.from) }),
            }, el("span", { dir: "ltr" }, `@${s.username} ${clock(s.from)}–${clock(s.to)}`))
            : el("span", { dir: "ltr" }, `@${s.username} ${clock(s.from)}–${clock(s.to)}`))))
        : el("p", { class: "muted small" }, t("staff.timeline.nobody")));
    box.append(
      el("p", { class: "muted small" }, t("staff.audio_explain", {
        length: clock(tl.seconds), sealed: when(tl.sealed_at),
      })),
      listen, player,
      spans("speaking", tl.speaking, true),
      spans("unmuted", tl.unmuted, false),
      spans("stage", tl.stage, false));
    return box;
  }

  function actions(d, record) {
    const list = [];
    const name = d.user ? handle(d.user.username) : "";
    const close = (action) => (reason, until, message) =>
      post(`/api/admin/reports/${id}/actions`, { action, reason, until, message });
    if (d.status === "open") {
      list.push({ value: "dismiss", label: t("staff.action.dismiss"), run: close("dismiss") });
      list.push({ value: "resolve", label: t("staff.action.resolve"), run: close("resolve") });
      if (d.user) {
        list.push({ value: "warn", label: t("staff.action.warn", { name }), message: true, run: close("warn") });
        list.push({
          value: "suspend", label: t("staff.action.suspend", { name }), until: true, message: true,
          confirm: { title: t("staff.confirm.suspend", { name }) }, run: close("suspend"),
        });
        list.push({
          value: "ban", label: t("staff.action.ban", { name }), message: true,
          confirm: { title: t("staff.confirm.ban", { name }), text: t("staff.confirm.ban_text") }, run: close("ban"),
        });
      }
    }
    if (record && restricted(record)) {
      list.push({
        value: "reinstate", label: t("staff.action.reinstate", { name }),
        run: (reason) => post(`/api/admin/users/${enc(d.user.username)}/actions`, { action: "reinstate", reason }),
      });
    }
    if (d.room && d.room_status === "live") {
      list.push({
        value: "end_room", label: t("staff.action.end_room"),
        confirm: { title: t("staff.confirm.end_room"), text: t("staff.confirm.end_room_text") },
        run: (reason) => post(`/api/admin/rooms/${enc(d.room)}/end`, { reason }),
      });
      if (d.user) {
        list.push({
          value: "remove", label: t("staff.action.remove", { name }),
          confirm: { title: t("staff.confirm.remove", { name }), text: t("room.remove_explain") },
          run: (reason) => post(`/api/admin/rooms/${enc(d.room)}/remove`, { user: d.user.username, reason }),
        });
      }
    }
    return actionForm(list, (done) => load(done));
  }

  function show(d, record, status) {
    const history = d.user ? el("section", { "aria-labelledby": "history-title" },
      el("h2", { id: "history-title" }, t("staff.history_of", { name: handle(d.user.username) })),
      record ? el("p", { class: "standing" }, standingLine(record)) : null,
      el("p", { class: "small" },
        el("a", { href: href(`/staff/person/${d.user.username}`) }, t("staff.person_page")), " · ",
        el("a", { href: href(`/u/${d.user.username}`) }, t("room.action.profile"))),
      el("h3", {}, t("staff.earlier_reports")),
      reportsList(d.earlier_reports, "staff.no_earlier_reports"),
      el("h3", {}, t("staff.sanctions")),
      sanctionsList(d.sanctions)) : null;
    main.replaceChildren(el("article", { class: "card staff report-page" },
      staffNav(null),
      el("p", {}, el("a", { href: href(withQuery("/staff", { status: d.status })) }, `${backArrow()} ${t("staff.queue")}`)),
      el("h1", { tabindex: "-1" }, t("staff.report_number", { id: d.id }), " · ", categoryLabel(d.category)),
      el("p", { class: "muted" }, statusLine(d), " · ", when(d.created_at),
        d.closed_by ? ` · ${t("staff.closed_by", { name: handle(d.closed_by), time: when(d.closed_at) })}` : ""),
      status ? el("p", { role: "status", class: "done" }, status) : null,
      el("dl", { class: "facts" },
        el("dt", {}, t("staff.reporter")), el("dd", {}, personLink(d.reporter)),
        el("dt", {}, t("staff.about")), el("dd", {},
          d.user ? personLink(d.user) : t("staff.about_room"),
          d.user && d.user.display_name ? el("span", { class: "muted", dir: "auto" }, ` ${displayName(d.user)}`) : null),
        el("dt", {}, t("staff.text")), el("dd", {},
          d.text ? el("blockquote", { dir: "auto" }, d.text) : el("span", { class: "muted" }, t("staff.no_text")))),
      el("section", { "aria-labelledby": "snapshot-title" },
        el("h2", { id: "snapshot-title" }, t("staff.room_then")), snapshot(d)),
      el("section", { "aria-labelledby": "audio-title" },
        el("h2", { id: "audio-title" }, t("staff.audio")), audioSection(d)),
      history,
      actions(d, record)));
    if (status) main.querySelector("h1")?.focus();
  }

  loading(main);
  load().catch((error) => alive && failed(main, error));
  return () => {
    alive = false;
    forget();
  };
}

// --- one person --------------------------------------------------------------------------

function person(main, username) {
  let alive = true;

  async function load(status = "") {
    const record = await get(`/api/admin/users/${enc(username)}`);
    if (alive) show(record, status);
  }

  function show(r, status) {
    main.replaceChildren(el("article", { class: "card staff person-page" },
      staffNav(null),
      el("h1", { tabindex: "-1", dir: "auto" }, displayName(r)),
      el("p", { class: "muted", dir: "ltr" }, `@${r.username}`),
      el("p", { class: "standing" }, standingLine(r)),
      status ? el("p", { role: "status", class: "done" }, status) : null,
      el("p", { class: "small" },
        el("a", { href: href(`/u/${r.username}`) }, t("room.action.profile")), " · ",
        el("a", { href: href(withQuery("/staff", { status: "all", user: r.username })) }, t("staff.reports_about")), " · ",
        el("a", { href: href(withQuery("/staff/audit", { target: r.audit_target })) }, t("staff.audit_about"))),
      el("h2", {}, t("staff.reports")),
      reportsList(r.reports, "staff.no_reports_about"),
      el("h2", {}, t("staff.sanctions")),
      sanctionsList(r.sanctions),
      actionForm(personActions(r), (done) => load(done))));
    if (status) main.querySelector("h1")?.focus();
  }

  loading(main);
  load().catch((error) => alive && failed(main, error));
  return () => {
    alive = false;
  };
}
