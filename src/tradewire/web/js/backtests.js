// Backtests: run a built-in strategy on this server's candles, follow its progress (live channel),
// then its candles with the entries and exits, its equity, the metrics and per-pair / per-reason tables;
// two finished runs picked side by side (compare.js).
import { api } from "./api.js";
import { TradesChart } from "./chart.js";
import { BacktestCompare, curveOf, metricsOf } from "./compare.js";
import { clear, field, h } from "./dom.js";
import { data } from "./store.js";

const STRATEGIES = [["ema_cross", "EMA cross"], ["rsi_mean_reversion", "RSI mean reversion"], ["macd", "MACD"], ["bollinger_breakout", "Bollinger breakout"]];
const TIMEFRAMES = ["1m", "5m", "15m", "30m", "1h", "4h", "1d"];
const num = (v, places = 2) => (v === null || v === undefined || Number.isNaN(v) ? "—" : Number(v).toFixed(places));
const price = (v) => (v === null || v === undefined ? "—" : String(Number(Number(v).toFixed(8))));
const pct = (v) => (v === null || v === undefined ? "—" : `${num(v)} %`);
const span = (ms) => (ms % 86_400_000 === 0 ? `${ms / 86_400_000} d` : ms % 3_600_000 === 0 ? `${ms / 3_600_000} h` : `${Math.round(ms / 60_000)} min`);
const timeframeMs = (tf) => {
  const m = /^(\d+)([mhdw])$/.exec(tf);
  return m ? Number(m[1]) * { m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 }[m[2]] : 0;
};
const when = (ms) => new Date(ms).toISOString().replace("T", " ").slice(0, 16);

function table(head, rows) {
  return h("table", {}, h("thead", {}, h("tr", {}, head.map((t) => h("th", { scope: "col" }, t)))),
    h("tbody", {}, rows.map((r) => h("tr", {}, r.map((v) => h("td", {}, v))))));
}

/** The bar a time falls in: the last bar opening at or before it. */
function barOf(times, t) {
  let lo = 0, hi = times.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (times[mid] <= t) lo = mid; else hi = mid - 1;
  }
  return times[lo];
}

export class BacktestsPage {
  title = "Backtests";

  mount(root) {
    this.selected = null;
    this.shown = null;
    this.chart = null;
    this.picked = []; // runs picked to compare, oldest pick first (two at most)
    this.compare = new BacktestCompare();
    this.message = h("p", { class: "error", role: "alert" });
    this.runs = h("section", { class: "panel", "aria-labelledby": "runs-title" });
    this.result = h("section", { "aria-label": "Backtest result" });
    root.append(h("h1", {}, "Backtests"), this.form(), this.message, this.runs, this.compare.root, this.result);
    this.update();
  }

  unmount() {
    this.chart?.destroy();
    this.chart = null;
    this.compare?.destroy();
  }

  pick(id, on) {
    this.picked = this.picked.filter((p) => p !== id);
    if (on) this.picked = [...this.picked, id].slice(-2); // a third pick replaces the oldest
    this.update();
  }

