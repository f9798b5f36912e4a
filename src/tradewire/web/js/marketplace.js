// Marketplace: public strategies (and your own) with their track record per pair; subscribing one of
// your accounts with a pair filter and sizing; pausing, resuming or cancelling a subscription.
import { api } from "./api.js";
import { clear, field, h } from "./dom.js";
import { amount, rounded } from "./format.js";
import { accountName, data, loadMembership } from "./store.js";

const SIZING = [
  ["fixed_quote", "Fixed amount (quote currency)", "100"],
  ["equity_pct", "Percent of equity", "2"],
  ["signal", "The alert's own size (× value)", "1"],
];
// Confirm before trade: where each entry waits for your yes (none: it trades at once).
const CONFIRM = [
  ["none", "No: trade at once"],
  ["dashboard", "Yes, on this dashboard"],
  ["telegram", "Yes, on Telegram"],
  ["api", "Yes, through the API"],
];
const NEXT = { ACTIVE: [["PAUSED", "Pause"], ["CANCELLED", "Cancel"]], PAUSED: [["ACTIVE", "Resume"], ["CANCELLED", "Cancel"]] };

/** The confirm-before-trade fields of a form (ids from `id`), set to a subscription's values. */
function confirmFields(id, current = {}) {
  const via = current.confirmation || "none";
  return [
    field("Confirm before trade", h("select", { id: id("confirmation"), name: "confirmation" },
      CONFIRM.map(([v, label]) => h("option", { value: v, selected: v === via }, label)))),
    field("Answer within (seconds)", h("input", { id: id("confirm-timeout"), name: "confirm_timeout", type: "number",
      min: 10, max: 86400, step: 1, required: true, value: current.confirmation_timeout_s ?? 300 })),
    field("Price drift allowed (%)", h("input", { id: id("confirm-drift"), name: "confirm_drift", inputmode: "decimal",
      required: true, value: current.max_confirm_drift_pct ?? "1", maxlength: 30, autocomplete: "off",
      pattern: "(100(\\.0+)?|[0-9]{1,2}(\\.[0-9]+)?)", title: "0 to 100" })),
  ];
}

/** The timeout and drift matter only when entries wait: off (and not sent) otherwise. */
function followConfirmation(form) {
  const sync = () => {
    const off = form.elements.confirmation.value === "none";
    form.elements.confirm_timeout.disabled = off;
    form.elements.confirm_drift.disabled = off;
  };
  form.elements.confirmation.addEventListener("change", sync);
  sync();
}

function confirmSettings(form) {
  const confirmation = form.elements.confirmation.value;
  if (confirmation === "none") return { confirmation };
  return { confirmation, confirmation_timeout_s: Number(form.elements.confirm_timeout.value),
    max_confirm_drift_pct: form.elements.confirm_drift.value.trim() };
}

const confirmText = (s) => (!s.confirmation || s.confirmation === "none" ? "no"
  : `on ${s.confirmation}, ${s.confirmation_timeout_s} s, drift ${amount(s.max_confirm_drift_pct)} %`);

const accountOptions = () => [...data.accounts.values()].map((a) => h("option", { value: a.id }, `${a.name} (${a.mode})`));
// What the account choices show: a form's choices are redone when it changes.
const accountsKey = () => [...data.accounts.values()].map((a) => `${a.id}:${a.mode}:${a.name}`).join("\n");
const byline = (s) => `${s.slug} · by ${s.owner} · ${s.subscriber_count} active subscriber${s.subscriber_count === 1 ? "" : "s"}`;

export class MarketplacePage {
  title = "Marketplace";

  mount(root) {
    this.records = new Map(); // strategy id -> its pairs, once asked for
    this.strategies = h("section", { "aria-label": "Strategies" }, h("p", { class: "empty" }, "Loading strategies…"));
    this.mine = h("section", { class: "panel", "aria-labelledby": "subs-title" });
    this.editor = h("section", { class: "panel", "aria-labelledby": "edit-title", hidden: true });
    this.message = h("p", { class: "error", role: "alert" });
    this.status = h("p", { class: "muted", role: "status" });
    root.append(h("h1", {}, "Marketplace"), this.message, this.status, this.strategies, this.mine, this.editor);
    this.accountsShown = accountsKey();
    api("GET", "/api/v1/strategies").then((list) => { this.list = list; this.renderStrategies(); })
      .catch((error) => { this.message.textContent = `Could not load the strategies: ${error.message}`; });
    this.update();
  }

  unmount() {}

  update() {
    if (this.list && this.accountsShown !== accountsKey()) this.showAccounts();
    this.renderSubscriptions();
  }

