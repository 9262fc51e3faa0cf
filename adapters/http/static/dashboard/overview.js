// Overview: queue depth, running, failure rate and durations from /v1/stats; jobs by
// status and cost by model and by investigation as bar charts drawn in SVG, each bar
// labelled with its name and number so colour is never the only cue.

import { api, frame, requireCaller, rules } from "./session.js";
import { el } from "./format.js";

const caller = requireCaller();
const SVG = "http://www.w3.org/2000/svg";

function svg(tag, attributes, text) {
  const node = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, String(value));
  if (text !== undefined) node.textContent = text;
  return node;
}

/** Horizontal bars: [label, value, shown text] each; widths scale to the largest. */
function bars(where, items, title) {
  const box = document.getElementById(where);
  if (!items.length) {
    box.replaceChildren(el("p", { class: "hint", text: "Nothing yet." }));
    return;
  }
  const height = 24;
  const largest = Math.max(...items.map(([, value]) => value), 1e-9);
  const chart = svg("svg", { viewBox: `0 0 640 ${items.length * height}`, role: "img", "aria-label": title, width: "100%" });
  items.forEach(([label, value, shown], index) => {
    const y = index * height;
    chart.append(svg("text", { x: 0, y: y + 16, class: "label" }, label));
    chart.append(svg("rect", { x: 200, y: y + 4, height: 16, width: Math.max(1, (value / largest) * 340), class: "bar" }));
    chart.append(svg("text", { x: 548, y: y + 16, class: "value" }, shown));
  });
  box.replaceChildren(chart);
}

function number(list, term, value) {
  list.append(el("div", {}, el("dt", { text: term }), el("dd", { text: value })));
}

function refuse(message) {
  const refused = document.getElementById("refused");
  refused.hidden = false;
  refused.textContent = message;
  document.getElementById("figures").hidden = true;
}

async function start() {
  if (!caller) return;
  frame(caller, "overview");
  const { readers } = rules();
  if (!caller.hasAny(readers)) {
    // The API would refuse: say so rather than ask it (and log three refusals).
    refuse(`The overview shows the whole tenant's figures, which ${readers.join(", ")} may read.`);
    return;
  }
  let stats, byModel, byInvestigation;
  try {
    [stats, byModel, byInvestigation] = await Promise.all([
      api("/v1/stats"),
      api("/v1/costs?groupBy=model"),
      api("/v1/costs?groupBy=investigation"),
    ]);
  } catch (error) {
    refuse(error.message);
    return;
  }
  const sum = (name) => stats.items.reduce((total, item) => total + item[name], 0);
  const ended = sum("completed") + sum("failed");
  const numbers = document.getElementById("numbers");
  number(numbers, "Queued", String(sum("queueDepth")));
  number(numbers, "Working", String(sum("working")));
  number(numbers, "Submitted", String(sum("submitted")));
  number(numbers, "Failure rate", ended ? `${((100 * sum("failed")) / ended).toFixed(1)}%` : "—");
  const p = (name) => Math.max(0, ...stats.items.map((item) => item.runMs[name] || 0));
  number(numbers, "Run time p50 (worst type)", `${(p("p50") / 1000).toFixed(1)} s`);
  number(numbers, "Run time p95 (worst type)", `${(p("p95") / 1000).toFixed(1)} s`);

  const counts = {};
  for (const item of stats.items)
    for (const [status, count] of Object.entries(item.statusCounts)) counts[status] = (counts[status] || 0) + count;
  bars("by-status", Object.entries(counts).map(([status, count]) => [status, count, String(count)]), "Jobs by status");
  const costs = (answer) =>
    answer.items.map((item) => [item.key || "(none)", Number(item.cost.amount), `${item.cost.currency} ${Number(item.cost.amount).toFixed(4)}`]);
  bars("by-model", costs(byModel), "Cost by model");
  bars("by-investigation", costs(byInvestigation), "Cost by investigation");
}

start();