  form() {
    const form = h("form", { class: "filters panel", "aria-label": "Run a backtest" },
      field("Strategy", h("select", { id: "bt-strategy", name: "strategy" }, STRATEGIES.map(([v, l]) => h("option", { value: v }, l)))),
      field("Symbol", h("input", { id: "bt-symbol", name: "symbol", value: "BTC/USDT", required: true, maxlength: 40, pattern: "[A-Za-z0-9]+/[A-Za-z0-9]+", autocomplete: "off" })),
      field("Timeframe", h("select", { id: "bt-timeframe", name: "timeframe" }, TIMEFRAMES.map((t) => h("option", { value: t, selected: t === "1h" }, t)))),
      field("From (optional)", h("input", { id: "bt-start", name: "start", type: "date" })),
      field("To (optional)", h("input", { id: "bt-end", name: "end", type: "date" })),
      h("button", { type: "submit" }, "Run backtest"));
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const f = form.elements;
      const body = { strategy: f.strategy.value, symbols: [f.symbol.value.trim().toUpperCase()], timeframe: f.timeframe.value };
      if (f.start.value) body.start = `${f.start.value}T00:00:00Z`;
      if (f.end.value) body.end = `${f.end.value}T00:00:00Z`;
      try {
        const started = await api("POST", "/api/v1/backtests", body);
        const title = `${f.strategy.selectedOptions[0].textContent} · ${body.symbols[0]} · ${body.timeframe}`;
        data.backtests.set(started.id, { ...(data.backtests.get(started.id) || {}), id: started.id, title, status: data.backtests.get(started.id)?.status || "queued" });
        this.selected = started.id;
        this.message.textContent = "";
        this.update();
      } catch (error) {
        this.message.textContent = `Could not start the backtest: ${error.message}`;
      }
    });
    return form;
  }

  update() {
    clear(this.runs).append(h("h2", { id: "runs-title" }, "Runs"));
    const runs = [...data.backtests.values()].sort((a, b) => b.id - a.id);
    if (!runs.length) this.runs.append(h("p", { class: "empty" }, "No backtest run yet on this page."));
    for (const run of runs) {
      const progress = run.status === "done" ? 1 : run.progress ?? 0;
      const select = h("button", { type: "button", class: "ghost", "aria-pressed": String(this.selected === run.id) }, `Show #${run.id}`);
      select.addEventListener("click", () => { this.selected = run.id; this.update(); });
      const pick = h("input", { type: "checkbox", id: `bt-compare-${run.id}`, checked: this.picked.includes(run.id), "aria-label": `Compare backtest #${run.id}` });
      pick.addEventListener("change", () => this.pick(run.id, pick.checked));
      this.runs.append(h("div", { class: "run", "data-backtest": run.id },
        h("span", {}, `#${run.id} ${run.title || ""}`),
        h("progress", { max: 1, value: progress, "aria-label": `Backtest #${run.id} progress` }),
        h("span", { class: `chip ${run.status}` }, run.status === "running" ? `running ${Math.round(progress * 100)} %` : run.status),
        run.status === "done" ? select : null,
        run.status === "done" ? h("label", { for: pick.id }, pick, "Compare") : null,
        run.error ? h("span", { class: "error" }, run.error) : null));
    }
    this.picked = this.picked.filter((id) => data.backtests.get(id)?.status === "done");
    this.compare.show(this.picked);
    const chosen = data.backtests.get(this.selected);
    if (chosen?.status === "done" && this.shown !== chosen.id) this.showResult(chosen.id);
  }

  async showResult(id) {
    this.shown = id;
    this.unmount();
    clear(this.result).append(h("p", { class: "empty" }, `Loading backtest #${id}…`));
    try {
      const backtest = await api("GET", `/api/v1/backtests/${id}`);
      const symbol = backtest.symbols[0];
      const candles = await api("GET", `/api/v1/backtests/${id}/candles?symbol=${encodeURIComponent(symbol)}`);
      if (this.shown === id) this.render(backtest, symbol, candles);
    } catch (error) {
      clear(this.result).append(h("p", { class: "error" }, `Could not load backtest #${id}: ${error.message}`));
    }
  }

  render(backtest, symbol, candles) {
    const { report, trades, equity } = backtest.result;
    const priceBox = h("div", { class: "chart tall", role: "img", "aria-label": `${symbol} candles with the backtest's entries and exits` });
    const equityBox = h("div", { class: "chart", role: "img", "aria-label": "Equity of the backtest" });
    const times = candles.ts_ms.map((t) => Math.floor(t / 1000));
    const bars = times.map((time, i) => ({ time, open: candles.open[i], high: candles.high[i], low: candles.low[i], close: candles.close[i] }));
    const mine = trades.filter((t) => t.symbol === symbol);
    const markers = mine.flatMap((t) => [
      { time: barOf(times, Math.floor(t.entry_time_ms / 1000)), position: "belowBar", shape: "arrowUp", color: "#2962ff", text: "buy" },
      { time: barOf(times, Math.floor(t.exit_time_ms / 1000)), position: "aboveBar", shape: "arrowDown", color: t.pnl >= 0 ? "#26a69a" : "#ef5350", text: t.exit_reason },
    ]).sort((a, b) => a.time - b.time);
    const curve = curveOf(equity);
    const metrics = metricsOf(report);
    clear(this.result).append(
      h("h2", {}, `Backtest #${backtest.id}: ${backtest.strategy_name} on ${backtest.symbols.join(", ")} (${backtest.timeframe})`),
      h("div", { class: "cards" }, metrics.map(([label, value]) => h("div", { class: "card" }, h("div", { class: "label" }, label), h("div", { class: "value" }, value)))),
      h("div", { class: "panel" }, h("h2", {}, `${symbol}: entries and exits`), priceBox,
        h("p", { class: "muted" }, `${bars.length} bars of ${span(candles.bar_ms)}${candles.bar_ms > timeframeMs(candles.timeframe) ? ` (${candles.timeframe} candles merged)` : ""}`)),
      h("div", { class: "panel" }, h("h2", {}, "Equity"), equityBox),
      h("div", { class: "panel" }, h("h2", {}, "Per pair"), table(["Pair", "Trades", "Win rate", "PnL", "Avg return"],
        report.per_pair.map((p) => [p.symbol, p.trades, pct(p.win_rate_pct), num(p.pnl), pct(p.avg_return_pct)]))),
      h("div", { class: "panel" }, h("h2", {}, "Per exit reason"), table(["Reason", "Trades", "Win rate", "PnL"],
        report.per_exit_reason.map((r) => [r.reason, r.trades, pct(r.win_rate_pct), num(r.pnl)]))),
      h("div", { class: "panel" }, h("h2", {}, `Trades (${trades.length}${trades.length > 100 ? ", first 100" : ""})`),
        table(["Pair", "Entry", "Exit", "Entry price", "Exit price", "PnL", "Return", "Reason"],
          trades.slice(0, 100).map((t) => [t.symbol, when(t.entry_time_ms), when(t.exit_time_ms), price(t.entry_price), price(t.exit_price), num(t.pnl), pct(t.return_pct), t.exit_reason]))));
    this.chart = new TradesChart(priceBox, equityBox);
    this.chart.show(bars, markers, curve);
  }
}
