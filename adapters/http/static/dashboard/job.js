// A job's details page (/jobs/{id}): the same details the jobs page opens in a dialog.

import { frame, requireCaller, rules } from "./session.js";
import { typeName } from "./format.js";
import { mountDetails } from "./details.js";
import { offerNotifications } from "./notify.js";

const caller = requireCaller();

async function start() {
  if (!caller) return;
  frame(caller, "jobs");
  offerNotifications();
  const jobId = location.pathname.split("/").pop();
  const shown = mountDetails(document.getElementById("details"), jobId, { caller, rule: rules() });
  const job = await shown.ready;
  if (job) document.title = `${typeName(job.type)} ${job.id.slice(0, 6)} · jobledger`;
}

start();
