// A job's details, on its own page and in the jobs page's dialog alike: facts, progress
// and findings as they arrive, inputs (the API shows them to the creator only), tokens
// and cost by model and by attempt, each failed attempt's error, the result read by job
// type, a job of tasks' tasks and verdict, the agent's steps, the status history, and for
// auditors the event timeline with the job as it stood at any version; kept current from
// the job's own stream.

import { api, ApiError } from "./session.js";
import { follow } from "./stream.js";
import { badge, el, money, progressBar, toast, tokens, typeName, when } from "./format.js";
import { renderResult } from "./result.js";
import { timeline } from "./timeline.js";
import { renderSteps, renderTasks } from "./work.js";

function fact(list, term, value) {
  list.append(el("dt", { text: term }), el("dd", {}, value ?? "—"));
}

const spent = (cost) => Number(cost.amount) > 0;

/** Each attempt: how it ended and why, from the status history, and what it cost. */
function attempts(job, history, costs) {
  const byNumber = new Map();
  const of = (n) => {
    if (!byNumber.has(n)) byNumber.set(n, { number: n, outcome: null, error: null, cost: null });
    return byNumber.get(n);
  };
  for (const change of history.items) {
    if (change.trigger === "submit") continue;
    const attempt = of(change.attempt);
    attempt.outcome = change.toStatus;
    if (change.trigger === "fail" || change.trigger === "expire_lease") {
      attempt.outcome = change.toStatus === "queued" ? "failed, retried" : change.toStatus;
      attempt.error = change.reason;
    }
  }
  for (const item of costs.byAttempt) of(Number(item.key)).cost = item;
  return [...byNumber.values()].sort((a, b) => a.number - b.number);
}

function costCell(item) {
  const text = money(item.cost);
  if (!item.unpricedUsages) return el("td", { text });
  const unpriced = `${item.unpricedUsages} unpriced usage${item.unpricedUsages === 1 ? "" : "s"}`;
  return el("td", { class: "unpriced" }, `${text} + `, el("strong", { text: unpriced }));
}

