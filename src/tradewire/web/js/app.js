// The dashboard's shell: sign in and out, the live channel, navigation between pages (#/name).
import { ApiError, api, restore, signIn, signOut, whenSignedOut } from "./api.js";
import { AccountsPage } from "./accounts.js";
import { ActivityPage } from "./activity.js";
import { BacktestsPage } from "./backtests.js";
import { BotsPage } from "./bots.js";
import { byId, clear } from "./dom.js";
import { HealthPage } from "./health.js";
import { Live } from "./live.js";
import { MarketplacePage } from "./marketplace.js";
import { PortfolioPage } from "./portfolio.js";
import { ProviderPage } from "./provider.js";
import { SettingsPage } from "./settings.js";
import { apply, loadAll, onChange, reset } from "./store.js";
import { setUpThemeToggle } from "./theme.js";
import { WaitingPanel, waitingElements } from "./waiting.js";

const PAGES = { portfolio: PortfolioPage, activity: ActivityPage, marketplace: MarketplacePage, accounts: AccountsPage, backtests: BacktestsPage,
  bots: BotsPage, provider: ProviderPage, settings: SettingsPage, health: HealthPage };
const TOPICS = ["signals", "intents", "orders", "fills", "positions", "backtests", "bots", "provider"];
let page = null;
let live = null;
let waiting = null; // the entries waiting for your answer, above every page

function pageName() {
  const name = location.hash.replace(/^#\/?/, "");
  return name in PAGES ? name : "portfolio";
}

function showPage() {
  const name = pageName();
  page?.unmount();
  const view = clear(byId("view"));
  page = new PAGES[name]();
  page.mount(view);
  setTitle();
  for (const link of byId("nav").querySelectorAll("a")) {
    if (link.dataset.page === name) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
}

/** The page's name, after the number of entries waiting for an answer (seen from another tab). */
function setTitle() {
  if (!page) return;
  const count = waiting?.count || 0;
  document.title = `${count ? `(${count}) ` : ""}${page.title} · tradewire`;
}

function setLive(status) {
  const badge = byId("live");
  badge.textContent = status === "live" ? "live" : status === "connecting" ? "connecting…" : "offline";
  badge.classList.toggle("on", status === "live");
}

async function enter() {
  const me = await api("GET", "/api/v1/me");
  byId("signin").hidden = true;
  for (const id of ["nav", "live", "who", "signout"]) byId(id).hidden = false;
  byId("who").textContent = me.username;
  waiting = new WaitingPanel(...waitingElements());
  showPage();
  byId("main").focus();
  live = new Live(TOPICS, {
    onEvent: apply,
    onStatus: setLive,
    // The state is loaded after the channel is subscribed, so no change between the two is lost;
    // after a reconnect `since` brings exactly the missed events.
    onSubscribed: (first) => { if (first) loadAll().catch(showError); },
  });
  live.start();
}

function leave(message = "") {
  live?.stop();
  live = null;
  waiting?.stop();
  waiting = null;
  page?.unmount();
  page = null;
  reset();
  clear(byId("view"));
  for (const id of ["nav", "live", "who", "signout"]) byId(id).hidden = true;
  byId("signin").hidden = false;
  byId("signin-error").textContent = message;
  byId("password").value = "";
  byId("otp").value = "";
  byId("username").focus();
  document.title = "Sign in · tradewire";
}

function showError(error) {
  const view = byId("view");
  const p = document.createElement("p");
  p.className = "error";
  p.setAttribute("role", "alert");
  p.textContent = `Could not load the dashboard: ${error.message}`;
  view.prepend(p);
}

function setUpSignIn() {
  const form = byId("signin-form");
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const button = form.querySelector("button");
    button.disabled = true;
    byId("signin-error").textContent = "";
    try {
      await signIn(byId("username").value, byId("password").value, byId("otp").value || undefined);
      await enter();
    } catch (error) {
      if (error instanceof ApiError && error.needsCode) {
        byId("otp-row").hidden = false;
        byId("otp").required = true;
        byId("otp").focus();
        byId("signin-error").textContent = "Enter the code your authenticator app shows.";
      } else {
        byId("signin-error").textContent = error.message;
      }
    } finally {
      button.disabled = false;
    }
  });
  byId("signout").addEventListener("click", async () => {
    await signOut().catch(() => {});
    leave("Signed out.");
  });
}

async function start() {
  setUpThemeToggle(byId("theme"));
  setUpSignIn();
  whenSignedOut(() => leave("Your session ended: sign in again."));
  onChange(() => {
    waiting?.update();
    page?.update();
    setTitle();
  });
  window.addEventListener("hashchange", () => { if (page) { showPage(); byId("main").focus(); } });
  // The skip link moves the focus only: its #main must not be taken for a page's address.
  document.querySelector(".skip").addEventListener("click", (event) => {
    event.preventDefault();
    byId("main").focus();
  });
  if (await restore()) await enter().catch(() => leave());
  else leave();
}

start();
