// The API's 422 answers shown where they belong: each message next to the field it names (its `loc`),
// the rest in the form's own message line.
import { h } from "./dom.js";

/** Remove the messages a previous attempt left on `form`. */
export function clearFieldErrors(form) {
  for (const el of form.querySelectorAll(".field-error")) el.remove();
  for (const el of form.querySelectorAll("[aria-invalid]")) {
    el.removeAttribute("aria-invalid");
    el.removeAttribute("aria-describedby");
  }
}

/** Show `error` on `form`: `fields` maps an API field path ("definition.bot.min_temperature", or a
 * prefix of it such as "definition") to a control's id. What no field claims goes to `line`. */
export function showFieldErrors(form, error, fields, line) {
  clearFieldErrors(form);
  const loose = [];
  const items = Array.isArray(error?.errors) ? error.errors : null;
  if (!items) {
    line.textContent = error.message;
    return;
  }
  for (const item of items) {
    const path = (item.loc || []).filter((p) => p !== "body" && typeof p === "string");
    let id = null;
    for (let n = path.length; n > 0 && !id; n--) id = fields[path.slice(0, n).join(".")] || null;
    const control = id && form.querySelector(`#${CSS.escape(id)}`);
    if (!control) {
      loose.push(item.msg);
      continue;
    }
    const note = h("span", { class: "field-error error", id: `${id}-error`, role: "alert" }, item.msg);
    control.setAttribute("aria-invalid", "true");
    control.setAttribute("aria-describedby", note.id);
    control.after(note);
  }
  line.textContent = loose.join("; ");
  form.querySelector("[aria-invalid]")?.focus();
}
