// The work inside a job, in its details: for a job of tasks, each named worker's task and
// the verdict with where every counted score came from; for a job whose agent records its
// steps, the step log as a timeline (action, tools and their times, tokens and cost).

import { el, money, tokens, when } from "./format.js";

const score = (value) => (value === -1 ? "uncertain" : String(value));

function source(counted, jobId) {
  if (counted.source === "task") return "this task";
  const job = counted.sourceJobId === jobId ? "this job" : `job ${counted.sourceJobId}`;
  return `task ${counted.sourceTaskId} of ${job}`;
}

/** The tasks table and the verdict, or both hidden for a job without tasks. */
export function renderTasks(part, job) {
  const tasks = job.tasks || [];
  part("tasks-section").hidden = tasks.length === 0;
  if (tasks.length === 0) return;
  part("subject").textContent = job.subject;
  part("tasks").tBodies[0].replaceChildren(
    ...tasks.map((task) =>
      el("tr", { "data-worker": task.worker },
        el("th", { scope: "row", text: task.worker }),
        el("td", {}, el("span", { class: `badge task-${task.state}`, "data-state": task.state, text: task.state })),
        el("td", { text: task.score === null ? "—" : score(task.score) }),
        el("td", { text: task.analyses.join(", ") || "—" }),
        el("td", { class: task.error ? "error" : "", text: task.error ? `${task.error.code}: ${task.error.message}` : "" }),
        el("td", {}, when(task.startedAt)), el("td", {}, when(task.finishedAt))),
    ),
  );
  const verdict = job.verdict;
  const shown = part("verdict");
  shown.dataset.verdict = verdict === null ? "pending" : verdict.score === null ? "none" : score(verdict.score);
  if (verdict === null) shown.textContent = "Verdict: not yet (some tasks are not final)";
  else if (verdict.score === null) shown.textContent = "Verdict: no verdict (no score counted)";
  else shown.textContent = `Verdict: ${score(verdict.score)}`;
  const counted = verdict ? verdict.counted : [];
  part("counted").hidden = counted.length === 0;
  part("counted").tBodies[0].replaceChildren(
    ...counted.map((item) =>
      el("tr", { "data-worker": item.worker },
        el("th", { scope: "row", text: item.worker }),
        el("td", { text: score(item.score) }),
        el("td", { text: source(item, job.id) })),
    ),
  );
}

function toolList(calls) {
  if (!calls || calls.length === 0) return "—";
  return el("ul", { class: "tools" },
    ...calls.map((call) =>
      el("li", { "data-tool": call.toolName },
        el("code", { text: call.toolName }),
        ` ${call.executionTimeMs.toLocaleString()} ms`,
        call.success ? "" : el("strong", { class: "error", text: " failed" }),
        call.startedAt ? el("span", { class: "hint" }, " at ", when(call.startedAt)) : null)),
  );
}

/** The step log: one row a step, its duration also drawn against the longest. */
export function renderSteps(part, steps) {
  part("steps-section").hidden = steps.length === 0;
  if (steps.length === 0) return;
  const longest = Math.max(1, ...steps.map((s) => s.durationMs));
  part("steps").tBodies[0].replaceChildren(
    ...steps.map((step) =>
      el("tr", { "data-step": String(step.step) },
        el("th", { scope: "row", text: String(step.step) }),
        el("td", {}, when(step.executedAt)),
        el("td", {}, el("code", { text: step.actionName })),
        el("td", { text: step.category || "—" }),
        el("td", { class: step.success ? "" : "error", text: step.success ? "yes" : "no" }),
        el("td", {},
          el("meter", { class: "duration", min: "0", max: String(longest), value: String(step.durationMs), "aria-hidden": "true" }),
          ` ${step.durationMs.toLocaleString()} ms`),
        el("td", {}, toolList(step.mcpToolCalls)),
        el("td", { text: step.model ? `${tokens(step.tokens)} (${step.model})` : "—" }),
        el("td", { text: step.cost ? money(step.cost) : "—" })),
    ),
  );
  const total = steps.reduce((sum, s) => sum + s.durationMs, 0);
  part("steps-total").textContent =
    `${steps.length} step${steps.length === 1 ? "" : "s"}, ${total.toLocaleString()} ms in all`;
}
