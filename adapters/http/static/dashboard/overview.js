// Overview: queue depth, running, failure rate and durations from /v1/stats; jobs by
// status, jobs per day (/v1/stats/daily), cost per day (also split by model and by
// investigation), by model and by investigation (/v1/costs) as bar charts drawn in SVG,
// each bar labelled with its name and number so colour is never the only cue.

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
  const chart = svg("svg", { viewBox: `0 0 900 ${items.length * height}`, role: "img", "aria-label": title, width: "100%" });
  items.forEach(([label, value, shown], index) => {
    const y = index * height;
    chart.append(svg("text", { x: 0, y: y + 16, class: "label" }, label));
    chart.append(svg("rect", { x: 200, y: y + 4, height: 16, width: Math.max(1, (value / largest) * 340), class: "bar" }));
    chart.append(svg("text", { x: 548, y: y + 16, class: "value" }, shown));
  });
  box.replaceChildren(chart);
}

const ENDINGS = ["completed", "failed", "cancelled"];
const DAYS = 14;

/** One row a day: the jobs that ended, as segments each with its own fill and pattern,
 * and the numbers written out beside them, so neither colour nor shape is needed. */
function perDay(where, days) {
  const box = document.getElementById(where);
  if (!days.length) {
    box.replaceChildren(el("p", { class: "hint", text: "Nothing yet." }));
    return;
  }
  const height = 24;
  const largest = Math.max(...days.map((d) => Math.max(d.submitted, ENDINGS.reduce((t, k) => t + d[k], 0))), 1);
  const chart = svg("svg", { viewBox: `0 0 900 ${days.length * height}`, role: "img", "aria-label": "Jobs per day by status", width: "100%" });
  days.forEach((day, index) => {
    const y = index * height;
    const row = svg("g", { "data-day": day.day });
    row.append(svg("text", { x: 0, y: y + 16, class: "label" }, day.day));
    let x = 110;
    for (const status of ENDINGS) {
      const width = (day[status] / largest) * 300;
      if (width > 0) row.append(svg("rect", { x, y: y + 4, height: 16, width, class: `segment ${status}` }));
      x += width;
    }
    const told = [`${day.submitted} submitted`, ...ENDINGS.map((status) => `${day[status]} ${status}`)];
    row.append(svg("text", { x: 420, y: y + 16, class: "value" }, told.join(" · ")));
    chart.append(row);
  });
  box.replaceChildren(chart);
}

/** Grouped bars: a group a day, one bar in it for each model (or investigation) with its
 * name and cost written beside it, so the chart reads without colour. */
function splitPerDay(where, answer, title) {
  const box = document.getElementById(where);
  if (!answer.items.length) {
    box.replaceChildren(el("p", { class: "hint", text: "Nothing yet." }));
    return;
  }
  const height = 22;
  const gap = 8;
  const amount = (item) => Number(item.cost.amount);
  const largest = Math.max(...answer.items.map(amount), 1e-9);
  const days = [...new Set(answer.items.map((item) => item.key))];
  const total = answer.items.length * height + days.length * gap;
  const chart = svg("svg", { viewBox: `0 0 900 ${total}`, role: "img", "aria-label": title, width: "100%" });
  let y = 0;
  for (const day of days) {
    const group = svg("g", { "data-day": day });
    answer.items.filter((item) => item.key === day).forEach((item, index) => {
      const name = item.split || "(none)";
      const row = svg("g", { "data-split": name });
      if (index === 0) row.append(svg("text", { x: 0, y: y + 15, class: "label" }, day));
      row.append(svg("text", { x: 100, y: y + 15, class: "label" }, name));
      row.append(svg("rect", { x: 320, y: y + 3, height: 16, width: Math.max(1, (amount(item) / largest) * 300), class: "bar" }));
      const unpriced = item.unpricedUsages ? ` + ${item.unpricedUsages} unpriced` : "";
      row.append(svg("text", { x: 630, y: y + 15, class: "value" }, `${item.cost.currency} ${amount(item).toFixed(4)}${unpriced}`));
      group.append(row);
      y += height;
    });
    chart.append(group);
    y += gap;
  }
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
  let stats, byModel, byInvestigation, daily, costPerDay, modelPerDay, investigationPerDay;
  const since = new Date(Date.now() - (DAYS - 1) * 864e5).toISOString().slice(0, 10); // UTC
  try {
    [stats, byModel, byInvestigation, daily, costPerDay, modelPerDay, investigationPerDay] = await Promise.all([
      api("/v1/stats"),
      api("/v1/costs?groupBy=model"),
      api("/v1/costs?groupBy=investigation"),
      api(`/v1/stats/daily?since=${since}`),
      api(`/v1/costs?groupBy=day&since=${since}`),
      api(`/v1/costs?groupBy=day&split=model&since=${since}`),
      api(`/v1/costs?groupBy=day&split=investigation&since=${since}`),
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
  perDay("per-day", daily.items);
  const failedShare = (item) => (Number(item.unsuccessfulCost.amount) > 0 ? ` (${Number(item.unsuccessfulCost.amount).toFixed(4)} on failed attempts)` : "");
  bars("cost-per-day", costs(costPerDay).map((bar, index) => [bar[0], bar[1], bar[2] + failedShare(costPerDay.items[index])]), "Cost per day");
  splitPerDay("model-per-day", modelPerDay, "Cost per day by model");
  splitPerDay("investigation-per-day", investigationPerDay, "Cost per day by investigation");
  bars("by-investigation", costs(byInvestigation), "Cost by investigation");
}

start();
