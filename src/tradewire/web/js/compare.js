// Comparing two backtest runs: their metrics side by side (with the difference) and both equity curves
// on one chart. The runs are read once each (GET /api/v1/backtests/{id}) and kept while the page is open.
import { api } from "./api.js";
import { CompareChart } from "./chart.js";
import { clear, h } from "./dom.js";

const num = (v, places = 2) => (v === null || v === undefined || Number.isNaN(v) ? "—" : Number(v).toFixed(places));
const pct = (v) => (v === null || v === undefined ? "—" : `${num(v)} %`);
const days = (ms) => (ms ? `${num(ms / 86_400_000, 1)} d` : "—");

/** A run's metrics: [label, shown, number for the difference or null, unit]. */
export function metricsOf(report) {
  return [
    ["Total return", pct(report.total_return_pct), report.total_return_pct, " %"],
    ["Final equity", num(report.final_equity), report.final_equity, ""],
    ["Max drawdown", pct(report.max_drawdown_pct), report.max_drawdown_pct, " %"],
    ["Trades", String(report.trades), report.trades, ""],
    ["Win rate", pct(report.win_rate_pct), report.win_rate_pct, " %"],
    ["Profit factor", num(report.profit_factor), report.profit_factor, ""],
    ["Sharpe", num(report.sharpe), report.sharpe, ""],
    ["Exposure", pct(report.exposure_pct), report.exposure_pct, " %"],
    ["Fees paid", num(report.fees_paid), report.fees_paid, ""],
    ["Period", days(report.span_ms), null, ""],
  ];
}

/** The equity curve as chart points: UTC seconds, strictly rising. */
export function curveOf(equity) {
  const curve = [];
  equity.ts_ms.forEach((t, i) => {
    const time = Math.floor(t / 1000);
    if (!curve.length || time > curve[curve.length - 1].time) curve.push({ time, value: equity.equity[i] });
  });
  return curve;
}

function difference(a, b, unit) {
  if (typeof a !== "number" || typeof b !== "number" || !Number.isFinite(a) || !Number.isFinite(b)) return "—";
  const d = b - a;
  const places = Number.isInteger(a) && Number.isInteger(b) && unit === "" ? 0 : 2;
  return `${d > 0 ? "+" : ""}${d.toFixed(places)}${unit}`;
}

export class BacktestCompare {
  constructor() {
    this.root = h("section", { class: "panel", "aria-labelledby": "compare-title" });
    this.cache = new Map(); // backtest id -> its answer
    this.chart = null;
    this.shown = null; // the ids shown, as "a,b"
  }

  destroy() {
    this.chart?.destroy();
    this.chart = null;
  }

  /** Show `ids` (two run ids, oldest pick first) side by side; fewer: say how to pick. */
  async show(ids) {
    const key = ids.join(",");
    if (key === this.shown) return;
    this.shown = key;
    this.destroy();
    clear(this.root).append(h("h2", { id: "compare-title" }, "Compare two runs"));
    if (ids.length < 2) {
      this.root.append(h("p", { class: "empty" }, ids.length
        ? `Run #${ids[0]} picked: pick one more finished run to compare with it.`
        : "Pick two finished runs (Compare, beside each) to see their metrics and equity side by side."));
      return;
    }
    this.root.append(h("p", { class: "empty" }, `Loading runs #${ids[0]} and #${ids[1]}…`));
    let runs;
    try {
      runs = await Promise.all(ids.map(async (id) => {
        if (!this.cache.has(id)) this.cache.set(id, await api("GET", `/api/v1/backtests/${id}`));
        return this.cache.get(id);
      }));
    } catch (error) {
      if (this.shown === key) clear(this.root).append(h("h2", { id: "compare-title" }, "Compare two runs"), h("p", { class: "error" }, `Could not load the runs: ${error.message}`));
      return;
    }
    if (this.shown !== key) return;
    this.render(runs);
  }

  render([a, b]) {
    const name = (r) => `#${r.id} ${r.strategy_name} · ${r.symbols.join(", ")} · ${r.timeframe}`;
    const [ma, mb] = [metricsOf(a.result.report), metricsOf(b.result.report)];
    const box = h("div", { class: "chart", role: "img", "aria-label": `Equity of runs #${a.id} and #${b.id}` });
    clear(this.root).append(
      h("h2", { id: "compare-title" }, `Compare #${a.id} and #${b.id}`),
      h("table", { class: "compare" },
        h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Metric"),
          h("th", { scope: "col", class: "num" }, h("span", { class: "swatch first" }), name(a)),
          h("th", { scope: "col", class: "num" }, h("span", { class: "swatch second" }), name(b)),
          h("th", { scope: "col", class: "num" }, `Difference (#${b.id} − #${a.id})`))),
        h("tbody", {}, ma.map(([label, shownA, valueA, unit], i) => h("tr", { "data-metric": label },
          h("th", { scope: "row" }, label),
          h("td", { class: "num" }, shownA),
          h("td", { class: "num" }, mb[i][1]),
          h("td", { class: "num" }, valueA === null ? "—" : difference(valueA, mb[i][2], unit)))))),
      h("h3", {}, "Equity"),
      h("p", { class: "legend" }, h("span", { class: "swatch first" }), `#${a.id}`, " ", h("span", { class: "swatch second" }), `#${b.id}`),
      box);
    this.chart = new CompareChart(box);
    this.chart.show(curveOf(a.result.equity), curveOf(b.result.equity));
  }
}