  renderStrategies() {
    this.accountsShown = accountsKey();
    this.subscribing = new Map(); // strategy id -> the box of its subscribe form
    clear(this.strategies);
    if (!this.list.length) this.strategies.append(h("p", { class: "empty" }, "No public strategies yet."));
    for (const s of this.list) {
      const record = h("div", { id: `record-${s.id}` });
      const show = h("button", { type: "button", class: "ghost", "aria-controls": `record-${s.id}`, "aria-expanded": "false" }, "Track record");
      show.addEventListener("click", () => this.toggleRecord(s, show, record));
      const box = h("div", {}, this.subscribeForm(s));
      this.subscribing.set(s.id, box);
      this.strategies.append(h("article", { class: "panel", "data-strategy": s.slug, "aria-labelledby": `strategy-${s.id}` },
        h("h2", { id: `strategy-${s.id}` }, s.name, " ", h("span", { class: "muted", "data-byline": s.id }, byline(s))),
        s.description ? h("p", {}, s.description) : null,
        h("p", {}, show), record, h("h3", {}, "Subscribe with one of your accounts"), box));
    }
  }

  /** The user's accounts changed (one added elsewhere): each subscribe form's account choices follow,
   * and what is typed in the forms stays (they are not rebuilt). */
  showAccounts() {
    this.accountsShown = accountsKey();
    for (const s of this.list) {
      const box = this.subscribing.get(s.id);
      const select = box?.querySelector("select[name=account]");
      if (!box) continue;
      if (!select || !data.accounts.size) {
        clear(box).append(this.subscribeForm(s)); // none before, or none left: no form to keep
        continue;
      }
      const chosen = select.value;
      clear(select).append(...accountOptions());
      if ([...select.options].some((o) => o.value === chosen)) select.value = chosen;
    }
  }

  async toggleRecord(strategy, button, box) {
    const open = button.getAttribute("aria-expanded") === "true";
    button.setAttribute("aria-expanded", String(!open));
    clear(box);
    if (open) return;
    try {
      if (!this.records.has(strategy.id)) this.records.set(strategy.id, await api("GET", `/api/v1/strategies/${strategy.id}/pairs`));
    } catch (error) {
      box.append(h("p", { class: "error" }, `Track record unavailable: ${error.message}`));
      return;
    }
    const pairs = this.records.get(strategy.id);
    if (!pairs.some((p) => p.trades > 0)) {
      box.append(h("p", { class: "empty" }, "No closed trades yet."));
      return;
    }
    const trades = pairs.reduce((n, p) => n + p.trades, 0);
    const wins = pairs.reduce((n, p) => n + p.wins, 0);
    box.append(h("p", {}, `${trades} trades from its signals, ${trades ? rounded(String((100 * wins) / trades), 1) : "—"} % won (gross of fees).`),
      h("table", {}, h("thead", {}, h("tr", {}, ["Pair", "Trades", "Win rate", "Return", "Status"].map((t, i) => h("th", { scope: "col", class: i && i < 4 ? "num" : "" }, t)))),
        h("tbody", {}, pairs.map((p) => h("tr", {}, h("td", {}, p.symbol), h("td", { class: "num" }, p.trades),
          h("td", { class: "num" }, `${amount(p.win_rate_pct, 1)} %`), h("td", { class: "num" }, `${amount(p.return_pct, 2)} %`),
          h("td", {}, p.status.toLowerCase()))))));
  }