export function mountDetails(container, jobId, { caller, rule }) {
  container.replaceChildren(document.getElementById("details-template").content.cloneNode(true));
  const part = (name) => container.querySelector(`[data-part="${name}"]`);
  const may = (job) =>
    rule.cancellable.has(job.status) &&
    !job.cancellationRequested &&
    (caller.roles.has("admin") || (caller.roles.has("analyst") && job.createdBy === caller.subject));

  function render(job, history) {
    part("title").textContent = typeName(job.type);
    part("status").replaceChildren(badge(job, rule.terminal));
    const facts = part("facts");
    facts.replaceChildren();
    const ended = rule.terminal.has(job.status) ? history.items.at(-1) : null;
    fact(facts, "Job ID", el("code", { text: job.id }));
    fact(facts, "Investigation", job.investigationId);
    fact(facts, "Created", when(job.createdAt));
    fact(facts, "Created by", job.createdBy);
    fact(facts, "Started", when(job.startedAt));
    fact(facts, "Agent", job.agent);
    fact(facts, "Finished", when(job.finishedAt));
    fact(facts, "Finished by", ended ? ended.actor : null);
    fact(facts, "Pool", job.pool || "automatic");
    fact(facts, "Attempt", `${job.attempt} of ${job.maxAttempts}`);
    fact(facts, "Priority", String(job.priority));
    fact(facts, "Tokens", tokens(job.tokens));
    fact(facts, "Cost", money(job.cost));
    if (job.projectedCost) fact(facts, "Projected cost", money(job.projectedCost));
    if (job.estimatedCompletionAt) fact(facts, "Estimated completion", when(job.estimatedCompletionAt));

    part("progress").replaceChildren(progressBar(job));
    const findings = part("findings");
    findings.replaceChildren();
    for (const [kind, count] of Object.entries(job.findings)) fact(findings, kind, String(count));

    part("inputs-section").hidden = job.inputs === null || job.inputs === undefined;
    part("inputs").tBodies[0].replaceChildren(
      ...(job.inputs || []).map((input) =>
        el("tr", {}, el("td", { text: input.name }), el("td", { text: input.mediaType }),
          el("td", { text: `${input.sizeBytes.toLocaleString()} bytes` }), el("td", { text: input.uri || "—" })),
      ),
    );
    const submitted = part("submitted");
    submitted.replaceChildren();
    if (job.config && Object.keys(job.config).length) fact(submitted, "Config", el("code", { text: JSON.stringify(job.config) }));
    if (job.metadata && Object.keys(job.metadata).length) fact(submitted, "Metadata", el("code", { text: JSON.stringify(job.metadata) }));

    part("error-section").hidden = !job.error;
    if (job.error) part("error").textContent = `${job.error.code}: ${job.error.message}`;
    part("result-section").hidden = !job.result;
    if (job.result) part("result").replaceChildren(...renderResult(job.type, job.result));
    part("cancel").hidden = !may(job);
  }

  function renderCosts(job, history, costs) {
    part("by-model").tBodies[0].replaceChildren(
      ...costs.byModel.map((item) =>
        el("tr", { "data-model": item.key }, el("th", { scope: "row", text: item.key }), el("td", { text: String(item.usages) }),
          el("td", { text: tokens(item.tokens) }), costCell(item),
          el("td", { class: spent(item.unsuccessfulCost) ? "failed-spend" : "", text: spent(item.unsuccessfulCost) ? money(item.unsuccessfulCost) : "—" })),
      ),
    );
    part("no-usage").hidden = costs.byModel.length > 0;
    const all = attempts(job, history, costs);
    part("attempts-section").hidden = all.length === 0;
    part("attempts").tBodies[0].replaceChildren(
      ...all.map((attempt) =>
        el("tr", { "data-attempt": String(attempt.number) },
          el("th", { scope: "row", text: String(attempt.number) }),
          el("td", { text: attempt.outcome || "—" }),
          el("td", { class: attempt.error ? "error" : "", text: attempt.error || "" }),
          attempt.cost
            ? el("td", {}, money(attempt.cost.cost),
              spent(attempt.cost.unsuccessfulCost) ? el("span", { class: "failed-spend", text: " (spent on a failed attempt)" }) : null,
              attempt.cost.unpricedUsages ? el("span", { class: "unpriced", text: ` + ${attempt.cost.unpricedUsages} unpriced` }) : null)
            : el("td", { text: "—" })),
      ),
    );
  }

  function renderHistory(history) {
    part("history").tBodies[0].replaceChildren(
      ...history.items.map((change) =>
        el("tr", {}, el("td", {}, when(change.at)), el("td", { text: change.fromStatus || "—" }),
          el("td", { text: change.toStatus }), el("td", { text: change.trigger }),
          el("td", { text: change.actor }), el("td", { text: change.reason || "" })),
      ),
    );
  }

  const audit = caller.roles.has("auditor") ? timeline(part, jobId) : null;
  part("audit-section").hidden = audit === null;

  let current = null;
  async function refresh() {
    const [job, history, costs, steps] = await Promise.all([
      api(`/v1/jobs/${jobId}`),
      api(`/v1/jobs/${jobId}/history`),
      api(`/v1/jobs/${jobId}/costs`),
      api(`/v1/jobs/${jobId}/steps`),
    ]);
    current = job;
    render(job, history);
    renderCosts(job, history, costs);
    renderHistory(history);
    renderTasks(part, job);
    renderSteps(part, steps.items);
    if (audit) await audit.refresh();
    return job;
  }

  part("cancel").addEventListener("click", async () => {
    try {
      await api(`/v1/jobs/${jobId}/cancel`, { method: "POST", body: { reason: "cancelled from the dashboard" } });
      await refresh();
    } catch (error) {
      toast(`Could not cancel: ${error.message}`, "failure");
    }
  });

  let stream = null;
  let pending = null;
  let stopped = false;
  const ready = (async () => {
    try {
      await refresh();
    } catch (error) {
      if (!(error instanceof ApiError)) throw error;
      const missing = part("missing");
      missing.hidden = false;
      missing.textContent = error.message;
      return null;
    }
    if (stopped) return current;
    stream = follow(`/v1/jobs/${jobId}/stream`, {
      onMessage: () => {
        clearTimeout(pending); // a burst of events: one refresh
        pending = setTimeout(refresh, 100);
      },
    });
    return current;
  })();

  return {
    ready,
    stop() {
      stopped = true;
      clearTimeout(pending);
      stream?.stop();
    },
  };
}
