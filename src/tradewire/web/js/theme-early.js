// Runs before the page is drawn (a blocking script file, not inline): apply the remembered theme so a
// dark page never flashes light. "light"/"dark" chosen by the toggle; nothing stored follows the system.
(function () {
  try {
    var chosen = localStorage.getItem("tradewire-theme");
    if (chosen === "light" || chosen === "dark") document.documentElement.dataset.theme = chosen;
  } catch (e) { /* storage blocked: follow the system */ }
})();
