// Dark mode: follows the system until the toggle chooses; the choice is remembered (localStorage).
const KEY = "tradewire-theme";
const listeners = new Set();
const query = window.matchMedia("(prefers-color-scheme: dark)");

export function isDark() {
  const chosen = document.documentElement.dataset.theme;
  return chosen ? chosen === "dark" : query.matches;
}

export function onThemeChange(listener) {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

function changed(button) {
  const dark = isDark();
  button.setAttribute("aria-pressed", String(dark));
  button.textContent = dark ? "Light mode" : "Dark mode";
  button.setAttribute("aria-label", dark ? "Switch to light mode" : "Switch to dark mode");
  for (const listener of listeners) listener(dark);
}

export function setUpThemeToggle(button) {
  button.addEventListener("click", () => {
    const next = isDark() ? "light" : "dark";
    document.documentElement.dataset.theme = next;
    try { localStorage.setItem(KEY, next); } catch { /* storage blocked: this page only */ }
    changed(button);
  });
  query.addEventListener("change", () => changed(button));
  changed(button);
}
