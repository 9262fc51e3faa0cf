// How a job's parts read on a page: built as DOM nodes, never as HTML text, so no
// value from the API can become markup.

export function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === null || value === undefined || value === false) continue;
    if (name === "text") node.textContent = value;
    else if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else node.setAttribute(name, value === true ? "" : value);
  }
  node.append(...children.filter((child) => child !== null && child !== undefined));
  return node;
}

export const shortId = (id) => `${id.slice(0, 6)}…`;

export function when(iso) {
  if (!iso) return "—";
  const moment = new Date(iso);
  return el("time", { datetime: iso, title: iso, text: moment.toLocaleString() });
}

/** When an active job should finish (the API's estimate from its progress so far). */
export function eta(job, terminal) {
  if (terminal.has(job.status) || !job.estimatedCompletionAt) return "—";
  const seconds = Math.max(0, Math.round((new Date(job.estimatedCompletionAt) - Date.now()) / 1000));
  const left = seconds < 90 ? `${seconds} s` : `${Math.round(seconds / 60)} min`;
  return el("time", { datetime: job.estimatedCompletionAt, title: job.estimatedCompletionAt, text: `in ${left}` });
}

export function money(cost) {
  return `${cost.currency} ${Number(cost.amount).toFixed(4)}`;
}

export function tokens(counts) {
  return (counts.input + counts.output + counts.cachedInput).toLocaleString();
}

export const typeName = (type) => type.replace(/_/g, " ");

/** A status badge: the word always (readable without colour), a spinner while active. */
export function badge(job, terminal) {
  const active = !terminal.has(job.status);
  const word = job.cancellationRequested && active ? `${job.status} (cancelling)` : job.status;
  return el(
    "span",
    { class: `badge status-${job.status}`, "data-status": job.status },
    active ? el("span", { class: "spinner", "aria-hidden": "true" }) : null,
    word,
  );
}

export function progressBar(job) {
  return el(
    "span",
    { class: "progress" },
    el("progress", { max: "100", value: String(job.progress), "aria-label": `Progress of job ${shortId(job.id)}` }),
    el("span", { class: "percent", text: `${job.progress}%` }),
  );
}

let toastsShown = 0;

export function toast(text, kind = "info") {
  const box = document.getElementById("toasts");
  const note = el("div", { class: `toast ${kind}`, id: `toast-${++toastsShown}`, text });
  box.append(note);
  setTimeout(() => note.remove(), 8000);
}
