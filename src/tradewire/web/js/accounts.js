// Accounts: your exchange accounts with their balances, equity and exchange health (circuit breaker,
// latency, rate-limit headroom), and adding a paper account.
// Balances are asked of the server again after a fill (the live channel says when).
import { api } from "./api.js";
import { clear, field, h } from "./dom.js";
import { amount, rounded } from "./format.js";
import { exchangeLine, loadHealth } from "./health.js";
import { data, loadMembership } from "./store.js";

export class AccountsPage {
  title = "Accounts";

  mount(root) {
    this.balances = new Map();
    this.fillsShown = -1;
    this.list = h("section", { "aria-label": "Your accounts" });
    this.message = h("p", { class: "error", role: "alert" });
    const name = h("input", { id: "account-name", name: "name", required: true, maxlength: 64, autocomplete: "off" });
    const form = h("form", { class: "filters", "aria-labelledby": "add-account-title" },
      field("Account name", name),
      h("button", { type: "submit" }, "Add paper account"));
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      try {
        await api("POST", "/api/v1/accounts", { name: name.value, mode: "paper", exchange: "paper" });
        name.value = "";
        this.message.textContent = "";
        await loadMembership();
      } catch (error) {
        this.message.textContent = `Could not add the account: ${error.message}`;
      }
    });
    root.append(h("h1", {}, "Accounts"), this.list,
      h("section", { class: "panel" }, h("h2", { id: "add-account-title" }, "Add a paper account"),
        h("p", { class: "muted" }, "A paper account trades on the simulated market: no real money and no exchange keys."),
        form, this.message));
    this.update();
  }

  unmount() {}

  update() {
    if (this.fillsShown !== data.fillsSeen || [...data.accounts.keys()].some((id) => !this.balances.has(id))) {
      this.fillsShown = data.fillsSeen;
      this.loadBalances();
      this.loadHealth();
    }
    this.render();
  }

  async loadHealth() {
    try {
      const found = await loadHealth();
      this.health = new Map(found.accounts.map((a) => [a.account_id, a]));
      this.healthError = "";
    } catch (error) {
      this.health = new Map();
      this.healthError = error.message;
    }
    this.render();
  }

  async loadBalances() {
    await Promise.all([...data.accounts.keys()].map(async (id) => {
      try {
        this.balances.set(id, await api("GET", `/api/v1/accounts/${id}/balance`));
      } catch (error) {
        this.balances.set(id, { error: error.message });
      }
    }));
    this.render();
  }

  render() {
    clear(this.list);
    const accounts = [...data.accounts.values()].sort((a, b) => a.id - b.id);
    if (!accounts.length) this.list.append(h("p", { class: "empty" }, "No accounts yet: add a paper account below."));
    for (const account of accounts) {
      const balance = this.balances.get(account.id);
      const panel = h("div", { class: "panel", "data-account": account.id },
        h("h2", {}, account.name, " ", h("span", { class: "chip" }, account.mode),
          account.exchange !== "paper" ? h("span", { class: "muted" }, ` ${account.exchange}${account.sandbox ? " (sandbox)" : ""}`) : null));
      const health = this.health?.get(account.id);
      if (health) panel.append(h("p", { class: "exchange-health" }, h("strong", {}, "Exchange health: "), exchangeLine(health)));
      else if (this.healthError) panel.append(h("p", { class: "muted" }, `Exchange health unavailable: ${this.healthError}`));
      if (!balance) panel.append(h("p", { class: "empty" }, "Loading the balance…"));
      else if (balance.error) panel.append(h("p", { class: "error" }, `Balance unavailable: ${balance.error}`));
      else panel.append(this.balanceTable(balance));
      this.list.append(panel);
    }
  }

  balanceTable(balance) {
    const equity = balance.equity === null ? "—" : `${rounded(balance.equity, 2)} ${balance.quote}`;
    const assets = Object.entries(balance.assets && Object.keys(balance.assets).length ? balance.assets
      : Object.fromEntries(Object.entries(balance.balances).map(([k, v]) => [k, { free: v, used: "0", total: v }])));
    return h("div", {},
      h("p", {}, h("strong", {}, "Equity: "), equity),
      h("table", {},
        h("thead", {}, h("tr", {}, ["Asset", "Free", "In orders", "Total", `Value (${balance.quote})`]
          .map((t, i) => h("th", { scope: "col", class: i ? "num" : "" }, t)))),
        h("tbody", {}, assets.map(([asset, a]) => h("tr", {},
          h("td", {}, asset), h("td", { class: "num" }, amount(a.free)), h("td", { class: "num" }, amount(a.used)),
          h("td", { class: "num" }, amount(a.total)),
          h("td", { class: "num" }, balance.values?.[asset] ? rounded(balance.values[asset], 2) : (balance.unvalued?.[asset] ? "no price" : "—")))))));
  }
}
