// The jobs page: My Jobs (and All Jobs for roles that read the tenant), filters kept in
// the URL, rows kept current from the tenant's stream, cancel, and the submit dialog.

import { api, frame, requireCaller, rules } from "./session.js";
import { follow } from "./stream.js";
import { badge, el, money, progressBar, shortId, toast, tokens, typeName, when } from "./format.js";
import { announceEnd, offerNotifications } from "./notify.js";
import { openSubmit } from "./submit.js";

const caller = requireCaller();
const rule = rules();
const PAGE_SIZE = 50;
const rows = new Map(); // job id -> <tr>
const lastStatus = new Map(); // job id -> status, for every job the stream told of
let nextCursor = null;

const readsTenant = () => caller.hasAny(rule.readers);
const may = {
  cancel: (job) =>
    rule.cancellable.has(job.status) &&
    !job.cancellationRequested &&
    (caller.roles.has("admin") || (caller.roles.has("analyst") && job.createdBy === caller.subject)),
};

function filters() {
  const query = new URLSearchParams(location.search);
  const view = readsTenant() && query.get("view") === "all" ? "all" : "mine";
  return {
    view,
    status: query.get("status") || "",
    type: query.get("type") || "",
    investigation: query.get("investigation") || "",
  };
}

function matches(job, wanted) {
  return (
    (wanted.view === "all" || job.createdBy === caller.subject) &&
    (!wanted.status || job.status === wanted.status) &&
    (!wanted.type || job.type === wanted.type) &&
    (!wanted.investigation || job.investigationId === wanted.investigation)
  );
}

async function cancel(job, button) {
  button.disabled = true;
  try {
    const changed = await api(`/v1/jobs/${job.id}/cancel`, {
      method: "POST",
      body: { reason: "cancelled from the dashboard" },
    });
    show(changed);
  } catch (error) {
    toast(`Could not cancel ${shortId(job.id)}: ${error.message}`, "failure");
    button.disabled = false;
  }
}

function copyId(job, button) {
  navigator.clipboard.writeText(job.id).then(
    () => toast(`Copied ${job.id}`),
    () => toast(`Job ID: ${job.id}`),
  );
  button.blur();
}

function row(job) {
  const copy = el("button", { type: "button", class: "id", title: `Copy ${job.id}`, "data-id": job.id, text: shortId(job.id) });
  copy.addEventListener("click", () => copyId(job, copy));
  const actions = el("td", { class: "actions" });
  if (may.cancel(job)) {
    const button = el("button", { type: "button", class: "cancel", "aria-label": `Cancel job ${job.id}`, text: "Cancel" });
    button.addEventListener("click", () => cancel(job, button));
    actions.append(button);
  }
  return el(
    "tr",
    { "data-job": job.id, "data-status": job.status },
    el("td", {}, el("a", { href: `/jobs/${job.id}`, text: typeName(job.type) })),
    el("td", {}, copy),
    el("td", { text: job.investigationId || "—" }),
    el("td", {}, when(job.createdAt)),
    el("td", {}, badge(job, rule.terminal)),
    el("td", {}, progressBar(job)),
    el("td", { class: "cost", text: `${tokens(job.tokens)} · ${money(job.cost)}` }),
    el("td", { text: job.agent || "—" }),
    actions,
  );
}

/** Put `job` on the page: replace its row, or add it on top when it belongs here. */
function show(job, { append = false } = {}) {
  const body = document.querySelector("#jobs tbody");
  const fresh = row(job);
  const present = rows.get(job.id);
  if (present) present.replaceWith(fresh);
  else if (append) body.append(fresh);
  else if (matches(job, filters())) body.prepend(fresh);
  else return;
  rows.set(job.id, fresh);
  document.getElementById("empty").hidden = rows.size > 0;
}

function heard(message) {
  const job = message.job;
  const before = lastStatus.get(job.id);
  lastStatus.set(job.id, job.status);
  show(job);
  const ended = rule.terminal.has(job.status) && (before === undefined || !rule.terminal.has(before));
  if (ended && message.event !== "Snapshot" && job.createdBy === caller.subject) announceEnd(job);
}

async function load(cursor = null) {
  const wanted = filters();
  const query = new URLSearchParams({ limit: String(PAGE_SIZE) });
  if (wanted.view === "mine") query.set("mine", "true");
  if (wanted.status) query.set("status", wanted.status);
  if (wanted.type) query.set("type", wanted.type);
  if (wanted.investigation) query.set("investigationId", wanted.investigation);
  if (cursor) query.set("cursor", cursor);
  const page = await api(`/v1/jobs?${query}`);
  for (const job of page.items) show(job, { append: true });
  nextCursor = page.nextCursor;
  document.getElementById("more").hidden = !nextCursor;
  document.getElementById("empty").hidden = rows.size > 0;
  return page.position;
}

function setUpFilters() {
  const form = document.getElementById("filters");
  for (const status of rule.statuses) form.status.append(el("option", { value: status, text: status }));
  for (const type of rule.types) form.type.append(el("option", { value: type, text: typeName(type) }));
  const wanted = filters();
  form.status.value = wanted.status;
  form.type.value = wanted.type;
  form.investigation.value = wanted.investigation;
  const apply = () => {
    const query = new URLSearchParams(location.search);
    for (const name of ["status", "type", "investigation"]) {
      if (form[name].value) query.set(name, form[name].value);
      else query.delete(name);
    }
    location.search = query.toString(); // a view to share: the filters live in the URL
  };
  form.addEventListener("change", apply);
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    apply();
  });
}

function setUpTabs() {
  if (!readsTenant()) return; // an analyst sees their own jobs only: no switcher
  const tabs = document.getElementById("tabs");
  tabs.hidden = false;
  const view = filters().view;
  for (const tab of tabs.querySelectorAll("[role=tab]")) {
    tab.setAttribute("aria-selected", String(tab.dataset.view === view));
    tab.addEventListener("click", () => {
      const query = new URLSearchParams(location.search);
      query.set("view", tab.dataset.view);
      location.search = query.toString();
    });
  }
}

async function start() {
  if (!caller) return;
  frame(caller, "jobs");
  offerNotifications();
  setUpTabs();
  setUpFilters();
  if (caller.hasAny(rule.submitters)) {
    const button = document.getElementById("open-submit");
    button.hidden = false;
    button.addEventListener("click", () => openSubmit(rule, (job) => show(job)));
  }
  document.getElementById("more").addEventListener("click", () => load(nextCursor));
  const position = await load();
  const live = document.getElementById("live");
  follow("/v1/stream", {
    after: position,
    onMessage: heard,
    onState: (state) => {
      live.textContent = state === "live" ? "live" : "reconnecting…";
      live.dataset.state = state;
    },
  });
}

start();
