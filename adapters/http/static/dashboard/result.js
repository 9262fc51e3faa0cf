// A completed job's result, read by its job type (domain/results.py): the summary, the
// counts every type shares, then the type's own parts: its counts and scores as figures,
// its lists of things found (threats, patterns, outliers, correlations, forecasts,
// findings) as tables, its named lists (central entities) and tallies (entity types).

import { el } from "./format.js";

const SHARED_COUNTS = ["entities", "relationships", "anomalies", "predictions"];
// What each type adds to the shared parts, in the order a reader wants it.
const BY_TYPE = {
  entity_extraction: ["entity_types"],
  graph_analysis: ["nodes", "edges", "communities", "central_entities"],
  threat_modelling: ["risk_score", "threats"],
  pattern_recognition: ["patterns"],
  anomaly_detection: ["threshold", "outliers"],
  correlation_analysis: ["correlations"],
  predictive_modelling: ["horizon_days", "forecasts"],
};

const label = (name) => {
  const words = name.replace(/_/g, " ");
  return words.charAt(0).toUpperCase() + words.slice(1);
};

function shown(value) {
  if (typeof value === "number") return Number.isInteger(value) ? value.toLocaleString() : String(value);
  if (value === null || value === undefined) return "—";
  if (typeof value === "object") return JSON.stringify(value);
  return String(value);
}

function table(name, items) {
  const columns = [...new Set(items.flatMap((item) => Object.keys(item)))];
  return el(
    "table",
    { "data-result": name },
    el("caption", { text: label(name) }),
    el("thead", {}, el("tr", {}, ...columns.map((c) => el("th", { scope: "col", text: label(c) })))),
    el("tbody", {}, ...items.map((item) => el("tr", {}, ...columns.map((c) => el("td", { text: shown(item[c]) }))))),
  );
}

function part(name, value) {
  if (Array.isArray(value)) {
    if (!value.length) return null;
    if (value.every((item) => item !== null && typeof item === "object")) return table(name, value);
    return el("div", { "data-result": name }, el("h3", { text: label(name) }),
      el("ul", {}, ...value.map((item) => el("li", { text: shown(item) }))));
  }
  if (value !== null && typeof value === "object") {
    const tally = el("dl", { class: "facts", "data-result": name });
    for (const [key, count] of Object.entries(value)) tally.append(el("dt", { text: key }), el("dd", { text: shown(count) }));
    return el("div", {}, el("h3", { text: label(name) }), tally);
  }
  return null;
}

/** The result of a job of `type` as DOM nodes. */
export function renderResult(type, result) {
  const own = BY_TYPE[type] || Object.keys(result).filter((k) => !["type", "summary", "findings", ...SHARED_COUNTS].includes(k));
  const nodes = [];
  if (result.summary) nodes.push(el("p", { class: "summary", text: result.summary }));
  const figures = el("dl", { class: "facts", "data-result": "counts" });
  for (const name of [...SHARED_COUNTS, ...own]) {
    const value = result[name];
    if (typeof value === "number" && (value !== 0 || own.includes(name)))
      figures.append(el("dt", { text: label(name) }), el("dd", { text: shown(value) }));
  }
  if (figures.childElementCount) nodes.push(figures);
  for (const name of own) nodes.push(part(name, result[name]));
  nodes.push(part("findings", result.findings || []));
  return nodes.filter(Boolean);
}
