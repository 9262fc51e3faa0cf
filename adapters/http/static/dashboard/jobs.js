// The jobs page: My Jobs (and All Jobs for roles that read the tenant), filters kept in
// the URL (status, type, investigation, created between, active first), rows kept current from the tenant's stream, cancel, the details dialog and the submit dialog.

import { api, frame, requireCaller, rules } from "./session.js";
import { follow } from "./stream.js";
import { badge, el, eta, money, progressBar, shortId, toast, tokens, typeName, when } from "./format.js";
import { announceEnd, offerNotifications } from "./notify.js";
import { openSubmit } from "./submit.js";
import { mountDetails } from "./details.js";
import { openModal } from "./dialogs.js";

const caller = requireCaller();
const rule = rules();
const PAGE_SIZE = 50;
const rows = new Map(); // job id -> <tr>
const lastStatus = new Map(); // job id -> status, for every job the stream told of

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
    from: query.get("from") || "",
    to: query.get("to") || "",
    activeFirst: query.get("active") === "first",
  };
}

/** The created-between days (the browser's own days) as the API's instants. */
function createdWindow(wanted) {
  const start = (day) => new Date(`${day}T00:00`);
  const after = wanted.from ? start(wanted.from) : null;
  let before = null;
  if (wanted.to) {
    before = start(wanted.to);
    before.setDate(before.getDate() + 1); // the whole last day is included
  }
  return { after, before };
}

function matches(job, wanted) {
  const { after, before } = createdWindow(wanted);
  const created = new Date(job.createdAt);
  return (
    (wanted.view === "all" || job.createdBy === caller.subject) &&
    (!wanted.status || job.status === wanted.status) &&
    (!wanted.type || job.type === wanted.type) &&
    (!wanted.investigation || job.investigationId === wanted.investigation) &&
    (!after || created >= after) &&
    (!before || created < before)
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
  const link = el("a", { href: `/jobs/${job.id}`, id: `open-${job.id}`, "aria-label": `${typeName(job.type)} job ${job.id}: details`, text: typeName(job.type) });
  link.addEventListener("click", (event) => {
    if (event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return; // a new tab: the page
    event.preventDefault();
    openDetails(job.id);
  });
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
    el("td", {}, link),
    el("td", {}, copy),
    el("td", { text: job.investigationId || "—" }),
    el("td", {}, when(job.createdAt)),
    el("td", {}, when(job.startedAt)),
    el("td", {}, badge(job, rule.terminal)),
    el("td", {}, progressBar(job)),
    el("td", { class: "eta" }, eta(job, rule.terminal)),
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

let details = null; // the dialog's details while it is open

function openDetails(jobId) {
  const dialog = document.getElementById("details-dialog");
  details?.stop();
  details = mountDetails(document.getElementById("details"), jobId, { caller, rule });
  document.getElementById("details-page").href = `/jobs/${jobId}`;
  openModal(dialog);
}

function setUpDetails() {
  const dialog = document.getElementById("details-dialog");
  document.getElementById("close-details").addEventListener("click", () => dialog.close());
  dialog.addEventListener("close", () => {
    details?.stop(); // a closed dialog follows nothing
    details = null;
  });
}

function heard(message) {
  const job = message.job;
  const before = lastStatus.get(job.id);
  lastStatus.set(job.id, job.status);
  show(job);
  const ended = rule.terminal.has(job.status) && (before === undefined || !rule.terminal.has(before));
  if (ended && message.event !== "Snapshot" && job.createdBy === caller.subject) announceEnd(job);
}

/**
 * The statuses each part of the list asks for, in turn: all in one part, or with
 * "active first" the active ones before the finished ones (each newest first).
 */
function parts(wanted) {
  const chosen = wanted.status ? [wanted.status] : rule.statuses;
  if (!wanted.activeFirst) return [wanted.status ? chosen : []];
  const active = chosen.filter((status) => !rule.terminal.has(status));
  const ended = chosen.filter((status) => rule.terminal.has(status));
  return [active, ended].filter((statuses) => statuses.length);
}

let paging = { part: 0, cursor: null }; // where "Load more" continues

async function load() {
  const wanted = filters();
  const all = parts(wanted);
  const { after, before } = createdWindow(wanted);
  let position = null;
  let shown = 0;
  while (paging.part < all.length && shown < PAGE_SIZE) {
    const query = new URLSearchParams({ limit: String(PAGE_SIZE - shown) });
    if (wanted.view === "mine") query.set("mine", "true");
    for (const status of all[paging.part]) query.append("status", status);
    if (wanted.type) query.set("type", wanted.type);
    if (wanted.investigation) query.set("investigationId", wanted.investigation);
    if (after) query.set("createdAfter", after.toISOString());
    if (before) query.set("createdBefore", before.toISOString());
    if (paging.cursor) query.set("cursor", paging.cursor);
    const page = await api(`/v1/jobs?${query}`);
    for (const job of page.items) show(job, { append: true });
    shown += page.items.length;
    position = position === null ? page.position : Math.min(position, page.position);
    paging = page.nextCursor ? { part: paging.part, cursor: page.nextCursor } : { part: paging.part + 1, cursor: null };
  }
  document.getElementById("more").hidden = paging.part >= all.length;
  document.getElementById("empty").hidden = rows.size > 0;
  return position ?? 0;
}

function setUpFilters() {
  const form = document.getElementById("filters");
  for (const status of rule.statuses) form.status.append(el("option", { value: status, text: status }));
  for (const type of rule.types) form.type.append(el("option", { value: type, text: typeName(type) }));
  const wanted = filters();
  form.status.value = wanted.status;
  form.type.value = wanted.type;
  form.investigation.value = wanted.investigation;
  form.from.value = wanted.from;
  form.to.value = wanted.to;
  form.active.checked = wanted.activeFirst;
  const apply = () => {
    const query = new URLSearchParams(location.search);
    for (const name of ["status", "type", "investigation", "from", "to"]) {
      if (form[name].value) query.set(name, form[name].value);
      else query.delete(name);
    }
    if (form.active.checked) query.set("active", "first");
    else query.delete("active");
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
  const all = [...tabs.querySelectorAll("[role=tab]")];
  for (const tab of all) {
    const selected = tab.dataset.view === view;
    tab.setAttribute("aria-selected", String(selected));
    tab.tabIndex = selected ? 0 : -1; // one stop in the Tab order; arrows move between tabs
    tab.addEventListener("click", () => {
      const query = new URLSearchParams(location.search);
      query.set("view", tab.dataset.view);
      location.search = query.toString();
    });
  }
  tabs.addEventListener("keydown", (event) => {
    const step = { ArrowRight: 1, ArrowLeft: -1 }[event.key];
    if (!step) return;
    const next = all[(all.indexOf(document.activeElement) + step + all.length) % all.length];
    next.focus();
    event.preventDefault();
  });
}

async function start() {
  if (!caller) return;
  frame(caller, "jobs");
  offerNotifications();
  setUpTabs();
  setUpFilters();
  setUpDetails();
  if (caller.hasAny(rule.submitters)) {
    const button = document.getElementById("open-submit");
    button.hidden = false;
    button.addEventListener("click", () => openSubmit(rule, (job) => show(job)));
  }
  document.getElementById("more").addEventListener("click", () => load());
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
