// A job's details: facts, progress and findings as they arrive, inputs (the API shows
// them to the creator only), result, error, and the status history; live from the
// job's own stream.

import { api, ApiError, frame, requireCaller, rules } from "./session.js";
import { follow } from "./stream.js";
import { badge, el, money, progressBar, toast, tokens, typeName, when } from "./format.js";
import { offerNotifications } from "./notify.js";

const caller = requireCaller();
const rule = rules();
const jobId = location.pathname.split("/").pop();

function fact(list, term, value) {
  list.append(el("dt", { text: term }), el("dd", {}, value ?? "—"));
}

function render(job) {
  document.title = `${typeName(job.type)} ${job.id.slice(0, 6)} · jobledger`;
  document.getElementById("title").textContent = typeName(job.type);
  document.getElementById("status").replaceChildren(badge(job, rule.terminal));
  const facts = document.getElementById("facts");
  facts.replaceChildren();
  fact(facts, "Job ID", el("code", { text: job.id }));
  fact(facts, "Investigation", job.investigationId);
  fact(facts, "Created by", job.createdBy);
  fact(facts, "Created", when(job.createdAt));
  fact(facts, "Started", when(job.startedAt));
  fact(facts, "Finished", when(job.finishedAt));
  fact(facts, "Agent", job.agent);
  fact(facts, "Pool", job.pool || "automatic");
  fact(facts, "Attempt", `${job.attempt} of ${job.maxAttempts}`);
  fact(facts, "Priority", String(job.priority));
  fact(facts, "Tokens", tokens(job.tokens));
  fact(facts, "Cost", money(job.cost));
  if (job.projectedCost) fact(facts, "Projected cost", money(job.projectedCost));
  if (job.estimatedCompletionAt) fact(facts, "Estimated completion", when(job.estimatedCompletionAt));

  document.getElementById("progress").replaceChildren(progressBar(job));
  const findings = document.getElementById("findings");
  findings.replaceChildren();
  for (const [kind, count] of Object.entries(job.findings)) fact(findings, kind, String(count));

  const inputs = job.inputs || [];
  document.getElementById("inputs-section").hidden = job.inputs === null;
  document.querySelector("#inputs tbody").replaceChildren(
    ...inputs.map((input) =>
      el("tr", {}, el("td", { text: input.name }), el("td", { text: input.mediaType }),
        el("td", { text: `${input.sizeBytes.toLocaleString()} bytes` }), el("td", { text: input.uri || "—" })),
    ),
  );
  document.getElementById("error-section").hidden = !job.error;
  if (job.error) document.getElementById("error").textContent = `${job.error.code}: ${job.error.message}`;
  document.getElementById("result-section").hidden = !job.result;
  if (job.result) document.getElementById("result").textContent = JSON.stringify(job.result, null, 2);

  const cancel = document.getElementById("cancel");
  cancel.hidden = !(
    rule.cancellable.has(job.status) &&
    !job.cancellationRequested &&
    (caller.roles.has("admin") || (caller.roles.has("analyst") && job.createdBy === caller.subject))
  );
}

function renderHistory(history) {
  document.querySelector("#history tbody").replaceChildren(
    ...history.items.map((change) =>
      el("tr", {}, el("td", {}, when(change.at)), el("td", { text: change.fromStatus || "—" }),
        el("td", { text: change.toStatus }), el("td", { text: change.trigger }),
        el("td", { text: change.actor }), el("td", { text: change.reason || "" })),
    ),
  );
}

async function refresh() {
  const [job, history] = await Promise.all([api(`/v1/jobs/${jobId}`), api(`/v1/jobs/${jobId}/history`)]);
  render(job);
  renderHistory(history);
}

async function start() {
  if (!caller) return;
  frame(caller, "jobs");
  offerNotifications();
  document.getElementById("cancel").addEventListener("click", async () => {
    try {
      await api(`/v1/jobs/${jobId}/cancel`, { method: "POST", body: { reason: "cancelled from the dashboard" } });
      await refresh();
    } catch (error) {
      toast(`Could not cancel: ${error.message}`, "failure");
    }
  });
  try {
    await refresh();
  } catch (error) {
    if (!(error instanceof ApiError)) throw error;
    const missing = document.getElementById("missing");
    missing.hidden = false;
    missing.textContent = error.message;
    return;
  }
  let pending = null;
  follow(`/v1/jobs/${jobId}/stream`, {
    onMessage: () => {
      clearTimeout(pending); // a burst of events: one refresh
      pending = setTimeout(refresh, 100);
    },
  });
}

start();
