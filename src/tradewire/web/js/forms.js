// The API's 422 answers shown where they belong: each message next to the field it names (its `loc`),
// the rest in the form's own message line. A field's message goes as soon as the user edits that field
// (it spoke of a value no longer there); the others stay until the next attempt.
import { h } from "./dom.js";

/** Remove the messages a previous attempt left on `form`. */
export function clearFieldErrors(form) {
  for (const el of form.querySelectorAll("[aria-invalid]")) clearFieldError(el);
  for (const el of form.querySelectorAll(".field-error")) el.remove();
}

/** Remove the message shown for one control (an input, a select, or a fieldset of checkboxes). */
function clearFieldError(control) {
  const note = document.getElementById(control.getAttribute("aria-describedby") || "");
  if (note?.classList.contains("field-error")) note.remove();
  control.removeAttribute("aria-invalid");
  control.removeAttribute("aria-describedby");
}

const watched = new WeakSet(); // forms whose edits clear their fields' messages

/** An edit inside a control that shows a message (typed, chosen, ticked) clears that message. */
function watchEdits(form) {
  if (watched.has(form)) return;
  watched.add(form);
  const edited = (event) => {
    const control = event.target.closest?.("[aria-invalid]");
    if (control && form.contains(control)) clearFieldError(control);
  };
  form.addEventListener("input", edited);
  form.addEventListener("change", edited);
}

/** Show `error` on `form`: `fields` maps an API field path ("definition.bot.min_temperature", or a
 * prefix of it such as "definition") to a control's id. What no field claims goes to `line`. */
export function showFieldErrors(form, error, fields, line) {
  clearFieldErrors(form);
  watchEdits(form);
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
