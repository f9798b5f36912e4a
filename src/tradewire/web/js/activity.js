// Activity: the live feed of signal → intent (with why it did or did not trade) → order → fill,
// newest first, filtered by account, strategy, symbol and status.
import { clear, field, h } from "./dom.js";
import { amount, time } from "./format.js";
import { accountName, data, strategyOf } from "./store.js";

const SHOWN = 200;
const RANK = { signal: 1, intent: 2, order: 3, fill: 4 };

function entries() {
  const slugs = new Map([...data.subscriptions.values()].map((s) => [s.strategy_id, s.strategy_slug]));
  const list = [];
  for (const s of data.signals.values()) {
    list.push({ kind: "signal", key: `s${s.signal_id}`, at: s.received_at, symbol: s.symbol,
      strategy: s.strategy_slug || slugs.get(s.strategy_id) || "", account: null, status: s.status || "received",
      what: `${s.action} ${s.symbol}${s.contracts ? ` × ${amount(s.contracts)}` : ""}`, why: s.reason });
  }
  for (const i of data.intents.values()) {
    list.push({ kind: "intent", key: `i${i.id}`, at: i.updated_at || i.created_at, symbol: i.symbol,
      strategy: i.strategy_slug || strategyOf(i.subscription_id), account: i.account_id ?? data.subscriptions.get(i.subscription_id)?.account_id,
      status: i.status, what: `${i.action || ""} ${i.symbol || ""} for signal #${i.signal_id}`.trim(),
      why: i.reason || (i.order_id ? `order #${i.order_id}` : "") });
  }
  for (const o of data.orders.values()) {
    const filled = o.filled && o.filled !== "0" ? ` · filled ${amount(o.filled)}${o.average ? ` @ ${amount(o.average, 4)}` : ""}` : "";
    list.push({ kind: "order", key: `o${o.id}`, at: o.updated_at || o.created_at, symbol: o.symbol,
      strategy: strategyOf(o.subscription_id), account: o.account_id, status: o.state,
      what: `#${o.id} ${o.side || ""} ${o.type || ""} ${amount(o.amount)} ${o.symbol || ""}${filled}`.replace(/\s+/g, " "),
      why: o.reason || o.sizing_note || "" });
  }
  for (const [id, f] of data.fills.entries()) {
    const order = data.orders.get(f.order_id);
    list.push({ kind: "fill", key: `f${id}`, at: f.executed_at || f.ts, symbol: f.symbol,
      strategy: order ? strategyOf(order.subscription_id) : "", account: f.account_id, status: "filled",
      what: `${f.side} ${amount(f.amount)} ${f.symbol} @ ${amount(f.price, 4)} (order #${f.order_id})`,
      why: f.fee ? `fee ${amount(f.fee)} ${f.fee_currency || ""}` : "" });
  }
  // Newest first; within a second the chain reads from its end: fill, order, intent, signal.
  const second = (e) => Math.floor((Date.parse(e.at) || 0) / 1000);
  return list.sort((a, b) => second(b) - second(a) || RANK[b.kind] - RANK[a.kind] || Number(b.key.slice(1)) - Number(a.key.slice(1)));
}

function select(id, label, values, current, named = (v) => v) {
  const options = [h("option", { value: "" }, "All"),
    ...[...values].sort().map((v) => h("option", { value: v, selected: String(v) === current }, named(v)))];
  return field(label, h("select", { id, name: id }, options));
}

export class ActivityPage {
  title = "Activity";

  mount(root) {
    this.filter = { account: "", strategy: "", symbol: "", status: "" };
    this.filters = h("form", { class: "filters", "aria-label": "Filters" });
    this.filters.addEventListener("change", (e) => {
      this.filter[e.target.name.replace("filter-", "")] = e.target.value;
      this.renderFeed();
    });
    this.feed = h("ol", { class: "feed", "aria-live": "polite", "aria-label": "Activity, newest first" });
    root.append(h("h1", {}, "Activity"), this.filters, h("section", { class: "panel" }, this.feed));
    this.update();
  }

  unmount() {}

  update() {
    this.all = entries();
    const accounts = new Set([...data.accounts.keys()].map(String));
    const strategies = new Set(this.all.map((e) => e.strategy).filter(Boolean));
    const symbols = new Set(this.all.map((e) => e.symbol).filter(Boolean));
    const statuses = new Set(this.all.map((e) => e.status).filter(Boolean));
    const focused = document.activeElement?.id;
    clear(this.filters).append(
      select("filter-account", "Account", accounts, this.filter.account, (id) => accountName(Number(id))),
      select("filter-strategy", "Strategy", strategies, this.filter.strategy),
      select("filter-symbol", "Symbol", symbols, this.filter.symbol),
      select("filter-status", "Status", statuses, this.filter.status));
    if (focused?.startsWith("filter-")) document.getElementById(focused)?.focus();
    this.renderFeed();
  }

  renderFeed() {
    const f = this.filter;
    const shown = this.all.filter((e) =>
      (!f.account || String(e.account) === f.account) && (!f.strategy || e.strategy === f.strategy) &&
      (!f.symbol || e.symbol === f.symbol) && (!f.status || e.status === f.status)).slice(0, SHOWN);
    clear(this.feed);
    if (!shown.length) {
      this.feed.append(h("li", { class: "empty" }, "Nothing yet: signals, intents, orders and fills appear here as they happen."));
      return;
    }
    for (const e of shown) {
      this.feed.append(h("li", { "data-kind": e.kind },
        h("span", { class: "time" }, time(e.at)),
        h("span", { class: "kind" }, e.kind),
        h("span", { class: "what" }, e.what, " ", h("span", { class: `chip ${e.status}` }, e.status),
          e.account ? h("span", { class: "muted" }, ` · ${accountName(e.account)}`) : null,
          e.strategy ? h("span", { class: "muted" }, ` · ${e.strategy}`) : null),
        e.why ? h("span", { class: "why" }, e.why) : null));
    }
  }
}
