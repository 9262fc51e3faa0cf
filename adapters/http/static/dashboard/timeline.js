// The auditor's part of a job's details: every stored event, and the job as it stood at
// any version, rebuilt by the API (GET /v1/jobs/{id}/replay?version=N).

import { api } from "./session.js";
import { el, money, shortId, when } from "./format.js";

function fact(list, term, value) {
  list.append(el("dt", { text: term }), el("dd", {}, value ?? "—"));
}

export function timeline(part, jobId) {
  const slider = part("version");
  let events = [];
  let asked = 0; // the newest replay asked for: an older answer arriving late is dropped

  async function show(version) {
    const ask = ++asked;
    slider.value = String(version);
    const event = events.find((e) => e.version === version);
    part("version-shown").textContent = `version ${version} of ${events.length}${event ? `: ${event.type}` : ""}`;
    for (const row of part("events").tBodies[0].rows)
      row.toggleAttribute("aria-current", Number(row.dataset.version) === version);
    const job = await api(`/v1/jobs/${jobId}/replay?version=${version}`);
    if (ask !== asked) return;
    const list = part("as-of");
    list.replaceChildren();
    list.dataset.version = String(job.version);
    fact(list, "Version", String(job.version));
    fact(list, "Status", job.status);
    fact(list, "Progress", `${job.progress}%`);
    fact(list, "Attempt", `${job.attempt} of ${job.maxAttempts}`);
    fact(list, "Agent", job.agent);
    fact(list, "Cost", money(job.cost));
    fact(list, "Updated", when(job.updatedAt));
    if (job.error) fact(list, "Error", `${job.error.code}: ${job.error.message}`);
    if (job.result) fact(list, "Result", job.result.summary || "(no summary)");
  }

  slider.addEventListener("change", () => show(Number(slider.value)));

  return {
    /** Read the events again (the job changed); keep the chosen version unless it was the newest. */
    async refresh() {
      const following = events.length === 0 || Number(slider.value) === events.length;
      events = (await api(`/v1/jobs/${jobId}/events`)).items;
      slider.max = String(events.length);
      part("events").tBodies[0].replaceChildren(
        ...events.map((event) => {
          const see = el("button", { type: "button", class: "quiet", text: `v${event.version}`,
            "aria-label": `See job ${shortId(jobId)} at version ${event.version}` });
          see.addEventListener("click", () => show(event.version));
          return el("tr", { "data-version": String(event.version) },
            el("td", { text: String(event.version) }), el("td", {}, when(event.at)),
            el("td", { text: event.type }), el("td", { text: event.actor }),
            el("td", {}, el("code", { text: event.correlationId })), el("td", {}, see));
        }),
      );
      await show(following ? events.length : Number(slider.value));
    },
  };
}
