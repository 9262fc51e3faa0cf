// The submit dialog: everything the API's submit accepts (type, investigation, priority,
// max attempts, pool, any number of inputs, config and metadata as JSON objects, checked
// before sending), and the API's field errors (problem+json `errors`) shown next to the
// field they name, an input's next to that input.

import { api, ApiError } from "./session.js";
import { el, typeName } from "./format.js";
import { openModal } from "./dialogs.js";

const FIELDS = ["type", "investigationId", "priority", "maxAttempts", "pool", "config", "metadata"];

const inputRows = () => [...document.querySelectorAll("#inputs-list .input-row")];

function addInput() {
  const row = document.getElementById("input-row").content.firstElementChild.cloneNode(true);
  document.getElementById("inputs-list").append(row);
  renumber();
  row.querySelector("[data-remove]").addEventListener("click", () => {
    row.remove();
    renumber();
    document.getElementById("add-input").focus();
  });
  return row;
}

/** Each input row's label and error slot name its number, as the API's errors do. */
function renumber() {
  inputRows().forEach((row, index) => {
    row.dataset.input = String(index);
    row.setAttribute("aria-label", `Input ${index + 1}`);
    const slot = row.querySelector("[data-error-input]");
    slot.id = `error-inputs-${index}`;
    for (const control of row.querySelectorAll("input")) control.setAttribute("aria-describedby", slot.id);
    row.querySelector("[data-remove]").setAttribute("aria-label", `Remove input ${index + 1}`);
  });
}

function clearErrors(form) {
  for (const slot of form.querySelectorAll("[data-error], [data-error-input]")) slot.textContent = "";
  for (const control of form.querySelectorAll("[aria-invalid]")) control.removeAttribute("aria-invalid");
}

function say(slot, message) {
  slot.textContent = slot.textContent ? `${slot.textContent}; ${message}` : message;
}

/** Show `message` next to the field `path` names (["inputs", "0", "mediaType"], ["config"]). */
function showError(form, path, message) {
  const [field, index, inner] = path;
  if (field === "inputs" && index !== undefined) {
    const row = inputRows()[Number(index)];
    if (row) {
      say(row.querySelector("[data-error-input]"), `${inner ? `${inner}: ` : ""}${message}`);
      row.querySelector(`[data-field="${inner}"]`)?.setAttribute("aria-invalid", "true");
      return;
    }
  }
  const slot = form.querySelector(`[data-error="${field}"]`);
  if (!slot) {
    say(form.querySelector('[data-error="form"]'), `${path.join(".")}: ${message}`);
    return;
  }
  say(slot, message);
  form.elements[field]?.setAttribute?.("aria-invalid", "true");
}

function jsonObject(form, name) {
  try {
    return JSON.parse(form.elements[name].value || "{}");
  } catch (error) {
    showError(form, [name], `not valid JSON: ${error.message}`);
    return undefined;
  }
}

function body(form) {
  const fields = form.elements;
  const config = jsonObject(form, "config");
  const metadata = jsonObject(form, "metadata");
  if (config === undefined || metadata === undefined) return null;
  const job = { type: fields.type.value, config, metadata };
  for (const name of ["priority", "maxAttempts"]) if (fields[name].value !== "") job[name] = Number(fields[name].value);
  if (fields.investigationId.value) job.investigationId = fields.investigationId.value;
  if (fields.pool.value) job.pool = fields.pool.value;
  job.inputs = [];
  for (const row of inputRows()) {
    const input = {};
    for (const control of row.querySelectorAll("[data-field]")) {
      if (control.value === "") continue; // left out: the API names it if it is required
      input[control.dataset.field] = control.dataset.field === "sizeBytes" ? Number(control.value) : control.value;
    }
    job.inputs.push(input);
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
    document.getElementById("add-input").addEventListener("click", () => addInput().querySelector("input").focus());
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      clearErrors(form);
      const job = body(form);
      if (job === null) return;
      try {
        submitted(await api("/v1/jobs", { method: "POST", body: job }));
        dialog.close();
      } catch (error) {
        if (!(error instanceof ApiError)) throw error;
        const fields = error.problem.errors || [];
        for (const item of fields) showError(form, item.field.split(".").slice(1), item.message);
        if (!fields.length) say(form.querySelector('[data-error="form"]'), error.message);
        form.querySelector("[aria-invalid]")?.focus(); // to the first field to fix
      }
    });
  }
  openModal(dialog);
  form.type.focus();
}
