// The submit dialog: the config is checked as JSON before sending, and the API's
// field errors (problem+json `errors`) are shown next to the field they name.

import { api, ApiError } from "./session.js";
import { el, typeName } from "./format.js";

const FIELD_OF = { inputs: "inputs", config: "config", type: "type", investigationId: "investigationId", priority: "priority", pool: "pool" };

function clearErrors(form) {
  for (const slot of form.querySelectorAll("[data-error]")) slot.textContent = "";
}

function showError(form, field, message) {
  const slot = form.querySelector(`[data-error="${field}"]`) || form.querySelector('[data-error="form"]');
  slot.textContent = slot.textContent ? `${slot.textContent}; ${message}` : message;
  const control = form.elements[field];
  if (control && control.focus) control.setAttribute("aria-invalid", "true");
}

function body(form) {
  const fields = form.elements;
  let config;
  try {
    config = JSON.parse(fields.config.value || "{}");
  } catch (error) {
    showError(form, "config", `not valid JSON: ${error.message}`);
    return null;
  }
  const job = { type: fields.type.value, config, priority: Number(fields.priority.value) };
  if (fields.investigationId.value) job.investigationId = fields.investigationId.value;
  if (fields.pool.value) job.pool = fields.pool.value;
  if (fields.inputName.value) {
    const input = {
      name: fields.inputName.value,
      mediaType: fields.inputMediaType.value,
      sizeBytes: Number(fields.inputSizeBytes.value),
    };
    if (fields.inputUri.value) input.uri = fields.inputUri.value;
    job.inputs = [input];
  }
  return job;
}

let ready = false;

/** Open the dialog; `submitted` gets the envelope of a job the API accepted. */
export function openSubmit(rule, submitted) {
  const dialog = document.getElementById("submit-dialog");
  const form = document.getElementById("submit-form");
  if (!ready) {
    ready = true;
    for (const type of rule.types) form.type.append(el("option", { value: type, text: typeName(type) }));
    document.getElementById("close-submit").addEventListener("click", () => dialog.close());
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      clearErrors(form);
      for (const control of form.querySelectorAll("[aria-invalid]")) control.removeAttribute("aria-invalid");
      const job = body(form);
      if (job === null) return;
      try {
        submitted(await api("/v1/jobs", { method: "POST", body: job }));
        dialog.close();
      } catch (error) {
        if (!(error instanceof ApiError)) throw error;
        const fields = error.problem.errors || [];
        for (const item of fields) {
          const path = item.field.split(".");
          showError(form, FIELD_OF[path[1]] || "form", `${path.slice(1).join(".")}: ${item.message}`);
        }
        if (!fields.length) showError(form, "form", error.message);
      }
    });
  }
  dialog.showModal();
}
