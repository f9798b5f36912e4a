// Building the page from data without innerHTML: every value becomes a text node, so nothing a
// signal, a reason or a symbol holds can run as markup (XSS).

/** An element: h("td", {class: "num", "data-label": "PnL"}, "12.5", other) */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (name.startsWith("on") && typeof value === "function") el.addEventListener(name.slice(2), value);
    else if (value === true) el.setAttribute(name, "");
    else el.setAttribute(name, String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

export function clear(el) {
  while (el.firstChild) el.firstChild.remove();
  return el;
}

export const byId = (id) => document.getElementById(id);

/** A labelled form control: the label beside it (not around it, so its name is the label alone). */
export function field(label, control) {
  return h("div", { class: "field" }, h("label", { for: control.id }, label), control);
}

/** Put `text` on the clipboard; where the browser refuses, select it in `input` for Ctrl+C. */
export async function copy(text, input, say) {
  try {
    if (!navigator.clipboard) throw new Error("no clipboard");
    await navigator.clipboard.writeText(text);
    say("Copied to the clipboard.");
  } catch {
    input.focus();
    input.select();
    say("Selected: press Ctrl+C (⌘C) to copy.");
  }
}