  subscribeForm(strategy) {
    const id = (name) => `sub-${strategy.id}-${name}`;
    const accounts = [...data.accounts.values()];
    if (!accounts.length) return h("p", { class: "muted" }, "Add an account on the Accounts page to subscribe.");
    const form = h("form", { class: "filters", "aria-label": `Subscribe to ${strategy.name}` },
      field("Account", h("select", { id: id("account"), name: "account", required: true }, accountOptions())),
      field("Pairs (blank: all)", h("input", { id: id("pairs"), name: "pairs", placeholder: "BTC/USDT, ETH/USDT", maxlength: 400, autocomplete: "off" })),
      field("Sizing", h("select", { id: id("sizing"), name: "sizing" }, SIZING.map(([v, label]) => h("option", { value: v }, label)))),
      field("Size", h("input", { id: id("value"), name: "value", inputmode: "decimal", required: true, value: "100", pattern: "[0-9]+(\\.[0-9]+)?", maxlength: 30 })),
      ...confirmFields(id),
      h("button", { type: "submit" }, `Subscribe to ${strategy.name}`));
    form.elements.sizing.addEventListener("change", () => {
      form.elements.value.value = SIZING.find(([v]) => v === form.elements.sizing.value)[2];
    });
    followConfirmation(form);
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const pairs = form.elements.pairs.value.split(",").map((p) => p.trim().toUpperCase()).filter(Boolean);
      try {
        await api("POST", "/api/v1/subscriptions", {
          strategy_id: strategy.id, account_id: Number(form.elements.account.value),
          pairs: pairs.length ? pairs : null, sizing_mode: form.elements.sizing.value, sizing_value: form.elements.value.value,
          ...confirmSettings(form),
        });
        this.message.textContent = "";
        this.status.textContent = `Subscribed to ${strategy.name}.`;
        form.replaceWith(this.subscribeForm(strategy)); // a new form: the others keep what is typed in them
        await loadMembership();
        this.showCounts(await api("GET", "/api/v1/strategies")); // its subscriber count
      } catch (error) {
        this.status.textContent = "";
        this.message.textContent = `Could not subscribe: ${error.message}`;
      }
    });
    return form;
  }

  /** A fresh list of the strategies: the counts change in place; another set of strategies is shown anew. */
  showCounts(list) {
    const same = list.length === this.list.length && list.every((s, i) => s.id === this.list[i].id);
    this.list = list;
    if (!same) {
      this.renderStrategies();
      return;
    }
    for (const s of list) {
      const line = this.strategies.querySelector(`[data-byline="${s.id}"]`);
      if (line) line.textContent = byline(s);
    }
  }

  renderSubscriptions() {
    clear(this.mine).append(h("h2", { id: "subs-title" }, "Your subscriptions"));
    const subscriptions = [...data.subscriptions.values()].sort((a, b) => a.id - b.id);
    if (!subscriptions.length) {
      this.mine.append(h("p", { class: "empty" }, "None yet."));
      return;
    }
    this.mine.append(h("table", {},
      h("thead", {}, h("tr", {}, ["Strategy", "Account", "Pairs", "Sizing", "Confirm before trade", "Status", ""].map((t) => h("th", { scope: "col" }, t)))),
      h("tbody", {}, subscriptions.map((s) => h("tr", { "data-subscription": s.id },
        h("td", {}, s.strategy_slug), h("td", {}, accountName(s.account_id)),
        h("td", {}, s.pairs ? s.pairs.join(", ") : "all"),
        h("td", {}, `${s.sizing_mode.replace("_", " ")} ${amount(s.sizing_value)}`),
        h("td", {}, confirmText(s)),
        h("td", {}, h("span", { class: `chip ${s.status.toLowerCase()}` }, s.status.toLowerCase()),
          s.trading_state !== "ACTIVE" ? h("span", { class: "muted" }, ` · ${s.trading_state.toLowerCase()}`) : null),
        h("td", {}, (NEXT[s.status] || []).map(([status, label]) => this.statusButton(s, status, label)),
          s.status !== "CANCELLED" ? this.editButton(s) : null))))));
  }

  editButton(subscription) {
    const button = h("button", { type: "button", class: "ghost",
      "aria-label": `Confirmation settings of ${subscription.strategy_slug} on ${accountName(subscription.account_id)}` }, "Confirmation");
    button.addEventListener("click", () => this.edit(subscription.id));
    return button;
  }

  /** The confirm-before-trade settings of one subscription, changed with PATCH (kept out of the table,
   * which is drawn again on every live event, so what is typed is not lost). */
  edit(subscriptionId) {
    const s = data.subscriptions.get(subscriptionId);
    if (!s) return;
    const id = (name) => `edit-${name}`;
    const where = `${s.strategy_slug} on ${accountName(s.account_id)}`;
    const note = h("p", { class: "error", role: "alert" });
    const form = h("form", { class: "filters", "aria-label": `Confirmation settings of ${where}` },
      ...confirmFields(id, s),
      h("button", { type: "submit" }, "Save"),
      h("button", { type: "button", class: "ghost", onclick: () => { this.editor.hidden = true; clear(this.editor); } }, "Close"));
    followConfirmation(form);
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      try {
        await api("PATCH", `/api/v1/subscriptions/${s.id}`, confirmSettings(form));
        this.editor.hidden = true;
        clear(this.editor);
        this.message.textContent = "";
        this.status.textContent = `Saved the confirmation settings of ${where}.`;
        await loadMembership();
      } catch (error) {
        note.textContent = `Could not save: ${error.message}`;
      }
    });
    clear(this.editor).append(h("h2", { id: "edit-title" }, `Confirm before trade: ${where}`),
      h("p", { class: "muted" }, "A change applies to entries decided after it; an entry already waiting keeps its deadline."),
      form, note);
    this.editor.hidden = false;
    form.elements.confirmation.focus();
  }

  statusButton(subscription, status, label) {
    const button = h("button", { type: "button", class: status === "CANCELLED" ? "danger" : "ghost",
      "aria-label": `${label} ${subscription.strategy_slug} on ${accountName(subscription.account_id)}` }, label);
    button.addEventListener("click", async () => {
      button.disabled = true;
      try {
        await api("PATCH", `/api/v1/subscriptions/${subscription.id}`, { status });
        this.message.textContent = "";
        await loadMembership();
      } catch (error) {
        this.message.textContent = `Could not ${label.toLowerCase()}: ${error.message}`;
        button.disabled = false;
      }
    });
    return button;
  }
}
