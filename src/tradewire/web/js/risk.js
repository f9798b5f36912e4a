// Risk usage on the Portfolio page: per subscription, the account's loss today vs the daily loss
// limit, the drawdown vs its pause level and open positions vs both position limits, as bars with
// their numbers. The server measures them with the entry rules themselves (GET /api/v1/risk); they
// are asked again when positions or fills change (the live channel says when; nothing is polled).
import { api } from "./api.js";
import { clear, h } from "./dom.js";
import { rounded } from "./format.js";
import { data } from "./store.js";

const NAMES = {
  daily_loss: "Daily loss",
  drawdown: "Drawdown",
  positions_per_strategy: "Positions (strategy)",
  positions_total: "Positions (account)",
};

function shown(rule, value, quote) {
  if (value === null || value === undefined) return "—";
  if (rule === "daily_loss") return `${rounded(value, 2)} ${quote}`;
  if (rule === "drawdown") return `${rounded(value, 1)} %`;
  return rounded(value, 0);
}

function bar(u, quote, subscription) {
  const name = NAMES[u.rule] || u.rule;
  const used = shown(u.rule, u.used, quote);
  const text = u.limit === null ? `${used} (no limit to measure by)` : `${used} of ${shown(u.rule, u.limit, quote)}`;
  const label = `${name} of ${subscription}: ${text}`;
  const row = h("div", { class: `usage${u.passed ? "" : " over"}`, "data-rule": u.rule },
    h("span", { class: "usage-name" }, name),
    h("span", { class: "usage-numbers num" }, text, u.passed ? "" : " · blocks entries"));
  if (u.limit !== null && u.used !== null && Number(u.limit) > 0) {
    const max = Number(u.limit);
    // low/high give the meter its colours: the warning level if the rule has one, else 80 %.
    row.append(h("meter", {
      min: 0, max, value: Math.min(Number(u.used), max), low: u.warn !== null ? Number(u.warn) : max * 0.8,
      high: max * 0.999, optimum: 0, "aria-label": label, title: u.detail,
    }));
  } else {
    row.append(h("span", { class: "muted usage-none", title: u.detail }, u.detail));
  }
  return row;
}

/** Every page of GET /api/v1/risk (each holds at most 100 subscriptions), newest first. */
async function allPages() {
  const first = await api("GET", "/api/v1/risk");
  const subscriptions = [...first.subscriptions];
  for (let next = first.next_before_id; next !== null && next !== undefined;) {
    const page = await api("GET", `/api/v1/risk?before_id=${encodeURIComponent(next)}`);
    subscriptions.push(...page.subscriptions);
    next = page.next_before_id;
  }
  return { ...first, subscriptions, next_before_id: null };
}

export class RiskPanel {
  constructor() {
    this.root = h("section", { class: "panel", "aria-labelledby": "risk-title" });
    this.found = null;
    this.error = "";
    this.seen = null;
    this.loading = false;
    this.again = false;
  }

  /** Ask again when what the numbers count moved: open positions, fills, subscriptions. */
  update() {
    const key = `${data.positions.size}:${[...data.positions.keys()].join(",")}:${data.fillsSeen}:${data.subscriptions.size}`;
    if (key !== this.seen) {
      this.seen = key;
      this.load();
    }
    this.render();
  }

  async load() {
    if (this.loading) { this.again = true; return; }
    this.loading = true;
    try {
      this.found = await allPages();
      this.error = "";
    } catch (error) {
      this.error = `Could not load the risk usage: ${error.message}`;
    } finally {
      this.loading = false;
    }
    this.render();
    if (this.again) { this.again = false; this.load(); }
  }

  render() {
    clear(this.root).append(h("h2", { id: "risk-title" }, "Risk usage"));
    if (this.error) this.root.append(h("p", { class: "error", role: "alert" }, this.error));
    if (!this.found) return;
    if (!this.found.subscriptions.length) {
      this.root.append(h("p", { class: "empty" }, "No subscriptions: limits show here once you follow a strategy."));
      return;
    }
    const list = h("div", { class: "risk-list" });
    for (const s of this.found.subscriptions) {
      // A subscription trading in several quotes has one entry per quote (equity in each).
      const several = this.found.subscriptions.filter((x) => x.subscription_id === s.subscription_id).length > 1;
      const who = `${s.strategy_slug} on ${s.account_name}${several ? ` (${s.quote})` : ""}`;
      const equity = s.equity !== null ? `equity ${rounded(s.equity, 2)} ${s.quote}` : `equity unknown: ${s.equity_error || "no answer"}`;
      const markets = s.symbols?.length ? `, ${s.symbols.length > 3 ? `${s.symbols.slice(0, 3).join(", ")} +${s.symbols.length - 3}` : s.symbols.join(", ")}` : "";
      list.append(h("article", { class: "risk-sub", "data-subscription": s.subscription_id, "data-quote": s.quote, "aria-label": `Risk of ${who}` },
        h("h3", {}, who, " ", h("span", { class: "muted" }, `(${s.mode}, ${s.trading_state}, ${equity}${markets})`)),
        s.limits.map((u) => bar(u, s.quote, who))));
    }
    this.root.append(list);
  }
}
